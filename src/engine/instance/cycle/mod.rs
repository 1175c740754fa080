//! An instance's cycle as a pure machine: connect → login → ready → (activity) → logout, with
//! kicks, timeouts and probes. It owns no socket, no timer and no clock: it is handed events
//! (the account's orders, the connection's outcome, the meanings its driver read from frames,
//! the timers it armed firing) and acts only through [`Io`] — send this request, arm that
//! timer, close, tell the account, count. The actor (`super`) is the I/O around it; the tests
//! (`tests.rs`) drive it with a recording [`Io`] and no socket.
//!
//! Why a trait of effects rather than a returned list of commands: an instance handles a few
//! events a cycle on the generator's hot path, and the trait, monomorphised for the actor,
//! costs nothing, where a command vector would cost an allocation per event. The recording
//! test `Io` turns the calls back into a list.

use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use crate::checks::ProbeKind;
use crate::driver::Outgoing;
use crate::engine::account::{Observed, Told};
use crate::engine::metrics::{Counter, Metric};
use crate::engine::plan::Plan;
use crate::policy::Platform;
use crate::protocol::Request;

mod answers;
mod events;
mod reconnect;
mod replay;
mod steps;
#[cfg(test)]
mod tests;

/// Most `sendMessage` requests one instance keeps in flight.
pub const MAX_MESSAGES_IN_FLIGHT: usize = 32;

/// Where the cycle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Between cycles (or never started).
    Idle,
    Connecting,
    /// Connected, waiting for the account to release a barrier/jitter wave's logins together.
    Arrived,
    LoggingIn,
    AwaitReady,
    Ready,
    LoggingOut,
    /// The connection was lost mid-session: waiting out the backoff before reconnecting.
    Reconnecting,
}

/// A step the cycle takes when a timer it armed fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The login went unanswered.
    LoginTimeout,
    /// No `sdkStateReady` after the login's answer.
    ReadyTimeout,
    /// The probe sent at the ready timeout went unanswered.
    ReadyProbeWait,
    /// The hold is over.
    HoldEnd,
    /// The account's judgment of the wave did not come.
    JudgmentWait,
    /// The logout went unanswered.
    LogoutTimeout,
    /// A released wave's login, after its jitter.
    Login,
    /// The relogin after a kick's backoff.
    Relogin,
    /// The next message of the hold (armed with [`Io::every`]).
    Message,
    /// The backoff after a loss is over: reconnect.
    Reconnect,
}

/// Everything the cycle does to the world. A phase's timers ([`Io::after`], [`Io::every`])
/// are cancelled by [`Io::new_phase`]: a timer armed in one phase never fires in another.
pub trait Io {
    /// The present.
    fn now(&self) -> Instant;
    /// When the frame being handled was received (latencies end there, not at its handling).
    fn received(&self) -> Instant;
    /// The Unix second (UserSig times).
    fn unix_now(&self) -> u64;
    /// When the `[[chaos]]` disruption under way began, if one is (engine/chaos.rs): a loss
    /// now is its doing.
    fn disruption(&self) -> Option<Instant>;
    /// The server answered a request of this connection sent at `sent`: it heard the
    /// instance then (a ghost's bound counts from the last such time).
    fn heard(&mut self, sent: Instant);
    /// When the connection is lost now and its session stays on the server — a `silent` cut
    /// of the instance's own, or a loss during a disruption that keeps the sessions — how long
    /// the server certainly holds that ghost: the last time it heard the instance plus its
    /// session timeout. `None`: no ghost, or its bound is not known.
    fn ghost_until(&self, silent: bool) -> Option<Instant>;
    /// Open a connection; its outcome comes back as [`Cycle::connected`] or
    /// [`Cycle::connect_failed`].
    fn connect(&mut self);
    /// Send a request through the driver; `false` when the connection is gone.
    fn send(&mut self, req: &Request) -> bool;
    /// Send frames the driver made (a heartbeat's answer, a login's next exchange).
    fn send_frame(&mut self, frame: Outgoing) -> bool;
    /// Close the connection, if any (a close frame), and let no timer outlive it: the
    /// instance may idle long before its next cycle.
    fn close(&mut self);
    /// Drop the connection, if any, at once (broken, or given up on); no timer outlives it.
    fn abandon(&mut self);
    /// Drop the connection with a TCP reset (a `[[chaos]]` drop).
    fn reset(&mut self);
    /// Keep the connection open and never read or write it again: a dead network, as the
    /// server sees it (a `[[chaos]]` silent drop).
    fn silence(&mut self);
    /// A new phase began: cancel the timers of the last one.
    fn new_phase(&mut self);
    /// Fire `t` after `d` (at once, after the current event, for zero), unless the phase ends.
    fn after(&mut self, d: Duration, t: Timer);
    /// Fire `t` after `first`, then every `every`, until the phase ends.
    fn every(&mut self, first: Duration, every: Duration, t: Timer);
    /// Tell the account.
    fn tell(&mut self, t: Told);
    fn count(&mut self, c: Counter);
    fn record(&mut self, m: Metric, micros: u64);
    /// A login refused with `code` (not an admin kick's 70052).
    fn login_failed(&mut self, code: u32);
    /// Sessions ready now: +1 or −1.
    fn live(&mut self, delta: i64);
    /// The instance is done: stop it.
    fn stop(&mut self);
}

/// One instance's cycle state.
pub struct Cycle {
    plan: Arc<Plan>,
    n: u32,
    slot: u8,
    /// The account's userID (shared with the actor's I/O side).
    user: std::rc::Rc<str>,
    platform: Platform,
    phase: Phase,
    /// A connection is open (the I/O side holds it).
    linked: bool,
    seq: u64,
    ctrl_seq: u64,
    /// How late this cycle began against its intended start (open model: the arrival's
    /// instant; includes a wait behind the account's previous cycle). Added to the login and
    /// ready latencies so a stalled backend cannot hide behind a late send.
    owed: Duration,
    login_sent: Instant,
    logout_sent: Instant,
    messages: Vec<(u64, Instant)>,
    probes: Vec<(u64, ProbeKind)>,
    /// Issue time of the UserSig the current session logged in with (None: from a file).
    session_sig_time: Option<u64>,
    stopping: bool,
    /// This cycle is part of a wave whose logins the account releases together.
    barrier: bool,
    /// The hold ended; the instance stays logged in until the account has judged the wave.
    awaiting_judgment: bool,
    /// A kick arrived while the logout was on its way: its refusal is expected.
    kicked_while_logging_out: bool,
    /// The last session ended with a kick (a stray `sdkStateReady` then deserves a probe).
    last_kicked: bool,
    /// After an admin kick, sigs must be issued after the kick's second (older ones are void).
    sig_not_before: u64,
    sig_cache: Option<(u64, Arc<str>)>,
    /// Whether it told its account that it logged in (once is enough).
    told_logged_in: bool,
    /// Coming back from a lost connection (`[reconnect]`).
    comeback: reconnect::Comeback,
    /// The trace model's orders not yet carried out.
    replay: replay::Pending,
    rng: fastrand::Rng,
}

impl Cycle {
    pub fn new(
        plan: Arc<Plan>,
        n: u32,
        slot: u8,
        user: std::rc::Rc<str>,
        seed: u64,
        now: Instant,
    ) -> Self {
        let platform = plan.platforms[slot as usize];
        Cycle {
            plan,
            n,
            slot,
            user,
            platform,
            phase: Phase::Idle,
            linked: false,
            seq: 0,
            ctrl_seq: 0,
            owed: Duration::ZERO,
            login_sent: now,
            logout_sent: now,
            messages: Vec::new(),
            probes: Vec::new(),
            session_sig_time: None,
            stopping: false,
            barrier: false,
            awaiting_judgment: false,
            kicked_while_logging_out: false,
            last_kicked: false,
            sig_not_before: 0,
            sig_cache: None,
            told_logged_in: false,
            comeback: Default::default(),
            replay: Default::default(),
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// A new cycle may start ([`Cycle::go`] would act).
    pub fn startable(&self) -> bool {
        self.phase == Phase::Idle && !self.stopping
    }

    /// Enter a phase; the timers of the phase being left are cancelled.
    fn set_phase(&mut self, io: &mut impl Io, p: Phase) {
        io.new_phase();
        if self.phase == Phase::Ready && p != Phase::Ready {
            io.live(-1);
        }
        if p == Phase::Ready && self.phase != Phase::Ready {
            io.live(1);
        }
        if p != Phase::Ready {
            self.awaiting_judgment = false;
        }
        self.phase = p;
    }

    /// Tell the account's history what happened (with the checks on), stamped now.
    fn observe(&self, io: &mut impl Io, o: impl FnOnce(u8, Instant) -> Observed) {
        if self.plan.checks.enabled {
            let at = io.now();
            io.tell(Told::Observed(o(self.slot, at)));
        }
    }

    /// Connected at the start of a cycle: log in now, or (in a wave) tell the account and wait
    /// for the release, so that the wave's logins leave together however long connects took.
    fn arrived(&mut self, io: &mut impl Io) {
        if self.barrier {
            self.set_phase(io, Phase::Arrived);
            io.tell(Told::Arrived { slot: self.slot });
        } else {
            self.login(io);
        }
    }

    /// Send an authenticated request whose only purpose is its answer.
    fn probe(&mut self, io: &mut impl Io, kind: ProbeKind) -> bool {
        self.seq += 1;
        let req = Request::SendMessage {
            seq: self.seq,
            to: self.user.to_string(),
            text: "loginstorm-probe".into(),
        };
        if io.send(&req) {
            self.probes.push((self.seq, kind));
            io.count(Counter::ProbesSent);
            true
        } else {
            false
        }
    }

    fn maybe_probe(&mut self, io: &mut impl Io, kind: ProbeKind, p: f64) {
        if self.plan.checks.enabled && p > 0.0 && self.rng.f64() < p {
            self.probe(io, kind);
        }
    }

    /// The connection is going: probes in flight will never be answered.
    fn abandon_probes(&mut self, io: &mut impl Io) {
        for (_, kind) in std::mem::take(&mut self.probes) {
            if kind == ProbeKind::Settle {
                self.observe(io, |slot, at| Observed::Probe {
                    slot,
                    kind,
                    code: None,
                    at,
                });
            }
        }
    }

    /// Something went wrong mid-cycle: drop the connection and end the cycle.
    fn resync(&mut self, io: &mut impl Io) {
        self.set_phase(io, Phase::Idle);
        self.close(io);
        self.cycle_done(io, false);
    }

    fn close(&mut self, io: &mut impl Io) {
        self.let_go(io, Io::close, None);
    }

    fn drop_connection(&mut self, io: &mut impl Io) {
        self.let_go(io, Io::abandon, None);
    }

    /// The connection ends for this instance — `end` says how (close, drop, reset, silence):
    /// the history hears of it (a ghost's end when the session stays on the server until
    /// `ghost`), probes in flight will never be answered, messages neither.
    fn let_go<I: Io>(&mut self, io: &mut I, end: fn(&mut I), ghost: Option<Instant>) {
        match ghost {
            Some(until) => self.observe(io, |slot, at| Observed::Ghost { slot, at, until }),
            None => self.observe(io, |slot, at| Observed::Gone { slot, at }),
        }
        self.abandon_probes(io);
        self.linked = false;
        end(io);
        self.messages.clear();
    }

    fn cycle_done(&mut self, io: &mut impl Io, stopped: bool) {
        io.count(Counter::CyclesCompleted);
        self.end_cycle(io, stopped);
    }

    fn end_cycle(&mut self, io: &mut impl Io, stopped: bool) {
        if self.phase != Phase::Idle {
            self.set_phase(io, Phase::Idle);
        }
        self.comeback_ended(io, self.stopping);
        if self.stopping {
            self.close(io);
            io.stop();
            return;
        }
        io.tell(Told::CycleDone {
            slot: self.slot,
            stopped,
        });
        if self.replayed() {
            self.replay_next(io);
        }
    }

    /// Where the login and ready latencies start: the login's send, moved back by how late the
    /// cycle began (open model; 0 in the closed model). The connect has its own histogram.
    fn start_mark(&self) -> Instant {
        self.login_sent
            .checked_sub(self.owed)
            .unwrap_or(self.login_sent)
    }

    /// Record `m`: from `sent` to the receipt of the frame being handled.
    fn record_since(&self, io: &mut impl Io, m: Metric, sent: Instant) {
        io.record(m, micros(io.received().saturating_duration_since(sent)));
    }

    /// Record an answer to the login (its response, or `sdkStateReady`): `full` from where
    /// the cycle's latencies start, `service` from the login's send.
    fn record_login_answer(&self, io: &mut impl Io, full: Metric, service: Metric) {
        self.record_since(io, full, self.start_mark());
        self.record_since(io, service, self.login_sent);
    }
}

pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
