//! The boundary between a simulated instance and a backend's wire protocol.
//!
//! An instance thinks in the SDK's terms — log in, log out, send a message, probe — and hears
//! back the SDK's meanings: a request's answer (with the reference protocol's code), ready, not
//! ready, kicked (with its type), a message. A **driver** turns the one into frames and frames
//! into the other, for one instance (it may keep per-connection state):
//!
//! - a request becomes the frames to send now ([`Driver::request`]);
//! - a received frame, text or binary, becomes a [`Meaning`] — which may be more frames to send
//!   at once: a heartbeat's answer, or the next step of a login that takes several exchanges
//!   (the login's own answer comes only at its end, as [`Meaning::Response`] to the login's
//!   `seq`).
//!
//! The JSON protocol profiles (docs/backends.md) are one driver ([`json`]): one frame per
//! request, one request and one answer per login. A protocol with another framing or a login of
//! several exchanges is another variant of [`Driver`] beside it, and nothing above this module
//! changes: the instance, the account and the checks see only [`Meaning`]s.

use std::sync::Arc;

use crate::policy::KickType;
use crate::profile::template::Values;
use crate::profile::Profile;
use crate::protocol::Request;

pub mod json;
pub mod mqtt;
pub mod xmpp;

/// A frame as it came off the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// A frame to put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Text(String),
    Binary(Vec<u8>),
}

impl Outgoing {
    /// The frame as a log line shows it (`frames.log`, `unmatched-frames.txt`).
    pub fn shown(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Outgoing::Text(t) => std::borrow::Cow::Borrowed(t),
            Outgoing::Binary(b) => std::borrow::Cow::Owned(format!("<{} binary bytes>", b.len())),
        }
    }
}

/// What a received frame means to the instance: the SDK's meanings, as the checks use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    /// The answer to request `seq` (None: answers come in request order), with the reference
    /// protocol's code for what the backend answered, and whether the login was a repeat.
    Response {
        seq: Option<u64>,
        code: u32,
        repeat: bool,
    },
    Ready,
    NotReady,
    Kicked(KickType),
    MessageReceived,
    /// Frames to send at once: a heartbeat's answer, or a login's next exchange.
    Reply(Outgoing),
    /// A frame the protocol allows and the instance need not act on.
    Ignored,
    /// A frame nothing in the protocol explains: why (counted and kept as a protocol error).
    Unmatched(&'static str),
}

/// The wire protocol a run speaks, shared by every instance (read-only).
#[derive(Debug, Clone)]
pub enum Wire {
    /// A JSON protocol profile: the reference protocol, `webim`, or a user's file.
    Json(Arc<Profile>),
    /// MQTT 3.1.1 or 5 (`target.protocol = "mqtt"`, `[mqtt]`).
    Mqtt(Arc<mqtt::MqttWire>),
    /// XMPP over WebSocket (`target.protocol = "xmpp"`, `[xmpp]`).
    Xmpp(Arc<xmpp::XmppWire>),
}

impl Wire {
    /// The per-instance side of this protocol, fresh for a new connection.
    pub fn driver(&self) -> Driver {
        match self {
            Wire::Json(_) => Driver::Json(json::JsonDriver),
            Wire::Mqtt(_) => Driver::Mqtt(mqtt::MqttDriver::default()),
            Wire::Xmpp(_) => Driver::Xmpp(xmpp::XmppDriver::default()),
        }
    }

    /// The logout has no answer: the server's close of the connection ends it (MQTT's
    /// DISCONNECT).
    pub fn logout_closes(&self) -> bool {
        matches!(self, Wire::Mqtt(_))
    }

    /// The stream is the session: a kick ends it (XMPP's stream errors are unrecoverable,
    /// RFC 6120 §4.9; MQTT's DISCONNECT ends the connection), and so does a refused login (an
    /// XMPP stream whose SASL or bind failed cannot restart its login; an MQTT broker closes
    /// after a refused CONNACK, MQTT 3.1.1 §3.2.2.3). The instance closes it at once, so no
    /// next login starts on a stream the server is ending; nothing can log in again on it.
    pub fn stream_is_the_session(&self) -> bool {
        matches!(self, Wire::Mqtt(_) | Wire::Xmpp(_))
    }

    /// The window within which a session the server ends after a newer login of the same
    /// account is taken as a takeover (`mqtt.takeover = "inferred"`); `None`: never inferred.
    pub fn takeover_window(&self) -> Option<std::time::Duration> {
        match self {
            Wire::Mqtt(w) if w.shared_client_id() => match w.takeover {
                mqtt::Takeover::Inferred { window } => Some(window),
                mqtt::Takeover::Signalled => None,
            },
            _ => None,
        }
    }

    /// `Sec-WebSocket-Protocol` values the upgrade offers.
    pub fn subprotocols(&self) -> &[String] {
        static MQTT: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        static XMPP: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        match self {
            Wire::Json(p) => &p.subprotocols,
            Wire::Mqtt(_) => MQTT.get_or_init(|| vec!["mqtt".to_string()]),
            Wire::Xmpp(_) => XMPP.get_or_init(|| vec!["xmpp".to_string()]),
        }
    }

    /// Extra headers of the upgrade (a JSON profile's `[connection]`).
    pub fn headers(&self) -> &[(String, crate::profile::template::Template)] {
        match self {
            Wire::Json(p) => &p.headers,
            Wire::Mqtt(_) | Wire::Xmpp(_) => &[],
        }
    }
}

/// One instance's side of the wire protocol (enum-dispatched: a driver is made per connection
/// on the hot path, and costs no allocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    Json(json::JsonDriver),
    Mqtt(mqtt::MqttDriver),
    Xmpp(xmpp::XmppDriver),
}

impl Driver {
    /// The frames that carry `req` (a login may be the first of several exchanges).
    pub fn request(&mut self, wire: &Wire, req: &Request, who: &Values) -> Outgoing {
        match (self, wire) {
            (Driver::Json(d), Wire::Json(p)) => d.request(p, req, who),
            (Driver::Mqtt(d), Wire::Mqtt(w)) => d.request(w, req, who),
            (Driver::Xmpp(d), Wire::Xmpp(w)) => d.request(w, req, who),
            // A driver is made by its wire (`Wire::driver`): never mixed.
            _ => Outgoing::Binary(Vec::new()),
        }
    }

    /// What a received frame means.
    pub fn incoming(&mut self, wire: &Wire, frame: Incoming, who: &Values) -> Meaning {
        match (self, wire) {
            (Driver::Json(d), Wire::Json(p)) => d.incoming(p, frame, who),
            (Driver::Mqtt(d), Wire::Mqtt(w)) => d.incoming(w, frame),
            (Driver::Xmpp(d), Wire::Xmpp(w)) => d.incoming(w, frame),
            _ => Meaning::Unmatched("a driver of another wire"),
        }
    }

    /// The next meaning of the frame last handed to [`Driver::incoming`], when it held more
    /// than one (an MQTT frame of several packets; a CONNACK that is also the ready).
    pub fn more(&mut self, wire: &Wire) -> Option<Meaning> {
        match (self, wire) {
            (Driver::Mqtt(d), Wire::Mqtt(w)) => d.more(w),
            (Driver::Xmpp(d), Wire::Xmpp(_)) => d.more(),
            _ => None,
        }
    }
}
