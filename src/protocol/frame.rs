//! Frames the server sends: responses (`seq`, `code`, and `data` or `message`) and events
//! (`event` and, for some, `data`; no `seq`). The server serializes these types and clients
//! deserialize them, so both sides agree by construction.

use serde::{Deserialize, Serialize};

use super::truncate;
use crate::policy::KickType;

/// The `data` of a successful response. Each request fills the fields it has:
/// `login` → `repeatLogin` and `instanceID` (or `errorInfo` on a repeat login),
/// `sendMessage` → `messageID`, `logout` and `ping` → `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyData {
    #[serde(
        rename = "repeatLogin",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub repeat_login: Option<bool>,
    #[serde(
        rename = "instanceID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_id: Option<String>,
    #[serde(rename = "errorInfo", default, skip_serializing_if = "Option::is_none")]
    pub error_info: Option<String>,
    #[serde(rename = "messageID", default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// A response to the request with the same `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub seq: u64,
    pub code: u32,
    /// Present on success (`{}` at least).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<ReplyData>,
    /// Present on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Response {
    pub fn ok(seq: u64, data: ReplyData) -> Response {
        Response {
            seq,
            code: 0,
            data: Some(data),
            message: None,
        }
    }

    pub fn error(seq: u64, code: u32, message: &str) -> Response {
        Response {
            seq,
            code,
            data: None,
            message: Some(message.to_string()),
        }
    }

    /// `data.repeatLogin` is true: the login found the session already there.
    pub fn repeat_login(&self) -> bool {
        self.data.as_ref().and_then(|d| d.repeat_login) == Some(true)
    }
}

/// The `data` of a `kickedOut` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kicked {
    #[serde(rename = "type")]
    pub kind: KickType,
}

/// The `data` of a `messageReceived` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    pub from: String,
    pub text: String,
    #[serde(rename = "messageID")]
    pub message_id: String,
}

/// An event, exactly as the SDK names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data")]
pub enum Event {
    #[serde(rename = "sdkStateReady")]
    Ready,
    #[serde(rename = "sdkStateNotReady")]
    NotReady,
    #[serde(rename = "kickedOut")]
    KickedOut(Kicked),
    #[serde(rename = "messageReceived")]
    MessageReceived(Delivered),
}

/// A frame from the server that the protocol does not allow.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("server frame is not a JSON object: {0}")]
    NotAnObject(#[source] serde_json::Error),
    #[error("event {name:?}: {source}")]
    Event {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("response: {0}")]
    Response(#[source] serde_json::Error),
}

/// Any frame a server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ServerFrame {
    Response(Response),
    Event(Event),
}

impl ServerFrame {
    /// A success response, as sent.
    pub fn ok(seq: u64, data: ReplyData) -> String {
        ServerFrame::Response(Response::ok(seq, data)).to_json()
    }

    /// A failure response, as sent.
    pub fn error(seq: u64, code: u32, message: &str) -> String {
        ServerFrame::Response(Response::error(seq, code, message)).to_json()
    }

    /// An event, as sent.
    pub fn event(e: Event) -> String {
        ServerFrame::Event(e).to_json()
    }

    pub fn kicked(kind: KickType) -> ServerFrame {
        ServerFrame::Event(Event::KickedOut(Kicked { kind }))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server frames serialize")
    }

    /// Parse a frame from the server; a malformed or unknown one is an error naming the problem.
    pub fn parse(text: &str) -> Result<ServerFrame, FrameError> {
        // Most frames are responses, which every server here starts with `seq`: one pass.
        if text.starts_with("{\"seq\"") {
            if let Ok(r) = serde_json::from_str::<Response>(text) {
                return Ok(ServerFrame::Response(r));
            }
        }
        // Which shape it is decides which type reads it, so errors name the real problem.
        #[derive(Deserialize)]
        struct Probe<'a> {
            #[serde(borrow, default)]
            event: Option<std::borrow::Cow<'a, str>>,
        }
        let probe: Probe = serde_json::from_str(text).map_err(FrameError::NotAnObject)?;
        match probe.event {
            Some(name) => serde_json::from_str::<Event>(text)
                .map(ServerFrame::Event)
                .map_err(|source| FrameError::Event {
                    name: truncate(&name, 64).to_string(),
                    source,
                }),
            None => serde_json::from_str::<Response>(text)
                .map(ServerFrame::Response)
                .map_err(FrameError::Response),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::event;

    #[test]
    fn frames_serialize_to_the_documented_shapes() {
        let cases = [
            (
                ServerFrame::Response(Response::ok(
                    1,
                    ReplyData {
                        repeat_login: Some(false),
                        instance_id: Some("a1".into()),
                        ..ReplyData::default()
                    },
                )),
                r#"{"seq":1,"code":0,"data":{"repeatLogin":false,"instanceID":"a1"}}"#,
            ),
            (
                ServerFrame::Response(Response::ok(2, ReplyData::default())),
                r#"{"seq":2,"code":0,"data":{}}"#,
            ),
            (
                ServerFrame::Response(Response::error(3, 2024, "not logged in")),
                r#"{"seq":3,"code":2024,"message":"not logged in"}"#,
            ),
            (
                ServerFrame::Event(Event::Ready),
                &format!(r#"{{"event":"{}"}}"#, event::SDK_READY),
            ),
            (
                ServerFrame::Event(Event::NotReady),
                &format!(r#"{{"event":"{}"}}"#, event::SDK_NOT_READY),
            ),
            (
                ServerFrame::kicked(KickType::MultipleAccount),
                r#"{"event":"kickedOut","data":{"type":"multipleAccount"}}"#,
            ),
            (
                ServerFrame::Event(Event::MessageReceived(Delivered {
                    from: "a".into(),
                    text: "hi".into(),
                    message_id: "m1".into(),
                })),
                r#"{"event":"messageReceived","data":{"from":"a","text":"hi","messageID":"m1"}}"#,
            ),
        ];
        for (frame, json) in cases {
            assert_eq!(frame.to_json(), json);
            assert_eq!(ServerFrame::parse(json).unwrap(), frame);
        }
    }

    #[test]
    fn malformed_frames_name_the_problem() {
        let e = ServerFrame::parse(r#"{"event":"kickedOut","data":{"type":"bogus"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("kickedOut") && e.contains("bogus"), "{e}");
        let e = ServerFrame::parse(r#"{"event":"sdkStateSleepy"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sdkStateSleepy"), "{e}");
        let e = ServerFrame::parse(r#"{"event":"kickedOut"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("kickedOut"), "{e}");
        let e = ServerFrame::parse(r#"{"code":0,"data":{}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("seq"), "{e}");
        assert!(ServerFrame::parse("[1]").is_err());
        assert!(ServerFrame::parse(r#"{"seq":1,"code":-4}"#).is_err());
        // A repeat login's reply reads as such.
        let f =
            ServerFrame::parse(r#"{"seq":1,"code":0,"data":{"repeatLogin":true,"errorInfo":"x"}}"#)
                .unwrap();
        assert!(matches!(f, ServerFrame::Response(r) if r.repeat_login()));
    }
}
