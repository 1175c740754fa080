//! `[[chaos]]`: the disruptions a scenario causes on purpose (docs/scenarios.md, "Reconnects
//! and disruptions") — when the run breaks its instances' connections, and how. What an
//! instance does then is `[reconnect]`'s business (`reconnect.rs`).

use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::ScenarioError;
use crate::units::Dur;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChaosAction {
    /// Restart the embedded server: every connection is closed, nothing listens for `pause`,
    /// then it listens again on the same address, empty (a gateway restart).
    Restart,
    /// Run `command` (`sh -c`), for a real backend: a container restart, a proxy's drain.
    Command,
    /// Cut a `fraction` of the instances' connections mid-session, in the generator, the way
    /// `how` says (a mobile network that blips).
    Drop,
}

/// How a `drop` cuts a connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cut {
    /// A clean close (a WebSocket close frame, then FIN): the server knows at once.
    #[default]
    Close,
    /// A TCP reset (RST): the server knows at once, without a goodbye.
    Reset,
    /// Nothing: the generator stops reading and writing and keeps the socket open, as a dead
    /// mobile network looks to the server. The session stays there — a ghost — until the
    /// server times the connection out.
    Silent,
}

/// What a `restart` does to the sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sessions {
    /// The whole server restarts: every session goes with its connection.
    #[default]
    Drop,
    /// Only the gateway restarts (the connection tier; the session tier stays up): every
    /// connection drops without a close frame and its session stays on the server, a ghost —
    /// counted against the limit, kicked like any other — until `server.session_timeout`
    /// after the last frame it received.
    Keep,
}

/// One `[[chaos]]` entry: a disruption at `at` after the run's start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Disruption {
    pub at: Dur,
    pub action: ChaosAction,
    /// `restart`: how long the server stays down.
    #[serde(default = "default_pause")]
    pub pause: Dur,
    /// `command`: the shell command to run; the disruption lasts until it exits.
    #[serde(default)]
    pub command: String,
    /// `drop`: the share of the instances in a session (logging in, awaiting ready, ready)
    /// whose connection is cut.
    #[serde(default)]
    pub fraction: f64,
    /// `drop`: how.
    #[serde(default)]
    pub how: Cut,
    /// `restart`: whether the sessions go with the server or stay as ghosts.
    #[serde(default)]
    pub sessions: Sessions,
    /// After the action is over, how long losses and failed connects are still its doing
    /// (a connection whose close was in flight, a connect refused just before the listener
    /// came back).
    #[serde(default = "default_settle")]
    pub settle: Dur,
}

impl Disruption {
    /// Whether the connections this disruption takes leave their sessions on the server.
    pub fn keeps_sessions(&self) -> bool {
        self.action == ChaosAction::Restart && self.sessions == Sessions::Keep
    }
}

fn default_pause() -> Dur {
    Dur(Duration::from_secs(1))
}

fn default_settle() -> Dur {
    Dur(Duration::from_secs(1))
}

/// Check the `[[chaos]]` list against the rest of the scenario.
pub(super) fn validate(list: &[Disruption], embedded: bool) -> Result<(), ScenarioError> {
    let mut last = Duration::ZERO;
    for (i, d) in list.iter().enumerate() {
        let key = |k: &str| format!("chaos[{i}].{k}");
        if d.at.0 < last {
            return Err(ScenarioError::invalid(
                key("at"),
                "must not be before the previous disruption's (list them in time order)",
            ));
        }
        last = d.at.0;
        if d.settle.0 > Duration::from_secs(600) {
            return Err(ScenarioError::invalid(key("settle"), "must be at most 10m"));
        }
        if d.action != ChaosAction::Drop && d.fraction != 0.0 {
            return Err(ScenarioError::invalid(
                key("fraction"),
                "applies to action = \"drop\" only",
            ));
        }
        if d.action != ChaosAction::Drop && d.how != Cut::Close {
            return Err(ScenarioError::invalid(
                key("how"),
                "applies to action = \"drop\" only",
            ));
        }
        if d.action != ChaosAction::Restart && d.sessions != Sessions::Drop {
            return Err(ScenarioError::invalid(
                key("sessions"),
                "applies to action = \"restart\" only",
            ));
        }
        match d.action {
            ChaosAction::Drop => {
                if !(d.fraction > 0.0 && d.fraction <= 1.0) {
                    return Err(ScenarioError::invalid(
                        key("fraction"),
                        "must be within 0..=1 and above 0 for action = \"drop\"",
                    ));
                }
                if !d.command.is_empty() {
                    return Err(ScenarioError::invalid(
                        key("command"),
                        "applies to action = \"command\" only",
                    ));
                }
            }
            ChaosAction::Restart => {
                if !embedded {
                    return Err(ScenarioError::invalid(
                        key("action"),
                        "\"restart\" restarts the embedded server, and this scenario has a target.url: use action = \"command\" with the backend's own restart command",
                    ));
                }
                if d.pause.0 > Duration::from_secs(600) {
                    return Err(ScenarioError::invalid(key("pause"), "must be at most 10m"));
                }
                if !d.command.is_empty() {
                    return Err(ScenarioError::invalid(
                        key("command"),
                        "applies to action = \"command\" only",
                    ));
                }
            }
            ChaosAction::Command => {
                if d.command.trim().is_empty() {
                    return Err(ScenarioError::invalid(
                        key("command"),
                        "is required for action = \"command\" (run with sh -c)",
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restart_at(s: u64) -> Disruption {
        Disruption {
            at: Dur(Duration::from_secs(s)),
            action: ChaosAction::Restart,
            pause: default_pause(),
            command: String::new(),
            fraction: 0.0,
            how: Cut::Close,
            sessions: Sessions::Drop,
            settle: default_settle(),
        }
    }

    #[test]
    fn each_action_takes_only_its_own_keys() {
        let keep = Disruption {
            sessions: Sessions::Keep,
            ..restart_at(1)
        };
        assert!(validate(std::slice::from_ref(&keep), true).is_ok());
        assert!(keep.keeps_sessions());
        let stray = [
            (
                Disruption {
                    action: ChaosAction::Drop,
                    fraction: 0.5,
                    ..keep.clone()
                },
                "chaos[0].sessions",
            ),
            (
                Disruption {
                    how: Cut::Reset,
                    ..restart_at(1)
                },
                "chaos[0].how",
            ),
            (
                Disruption {
                    fraction: 0.5,
                    ..restart_at(1)
                },
                "chaos[0].fraction",
            ),
        ];
        for (d, key) in stray {
            let e = validate(&[d], true).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn a_restart_needs_the_embedded_server_and_time_order() {
        assert!(validate(&[restart_at(1), restart_at(5)], true).is_ok());
        let e = validate(&[restart_at(1)], false).unwrap_err().to_string();
        assert!(
            e.contains("chaos[0].action") && e.contains("command"),
            "{e}"
        );
        let e = validate(&[restart_at(5), restart_at(1)], true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("chaos[1].at"), "{e}");
        let cmd = Disruption {
            action: ChaosAction::Command,
            ..restart_at(1)
        };
        let e = validate(&[cmd], false).unwrap_err().to_string();
        assert!(e.contains("chaos[0].command"), "{e}");
        let drop = |fraction| Disruption {
            action: ChaosAction::Drop,
            fraction,
            how: Cut::Silent,
            ..restart_at(1)
        };
        assert!(
            validate(&[drop(0.5)], false).is_ok(),
            "a drop works against any target"
        );
        let e = validate(&[drop(0.0)], true).unwrap_err().to_string();
        assert!(e.contains("chaos[0].fraction"), "{e}");
        let stray = Disruption {
            fraction: 0.5,
            ..restart_at(1)
        };
        let e = validate(&[stray], true).unwrap_err().to_string();
        assert!(e.contains("chaos[0].fraction"), "{e}");
    }
}
