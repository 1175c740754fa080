//! The cycle without a socket: a recording [`Io`] stands in for the actor, a test fires the
//! timers the cycle armed, and reads back what it did: the cycle's paths (`paths.rs`) and
//! the backend's answers (`answers.rs`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use super::{Cycle, Io, Phase, Timer};
use crate::checks::ProbeKind;
use crate::driver::{Meaning, Outgoing};
use crate::engine::account::{Observed, Told};
use crate::engine::metrics::{Counter, Metric};
use crate::engine::plan::Plan;
use crate::policy::KickType;
use crate::protocol::Request;

/// What the cycle did, in order.
#[derive(Debug)]
enum Did {
    Connect,
    Send(Request),
    Frame(Outgoing),
    Close,
    Abandon,
    Reset,
    Silence,
    After(Duration, Timer),
    Every(Duration, Timer),
    Tell(Told),
    Count(Counter),
    Record(Metric, u64),
    LoginFailed(u32),
    Live(i64),
    Stop,
}

/// A recording `Io` with a hand-moved clock.
struct Rec {
    now: Instant,
    /// When the frame being handled was received.
    received: Instant,
    /// The connection takes frames.
    open: bool,
    did: Vec<Did>,
    /// The timers of the current phase (a new phase cancels them).
    armed: Vec<Timer>,
    /// The start of the disruption under way, if any.
    disrupted: Option<Instant>,
    /// The server's session timeout, when ghosts are told apart (`ghost_until`).
    ghost_hold: Option<Duration>,
    /// The send time of the last request the server answered.
    heard: Option<Instant>,
}

impl Rec {
    fn new() -> Rec {
        let now = Instant::now();
        Rec {
            now,
            received: now,
            open: true,
            did: Vec::new(),
            armed: Vec::new(),
            disrupted: None,
            ghost_hold: None,
            heard: None,
        }
    }

    /// What the cycle did since the last call.
    fn take(&mut self) -> Vec<Did> {
        std::mem::take(&mut self.did)
    }

    /// Move the clock; the next frame is received at the new instant.
    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.received = self.now;
    }
}

impl Io for Rec {
    fn now(&self) -> Instant {
        self.now
    }
    fn received(&self) -> Instant {
        self.received
    }
    fn unix_now(&self) -> u64 {
        1_800_000_000
    }
    fn disruption(&self) -> Option<Instant> {
        self.disrupted
    }
    fn heard(&mut self, sent: Instant) {
        self.heard = Some(sent);
    }
    fn ghost_until(&self, _silent: bool) -> Option<Instant> {
        self.ghost_hold
            .zip(self.heard)
            .map(|(hold, heard)| heard + hold)
    }
    fn connect(&mut self) {
        self.did.push(Did::Connect);
    }
    fn send(&mut self, req: &Request) -> bool {
        self.did.push(Did::Send(req.clone()));
        self.open
    }
    fn send_frame(&mut self, frame: Outgoing) -> bool {
        self.did.push(Did::Frame(frame));
        self.open
    }
    fn close(&mut self) {
        self.did.push(Did::Close);
    }
    fn abandon(&mut self) {
        self.did.push(Did::Abandon);
    }
    fn reset(&mut self) {
        self.did.push(Did::Reset);
    }
    fn silence(&mut self) {
        self.did.push(Did::Silence);
    }
    fn new_phase(&mut self) {
        self.armed.clear();
    }
    fn after(&mut self, d: Duration, t: Timer) {
        self.armed.push(t);
        self.did.push(Did::After(d, t));
    }
    fn every(&mut self, first: Duration, every: Duration, t: Timer) {
        assert!(first <= every);
        self.armed.push(t);
        self.did.push(Did::Every(every, t));
    }
    fn tell(&mut self, t: Told) {
        self.did.push(Did::Tell(t));
    }
    fn count(&mut self, c: Counter) {
        self.did.push(Did::Count(c));
    }
    fn record(&mut self, m: Metric, micros: u64) {
        self.did.push(Did::Record(m, micros));
    }
    fn login_failed(&mut self, code: u32) {
        self.did.push(Did::LoginFailed(code));
    }
    fn live(&mut self, delta: i64) {
        self.did.push(Did::Live(delta));
    }
    fn stop(&mut self) {
        self.did.push(Did::Stop);
    }
}

/// A plan from scenario TOML (over a base of one Web instance, a 1 s hold, every probe off).
fn plan(extra: &str) -> Arc<Plan> {
    let alignment = if extra.contains("alignment") {
        ""
    } else {
        "alignment = \"independent\"\n"
    };
    let text = format!(
        "[accounts]\ncount = 1\ninstances = \"Web\"\n[cycle]\nhold = \"1s\"\n\
         end = \"logout\"\nconnection = \"kept\"\n{alignment}{extra}"
    );
    let text = if text.contains("[checks]") {
        text
    } else {
        format!("{text}\n[checks]\nprobe_after_kick = 0.0\nprobe_after_logout = 0.0\n")
    };
    let r = crate::scenario::load_text(&text, Path::new("."), &Default::default()).unwrap();
    Plan::new(&r, "ws://127.0.0.1:9/").unwrap()
}

fn cycle(plan: Arc<Plan>) -> Cycle {
    Cycle::new(plan, 0, 0, "u0".into(), 7, Instant::now())
}

/// Fire a timer the cycle armed in its current phase (a test of a disarmed timer fails here).
fn fire(c: &mut Cycle, io: &mut Rec, t: Timer) {
    assert!(io.armed.contains(&t), "{t:?} is not armed: {:?}", io.armed);
    io.armed.retain(|a| *a != t);
    c.fire(io, t);
}

fn sends(did: &[Did]) -> Vec<&Request> {
    did.iter()
        .filter_map(|d| match d {
            Did::Send(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn counted(did: &[Did], c: Counter) -> usize {
    did.iter()
        .filter(|d| matches!(d, Did::Count(x) if *x == c))
        .count()
}

fn told(did: &[Did], f: impl Fn(&Told) -> bool) -> Vec<&Told> {
    did.iter()
        .filter_map(|d| match d {
            Did::Tell(t) if f(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn cycle_done(did: &[Did]) -> Option<bool> {
    did.iter().find_map(|d| match d {
        Did::Tell(Told::CycleDone { stopped, .. }) => Some(*stopped),
        _ => None,
    })
}

fn response(seq: u64, code: u32) -> Meaning {
    Meaning::Response {
        seq: Some(seq),
        code,
        repeat: false,
    }
}

/// Connect and log in: the cycle is then waiting for the login's answer (seq 1).
fn logging_in(c: &mut Cycle, io: &mut Rec) {
    c.go(io, Duration::ZERO, false);
    assert!(matches!(io.take()[..], [Did::Connect]));
    c.connected(io);
    let did = io.take();
    assert!(matches!(
        sends(&did)[..],
        [Request::Login { seq: 1, user_id, .. }] if user_id == "u0"
    ));
    assert_eq!(c.phase(), Phase::LoggingIn);
}

/// Log in and become ready (the login's answer 20 ms after the send, ready 5 ms later).
fn ready(c: &mut Cycle, io: &mut Rec) {
    logging_in(c, io);
    io.advance(Duration::from_millis(20));
    c.meaning(io, response(1, 0));
    io.advance(Duration::from_millis(5));
    c.meaning(io, Meaning::Ready);
    assert_eq!(c.phase(), Phase::Ready);
    io.take();
}

mod answers;
mod paths;
mod reconnects;
mod streams;
