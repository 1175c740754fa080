//! Reference wire protocol, version 1: the JSON frames both the server and the load generator speak.
//!
//! One JSON object per WebSocket text frame. Requests carry `seq` and `op`; responses echo `seq`
//! with `code` (0 = ok) and `data` or `message`; events carry `event` and optional `data` and no
//! `seq`. See `docs/protocol.md` for the user-facing description.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::policy::{KickType, Platform};

/// Largest text frame the server interprets; larger ones get a 70402 response.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Longest accepted `userID`, in bytes.
pub const MAX_USER_ID_BYTES: usize = 128;
/// Longest accepted `text` of a `sendMessage`, in bytes.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// Error codes of the protocol and the REST API.
/// The documented development defaults, shared by the server, the generator and `sig`.
pub mod defaults {
    /// The development SDKAppID used when none is given.
    pub const DEV_SDKAPPID: u64 = 1_400_000_000;
    /// The development secret key used when none is given (the key of the official test vectors).
    /// Never use it on a reachable address.
    pub const DEV_KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
    /// The default admin identifier for the REST API.
    pub const DEFAULT_ADMIN: &str = "administrator";
}

pub mod code {
    pub const OK: u32 = 0;
    pub const NOT_LOGGED_IN: u32 = 2024;
    pub const LOGIN_IN_PROGRESS: u32 = 2025;
    pub const NOT_READY_LOGGING_IN: u32 = 3000;
    pub const NOT_READY_LOGIN_FAILED: u32 = 3001;
    pub const NOT_READY_KICKED_DEVICE: u32 = 3002;
    pub const NOT_READY_KICKED_ACCOUNT: u32 = 3003;
    pub const NOT_READY_KICKED_EXPIRED: u32 = 3004;
    pub const NOT_READY_LOGGED_OUT: u32 = 3005;
    pub const NOT_READY_KICKED_REST: u32 = 3006;
    pub const SIG_EXPIRED: u32 = 70001;
    pub const SIG_DECODE: u32 = 70003;
    pub const SIG_BAD_SIGNATURE: u32 = 70009;
    pub const SIG_USER_MISMATCH: u32 = 70013;
    pub const SIG_APP_MISMATCH: u32 = 70014;
    pub const SIG_INVALIDATED: u32 = 70052;
    pub const INVALID_PARAMS: u32 = 70402;
    pub const ADMIN_REQUIRED: u32 = 70403;
    pub const ACCOUNT_NOT_FOUND: u32 = 70107;

    /// A not-ready reason that says the session ended: kicked (any type) or logged out.
    pub fn ends_session(code: u32) -> bool {
        (NOT_READY_KICKED_DEVICE..=NOT_READY_KICKED_REST).contains(&code)
    }
}

/// Event names, exactly as the SDK spells them.
pub mod event {
    pub const SDK_READY: &str = "sdkStateReady";
    pub const SDK_NOT_READY: &str = "sdkStateNotReady";
    pub const KICKED_OUT: &str = "kickedOut";
    pub const MESSAGE_RECEIVED: &str = "messageReceived";
}

/// The not-ready reason an instance reports after a kick of this type.
pub fn not_ready_code(kick: KickType) -> u32 {
    match kick {
        KickType::MultipleDevice => code::NOT_READY_KICKED_DEVICE,
        KickType::MultipleAccount => code::NOT_READY_KICKED_ACCOUNT,
        KickType::UserSigExpired => code::NOT_READY_KICKED_EXPIRED,
        KickType::RestApiKick => code::NOT_READY_KICKED_REST,
    }
}

/// A request as a client sends it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op")]
pub enum Request {
    #[serde(rename = "login")]
    Login {
        seq: u64,
        #[serde(rename = "sdkAppID")]
        sdk_app_id: u64,
        #[serde(rename = "userID")]
        user_id: String,
        #[serde(rename = "userSig")]
        user_sig: String,
        platform: Platform,
    },
    #[serde(rename = "logout")]
    Logout { seq: u64 },
    #[serde(rename = "sendMessage")]
    SendMessage { seq: u64, to: String, text: String },
    #[serde(rename = "ping")]
    Ping { seq: u64 },
}

impl Request {
    pub fn seq(&self) -> u64 {
        match self {
            Request::Login { seq, .. }
            | Request::Logout { seq }
            | Request::SendMessage { seq, .. }
            | Request::Ping { seq } => *seq,
        }
    }

    /// Parse a request frame the way the server does: every failure is a 70402 with the best
    /// `seq` that could be read (0 when none).
    pub fn parse(text: &str) -> Result<Request, RequestError> {
        let value: Value = serde_json::from_str(text).map_err(|e| RequestError {
            seq: 0,
            message: format!("frame is not valid JSON: {e}"),
        })?;
        let Value::Object(obj) = &value else {
            return Err(RequestError {
                seq: 0,
                message: "frame is not a JSON object".into(),
            });
        };
        let seq = match obj.get("seq") {
            Some(v) => v.as_u64().ok_or_else(|| RequestError {
                seq: 0,
                message: "field `seq` must be an unsigned integer".into(),
            })?,
            None => {
                return Err(RequestError {
                    seq: 0,
                    message: "missing field `seq`".into(),
                })
            }
        };
        let err = |message: String| RequestError { seq, message };
        let op = match obj.get("op") {
            Some(Value::String(op)) => op.as_str(),
            Some(_) => return Err(err("field `op` must be a string".into())),
            None => return Err(err("missing field `op`".into())),
        };
        let string_field = |name: &str| -> Result<String, RequestError> {
            match obj.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(err(format!("field `{name}` must be a string"))),
                None => Err(err(format!("missing field `{name}` for op `{op}`"))),
            }
        };
        match op {
            "login" => {
                let sdk_app_id = match obj.get("sdkAppID") {
                    Some(v) => v.as_u64().ok_or_else(|| {
                        err("field `sdkAppID` must be an unsigned integer".into())
                    })?,
                    None => return Err(err("missing field `sdkAppID` for op `login`".into())),
                };
                let user_id = string_field("userID")?;
                check_user_id(&user_id).map_err(&err)?;
                let user_sig = string_field("userSig")?;
                let platform_name = string_field("platform")?;
                let platform = platform_name.parse::<Platform>().map_err(&err)?;
                Ok(Request::Login {
                    seq,
                    sdk_app_id,
                    user_id,
                    user_sig,
                    platform,
                })
            }
            "logout" => Ok(Request::Logout { seq }),
            "ping" => Ok(Request::Ping { seq }),
            "sendMessage" => {
                let to = string_field("to")?;
                check_user_id(&to).map_err(|m| err(format!("field `to`: {m}")))?;
                let text = string_field("text")?;
                if text.len() > MAX_TEXT_BYTES {
                    return Err(err(format!(
                        "field `text` is {} bytes, over the {MAX_TEXT_BYTES}-byte limit",
                        text.len()
                    )));
                }
                Ok(Request::SendMessage { seq, to, text })
            }
            other => Err(err(format!(
                "unknown op {:?} (expected login, logout, sendMessage or ping)",
                truncate(other, 64)
            ))),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("requests serialize")
    }
}

/// Validate a userID: 1..=128 bytes of UTF-8 with no control characters.
pub fn check_user_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("userID must not be empty".into());
    }
    if id.len() > MAX_USER_ID_BYTES {
        return Err(format!(
            "userID is {} bytes, over the {MAX_USER_ID_BYTES}-byte limit",
            id.len()
        ));
    }
    if id.chars().any(char::is_control) {
        return Err("userID must not contain control characters".into());
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A request the server could not accept.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    pub seq: u64,
    pub message: String,
}

/// Render a success response.
pub fn ok_response(seq: u64, data: Value) -> String {
    json!({"seq": seq, "code": 0, "data": data}).to_string()
}

/// Render a failure response.
pub fn error_response(seq: u64, code: u32, message: &str) -> String {
    json!({"seq": seq, "code": code, "message": message}).to_string()
}

/// Render an event frame; `data` is omitted when `None`.
pub fn event_frame(event: &str, data: Option<Value>) -> String {
    match data {
        Some(d) => json!({"event": event, "data": d}).to_string(),
        None => json!({"event": event}).to_string(),
    }
}

/// Any frame a server sends, as a client reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    Response {
        seq: u64,
        code: u32,
        data: Value,
        message: Option<String>,
    },
    Ready,
    NotReady,
    KickedOut(KickType),
    MessageReceived {
        from: String,
        text: String,
        message_id: String,
    },
}

impl ServerFrame {
    /// Parse a frame from the server; unknown or malformed frames are an error naming the problem.
    pub fn parse(text: &str) -> Result<ServerFrame, String> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("server frame is not JSON: {e}"))?;
        let obj = v
            .as_object()
            .ok_or_else(|| "server frame is not a JSON object".to_string())?;
        if let Some(ev) = obj.get("event") {
            let ev = ev
                .as_str()
                .ok_or_else(|| "`event` is not a string".to_string())?;
            let data = obj.get("data");
            return match ev {
                event::SDK_READY => Ok(ServerFrame::Ready),
                event::SDK_NOT_READY => Ok(ServerFrame::NotReady),
                event::KICKED_OUT => {
                    let t = data
                        .and_then(|d| d.get("type"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| "kickedOut without data.type".to_string())?;
                    Ok(ServerFrame::KickedOut(t.parse()?))
                }
                event::MESSAGE_RECEIVED => {
                    let field = |n: &str| {
                        data.and_then(|d| d.get(n))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .ok_or_else(|| format!("messageReceived without data.{n}"))
                    };
                    Ok(ServerFrame::MessageReceived {
                        from: field("from")?,
                        text: field("text")?,
                        message_id: field("messageID")?,
                    })
                }
                other => Err(format!("unknown event {:?}", truncate(other, 64))),
            };
        }
        let seq = obj
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| "response without an unsigned `seq`".to_string())?;
        let code = obj
            .get("code")
            .and_then(Value::as_u64)
            .ok_or_else(|| "response without an unsigned `code`".to_string())?;
        Ok(ServerFrame::Response {
            seq,
            code: u32::try_from(code).map_err(|_| "response code out of range".to_string())?,
            data: obj.get("data").cloned().unwrap_or(Value::Null),
            message: obj
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_op() {
        let r = Request::parse(
            r#"{"seq":1,"op":"login","sdkAppID":1400000000,"userID":"u","userSig":"x","platform":"Web"}"#,
        )
        .unwrap();
        assert!(matches!(
            r,
            Request::Login {
                seq: 1,
                platform: Platform::Web,
                ..
            }
        ));
        assert_eq!(
            Request::parse(r#"{"seq":2,"op":"logout"}"#).unwrap(),
            Request::Logout { seq: 2 }
        );
        assert_eq!(
            Request::parse(r#"{"seq":3,"op":"ping"}"#).unwrap(),
            Request::Ping { seq: 3 }
        );
        assert!(matches!(
            Request::parse(r#"{"seq":4,"op":"sendMessage","to":"b","text":"hi"}"#).unwrap(),
            Request::SendMessage { seq: 4, .. }
        ));
    }

    #[test]
    fn serialized_requests_parse_back() {
        let reqs = [
            Request::Login {
                seq: 9,
                sdk_app_id: 7,
                user_id: "ü".into(),
                user_sig: "s".into(),
                platform: Platform::Android,
            },
            Request::Logout { seq: 1 },
            Request::Ping { seq: 2 },
            Request::SendMessage {
                seq: 3,
                to: "x".into(),
                text: "t".into(),
            },
        ];
        for r in reqs {
            assert_eq!(Request::parse(&r.to_json()).unwrap(), r);
        }
    }

    #[test]
    fn bad_requests_name_the_problem_and_keep_seq() {
        let e = Request::parse("not json").unwrap_err();
        assert_eq!(e.seq, 0);
        let e = Request::parse("[1,2]").unwrap_err();
        assert!(e.message.contains("not a JSON object"));
        let e = Request::parse(r#"{"op":"ping"}"#).unwrap_err();
        assert!(e.message.contains("seq"));
        let e = Request::parse(r#"{"seq":-1,"op":"ping"}"#).unwrap_err();
        assert_eq!(e.seq, 0);
        let e = Request::parse(r#"{"seq":5,"op":"fly"}"#).unwrap_err();
        assert_eq!(e.seq, 5);
        assert!(e.message.contains("fly"));
        let e = Request::parse(r#"{"seq":6,"op":"login","sdkAppID":1,"userID":"u","userSig":"s"}"#)
            .unwrap_err();
        assert!(e.message.contains("platform"));
        let e = Request::parse(
            r#"{"seq":7,"op":"login","sdkAppID":"1","userID":"u","userSig":"s","platform":"Web"}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("sdkAppID"));
        let e = Request::parse(
            r#"{"seq":8,"op":"login","sdkAppID":1,"userID":"u","userSig":"s","platform":"Palm"}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("Palm"));
        let long = "x".repeat(MAX_USER_ID_BYTES + 1);
        let e = Request::parse(&format!(
            r#"{{"seq":9,"op":"login","sdkAppID":1,"userID":"{long}","userSig":"s","platform":"Web"}}"#
        ))
        .unwrap_err();
        assert!(e.message.contains("userID"));
    }

    #[test]
    fn server_frames_parse() {
        assert_eq!(
            ServerFrame::parse(r#"{"event":"kickedOut","data":{"type":"multipleAccount"}}"#),
            Ok(ServerFrame::KickedOut(KickType::MultipleAccount))
        );
        assert_eq!(
            ServerFrame::parse(r#"{"event":"sdkStateReady"}"#),
            Ok(ServerFrame::Ready)
        );
        assert!(matches!(
            ServerFrame::parse(r#"{"seq":3,"code":2024,"message":"no"}"#),
            Ok(ServerFrame::Response {
                seq: 3,
                code: 2024,
                ..
            })
        ));
        assert!(ServerFrame::parse(r#"{"event":"kickedOut","data":{"type":"bogus"}}"#).is_err());
    }
}
