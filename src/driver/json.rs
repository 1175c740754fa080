//! The JSON protocol profiles as a driver: one text frame per request, one answer per login,
//! every received frame read through the profile's rules (docs/backends.md). A binary frame of
//! UTF-8 text is read like a text frame; any other binary frame is unmatched.

use super::{Incoming, Meaning, Outgoing};
use crate::profile::template::Values;
use crate::profile::{Decoded, Profile};
use crate::protocol::Request;

/// Keeps no state: a profile's exchanges are one frame each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonDriver;

impl JsonDriver {
    pub fn request(&mut self, p: &Profile, req: &Request, who: &Values) -> Outgoing {
        Outgoing::Text(p.encode(req, who))
    }

    pub fn incoming(&mut self, p: &Profile, frame: Incoming, who: &Values) -> Meaning {
        let text = match frame {
            Incoming::Text(t) => t,
            Incoming::Binary(b) => match std::str::from_utf8(b) {
                Ok(t) => t,
                Err(_) => return Meaning::Unmatched("a binary frame that is not UTF-8 text"),
            },
        };
        match p.decode(text, who) {
            Decoded::Response { seq, code, repeat } => Meaning::Response { seq, code, repeat },
            Decoded::Ready => Meaning::Ready,
            Decoded::NotReady => Meaning::NotReady,
            Decoded::Kicked(k) => Meaning::Kicked(k),
            Decoded::MessageReceived => Meaning::MessageReceived,
            Decoded::Answer(reply) => Meaning::Reply(Outgoing::Text(reply)),
            Decoded::Ignored => Meaning::Ignored,
            Decoded::Unmatched(why) => Meaning::Unmatched(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Driver, Incoming, Meaning, Outgoing, Wire};
    use crate::policy::{KickType, Platform};
    use crate::profile::template::Values;
    use crate::profile::Profile;
    use crate::protocol::Request;
    use std::path::Path;

    fn wire(name: &str) -> Wire {
        Wire::Json(Profile::load(name, Path::new(".")).unwrap())
    }

    fn who() -> Values<'static> {
        Values {
            user_id: "u1",
            instance: "u1#0",
            ..Default::default()
        }
    }

    #[test]
    fn the_reference_profile_through_the_driver() {
        let w = wire("loginstorm-v1");
        let mut d = w.driver();
        let login = Request::Login {
            seq: 7,
            sdk_app_id: 1400000000,
            user_id: "u1".into(),
            user_sig: "SIG".into(),
            platform: Platform::Web,
        };
        let Outgoing::Text(t) = d.request(&w, &login, &who()) else {
            panic!("a JSON profile sends text");
        };
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        assert_eq!(
            (v["op"].as_str(), v["seq"].as_u64()),
            (Some("login"), Some(7))
        );
        let answer = r#"{"seq":7,"code":0,"data":{"repeatLogin":false}}"#;
        assert_eq!(
            d.incoming(&w, Incoming::Text(answer), &who()),
            Meaning::Response {
                seq: Some(7),
                code: 0,
                repeat: false
            }
        );
        // Binary frames of UTF-8 text read as text; others are unmatched, never a panic.
        let kick = r#"{"event":"kickedOut","data":{"type":"multipleDevice"}}"#;
        assert_eq!(
            d.incoming(&w, Incoming::Binary(kick.as_bytes()), &who()),
            Meaning::Kicked(KickType::MultipleDevice)
        );
        assert!(matches!(
            d.incoming(&w, Incoming::Binary(&[0xff, 0xfe]), &who()),
            Meaning::Unmatched(_)
        ));
        assert!(matches!(
            d.incoming(&w, Incoming::Text("not json"), &who()),
            Meaning::Unmatched(_)
        ));
    }

    #[test]
    fn a_heartbeat_is_answered_through_a_reply() {
        let w = wire("webim");
        let mut d: Driver = w.driver();
        let beat = r#"{"v":2,"type":"hb","n":41}"#;
        assert_eq!(
            d.incoming(&w, Incoming::Text(beat), &who()),
            Meaning::Reply(Outgoing::Text(r#"{"v":2,"type":"hb_ack","n":41}"#.into()))
        );
    }
}
