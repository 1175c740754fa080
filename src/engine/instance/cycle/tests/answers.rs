//! The backend's answers: timeouts, probes, refusals, frames in order, replies.

use std::time::Duration;

use super::*;
#[test]
fn timeouts_close_the_connection_and_end_the_cycle() {
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    logging_in(&mut c, &mut io);
    fire(&mut c, &mut io, Timer::LoginTimeout);
    let did = io.take();
    assert_eq!(counted(&did, Counter::TimeoutsLogin), 1);
    assert!(did.iter().any(|d| matches!(d, Did::Close)));
    assert_eq!(cycle_done(&did), Some(false));
    // The next cycle must connect afresh.
    c.go(&mut io, Duration::ZERO, false);
    assert!(matches!(io.take()[..], [Did::Connect]));

    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    ready(&mut c, &mut io);
    fire(&mut c, &mut io, Timer::HoldEnd);
    io.take();
    fire(&mut c, &mut io, Timer::LogoutTimeout);
    let did = io.take();
    assert_eq!(counted(&did, Counter::TimeoutsLogout), 1);
    assert!(did.iter().any(|d| matches!(d, Did::Close)));
    assert_eq!(cycle_done(&did), Some(false));
}

#[test]
fn a_refused_logout_after_a_kick_is_the_backend_being_right() {
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    ready(&mut c, &mut io);
    fire(&mut c, &mut io, Timer::HoldEnd);
    c.meaning(&mut io, Meaning::Kicked(KickType::MultipleAccount));
    io.take();
    c.meaning(&mut io, response(2, crate::protocol::code::NOT_LOGGED_IN));
    let did = io.take();
    assert_eq!(counted(&did, Counter::LogoutsRefusedAfterKick), 1);
    assert_eq!(counted(&did, Counter::LogoutsFailed), 0);
    // Without the kick the same refusal is a failed logout.
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    ready(&mut c, &mut io);
    fire(&mut c, &mut io, Timer::HoldEnd);
    c.meaning(&mut io, response(2, crate::protocol::code::NOT_LOGGED_IN));
    assert_eq!(counted(&io.take(), Counter::LogoutsFailed), 1);
}

#[test]
fn a_kick_during_the_logout_then_the_servers_close_is_no_lost_connection() {
    // ejabberd's kick_user reaching a session whose <close/> is on the way: the stream error,
    // then the connection's end, the logout never answered.
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    ready(&mut c, &mut io);
    fire(&mut c, &mut io, Timer::HoldEnd);
    c.meaning(&mut io, Meaning::Kicked(KickType::RestApiKick));
    io.take();
    c.lost(&mut io);
    let did = io.take();
    assert_eq!(counted(&did, Counter::ConnectionsLost), 0, "{did:?}");
    assert_eq!(counted(&did, Counter::LogoutsRefusedAfterKick), 1);
    assert_eq!(cycle_done(&did), Some(false));
    // Without the kick the same end is a lost connection.
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    ready(&mut c, &mut io);
    fire(&mut c, &mut io, Timer::HoldEnd);
    io.take();
    c.lost(&mut io);
    assert_eq!(counted(&io.take(), Counter::ConnectionsLost), 1);
}

#[test]
fn probes_are_answered_or_reported_unanswerable() {
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    // Not ready: no probe can be sent, the account hears "no answer" at once.
    c.probe_asked(&mut io, ProbeKind::Settle);
    assert!(matches!(
        told(&io.take(), |_| true)[..],
        [Told::Observed(Observed::Probe {
            kind: ProbeKind::Settle,
            code: None,
            ..
        })]
    ));
    ready(&mut c, &mut io);
    c.probe_asked(&mut io, ProbeKind::Settle);
    assert!(matches!(
        sends(&io.take())[..],
        [Request::SendMessage { seq: 2, .. }]
    ));
    c.meaning(&mut io, response(2, 0));
    assert!(matches!(
        told(&io.take(), |_| true)[..],
        [Told::Observed(Observed::Probe {
            kind: ProbeKind::Settle,
            code: Some(0),
            ..
        })]
    ));
    // A settle probe in flight when the connection goes is answered "none".
    c.probe_asked(&mut io, ProbeKind::Settle);
    io.take();
    c.lost(&mut io);
    let did = io.take();
    assert_eq!(counted(&did, Counter::ConnectionsLost), 1);
    assert!(did.iter().any(|d| matches!(d, Did::Abandon)));
    assert!(!told(&did, |t| matches!(
        t,
        Told::Observed(Observed::Probe {
            kind: ProbeKind::Settle,
            code: None,
            ..
        })
    ))
    .is_empty());
    assert!(did.iter().any(|d| matches!(d, Did::Live(-1))));
    assert_eq!(cycle_done(&did), Some(false));
}

#[test]
fn answers_in_order_go_to_the_oldest_request_in_flight() {
    let p = plan("message_rate = 10.0\n");
    let (mut c, mut io) = (cycle(p), Rec::new());
    logging_in(&mut c, &mut io);
    c.meaning(&mut io, response(1, 0));
    c.meaning(&mut io, Meaning::Ready);
    assert!(io
        .take()
        .iter()
        .any(|d| matches!(d, Did::Every(e, Timer::Message) if *e == Duration::from_millis(100))));
    fire(&mut c, &mut io, Timer::Message);
    c.send_message(&mut io);
    assert_eq!(sends(&io.take()).len(), 2);
    let in_order = |code| Meaning::Response {
        seq: None,
        code,
        repeat: false,
    };
    c.meaning(&mut io, in_order(0));
    c.meaning(
        &mut io,
        in_order(crate::protocol::code::NOT_READY_KICKED_ACCOUNT),
    );
    let did = io.take();
    assert_eq!(counted(&did, Counter::MessagesOk), 1);
    assert_eq!(counted(&did, Counter::MessagesRefused), 1);
    // Nothing in flight: an answer to nothing is a protocol error.
    c.meaning(&mut io, in_order(0));
    assert_eq!(counted(&io.take(), Counter::ProtocolErrors), 1);
}

#[test]
fn a_wave_logs_in_on_release_and_holds_for_the_judgment() {
    let p = plan("alignment = \"barrier\"\n");
    let (mut c, mut io) = (cycle(p), Rec::new());
    c.go(&mut io, Duration::ZERO, true);
    c.connected(&mut io);
    let did = io.take();
    assert!(
        sends(&did).is_empty(),
        "a wave's login waits for the release"
    );
    assert_eq!(
        told(&did, |t| matches!(t, Told::Arrived { slot: 0 })).len(),
        1
    );
    c.release(&mut io, Duration::from_millis(30));
    assert!(sends(&io.take()).is_empty());
    fire(&mut c, &mut io, Timer::Login);
    assert!(matches!(
        sends(&io.take())[..],
        [Request::Login { seq: 1, .. }]
    ));
    c.meaning(&mut io, response(1, 0));
    c.meaning(&mut io, Meaning::Ready);
    io.take();
    fire(&mut c, &mut io, Timer::HoldEnd);
    let did = io.take();
    assert!(
        sends(&did).is_empty(),
        "the session stays until the wave is judged"
    );
    assert_eq!(
        told(&did, |t| matches!(t, Told::HoldEnded { slot: 0 })).len(),
        1
    );
    assert_eq!(io.armed, [Timer::JudgmentWait]);
    c.proceed(&mut io);
    assert!(matches!(
        sends(&io.take())[..],
        [Request::Logout { seq: 2 }]
    ));
    // A proceed that comes when nothing waits does nothing.
    c.proceed(&mut io);
    assert!(io.take().is_empty());
}

#[test]
fn stopping_logs_out_a_ready_session_then_closes_and_stops() {
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    ready(&mut c, &mut io);
    c.stop(&mut io);
    assert!(matches!(
        sends(&io.take())[..],
        [Request::Logout { seq: 2 }]
    ));
    c.meaning(&mut io, response(2, 0));
    let did = io.take();
    assert!(did.iter().any(|d| matches!(d, Did::Close)));
    assert!(did.iter().any(|d| matches!(d, Did::Stop)));
    assert_eq!(
        cycle_done(&did),
        None,
        "a stopping instance tells no cycle done"
    );
    assert!(!c.startable());
    // An idle instance stops at once.
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    c.stop(&mut io);
    assert!(io.take().iter().any(|d| matches!(d, Did::Stop)));
}

#[test]
fn refused_logins_are_told_apart() {
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    logging_in(&mut c, &mut io);
    c.meaning(&mut io, response(1, crate::protocol::code::SIG_EXPIRED));
    let did = io.take();
    assert!(did.iter().any(|d| matches!(d, Did::LoginFailed(70001))));
    assert_eq!(cycle_done(&did), Some(false));
    // An admin kick's 70052 is the account's to judge, not a failure.
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    logging_in(&mut c, &mut io);
    c.meaning(&mut io, response(1, crate::protocol::code::SIG_INVALIDATED));
    let did = io.take();
    assert!(!did.iter().any(|d| matches!(d, Did::LoginFailed(_))));
    assert_eq!(told(&did, |t| matches!(t, Told::SigInvalidated)).len(), 1);
}

#[test]
fn a_broken_connection_at_the_login_is_a_lost_connection() {
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    c.go(&mut io, Duration::ZERO, false);
    io.open = false;
    c.connected(&mut io);
    let did = io.take();
    assert_eq!(counted(&did, Counter::ConnectionsLost), 1);
    assert!(did.iter().any(|d| matches!(d, Did::Abandon)));
    assert_eq!(cycle_done(&did), Some(false));
    // A connect that failed is no cycle at all.
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    c.go(&mut io, Duration::ZERO, false);
    c.connect_failed(&mut io);
    let did = io.take();
    assert_eq!(counted(&did, Counter::CyclesCompleted), 0);
    assert_eq!(cycle_done(&did), Some(false));
}

#[test]
fn a_heartbeat_reply_goes_out_and_a_failed_one_loses_the_connection() {
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    ready(&mut c, &mut io);
    c.meaning(&mut io, Meaning::Reply(Outgoing::Text("hb".into())));
    assert!(matches!(io.take()[..], [Did::Frame(Outgoing::Text(ref t))] if t == "hb"));
    io.open = false;
    c.meaning(&mut io, Meaning::Reply(Outgoing::Text("hb".into())));
    assert_eq!(counted(&io.take(), Counter::ConnectionsLost), 1);
    // An unexplained frame is counted twice over: a protocol error, and an unmatched one.
    c.meaning(&mut io, Meaning::Unmatched("why"));
    let did = io.take();
    assert_eq!(counted(&did, Counter::ProtocolErrors), 1);
    assert_eq!(counted(&did, Counter::ProtocolErrorsUnmatched), 1);
}

#[test]
fn the_open_models_lateness_is_added_to_the_login_latency() {
    let p = plan("[load]\nmodel = \"open\"\nstages = \"10,1s\"\n");
    let (mut c, mut io) = (cycle(p), Rec::new());
    c.go(&mut io, Duration::from_millis(40), false);
    c.connected(&mut io);
    io.advance(Duration::from_millis(10));
    c.meaning(&mut io, response(1, 0));
    let did = io.take();
    assert!(did
        .iter()
        .any(|d| matches!(d, Did::Record(Metric::Login, 50_000))));
    assert!(did
        .iter()
        .any(|d| matches!(d, Did::Record(Metric::LoginService, 10_000))));
}
