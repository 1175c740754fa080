//! A cycle's paths: whole cycles, kicks at each phase, waves, stopping.

use std::time::Duration;

use super::*;
#[test]
fn a_whole_cycle_logs_in_becomes_ready_holds_and_logs_out() {
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    logging_in(&mut c, &mut io);
    assert_eq!(io.armed, [Timer::LoginTimeout]);
    io.advance(Duration::from_millis(20));
    c.meaning(&mut io, response(1, 0));
    let did = io.take();
    assert!(did
        .iter()
        .any(|d| matches!(d, Did::Record(Metric::Login, 20_000))));
    assert_eq!(counted(&did, Counter::LoginsOk), 1);
    assert_eq!(told(&did, |t| matches!(t, Told::LoggedIn)).len(), 1);
    assert_eq!(io.armed, [Timer::ReadyTimeout]);
    io.advance(Duration::from_millis(5));
    c.meaning(&mut io, Meaning::Ready);
    let did = io.take();
    assert!(did
        .iter()
        .any(|d| matches!(d, Did::Record(Metric::Ready, 25_000))));
    assert!(did.iter().any(|d| matches!(d, Did::Live(1))));
    assert!(did
        .iter()
        .any(|d| matches!(d, Did::After(h, Timer::HoldEnd) if *h == Duration::from_secs(1))));
    fire(&mut c, &mut io, Timer::HoldEnd);
    let did = io.take();
    assert!(matches!(sends(&did)[..], [Request::Logout { seq: 2 }]));
    assert!(did.iter().any(|d| matches!(d, Did::Live(-1))));
    assert_eq!(c.phase(), Phase::LoggingOut);
    io.advance(Duration::from_millis(3));
    c.meaning(&mut io, response(2, 0));
    let did = io.take();
    assert!(did
        .iter()
        .any(|d| matches!(d, Did::Record(Metric::Logout, 3_000))));
    assert_eq!(counted(&did, Counter::Logouts), 1);
    assert_eq!(counted(&did, Counter::CyclesCompleted), 1);
    assert_eq!(cycle_done(&did), Some(false));
    // A kept connection stays open for the next cycle, which logs in on it at once.
    assert!(!did.iter().any(|d| matches!(d, Did::Close | Did::Abandon)));
    c.go(&mut io, Duration::ZERO, false);
    assert!(matches!(
        sends(&io.take())[..],
        [Request::Login { seq: 3, .. }]
    ));
    // Told once per instance, not per login.
    c.meaning(&mut io, response(3, 0));
    assert!(told(&io.take(), |t| matches!(t, Told::LoggedIn)).is_empty());
}

#[test]
fn a_kick_mid_login_ends_the_cycle_and_its_timer() {
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    logging_in(&mut c, &mut io);
    c.meaning(&mut io, Meaning::Kicked(KickType::MultipleAccount));
    let did = io.take();
    assert_eq!(counted(&did, Counter::kick(KickType::MultipleAccount)), 1);
    assert!(matches!(
        told(&did, |t| matches!(t, Told::Kicked(_)))[..],
        [Told::Kicked(k)] if k.kick == KickType::MultipleAccount && k.slot == 0
    ));
    assert_eq!(cycle_done(&did), Some(false));
    assert_eq!(c.phase(), Phase::Idle);
    assert!(io.armed.is_empty(), "the login timeout outlived the kick");
    // The login's late answer is to no request in flight: a protocol error, not a login.
    c.meaning(&mut io, response(1, 0));
    let did = io.take();
    assert_eq!(counted(&did, Counter::ProtocolErrors), 1);
    assert_eq!(counted(&did, Counter::LoginsOk), 0);
}

#[test]
fn a_kick_during_the_hold_relogins_after_the_backoff() {
    let p = plan("on_kick = \"relogin:250ms\"\n");
    let (mut c, mut io) = (cycle(p), Rec::new());
    ready(&mut c, &mut io);
    c.meaning(&mut io, Meaning::Kicked(KickType::MultipleDevice));
    let did = io.take();
    assert!(did.iter().any(|d| matches!(d, Did::Live(-1))));
    assert!(did
        .iter()
        .any(|d| matches!(d, Did::After(b, Timer::Relogin) if *b == Duration::from_millis(250))));
    assert_eq!(cycle_done(&did), None, "a relogin continues the cycle");
    fire(&mut c, &mut io, Timer::Relogin);
    assert!(matches!(
        sends(&io.take())[..],
        [Request::Login { seq: 2, .. }]
    ));
    assert_eq!(c.phase(), Phase::LoggingIn);
}

#[test]
fn on_kick_stop_ends_the_instances_cycles() {
    let (mut c, mut io) = (cycle(plan("on_kick = \"stop\"\n")), Rec::new());
    ready(&mut c, &mut io);
    c.meaning(&mut io, Meaning::Kicked(KickType::MultipleAccount));
    assert_eq!(cycle_done(&io.take()), Some(true));
}

#[test]
fn a_kicked_session_that_acts_again_is_probed_as_a_zombie() {
    let p = plan("[checks]\nprobe_after_kick = 1.0\nprobe_after_logout = 0.0\n");
    let (mut c, mut io) = (cycle(p), Rec::new());
    ready(&mut c, &mut io);
    c.meaning(&mut io, Meaning::Kicked(KickType::MultipleAccount));
    let did = io.take();
    // Probed at once after the kick (probability 1)…
    assert!(matches!(
        sends(&did)[..],
        [Request::SendMessage { seq: 2, .. }]
    ));
    // …and again when a stray sdkStateReady follows the kick.
    c.meaning(&mut io, Meaning::Ready);
    let did = io.take();
    assert_eq!(counted(&did, Counter::ProtocolErrors), 1);
    assert_eq!(
        told(&did, |t| matches!(
            t,
            Told::Observed(Observed::Ready { .. })
        ))
        .len(),
        1
    );
    assert!(matches!(
        sends(&did)[..],
        [Request::SendMessage { seq: 3, .. }]
    ));
    // The zombie's answer goes to the account as the after-kick probe's.
    c.meaning(&mut io, response(3, 0));
    let did = io.take();
    assert!(matches!(
        told(&did, |t| matches!(
            t,
            Told::Observed(Observed::Probe { .. })
        ))[..],
        [Told::Observed(Observed::Probe {
            kind: ProbeKind::AfterKick,
            code: Some(0),
            ..
        })]
    ));
    // An unprovoked stray ready (no kick before it) is counted but not probed.
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    c.meaning(&mut io, Meaning::Ready);
    let did = io.take();
    assert_eq!(counted(&did, Counter::ProtocolErrors), 1);
    assert!(sends(&did).is_empty());
}

#[test]
fn a_missing_ready_is_probed_then_reported_with_the_answer() {
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    logging_in(&mut c, &mut io);
    c.meaning(&mut io, response(1, 0));
    io.take();
    fire(&mut c, &mut io, Timer::ReadyTimeout);
    let did = io.take();
    assert_eq!(counted(&did, Counter::TimeoutsReady), 1);
    assert!(matches!(
        sends(&did)[..],
        [Request::SendMessage { seq: 2, .. }]
    ));
    assert_eq!(io.armed, [Timer::ReadyProbeWait]);
    // The probe's answer (not logged in) decides: the session was silently ended.
    c.meaning(&mut io, response(2, crate::protocol::code::NOT_LOGGED_IN));
    let did = io.take();
    assert!(matches!(
        told(&did, |t| matches!(
            t,
            Told::Observed(Observed::ReadyMissing { .. })
        ))[..],
        [Told::Observed(Observed::ReadyMissing {
            probe: Some(2024),
            ..
        })]
    ));
    assert!(did.iter().any(|d| matches!(d, Did::Close)));
    assert_eq!(cycle_done(&did), Some(false));

    // Unanswered probe: reported with no answer when its wait ends.
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    logging_in(&mut c, &mut io);
    c.meaning(&mut io, response(1, 0));
    fire(&mut c, &mut io, Timer::ReadyTimeout);
    io.take();
    fire(&mut c, &mut io, Timer::ReadyProbeWait);
    let did = io.take();
    assert!(matches!(
        told(&did, |t| matches!(
            t,
            Told::Observed(Observed::ReadyMissing { .. })
        ))[..],
        [Told::Observed(Observed::ReadyMissing { probe: None, .. })]
    ));

    // With the checks off there is no probe: the timeout reports at once.
    let p = plan("[checks]\nenabled = false\n");
    let (mut c, mut io) = (cycle(p), Rec::new());
    logging_in(&mut c, &mut io);
    c.meaning(&mut io, response(1, 0));
    fire(&mut c, &mut io, Timer::ReadyTimeout);
    let did = io.take();
    assert!(sends(&did).is_empty());
    assert_eq!(cycle_done(&did), Some(false));
}
