//! Disruptions on a schedule (`[[chaos]]`): the task that causes them, and the window that
//! tells every instance whether a loss or a failed connect was one's doing.
//!
//! The verdict rule (docs/checks.md, "Disruptions"): a connection lost, or a connect refused,
//! while a disruption is on — from its start until `settle` after its action ended — is
//! planned: counted apart (`connections_lost_planned`, `connections_failed_planned`), never a
//! failure of the backend. What the backend owes is to come back: an instance still
//! reconnecting when the run ends (`reconnects_unfinished`) fails it, and a failed re-login
//! counts as any failed login does. Losses outside a window are the backend's, as always.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

use crate::scenario::{ChaosAction, Cut, Disruption};

/// What cuts instances' connections for a `drop`: the share, how, and the dice's seed.
pub type Cutter = Box<dyn Fn(f64, Cut, u64)>;

/// What restarts the embedded server (`run` holds it; the engine knows nothing of servers).
pub trait Restart: Send {
    /// Close every connection, listen again after `pause`; `Err` when it cannot listen again.
    /// `keep_sessions`: only the gateway restarts, the sessions stay as ghosts.
    fn restart(&mut self, pause: Duration, keep_sessions: bool) -> anyhow::Result<()>;
}

const NONE: u64 = u64::MAX;

/// The current disruption's window, shared by the chaos task and every instance. Times are
/// microseconds since `base`.
#[derive(Debug)]
pub struct Window {
    base: Instant,
    start: AtomicU64,
    until: AtomicU64,
    /// The disruption under way leaves the sessions on the server (a gateway restart that
    /// keeps them): a connection lost in it leaves a ghost.
    keeps: AtomicBool,
}

impl Window {
    pub fn new(base: Instant) -> Self {
        Window {
            base,
            start: AtomicU64::new(NONE),
            until: AtomicU64::new(NONE),
            keeps: AtomicBool::new(false),
        }
    }

    fn us(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.base).as_micros()).unwrap_or(NONE - 1)
    }

    /// A disruption begins now: it lasts until [`Window::close_after`]; `keeps`: it leaves
    /// the sessions of the connections it takes on the server.
    pub fn open(&self, now: Instant, keeps: bool) {
        self.until.store(NONE, Ordering::SeqCst);
        self.keeps.store(keeps, Ordering::SeqCst);
        self.start.store(self.us(now), Ordering::SeqCst);
    }

    /// The disruption's action is over: its window ends `settle` from now.
    pub fn close_after(&self, now: Instant, settle: Duration) {
        self.until.store(self.us(now + settle), Ordering::SeqCst);
    }

    /// Whether `now` falls in a disruption that keeps the sessions it takes.
    pub fn keeps_sessions(&self, now: Instant) -> bool {
        self.covering(now).is_some() && self.keeps.load(Ordering::SeqCst)
    }

    /// When the disruption `now` falls in began, if it falls in one.
    pub fn covering(&self, now: Instant) -> Option<Instant> {
        let start = self.start.load(Ordering::SeqCst);
        if start == NONE {
            return None;
        }
        let n = self.us(now);
        (n >= start && n <= self.until.load(Ordering::SeqCst))
            .then(|| self.base + Duration::from_micros(start))
    }
}

/// Cause the disruptions of `list`, each `at` after `start`, keeping `window` up to date.
/// A disruption that cannot be caused (the server does not listen again, the command cannot
/// start or fails) is an error: the run cannot go on as the scenario says.
pub async fn run(
    list: Vec<Disruption>,
    start: Instant,
    window: std::sync::Arc<Window>,
    mut restart: Option<Box<dyn Restart>>,
    cut: Cutter,
    seed: u64,
) -> anyhow::Result<()> {
    for (i, d) in list.into_iter().enumerate() {
        tokio::time::sleep_until(start + d.at.0).await;
        window.open(Instant::now(), d.keeps_sessions());
        let outcome = match d.action {
            ChaosAction::Restart => {
                let Some(mut r) = restart.take() else {
                    anyhow::bail!("chaos[{i}]: there is no embedded server to restart");
                };
                let (pause, keep) = (d.pause.0, d.keeps_sessions());
                let (r, res) = tokio::task::spawn_blocking(move || {
                    let res = r.restart(pause, keep);
                    (r, res)
                })
                .await?;
                restart = Some(r);
                res.map_err(|e| anyhow::anyhow!("chaos[{i}] (restart): {e:#}"))
            }
            ChaosAction::Drop => {
                cut(
                    d.fraction,
                    d.how,
                    seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                );
                Ok(())
            }
            ChaosAction::Command => command(&d.command)
                .await
                .map_err(|e| anyhow::anyhow!("chaos[{i}] (command {:?}): {e:#}", d.command)),
        };
        window.close_after(Instant::now(), d.settle.0);
        outcome?;
    }
    Ok(())
}

/// Run `cmd` with `sh -c`; its output goes to the generator's stderr.
async fn command(cmd: &str) -> anyhow::Result<()> {
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::inherit())
        .status()
        .await?;
    anyhow::ensure!(status.success(), "it exited with {status}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_covers_its_disruption_until_it_settles() {
        let base = Instant::now();
        let w = Window::new(base);
        let at = |ms| base + Duration::from_millis(ms);
        assert_eq!(w.covering(at(5)), None, "no disruption yet");
        w.open(at(10), false);
        assert_eq!(w.covering(at(9)), None, "before it began");
        assert_eq!(w.covering(at(500)), Some(at(10)), "open until closed");
        w.close_after(at(1000), Duration::from_millis(200));
        assert_eq!(w.covering(at(1200)), Some(at(10)));
        assert_eq!(w.covering(at(1201)), None, "settled");
        w.open(at(2000), false);
        assert_eq!(w.covering(at(2001)), Some(at(2000)), "the next one");
    }
}
