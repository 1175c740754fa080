//! The MQTT driver on bytes: what it sends for each request, and what each broker packet means.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{v3, v5, Pid, QosPid, TopicName};

use super::{MqttDriver, MqttWire, Takeover, Version};
use crate::driver::{Driver, Incoming, Meaning, Outgoing, Wire};
use crate::policy::{KickType, Platform};
use crate::profile::template::{Escape, Template, Values};
use crate::protocol::{code, Request};

fn wire(version: Version, client_id: &str) -> Wire {
    Wire::Mqtt(Arc::new(MqttWire {
        version,
        client_id: Template::compile(client_id, Escape::Header, &["userID", "instance"]).unwrap(),
        username: true,
        password: true,
        keep_alive: 0,
        takeover: Takeover::Inferred {
            window: Duration::from_secs(1),
        },
    }))
}

fn who() -> Values<'static> {
    Values {
        user_id: "alice",
        instance: "alice#1",
        ..Default::default()
    }
}

fn login(seq: u64) -> Request {
    Request::Login {
        seq,
        sdk_app_id: 1,
        user_id: "alice".into(),
        user_sig: "secret".into(),
        platform: Platform::Web,
    }
}

fn bytes(o: Outgoing) -> Vec<u8> {
    match o {
        Outgoing::Binary(b) => b,
        Outgoing::Text(t) => panic!("MQTT sends binary frames, not {t:?}"),
    }
}

fn v3_bytes(p: v3::Packet) -> Vec<u8> {
    p.encode().unwrap().as_ref().to_vec()
}

fn v5_bytes(p: v5::Packet) -> Vec<u8> {
    p.encode().unwrap().as_ref().to_vec()
}

#[test]
fn a_login_is_a_connect_whose_connack_is_the_answer_and_the_ready() {
    let w = wire(Version::V311, "{userID}");
    let mut d = w.driver();
    let sent = bytes(d.request(&w, &login(7), &who()));
    let Ok(Some(v3::Packet::Connect(c))) = v3::Packet::decode(&sent) else {
        panic!("not a CONNECT: {sent:?}");
    };
    assert_eq!(&*c.client_id, "alice", "one ClientId per account");
    assert_eq!(c.username.as_deref(), Some("alice"));
    assert_eq!(c.password.as_deref(), Some(&b"secret"[..]));
    assert!(c.clean_session);
    let ack = v3_bytes(v3::Packet::Connack(v3::Connack::new(
        false,
        v3::ConnectReturnCode::Accepted,
    )));
    assert_eq!(
        d.incoming(&w, Incoming::Binary(&ack), &who()),
        Meaning::Response {
            seq: Some(7),
            code: code::OK,
            repeat: false
        }
    );
    assert_eq!(d.more(&w), Some(Meaning::Ready));
    assert_eq!(d.more(&w), None);
    // A second CONNACK answers no CONNECT.
    assert!(matches!(
        d.incoming(&w, Incoming::Binary(&ack), &who()),
        Meaning::Unmatched(_)
    ));
}

#[test]
fn a_refused_connect_is_a_refused_login_and_no_ready() {
    let w = wire(Version::V311, "{instance}");
    let mut d = w.driver();
    let sent = bytes(d.request(&w, &login(1), &who()));
    let Ok(Some(v3::Packet::Connect(c))) = v3::Packet::decode(&sent) else {
        panic!("not a CONNECT");
    };
    assert_eq!(&*c.client_id, "alice#1", "one ClientId per instance");
    let refused = v3_bytes(v3::Packet::Connack(v3::Connack::new(
        false,
        v3::ConnectReturnCode::BadUserNameOrPassword,
    )));
    assert_eq!(
        d.incoming(&w, Incoming::Binary(&refused), &who()),
        Meaning::Response {
            seq: Some(1),
            code: code::SIG_BAD_SIGNATURE,
            repeat: false
        }
    );
    assert_eq!(d.more(&w), None);
}

#[test]
fn a_message_is_a_qos1_publish_answered_by_its_puback() {
    let w = wire(Version::V311, "{userID}");
    let mut d = w.driver();
    let req = Request::SendMessage {
        seq: 42,
        to: "bob".into(),
        text: "hi".into(),
    };
    let sent = bytes(d.request(&w, &req, &who()));
    let Ok(Some(v3::Packet::Publish(p))) = v3::Packet::decode(&sent) else {
        panic!("not a PUBLISH");
    };
    assert_eq!(&*p.topic_name, "loginstorm/bob");
    let QosPid::Level1(pid) = p.qos_pid else {
        panic!("QoS 1 expected: {:?}", p.qos_pid);
    };
    let ack = v3_bytes(v3::Packet::Puback(pid));
    assert_eq!(
        d.incoming(&w, Incoming::Binary(&ack), &who()),
        Meaning::Response {
            seq: Some(42),
            code: code::OK,
            repeat: false
        }
    );
    // The same PUBACK again answers nothing in flight.
    assert!(matches!(
        d.incoming(&w, Incoming::Binary(&ack), &who()),
        Meaning::Unmatched(_)
    ));
}

#[test]
fn mqtt5_session_taken_over_is_a_kick() {
    let w = wire(Version::V5, "{userID}");
    let mut d = w.driver();
    let sent = bytes(d.request(&w, &login(3), &who()));
    assert!(matches!(
        v5::Packet::decode(&sent),
        Ok(Some(v5::Packet::Connect(_)))
    ));
    let taken = v5_bytes(v5::Packet::Disconnect(v5::Disconnect::new(
        v5::DisconnectReasonCode::SessionTakenOver,
    )));
    assert_eq!(
        d.incoming(&w, Incoming::Binary(&taken), &who()),
        Meaning::Kicked(KickType::MultipleAccount)
    );
    let other = v5_bytes(v5::Packet::Disconnect(v5::Disconnect::new(
        v5::DisconnectReasonCode::ServerShuttingDown,
    )));
    assert_eq!(
        d.incoming(&w, Incoming::Binary(&other), &who()),
        Meaning::NotReady
    );
}

#[test]
fn packets_split_across_frames_or_packed_in_one_are_read_whole() {
    let w = wire(Version::V311, "{userID}");
    let mut d = w.driver();
    d.request(&w, &login(1), &who());
    let mut both = v3_bytes(v3::Packet::Connack(v3::Connack::new(
        false,
        v3::ConnectReturnCode::Accepted,
    )));
    let topic = TopicName::try_from("loginstorm/alice").unwrap();
    let publish = v3::Publish::new(
        QosPid::Level1(Pid::try_from(9).unwrap()),
        topic,
        Bytes::from_static(b"x"),
    );
    both.extend(v3_bytes(v3::Packet::Publish(publish)));
    // The first byte alone: nothing yet.
    assert_eq!(
        d.incoming(&w, Incoming::Binary(&both[..1]), &who()),
        Meaning::Ignored
    );
    // The rest: the CONNACK's answer, its ready, then the PUBLISH.
    assert!(matches!(
        d.incoming(&w, Incoming::Binary(&both[1..]), &who()),
        Meaning::Response { seq: Some(1), .. }
    ));
    assert_eq!(d.more(&w), Some(Meaning::Ready));
    assert_eq!(d.more(&w), Some(Meaning::MessageReceived));
    assert_eq!(d.more(&w), None);
}

#[test]
fn hostile_frames_are_unmatched_and_bounded() {
    let w = wire(Version::V311, "{userID}");
    let mut d = w.driver();
    assert!(matches!(
        d.incoming(&w, Incoming::Text("hello"), &who()),
        Meaning::Unmatched(_)
    ));
    // A remaining length of five bytes.
    assert!(matches!(
        d.incoming(
            &w,
            Incoming::Binary(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
            &who()
        ),
        Meaning::Unmatched(_)
    ));
    // A packet that claims 200 KiB is never buffered past 64 KiB.
    let mut huge = vec![0x30, 0x80, 0x80, 0x0c];
    huge.extend(std::iter::repeat_n(0u8, 60 * 1024));
    assert_eq!(
        d.incoming(&w, Incoming::Binary(&huge), &who()),
        Meaning::Ignored
    );
    assert!(matches!(
        d.incoming(&w, Incoming::Binary(&vec![0u8; 8 * 1024]), &who()),
        Meaning::Unmatched(_)
    ));
    // A frame of many tiny packets: 64 are read, the rest is one unexplained frame.
    let ping = v3_bytes(v3::Packet::Pingresp);
    let flood: Vec<u8> = std::iter::repeat_n(ping, 100).flatten().collect();
    assert_eq!(
        d.incoming(&w, Incoming::Binary(&flood), &who()),
        Meaning::Ignored
    );
    let mut read = 1;
    let mut unmatched = 0;
    while let Some(m) = d.more(&w) {
        match m {
            Meaning::Ignored => read += 1,
            Meaning::Unmatched(_) => unmatched += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((read, unmatched), (64, 1));
    // A CONNECT from the broker is nothing a broker sends a client.
    let connect = v3_bytes(v3::Packet::Connect(v3::Connect::new("x".into(), 0)));
    assert!(matches!(
        d.incoming(&w, Incoming::Binary(&connect), &who()),
        Meaning::Unmatched(_)
    ));
    // A logout is DISCONNECT; the JSON driver is not reached through an MQTT wire.
    let sent = bytes(d.request(&w, &Request::Logout { seq: 2 }, &who()));
    assert_eq!(
        v3::Packet::decode(&sent).unwrap(),
        Some(v3::Packet::Disconnect)
    );
    assert!(matches!(d, Driver::Mqtt(MqttDriver { .. })));
}
