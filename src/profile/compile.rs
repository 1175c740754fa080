//! Compiling a profile file: every template, pointer and table checked and turned into the
//! [`Profile`] the engine uses (all problems named with their key).

use super::problem::{AtKey, Problem};
use std::collections::HashMap;

use super::extract::Paths;
use super::matcher::{self, Matcher};
use super::schema::{AdminFile, EventMeaning, ProfileFile};
use super::template::{Escape, Template, Values};
use super::{check_pointer, meaning_code, Admin, EventKind, Profile};
use crate::policy::{KickType, Platform};
use crate::protocol::code;
use serde_json::Value;

/// Placeholders each template may use.
const REQUEST_VARS: &[&str] = &["seq", "userID", "instance", "now_ms"];
const LOGIN_VARS: &[&str] = &[
    "seq", "userID", "userSig", "sdkAppID", "platform", "instance", "now_ms",
];
const MESSAGE_VARS: &[&str] = &["seq", "userID", "to", "text", "instance", "now_ms"];
const ANSWER_VARS: &[&str] = &["echo:/pointer", "userID", "instance", "now_ms"];
const CONNECTION_VARS: &[&str] = &["userID", "sdkAppID", "platform", "instance"];
const ADMIN_VARS: &[&str] = &["sdkAppID", "admin", "adminSig", "random", "userID"];

/// Rules of one kind (`[[event]]`, `[[answer]]`, `[[ignore]]`) a profile may hold: every
/// received frame is tried against them, so their number is a cost of every frame of the run.
pub const MAX_RULES: usize = 256;

impl ProfileFile {
    pub(super) fn compile(self, source: &str) -> Result<Profile, Problem> {
        for (kind, n) in [
            ("[[event]]", self.events.len()),
            ("[[answer]]", self.answers.len()),
            ("[[ignore]]", self.ignore.len()),
        ] {
            if n > MAX_RULES {
                return Err(Problem::TooManyRules {
                    n,
                    kind,
                    max: MAX_RULES,
                });
            }
        }
        let mut paths = Paths::default();
        let r = &self.requests;
        let login = json("requests.login", &r.login, LOGIN_VARS)?;
        let logout = json("requests.logout", &r.logout, REQUEST_VARS)?;
        let send_message = json("requests.send_message", &r.send_message, MESSAGE_VARS)?;
        let ping = r
            .ping
            .as_deref()
            .map(|p| json("requests.ping", p, REQUEST_VARS))
            .transpose()?;
        for (name, t) in [
            ("requests.login", &login),
            ("requests.logout", &logout),
            ("requests.send_message", &send_message),
        ] {
            if self.response.id.is_some() && !t.uses("seq") {
                return Err(Problem::NoSeq(name));
            }
        }
        let mut platforms: Vec<String> =
            Platform::ALL.iter().map(|p| p.name().to_string()).collect();
        for (k, v) in &self.values.platform {
            let p: Platform = k.parse().at("values.platform")?;
            let i = Platform::ALL.iter().position(|x| *x == p).unwrap_or(0);
            platforms[i] = v.clone();
        }
        let resp = &self.response;
        if resp.code.is_none() && resp.success.is_none() {
            return Err(Problem::NoCodeOrSuccess);
        }
        let id = match &resp.id {
            Some(p) => {
                check_pointer(p).at("response.id")?;
                Some(paths.slot(p))
            }
            None => None,
        };
        let code_slot = match &resp.code {
            Some(p) => {
                check_pointer(p).at("response.code")?;
                Some(paths.slot(p))
            }
            None => None,
        };
        let response = matcher("response.match", &resp.matcher, &mut paths)?;
        let success = resp
            .success
            .as_ref()
            .map(|m| matcher("response.success", m, &mut paths))
            .transpose()?;
        let repeat = resp
            .repeat_login
            .as_ref()
            .map(|m| matcher("response.repeat_login", m, &mut paths))
            .transpose()?;
        let codes: HashMap<String, u32> = resp
            .codes
            .iter()
            .map(|(k, v)| (k.clone(), meaning_code(*v)))
            .collect();
        if resp.success.is_none() && !codes.values().any(|c| *c == code::OK) {
            return Err(Problem::NoOkCode);
        }
        let mut events = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            let name = format!("event[{i}]");
            let m = matcher(&format!("{name}.match"), &e.matcher, &mut paths)?;
            let kind = match e.meaning {
                EventMeaning::Ready => EventKind::Ready,
                EventMeaning::NotReady => EventKind::NotReady,
                EventMeaning::MessageReceived => EventKind::MessageReceived,
                EventMeaning::Kicked => {
                    let path = e
                        .kick_type
                        .clone()
                        .ok_or_else(|| Problem::NoKickType.at(&name))?;
                    check_pointer(&path).at(format!("{name}.kick_type"))?;
                    if e.kick_types.is_empty() {
                        return Err(Problem::NoKickTypes.at(&name));
                    }
                    let mut types = HashMap::new();
                    for (k, v) in &e.kick_types {
                        let t: KickType = v.parse().at(format!("{name}.kick_types.{k}"))?;
                        types.insert(k.clone(), t);
                    }
                    EventKind::Kicked {
                        slot: paths.slot(&path),
                        types,
                    }
                }
            };
            if e.meaning != EventMeaning::Kicked
                && (e.kick_type.is_some() || !e.kick_types.is_empty())
            {
                return Err(Problem::KickFieldsElsewhere.at(&name));
            }
            events.push((m, kind));
        }
        if !events.iter().any(|(_, k)| matches!(k, EventKind::Ready)) {
            return Err(Problem::NoReady);
        }
        let mut answers = Vec::new();
        for (i, a) in self.answers.iter().enumerate() {
            let m = matcher(&format!("answer[{i}].match"), &a.matcher, &mut paths)?;
            let reply = json(&format!("answer[{i}].reply"), &a.reply, ANSWER_VARS)?;
            for p in reply.echo_pointers() {
                paths.slot(p);
            }
            answers.push((m, reply));
        }
        let ignore = self
            .ignore
            .iter()
            .enumerate()
            .map(|(i, g)| matcher(&format!("ignore[{i}].match"), &g.matcher, &mut paths))
            .collect::<Result<Vec<_>, _>>()?;
        let headers = self
            .connection
            .headers
            .iter()
            .map(|(k, v)| header("connection.headers", k, v, CONNECTION_VARS))
            .collect::<Result<Vec<_>, _>>()?;
        for s in &self.connection.subprotocols {
            if s.is_empty() || s.contains([',', ' ', '\r', '\n']) {
                return Err(Problem::Subprotocol(s.clone()));
            }
        }
        let admin = self.admin.compile()?;
        Ok(Profile {
            name: self.name,
            description: self.description,
            source: source.to_string(),
            subprotocols: self.connection.subprotocols,
            headers,
            login,
            logout,
            send_message,
            ping,
            platforms,
            paths,
            response,
            id,
            code: code_slot,
            success,
            repeat,
            codes,
            events,
            answers,
            ignore,
            admin,
        })
    }
}

impl AdminFile {
    /// The admin REST kick, compiled and checked.
    pub(super) fn compile(&self) -> Result<Admin, Problem> {
        let a = self;
        let mut admin_paths = Paths::default();
        let admin = Admin {
            method: a.method.to_ascii_uppercase(),
            path: {
                if !a.path.starts_with('/') {
                    return Err(Problem::AdminPath(a.path.clone()));
                }
                Template::compile(&a.path, Escape::Url, ADMIN_VARS).at("admin.path")?
            },
            body: json("admin.body", &a.body, ADMIN_VARS)?,
            headers: a
                .headers
                .iter()
                .map(|(k, v)| header("admin.headers", k, v, ADMIN_VARS))
                .collect::<Result<_, _>>()?,
            success: matcher("admin.success", &a.success, &mut admin_paths)?,
            message: match &a.message {
                Some(p) => {
                    check_pointer(p).at("admin.message")?;
                    Some(admin_paths.slot(p))
                }
                None => None,
            },
            paths: admin_paths,
        };
        if !["POST", "PUT", "GET", "DELETE", "PATCH"].contains(&admin.method.as_str()) {
            return Err(Problem::AdminMethod(a.method.clone()));
        }
        Ok(admin)
    }
}

/// A JSON body template: rendered with awkward values, it must still be one JSON value.
fn json(name: &str, text: &str, allowed: &[&str]) -> Result<Template, Problem> {
    let t = Template::compile(text, Escape::Json, allowed).at(name)?;
    // Rendered with awkward values, it must still be one JSON value.
    let sample = t.render(&Values {
        seq: 7,
        user_id: "u\"1",
        user_sig: "eJx\\sig",
        sdkappid: 1_400_000_000,
        platform: "Web",
        instance: "u1#0",
        to: "u2",
        text: "hi\n",
        admin: "administrator",
        admin_sig: "sig",
        random: 5,
        frame: None,
    });
    if let Err(e) = serde_json::from_str::<Value>(&sample) {
        return Err(Problem::NotJson {
            name: name.to_string(),
            error: e.to_string(),
            sample,
        });
    }
    Ok(t)
}
/// A header: a token name and a value of visible characters.
fn header(name: &str, k: &str, v: &str, allowed: &[&str]) -> Result<(String, Template), Problem> {
    if k.is_empty()
        || !k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b))
    {
        return Err(Problem::HeaderName(k.to_string()).at(name));
    }
    // RFC 9110 §5.5: a field value is visible characters, spaces and tabs; no control
    // character (CR, LF, NUL, DEL or a C1 control) may go on the wire.
    if v.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Problem::HeaderControl.at(format!("{name}.{k}")));
    }
    Ok((
        k.to_string(),
        Template::compile(v, Escape::Header, allowed).at(format!("{name}.{k}"))?,
    ))
}

fn matcher(name: &str, m: &matcher::Match, paths: &mut Paths) -> Result<Matcher, Problem> {
    Matcher::compile(m, paths).at(name)
}
