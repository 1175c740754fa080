//! The XMPP driver on frames: a whole login, presence, kicks, pings, hostile XML.

use super::*;
use crate::driver::{Driver, Wire};
use crate::policy::Platform;
use crate::profile::template::Escape;

fn wire() -> Wire {
    wire_with(Mechanism::Plain)
}

fn wire_with(mechanism: Mechanism) -> Wire {
    Wire::Xmpp(super::wire(
        "localhost".into(),
        Template::compile("{platform}", Escape::Header, &["platform", "instance"]).unwrap(),
        mechanism,
    ))
}

fn who() -> Values<'static> {
    Values {
        user_id: "alice",
        instance: "alice#0",
        platform: "Web",
        ..Default::default()
    }
}

fn sent(o: Outgoing) -> String {
    match o {
        Outgoing::Text(t) => t,
        Outgoing::Binary(_) => panic!("XMPP sends text"),
    }
}

fn reply(m: Meaning) -> String {
    match m {
        Meaning::Reply(o) => sent(o),
        other => panic!("a reply expected, not {other:?}"),
    }
}

/// A driver logged in as alice/Web (its presence sent, awaiting the echo).
/// Alice's login with her password.
fn alice_login() -> Request {
    Request::Login {
        seq: 1,
        sdk_app_id: 0,
        user_id: "alice".into(),
        user_sig: "pw".into(),
        platform: Platform::Web,
    }
}

fn logged_in(w: &Wire, d: &mut Driver) {
    let login = alice_login();
    assert!(sent(d.request(w, &login, &who())).contains("to=\"localhost\""));
    let mut hear = |f: &str| d.incoming(w, Incoming::Text(f), &who());
    assert_eq!(
        hear(
            r#"<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" from="localhost" id="1" version="1.0"/>"#
        ),
        Meaning::Ignored
    );
    // Attribute and mechanism order vary between runs (Prosody): read as XML, not text.
    let auth = reply(hear(
        r#"<stream:features xmlns:stream="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>"#,
    ));
    assert!(auth.contains("mechanism=\"PLAIN\">AGFsaWNlAHB3<"), "{auth}");
    let open = reply(hear(
        r#"<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>"#,
    ));
    assert!(open.starts_with("<open"), "{open}");
    let bind = reply(hear(
        r#"<features xmlns="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/><session xmlns="urn:ietf:params:xml:ns:xmpp-session"><optional/></session></features>"#,
    ));
    assert!(bind.contains("<resource>Web</resource>"), "{bind}");
    assert_eq!(
        hear(
            r#"<iq xmlns="jabber:client" type="result" id="bind"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>alice@localhost/Web</jid></bind></iq>"#
        ),
        Meaning::Response {
            seq: Some(1),
            code: code::OK,
            repeat: false
        }
    );
    let presence = reply(d.more(w).expect("the presence follows the bind"));
    assert!(presence.starts_with("<presence"), "{presence}");
}

#[test]
fn a_login_is_the_whole_exchange_and_ready_is_the_own_presence_echo() {
    let w = wire();
    let mut d = w.driver();
    logged_in(&w, &mut d);
    let mut hear = |f: &str| d.incoming(&w, Incoming::Text(f), &who());
    // Another resource's presence, mid-login or after: not the ready.
    assert_eq!(
        hear(
            r#"<presence xmlns="jabber:client" from="alice@localhost/Android" to="alice@localhost/Web"/>"#
        ),
        Meaning::Ignored
    );
    assert_eq!(
        hear(
            r#"<presence xmlns="jabber:client" from="alice@localhost/Web" to="alice@localhost/Web"/>"#
        ),
        Meaning::Ready
    );
    // A ping answered; a conflict stream error is a kick.
    let ping = sent(d.request(&w, &Request::Ping { seq: 9 }, &who()));
    assert!(ping.contains("id=\"p9\""), "{ping}");
    let mut hear = |f: &str| d.incoming(&w, Incoming::Text(f), &who());
    assert_eq!(
        hear(r#"<iq xmlns="jabber:client" type="result" id="p9" from="localhost"/>"#),
        Meaning::Response {
            seq: Some(9),
            code: code::OK,
            repeat: false
        }
    );
    assert_eq!(
        hear(
            r#"<stream:error xmlns:stream="http://etherx.jabber.org/streams"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">Replaced by new connection</text></stream:error>"#
        ),
        Meaning::Kicked(KickType::MultipleAccount)
    );
    // An operator's kick (ejabberd's kick_user) is REST_API_Kick; any other stream error is
    // the session ending without a kick. Each heard by a fresh session.
    let after_login = |frame: &str| {
        let mut d = w.driver();
        logged_in(&w, &mut d);
        d.incoming(&w, Incoming::Text(frame), &who())
    };
    assert_eq!(
        after_login(
            r#"<stream:error xmlns:stream='http://etherx.jabber.org/streams'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xml:lang='en' xmlns='urn:ietf:params:xml:ns:xmpp-streams'>has been kicked</text></stream:error>"#
        ),
        Meaning::Kicked(KickType::RestApiKick)
    );
    assert_eq!(
        after_login(
            r#"<stream:error xmlns:stream='http://etherx.jabber.org/streams'><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"#
        ),
        Meaning::NotReady
    );
}

/// ejabberd's admin kick: kick_user with the account and the scenario's domain; done when the
/// answer counts the sessions, refused (with ejabberd's message) when it is an error object.
#[test]
fn the_ejabberd_admin_kick_is_kick_user() {
    let a = crate::profile::Admin::ejabberd("chat.example").unwrap();
    assert_eq!(a.method, "POST");
    let v = crate::profile::template::Values {
        user_id: "xmpp-\"3",
        ..Default::default()
    };
    assert_eq!(a.path.render(&v), "/api/kick_user");
    let body: serde_json::Value = serde_json::from_str(&a.body.render(&v)).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"user": "xmpp-\"3", "host": "chat.example"})
    );
    assert!(a.judge(br#"{"num_resources":2}"#).is_ok());
    assert!(a.judge(br#"{"num_resources":0}"#).is_ok());
    let refused = a
        .judge(br#"{"status":"error","code":32,"message":"AccessRules: Account does not have the right to perform the operation."}"#)
        .unwrap_err();
    assert!(refused.to_string().contains("AccessRules"), "{refused}");
}

#[test]
fn a_logout_is_close_answered_by_close() {
    let w = wire();
    let mut d = w.driver();
    logged_in(&w, &mut d);
    let close = sent(d.request(&w, &Request::Logout { seq: 4 }, &who()));
    assert!(close.starts_with("<close"), "{close}");
    assert_eq!(
        d.incoming(
            &w,
            Incoming::Text(r#"<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>"#),
            &who()
        ),
        Meaning::Response {
            seq: Some(4),
            code: code::OK,
            repeat: false
        }
    );
}

#[test]
fn a_refused_bind_or_sasl_is_a_refused_login() {
    let w = wire();
    let mut d = w.driver();
    let login = Request::Login {
        seq: 2,
        sdk_app_id: 0,
        user_id: "alice".into(),
        user_sig: "bad".into(),
        platform: Platform::Web,
    };
    d.request(&w, &login, &who());
    d.incoming(&w, Incoming::Text(r#"<features xmlns="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></features>"#), &who());
    assert_eq!(
        d.incoming(
            &w,
            Incoming::Text(
                r#"<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><not-authorized/></failure>"#
            ),
            &who()
        ),
        Meaning::Response {
            seq: Some(2),
            code: code::SIG_BAD_SIGNATURE,
            repeat: false
        }
    );
}

#[test]
fn hostile_xml_is_refused_without_harm() {
    let w = wire();
    let mut d = w.driver();
    let mut hear = |f: &str| d.incoming(&w, Incoming::Text(f), &who());
    let bomb = r#"<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><message xmlns="jabber:client"><body>&lol2;</body></message>"#;
    assert!(matches!(hear(bomb), Meaning::Unmatched(_)));
    let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
    assert!(matches!(hear(&deep), Meaning::Unmatched(_)));
    let many = format!("<a>{}</a>", "<b/>".repeat(1000));
    assert!(matches!(hear(&many), Meaning::Unmatched(_)));
    assert!(matches!(hear("<open"), Meaning::Unmatched(_)));
    assert!(matches!(hear("not xml at all"), Meaning::Unmatched(_)));
    assert!(matches!(
        d.incoming(&w, Incoming::Binary(b"<open/>"), &who()),
        Meaning::Unmatched(_)
    ));
}

/// SCRAM-SHA-1 through the driver, against a server side computed here from RFC 5802's
/// definitions: the proof it sends verifies, a wrong server signature refuses the login, and a
/// server that does not offer the mechanism refuses it too.
#[test]
fn a_scram_login_proves_both_sides() {
    use base64::Engine;
    use ring::{digest, hmac, pbkdf2};
    let b64 = base64::engine::general_purpose::STANDARD;
    let mac = |k: &[u8], d: &[u8]| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, k), d)
            .as_ref()
            .to_vec()
    };
    let inner = |x: &str| {
        let start = x.find('>').unwrap() + 1;
        x[start..x.rfind('<').unwrap()].to_string()
    };
    for honest in [true, false] {
        let w = wire_with(Mechanism::ScramSha1);
        let mut d = w.driver();
        let login = alice_login();
        sent(d.request(&w, &login, &who()));
        let mut hear = |f: &str| d.incoming(&w, Incoming::Text(f), &who());
        let auth = reply(hear(
            r#"<stream:features xmlns:stream="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"#,
        ));
        assert!(auth.contains("mechanism=\"SCRAM-SHA-1\""), "{auth}");
        let first = String::from_utf8(b64.decode(inner(&auth)).unwrap()).unwrap();
        let bare = first.strip_prefix("n,,").unwrap().to_string();
        let nonce = bare.split(",r=").nth(1).unwrap().to_string();
        let server_first = format!("r={nonce}SERVER,s={},i=4096", b64.encode(b"salt"));
        let response = reply(hear(&format!(
            r#"<challenge xmlns="urn:ietf:params:xml:ns:xmpp-sasl">{}</challenge>"#,
            b64.encode(&server_first)
        )));
        let last = String::from_utf8(b64.decode(inner(&response)).unwrap()).unwrap();
        let (without_proof, proof) = last.split_once(",p=").unwrap();
        // The server's side: the proof must come from the password.
        let mut salted = [0u8; 20];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA1,
            std::num::NonZeroU32::new(4096).unwrap(),
            b"salt",
            b"pw",
            &mut salted,
        );
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let client_key = mac(&salted, b"Client Key");
        let stored = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &client_key);
        let signature = mac(stored.as_ref(), auth_message.as_bytes());
        let expected: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        assert_eq!(b64.decode(proof).unwrap(), expected);
        let v = if honest {
            mac(&mac(&salted, b"Server Key"), auth_message.as_bytes())
        } else {
            vec![0; 20]
        };
        let success = format!(
            r#"<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl">{}</success>"#,
            b64.encode(format!("v={}", b64.encode(v)))
        );
        let m = hear(&success);
        if honest {
            assert!(reply(m).starts_with("<open"));
        } else {
            assert_eq!(
                m,
                Meaning::Response {
                    seq: Some(1),
                    code: code::SIG_BAD_SIGNATURE,
                    repeat: false
                }
            );
        }
    }
    // Not offered: refused.
    let w = wire_with(Mechanism::ScramSha1);
    let mut d = w.driver();
    let login = alice_login();
    sent(d.request(&w, &login, &who()));
    assert_eq!(
        d.incoming(
            &w,
            Incoming::Text(r#"<stream:features xmlns:stream="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>PLAIN</mechanism></mechanisms></stream:features>"#),
            &who()
        ),
        Meaning::Response {
            seq: Some(1),
            code: code::INVALID_PARAMS,
            repeat: false
        }
    );
}
