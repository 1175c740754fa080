//! `[network]`: the network the instances' connections go through — added delay and jitter
//! each way, a bandwidth, periodic stalls — applied by the generator to each connection, with
//! no root privileges and nothing changed on the machine (docs/scenarios.md).

use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::ScenarioError;
use crate::units::Dur;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// Added one-way delay, each way: a round trip gains twice this.
    pub delay: Dur,
    /// Each delay is drawn uniformly within `delay ± jitter` (bytes keep their order).
    pub jitter: Dur,
    /// Bytes per second each way; 0 = no limit.
    pub bandwidth: u64,
    /// Every this long (from the connection's start) the connection stalls…
    pub stall_every: Dur,
    /// …for this long: nothing gets through either way until the stall ends.
    pub stall_for: Dur,
    /// Share of the instances whose connections go through this network (the rest connect
    /// as they are): 1 = all.
    pub share: f64,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            delay: Dur(Duration::ZERO),
            jitter: Dur(Duration::ZERO),
            bandwidth: 0,
            stall_every: Dur(Duration::ZERO),
            stall_for: Dur(Duration::ZERO),
            share: 1.0,
        }
    }
}

impl Network {
    /// Whether it changes anything.
    pub fn active(&self) -> bool {
        self.share > 0.0
            && (!self.delay.0.is_zero()
                || !self.jitter.0.is_zero()
                || self.bandwidth > 0
                || !self.stall_for.0.is_zero())
    }

    pub(super) fn validate(&self) -> Result<(), ScenarioError> {
        let minute = Duration::from_secs(60);
        for (key, d) in [
            ("network.delay", self.delay.0),
            ("network.jitter", self.jitter.0),
            ("network.stall_for", self.stall_for.0),
        ] {
            if d > minute {
                return Err(ScenarioError::invalid(key, "must be at most 1m"));
            }
        }
        if self.jitter.0 > self.delay.0 {
            return Err(ScenarioError::invalid(
                "network.jitter",
                "must not exceed network.delay (a delay is drawn within delay ± jitter)",
            ));
        }
        if self.stall_for.0.is_zero() != self.stall_every.0.is_zero() {
            return Err(ScenarioError::invalid(
                "network.stall_every",
                "and network.stall_for go together: both set, or neither",
            ));
        }
        if !self.stall_for.0.is_zero() && self.stall_for.0 >= self.stall_every.0 {
            return Err(ScenarioError::invalid(
                "network.stall_for",
                "must be shorter than network.stall_every (else the connection never moves)",
            ));
        }
        if self.bandwidth != 0 && self.bandwidth < 100 {
            return Err(ScenarioError::invalid(
                "network.bandwidth",
                "must be 0 (no limit) or at least 100 bytes per second",
            ));
        }
        if !(0.0..=1.0).contains(&self.share) {
            return Err(ScenarioError::invalid(
                "network.share",
                "must be within 0..=1",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Dur {
        Dur(Duration::from_millis(n))
    }

    #[test]
    fn settings_that_cannot_work_name_their_key() {
        let bad = [
            (
                Network {
                    delay: ms(10),
                    jitter: ms(20),
                    ..Default::default()
                },
                "network.jitter",
            ),
            (
                Network {
                    stall_every: ms(100),
                    ..Default::default()
                },
                "network.stall_every",
            ),
            (
                Network {
                    stall_every: ms(100),
                    stall_for: ms(100),
                    ..Default::default()
                },
                "network.stall_for",
            ),
            (
                Network {
                    bandwidth: 10,
                    ..Default::default()
                },
                "network.bandwidth",
            ),
            (
                Network {
                    share: 2.0,
                    ..Default::default()
                },
                "network.share",
            ),
        ];
        for (n, key) in bad {
            let e = n.validate().unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
        assert!(!Network::default().active());
        assert!(Network {
            delay: ms(50),
            ..Default::default()
        }
        .active());
    }
}
