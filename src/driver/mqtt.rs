//! MQTT 3.1.1 and 5 as a driver, over WebSocket (subprotocol `mqtt`, binary frames), with the
//! `mqtt-proto` codec. The SDK's cycle maps onto it so:
//!
//! - **login** is CONNECT (ClientId from `mqtt.client_id`, the userID as the user name when
//!   `mqtt.username` says so, the credentials file's second column as the password), and its
//!   CONNACK is both the login's answer and the instance's ready;
//! - **logout** is DISCONNECT, which MQTT does not answer: the broker's close of the
//!   connection is the logout's end ([`Wire::logout_closes`](super::Wire::logout_closes));
//! - a **message** (and a probe) is a QoS 1 PUBLISH to `loginstorm/<to>`, answered by PUBACK;
//! - a **kick** is DISCONNECT with reason 0x8E "Session taken over" (MQTT 5). A broker that
//!   sends nothing when it takes a session over (Mosquitto 2.0) is judged through the declared
//!   inference `mqtt.takeover = "inferred"`, made by the account (`engine/account/drops.rs`):
//!   a session the broker ends right after a newer login of the same ClientId is a takeover.
//!
//! A WebSocket frame may hold several MQTT packets or part of one (the MQTT-over-WebSocket
//! binding lets packets span frames): bytes are kept until a packet is whole, and the packets
//! of one frame come out one by one ([`MqttDriver::incoming`], then [`MqttDriver::more`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{v3, v5, Pid, QosPid, TopicName};

use super::{Incoming, Meaning, Outgoing};
use crate::policy::KickType;
use crate::profile::template::{Template, Values};
use crate::protocol::{code, Request};

/// The MQTT protocol level spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V311,
    V5,
}

/// How a takeover is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    /// Only by the broker's DISCONNECT 0x8E (MQTT 5).
    Signalled,
    /// Also by inference: a session the broker closes within `window` of a newer login of
    /// the same ClientId (documented, counted apart: `takeovers_inferred`).
    Inferred { window: Duration },
}

/// The run's MQTT settings (read-only, shared).
#[derive(Debug)]
pub struct MqttWire {
    pub version: Version,
    /// The ClientId template (`{userID}`, `{instance}`).
    pub client_id: Template,
    /// Send the userID as the user name.
    pub username: bool,
    /// Send the login's credential (the credentials file's second column) as the password.
    pub password: bool,
    pub keep_alive: u16,
    pub takeover: Takeover,
}

impl MqttWire {
    /// Whether the instances of one account share a ClientId (so a newer login of one takes
    /// the older's session over): the template names the account, not the instance.
    pub fn shared_client_id(&self) -> bool {
        !self.client_id.uses("instance")
    }
}

/// Most packets a frame is read for at once (a frame of many tiny packets is a hostile one).
const MAX_PACKETS_PER_FRAME: usize = 64;
/// Most bytes kept for a packet still arriving (a CONNACK, PUBACK or small PUBLISH is far less).
const MAX_PENDING_BYTES: usize = 64 * 1024;

/// One connection's MQTT state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MqttDriver {
    /// The login's seq while its CONNACK is awaited.
    login: Option<u64>,
    /// A CONNACK accepted: its ready is the next meaning.
    ready_due: bool,
    /// QoS 1 PUBLISHes awaiting their PUBACK: packet id, request seq.
    inflight: Vec<(u16, u64)>,
    next_pid: u16,
    /// Bytes of a packet not yet whole.
    pending: Vec<u8>,
    /// Packets read from the last frame and not yet handed out.
    read: usize,
}

impl MqttDriver {
    pub fn request(&mut self, w: &MqttWire, req: &Request, who: &Values) -> Outgoing {
        let bytes = match req {
            Request::Login { seq, user_sig, .. } => {
                self.login = Some(*seq);
                self.connect(w, user_sig, who)
            }
            Request::Logout { .. } => match w.version {
                Version::V311 => v3::Packet::Disconnect.encode().map(|b| b.as_ref().to_vec()),
                Version::V5 => v5::Packet::Disconnect(v5::Disconnect::new_normal())
                    .encode()
                    .map(|b| b.as_ref().to_vec()),
            },
            Request::SendMessage { seq, to, text } => {
                self.next_pid = self.next_pid.checked_add(1).unwrap_or(1).max(1);
                let pid = self.next_pid;
                // Bounded: answers that never come are forgotten oldest first.
                if self.inflight.len() >= 256 {
                    self.inflight.remove(0);
                }
                self.inflight.push((pid, *seq));
                self.publish(w, pid, to, text)
            }
            Request::Ping { .. } => match w.version {
                Version::V311 => v3::Packet::Pingreq.encode().map(|b| b.as_ref().to_vec()),
                Version::V5 => v5::Packet::Pingreq.encode().map(|b| b.as_ref().to_vec()),
            },
        };
        // Encoding fails only on values past MQTT's bounds (a 64 KiB ClientId): an empty
        // frame, which the broker refuses — the login then fails visibly.
        Outgoing::Binary(bytes.unwrap_or_default())
    }

    fn connect(
        &self,
        w: &MqttWire,
        credential: &str,
        who: &Values,
    ) -> Result<Vec<u8>, mqtt_proto::Error> {
        let client_id: Arc<str> = w.client_id.render(who).into();
        let username = w.username.then(|| Arc::<str>::from(who.user_id));
        let password = w
            .password
            .then(|| Bytes::copy_from_slice(credential.as_bytes()));
        match w.version {
            Version::V311 => {
                let mut c = v3::Connect::new(client_id, w.keep_alive);
                c.username = username;
                c.password = password;
                v3::Packet::Connect(c).encode().map(|b| b.as_ref().to_vec())
            }
            Version::V5 => {
                let mut c = v5::Connect::new(client_id, w.keep_alive);
                c.username = username;
                c.password = password;
                v5::Packet::Connect(c).encode().map(|b| b.as_ref().to_vec())
            }
        }
    }

    fn publish(
        &self,
        w: &MqttWire,
        pid: u16,
        to: &str,
        text: &str,
    ) -> Result<Vec<u8>, mqtt_proto::Error> {
        let topic = TopicName::try_from(format!("loginstorm/{to}").as_str())?;
        let qos = QosPid::Level1(Pid::try_from(pid)?);
        let payload = Bytes::copy_from_slice(text.as_bytes());
        match w.version {
            Version::V311 => v3::Packet::Publish(v3::Publish::new(qos, topic, payload))
                .encode()
                .map(|b| b.as_ref().to_vec()),
            Version::V5 => v5::Packet::Publish(v5::Publish::new(qos, topic, payload))
                .encode()
                .map(|b| b.as_ref().to_vec()),
        }
    }

    /// What a received frame means (its first packet's meaning; the others through
    /// [`MqttDriver::more`]).
    pub fn incoming(&mut self, w: &MqttWire, frame: Incoming) -> Meaning {
        let bytes = match frame {
            Incoming::Binary(b) => b,
            Incoming::Text(_) => return Meaning::Unmatched("a text frame (MQTT is binary)"),
        };
        if self.pending.len() + bytes.len() > MAX_PENDING_BYTES {
            self.pending.clear();
            return Meaning::Unmatched("an MQTT packet over 64 KiB");
        }
        self.pending.extend_from_slice(bytes);
        self.read = 0;
        self.more(w).unwrap_or(Meaning::Ignored)
    }

    /// The next meaning of the last frame, if it held more.
    pub fn more(&mut self, w: &MqttWire) -> Option<Meaning> {
        if std::mem::take(&mut self.ready_due) {
            return Some(Meaning::Ready);
        }
        if self.read >= MAX_PACKETS_PER_FRAME {
            // Counted once, like any frame no rule explains; the rest of it is dropped.
            if self.pending.is_empty() {
                return None;
            }
            self.pending.clear();
            return Some(Meaning::Unmatched("more than 64 MQTT packets in one frame"));
        }
        let len = match packet_len(&self.pending) {
            Ok(Some(n)) if n <= self.pending.len() => n,
            Ok(_) => return None,
            Err(why) => {
                self.pending.clear();
                return Some(Meaning::Unmatched(why));
            }
        };
        self.read += 1;
        let packet: Vec<u8> = self.pending.drain(..len).collect();
        Some(match w.version {
            Version::V311 => match v3::Packet::decode(&packet) {
                Ok(Some(p)) => self.v3_meaning(p),
                _ => Meaning::Unmatched("an MQTT 3.1.1 packet that does not decode"),
            },
            Version::V5 => match v5::Packet::decode(&packet) {
                Ok(Some(p)) => self.v5_meaning(p),
                _ => Meaning::Unmatched("an MQTT 5 packet that does not decode"),
            },
        })
    }

    fn connack(&mut self, accepted: bool, refusal: u32) -> Meaning {
        let Some(seq) = self.login.take() else {
            return Meaning::Unmatched("a CONNACK with no CONNECT");
        };
        self.ready_due = accepted;
        Meaning::Response {
            seq: Some(seq),
            code: if accepted { code::OK } else { refusal },
            repeat: false,
        }
    }

    fn puback(&mut self, pid: u16, failed: bool) -> Meaning {
        match self.inflight.iter().position(|(p, _)| *p == pid) {
            Some(i) => {
                let (_, seq) = self.inflight.remove(i);
                Meaning::Response {
                    seq: Some(seq),
                    code: if failed {
                        code::INVALID_PARAMS
                    } else {
                        code::OK
                    },
                    repeat: false,
                }
            }
            None => Meaning::Unmatched("a PUBACK for no PUBLISH in flight"),
        }
    }

    fn v3_meaning(&mut self, p: v3::Packet) -> Meaning {
        match p {
            v3::Packet::Connack(c) => {
                let refusal = refusal_code(c.code as u8);
                self.connack(c.code == v3::ConnectReturnCode::Accepted, refusal)
            }
            v3::Packet::Puback(pid) => self.puback(pid.value(), false),
            v3::Packet::Publish(_) => Meaning::MessageReceived,
            v3::Packet::Pingresp | v3::Packet::Suback(_) | v3::Packet::Unsuback(_) => {
                Meaning::Ignored
            }
            _ => Meaning::Unmatched("an MQTT 3.1.1 packet a broker does not send a client"),
        }
    }

    fn v5_meaning(&mut self, p: v5::Packet) -> Meaning {
        match p {
            v5::Packet::Connack(c) => {
                let refusal = refusal_code(c.reason_code as u8);
                self.connack(c.reason_code == v5::ConnectReasonCode::Success, refusal)
            }
            v5::Packet::Puback(a) => self.puback(a.pid.value(), (a.reason_code as u8) >= 0x80),
            v5::Packet::Publish(_) => Meaning::MessageReceived,
            v5::Packet::Disconnect(d) => match d.reason_code {
                v5::DisconnectReasonCode::SessionTakenOver => {
                    Meaning::Kicked(KickType::MultipleAccount)
                }
                // Any other reason: the broker ends the session; the close that follows is
                // the connection's end.
                _ => Meaning::NotReady,
            },
            v5::Packet::Pingresp | v5::Packet::Suback(_) | v5::Packet::Unsuback(_) => {
                Meaning::Ignored
            }
            _ => Meaning::Unmatched("an MQTT 5 packet a broker does not send a client"),
        }
    }
}

/// The reference protocol's code for a refused CONNECT: bad credentials or not authorised
/// (3.1.1 codes 4, 5; MQTT 5's 0x86, 0x87) are a refused credential (70009); anything else
/// is a refusal of the request (70402).
fn refusal_code(c: u8) -> u32 {
    match c {
        4 | 5 | 0x86 | 0x87 => code::SIG_BAD_SIGNATURE,
        _ => code::INVALID_PARAMS,
    }
}

/// The whole length of the MQTT packet at the start of `b` (fixed header and remaining
/// length, MQTT §2.2.3), `None` while its header is incomplete.
fn packet_len(b: &[u8]) -> Result<Option<usize>, &'static str> {
    let mut len = 0usize;
    for i in 0..4 {
        let Some(&byte) = b.get(1 + i) else {
            return Ok(None);
        };
        len |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some(1 + i + 1 + len));
        }
    }
    Err("an MQTT remaining length over four bytes")
}

#[cfg(test)]
mod tests;
