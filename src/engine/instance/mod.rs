//! One simulated SDK instance: an actix actor cycling connect → login → ready → (activity) →
//! logout/close over its own WebSocket (read half as a stream, write half as a sink writer).

use actix::io::SinkWrite;
use actix::prelude::*;
use futures_util::stream::{SplitSink, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::account::{
    Account, Arrived, CycleDone, HoldEnded, Kicked, LoginSent, Observed, SigInvalidated,
};
use super::metrics::{self, Counter, Metric};
use super::plan::Plan;
use super::{connect, ActiveGuard};
use crate::checks::ProbeKind;
use crate::policy::Platform;
use crate::protocol::Request;
use crate::scenario::{ConnectionMode, CycleEnd, LoadModel, MessageTo, OnKick};

mod handlers;
pub use handlers::{Go, Probe, Proceed, Release, Stop};

type Ws = WebSocketStream<TcpStream>;
type Sink = SplitSink<Ws, Message>;

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
    account: Addr<Account>,
    n: u32,
    slot: u8,
    /// Global index, for spreading source addresses.
    global: u64,
    user: String,
    platform: Platform,
    phase: Phase,
    sink: Option<SinkWrite<Message, Sink>>,
    stream: Option<SpawnHandle>,
    seq: u64,
    ctrl_seq: u64,
    /// The cycle's intended start (open model) or its actual start.
    intended: Instant,
    login_sent: Instant,
    logout_sent: Instant,
    messages: Vec<(u64, Instant)>,
    probes: Vec<(u64, ProbeKind)>,
    /// Timers of the current phase (cancelled when it ends).
    timers: Vec<SpawnHandle>,
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
    rng: fastrand::Rng,
    _active: ActiveGuard,
}

impl Instance {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: Arc<Plan>,
        account: Addr<Account>,
        n: u32,
        slot: u8,
        global: u64,
        user: String,
        seed: u64,
        active: ActiveGuard,
    ) -> Self {
        let platform = plan.platforms[slot as usize];
        Instance {
            plan,
            account,
            n,
            slot,
            global,
            user,
            platform,
            phase: Phase::Idle,
            sink: None,
            stream: None,
            seq: 0,
            ctrl_seq: 0,
            intended: Instant::now(),
            login_sent: Instant::now(),
            logout_sent: Instant::now(),
            messages: Vec::new(),
            probes: Vec::new(),
            timers: Vec::new(),
            session_sig_time: None,
            stopping: false,
            barrier: false,
            awaiting_judgment: false,
            kicked_while_logging_out: false,
            last_kicked: false,
            sig_not_before: 0,
            sig_cache: None,
            rng: fastrand::Rng::with_seed(seed),
            _active: active,
        }
    }

    /// Where latencies start: the intended start in the open model (so a stalled backend cannot
    /// hide behind a late send), the actual login send in the closed model.
    fn start_mark(&self) -> Instant {
        match self.plan.model {
            LoadModel::Open => self.intended.min(self.login_sent),
            LoadModel::Closed => self.login_sent,
        }
    }

    /// Enter a phase; the timers of the phase being left are cancelled (an actor's context
    /// polls every future it holds, so stale timers would cost every wake-up).
    fn set_phase(&mut self, ctx: &mut Context<Self>, p: Phase) {
        for h in self.timers.drain(..) {
            ctx.cancel_future(h);
        }
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

    /// Run `f` after `d`, unless the phase ends first (its timers are cancelled then).
    fn after(
        &mut self,
        ctx: &mut Context<Self>,
        d: Duration,
        f: fn(&mut Self, &mut Context<Self>),
    ) {
        // Phase timers are cancelled when the phase ends, so a firing one is current.
        let h = ctx.run_later(d, f);
        self.timers.push(h);
    }

    fn send(&mut self, req: &Request) -> bool {
        match &mut self.sink {
            Some(s) => s.write(Message::text(req.to_json())).is_ok(),
            None => false,
        }
    }

    fn observe(&self, o: Observed) {
        if self.plan.checks.enabled {
            self.account.do_send(o);
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
                    code: u32::MAX,
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
        if self.sink.is_some() {
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
            self.account.do_send(Arrived { slot: self.slot });
        } else {
            self.login(ctx);
        }
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        self.set_phase(ctx, Phase::Connecting);
        let plan = self.plan.clone();
        let local = plan.local_addr(self.global);
        let started = Instant::now();
        let fut = async move {
            tokio::time::timeout(
                plan.connect_timeout,
                connect::connect(&plan.url, plan.addr, local),
            )
            .await
        };
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| {
            if act.phase != Phase::Connecting {
                return;
            }
            match res {
                Ok(Ok(ws)) => {
                    metrics::record(Metric::Connect, micros(started.elapsed()));
                    metrics::count(Counter::ConnectionsOpened);
                    let (sink, stream) = ws.split();
                    act.stream = Some(ctx.add_stream(stream));
                    act.sink = Some(SinkWrite::new(sink, ctx));
                    act.connected(ctx);
                }
                Ok(Err(e)) => {
                    metrics::connect_failed(e.reason());
                    act.cycle_done(ctx, false);
                }
                Err(_) => {
                    metrics::connect_failed("timeout".into());
                    metrics::count(Counter::TimeoutsConnect);
                    act.cycle_done(ctx, false);
                }
            }
        }));
    }

    fn login(&mut self, ctx: &mut Context<Self>) {
        self.seq += 1;
        self.ctrl_seq = self.seq;
        let req = Request::Login {
            seq: self.seq,
            sdk_app_id: self.plan.sdkappid,
            user_id: self.user.clone(),
            user_sig: self
                .plan
                .user_sig(self.n, &self.user, self.sig_not_before, &mut self.sig_cache)
                .to_string(),
            platform: self.platform,
        };
        self.session_sig_time = match &self.plan.credentials {
            Some(_) => None,
            None => self.sig_cache.as_ref().map(|(t, _)| *t),
        };
        self.login_sent = Instant::now();
        self.last_kicked = false;
        self.account.do_send(LoginSent {
            slot: self.slot,
            at: self.login_sent,
        });
        if !self.send(&req) {
            return self.lost(ctx);
        }
        self.set_phase(ctx, Phase::LoggingIn);
        self.after(ctx, self.plan.login_timeout, |act, ctx| {
            metrics::count(Counter::TimeoutsLogin);
            act.resync(ctx);
        });
    }

    fn on_ready(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        self.observe(Observed::Ready {
            slot: self.slot,
            at: now,
        });
        metrics::record(Metric::Ready, micros(now - self.start_mark()));
        metrics::record(Metric::ReadyService, micros(now - self.login_sent));
        metrics::count(Counter::Readies);
        self.set_phase(ctx, Phase::Ready);
        if self.stopping {
            return self.logout(ctx);
        }
        let hold = self.plan.hold.sample(self.rng.f64());
        self.after(ctx, hold, |act, ctx| act.end_hold(ctx));
        if let Some(every) = self.plan.message_interval {
            let h = ctx.run_interval(every, |act, ctx| act.send_message(ctx));
            self.timers.push(h);
        }
    }

    fn send_message(&mut self, ctx: &mut Context<Self>) {
        if self.messages.len() >= MAX_MESSAGES_IN_FLIGHT {
            return;
        }
        let to = match self.plan.message_to {
            MessageTo::Myself => self.user.clone(),
            MessageTo::Peer => self.plan.user_id((self.n + 1) % self.plan.accounts),
        };
        self.seq += 1;
        let req = Request::SendMessage {
            seq: self.seq,
            to,
            text: "loginstorm".into(),
        };
        if self.send(&req) {
            self.messages.push((self.seq, Instant::now()));
            metrics::count(Counter::MessagesSent);
        } else {
            self.lost(ctx);
        }
    }

    /// The hold is over. In a judged wave the session stays until the account has judged the
    /// wave's capacity and kicks (docs/checks.md), so short holds do not leave checks inert.
    fn end_hold(&mut self, ctx: &mut Context<Self>) {
        if self.barrier && self.plan.holds_for_judgment() && !self.stopping {
            self.awaiting_judgment = true;
            self.account.do_send(HoldEnded { slot: self.slot });
            // Never wait forever: a judgment needs at most the kick timeout and a probe.
            let wait = self.plan.kick_timeout + self.plan.login_timeout * 2;
            self.after(ctx, wait, |act, ctx| {
                metrics::count(Counter::JudgmentWaitsExpired);
                act.proceed(ctx)
            });
            return;
        }
        self.end_session(ctx);
    }

    /// The account judged the wave (or gave up waiting): end the cycle as planned.
    fn proceed(&mut self, ctx: &mut Context<Self>) {
        if self.awaiting_judgment && self.phase == Phase::Ready {
            self.awaiting_judgment = false;
            self.end_session(ctx);
        }
    }

    fn end_session(&mut self, ctx: &mut Context<Self>) {
        match self.plan.end {
            CycleEnd::Close => {
                self.set_phase(ctx, Phase::Idle);
                self.close(ctx);
                self.cycle_done(ctx, false);
            }
            CycleEnd::Logout | CycleEnd::LogoutClose => self.logout(ctx),
        }
    }

    fn logout(&mut self, ctx: &mut Context<Self>) {
        self.seq += 1;
        self.ctrl_seq = self.seq;
        self.logout_sent = Instant::now();
        self.observe(Observed::LogoutSent {
            slot: self.slot,
            at: self.logout_sent,
        });
        if !self.send(&Request::Logout { seq: self.seq }) {
            return self.lost(ctx);
        }
        self.set_phase(ctx, Phase::LoggingOut);
        self.kicked_while_logging_out = false;
        self.after(ctx, self.plan.logout_timeout, |act, ctx| {
            metrics::count(Counter::TimeoutsLogout);
            act.resync(ctx);
        });
    }

    fn on_response(&mut self, ctx: &mut Context<Self>, r: &crate::protocol::Response) {
        let (seq, code) = (r.seq, r.code);
        if let Some(i) = self.probes.iter().position(|(s, _)| *s == seq) {
            let (_, kind) = self.probes.swap_remove(i);
            if kind == ProbeKind::ReadyDue {
                return self.ready_missing(ctx, Some(code));
            }
            self.observe(Observed::Probe {
                slot: self.slot,
                kind,
                code,
                at: Instant::now(),
            });
            return;
        }
        if let Some(i) = self.messages.iter().position(|(s, _)| *s == seq) {
            let (_, sent) = self.messages.swap_remove(i);
            metrics::record(Metric::Message, micros(sent.elapsed()));
            metrics::count(match code {
                0 => Counter::MessagesOk,
                // The session ended (kick, expiry) while the request was on its way: expected.
                c if crate::protocol::code::ends_session(c) => Counter::MessagesRefused,
                _ => Counter::MessagesFailed,
            });
            return;
        }
        if seq != self.ctrl_seq {
            metrics::count(Counter::ProtocolErrors);
            return;
        }
        match self.phase {
            Phase::LoggingIn => {
                let now = Instant::now();
                let repeat = r.repeat_login();
                self.observe(Observed::LoginAnswered {
                    slot: self.slot,
                    ok: code == 0,
                    repeat,
                    sig_expires: self.session_sig_time.map(|t| t + self.plan.sig_lifetime),
                    at: now,
                });
                if code != 0 {
                    if code == crate::protocol::code::SIG_INVALIDATED {
                        // Provoked by the scenario's own admin kick, or a failure: the account
                        // knows whether it was kicked before this answer.
                        self.account.do_send(SigInvalidated);
                    } else {
                        metrics::login_failed(code);
                    }
                    if code == crate::protocol::code::SIG_INVALIDATED {
                        // An admin kick voided every sig issued up to now: the next one must be newer.
                        self.sig_not_before = crate::unix_now() + 1;
                    }
                    self.set_phase(ctx, Phase::Idle);
                    return self.cycle_done(ctx, false);
                }
                metrics::record(Metric::Login, micros(now - self.start_mark()));
                metrics::record(Metric::LoginService, micros(now - self.login_sent));
                metrics::count(Counter::LoginsOk);
                if repeat {
                    // Already logged in on this connection: no new sdkStateReady will come.
                    metrics::count(Counter::RepeatLogins);
                    self.set_phase(ctx, Phase::AwaitReady);
                    return self.on_ready(ctx);
                }
                self.set_phase(ctx, Phase::AwaitReady);
                self.after(ctx, self.plan.ready_timeout, |act, ctx| {
                    metrics::count(Counter::TimeoutsReady);
                    // With the checks on, ask whether the session still exists before giving up:
                    // a silently kicked session owes no sdkStateReady.
                    if act.plan.checks.enabled && act.probe(ProbeKind::ReadyDue) {
                        return act.after(ctx, act.plan.login_timeout, |act, ctx| {
                            act.ready_missing(ctx, None)
                        });
                    }
                    act.ready_missing(ctx, None);
                });
            }
            Phase::LoggingOut => {
                self.observe(Observed::LogoutAnswered {
                    slot: self.slot,
                    at: Instant::now(),
                });
                if code == 0 {
                    metrics::record(Metric::Logout, micros(self.logout_sent.elapsed()));
                    metrics::count(Counter::Logouts);
                } else if self.kicked_while_logging_out {
                    // The kick ended the session first: the refusal is the backend being right.
                    metrics::count(Counter::LogoutsRefusedAfterKick);
                } else {
                    metrics::count(Counter::LogoutsFailed);
                }
                self.set_phase(ctx, Phase::Idle);
                if self.plan.end == CycleEnd::LogoutClose
                    || self.plan.connection == ConnectionMode::Fresh
                    || self.stopping
                {
                    self.close(ctx);
                } else if code == 0 {
                    self.maybe_probe(ProbeKind::AfterLogout, self.plan.checks.probe_after_logout);
                }
                self.cycle_done(ctx, false);
            }
            _ => metrics::count(Counter::ProtocolErrors),
        }
    }

    /// No `sdkStateReady` came: report it (with the probe's answer, if any) and resynchronise.
    fn ready_missing(&mut self, ctx: &mut Context<Self>, probe: Option<u32>) {
        if self.phase != Phase::AwaitReady {
            return;
        }
        self.observe(Observed::ReadyMissing {
            slot: self.slot,
            probe,
            at: Instant::now(),
        });
        self.resync(ctx);
    }

    fn on_kicked(&mut self, ctx: &mut Context<Self>, kick: crate::policy::KickType) {
        metrics::count(Counter::kick(kick));
        self.last_kicked = true;
        if kick == crate::policy::KickType::RestApiKick {
            self.sig_not_before = crate::unix_now() + 1;
        }
        self.account.do_send(Kicked {
            slot: self.slot,
            kick,
            at: Instant::now(),
            sig_expired: self.plan.sig_expired(self.session_sig_time),
        });
        if !self.stopping {
            self.maybe_probe(ProbeKind::AfterKick, self.plan.checks.probe_after_kick);
        }
        if self.phase == Phase::LoggingOut {
            self.kicked_while_logging_out = true;
        }
        match self.phase {
            Phase::AwaitReady | Phase::Ready | Phase::LoggingIn => {}
            // Kicked while logging out or between cycles: nothing of this cycle to cut short.
            _ => return,
        }
        self.set_phase(ctx, Phase::Idle);
        if self.stopping {
            self.close(ctx);
            return self.cycle_done(ctx, false);
        }
        match self.plan.on_kick {
            OnKick::Relogin(backoff) => {
                self.after(ctx, backoff, |act, ctx| {
                    act.intended = Instant::now();
                    act.login(ctx);
                });
            }
            OnKick::NextCycle => self.cycle_done(ctx, false),
            OnKick::Stop => self.cycle_done(ctx, true),
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
        if let Some(mut s) = self.sink.take() {
            s.close();
        }
        if let Some(h) = self.stream.take() {
            ctx.cancel_future(h);
        }
        self.messages.clear();
    }

    fn drop_connection(&mut self, ctx: &mut Context<Self>) {
        self.observe(Observed::Gone {
            slot: self.slot,
            at: Instant::now(),
        });
        self.abandon_probes();
        if let Some(s) = self.sink.take() {
            ctx.cancel_future(s.handle());
        }
        if let Some(h) = self.stream.take() {
            ctx.cancel_future(h);
        }
        self.messages.clear();
    }

    fn cycle_done(&mut self, ctx: &mut Context<Self>, stopped: bool) {
        if self.phase != Phase::Idle {
            self.set_phase(ctx, Phase::Idle);
        }
        metrics::count(Counter::CyclesCompleted);
        if self.stopping {
            self.close(ctx);
            ctx.stop();
            return;
        }
        self.account.do_send(CycleDone {
            slot: self.slot,
            stopped,
        });
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
