//! `[reconnect]`: what an instance does when its connection is lost (docs/scenarios.md,
//! "Reconnects and disruptions"). A real SDK reconnects by itself, with backoff, and logs in
//! again; the reconnect storm after a gateway restart is the classic outage of chat backends.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::ScenarioError;
use crate::units::Dur;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconnectMode {
    /// A lost connection ends the instance's cycle (the next cycle, if any, starts afresh).
    Off,
    /// Reconnect after a backoff, log in again and finish the cycle's hold.
    Backoff,
}

/// `[reconnect]`: on an unasked-for loss of its connection mid-session, an instance either
/// gives up its cycle or reconnects as an SDK does: wait, connect, log in again; on a failed
/// connect wait longer. The n-th wait (n = 0, 1, …) is `min(initial × factor^n, max)`, less a
/// random share of up to `jitter` of it, so a million clients do not come back in lockstep.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Reconnect {
    pub mode: ReconnectMode,
    /// The first wait, counted from the loss.
    pub initial: Dur,
    /// Each failed attempt multiplies the wait by this.
    pub factor: f64,
    /// The longest wait.
    pub max: Dur,
    /// Share of each wait drawn away at random: 0 = exact waits, 1 = anywhere in 0..wait.
    pub jitter: f64,
    /// Send the protocol's `ping` this often on every open connection, as an SDK's
    /// heartbeat keeps its connection alive through a server's idle bound; 0 = never.
    pub heartbeat: Dur,
}

impl Default for Reconnect {
    /// The `sdk` preset (docs/scenarios.md): off unless asked for; when on, 1 s doubling to
    /// 30 s with half of each wait jittered.
    fn default() -> Self {
        Reconnect {
            mode: ReconnectMode::Off,
            initial: Dur(Duration::from_secs(1)),
            factor: 2.0,
            max: Dur(Duration::from_secs(30)),
            jitter: 0.5,
            heartbeat: Dur(Duration::ZERO),
        }
    }
}

impl Reconnect {
    pub fn enabled(&self) -> bool {
        self.mode == ReconnectMode::Backoff
    }

    /// The wait before attempt `n` (0-based), given a uniform draw in [0, 1).
    pub fn delay(&self, n: u32, draw: f64) -> Duration {
        let base = self.initial.0.as_secs_f64() * self.factor.powi(n.min(64) as i32);
        let base = base.min(self.max.0.as_secs_f64());
        Duration::from_secs_f64((base * (1.0 - self.jitter * draw)).max(0.0))
    }

    pub(super) fn validate(&self) -> Result<(), ScenarioError> {
        if !(1.0..=100.0).contains(&self.factor) {
            return Err(ScenarioError::invalid(
                "reconnect.factor",
                "must be within 1..=100",
            ));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(ScenarioError::invalid(
                "reconnect.jitter",
                "must be within 0..=1",
            ));
        }
        if self.max.0 < self.initial.0 {
            return Err(ScenarioError::invalid(
                "reconnect.max",
                "must be at least reconnect.initial",
            ));
        }
        if !self.heartbeat.0.is_zero() && self.heartbeat.0 < Duration::from_millis(100) {
            return Err(ScenarioError::invalid(
                "reconnect.heartbeat",
                "must be 0 (none) or at least 100ms",
            ));
        }
        if self.max.0 > Duration::from_secs(3600) {
            return Err(ScenarioError::invalid(
                "reconnect.max",
                "must be at most 1h",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Reconnect {
        Reconnect {
            mode: ReconnectMode::Backoff,
            ..Default::default()
        }
    }

    #[test]
    fn waits_grow_by_the_factor_up_to_the_max() {
        let r = Reconnect {
            jitter: 0.0,
            ..backoff()
        };
        let secs: Vec<f64> = (0..7).map(|n| r.delay(n, 0.9).as_secs_f64()).collect();
        assert_eq!(secs, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]);
        // Past any sane attempt count the wait is still the max, not an overflow.
        assert_eq!(r.delay(u32::MAX, 0.5), Duration::from_secs(30));
    }

    #[test]
    fn jitter_takes_up_to_its_share_away() {
        let r = backoff();
        assert_eq!(r.delay(1, 0.0), Duration::from_secs(2));
        assert_eq!(r.delay(1, 0.5), Duration::from_millis(1500));
        assert!(r.delay(1, 0.999_999) >= Duration::from_millis(1000));
    }

    #[test]
    fn bad_settings_name_their_key() {
        let bad = [
            (
                Reconnect {
                    factor: 0.5,
                    ..backoff()
                },
                "reconnect.factor",
            ),
            (
                Reconnect {
                    jitter: 1.5,
                    ..backoff()
                },
                "reconnect.jitter",
            ),
            (
                Reconnect {
                    max: Dur(Duration::from_millis(10)),
                    ..backoff()
                },
                "reconnect.max",
            ),
        ];
        for (r, key) in bad {
            let e = r.validate().unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
        assert!(backoff().validate().is_ok());
    }
}
