//! What the backend answers an instance: responses to its requests (login, logout, messages,
//! probes), a missing `sdkStateReady`, and kicks.

use actix::prelude::*;
use std::time::Duration;
use tokio::time::Instant;

use super::{micros, Instance, Phase};
use crate::checks::ProbeKind;
use crate::engine::account::{Kicked, Observed, Told};
use crate::engine::metrics::{self, Counter, Metric};
use crate::scenario::{ConnectionMode, CycleEnd, OnKick};

impl Instance {
    /// The oldest request in flight (ids grow, so the smallest).
    fn oldest_unanswered(&self) -> Option<u64> {
        let ctrl =
            matches!(self.phase, Phase::LoggingIn | Phase::LoggingOut).then_some(self.ctrl_seq);
        ctrl.into_iter()
            .chain(self.probes.iter().map(|(s, _)| *s))
            .chain(self.messages.iter().map(|(s, _)| *s))
            .min()
    }

    /// A response: to request `seq`, or (a profile that matches responses in order) to the
    /// oldest request still unanswered.
    pub(super) fn on_response(
        &mut self,
        ctx: &mut Context<Self>,
        seq: Option<u64>,
        code: u32,
        repeat: bool,
    ) {
        let Some(seq) = seq.or_else(|| self.oldest_unanswered()) else {
            metrics::count(Counter::ProtocolErrors);
            return;
        };
        if let Some(i) = self.probes.iter().position(|(s, _)| *s == seq) {
            let (_, kind) = self.probes.swap_remove(i);
            if kind == ProbeKind::ReadyDue {
                return self.ready_missing(ctx, Some(code));
            }
            self.observe(Observed::Probe {
                slot: self.slot,
                kind,
                code: Some(code),
                at: Instant::now(),
            });
            return;
        }
        if let Some(i) = self.messages.iter().position(|(s, _)| *s == seq) {
            let (_, sent) = self.messages.swap_remove(i);
            self.record_since(Metric::Message, sent);
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
                        self.account.tell(Told::SigInvalidated);
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
                self.record_login_answer(Metric::Login, Metric::LoginService);
                metrics::count(Counter::LoginsOk);
                if !self.told_logged_in {
                    self.told_logged_in = true;
                    self.account.tell(Told::LoggedIn);
                }
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
                    self.record_since(Metric::Logout, self.logout_sent);
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
    pub(super) fn ready_missing(&mut self, ctx: &mut Context<Self>, probe: Option<u32>) {
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

    pub(super) fn on_kicked(&mut self, ctx: &mut Context<Self>, kick: crate::policy::KickType) {
        metrics::count(Counter::kick(kick));
        self.last_kicked = true;
        if kick == crate::policy::KickType::RestApiKick {
            self.sig_not_before = crate::unix_now() + 1;
        }
        self.account.tell(Told::Kicked(Kicked {
            slot: self.slot,
            kick,
            at: Instant::now(),
            sig_expired: self.plan.sig_expired(self.session_sig_time),
        }));
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
                    act.owed = Duration::ZERO;
                    act.login(ctx);
                });
            }
            OnKick::NextCycle => self.cycle_done(ctx, false),
            OnKick::Stop => self.cycle_done(ctx, true),
        }
    }
}

/// Where a response's latencies end (`engine/stamped.rs`).
impl Instance {
    /// When the frame being handled was received: the read that completed it, before this
    /// worker handled whatever came in ahead of it. Latencies end here, so the generator's
    /// own handling is not counted as the backend's.
    fn received(&self) -> Instant {
        self.read_at.as_ref().map_or_else(Instant::now, |r| r.get())
    }

    /// Record `m`: from `sent` to the receipt of the frame being handled.
    fn record_since(&self, m: Metric, sent: Instant) {
        metrics::record(m, micros(self.received().saturating_duration_since(sent)));
    }

    /// Record an answer to the login (its response, or `sdkStateReady`): `full` from where
    /// the cycle's latencies start, `service` from the login's send.
    pub(super) fn record_login_answer(&self, full: Metric, service: Metric) {
        self.record_since(full, self.start_mark());
        self.record_since(service, self.login_sent);
    }
}
