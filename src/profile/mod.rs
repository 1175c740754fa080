//! Protocol profiles: how an SDK instance's abstract steps look on a backend's wire.
//!
//! A profile (TOML, docs/backends.md) gives the request templates (login, logout, send message,
//! ping), how a response is matched to its request and what its code means, which frames are
//! which events (ready, not ready, kicked with its type, message received), frames the instance
//! answers on its own (a heartbeat) and frames it ignores — plus the connection's subprotocols
//! and headers and the admin REST call. It is checked completely when read: an unknown key, a
//! bad JSON Pointer, an unknown placeholder, a template that does not render to JSON, a missing
//! mapping an enabled check needs — each is named. The engine then speaks any backend through
//! the same [`Profile::encode`] and [`Profile::decode`], and everything after decoding (the
//! checks, the counters) sees the reference protocol's meanings.
//!
//! Protocol v1 is itself a profile (`profiles/loginstorm-v1.toml`, the default); the reference
//! server's second dialect has one too (`profiles/webim.toml`).

mod admin;
mod compile;
mod extract;
mod matcher;
mod problem;
mod schema;
pub mod template;

pub use admin::{Admin, AdminRefusal};
pub use problem::Problem;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::policy::{KickType, Platform};
use crate::protocol::{code, Request};
use extract::{Paths, Slots};
pub use matcher::check_pointer;
use matcher::{key_of, Matcher};
use schema::{CodeMeaning, ProfileFile};
use template::{Template, Values};

/// The profiles shipped inside the binary, by name.
pub const BUILTIN: [(&str, &str); 2] = [
    (
        "loginstorm-v1",
        include_str!("../../profiles/loginstorm-v1.toml"),
    ),
    ("webim", include_str!("../../profiles/webim.toml")),
];

/// The default: the reference protocol v1.
pub const DEFAULT: &str = "loginstorm-v1";

/// What a received frame is, in the reference protocol's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A response: to request `seq` (None: the profile matches responses in order), with the
    /// reference protocol's code for what the backend answered.
    Response {
        seq: Option<u64>,
        code: u32,
        repeat: bool,
    },
    Ready,
    NotReady,
    Kicked(KickType),
    MessageReceived,
    /// A frame the instance must answer at once (a heartbeat): the reply.
    Answer(String),
    Ignored,
    /// No rule of the profile explains this frame: why.
    Unmatched(&'static str),
}

#[derive(Debug)]
enum EventKind {
    Ready,
    NotReady,
    Kicked {
        /// The slot of the kick's type.
        slot: usize,
        types: HashMap<String, KickType>,
    },
    MessageReceived,
}

/// A profile, compiled and checked.
#[derive(Debug)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Where it was read from (`builtin:NAME` or a path), for messages.
    pub source: String,
    pub subprotocols: Vec<String>,
    pub headers: Vec<(String, Template)>,
    login: Template,
    logout: Template,
    send_message: Template,
    ping: Option<Template>,
    /// The platforms' names on the wire, by `Platform::ALL` order.
    platforms: Vec<String>,
    /// Every pointer the frame rules read.
    paths: Paths,
    response: Matcher,
    id: Option<usize>,
    code: Option<usize>,
    success: Option<Matcher>,
    repeat: Option<Matcher>,
    codes: HashMap<String, u32>,
    events: Vec<(Matcher, EventKind)>,
    answers: Vec<(Matcher, Template)>,
    ignore: Vec<Matcher>,
    pub admin: Admin,
}

/// A profile that cannot be used, naming where and what.
#[derive(Debug, thiserror::Error)]
#[error("protocol profile {source_name}: {problem}")]
pub struct ProfileError {
    pub source_name: String,
    pub problem: Problem,
}

/// What the scenario will ask of the profile (mappings an enabled check needs).
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    pub checks: bool,
    pub admin_kicks: bool,
    pub expiry: bool,
}

impl Profile {
    /// The name of the shipped profile this is (`None`: a user's file, whatever it calls
    /// itself).
    pub fn shipped(&self) -> Option<&str> {
        self.source.strip_prefix("builtin:")
    }

    /// A shipped profile's name, or a file (relative paths from `base`).
    pub fn load(spec: &str, base: &Path) -> Result<Arc<Profile>, ProfileError> {
        let spec = if spec.is_empty() { DEFAULT } else { spec };
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
            return Profile::parse(text, &format!("builtin:{spec}")).map(Arc::new);
        }
        let path = if Path::new(spec).is_absolute() {
            PathBuf::from(spec)
        } else {
            base.join(spec)
        };
        let text = crate::input::read_text_io(
            &path,
            crate::input::Links::Follow,
            crate::input::MAX_CONFIG,
        )
        .map_err(|e| ProfileError {
            source_name: path.display().to_string(),
            problem: Problem::Unreadable {
                error: e.to_string(),
                shipped: BUILTIN.map(|(n, _)| n).join(", "),
            },
        })?;
        Profile::parse(&text, &path.display().to_string()).map(Arc::new)
    }

    /// Read a profile's text; every problem is named with the key at fault.
    pub fn parse(text: &str, source: &str) -> Result<Profile, ProfileError> {
        let err = |problem: Problem| ProfileError {
            source_name: source.to_string(),
            problem,
        };
        let f: ProfileFile = toml::from_str(text).map_err(|e| err(Problem::Toml(e.to_string())))?;
        f.compile(source).map_err(err)
    }

    /// Refuse a profile that lacks what the scenario's enabled checks need.
    pub fn check_needs(&self, n: Needs) -> Result<(), ProfileError> {
        let err = |problem: Problem| ProfileError {
            source_name: self.source.clone(),
            problem,
        };
        let kick_types: Vec<KickType> = self
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                EventKind::Kicked { types, .. } => Some(types.values().copied()),
                _ => None,
            })
            .flatten()
            .collect();
        let codes: Vec<u32> = self.codes.values().copied().collect();
        if n.checks {
            for k in [KickType::MultipleAccount, KickType::MultipleDevice] {
                if !kick_types.contains(&k) {
                    return Err(err(Problem::UnmappedKick(k.name())));
                }
            }
            if !codes.iter().any(|c| code::ends_session(*c)) {
                return Err(err(Problem::NoEndedCode));
            }
        }
        if n.checks && n.expiry && !kick_types.contains(&KickType::UserSigExpired) {
            return Err(err(Problem::NoExpiryKick));
        }
        if n.admin_kicks {
            if !kick_types.contains(&KickType::RestApiKick) {
                return Err(err(Problem::NoRestKick));
            }
            if !codes.contains(&code::SIG_INVALIDATED) {
                return Err(err(Problem::NoInvalidatedCode));
            }
        }
        Ok(())
    }

    /// A request as this backend's frame; `who` carries the instance's own values.
    pub fn encode(&self, req: &Request, who: &Values) -> String {
        match req {
            Request::Login {
                seq,
                sdk_app_id,
                user_sig,
                platform,
                ..
            } => self.login.render(&Values {
                seq: *seq,
                sdkappid: *sdk_app_id,
                user_sig,
                platform: self.platform_name(*platform),
                ..*who
            }),
            Request::Logout { seq } => self.logout.render(&Values { seq: *seq, ..*who }),
            Request::SendMessage { seq, to, text } => self.send_message.render(&Values {
                seq: *seq,
                to,
                text,
                ..*who
            }),
            // The generator sends no ping today; a profile without one answers with an empty
            // object rather than another request.
            Request::Ping { seq } => match &self.ping {
                Some(t) => t.render(&Values { seq: *seq, ..*who }),
                None => "{}".to_string(),
            },
        }
    }

    /// How a platform is spelled on this backend's wire.
    pub fn platform_name(&self, p: Platform) -> &str {
        let i = Platform::ALL.iter().position(|x| *x == p).unwrap_or(0);
        &self.platforms[i]
    }

    /// What a received text frame is.
    pub fn decode(&self, text: &str, who: &Values) -> Decoded {
        let Ok(frame) = self.paths.extract(text) else {
            return Decoded::Unmatched("not JSON");
        };
        for (m, reply) in &self.answers {
            if m.holds(&frame) {
                return Decoded::Answer(reply.render(&Values {
                    frame: Some((&self.paths, &frame)),
                    ..*who
                }));
            }
        }
        if self.response.holds(&frame) {
            return self.response_of(&frame);
        }
        for (m, kind) in &self.events {
            if !m.holds(&frame) {
                continue;
            }
            return match kind {
                EventKind::Ready => Decoded::Ready,
                EventKind::NotReady => Decoded::NotReady,
                EventKind::MessageReceived => Decoded::MessageReceived,
                EventKind::Kicked { slot, types } => {
                    match frame[*slot]
                        .as_ref()
                        .and_then(key_of)
                        .and_then(|k| types.get(k.as_ref()))
                    {
                        Some(t) => Decoded::Kicked(*t),
                        None => Decoded::Unmatched("a kick of a type the profile does not map"),
                    }
                }
            };
        }
        if self.ignore.iter().any(|m| m.holds(&frame)) {
            return Decoded::Ignored;
        }
        Decoded::Unmatched("no rule of the profile matches it")
    }

    fn response_of(&self, frame: &Slots) -> Decoded {
        let seq = match self.id {
            None => None,
            Some(i) => match &frame[i] {
                Some(Value::Number(n)) => n.as_u64(),
                Some(Value::String(s)) => s.parse().ok(),
                _ => None,
            },
        };
        if self.id.is_some() && seq.is_none() {
            return Decoded::Unmatched("a response without a request id the generator sent");
        }
        let repeat = self.repeat.as_ref().is_some_and(|m| m.holds(frame));
        if self.success.as_ref().is_some_and(|m| m.holds(frame)) {
            return Decoded::Response {
                seq,
                code: code::OK,
                repeat,
            };
        }
        let value = self.code.and_then(|i| frame[i].as_ref());
        let code = match value.and_then(key_of) {
            Some(k) => match self.codes.get(k.as_ref()) {
                Some(c) => *c,
                // An unmapped numeric code is reported as is; any other as a plain failure.
                None => k.parse::<u32>().ok().filter(|c| *c != 0).unwrap_or(FAILURE),
            },
            None if self.success.is_some() => FAILURE,
            None => return Decoded::Unmatched("a response without a code"),
        };
        Decoded::Response { seq, code, repeat }
    }
}

/// The code a failure gets when the backend's code maps to nothing more precise.
pub const FAILURE: u32 = 1;

/// Every meaning a backend's code may be given, and the reference protocol's code for it.
pub fn meaning_code(m: CodeMeaning) -> u32 {
    match m {
        CodeMeaning::Ok => code::OK,
        CodeMeaning::NotLoggedIn => code::NOT_LOGGED_IN,
        CodeMeaning::LoginInProgress => code::LOGIN_IN_PROGRESS,
        CodeMeaning::NotReadyLoggingIn => code::NOT_READY_LOGGING_IN,
        CodeMeaning::NotReadyLoginFailed => code::NOT_READY_LOGIN_FAILED,
        CodeMeaning::KickedMultipleDevice => code::NOT_READY_KICKED_DEVICE,
        CodeMeaning::KickedMultipleAccount => code::NOT_READY_KICKED_ACCOUNT,
        CodeMeaning::KickedUserSigExpired => code::NOT_READY_KICKED_EXPIRED,
        CodeMeaning::LoggedOut => code::NOT_READY_LOGGED_OUT,
        CodeMeaning::KickedRestApi => code::NOT_READY_KICKED_REST,
        CodeMeaning::SigExpired => code::SIG_EXPIRED,
        CodeMeaning::SigInvalid => code::SIG_DECODE,
        CodeMeaning::SigInvalidated => code::SIG_INVALIDATED,
        CodeMeaning::InvalidParams => code::INVALID_PARAMS,
        CodeMeaning::Failure => FAILURE,
    }
}

#[cfg(test)]
mod tests;
