//! Watching the children: their intervals added up for one live display, signals forwarded,
//! and a child that stops handing in intervals killed at its deadline.

use std::time::Duration;

use super::{signal_all, Shardling};
use crate::model::{Snapshot, Tick};
use crate::progress::Progress;
use crate::report::records;

/// How long a child may go without handing in an interval, and how long past the planned end
/// it may run, before it is taken for hung and killed (a stopped or deadlocked child would
/// otherwise hold the run forever). A live child writes an interval every second; the silent
/// stretches are its start (creating its accounts), its wind-down (at most
/// `timeouts.graceful_stop`) and its reports, so the bound is the graceful stop plus a margin
/// that grows with the accounts it runs (15 s + 1 ms an account).
pub struct Deadline {
    /// No interval for this long: hung.
    pub stall: Duration,
    /// Still running this long after it started: hung (only when the run's length is planned).
    pub total: Option<Duration>,
}

impl Deadline {
    pub fn of(r: &crate::scenario::Resolved, accounts_per_child: u32) -> Deadline {
        let margin = Duration::from_secs(15) + Duration::from_millis(u64::from(accounts_per_child));
        let stall = r.scenario.timeouts.graceful_stop.0 + margin;
        Deadline {
            stall,
            total: r.planned_duration().map(|p| p + stall),
        }
    }
}

/// Show the children's combined progress once a second until every child has exited;
/// forward Ctrl-C and SIGTERM. Returns whether the run was interrupted.
pub(super) fn watch(
    kids: &mut [Shardling],
    progress: &mut Progress,
    deadline: &Deadline,
    metrics: Option<&crate::live_metrics::RunMetrics>,
) -> anyhow::Result<(bool, Snapshot)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let start = tokio::time::Instant::now();
        let mut tick =
            tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
        #[cfg(unix)]
        let (mut int, mut term) = {
            use tokio::signal::unix::{signal, SignalKind};
            (
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            )
        };
        let mut signals = 0;
        let mut totals = Snapshot::default();
        let mut last = start;
        // One that came while the shards started, before these streams: looked at once they
        // exist, so none falls between the two.
        let mut early = crate::interrupt::pending();
        loop {
            #[cfg(unix)]
            let got_signal = std::mem::take(&mut early) || tokio::select! {
                _ = tick.tick() => false,
                _ = int.recv() => true,
                _ = term.recv() => true,
            };
            #[cfg(not(unix))]
            let got_signal = std::mem::take(&mut early) || tokio::select! {
                _ = tick.tick() => false,
                _ = tokio::signal::ctrl_c() => true,
            };
            if got_signal {
                signals += 1;
                signal_all(kids);
                if signals == 1 {
                    progress.stopping();
                } else {
                    eprintln!("second interrupt: the shards exit now, without their reports");
                }
                continue;
            }
            let mut interval = Snapshot::default();
            for k in kids.iter_mut() {
                let path = k.dir.join(records::INTERVALS_FILE);
                if path.exists() {
                    if let Ok((recs, at)) = records::read_intervals_from(&path, k.read) {
                        if at > k.read {
                            k.progressed = tokio::time::Instant::now();
                        }
                        k.read = at;
                        for r in recs {
                            k.live = r.live;
                            if let Ok(s) = r.snapshot() {
                                interval.add(&s);
                            }
                        }
                    }
                }
                if k.exit.is_none() {
                    k.exit = k.child.try_wait()?;
                }
                if k.exit.is_none() && k.hung.is_none() {
                    let now = tokio::time::Instant::now();
                    let why = if now - k.progressed > deadline.stall {
                        Some(format!(
                            "handed in no interval for {}",
                            crate::units::format_duration(deadline.stall)
                        ))
                    } else {
                        deadline.total.filter(|t| now - start > *t).map(|t| {
                            format!(
                                "was still running {} after it started (planned length + graceful stop + margin)",
                                crate::units::format_duration(t)
                            )
                        })
                    };
                    if let Some(why) = why {
                        // SIGKILL: a stopped process takes no other signal until continued.
                        let _ = k.child.kill();
                        k.hung = Some(why);
                    }
                }
            }
            totals.add(&interval);
            let now = tokio::time::Instant::now();
            let tick = Tick {
                at: now - start,
                span: now - last,
                live: kids.iter().map(|k| k.live).sum(),
                interval: &interval,
                totals: &totals,
            };
            progress.update(&tick);
            if let Some(m) = metrics {
                m.update(&tick);
            }
            last = now;
            if kids.iter().all(|k| k.exit.is_some()) {
                return Ok((signals > 0, totals));
            }
        }
    })
}
