//! How what the workers record reaches the controller.
//!
//! Each worker records into a thread-local snapshot ([`metrics`]) and hands it in once a
//! second, recording on into a spare: two made here to start with, then each snapshot the
//! controller has added up, reset on its own thread and handed back. Making or zeroing a
//! snapshot (9 HdrHistograms, 1.1–1.3 ms) on a worker would stall every instance on it.
//!
//! The hand-ins keep the run's clock: a worker hands in at the load's second k (from the
//! instant the clock started) what it recorded since second k − 1, and the controller's interval
//! k waits for every worker's hand-in k (bounded by [`GATHER_WAIT`]). A worker's own
//! once-a-second timer, started when the worker was, would put each interval's data up to a
//! second away from the second it is reported under.

use actix::Arbiter;
use std::time::Duration;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::metrics;
use crate::model::Snapshot;

/// How often worker threads hand in their metrics.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How long an interval waits for a worker's hand-in: a worker busier than this hands in late,
/// and its second is counted in the next interval.
pub const GATHER_WAIT: Duration = Duration::from_millis(100);

/// One worker's hand-in for second `tick` of the load; `None` when it recorded nothing.
struct HandIn {
    worker: usize,
    tick: u64,
    snapshot: Option<Snapshot>,
}

/// The controller's end of the workers' once-a-second hand-ins.
pub struct Collector {
    arrived: UnboundedReceiver<HandIn>,
    spares: Vec<UnboundedSender<Snapshot>>,
    /// The clock's start, for each worker's hand-in loop (sent once, by `begin`).
    begin: Vec<oneshot::Sender<Instant>>,
    /// The latest second each worker has handed in.
    reported: Vec<u64>,
}

impl Collector {
    /// Give every worker its first spare; their hand-ins begin with the clock (`begin`).
    pub fn start(arbiters: &[Arbiter]) -> Collector {
        let (tx, arrived) = mpsc::unbounded_channel::<HandIn>();
        let mut spares = Vec::with_capacity(arbiters.len());
        let mut begin = Vec::with_capacity(arbiters.len());
        for (w, arb) in arbiters.iter().enumerate() {
            let tx = tx.clone();
            let (spare_tx, mut spare_rx) = mpsc::unbounded_channel::<Snapshot>();
            for _ in 0..2 {
                let _ = spare_tx.send(Snapshot::default());
            }
            spares.push(spare_tx);
            let (begin_tx, begin_rx) = oneshot::channel::<Instant>();
            begin.push(begin_tx);
            arb.spawn(async move {
                if let Ok(first) = spare_rx.try_recv() {
                    let _ = metrics::take_into(first);
                }
                let Ok(start) = begin_rx.await else { return };
                let mut iv = tokio::time::interval_at(start + FLUSH_EVERY, FLUSH_EVERY);
                // A worker that missed a second (stalled) hands in at the next one: what it
                // recorded goes in late rather than in a burst of empty hand-ins.
                iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    let at = iv.tick().await;
                    let tick = second_of(start, at);
                    // A second with nothing recorded (an idle spell) hands in only its number
                    // and keeps its spare for a second that has something.
                    let snapshot = metrics::touched().then(|| {
                        // No spare back yet (the collector is behind): one made here, at a
                        // flush rather than in the middle of handling an event.
                        metrics::take_into(spare_rx.try_recv().unwrap_or_default())
                    });
                    let h = HandIn {
                        worker: w,
                        tick,
                        snapshot,
                    };
                    if tx.send(h).is_err() {
                        break;
                    }
                }
            });
        }
        Collector {
            arrived,
            spares,
            begin,
            reported: vec![0; arbiters.len()],
        }
    }

    /// The clock started at `start`: the workers hand in at its seconds from now on.
    pub fn begin(&mut self, start: Instant) {
        for tx in self.begin.drain(..) {
            let _ = tx.send(start);
        }
    }

    fn add(&mut self, h: HandIn, into: &mut Snapshot) {
        self.reported[h.worker] = self.reported[h.worker].max(h.tick);
        if let Some(mut s) = h.snapshot {
            into.add(&s);
            s.reset();
            let _ = self.spares[h.worker].send(s);
        }
    }

    /// Add every snapshot handed in so far into `into`, and give each back to its worker,
    /// reset, as its next spare.
    pub fn add_arrived(&mut self, into: &mut Snapshot) {
        while let Ok(h) = self.arrived.try_recv() {
            self.add(h, into);
        }
    }

    /// The interval ending at the load's second `tick` (the clock's instant `at`): every
    /// worker's hand-in for it, waiting at most `GATHER_WAIT` past `at` for the last one, and
    /// whatever else arrived (a late worker's earlier second).
    pub async fn gather(&mut self, tick: u64, at: Instant, into: &mut Snapshot) {
        let deadline = at + GATHER_WAIT;
        loop {
            self.add_arrived(into);
            if self.reported.iter().all(|&r| r >= tick) {
                return;
            }
            match tokio::time::timeout_at(deadline, self.arrived.recv()).await {
                Ok(Some(h)) => self.add(h, into),
                _ => return,
            }
        }
    }

    /// The next snapshot handed in (for waiting on it beside other things).
    pub async fn next(&mut self) -> Option<Snapshot> {
        loop {
            let h = self.arrived.recv().await?;
            if h.snapshot.is_some() {
                return h.snapshot;
            }
        }
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

/// Which second of the load the clock's instant `at` is (the nearest: a timer fires at or just
/// after its instant).
pub fn second_of(start: Instant, at: Instant) -> u64 {
    let every = FLUSH_EVERY.as_secs_f64();
    ((at.saturating_duration_since(start)).as_secs_f64() / every).round() as u64
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Counter;

    #[test]
    fn a_tick_is_named_by_the_nearest_second_of_the_load() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert_eq!(second_of(start, at(1000)), 1);
        assert_eq!(
            second_of(start, at(1003)),
            1,
            "a timer fires just after its instant"
        );
        assert_eq!(second_of(start, at(2999)), 3);
        assert_eq!(second_of(start, start), 0);
    }

    /// What each worker recorded before second 1 is in the intervals gathered up to second 3
    /// (a worker would have to stall for two seconds to miss them), nothing is counted twice,
    /// and gathering never waits for a worker that does not hand in.
    #[test]
    fn every_worker_hands_in_at_the_clocks_seconds() {
        actix::System::new().block_on(async {
            let arbiters: Vec<Arbiter> = (0..2).map(|_| Arbiter::new()).collect();
            let mut c = Collector::start(&arbiters);
            for arb in &arbiters {
                arb.spawn(async { metrics::count(Counter::LoginsOk) });
            }
            caught_up(&arbiters).await;
            // Before `begin` no worker hands in: the gather gives up after its bound.
            let mut none = Snapshot::default();
            c.gather(1, Instant::now(), &mut none).await;
            assert_eq!(none.get(Counter::LoginsOk), 0);
            let start = Instant::now();
            c.begin(start);
            let mut seen = Snapshot::default();
            for k in 1..=3 {
                let at = start + FLUSH_EVERY * k;
                tokio::time::sleep_until(at).await;
                c.gather(u64::from(k), at, &mut seen).await;
            }
            assert_eq!(seen.get(Counter::LoginsOk), 2);
            assert!(c.reported.iter().all(|&r| r >= 1), "{:?}", c.reported);
            for arb in arbiters {
                arb.stop();
            }
        });
    }
}
