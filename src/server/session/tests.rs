use super::*;
use crate::protocol::{Response, ServerFrame as F};

const KEY: &str = "k";
const APP: u64 = 7;
const NOW: u64 = 1_700_000_000;

fn session() -> Session {
    Session::new(
        std::sync::Arc::new(Settings {
            sdkappid: APP,
            key: KEY.into(),
            ready_delay: DelayRange::default(),
            faults: Faults::default(),
        }),
        1,
        1,
    )
}

fn login_req(seq: u64, user: &str) -> Request {
    Request::Login {
        seq,
        sdk_app_id: APP,
        user_id: user.into(),
        user_sig: usersig::generate(APP, KEY, user, NOW, 600, None),
        platform: Platform::Web,
    }
}

/// The frames sent since the last call, parsed back.
fn sent(s: &mut Session) -> Vec<F> {
    s.out.drain(..).map(|f| F::parse(&f).unwrap()).collect()
}

fn response(f: &F) -> &Response {
    match f {
        F::Response(r) => r,
        other => panic!("not a response: {other:?}"),
    }
}

fn logged_in(s: &mut Session, instance: u64) {
    s.request(login_req(1, "alice"), NOW);
    assert!(matches!(
        s.commands.pop(),
        Some(Command::Login { seq: 1, .. })
    ));
    s.login_answered(1, Ok(instance));
    s.commands.clear();
}

#[test]
fn a_login_goes_to_the_shard_and_its_answer_then_ready_come_back() {
    let mut s = session();
    s.request(login_req(1, "alice"), NOW);
    assert!(sent(&mut s).is_empty(), "nothing until the shard decides");
    // A second login meanwhile is refused with 2025.
    s.request(login_req(2, "alice"), NOW);
    assert_eq!(response(&sent(&mut s)[0]).code, code::LOGIN_IN_PROGRESS);
    s.login_answered(1, Ok(0xab));
    let f = sent(&mut s);
    assert_eq!(
        response(&f[0])
            .data
            .as_ref()
            .unwrap()
            .instance_id
            .as_deref(),
        Some("ab")
    );
    assert_eq!(
        f[1],
        F::Event(Event::Ready),
        "no ready delay: ready at once"
    );
    assert!(s.commands.contains(&Command::ExpireAfter(Some(NOW + 600))));
    // The same user again: repeatLogin, no new login.
    s.commands.clear();
    s.request(login_req(3, "alice"), NOW);
    assert!(response(&sent(&mut s)[0]).repeat_login());
    assert!(s.commands.is_empty());
}

#[test]
fn a_bad_sig_is_refused_with_its_code_and_leaves_3001() {
    let mut s = session();
    let mut req = login_req(1, "alice");
    if let Request::Login { user_sig, .. } = &mut req {
        *user_sig = usersig::generate(APP, "wrong", "alice", NOW, 600, None);
    }
    s.request(req, NOW);
    assert_eq!(response(&sent(&mut s)[0]).code, code::SIG_BAD_SIGNATURE);
    s.request(
        Request::SendMessage {
            seq: 2,
            to: "b".into(),
            text: "t".into(),
        },
        NOW,
    );
    assert_eq!(
        response(&sent(&mut s)[0]).code,
        code::NOT_READY_LOGIN_FAILED
    );
}

#[test]
fn a_kick_read_before_the_login_answer_is_applied_after_it() {
    let mut s = session();
    s.request(login_req(1, "alice"), NOW);
    s.kicked(KickPush {
        instance: 5,
        kick: KickType::MultipleAccount,
        silent: false,
        zombie: false,
    });
    s.login_answered(1, Ok(5));
    let f = sent(&mut s);
    assert_eq!(response(&f[0]).code, 0);
    assert_eq!(f[1], F::kicked(KickType::MultipleAccount));
    assert_eq!(f[2], F::Event(Event::NotReady));
    assert_eq!(f.len(), 3, "no sdkStateReady for a kicked session");
    s.request(
        Request::SendMessage {
            seq: 2,
            to: "b".into(),
            text: "t".into(),
        },
        NOW,
    );
    assert_eq!(
        response(&sent(&mut s)[0]).code,
        code::NOT_READY_KICKED_ACCOUNT
    );
}

#[test]
fn logout_asks_the_shard_and_a_kick_first_makes_it_2024() {
    let mut s = session();
    logged_in(&mut s, 9);
    sent(&mut s);
    s.request(Request::Logout { seq: 4 }, NOW);
    assert_eq!(
        s.commands.pop(),
        Some(Command::Logout {
            seq: 4,
            user: "alice".into()
        })
    );
    s.logout_answered(4, true);
    let f = sent(&mut s);
    assert_eq!(response(&f[0]).code, 0);
    assert_eq!(f[1], F::Event(Event::NotReady));
    assert!(s.commands.contains(&Command::ReadyIn(None)));
    let mut s = session();
    logged_in(&mut s, 9);
    sent(&mut s);
    s.request(Request::Logout { seq: 4 }, NOW);
    s.logout_answered(4, false);
    assert_eq!(response(&sent(&mut s)[0]).code, code::NOT_LOGGED_IN);
}

#[test]
fn a_zombie_hears_its_kick_but_still_acts_and_a_silent_kick_says_nothing() {
    let mut s = session();
    logged_in(&mut s, 9);
    sent(&mut s);
    s.kicked(KickPush {
        instance: 9,
        kick: KickType::MultipleDevice,
        silent: false,
        zombie: true,
    });
    assert_eq!(sent(&mut s)[0], F::kicked(KickType::MultipleDevice));
    s.request(
        Request::SendMessage {
            seq: 2,
            to: "b".into(),
            text: "t".into(),
        },
        NOW,
    );
    assert_eq!(response(&sent(&mut s)[0]).code, 0, "the zombie still acts");
    assert!(s.user_to_forget().is_none(), "the shard already dropped it");
    let mut s = session();
    logged_in(&mut s, 9);
    sent(&mut s);
    s.kicked(KickPush {
        instance: 9,
        kick: KickType::MultipleAccount,
        silent: true,
        zombie: false,
    });
    assert!(sent(&mut s).is_empty());
    // A kick of another (older) instance of this connection is ignored.
    s.kicked(KickPush {
        instance: 8,
        kick: KickType::MultipleAccount,
        silent: false,
        zombie: false,
    });
    assert!(sent(&mut s).is_empty());
}

#[test]
fn messages_reach_only_a_ready_session_and_expiry_asks_the_shard() {
    let mut s = session();
    let d = Delivered {
        from: "b".into(),
        text: "hi".into(),
        message_id: "1".into(),
    };
    s.message(d.clone());
    assert!(sent(&mut s).is_empty());
    logged_in(&mut s, 3);
    sent(&mut s);
    s.message(d.clone());
    assert_eq!(sent(&mut s), vec![F::Event(Event::MessageReceived(d))]);
    s.expiry_timer();
    assert_eq!(
        s.commands.pop(),
        Some(Command::Expire {
            user: "alice".into(),
            instance: 3
        })
    );
}
