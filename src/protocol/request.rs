//! Requests (client → server): `login`, `logout`, `sendMessage`, `ping`, each with `seq`.
//!
//! Clients serialize them with serde; the server parses them by hand so that every malformed
//! frame gets a 70402 carrying the best `seq` it could read.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{check_user_id, truncate, MAX_TEXT_BYTES};
use crate::policy::Platform;

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
                check_user_id(&user_id).map_err(|e| err(e.to_string()))?;
                let user_sig = string_field("userSig")?;
                let platform_name = string_field("platform")?;
                let platform = platform_name
                    .parse::<Platform>()
                    .map_err(|e| err(e.to_string()))?;
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

/// A request the server could not accept.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    pub seq: u64,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MAX_USER_ID_BYTES;

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
}
