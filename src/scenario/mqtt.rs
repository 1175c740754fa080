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

#[cfg(test)]
mod tests {
    use crate::scenario::{load_text, Overrides};
    use std::path::Path;

    fn load(extra: &str) -> Result<crate::scenario::Resolved, String> {
        let text = format!(
            "[accounts]\ncount = 1\n[target]\nurl = \"ws://127.0.0.1:9/mqtt\"\nprotocol = \"mqtt\"\n{extra}"
        );
        load_text(&text, Path::new("."), &Overrides::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn an_mqtt_scenario_is_checked_naming_its_key() {
        let r = load("[mqtt]\nversion = 5\ntakeover = \"inferred\"\n").unwrap();
        assert!(matches!(r.wire, crate::driver::Wire::Mqtt(_)));
        assert!(r.wire.logout_closes());
        assert_eq!(
            r.wire.takeover_window(),
            Some(std::time::Duration::from_secs(1))
        );
        for (extra, key) in [
            ("[mqtt]\nversion = \"4\"\n", "mqtt.version"),
            ("[mqtt]\nclient_id = \"{userSig}\"\n", "mqtt.client_id"),
            ("[mqtt]\nkeep_alive = \"1500ms\"\n", "mqtt.keep_alive"),
            ("[mqtt]\ntakeover = \"maybe\"\n", "mqtt.takeover"),
            (
                "[mqtt]\ntakeover = \"inferred\"\ntakeover_window = \"0\"\n",
                "mqtt.takeover_window",
            ),
            ("[admin_kick]\ninterval = \"1s\"\n", "admin_kick.interval"),
            ("[cycle]\non_kick = \"relogin:100ms\"\n", "cycle.on_kick"),
        ] {
            let e = load(extra).unwrap_err();
            assert!(e.contains(key), "{extra}: {e}");
        }
        // MQTT over TCP: mqtt:// is MQTT's alone.
        assert!(load_text(
            "[accounts]\ncount = 1\n[target]\nurl = \"mqtt://127.0.0.1:1883\"\nprotocol = \"mqtt\"\n",
            Path::new("."),
            &Overrides::default(),
        )
        .is_ok());
        let e = load_text(
            "[accounts]\ncount = 1\n[target]\nurl = \"mqtt://127.0.0.1:1883\"\n",
            Path::new("."),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("carry MQTT only"), "{e}");
        // A broker is a target: there is no embedded one.
        let e = load_text(
            "[accounts]\ncount = 1\n[target]\nprotocol = \"mqtt\"\n",
            Path::new("."),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("target.url"), "{e}");
        // XMPP: a domain, a resource template, a target.
        let x = |extra: &str| {
            load_text(
                &format!("[accounts]\ncount = 1\n[target]\nurl = \"ws://127.0.0.1:9/x\"\nprotocol = \"xmpp\"\n{extra}"),
                Path::new("."),
                &Overrides::default(),
            )
            .map_err(|e| e.to_string())
        };
        assert!(matches!(x("").unwrap().wire, crate::driver::Wire::Xmpp(_)));
        for (extra, key) in [
            ("[xmpp]\ndomain = \"a/b\"\n", "xmpp.domain"),
            ("[xmpp]\nresource = \"{userSig}\"\n", "xmpp.resource"),
            ("[cycle]\non_kick = \"relogin:100ms\"\n", "cycle.on_kick"),
        ] {
            let e = x(extra).unwrap_err();
            assert!(e.contains(key), "{extra}: {e}");
        }
        // Per-instance ClientIds: no takeover to infer.
        let r = load("[mqtt]\nclient_id = \"{instance}\"\ntakeover = \"inferred\"\n").unwrap();
        assert_eq!(r.wire.takeover_window(), None);
    }
}
