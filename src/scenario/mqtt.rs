//! `target.protocol = "mqtt"`: the `[mqtt]` table read into the run's MQTT wire.

use std::sync::Arc;

use super::{Scenario, ScenarioError};
use crate::driver::mqtt::{MqttWire, Takeover, Version};
use crate::profile::template::{Escape, Template};

/// The protocol name that selects MQTT.
pub const MQTT: &str = "mqtt";

/// The `[mqtt]` table, checked, for a scenario whose credentials (when given) are passwords.
pub fn wire(s: &Scenario, passwords: bool) -> Result<Arc<MqttWire>, ScenarioError> {
    let m = &s.mqtt;
    let version = match m.version.as_str() {
        "3.1.1" => Version::V311,
        "5" | "5.0" => Version::V5,
        other => {
            return Err(ScenarioError::invalid(
                "mqtt.version",
                format!("{other:?}: \"3.1.1\" or \"5\""),
            ))
        }
    };
    let client_id = Template::compile(&m.client_id, Escape::Header, &["userID", "instance"])
        .map_err(|e| ScenarioError::invalid("mqtt.client_id", e.to_string()))?;
    if m.client_id.is_empty() {
        return Err(ScenarioError::invalid(
            "mqtt.client_id",
            "is empty; {userID} gives one session per account, {instance} one per instance",
        ));
    }
    let keep_alive = u16::try_from(m.keep_alive.0.as_secs())
        .ok()
        .filter(|_| m.keep_alive.0.subsec_nanos() == 0)
        .ok_or_else(|| {
            ScenarioError::invalid("mqtt.keep_alive", "must be whole seconds, at most 65535s")
        })?;
    let takeover = match m.takeover.as_str() {
        "signalled" => Takeover::Signalled,
        "inferred" => {
            if m.takeover_window.0.is_zero() {
                return Err(ScenarioError::invalid(
                    "mqtt.takeover_window",
                    "must be above 0 for takeover = \"inferred\"",
                ));
            }
            Takeover::Inferred {
                window: m.takeover_window.0,
            }
        }
        other => {
            return Err(ScenarioError::invalid(
                "mqtt.takeover",
                format!("{other:?}: \"signalled\" (DISCONNECT 0x8E only) or \"inferred\""),
            ))
        }
    };
    if !s.admin_kick.interval.0.is_zero() {
        return Err(ScenarioError::invalid(
            "admin_kick.interval",
            "MQTT has no admin kick: set it to 0 with target.protocol = \"mqtt\"",
        ));
    }
    if s.target.url.is_empty() {
        return Err(ScenarioError::invalid(
            "target.url",
            "target.protocol = \"mqtt\" needs a broker's WebSocket URL (--target ws://HOST:PORT/mqtt): the embedded server speaks the reference protocol only",
        ));
    }
    Ok(Arc::new(MqttWire {
        version,
        client_id,
        username: m.username,
        password: passwords,
        keep_alive,
        takeover,
    }))
}
