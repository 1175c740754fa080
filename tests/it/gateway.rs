//! The reference server's gateway restart that keeps the sessions (`[[chaos]]` `restart` with
//! `sessions = "keep"`): connections drop, sessions stay as ghosts until the idle timeout —
//! and the `ghost_kick` fault, which spares a ghost and kicks a live instance instead.

use std::time::Duration;

use crate::util::*;
use loginstorm::policy::KickType;
use loginstorm::policy::Platform::*;
use loginstorm::protocol::ServerFrame;
use loginstorm::server::Faults;

fn web2(ghost_kick: f64, idle: Duration) -> loginstorm::server::ServerHandle {
    start(move |c| {
        c.faults = Faults {
            ghost_kick,
            ..Faults::default()
        };
        c.policy.limits = "Web=2".parse().unwrap();
        c.limits.idle_timeout = idle;
    })
}

/// Two sessions of `u` up, then the gateway down and up: both clients see their connection
/// end without a close frame.
async fn two_ghosts(h: &loginstorm::server::ServerHandle) {
    let mut a = Client::connect(h).await;
    let mut b = Client::connect(h).await;
    a.login_ready("u", Web).await;
    b.login_ready("u", Web).await;
    h.gateway_down();
    assert_eq!(a.read_frame().await, None, "the connection dropped");
    assert_eq!(b.read_frame().await, None, "the connection dropped");
    // Nothing is served while the gateway is down.
    let refused = tokio::time::timeout(
        Duration::from_secs(2),
        tokio_tungstenite::connect_async(h.url()),
    )
    .await
    .unwrap();
    assert!(
        refused.is_err(),
        "a connection served while the gateway is down"
    );
    h.gateway_up();
}

#[tokio::test]
async fn a_gateway_restart_keeps_the_sessions_as_ghosts_that_re_logins_replace() {
    let h = web2(0.0, Duration::from_secs(600));
    two_ghosts(&h).await;
    assert_eq!(h.census().await.1, 2, "both sessions stay, as ghosts");
    let mut a = Client::connect(&h).await;
    let mut b = Client::connect(&h).await;
    a.login_ready("u", Web).await;
    assert_eq!(
        h.census().await.1,
        2,
        "a's re-login replaced the oldest ghost"
    );
    b.login_ready("u", Web).await;
    assert_eq!(
        h.census().await.1,
        2,
        "b's re-login replaced the other ghost"
    );
    a.expect_quiet().await;
    assert_eq!(h.stats().read().kicks[0], 2, "two kicks, both to ghosts");
}

#[tokio::test]
async fn a_ghost_goes_at_the_idle_timeout_after_its_last_frame() {
    let h = web2(0.0, Duration::from_millis(800));
    two_ghosts(&h).await;
    assert_eq!(h.census().await.1, 2);
    // Watched until they go (the bound only ends the loop): 800 ms after their last frames.
    for _ in 0..1000 {
        if h.census().await.1 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(h.census().await.1, 0, "the ghosts timed out");
}

#[tokio::test]
async fn ghost_kick_spares_the_ghost_and_kicks_a_live_instance() {
    let h = web2(1.0, Duration::from_secs(600));
    two_ghosts(&h).await;
    let mut a = Client::connect(&h).await;
    let mut b = Client::connect(&h).await;
    // No live instance to kick instead: the oldest ghost goes.
    a.login_ready("u", Web).await;
    // The oldest is the other ghost; a's live session is kicked in its place.
    b.login_ready("u", Web).await;
    assert_eq!(
        a.next_event().await,
        ServerFrame::kicked(KickType::MultipleAccount)
    );
    assert_eq!(h.census().await.1, 2, "the ghost and b");
}
