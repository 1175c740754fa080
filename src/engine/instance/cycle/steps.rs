//! The cycle's own steps: log in, become ready, hold (with messages), wait for the wave's
//! judgment, log out.

use super::{Cycle, Io, Phase, Timer, MAX_MESSAGES_IN_FLIGHT};
use crate::engine::account::{Observed, Told};
use crate::engine::metrics::{Counter, Metric};
use crate::protocol::Request;
use crate::scenario::{CycleEnd, MessageTo};

impl Cycle {
    pub(super) fn login(&mut self, io: &mut impl Io) {
        self.seq += 1;
        self.ctrl_seq = self.seq;
        let req = Request::Login {
            seq: self.seq,
            sdk_app_id: self.plan.sdkappid,
            user_id: self.user.to_string(),
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
        self.login_sent = io.now();
        self.last_kicked = false;
        io.tell(Told::LoginSent {
            slot: self.slot,
            at: self.login_sent,
        });
        if !io.send(&req) {
            return self.lost(io);
        }
        self.set_phase(io, Phase::LoggingIn);
        io.after(self.plan.login_timeout, Timer::LoginTimeout);
    }

    pub(super) fn on_ready(&mut self, io: &mut impl Io) {
        self.observe(io, |slot, at| Observed::Ready { slot, at });
        self.record_login_answer(io, Metric::Ready, Metric::ReadyService);
        io.count(Counter::Readies);
        self.set_phase(io, Phase::Ready);
        let resumed = self.back(io);
        if self.stopping || std::mem::take(&mut self.replay.end_when_ready) {
            return self.logout(io);
        }
        if self.replayed() {
            // The trace ends the session (a logout or drop row); until then, no hold of its
            // own, but the messages of one.
            if let Some(every) = self.plan.message_interval {
                let first = every.mul_f64(self.rng.f64());
                io.every(first, every, Timer::Message);
            }
            return;
        }
        // A session back after a loss holds what was left of its hold.
        let hold = match resumed {
            Some(left) => left,
            None => {
                let hold = self.plan.hold.sample(self.rng.f64());
                self.comeback.hold_until = Some(io.now() + hold);
                hold
            }
        };
        io.after(hold, Timer::HoldEnd);
        if let Some(every) = self.plan.message_interval {
            // The first message at a random point of the first interval, then one per interval:
            // a hold of h sends h × rate messages on average even when h is shorter than the
            // interval, and the instances' messages do not all fall on the same ticks.
            let first = every.mul_f64(self.rng.f64());
            io.every(first, every, Timer::Message);
        }
    }

    pub(super) fn send_message(&mut self, io: &mut impl Io) {
        // Only a ready session sends. The phase's end cancels the message timer, but a
        // cancelled timer may still fire once in the same pass as the hold's end — after the
        // logout went out — and the backend's right answer (not logged in) would count
        // against it.
        if self.phase != Phase::Ready || self.messages.len() >= MAX_MESSAGES_IN_FLIGHT {
            return;
        }
        let to = match self.plan.message_to {
            MessageTo::Myself => self.user.to_string(),
            MessageTo::Peer => self.plan.user_id((self.n + 1) % self.plan.accounts),
        };
        self.seq += 1;
        let req = Request::SendMessage {
            seq: self.seq,
            to,
            text: "loginstorm".into(),
        };
        if io.send(&req) {
            self.messages.push((self.seq, io.now()));
            io.count(Counter::MessagesSent);
        } else {
            self.lost(io);
        }
    }

    /// The hold is over. In a judged wave the session stays until the account has judged the
    /// wave's capacity and kicks (docs/checks.md), so short holds do not leave checks inert.
    pub(super) fn end_hold(&mut self, io: &mut impl Io) {
        if self.barrier && self.plan.holds_for_judgment() && !self.stopping {
            self.awaiting_judgment = true;
            io.tell(Told::HoldEnded { slot: self.slot });
            // Never wait forever: a judgment needs at most the kick timeout and a probe.
            let wait = self.plan.kick_timeout + self.plan.login_timeout * 2;
            io.after(wait, Timer::JudgmentWait);
            return;
        }
        self.end_session(io);
    }

    pub(super) fn end_session(&mut self, io: &mut impl Io) {
        match self.plan.end {
            CycleEnd::Close => {
                self.set_phase(io, Phase::Idle);
                self.close(io);
                self.cycle_done(io, false);
            }
            CycleEnd::Logout | CycleEnd::LogoutClose => self.logout(io),
        }
    }

    pub(super) fn logout(&mut self, io: &mut impl Io) {
        self.seq += 1;
        self.ctrl_seq = self.seq;
        self.logout_sent = io.now();
        let at = self.logout_sent;
        self.observe(io, |slot, _| Observed::LogoutSent { slot, at });
        if !io.send(&Request::Logout { seq: self.seq }) {
            return self.lost(io);
        }
        self.set_phase(io, Phase::LoggingOut);
        self.kicked_while_logging_out = false;
        io.after(self.plan.logout_timeout, Timer::LogoutTimeout);
    }
}
