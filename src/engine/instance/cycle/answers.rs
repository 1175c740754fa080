//! What the backend answers the cycle: responses to its requests (login, logout, messages,
//! probes), a missing `sdkStateReady`, and kicks.

use super::{Cycle, Io, Phase, Timer};
use crate::checks::ProbeKind;
use crate::engine::account::{Kicked, Observed, Told};
use crate::engine::metrics::{Counter, Metric};
use crate::policy::KickType;
use crate::protocol::code;
use crate::scenario::{ConnectionMode, CycleEnd, OnKick};

impl Cycle {
    /// The oldest request in flight (ids grow, so the smallest).
    fn oldest_unanswered(&self) -> Option<u64> {
        let ctrl =
            matches!(self.phase, Phase::LoggingIn | Phase::LoggingOut).then_some(self.ctrl_seq);
        ctrl.into_iter()
            .chain(self.probes.iter().map(|(s, _)| *s))
            .chain(self.messages.iter().map(|(s, _)| *s))
            .min()
    }

    /// A response: to request `seq`, or (a protocol that answers in order) to the oldest
    /// request still unanswered.
    pub(super) fn on_response(
        &mut self,
        io: &mut impl Io,
        seq: Option<u64>,
        code: u32,
        repeat: bool,
    ) {
        let Some(seq) = seq.or_else(|| self.oldest_unanswered()) else {
            return io.count(Counter::ProtocolErrors);
        };
        if let Some(i) = self.probes.iter().position(|(s, _)| *s == seq) {
            let (_, kind) = self.probes.swap_remove(i);
            if kind == ProbeKind::ReadyDue {
                return self.ready_missing(io, Some(code));
            }
            return self.observe(io, |slot, at| Observed::Probe {
                slot,
                kind,
                code: Some(code),
                at,
            });
        }
        if let Some(i) = self.messages.iter().position(|(s, _)| *s == seq) {
            let (_, sent) = self.messages.swap_remove(i);
            self.record_since(io, Metric::Message, sent);
            return io.count(match code {
                0 => Counter::MessagesOk,
                // The session ended (kick, expiry) while the request was on its way: expected.
                c if code::ends_session(c) => Counter::MessagesRefused,
                _ => Counter::MessagesFailed,
            });
        }
        if seq != self.ctrl_seq {
            return io.count(Counter::ProtocolErrors);
        }
        match self.phase {
            Phase::LoggingIn => self.login_answered(io, code, repeat),
            Phase::LoggingOut => self.logout_answered(io, code),
            _ => io.count(Counter::ProtocolErrors),
        }
    }

    fn login_answered(&mut self, io: &mut impl Io, code: u32, repeat: bool) {
        if code == 0 {
            io.heard(self.login_sent);
        }
        let sig_expires = self.session_sig_time.map(|t| t + self.plan.sig_lifetime);
        self.observe(io, |slot, at| Observed::LoginAnswered {
            slot,
            ok: code == 0,
            in_use: code == code::LOGIN_IN_PROGRESS,
            repeat,
            sig_expires,
            at,
        });
        if code != 0 {
            if code == code::SIG_INVALIDATED {
                // Provoked by the scenario's own admin kick, or a failure: the account knows
                // whether it was kicked before this answer. Either way the kick voided every
                // sig issued up to now: the next one must be newer.
                io.tell(Told::SigInvalidated);
                self.sig_not_before = io.unix_now() + 1;
            } else {
                io.login_failed(code);
            }
            self.set_phase(io, Phase::Idle);
            if self.plan.connection == ConnectionMode::Fresh
                || self.plan.wire.stream_is_the_session()
            {
                // Every cycle on a new connection; and a stream that refused its login cannot
                // log in again.
                self.close(io);
            }
            return self.cycle_done(io, false);
        }
        self.record_login_answer(io, Metric::Login, Metric::LoginService);
        io.count(Counter::LoginsOk);
        if !self.told_logged_in {
            self.told_logged_in = true;
            io.tell(Told::LoggedIn);
        }
        self.set_phase(io, Phase::AwaitReady);
        if repeat {
            // Already logged in on this connection: no new sdkStateReady will come.
            io.count(Counter::RepeatLogins);
            return self.on_ready(io);
        }
        io.after(self.plan.ready_timeout, Timer::ReadyTimeout);
    }

    pub(super) fn logout_answered(&mut self, io: &mut impl Io, code: u32) {
        self.observe(io, |slot, at| Observed::LogoutAnswered { slot, at });
        if code == 0 {
            if !self.plan.wire.logout_closes() {
                // (A logout answered by the close is recorded where the close is seen.)
                self.record_since(io, Metric::Logout, self.logout_sent);
            }
            io.count(Counter::Logouts);
        } else if self.kicked_while_logging_out {
            // The kick ended the session first: the refusal is the backend being right.
            io.count(Counter::LogoutsRefusedAfterKick);
        } else {
            io.count(Counter::LogoutsFailed);
        }
        self.set_phase(io, Phase::Idle);
        if self.closes_after_logout() {
            self.close(io);
        } else if code == 0 {
            self.maybe_probe(
                io,
                ProbeKind::AfterLogout,
                self.plan.checks.probe_after_logout,
            );
        }
        self.cycle_done(io, false);
    }

    /// The connection goes with the logout (the scenario says so, or the instance stops).
    pub(super) fn closes_after_logout(&self) -> bool {
        self.plan.end == CycleEnd::LogoutClose
            || self.plan.connection == ConnectionMode::Fresh
            || self.stopping
    }

    /// No `sdkStateReady` came: report it (with the probe's answer, if any) and resynchronise.
    pub(super) fn ready_missing(&mut self, io: &mut impl Io, probe: Option<u32>) {
        if self.phase != Phase::AwaitReady {
            return;
        }
        self.observe(io, |slot, at| Observed::ReadyMissing { slot, probe, at });
        self.resync(io);
    }

    pub(super) fn on_kicked(&mut self, io: &mut impl Io, kick: KickType) {
        io.count(Counter::kick(kick));
        self.last_kicked = true;
        if kick == KickType::RestApiKick {
            self.sig_not_before = io.unix_now() + 1;
        }
        io.tell(Told::Kicked(Kicked {
            slot: self.slot,
            kick,
            at: io.now(),
            sig_expired: self.plan.sig_expired(self.session_sig_time),
        }));
        let in_session = matches!(
            self.phase,
            Phase::AwaitReady | Phase::Ready | Phase::LoggingIn
        );
        if self.plan.wire.stream_is_the_session() {
            // The kick ended the stream: closed now (nothing can be probed on it), so no next
            // cycle starts on a connection the server is closing.
            let logging_out = self.phase == Phase::LoggingOut;
            if in_session || logging_out {
                self.set_phase(io, Phase::Idle);
            }
            self.close(io);
            if logging_out {
                // Its logout will never be answered: the kick ended the session first.
                io.count(Counter::LogoutsRefusedAfterKick);
                return self.cycle_done(io, false);
            }
            if !in_session {
                return;
            }
        } else {
            if !self.stopping {
                self.maybe_probe(io, ProbeKind::AfterKick, self.plan.checks.probe_after_kick);
            }
            if self.phase == Phase::LoggingOut {
                self.kicked_while_logging_out = true;
            }
            // Kicked while logging out or between cycles: nothing of this cycle to cut short.
            if !in_session {
                return;
            }
            self.set_phase(io, Phase::Idle);
            if self.stopping {
                self.close(io);
            }
        }
        if self.stopping {
            return self.cycle_done(io, false);
        }
        match self.plan.on_kick {
            OnKick::Relogin(backoff) => io.after(backoff, Timer::Relogin),
            OnKick::NextCycle => self.cycle_done(io, false),
            OnKick::Stop => self.cycle_done(io, true),
        }
    }
}
