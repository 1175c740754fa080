use super::*;
use crate::protocol::{Delivered, Event, ReplyData, Response, ServerFrame};

fn builtin(name: &str) -> Arc<Profile> {
    Profile::load(name, Path::new(".")).unwrap()
}

fn who() -> Values<'static> {
    Values {
        user_id: "u1",
        instance: "u1#0",
        ..Default::default()
    }
}

#[test]
fn the_v1_profile_speaks_protocol_v1_exactly() {
    let p = builtin("loginstorm-v1");
    let reqs = [
        Request::Login {
            seq: 3,
            sdk_app_id: 1_400_000_000,
            user_id: "u1".into(),
            user_sig: "eJx\"sig".into(),
            platform: Platform::IPhone,
        },
        Request::Logout { seq: 4 },
        Request::SendMessage {
            seq: 5,
            to: "u2".into(),
            text: "hi\n".into(),
        },
        Request::Ping { seq: 6 },
    ];
    for r in reqs {
        let ours: Value = serde_json::from_str(&p.encode(&r, &who())).unwrap();
        let v1: Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(ours, v1);
        // And the server reads it back as the same request.
        assert_eq!(Request::parse(&p.encode(&r, &who())).unwrap(), r);
    }
    let frames = [
        (
            ServerFrame::ok(
                3,
                ReplyData {
                    repeat_login: Some(false),
                    instance_id: Some("i".into()),
                    ..Default::default()
                },
            ),
            Decoded::Response {
                seq: Some(3),
                code: 0,
                repeat: false,
            },
        ),
        (
            ServerFrame::ok(
                3,
                ReplyData {
                    repeat_login: Some(true),
                    ..Default::default()
                },
            ),
            Decoded::Response {
                seq: Some(3),
                code: 0,
                repeat: true,
            },
        ),
        (
            ServerFrame::error(9, 3003, "x"),
            Decoded::Response {
                seq: Some(9),
                code: 3003,
                repeat: false,
            },
        ),
        (
            ServerFrame::error(9, 70052, "x"),
            Decoded::Response {
                seq: Some(9),
                code: 70052,
                repeat: false,
            },
        ),
        (
            ServerFrame::error(9, 70107, "x"),
            Decoded::Response {
                seq: Some(9),
                code: 70107,
                repeat: false,
            },
        ),
        (ServerFrame::event(Event::Ready), Decoded::Ready),
        (ServerFrame::event(Event::NotReady), Decoded::NotReady),
        (
            ServerFrame::kicked(KickType::RestApiKick).to_json(),
            Decoded::Kicked(KickType::RestApiKick),
        ),
        (
            ServerFrame::kicked(KickType::MultipleAccount).to_json(),
            Decoded::Kicked(KickType::MultipleAccount),
        ),
        (
            ServerFrame::event(Event::MessageReceived(Delivered {
                from: "a".into(),
                text: "b".into(),
                message_id: "m".into(),
            })),
            Decoded::MessageReceived,
        ),
    ];
    for (text, want) in frames {
        assert_eq!(p.decode(&text, &who()), want, "{text}");
    }
    for bad in [
        r#"{"event":"sdkStateSleepy"}"#,
        r#"{"event":"kickedOut","data":{"type":"bogus"}}"#,
        "not json",
        r#"{"seq":"x","code":0}"#,
    ] {
        assert!(
            matches!(p.decode(bad, &who()), Decoded::Unmatched(_)),
            "{bad}"
        );
    }
    let _ = Response::ok(1, ReplyData::default());
    p.check_needs(Needs {
        checks: true,
        admin_kicks: true,
        expiry: true,
    })
    .unwrap();
}

#[test]
fn the_webim_profile_reads_its_dialect() {
    let p = builtin("webim");
    let login = p.encode(
        &Request::Login {
            seq: 12,
            sdk_app_id: 7,
            user_id: "u1".into(),
            user_sig: "s".into(),
            platform: Platform::Web,
        },
        &who(),
    );
    let v: Value = serde_json::from_str(&login).unwrap();
    assert_eq!(v["reqId"], "12");
    assert_eq!(v["body"]["SDKAppID"], "7");
    assert_eq!(v["body"]["terminal"], "web");
    let cases = [
        (
            r#"{"v":2,"type":"rsp","reqId":"12","result":{"status":"OK","data":{"isRepeat":false}}}"#,
            Decoded::Response {
                seq: Some(12),
                code: 0,
                repeat: false,
            },
        ),
        (
            r#"{"v":2,"type":"rsp","reqId":"12","result":{"status":"OK","data":{"isRepeat":true}}}"#,
            Decoded::Response {
                seq: Some(12),
                code: 0,
                repeat: true,
            },
        ),
        (
            r#"{"v":2,"type":"rsp","reqId":"13","result":{"status":"FAIL","errorCode":"ERR_KICKED_MULT_ACCOUNT"}}"#,
            Decoded::Response {
                seq: Some(13),
                code: 3003,
                repeat: false,
            },
        ),
        (
            r#"{"v":2,"type":"rsp","reqId":"13","result":{"status":"FAIL","errorCode":"ERR_SOMETHING_NEW"}}"#,
            Decoded::Response {
                seq: Some(13),
                code: FAILURE,
                repeat: false,
            },
        ),
        (r#"{"v":2,"type":"evt","name":"SDK_READY"}"#, Decoded::Ready),
        (
            r#"{"v":2,"type":"evt","name":"KICKED_OUT","data":{"reason":"KICKED_OUT_USERSIG_EXPIRED"}}"#,
            Decoded::Kicked(KickType::UserSigExpired),
        ),
        (
            r#"{"v":2,"type":"hb","n":41}"#,
            Decoded::Answer(r#"{"v":2,"type":"hb_ack","n":41}"#.into()),
        ),
        (
            r#"{"v":2,"type":"notice","text":"welcome"}"#,
            Decoded::Ignored,
        ),
        (
            r#"{"v":2,"type":"evt","name":"SDK_SLEEPY"}"#,
            Decoded::Unmatched("no rule of the profile matches it"),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(p.decode(text, &who()), want, "{text}");
    }
    p.check_needs(Needs {
        checks: true,
        admin_kicks: true,
        expiry: true,
    })
    .unwrap();
}

fn broken(edit: impl Fn(String) -> String) -> String {
    let text = edit(BUILTIN[0].1.to_string());
    Profile::parse(&text, "test.toml").unwrap_err().to_string()
}

#[test]
fn a_malformed_profile_names_what_is_wrong() {
    let e = broken(|t| t.replace("[connection]", "[connection]\nretries = 3"));
    assert!(e.contains("test.toml") && e.contains("retries"), "{e}");
    let e = broken(|t| t.replace(r#"id = "/seq""#, r#"id = "seq""#));
    assert!(
        e.contains("response.id") && e.contains("JSON Pointer"),
        "{e}"
    );
    let e = broken(|t| t.replace(r#""userSig":"{userSig}""#, r#""userSig":"{usersig}""#));
    assert!(
        e.contains("requests.login") && e.contains("{usersig}"),
        "{e}"
    );
    let e = broken(|t| {
        t.replace(
            r#"logout = '{"seq":{seq},"op":"logout"}'"#,
            r#"logout = '{"seq":{seq},"op":"logout"'"#,
        )
    });
    assert!(e.contains("requests.logout") && e.contains("JSON"), "{e}");
    let e = broken(|t| t.replace(r#"meaning = "ready""#, r#"meaning = "not_ready""#));
    assert!(e.contains("ready"), "{e}");
    let e = broken(|t| {
        t.replace(
            r#"3003 = "kicked_multiple_account""#,
            r#"3003 = "kicked_a_lot""#,
        )
    });
    assert!(e.contains("kicked_a_lot"), "{e}");
    let e = broken(|t| {
        t.replace(
            r#"REST_API_Kick = "REST_API_Kick""#,
            r#"REST_API_Kick = "restKick""#,
        )
    });
    assert!(e.contains("restKick"), "{e}");
    let e = broken(|t| t.replace(r#"0 = "ok""#, r#"0 = "failure""#));
    assert!(e.contains("\"ok\""), "{e}");
    let e = broken(|t| t.replace(r#"subprotocols = []"#, r#"subprotocols = ["a b"]"#));
    assert!(e.contains("subprotocol"), "{e}");
    let e = broken(|t| t.replace(r#"headers = {}"#, "headers = { \"X\" = \"a\\nb\" }"));
    assert!(e.contains("CR, LF"), "{e}");
    // DEL and a C1 control are control characters too.
    for c in ["\\u007f", "\\u0085"] {
        let e = broken(|t| {
            t.replace(
                r#"headers = {}"#,
                &format!("headers = {{ \"X\" = \"a{c}b\" }}"),
            )
        });
        assert!(e.contains("control character"), "{c}: {e}");
    }
    // A catch-all match is refused like an empty list.
    let e = broken(|t| t + "\n[[ignore]]\nmatch = { path = \"\", exists = true }\n");
    assert!(e.contains("matches every frame"), "{e}");
    // So many rules that every frame would crawl through them.
    let e = broken(|t| {
        t + &"\n[[ignore]]\nmatch = { path = \"/x\", equals = 1 }\n"
            .repeat(super::compile::MAX_RULES + 1)
    });
    assert!(e.contains("[[ignore]] rules"), "{e}");
    let e = Profile::load("no-such-profile.toml", Path::new("."))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no-such-profile.toml") && e.contains("webim"),
        "{e}"
    );
}

#[test]
fn a_profile_missing_what_a_check_needs_is_refused_for_that_check_only() {
    let text = BUILTIN[0]
        .1
        .replace(r#"multipleDevice = "multipleDevice", "#, "");
    let p = Profile::parse(&text, "t").unwrap();
    assert!(p.check_needs(Needs::default()).is_ok());
    let e = p
        .check_needs(Needs {
            checks: true,
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("multipleDevice"), "{e}");
    let text = BUILTIN[0].1.replace(r#"70052 = "sig_invalidated""#, "");
    let p = Profile::parse(&text, "t").unwrap();
    assert!(p
        .check_needs(Needs {
            checks: true,
            ..Default::default()
        })
        .is_ok());
    let e = p
        .check_needs(Needs {
            admin_kicks: true,
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("sig_invalidated"), "{e}");
}
