//! The scenario schema's wire tables: `[mqtt]` and `[xmpp]` (docs/real-servers.md).

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::units::Dur;

/// `[mqtt]`: how an instance speaks MQTT when `target.protocol = "mqtt"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mqtt {
    /// `"3.1.1"` or `"5"` (a bare `5` as well, as `--set mqtt.version=5` gives it).
    #[serde(deserialize_with = "text_or_number")]
    pub version: String,
    /// The ClientId, a template: `{userID}` (one session per account: a newer login takes the
    /// older's over) or `{instance}` (`<userID>#<slot>`: one per instance).
    pub client_id: String,
    /// Send the userID as the CONNECT's user name.
    pub username: bool,
    /// CONNECT's keep-alive, whole seconds; 0 = none (the broker never times a session out
    /// for silence, so a hold needs no PINGREQ).
    pub keep_alive: Dur,
    /// How a takeover is known: `"signalled"` (only DISCONNECT 0x8E, MQTT 5) or `"inferred"`
    /// (also a session the broker ends within `takeover_window` of a newer login of the same
    /// ClientId: for brokers that send nothing, as Mosquitto 2.0).
    pub takeover: String,
    pub takeover_window: Dur,
}

/// `[xmpp]`: how an instance speaks XMPP when `target.protocol = "xmpp"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Xmpp {
    /// The server's virtual host: the JIDs' domain (`userID@domain`), which need not be the
    /// target's host name.
    pub domain: String,
    /// The resource bound, a template: `{platform}` (same-platform logins collide on one full
    /// JID) or `{instance}` (one per instance).
    pub resource: String,
    /// The SASL mechanism: `PLAIN` or `SCRAM-SHA-1`.
    pub mechanism: String,
}

impl Default for Xmpp {
    fn default() -> Self {
        Xmpp {
            domain: "localhost".into(),
            resource: "{platform}".into(),
            mechanism: "PLAIN".into(),
        }
    }
}

/// A string, or a number read as the text it is written as.
fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum T {
        S(String),
        I(i64),
        F(f64),
    }
    Ok(match T::deserialize(d)? {
        T::S(s) => s,
        T::I(i) => i.to_string(),
        T::F(f) => f.to_string(),
    })
}

impl Default for Mqtt {
    fn default() -> Self {
        Mqtt {
            version: "3.1.1".into(),
            client_id: "{userID}".into(),
            username: true,
            keep_alive: Dur(Duration::ZERO),
            takeover: "signalled".into(),
            takeover_window: Dur(Duration::from_secs(1)),
        }
    }
}
