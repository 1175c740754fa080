//! The protocol and policy rules of the reference server, over real sockets.

use crate::util::*;
use futures_util::SinkExt;
use loginstorm::policy::Platform::{self, *};
use loginstorm::policy::{KickType, PlatformMode};
use loginstorm::protocol::{Delivered, Event, ServerFrame};
use loginstorm::server::DEV_SDKAPPID;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

fn kicked(t: KickType) -> ServerFrame {
    ServerFrame::kicked(t)
}

/// Expect `kickedOut{type}` then `sdkStateNotReady`, in that order.
async fn expect_kick(c: &mut Client, t: KickType) {
    assert_eq!(c.next_event().await, kicked(t));
    assert_eq!(c.next_event().await, ServerFrame::Event(Event::NotReady));
}

#[tokio::test]
async fn login_answers_then_ready_and_repeat_login_is_local() {
    let h = start(|_| {});
    let mut c = Client::connect(&h).await;
    let r = c.login("alice", Web).await;
    assert_eq!(r.code, 0);
    assert_eq!(r.data["repeatLogin"], json!(false));
    assert!(r.data["instanceID"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(c.next_event().await, ServerFrame::Event(Event::Ready));
    let again = c.login("alice", Web).await;
    assert_eq!(again.code, 0);
    assert_eq!(again.data["repeatLogin"], json!(true));
    assert!(again.data["errorInfo"].as_str().is_some());
    c.expect_quiet().await;
    // A different user on the same instance must log out first.
    assert_eq!(c.login("bob", Web).await.code, 2025);
}

#[tokio::test]
async fn second_login_while_first_is_pending_gets_2025() {
    let h = start(|c| c.workers = 1);
    let mut c = Client::connect(&h).await;
    let s = sig("alice");
    let (a, b) = (c.next_seq(), c.next_seq());
    for seq in [a, b] {
        let frame = json!({"seq":seq,"op":"login","sdkAppID":DEV_SDKAPPID,"userID":"alice","userSig":s,"platform":"Web"});
        c.send_raw_feed(Message::text(frame.to_string())).await;
    }
    c.flush().await;
    let first = c.response_to(a).await;
    let second = c.response_to(b).await;
    assert_eq!(first.code, 0);
    assert_eq!(second.code, 2025, "{second:?}");
}

#[tokio::test]
async fn logout_then_not_ready_and_every_not_ready_reason() {
    let h = start(|c| c.ready_delay = "300ms".parse().unwrap());
    let mut c = Client::connect(&h).await;
    // never logged in
    assert_eq!(c.send_message("x", "hi").await.code, 2024);
    assert_eq!(c.logout().await.code, 2024);
    // failed login
    assert_eq!(c.login_as("alice", Web, "garbage").await.code, 70003);
    assert_eq!(c.send_message("x", "hi").await.code, 3001);
    // logged in, not yet ready
    assert_eq!(c.login("alice", Web).await.code, 0);
    assert_eq!(c.send_message("x", "hi").await.code, 3000);
    assert_eq!(c.next_event().await, ServerFrame::Event(Event::Ready));
    assert_eq!(c.send_message("x", "hi").await.code, 0);
    // logged out
    let r = c.logout().await;
    assert_eq!((r.code, r.data.clone()), (0, json!({})));
    assert_eq!(c.next_event().await, ServerFrame::Event(Event::NotReady));
    let r = c.send_message("x", "hi").await;
    assert_eq!(r.code, 3005);
    assert!(r.message.is_some_and(|m| m.contains("logged out")));
    assert_eq!(c.logout().await.code, 2024);
    // ping works in every state
    assert_eq!(c.ping().await.code, 0);
}

#[tokio::test]
async fn logout_before_ready_cancels_ready() {
    let h = start(|c| c.ready_delay = "200ms".parse().unwrap());
    let mut c = Client::connect(&h).await;
    assert_eq!(c.login("alice", Web).await.code, 0);
    assert_eq!(c.logout().await.code, 0);
    assert_eq!(c.next_event().await, ServerFrame::Event(Event::NotReady));
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.expect_quiet().await;
}

#[tokio::test]
async fn second_web_login_kicks_the_first_with_multiple_account() {
    let h = start(|_| {});
    let mut old = Client::connect(&h).await;
    let mut new = Client::connect(&h).await;
    old.login_ready("alice", Web).await;
    new.login_ready("alice", Web).await;
    expect_kick(&mut old, KickType::MultipleAccount).await;
    assert_eq!(old.send_message("alice", "x").await.code, 3003);
    assert_eq!(old.logout().await.code, 2024);
    // the kicked instance may log in again, which kicks the other one
    old.login_ready("alice", Web).await;
    expect_kick(&mut new, KickType::MultipleAccount).await;
}

#[tokio::test]
async fn over_the_limit_the_oldest_is_kicked_in_login_order() {
    let h = start(|c| c.policy.limits = "Web=2".parse().unwrap());
    let mut cs = Vec::new();
    for _ in 0..4 {
        cs.push(Client::connect(&h).await);
    }
    cs[0].login_ready("u", Web).await;
    cs[1].login_ready("u", Web).await;
    cs[2].login_ready("u", Web).await;
    expect_kick(&mut cs[0], KickType::MultipleAccount).await;
    cs[1].expect_quiet().await;
    cs[3].login_ready("u", Web).await;
    expect_kick(&mut cs[1], KickType::MultipleAccount).await;
    cs[2].expect_quiet().await;
    cs[3].expect_quiet().await;
}

#[tokio::test]
async fn every_limit_bound_is_enforced() {
    // Web up to 10, a native platform up to 3: exactly that many coexist, one more kicks.
    for (platform, limit) in [(Web, 10usize), (Android, 3), (Mac, 3)] {
        let h = start(|c| {
            c.policy.limits.set(platform, limit as u8).unwrap();
        });
        let mut cs = Vec::new();
        for _ in 0..=limit {
            let mut c = Client::connect(&h).await;
            c.login_ready("u", platform).await;
            cs.push(c);
        }
        expect_kick(&mut cs[0], KickType::MultipleAccount).await;
        for c in &mut cs[1..] {
            c.expect_quiet().await;
        }
    }
}

/// Log `first` in, then `second`; return whether `first` was kicked (and check the type).
async fn excludes(mode: PlatformMode, first: Platform, second: Platform) -> bool {
    let h = start(|c| c.policy.mode = mode);
    let mut a = Client::connect(&h).await;
    let mut b = Client::connect(&h).await;
    a.login_ready("u", first).await;
    b.login_ready("u", second).await;
    let probe = a.send_message("nobody", "probe").await.code;
    match probe {
        0 => {
            a.expect_quiet().await;
            false
        }
        3002 => {
            expect_kick(&mut a, KickType::MultipleDevice).await;
            true
        }
        other => panic!("{mode} {first}->{second}: unexpected probe code {other}"),
    }
}

#[tokio::test]
async fn platform_modes_exclude_exactly_their_groups() {
    let cases = [
        (PlatformMode::Single, Android, Web, true),
        (PlatformMode::Single, Web, Linux, true),
        (PlatformMode::Single, IPad, Mac, true),
        (PlatformMode::Dual, Android, Web, false),
        (PlatformMode::Dual, Web, Windows, false),
        (PlatformMode::Dual, Android, Linux, true),
        (PlatformMode::Dual, IPhone, IPad, true),
        (PlatformMode::Three, Android, IPhone, true),
        (PlatformMode::Three, Android, Mac, false),
        (PlatformMode::Three, Windows, Linux, true),
        (PlatformMode::Three, Mac, Web, false),
        (PlatformMode::Multi, Android, IPhone, false),
        (PlatformMode::Multi, Windows, Web, false),
    ];
    for (mode, a, b, kicks) in cases {
        assert_eq!(excludes(mode, a, b).await, kicks, "{mode}: {a} then {b}");
    }
}

#[tokio::test]
async fn multi_mode_holds_all_seven_platforms_at_once() {
    let h = start(|_| {});
    let mut cs = Vec::new();
    for p in Platform::ALL {
        let mut c = Client::connect(&h).await;
        c.login_ready("u", p).await;
        cs.push(c);
    }
    for c in &mut cs {
        c.expect_quiet().await;
    }
    assert_eq!(h.census().await.1, 7);
}

#[tokio::test]
async fn single_mode_same_platform_and_other_platforms_kick_with_their_types() {
    let h = start(|c| {
        c.policy.mode = PlatformMode::Single;
        c.policy.limits = "Web=2".parse().unwrap();
    });
    let mut android = Client::connect(&h).await;
    let mut w1 = Client::connect(&h).await;
    let mut w2 = Client::connect(&h).await;
    let mut w3 = Client::connect(&h).await;
    android.login_ready("u", Android).await;
    w1.login_ready("u", Web).await;
    expect_kick(&mut android, KickType::MultipleDevice).await;
    w2.login_ready("u", Web).await;
    w1.expect_quiet().await;
    w3.login_ready("u", Web).await;
    expect_kick(&mut w1, KickType::MultipleAccount).await;
}

#[tokio::test]
async fn a_logout_does_not_affect_other_instances() {
    let h = start(|c| c.policy.limits = "Web=2".parse().unwrap());
    let mut a = Client::connect(&h).await;
    let mut b = Client::connect(&h).await;
    a.login_ready("u", Web).await;
    b.login_ready("u", Web).await;
    assert_eq!(a.logout().await.code, 0);
    assert_eq!(a.next_event().await, ServerFrame::Event(Event::NotReady));
    b.expect_quiet().await;
    assert_eq!(b.send_message("u", "still here").await.code, 0);
}

#[tokio::test]
async fn messages_reach_every_ready_instance_of_the_recipient() {
    let h = start(|c| c.policy.limits = "Web=2".parse().unwrap());
    let mut sender = Client::connect(&h).await;
    let mut r1 = Client::connect(&h).await;
    let mut r2 = Client::connect(&h).await;
    let mut r3 = Client::connect(&h).await;
    let mut other = Client::connect(&h).await;
    sender.login_ready("alice", Web).await;
    r1.login_ready("bob", Web).await;
    r2.login_ready("bob", Web).await;
    r3.login_ready("bob", Android).await;
    other.login_ready("carol", Web).await;
    let r = sender.send_message("bob", "héllo").await;
    assert_eq!(r.code, 0);
    let id = r.data["messageID"].as_str().unwrap().to_string();
    for c in [&mut r1, &mut r2, &mut r3] {
        assert_eq!(
            c.next_event().await,
            ServerFrame::Event(Event::MessageReceived(Delivered {
                from: "alice".into(),
                text: "héllo".into(),
                message_id: id.clone()
            }))
        );
    }
    other.expect_quiet().await;
    sender.expect_quiet().await;
    // to oneself: every ready instance of one's own account, the sender included
    let r = sender.send_message("alice", "me").await;
    assert_eq!(r.code, 0);
    assert!(matches!(
        sender.next_event().await,
        ServerFrame::Event(Event::MessageReceived(_))
    ));
}

#[tokio::test]
async fn login_errors_carry_their_codes() {
    let h = start(|_| {});
    let mut c = Client::connect(&h).await;
    let now = loginstorm::unix_now();
    let other_key = loginstorm::usersig::generate(DEV_SDKAPPID, "wrong", "alice", now, 600, None);
    assert_eq!(c.login_as("alice", Web, &other_key).await.code, 70009);
    assert_eq!(c.login_as("bob", Web, &sig("alice")).await.code, 70013);
    let other_app = loginstorm::usersig::generate(
        DEV_SDKAPPID + 1,
        loginstorm::server::DEV_KEY,
        "alice",
        now,
        600,
        None,
    );
    assert_eq!(c.login_as("alice", Web, &other_app).await.code, 70014);
    let r = c
        .request(json!({"op":"login","sdkAppID":DEV_SDKAPPID + 1,"userID":"alice","userSig":sig("alice"),"platform":"Web"}))
        .await;
    assert_eq!(r.code, 70014);
    assert_eq!(
        c.login_as("alice", Web, &sig_at("alice", now - 100, 10))
            .await
            .code,
        70001
    );
    let s = sig("alice");
    assert_eq!(
        c.login_as("alice", Web, &s[..s.len() - 9]).await.code,
        70003
    );
    // after all that the instance can still log in
    c.login_ready("alice", Web).await;
}

#[tokio::test]
async fn an_expiring_user_sig_kicks_the_live_session() {
    let h = start(|_| {});
    let mut c = Client::connect(&h).await;
    let now = loginstorm::unix_now();
    let short = sig_at("alice", now, 1); // valid through now+1
    assert_eq!(c.login_as("alice", Web, &short).await.code, 0);
    assert_eq!(c.next_event().await, ServerFrame::Event(Event::Ready));
    expect_kick(&mut c, KickType::UserSigExpired).await;
    assert_eq!(c.send_message("alice", "x").await.code, 3004);
    assert_eq!(c.login_as("alice", Web, &short).await.code, 70001);
    c.login_ready("alice", Web).await;
}

#[tokio::test]
async fn a_vanished_client_leaves_no_instance_behind() {
    let h = start(|_| {});
    {
        let mut c = Client::connect(&h).await;
        let s = sig("ghost");
        let frame = json!({"seq":1,"op":"login","sdkAppID":DEV_SDKAPPID,"userID":"ghost","userSig":s,"platform":"Web"});
        c.send_raw(Message::text(frame.to_string())).await;
        // dropped mid-login, without a close handshake
    }
    let mut other = Client::connect(&h).await;
    other.login_ready("ghost2", Web).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, live) = h.census().await;
        if live == 1 && h.open_connections() == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "live {live}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(other.send_message("ghost2", "x").await.code, 0);
}

impl Client {
    pub async fn send_raw_feed(&mut self, m: Message) {
        self.ws_mut().feed(m).await.unwrap();
    }
    pub async fn flush(&mut self) {
        self.ws_mut().flush().await.unwrap();
    }
}
