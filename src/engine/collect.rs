//! How what the workers record reaches the controller.
//!
//! Each worker records into a thread-local snapshot ([`metrics`]) and hands it in once a
//! second, recording on into a spare: two made here to start with, then each snapshot the
//! controller has added up, reset on its own thread and handed back. Making or zeroing a
//! snapshot (9 HdrHistograms, 1.1–1.3 ms) on a worker would stall every instance on it.

use actix::Arbiter;
use std::time::Duration;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

use super::metrics;
use crate::model::Snapshot;

/// How often worker threads hand in their metrics.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The controller's end of the workers' once-a-second hand-ins.
pub struct Collector {
    arrived: UnboundedReceiver<(usize, Snapshot)>,
    spares: Vec<UnboundedSender<Snapshot>>,
}

impl Collector {
    /// Start every worker's hand-in loop.
    pub fn start(arbiters: &[Arbiter]) -> Collector {
        let (tx, arrived) = mpsc::unbounded_channel::<(usize, Snapshot)>();
        let mut spares = Vec::with_capacity(arbiters.len());
        for (w, arb) in arbiters.iter().enumerate() {
            let tx = tx.clone();
            let (spare_tx, mut spare_rx) = mpsc::unbounded_channel::<Snapshot>();
            for _ in 0..2 {
                let _ = spare_tx.send(Snapshot::default());
            }
            spares.push(spare_tx);
            arb.spawn(async move {
                if let Ok(first) = spare_rx.try_recv() {
                    let _ = metrics::take_into(first);
                }
                let mut iv = tokio::time::interval(FLUSH_EVERY);
                iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    iv.tick().await;
                    // A second with nothing recorded (creating the population, an idle spell)
                    // hands in nothing and keeps its spare for a second that has something.
                    if !metrics::touched() {
                        continue;
                    }
                    // No spare back yet (the collector is behind): one made here, at a flush
                    // rather than in the middle of handling an event.
                    let spare = spare_rx.try_recv().unwrap_or_default();
                    if tx.send((w, metrics::take_into(spare))).is_err() {
                        break;
                    }
                }
            });
        }
        Collector { arrived, spares }
    }

    /// Add every snapshot handed in so far into `into`, and give each back to its worker,
    /// reset, as its next spare.
    pub fn add_arrived(&mut self, into: &mut Snapshot) {
        while let Ok((w, mut s)) = self.arrived.try_recv() {
            into.add(&s);
            s.reset();
            let _ = self.spares[w].send(s);
        }
    }

    /// The next snapshot handed in (for waiting on it beside other things).
    pub async fn next(&mut self) -> Option<Snapshot> {
        self.arrived.recv().await.map(|(_, s)| s)
    }

    /// Everything recorded up to now: each worker hands in what it has at once (bounded: 2 s a
    /// worker), and what was already on its way is added too.
    pub async fn flush(&mut self, arbiters: &[Arbiter], into: &mut Snapshot) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for arb in arbiters {
            let tx = tx.clone();
            arb.spawn(async move {
                let _ = tx.send(metrics::take());
            });
        }
        drop(tx);
        while let Ok(Some(s)) = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await {
            into.add(&s);
        }
        self.add_arrived(into);
    }
}

/// Once every worker has run what was queued on it before now.
pub async fn caught_up(arbiters: &[Arbiter]) {
    let marks: Vec<_> = arbiters
        .iter()
        .map(|arb| {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            arb.spawn(async move {
                let _ = tx.send(());
            });
            rx
        })
        .collect();
    for rx in marks {
        let _ = rx.await;
    }
}
