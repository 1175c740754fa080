//! The cycle where the stream is the session (MQTT, XMPP): a broker's close as the logout's
//! answer or a takeover, a kicked or refused stream closed at once.

use super::*;

/// MQTT over the same machine: the logout's end is the broker's close, and a session the
/// broker ends is the account's to judge (a takeover, or a lost connection).
fn mqtt(takeover: &str) -> Arc<Plan> {
    plan(&format!(
        "[target]\nurl = \"ws://127.0.0.1:9/mqtt\"\nprotocol = \"mqtt\"\n[mqtt]\ntakeover = \"{takeover}\"\n"
    ))
}

#[test]
fn an_mqtt_logout_ends_with_the_brokers_close() {
    let (mut c, mut io) = (cycle(mqtt("inferred")), Rec::new());
    ready(&mut c, &mut io);
    fire(&mut c, &mut io, Timer::HoldEnd);
    assert!(matches!(
        sends(&io.take())[..],
        [Request::Logout { seq: 2 }]
    ));
    io.advance(Duration::from_millis(4));
    c.lost(&mut io);
    let did = io.take();
    assert_eq!(counted(&did, Counter::Logouts), 1);
    assert_eq!(counted(&did, Counter::ConnectionsLost), 0);
    assert!(did
        .iter()
        .any(|d| matches!(d, Did::Record(Metric::Logout, 4_000))));
    assert!(did.iter().any(|d| matches!(d, Did::Abandon)));
    assert_eq!(cycle_done(&did), Some(false));
    // The next cycle connects afresh.
    c.go(&mut io, Duration::ZERO, false);
    assert!(matches!(io.take()[..], [Did::Connect]));
}

#[test]
fn a_session_an_mqtt_broker_ends_is_the_accounts_to_judge() {
    let (mut c, mut io) = (cycle(mqtt("inferred")), Rec::new());
    ready(&mut c, &mut io);
    c.lost(&mut io);
    let did = io.take();
    // Not counted as lost here: the account tells a takeover from a lost connection.
    assert_eq!(counted(&did, Counter::ConnectionsLost), 0);
    let dropped = did
        .iter()
        .position(|d| matches!(d, Did::Tell(Told::Dropped { slot: 0, .. })))
        .expect("the account is told");
    let gone = did
        .iter()
        .position(|d| matches!(d, Did::Tell(Told::Observed(Observed::Gone { .. }))))
        .expect("the history hears the end");
    assert!(
        dropped < gone,
        "the account judges before the end reaches the history"
    );
    assert_eq!(cycle_done(&did), Some(false));
    // Between cycles, or with takeovers signalled only, a close is a lost connection.
    let (mut c, mut io) = (cycle(mqtt("signalled")), Rec::new());
    ready(&mut c, &mut io);
    c.lost(&mut io);
    let did = io.take();
    assert_eq!(counted(&did, Counter::ConnectionsLost), 1);
    assert!(told(&did, |t| matches!(t, Told::Dropped { .. })).is_empty());
}

#[test]
fn a_connection_closed_after_its_kick_is_the_kicks_end_not_a_loss() {
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    ready(&mut c, &mut io);
    c.meaning(&mut io, Meaning::Kicked(KickType::MultipleAccount));
    io.take();
    // XMPP: the stream error, then the server's close of the stream and the connection.
    c.meaning(&mut io, Meaning::NotReady);
    c.lost(&mut io);
    let did = io.take();
    assert_eq!(counted(&did, Counter::ConnectionsLost), 0);
    assert!(did.iter().any(|d| matches!(d, Did::Abandon)));
    assert_eq!(cycle_done(&did), None, "the kick already ended the cycle");
    // Without a kick before it, the same close is a lost connection.
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    ready(&mut c, &mut io);
    c.lost(&mut io);
    assert_eq!(counted(&io.take(), Counter::ConnectionsLost), 1);
}

#[test]
fn a_refused_login_closes_a_stream_that_cannot_log_in_again() {
    // The reference protocol keeps the connection (connection = "kept") for the next login.
    let (mut c, mut io) = (cycle(plan("")), Rec::new());
    logging_in(&mut c, &mut io);
    c.meaning(
        &mut io,
        response(1, crate::protocol::code::LOGIN_IN_PROGRESS),
    );
    assert!(!io.take().iter().any(|d| matches!(d, Did::Close)));
    // An XMPP stream whose bind was refused cannot restart its login: closed, the next cycle
    // connects afresh.
    let xmpp = plan(
        "[target]\nurl = \"ws://127.0.0.1:9/ws\"\nprotocol = \"xmpp\"\n[xmpp]\ndomain = \"localhost\"\n",
    );
    let (mut c, mut io) = (cycle(xmpp), Rec::new());
    logging_in(&mut c, &mut io);
    c.meaning(
        &mut io,
        response(1, crate::protocol::code::LOGIN_IN_PROGRESS),
    );
    let did = io.take();
    assert!(did.iter().any(|d| matches!(d, Did::Close)), "{did:?}");
    assert_eq!(cycle_done(&did), Some(false));
    // So does any cycle with connection = "fresh".
    let text = "[accounts]\ncount = 1\ninstances = \"Web\"\n[cycle]\nconnection = \"fresh\"\n";
    let r = crate::scenario::load_text(text, std::path::Path::new("."), &Default::default());
    let fresh = Plan::new(&r.unwrap(), "ws://127.0.0.1:9/").unwrap();
    let (mut c, mut io) = (cycle(fresh), Rec::new());
    logging_in(&mut c, &mut io);
    c.meaning(&mut io, response(1, crate::protocol::code::SIG_EXPIRED));
    assert!(io.take().iter().any(|d| matches!(d, Did::Close)));
}
