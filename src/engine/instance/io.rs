//! The cycle's [`Io`] on an actor: its connection, driver, timers, account and metrics.

use actix::prelude::*;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::cycle::{micros, Io, Phase, Timer};
use super::{Instance, Link, Shell};
use crate::driver::Outgoing;
use crate::engine::account::Told;
use crate::engine::connect;
use crate::engine::metrics::{self, Counter, Metric};
use crate::protocol::Request;

/// Heartbeat pings' seqs count down from here (`Shell::start_heartbeat`): 2^52, exact in a
/// JSON number even for a backend that reads numbers as doubles.
pub(super) const HEARTBEAT_SEQ: u64 = 1 << 52;
/// A ghost the server never times out is held, as far as the checks care, this long.
const GHOST_FOREVER: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Seqs above this are heartbeats': no instance sends a billion requests.
pub(super) const HEARTBEAT_FLOOR: u64 = HEARTBEAT_SEQ - (1 << 40);

/// The actor's shell and context, lent to the cycle for one event.
pub(super) struct ActorIo<'a> {
    sh: &'a mut Shell,
    ctx: &'a mut Context<Instance>,
}

impl<'a> ActorIo<'a> {
    pub fn new(sh: &'a mut Shell, ctx: &'a mut Context<Instance>) -> Self {
        ActorIo { sh, ctx }
    }
}

/// Fire `t` on `act`'s cycle if the phase that armed it (`gen`) is still on.
fn fire(act: &mut Instance, ctx: &mut Context<Instance>, gen: u64, t: Timer) {
    if act.shell.phase_gen == gen {
        let (c, mut io) = act.split(ctx);
        c.fire(&mut io, t);
    }
}

/// An instance's own values for the protocol's templates (its userID and instance id): a
/// function of the two fields, so the driver can be borrowed beside them.
pub(super) fn who<'a>(user: &'a str, instance: &'a str) -> crate::profile::template::Values<'a> {
    crate::profile::template::Values {
        user_id: user,
        instance,
        ..Default::default()
    }
}

impl Shell {
    /// The server answered a request sent at `sent`: it heard the instance then.
    pub(super) fn heard(&mut self, sent: Instant) {
        if self.heard.is_none_or(|h| h < sent) {
            self.heard = Some(sent);
        }
    }

    /// Write a frame of the traced instance to frames.log, its last sig redacted: frames.log
    /// is an artifact and the sig a credential, so it shows as its hash (usersig::redact) —
    /// in the login and in any frame that echoes it back.
    pub(super) fn trace(&self, sent: bool, text: &str) {
        match self.traced_sig.as_deref() {
            Some(sig) if !sig.is_empty() && text.contains(sig) => self
                .plan
                .trace_frame(sent, &text.replace(sig, &crate::usersig::redact(sig))),
            _ => self.plan.trace_frame(sent, text),
        }
    }

    fn send_frame(&mut self, frame: Outgoing) -> bool {
        if self.traced {
            self.trace(true, &frame.shown());
        }
        let message = match frame {
            Outgoing::Text(t) => Message::text(t),
            Outgoing::Binary(b) => Message::binary(b),
        };
        self.link.as_ref().is_some_and(|l| l.send(message))
    }

    /// No timer of the cycle outlives its connection (nor its heartbeat).
    fn stop_watch(&mut self, ctx: &mut Context<Instance>) {
        if let Some(h) = self.heartbeat.take() {
            ctx.cancel_future(h);
        }
        self.deadline = None;
        if let Some((_, h)) = self.watch.take() {
            ctx.cancel_future(h);
        }
    }

    fn arm_watch(&mut self, ctx: &mut Context<Instance>, at: Instant) {
        let h = ctx.run_later(at.saturating_duration_since(Instant::now()), |act, ctx| {
            act.shell.watch = None;
            let Some((at, t)) = act.shell.deadline else {
                return;
            };
            if Instant::now() >= at {
                act.shell.deadline = None;
                let (c, mut io) = act.split(ctx);
                c.fire(&mut io, t);
            } else {
                act.shell.arm_watch(ctx, at);
            }
        });
        self.watch = Some((at, h));
    }

    /// Ping every `reconnect.heartbeat` while the connection is open. The pings' seqs count
    /// down from [`HEARTBEAT_SEQ`], far from the cycle's (which count up from 1), so their
    /// answers are told apart without the cycle (`handlers.rs`).
    fn start_heartbeat(&mut self, ctx: &mut Context<Instance>) {
        let every = self.plan.reconnect.heartbeat.0;
        if every.is_zero() {
            return;
        }
        self.heartbeat = Some(ctx.run_interval(every, |act, _| {
            let sh = &mut act.shell;
            sh.beats += 1;
            let req = Request::Ping {
                seq: HEARTBEAT_SEQ - sh.beats,
            };
            sh.beat_sent = Some((HEARTBEAT_SEQ - sh.beats, Instant::now()));
            let values = who(&sh.user, &sh.instance_id);
            let frame = sh.driver.request(&sh.plan.wire, &req, &values);
            sh.send_frame(frame);
        }));
    }

    /// Start the connect; its outcome goes to the cycle.
    fn connect(&mut self, ctx: &mut Context<Instance>) {
        let plan = self.plan.clone();
        let local = plan.local_addr(self.global);
        let network = plan.shaped(self.global, self.phase_gen);
        let started = Instant::now();
        let (user, instance) = (self.user.clone(), self.instance_id.clone());
        let platform = self.platform;
        let traced = self.traced;
        let fut = async move {
            let who = crate::profile::template::Values {
                user_id: &user,
                instance: &instance,
                sdkappid: plan.sdkappid,
                platform: plan.profile.platform_name(platform),
                ..Default::default()
            };
            tokio::time::timeout(
                plan.connect_timeout,
                connect::connect(&plan, local, &who, traced, network),
            )
            .await
        };
        let fut = actix::fut::wrap_future::<_, Instance>(fut);
        ctx.wait(fut.map(move |res, act, ctx| {
            if act.cycle.phase() != Phase::Connecting {
                return;
            }
            match res {
                Ok(Ok(ws)) => {
                    metrics::record(Metric::Connect, micros(started.elapsed()));
                    act.shell.read_at = Some(ws.read_at());
                    metrics::count(Counter::ConnectionsOpened);
                    act.shell.link = Some(Link::new(ws, ctx));
                    act.shell.heard = None;
                    act.shell.beat_sent = None;
                    act.shell.asked = (0, 0);
                    act.shell.start_heartbeat(ctx);
                    let (c, mut io) = act.split(ctx);
                    c.connected(&mut io);
                }
                // Nothing listening during a disruption is its doing, not the backend's.
                _ if act.shell.plan.window.covering(Instant::now()).is_some() => {
                    metrics::count(Counter::ConnectionsFailedPlanned);
                    let (c, mut io) = act.split(ctx);
                    c.connect_failed(&mut io);
                }
                Ok(Err(e)) => {
                    metrics::connect_failed(e.reason());
                    let (c, mut io) = act.split(ctx);
                    c.connect_failed(&mut io);
                }
                Err(_) => {
                    metrics::connect_failed("timeout".into());
                    metrics::count(Counter::TimeoutsConnect);
                    let (c, mut io) = act.split(ctx);
                    c.connect_failed(&mut io);
                }
            }
        }));
    }
}

impl Io for ActorIo<'_> {
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// The read that completed the frame being handled, before this worker handled whatever
    /// came in ahead of it: the generator's own handling is not counted as the backend's.
    fn received(&self) -> Instant {
        self.sh
            .read_at
            .as_ref()
            .map_or_else(Instant::now, |r| r.get())
    }

    fn unix_now(&self) -> u64 {
        crate::unix_now()
    }

    fn disruption(&self) -> Option<Instant> {
        self.sh.plan.window.covering(Instant::now())
    }

    fn heard(&mut self, sent: Instant) {
        self.sh.heard(sent);
    }

    fn ghost_until(&self, silent: bool) -> Option<Instant> {
        let hold = self.sh.plan.ghost_hold?;
        if !silent && !self.sh.plan.window.keeps_sessions(Instant::now()) {
            return None;
        }
        let heard = self.sh.heard?;
        Some(heard.checked_add(hold).unwrap_or(heard + GHOST_FOREVER))
    }

    fn connect(&mut self) {
        self.sh.connect(self.ctx);
    }

    fn send(&mut self, req: &Request) -> bool {
        let sh = &mut *self.sh;
        let values = crate::profile::template::Values {
            platform: sh.plan.profile.platform_name(sh.platform),
            ..who(&sh.user, &sh.instance_id)
        };
        let frame = sh.driver.request(&sh.plan.wire, req, &values);
        if sh.traced {
            if let Request::Login { user_sig, .. } = req {
                sh.traced_sig = Some(user_sig.clone());
            }
        }
        let sent = sh.send_frame(frame);
        let number = sh.link.as_ref().map_or(0, Link::frames);
        sh.asked = (req.seq(), if sent { number } else { 0 });
        sent
    }

    fn send_frame(&mut self, frame: Outgoing) -> bool {
        self.sh.send_frame(frame)
    }

    fn close(&mut self) {
        if let Some(l) = self.sh.link.take() {
            l.close(self.ctx);
        }
        self.sh.stop_watch(self.ctx);
    }

    fn abandon(&mut self) {
        if let Some(l) = self.sh.link.take() {
            l.abandon(self.ctx);
        }
        self.sh.stop_watch(self.ctx);
    }

    fn reset(&mut self) {
        if let Some(l) = self.sh.link.take() {
            l.reset(self.ctx);
        }
        self.sh.stop_watch(self.ctx);
    }

    fn silence(&mut self) {
        if let Some(l) = self.sh.link.take() {
            let ghost = l.silence(self.ctx);
            self.sh.ghosts.push(ghost);
        }
        self.sh.stop_watch(self.ctx);
    }

    /// An actor's context polls every future it holds, so stale timers would cost every
    /// wake-up: the phase's are cancelled here.
    fn new_phase(&mut self) {
        for h in self.sh.timers.drain(..) {
            self.ctx.cancel_future(h);
        }
        self.sh.phase_gen += 1;
        self.sh.deadline = None;
    }

    /// A cycle has a timeout or a hold in nearly every phase, and creating and cancelling a
    /// tokio timer for each cost the generator a tenth of its CPU on back-to-back cycles. So a
    /// phase's step is a deadline, and one long-lived timer watches it: a new phase only moves
    /// the deadline, and the watch, when it fires before the current deadline (it was armed
    /// for an earlier phase), sleeps again until it. `d = 0` fires as soon as the current
    /// handler returns, not at the timer wheel's next millisecond tick.
    fn after(&mut self, d: Duration, t: Timer) {
        let gen = self.sh.phase_gen;
        if d.is_zero() {
            let h = self.ctx.spawn(
                actix::fut::ready(()).map(move |_, act: &mut Instance, ctx| fire(act, ctx, gen, t)),
            );
            self.sh.timers.push(h);
            return;
        }
        if self.sh.deadline.is_some() {
            // A second step in one phase (none today): its own timer, cancelled with the phase.
            let h = self
                .ctx
                .run_later(d, move |act, ctx| fire(act, ctx, gen, t));
            self.sh.timers.push(h);
            return;
        }
        let at = Instant::now() + d;
        self.sh.deadline = Some((at, t));
        match self.sh.watch {
            // The watch fires first and will sleep again until `at`.
            Some((w, _)) if w <= at => {}
            Some((_, h)) => {
                self.ctx.cancel_future(h);
                self.sh.arm_watch(self.ctx, at);
            }
            None => self.sh.arm_watch(self.ctx, at),
        }
    }

    fn every(&mut self, first: Duration, every: Duration, t: Timer) {
        let gen = self.sh.phase_gen;
        let h = self.ctx.run_later(first, move |act, ctx| {
            fire(act, ctx, gen, t);
            if act.shell.phase_gen == gen {
                let h = ctx.run_interval(every, move |act, ctx| fire(act, ctx, gen, t));
                act.shell.timers.push(h);
            }
        });
        self.sh.timers.push(h);
    }

    fn tell(&mut self, t: Told) {
        self.sh.account.tell(t);
    }

    fn count(&mut self, c: Counter) {
        metrics::count(c);
    }

    fn record(&mut self, m: Metric, micros: u64) {
        metrics::record(m, micros);
    }

    fn login_failed(&mut self, code: u32) {
        metrics::login_failed(code);
    }

    fn live(&mut self, delta: i64) {
        metrics::live(delta);
    }

    fn stop(&mut self) {
        self.ctx.stop();
    }
}
