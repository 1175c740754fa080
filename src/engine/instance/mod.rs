//! One simulated SDK instance: an actix actor cycling connect → login → ready → (activity) →
//! logout/close over its own WebSocket (`link.rs`: one item of the actor's context).

use actix::prelude::*;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use super::account::{Inbox, Observed, Told};
use super::metrics::{self, Counter};
use super::plan::Plan;
use super::{connect, ActiveGuard};
use crate::checks::ProbeKind;
use crate::policy::Platform;
use crate::protocol::Request;

mod answers;
mod handlers;
mod link;
mod steps;
mod wire;
pub use handlers::{Go, Probe, Proceed, Release, Stop};
use link::Link;

/// A step an instance takes when a timer fires.
type Step = fn(&mut Instance, &mut Context<Instance>);

/// Most `sendMessage` requests one instance keeps in flight.
const MAX_MESSAGES_IN_FLIGHT: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between cycles (or never started).
    Idle,
    Connecting,
    /// Connected, waiting for the account to release a barrier/jitter wave's logins together.
    Arrived,
    LoggingIn,
    AwaitReady,
    Ready,
    LoggingOut,
}

pub struct Instance {
    plan: Arc<Plan>,
    /// What this instance tells its account.
    account: Rc<Inbox>,
    n: u32,
    slot: u8,
    /// Global index, for spreading source addresses.
    global: u64,
    user: String,
    /// The instance's own id on the wire (`{instance}` in a profile): `<userID>#<slot>`.
    instance_id: String,
    /// `--trace-frames` follows this instance.
    traced: bool,
    platform: Platform,
    phase: Phase,
    /// Bumped by every `set_phase`: a timer of an earlier phase that fires anyway (actix drops
    /// a cancelled future only on its next pass) sees it changed and does nothing.
    phase_gen: u64,
    /// The connection, while there is one.
    link: Option<Link>,
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
    /// Timers of the current phase (cancelled when it ends).
    timers: Vec<SpawnHandle>,
    /// The current phase's pending step (a timeout, the end of the hold…): when, and what.
    deadline: Option<(Instant, Step)>,
    /// The one timer that watches `deadline`: when it fires. It outlives phases (see `after`).
    watch: Option<(Instant, SpawnHandle)>,
    /// When the connection's last read returned bytes (`connect::Stamped`): the instant the
    /// frame being handled was received.
    read_at: Option<Rc<Cell<Instant>>>,
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
    /// The traced instance's last sig, redacted wherever frames.log would show it.
    traced_sig: Option<String>,
    /// Whether it told its account that it logged in (once is enough).
    told_logged_in: bool,
    /// Its side of the wire protocol: requests to frames, frames to meanings.
    driver: crate::driver::Driver,
    rng: fastrand::Rng,
    _active: ActiveGuard,
}

impl Instance {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: Arc<Plan>,
        account: Rc<Inbox>,
        n: u32,
        slot: u8,
        global: u64,
        user: String,
        seed: u64,
        active: ActiveGuard,
    ) -> Self {
        let platform = plan.platforms[slot as usize];
        let instance_id = format!("{user}#{slot}");
        let driver = plan.wire.driver();
        Instance {
            traced: plan.traces(n, slot),
            instance_id,
            plan,
            account,
            n,
            slot,
            global,
            user,
            platform,
            phase: Phase::Idle,
            phase_gen: 0,
            link: None,
            seq: 0,
            ctrl_seq: 0,
            owed: Duration::ZERO,
            login_sent: Instant::now(),
            logout_sent: Instant::now(),
            messages: Vec::new(),
            probes: Vec::new(),
            timers: Vec::new(),
            deadline: None,
            watch: None,
            read_at: None,
            session_sig_time: None,
            stopping: false,
            barrier: false,
            awaiting_judgment: false,
            kicked_while_logging_out: false,
            last_kicked: false,
            sig_not_before: 0,
            sig_cache: None,
            traced_sig: None,
            told_logged_in: false,
            driver,
            rng: fastrand::Rng::with_seed(seed),
            _active: active,
        }
    }

    /// Where the login and ready latencies start: the login's send, moved back by how late the
    /// cycle began (open model; 0 in the closed model). The connect has its own histogram.
    fn start_mark(&self) -> Instant {
        self.login_sent
            .checked_sub(self.owed)
            .unwrap_or(self.login_sent)
    }

    /// Enter a phase; the timers of the phase being left are cancelled (an actor's context
    /// polls every future it holds, so stale timers would cost every wake-up).
    fn set_phase(&mut self, ctx: &mut Context<Self>, p: Phase) {
        for h in self.timers.drain(..) {
            ctx.cancel_future(h);
        }
        self.phase_gen += 1;
        self.deadline = None;
        if self.phase == Phase::Ready && p != Phase::Ready {
            metrics::live(-1);
        }
        if p == Phase::Ready && self.phase != Phase::Ready {
            metrics::live(1);
        }
        if p != Phase::Ready {
            self.awaiting_judgment = false;
        }
        self.phase = p;
    }

    /// Run `f` after `d`, unless the phase ends first.
    ///
    /// A cycle has a timeout or a hold in nearly every phase, and creating and cancelling a
    /// tokio timer for each cost the generator a tenth of its CPU on back-to-back cycles. So a
    /// phase's step is a deadline, and one long-lived timer watches it: a new phase only moves
    /// the deadline, and the watch, when it fires before the current deadline (it was armed
    /// for an earlier phase), sleeps again until it. `d = 0` runs `f` as soon as the current
    /// handler returns, not at the timer wheel's next millisecond tick.
    fn after(&mut self, ctx: &mut Context<Self>, d: Duration, f: Step) {
        let gen = self.phase_gen;
        if d.is_zero() {
            let h = ctx.spawn(actix::fut::ready(()).map(move |_, act: &mut Self, ctx| {
                if act.phase_gen == gen {
                    f(act, ctx)
                }
            }));
            self.timers.push(h);
            return;
        }
        if self.deadline.is_some() {
            // A second step in one phase (none today): its own timer, cancelled with the phase.
            let h = ctx.run_later(d, move |act, ctx| {
                if act.phase_gen == gen {
                    f(act, ctx)
                }
            });
            self.timers.push(h);
            return;
        }
        let at = Instant::now() + d;
        self.deadline = Some((at, f));
        match self.watch {
            // The watch fires first and will sleep again until `at`.
            Some((t, _)) if t <= at => {}
            Some((_, h)) => {
                ctx.cancel_future(h);
                self.arm_watch(ctx, at);
            }
            None => self.arm_watch(ctx, at),
        }
    }

    /// The connection is gone: its cycle has no deadline left, and the instance may idle long
    /// (fresh connections): no timer should outlive it.
    fn stop_watch(&mut self, ctx: &mut Context<Self>) {
        self.deadline = None;
        if let Some((_, h)) = self.watch.take() {
            ctx.cancel_future(h);
        }
    }

    fn arm_watch(&mut self, ctx: &mut Context<Self>, at: Instant) {
        let h = ctx.run_later(at.saturating_duration_since(Instant::now()), |act, ctx| {
            act.watch = None;
            let Some((at, f)) = act.deadline else { return };
            if Instant::now() >= at {
                act.deadline = None;
                f(act, ctx);
            } else {
                act.arm_watch(ctx, at);
            }
        });
        self.watch = Some((at, h));
    }

    fn observe(&self, o: Observed) {
        if self.plan.checks.enabled {
            self.account.tell(Told::Observed(o));
        }
    }

    /// Send an authenticated request whose only purpose is its answer.
    fn probe(&mut self, kind: ProbeKind) -> bool {
        self.seq += 1;
        let req = Request::SendMessage {
            seq: self.seq,
            to: self.user.clone(),
            text: "loginstorm-probe".into(),
        };
        if self.send(&req) {
            self.probes.push((self.seq, kind));
            metrics::count(Counter::ProbesSent);
            true
        } else {
            false
        }
    }

    /// The connection is going: probes in flight will never be answered.
    fn abandon_probes(&mut self) {
        for (_, kind) in std::mem::take(&mut self.probes) {
            if kind == ProbeKind::Settle {
                self.observe(Observed::Probe {
                    slot: self.slot,
                    kind,
                    code: None,
                    at: Instant::now(),
                });
            }
        }
    }

    fn maybe_probe(&mut self, kind: ProbeKind, p: f64) {
        if self.plan.checks.enabled && p > 0.0 && self.rng.f64() < p {
            self.probe(kind);
        }
    }

    fn start_cycle(&mut self, ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        if self.link.is_some() {
            self.connected(ctx);
        } else {
            self.connect(ctx);
        }
    }

    /// Connected at the start of a cycle: log in now, or (in a wave) tell the account and wait
    /// for the release, so that the wave's logins leave together however long connects took.
    fn connected(&mut self, ctx: &mut Context<Self>) {
        if self.barrier {
            self.set_phase(ctx, Phase::Arrived);
            self.account.tell(Told::Arrived { slot: self.slot });
        } else {
            self.login(ctx);
        }
    }

    /// Something went wrong mid-cycle: drop the connection and end the cycle.
    fn resync(&mut self, ctx: &mut Context<Self>) {
        self.set_phase(ctx, Phase::Idle);
        self.close(ctx);
        self.cycle_done(ctx, false);
    }

    /// The connection broke underneath us.
    fn lost(&mut self, ctx: &mut Context<Self>) {
        let in_cycle = self.phase != Phase::Idle;
        metrics::count(Counter::ConnectionsLost);
        self.set_phase(ctx, Phase::Idle);
        self.drop_connection(ctx);
        if in_cycle {
            self.cycle_done(ctx, false);
        }
    }

    fn close(&mut self, ctx: &mut Context<Self>) {
        self.observe(Observed::Gone {
            slot: self.slot,
            at: Instant::now(),
        });
        self.abandon_probes();
        if let Some(l) = self.link.take() {
            l.close(ctx);
        }
        self.messages.clear();
        self.stop_watch(ctx);
    }

    fn drop_connection(&mut self, ctx: &mut Context<Self>) {
        self.observe(Observed::Gone {
            slot: self.slot,
            at: Instant::now(),
        });
        self.abandon_probes();
        if let Some(l) = self.link.take() {
            l.abandon(ctx);
        }
        self.messages.clear();
        self.stop_watch(ctx);
    }

    fn cycle_done(&mut self, ctx: &mut Context<Self>, stopped: bool) {
        metrics::count(Counter::CyclesCompleted);
        self.end_cycle(ctx, stopped);
    }

    /// A cycle that never reached the backend (its connect failed or timed out): counted in
    /// `connections_failed`, not as a cycle, so a lost target's refusals are not throughput.
    fn cycle_not_started(&mut self, ctx: &mut Context<Self>) {
        self.end_cycle(ctx, false);
    }

    fn end_cycle(&mut self, ctx: &mut Context<Self>, stopped: bool) {
        if self.phase != Phase::Idle {
            self.set_phase(ctx, Phase::Idle);
        }
        if self.stopping {
            self.close(ctx);
            ctx.stop();
            return;
        }
        self.account.tell(Told::CycleDone {
            slot: self.slot,
            stopped,
        });
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
