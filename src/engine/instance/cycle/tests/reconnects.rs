//! Coming back after a loss (`[reconnect]`): the backoff's waits, the re-login, the rest of
//! the hold, and how each loss is counted — planned in a disruption, the backend's outside.

use super::*;

const BACKOFF: &str = "[reconnect]\nmode = \"backoff\"\ninitial = \"100ms\"\nfactor = 2.0\nmax = \"1s\"\njitter = 0.0\n";

fn waits(did: &[Did]) -> Vec<Duration> {
    did.iter()
        .filter_map(|d| match d {
            Did::After(w, Timer::Reconnect) => Some(*w),
            _ => None,
        })
        .collect()
}

fn recorded(did: &[Did], m: Metric) -> Vec<u64> {
    did.iter()
        .filter_map(|d| match d {
            Did::Record(x, v) if *x == m => Some(*v),
            _ => None,
        })
        .collect()
}

#[test]
fn without_reconnect_a_loss_ends_the_cycle() {
    let mut c = cycle(plan(""));
    let mut io = Rec::new();
    ready(&mut c, &mut io);
    c.lost(&mut io);
    let did = io.take();
    assert_eq!(counted(&did, Counter::ConnectionsLost), 1);
    assert_eq!(cycle_done(&did), Some(false));
    assert!(waits(&did).is_empty());
    assert_eq!(c.phase(), Phase::Idle);
}

#[test]
fn a_lost_session_backs_off_reconnects_and_resumes_its_hold() {
    let mut c = cycle(plan(BACKOFF));
    let mut io = Rec::new();
    ready(&mut c, &mut io);
    io.advance(Duration::from_millis(300));
    c.lost(&mut io);
    let did = io.take();
    assert_eq!(
        counted(&did, Counter::ConnectionsLost),
        1,
        "no disruption: the backend's"
    );
    assert_eq!(cycle_done(&did), None, "the cycle goes on");
    assert_eq!(waits(&did), [Duration::from_millis(100)]);
    assert_eq!(c.phase(), Phase::Reconnecting);
    assert!(c.reconnecting());

    // Two connects fail: each waits twice as long.
    for (waited, next) in [(100, 200), (200, 400)] {
        io.advance(Duration::from_millis(waited));
        fire(&mut c, &mut io, Timer::Reconnect);
        assert!(matches!(
            io.take()[..],
            [Did::Count(Counter::ReconnectAttempts), Did::Connect]
        ));
        c.connect_failed(&mut io);
        assert_eq!(waits(&io.take()), [Duration::from_millis(next)]);
    }
    io.advance(Duration::from_millis(400));
    fire(&mut c, &mut io, Timer::Reconnect);
    io.take();
    c.connected(&mut io);
    let did = io.take();
    assert!(
        matches!(sends(&did)[..], [Request::Login { seq: 2, .. }]),
        "logs in again at once"
    );
    io.advance(Duration::from_millis(10));
    c.meaning(&mut io, response(2, 0));
    io.advance(Duration::from_millis(10));
    c.meaning(&mut io, Meaning::Ready);
    let did = io.take();
    assert_eq!(counted(&did, Counter::Reconnects), 1);
    // Ready again 100 + 200 + 400 + 20 ms after the loss (to the ready frame's receipt).
    assert_eq!(recorded(&did, Metric::Reconnect), [720_000]);
    assert!(recorded(&did, Metric::Recovery).is_empty(), "no disruption");
    // The 1 s hold began at the first ready; 300 + 720 ms have passed since: nothing is left.
    let hold = did.iter().find_map(|d| match d {
        Did::After(h, Timer::HoldEnd) => Some(*h),
        _ => None,
    });
    assert_eq!(hold, Some(Duration::ZERO));
    assert!(!c.reconnecting());
}

#[test]
fn a_loss_in_a_disruption_is_planned_and_its_recovery_timed() {
    let mut c = cycle(plan(BACKOFF));
    let mut io = Rec::new();
    ready(&mut c, &mut io);
    io.disrupted = Some(io.now);
    io.advance(Duration::from_millis(50));
    c.lost(&mut io);
    let did = io.take();
    assert_eq!(counted(&did, Counter::ConnectionsLostPlanned), 1);
    assert_eq!(counted(&did, Counter::ConnectionsLost), 0);
    assert_eq!(counted(&did, Counter::SessionsDisrupted), 1);
    io.advance(Duration::from_millis(100));
    fire(&mut c, &mut io, Timer::Reconnect);
    c.connected(&mut io);
    io.advance(Duration::from_millis(30));
    c.meaning(&mut io, response(2, 0));
    c.meaning(&mut io, Meaning::Ready);
    let did = io.take();
    assert_eq!(recorded(&did, Metric::Reconnect), [130_000]);
    assert_eq!(
        recorded(&did, Metric::Recovery),
        [180_000],
        "from the disruption's start"
    );
    let hold = did.iter().find_map(|d| match d {
        Did::After(h, Timer::HoldEnd) => Some(*h),
        _ => None,
    });
    assert_eq!(
        hold,
        Some(Duration::from_millis(820)),
        "the 1 s hold's rest"
    );
}

#[test]
fn a_session_not_yet_ready_is_not_counted_as_disrupted() {
    let mut c = cycle(plan(BACKOFF));
    let mut io = Rec::new();
    logging_in(&mut c, &mut io);
    io.disrupted = Some(io.now);
    c.lost(&mut io);
    let did = io.take();
    assert_eq!(counted(&did, Counter::ConnectionsLostPlanned), 1);
    assert_eq!(counted(&did, Counter::SessionsDisrupted), 0);
    assert_eq!(c.phase(), Phase::Reconnecting, "but it comes back too");
}

#[test]
fn a_refused_relogin_gives_up_and_a_stop_leaves_it_unfinished() {
    let mut c = cycle(plan(BACKOFF));
    let mut io = Rec::new();
    ready(&mut c, &mut io);
    c.lost(&mut io);
    fire(&mut c, &mut io, Timer::Reconnect);
    c.connected(&mut io);
    io.take();
    c.meaning(&mut io, response(2, 6206));
    let did = io.take();
    assert_eq!(counted(&did, Counter::ReconnectsGivenUp), 1);
    assert_eq!(cycle_done(&did), Some(false));

    let mut c = cycle(plan(BACKOFF));
    let mut io = Rec::new();
    ready(&mut c, &mut io);
    c.lost(&mut io);
    io.take();
    c.stop(&mut io);
    let did = io.take();
    assert_eq!(counted(&did, Counter::ReconnectsUnfinished), 1);
    assert!(did.iter().any(|d| matches!(d, Did::Stop)));
}

#[test]
fn a_logout_cut_short_is_not_reconnected() {
    let mut c = cycle(plan(BACKOFF));
    let mut io = Rec::new();
    ready(&mut c, &mut io);
    fire(&mut c, &mut io, Timer::HoldEnd);
    assert_eq!(c.phase(), Phase::LoggingOut);
    c.lost(&mut io);
    let did = io.take();
    assert!(waits(&did).is_empty());
    assert_eq!(cycle_done(&did), Some(false));
}

#[test]
fn a_cut_is_planned_its_way_and_comes_back() {
    for (how, did_it) in [
        (crate::scenario::Cut::Close, "Close"),
        (crate::scenario::Cut::Reset, "Reset"),
        (crate::scenario::Cut::Silent, "Silence"),
    ] {
        let mut c = cycle(plan(BACKOFF));
        let mut io = Rec::new();
        ready(&mut c, &mut io);
        c.cut(&mut io, how);
        let did = io.take();
        assert_eq!(
            counted(&did, Counter::ConnectionsLostPlanned),
            1,
            "{did_it}"
        );
        assert_eq!(counted(&did, Counter::SessionsDisrupted), 1, "{did_it}");
        assert!(
            did.iter().any(|d| format!("{d:?}") == did_it),
            "{did_it}: {did:?}"
        );
        assert_eq!(c.phase(), Phase::Reconnecting, "{did_it}");
    }
    // Not in a session (between cycles): nothing to cut.
    let mut c = cycle(plan(BACKOFF));
    let mut io = Rec::new();
    c.cut(&mut io, crate::scenario::Cut::Silent);
    assert!(io.take().is_empty());
}
