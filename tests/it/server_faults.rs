//! Each fault switch of the reference server does exactly what it says (at probability 1).

use crate::util::*;
use loginstorm::policy::KickType;
use loginstorm::policy::Platform::*;
use loginstorm::protocol::{Event, ServerFrame};
use loginstorm::server::Faults;

fn faulty(f: Faults, limits: &str) -> loginstorm::server::ServerHandle {
    let limits = limits.to_string();
    start(move |c| {
        c.faults = f;
        c.policy.limits = limits.parse().unwrap();
    })
}

#[tokio::test]
async fn drop_kick_kicks_silently() {
    let h = faulty(
        Faults {
            drop_kick: 1.0,
            ..Faults::default()
        },
        "",
    );
    let mut a = Client::connect(&h).await;
    let mut b = Client::connect(&h).await;
    a.login_ready("u", Web).await;
    b.login_ready("u", Web).await;
    // No events, but the session is gone.
    assert_eq!(a.send_message("u", "probe").await.code, 3003);
    a.expect_quiet().await;
}

#[tokio::test]
async fn zombie_keeps_a_kicked_session_authenticated() {
    let h = faulty(
        Faults {
            zombie: 1.0,
            ..Faults::default()
        },
        "",
    );
    let mut a = Client::connect(&h).await;
    let mut b = Client::connect(&h).await;
    a.login_ready("u", Web).await;
    b.login_ready("u", Web).await;
    assert_eq!(
        a.next_event().await,
        ServerFrame::kicked(KickType::MultipleAccount)
    );
    assert_eq!(a.next_event().await, ServerFrame::Event(Event::NotReady));
    assert_eq!(a.send_message("u", "still acting").await.code, 0);
}

#[tokio::test]
async fn over_admit_lets_a_login_in_without_kicking() {
    let h = faulty(
        Faults {
            over_admit: 1.0,
            ..Faults::default()
        },
        "",
    );
    let mut a = Client::connect(&h).await;
    let mut b = Client::connect(&h).await;
    a.login_ready("u", Web).await;
    b.login_ready("u", Web).await;
    a.expect_quiet().await;
    assert_eq!(a.send_message("u", "x").await.code, 0);
    assert_eq!(h.census().await.1, 2);
}

#[tokio::test]
async fn kick_newest_picks_the_most_recent_victim() {
    let h = faulty(
        Faults {
            kick_newest: 1.0,
            ..Faults::default()
        },
        "Web=2",
    );
    let mut cs = Vec::new();
    for _ in 0..3 {
        cs.push(Client::connect(&h).await);
    }
    for c in &mut cs {
        c.login_ready("u", Web).await;
    }
    assert_eq!(
        cs[1].next_event().await,
        ServerFrame::kicked(KickType::MultipleAccount)
    );
    cs[0].expect_quiet().await;
}

#[tokio::test]
async fn wrong_kick_type_mislabels_the_kick() {
    let h = faulty(
        Faults {
            wrong_kick_type: 1.0,
            ..Faults::default()
        },
        "",
    );
    let mut a = Client::connect(&h).await;
    let mut b = Client::connect(&h).await;
    a.login_ready("u", Web).await;
    b.login_ready("u", Web).await;
    assert_eq!(
        a.next_event().await,
        ServerFrame::kicked(KickType::MultipleDevice)
    );
}

#[tokio::test]
async fn no_ready_never_sends_sdk_state_ready() {
    let h = faulty(
        Faults {
            no_ready: 1.0,
            ..Faults::default()
        },
        "",
    );
    let mut a = Client::connect(&h).await;
    assert_eq!(a.login("u", Web).await.code, 0);
    a.expect_quiet().await;
    assert_eq!(a.send_message("u", "x").await.code, 3000);
}

#[tokio::test]
async fn out_of_range_fault_probabilities_are_refused() {
    let cfg = loginstorm::server::ServerConfig {
        faults: Faults {
            zombie: 1.5,
            ..Faults::default()
        },
        ..Default::default()
    };
    let err = loginstorm::server::start(cfg).err().expect("refused");
    assert!(err.to_string().contains("zombie"), "{err}");
}
