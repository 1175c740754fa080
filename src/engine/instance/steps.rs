//! An instance's own steps through a cycle: connect, log in, become ready, hold (with
//! messages), wait for the wave's judgment, log out.

use actix::prelude::*;
use tokio::time::Instant;

use super::{connect, micros, Instance, Phase, MAX_MESSAGES_IN_FLIGHT};
use crate::engine::account::{Observed, Told};
use crate::engine::metrics::{self, Counter, Metric};
use crate::protocol::Request;
use crate::scenario::{CycleEnd, MessageTo};

impl Instance {
    pub(super) fn connect(&mut self, ctx: &mut Context<Self>) {
        self.set_phase(ctx, Phase::Connecting);
        let plan = self.plan.clone();
        let local = plan.local_addr(self.global);
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
                connect::connect(&plan, local, &who, traced),
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
                    act.read_at = Some(ws.get_ref().read_at());
                    metrics::count(Counter::ConnectionsOpened);
                    act.link = Some(super::Link::new(ws, ctx));
                    act.connected(ctx);
                }
                Ok(Err(e)) => {
                    metrics::connect_failed(e.reason());
                    act.cycle_not_started(ctx);
                }
                Err(_) => {
                    metrics::connect_failed("timeout".into());
                    metrics::count(Counter::TimeoutsConnect);
                    act.cycle_not_started(ctx);
                }
            }
        }));
    }

    pub(super) fn login(&mut self, ctx: &mut Context<Self>) {
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
        self.account.tell(Told::LoginSent {
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

    pub(super) fn on_ready(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        self.observe(Observed::Ready {
            slot: self.slot,
            at: now,
        });
        self.record_login_answer(Metric::Ready, Metric::ReadyService);
        metrics::count(Counter::Readies);
        self.set_phase(ctx, Phase::Ready);
        if self.stopping {
            return self.logout(ctx);
        }
        let hold = self.plan.hold.sample(self.rng.f64());
        self.after(ctx, hold, |act, ctx| act.end_hold(ctx));
        if let Some(every) = self.plan.message_interval {
            // The first message at a random point of the first interval, then one per interval:
            // a hold of h sends h × rate messages on average even when h is shorter than the
            // interval, and the instances' messages do not all fall on the same ticks.
            let first = every.mul_f64(self.rng.f64());
            let h = ctx.run_later(first, move |act, ctx| {
                act.send_message(ctx);
                if act.phase == Phase::Ready {
                    let h = ctx.run_interval(every, |act, ctx| act.send_message(ctx));
                    act.timers.push(h);
                }
            });
            self.timers.push(h);
        }
    }

    pub(super) fn send_message(&mut self, ctx: &mut Context<Self>) {
        // Only a ready session sends. The phase's end cancels the message timer, but actix
        // drops a cancelled future only on its next pass: when the hold's end and a message
        // tick fall due in the same pass, the tick would still fire — after the logout went out
        // — and the backend's right answer (not logged in) would count against it.
        if self.phase != Phase::Ready || self.messages.len() >= MAX_MESSAGES_IN_FLIGHT {
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
    pub(super) fn end_hold(&mut self, ctx: &mut Context<Self>) {
        if self.barrier && self.plan.holds_for_judgment() && !self.stopping {
            self.awaiting_judgment = true;
            self.account.tell(Told::HoldEnded { slot: self.slot });
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
    pub(super) fn proceed(&mut self, ctx: &mut Context<Self>) {
        if self.awaiting_judgment && self.phase == Phase::Ready {
            self.awaiting_judgment = false;
            self.end_session(ctx);
        }
    }

    pub(super) fn end_session(&mut self, ctx: &mut Context<Self>) {
        match self.plan.end {
            CycleEnd::Close => {
                self.set_phase(ctx, Phase::Idle);
                self.close(ctx);
                self.cycle_done(ctx, false);
            }
            CycleEnd::Logout | CycleEnd::LogoutClose => self.logout(ctx),
        }
    }

    pub(super) fn logout(&mut self, ctx: &mut Context<Self>) {
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
}
