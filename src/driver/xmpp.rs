//! XMPP over WebSocket (RFC 7395: subprotocol `xmpp`, one element per text frame) as a driver,
//! read as namespace-aware XML with `quick-xml` — never by string matching. The SDK's cycle maps
//! onto it so:
//!
//! - **login** is the whole exchange: `<open/>`, SASL PLAIN (the credentials file's second
//!   column is the password), the stream restart, resource bind (the resource from
//!   `xmpp.resource`: the platform, so same-platform logins collide, or the instance), then
//!   initial presence. The bind's result is the login's answer; a bind refused with
//!   `<conflict/>` (Prosody's `kick_new`) or a failed SASL is a refused login;
//! - **ready** is the server's echo of the instance's own presence (other resources' presence
//!   may arrive at any moment and is ignored);
//! - **logout** is `<close/>`, answered by the server's `<close/>`;
//! - a **probe** (and a message) is an XEP-0199 ping, answered by its result (an error
//!   answer is a refusal);
//! - a **kick** is a `<conflict/>` stream error (a newer session took this one's place: a
//!   `multipleAccount` kick), or a `<policy-violation/>` one (an operator's kick, ejabberd's
//!   `kick_user`: `REST_API_Kick`);
//!
//! Hostile XML: a DOCTYPE (and so any entity declaration) is refused, as are elements nested
//! deeper than 16 or more than 256 in one frame; the WebSocket layer bounds the frame's size.

use std::sync::Arc;

use base64::Engine as _;

use super::{Incoming, Meaning, Outgoing};
use crate::policy::KickType;
use crate::profile::template::{Template, Values};
use crate::protocol::{code, Request};

const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
const SESSION: &str = "urn:ietf:params:xml:ns:xmpp-session";
const STREAMS: &str = "http://etherx.jabber.org/streams";
const STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
const STANZA_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
const CLIENT: &str = "jabber:client";
const PING: &str = "urn:xmpp:ping";

/// Deepest nesting and most elements read from one frame.
const MAX_DEPTH: usize = 16;
const MAX_ELEMENTS: usize = 256;

/// The run's XMPP settings (read-only, shared).
#[derive(Debug)]
pub struct XmppWire {
    /// The server's virtual host: the JIDs' domain.
    pub domain: String,
    /// The resource template (`{platform}`, `{instance}`).
    pub resource: Template,
    /// The SASL mechanism the login uses.
    pub mechanism: Mechanism,
}

/// The SASL mechanism of the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616: the password in the clear (over `ws://`, servers offer it only when told to).
    Plain,
    /// RFC 5802 without channel binding: the password never crosses the wire, and the server
    /// proves it knows it.
    ScramSha1,
}

/// Where one connection's login stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Step {
    /// No login under way.
    #[default]
    Idle,
    /// `<open/>` sent; the server's open and features come next.
    Opened,
    /// SASL PLAIN sent.
    Authenticating,
    /// Restarted after SASL; waiting for the features that offer bind.
    Restarted,
    /// Bind sent.
    Binding,
    /// Session establishment sent (a server that still requires it, RFC 3921).
    Session,
    /// Logged in; presence sent: its echo is the ready.
    Presence,
    /// Logged in.
    Online,
}

/// One connection's XMPP state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmppDriver {
    step: Step,
    login: Option<u64>,
    logout: Option<u64>,
    /// This session's full JID, once bound.
    jid: String,
    /// The login's credential and the resource asked for, kept for the exchanges to come.
    user: String,
    password: String,
    resource: String,
    /// Whether the bound server wants session establishment.
    session_required: bool,
    /// Frames to send once the current meaning is handed out (presence after the bind).
    queued: Option<Outgoing>,
    /// SCRAM's state (boxed: PLAIN logins carry none of it).
    scram: Option<Box<ScramState>>,
}

/// The SCRAM exchange under way, and the last salted password (kept across logins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ScramState {
    exchange: Option<scram::Exchange>,
    salted: scram::Salted,
}

fn open_frame(domain: &str) -> String {
    format!(
        "<open xmlns=\"{FRAMING}\" to=\"{}\" version=\"1.0\"/>",
        esc(domain)
    )
}

/// Text and attribute escaping for what the driver writes.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

impl XmppDriver {
    pub fn request(&mut self, w: &XmppWire, req: &Request, who: &Values) -> Outgoing {
        Outgoing::Text(match req {
            Request::Login {
                seq,
                user_id,
                user_sig,
                ..
            } => {
                self.login = Some(*seq);
                self.step = Step::Opened;
                self.user = user_id.clone();
                self.password = user_sig.clone();
                self.resource = w.resource.render(who);
                open_frame(&w.domain)
            }
            Request::Logout { seq } => {
                self.logout = Some(*seq);
                format!("<close xmlns=\"{FRAMING}\"/>")
            }
            Request::SendMessage { seq, .. } | Request::Ping { seq } => format!(
                "<iq xmlns=\"{CLIENT}\" type=\"get\" id=\"p{seq}\"><ping xmlns=\"{PING}\"/></iq>"
            ),
        })
    }

    /// What a received frame means.
    pub fn incoming(&mut self, w: &XmppWire, frame: Incoming) -> Meaning {
        let text = match frame {
            Incoming::Text(t) => t,
            Incoming::Binary(_) => return Meaning::Unmatched("a binary frame (XMPP is text)"),
        };
        let el = match parse(text) {
            Ok(el) => el,
            Err(why) => return Meaning::Unmatched(why),
        };
        self.queued = None;
        self.meaning(w, &el)
    }

    /// The next meaning of the last frame, when it held more than one.
    pub fn more(&mut self) -> Option<Meaning> {
        self.queued.take().map(Meaning::Reply)
    }

    fn login_refused(&mut self, code: u32) -> Meaning {
        self.step = Step::Idle;
        match self.login.take() {
            Some(seq) => Meaning::Response {
                seq: Some(seq),
                code,
                repeat: false,
            },
            None => Meaning::Unmatched("a login's failure with no login under way"),
        }
    }

    fn meaning(&mut self, w: &XmppWire, el: &Element) -> Meaning {
        let text = |s: String| Meaning::Reply(Outgoing::Text(s));
        match (el.ns.as_str(), el.name.as_str()) {
            (FRAMING, "open") => Meaning::Ignored,
            (FRAMING, "close") => match self.logout.take() {
                Some(seq) => Meaning::Response {
                    seq: Some(seq),
                    code: code::OK,
                    repeat: false,
                },
                // The server ends the stream on its own: the connection's end follows.
                None => Meaning::NotReady,
            },
            (STREAMS, "features") => match self.step {
                Step::Opened => {
                    let name = match w.mechanism {
                        Mechanism::Plain => "PLAIN",
                        Mechanism::ScramSha1 => "SCRAM-SHA-1",
                    };
                    if !el.texts(SASL, "mechanism").any(|m| m == name) {
                        return self.login_refused(code::INVALID_PARAMS);
                    }
                    self.step = Step::Authenticating;
                    let b64 = match w.mechanism {
                        Mechanism::Plain => {
                            let plain = format!("\0{}\0{}", self.user, self.password);
                            base64::engine::general_purpose::STANDARD.encode(plain)
                        }
                        Mechanism::ScramSha1 => {
                            let nonce: String = std::iter::repeat_with(fastrand::alphanumeric)
                                .take(24)
                                .collect();
                            let (x, first) = scram::Exchange::start(&self.user, nonce);
                            self.scram.get_or_insert_with(Default::default).exchange = Some(x);
                            first
                        }
                    };
                    text(format!(
                        "<auth xmlns=\"{SASL}\" mechanism=\"{name}\">{b64}</auth>"
                    ))
                }
                Step::Restarted => {
                    if !el.has(BIND, "bind") {
                        return self.login_refused(code::INVALID_PARAMS);
                    }
                    // A session element without <optional/> is still required (RFC 3921).
                    self.session_required = el.has(SESSION, "session")
                        && !el.inner.iter().any(|(_, l, _)| l == "optional");
                    self.step = Step::Binding;
                    text(format!(
                        "<iq xmlns=\"{CLIENT}\" type=\"set\" id=\"bind\"><bind xmlns=\"{BIND}\"><resource>{}</resource></bind></iq>",
                        esc(&self.resource)
                    ))
                }
                _ => Meaning::Ignored,
            },
            (SASL, "challenge") if self.step == Step::Authenticating => {
                let Some(st) = self.scram.as_mut() else {
                    return Meaning::Unmatched("a SASL challenge to PLAIN");
                };
                let ScramState { exchange, salted } = &mut **st;
                let Some(x) = exchange.as_mut() else {
                    return Meaning::Unmatched("a SASL challenge to PLAIN");
                };
                match x.answer(&self.password, &el.text, salted) {
                    Ok(b64) => text(format!("<response xmlns=\"{SASL}\">{b64}</response>")),
                    Err(_) => {
                        *exchange = None;
                        self.login_refused(code::INVALID_PARAMS)
                    }
                }
            }
            (SASL, "success") if self.step == Step::Authenticating => {
                // SCRAM: the server proves it knows the password, or the login is refused.
                if let Some(x) = self.scram.as_mut().and_then(|st| st.exchange.take()) {
                    if x.verify(&el.text).is_err() {
                        return self.login_refused(code::SIG_BAD_SIGNATURE);
                    }
                }
                self.step = Step::Restarted;
                text(open_frame(&w.domain))
            }
            (SASL, "failure") => {
                if let Some(st) = self.scram.as_mut() {
                    st.exchange = None;
                }
                self.login_refused(code::SIG_BAD_SIGNATURE)
            }
            (CLIENT, "iq") => self.iq(el),
            (CLIENT, "presence") => {
                let own = !self.jid.is_empty() && el.from == self.jid;
                if own && self.step == Step::Presence && el.kind.is_empty() {
                    self.step = Step::Online;
                    return Meaning::Ready;
                }
                // Another resource's presence, or a later one of its own.
                Meaning::Ignored
            }
            (CLIENT, "message") => Meaning::MessageReceived,
            (STREAMS, "error") => {
                if el.has(STREAM_ERRORS, "conflict") {
                    self.step = Step::Idle;
                    Meaning::Kicked(KickType::MultipleAccount)
                } else if el.has(STREAM_ERRORS, "policy-violation") {
                    // An operator's kick (ejabberd's `kick_user`: "has been kicked").
                    self.step = Step::Idle;
                    Meaning::Kicked(KickType::RestApiKick)
                } else {
                    Meaning::NotReady
                }
            }
            _ => Meaning::Unmatched("an XMPP element a client is not sent"),
        }
    }

    fn iq(&mut self, el: &Element) -> Meaning {
        let error = el.kind == "error";
        match (self.step, el.id.as_str()) {
            (Step::Binding, "bind") if error => {
                // Prosody's kick_new: the resource is taken, the new bind is refused.
                let code = if el.has(STANZA_ERRORS, "conflict") {
                    code::LOGIN_IN_PROGRESS
                } else {
                    code::INVALID_PARAMS
                };
                self.login_refused(code)
            }
            (Step::Binding, "bind") => {
                self.jid = el.text(BIND, "jid").unwrap_or_default().to_string();
                if self.session_required {
                    self.step = Step::Session;
                    return Meaning::Reply(Outgoing::Text(format!(
                        "<iq xmlns=\"{CLIENT}\" type=\"set\" id=\"session\"><session xmlns=\"{SESSION}\"/></iq>"
                    )));
                }
                self.bound()
            }
            (Step::Session, "session") if !error => self.bound(),
            (Step::Session, "session") => self.login_refused(code::INVALID_PARAMS),
            (_, id) if id.starts_with('p') => match id[1..].parse::<u64>() {
                Ok(seq) => Meaning::Response {
                    seq: Some(seq),
                    code: if error { code::NOT_LOGGED_IN } else { code::OK },
                    repeat: false,
                },
                Err(_) => Meaning::Unmatched("an iq answer to no request"),
            },
            _ => Meaning::Ignored,
        }
    }

    /// Bound (and the session established, if asked): the login is answered, and the
    /// initial presence goes out; its echo will be the ready.
    fn bound(&mut self) -> Meaning {
        self.step = Step::Presence;
        self.queued = Some(Outgoing::Text(format!("<presence xmlns=\"{CLIENT}\"/>")));
        match self.login.take() {
            Some(seq) => Meaning::Response {
                seq: Some(seq),
                code: code::OK,
                repeat: false,
            },
            None => Meaning::Unmatched("a bind with no login under way"),
        }
    }
}

/// The wire for a scenario's `[xmpp]` table.
pub fn wire(domain: String, resource: Template, mechanism: Mechanism) -> Arc<XmppWire> {
    Arc::new(XmppWire {
        domain,
        resource,
        mechanism,
    })
}

mod element;
mod scram;
use element::{parse, Element};

#[cfg(test)]
mod tests;
