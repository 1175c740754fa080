//! The reference server's second dialect, `webim` (docs/protocol.md, "The webim dialect"): the
//! same semantics as protocol v1 in the Web SDK's vocabulary, differing in every dimension a
//! protocol profile covers — an envelope around every frame (`{"v":2,"type":…}`), string
//! request ids (`reqId`) instead of `seq`, command names (`LOGIN`, `LOGOUT`, `SEND_MSG`,
//! `HELLO`), other field names, lower-case platforms, string error codes (`ERR_…`), event names
//! `SDK_READY` / `SDK_NOT_READY` / `KICKED_OUT` / `MESSAGE_RECEIVED`, kick reasons
//! `KICKED_OUT_MULT_ACCOUNT` …, a welcome notice to ignore and a heartbeat the client must
//! answer. It exists to prove profiles (`profiles/webim.toml`), not as a goal.
//!
//! Pure translation: one [`Webim`] per connection turns the dialect's requests into v1
//! [`Request`]s (with internal sequence numbers) and the session's v1 frames back into the
//! dialect; the session, the policy and the fault switches are the same as for v1.

use serde_json::{json, Map, Value};
use std::collections::HashMap;

use super::{check_user_id, code, Event, Request, ServerFrame, MAX_TEXT_BYTES};
use crate::policy::{KickType, Platform};

/// The subprotocol a webim client must offer.
pub const SUBPROTOCOL: &str = "webim.v2";
/// The header a webim client must send with its upgrade (any non-empty value).
pub const CLIENT_HEADER: &str = "x-client";
/// The admin kick's path.
pub const ADMIN_KICK_PATH: &str = "/admin/v2/kick";

/// Every v1 code and its name in the dialect.
const CODES: [(u32, &str); 18] = [
    (code::NOT_LOGGED_IN, "ERR_NOT_LOGGED_IN"),
    (code::LOGIN_IN_PROGRESS, "ERR_LOGIN_IN_PROGRESS"),
    (code::NOT_READY_LOGGING_IN, "ERR_SDK_NOT_READY_LOGGING_IN"),
    (
        code::NOT_READY_LOGIN_FAILED,
        "ERR_SDK_NOT_READY_LOGIN_FAILED",
    ),
    (code::NOT_READY_KICKED_DEVICE, "ERR_KICKED_MULT_DEVICE"),
    (code::NOT_READY_KICKED_ACCOUNT, "ERR_KICKED_MULT_ACCOUNT"),
    (code::NOT_READY_KICKED_EXPIRED, "ERR_KICKED_USERSIG_EXPIRED"),
    (code::NOT_READY_LOGGED_OUT, "ERR_LOGGED_OUT"),
    (code::NOT_READY_KICKED_REST, "ERR_KICKED_REST_API"),
    (code::SIG_EXPIRED, "ERR_USERSIG_EXPIRED"),
    (code::SIG_DECODE, "ERR_USERSIG_DECODE"),
    (code::SIG_BAD_SIGNATURE, "ERR_USERSIG_SIGNATURE"),
    (code::SIG_USER_MISMATCH, "ERR_USERSIG_USER_MISMATCH"),
    (code::SIG_APP_MISMATCH, "ERR_USERSIG_APP_MISMATCH"),
    (code::SIG_INVALIDATED, "ERR_USERSIG_INVALIDATED"),
    (code::INVALID_PARAMS, "ERR_INVALID_PARAMS"),
    (code::ADMIN_REQUIRED, "ERR_ADMIN_REQUIRED"),
    (code::ACCOUNT_NOT_FOUND, "ERR_ACCOUNT_NOT_FOUND"),
];

/// A v1 code's name in the dialect.
pub fn code_name(c: u32) -> &'static str {
    CODES
        .iter()
        .find(|(n, _)| *n == c)
        .map_or("ERR_UNKNOWN", |(_, s)| s)
}

/// A platform's name in the dialect.
pub fn platform_name(p: Platform) -> String {
    p.name().to_ascii_lowercase()
}

fn kick_reason(k: KickType) -> &'static str {
    match k {
        KickType::MultipleAccount => "KICKED_OUT_MULT_ACCOUNT",
        KickType::MultipleDevice => "KICKED_OUT_MULT_DEVICE",
        KickType::UserSigExpired => "KICKED_OUT_USERSIG_EXPIRED",
        KickType::RestApiKick => "KICKED_OUT_REST_API",
    }
}

/// What a client frame is.
#[derive(Debug, PartialEq)]
pub enum In {
    /// A request, under an internal sequence number whose response will carry its `reqId`.
    Request(Request),
    /// A malformed request: the failure response to send.
    Refused(String),
    /// The answer to heartbeat `n`.
    HeartbeatAck(u64),
}

/// One connection's dialect state: `reqId`s of requests in flight, and heartbeats.
#[derive(Debug, Default)]
pub struct Webim {
    next_seq: u64,
    ids: HashMap<u64, String>,
    heartbeats: u64,
}

fn fail_rsp(req_id: &str, c: u32, info: &str) -> String {
    json!({"v":2,"type":"rsp","reqId":req_id,"result":{"status":"FAIL","errorCode":code_name(c),"errorInfo":info}})
        .to_string()
}

impl Webim {
    /// The notice a connection starts with.
    pub fn welcome() -> String {
        json!({"v":2,"type":"notice","text":"welcome to the loginstorm reference server (webim dialect)"}).to_string()
    }

    /// The next heartbeat to send, and its number.
    pub fn heartbeat(&mut self) -> (u64, String) {
        self.heartbeats += 1;
        let n = self.heartbeats;
        (n, json!({"v":2,"type":"hb","n":n}).to_string())
    }

    /// Read one client frame.
    pub fn incoming(&mut self, text: &str) -> In {
        let v: Value = match serde_json::from_str(text) {
            Ok(Value::Object(m)) => Value::Object(m),
            Ok(_) => {
                return In::Refused(fail_rsp(
                    "",
                    code::INVALID_PARAMS,
                    "frame is not a JSON object",
                ))
            }
            Err(e) => {
                return In::Refused(fail_rsp(
                    "",
                    code::INVALID_PARAMS,
                    &format!("frame is not valid JSON: {e}"),
                ))
            }
        };
        let req_id = v
            .get("reqId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let refuse = |m: &str| In::Refused(fail_rsp(&req_id, code::INVALID_PARAMS, m));
        if v.get("v").and_then(Value::as_u64) != Some(2) {
            return refuse("frame is not a v2 envelope: \"v\" must be 2");
        }
        match v.get("type").and_then(Value::as_str) {
            Some("hb_ack") => {
                return match v.get("n").and_then(Value::as_u64) {
                    Some(n) => In::HeartbeatAck(n),
                    None => refuse("hb_ack needs \"n\", the heartbeat's number"),
                }
            }
            Some("req") => {}
            _ => return refuse("\"type\" must be \"req\" or \"hb_ack\""),
        }
        if req_id.is_empty() {
            return refuse("a request needs a non-empty string \"reqId\"");
        }
        let empty = Map::new();
        let body = v.get("body").and_then(Value::as_object).unwrap_or(&empty);
        let field = |name: &str| -> Result<String, In> {
            match body.get(name) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(refuse(&format!("body.{name} must be a string"))),
                None => Err(refuse(&format!("missing body.{name}"))),
            }
        };
        self.next_seq += 1;
        let seq = self.next_seq;
        let req = match v.get("cmd").and_then(Value::as_str) {
            Some("LOGIN") => {
                let parsed = (|| {
                    let app = field("SDKAppID")?;
                    let sdk_app_id = app
                        .parse::<u64>()
                        .map_err(|_| refuse("body.SDKAppID must be a string of digits"))?;
                    let user_id = field("identifier")?;
                    check_user_id(&user_id).map_err(|e| refuse(&e.to_string()))?;
                    let user_sig = field("userSig")?;
                    let terminal = field("terminal")?;
                    let platform = Platform::ALL
                        .into_iter()
                        .find(|p| platform_name(*p) == terminal)
                        .ok_or_else(|| refuse(&format!("unknown terminal {terminal:?}: one of web, iphone, ipad, android, windows, mac, linux")))?;
                    Ok(Request::Login {
                        seq,
                        sdk_app_id,
                        user_id,
                        user_sig,
                        platform,
                    })
                })();
                match parsed {
                    Ok(r) => r,
                    Err(e) => return e,
                }
            }
            Some("LOGOUT") => Request::Logout { seq },
            Some("HELLO") => Request::Ping { seq },
            Some("SEND_MSG") => {
                let parsed = (|| {
                    let to = field("toAccount")?;
                    check_user_id(&to).map_err(|e| refuse(&format!("body.toAccount: {e}")))?;
                    let text = field("msgText")?;
                    if text.len() > MAX_TEXT_BYTES {
                        return Err(refuse(&format!(
                            "body.msgText is over {MAX_TEXT_BYTES} bytes"
                        )));
                    }
                    Ok(Request::SendMessage { seq, to, text })
                })();
                match parsed {
                    Ok(r) => r,
                    Err(e) => return e,
                }
            }
            Some(other) => {
                return refuse(&format!(
                    "unknown cmd {:?}: LOGIN, LOGOUT, SEND_MSG or HELLO",
                    super::truncate(other, 64)
                ))
            }
            None => return refuse("missing \"cmd\""),
        };
        self.ids.insert(seq, req_id);
        In::Request(req)
    }

    /// A v1 frame of the session, in the dialect.
    pub fn outgoing(&mut self, v1: &str) -> String {
        match ServerFrame::parse(v1) {
            Ok(ServerFrame::Response(r)) => {
                let req_id = self.ids.remove(&r.seq).unwrap_or_default();
                if r.code == code::OK {
                    let mut data = Map::new();
                    if let Some(d) = &r.data {
                        if let Some(x) = d.repeat_login {
                            data.insert("isRepeat".into(), x.into());
                        }
                        if let Some(x) = &d.instance_id {
                            data.insert("instanceId".into(), x.clone().into());
                        }
                        if let Some(x) = &d.message_id {
                            data.insert("msgId".into(), x.clone().into());
                        }
                        if let Some(x) = &d.error_info {
                            data.insert("notice".into(), x.clone().into());
                        }
                    }
                    json!({"v":2,"type":"rsp","reqId":req_id,"result":{"status":"OK","data":data}}).to_string()
                } else {
                    fail_rsp(&req_id, r.code, r.message.as_deref().unwrap_or(""))
                }
            }
            Ok(ServerFrame::Event(e)) => match e {
                Event::Ready => json!({"v":2,"type":"evt","name":"SDK_READY"}),
                Event::NotReady => json!({"v":2,"type":"evt","name":"SDK_NOT_READY"}),
                Event::KickedOut(k) => json!({"v":2,"type":"evt","name":"KICKED_OUT","data":{"reason":kick_reason(k.kind)}}),
                Event::MessageReceived(d) => json!({"v":2,"type":"evt","name":"MESSAGE_RECEIVED","data":{"fromAccount":d.from,"msgText":d.text,"msgId":d.message_id}}),
            }
            .to_string(),
            // The session only makes valid frames; pass anything else on rather than lose it.
            Err(_) => v1.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ReplyData;

    #[test]
    fn requests_and_answers_translate_both_ways() {
        let mut w = Webim::default();
        let login = r#"{"v":2,"type":"req","reqId":"a-7","cmd":"LOGIN","body":{"SDKAppID":"1400000000","identifier":"u1","userSig":"s","terminal":"iphone"}}"#;
        let In::Request(Request::Login {
            seq,
            platform,
            sdk_app_id,
            ..
        }) = w.incoming(login)
        else {
            panic!("not a login")
        };
        assert_eq!((platform, sdk_app_id), (Platform::IPhone, 1_400_000_000));
        let ok = w.outgoing(&ServerFrame::ok(
            seq,
            ReplyData {
                repeat_login: Some(false),
                instance_id: Some("i1".into()),
                ..Default::default()
            },
        ));
        assert_eq!(
            ok,
            r#"{"reqId":"a-7","result":{"data":{"instanceId":"i1","isRepeat":false},"status":"OK"},"type":"rsp","v":2}"#
        );
        let In::Request(Request::Logout { seq }) =
            w.incoming(r#"{"v":2,"type":"req","reqId":"b","cmd":"LOGOUT"}"#)
        else {
            panic!()
        };
        let v: Value = serde_json::from_str(&w.outgoing(&ServerFrame::error(
            seq,
            code::NOT_LOGGED_IN,
            "not logged in",
        )))
        .unwrap();
        assert_eq!(v["reqId"], "b");
        assert_eq!(v["result"]["errorCode"], "ERR_NOT_LOGGED_IN");
        let v: Value = serde_json::from_str(
            &w.outgoing(&ServerFrame::kicked(KickType::RestApiKick).to_json()),
        )
        .unwrap();
        assert_eq!(v["data"]["reason"], "KICKED_OUT_REST_API");
        assert_eq!(
            w.incoming(r#"{"v":2,"type":"hb_ack","n":3}"#),
            In::HeartbeatAck(3)
        );
        let (n, hb) = w.heartbeat();
        assert_eq!((n, hb.as_str()), (1, r#"{"n":1,"type":"hb","v":2}"#));
    }

    #[test]
    fn malformed_requests_are_refused_with_their_req_id() {
        let mut w = Webim::default();
        for (frame, want) in [
            (
                r#"{"v":2,"type":"req","reqId":"x","cmd":"LOGIN","body":{"SDKAppID":1400000000}}"#,
                "SDKAppID",
            ),
            (
                r#"{"v":2,"type":"req","reqId":"x","cmd":"LOGIN","body":{"SDKAppID":"1","identifier":"u","userSig":"s","terminal":"Web"}}"#,
                "terminal",
            ),
            (
                r#"{"v":1,"type":"req","reqId":"x","cmd":"LOGOUT"}"#,
                "v2 envelope",
            ),
            (r#"{"v":2,"type":"req","reqId":"x","cmd":"DANCE"}"#, "DANCE"),
            (r#"{"seq":1,"op":"login"}"#, "v2 envelope"),
        ] {
            let In::Refused(text) = w.incoming(frame) else {
                panic!("{frame}")
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["result"]["errorCode"], "ERR_INVALID_PARAMS", "{frame}");
            assert!(
                v["result"]["errorInfo"].as_str().unwrap().contains(want),
                "{frame}: {text}"
            );
        }
        let In::Refused(text) = w.incoming("[1]") else {
            panic!()
        };
        assert!(text.contains("\"reqId\":\"\""), "{text}");
    }
}
