//! The account's side of the policy checks: it feeds what its instances saw into the pure
//! [`History`](crate::checks::History), settles the account once logins are quiet (probing when it
//! looks over capacity), and records what the checks find.

use std::time::Duration;
use tokio::time::Instant;

use super::{Account, MAX_LISTED_PER_ACCOUNT};
use crate::checks::{ProbeKind, Violation};
use crate::engine::instance::Probe;
use crate::engine::instance::Proceed;
use crate::engine::metrics;

impl Account {
    pub(super) fn t(&self, at: Instant) -> u64 {
        self.plan.micros_since_epoch(at)
    }

    pub(super) fn record(&mut self, vs: impl IntoIterator<Item = Violation>) {
        if let Some(h) = &mut self.history {
            metrics::judged(&h.take_judged());
        }
        for v in vs {
            metrics::violation(v.class);
            if self.report.violations.len() < MAX_LISTED_PER_ACCOUNT {
                self.report.violations.push(v);
            }
        }
    }

    /// Once no login is pending, check the account after the kick timeout.
    pub(super) fn arm_settle(&mut self) {
        let Some(h) = &self.history else { return };
        if h.login_pending() || self.settle_probes.is_some() {
            return;
        }
        // The settle check is due a kick timeout from now, for this generation of logins.
        // One lazy timer serves every re-arm: a login per cycle only moves the due time, and
        // the timer, when it fires early, sleeps again until the latest due time (creating and
        // cancelling a timer per login cost a tenth of the generator's CPU on kept cycles).
        // A due time is set exactly while its timer is pending (the timer clears it).
        let pending = self.settle_due.is_some();
        self.settle_due = Some((Instant::now() + self.plan.kick_timeout, self.settle_gen));
        if !pending {
            self.later(self.plan.kick_timeout, Self::settle_timer_fired);
        }
    }

    fn settle_timer_fired(&mut self) {
        let Some((due, gen)) = self.settle_due else {
            return;
        };
        let now = Instant::now();
        if due > now {
            self.later(due - now, Self::settle_timer_fired);
            return;
        }
        self.settle_due = None;
        if self.settle_gen == gen {
            self.settle();
        }
    }

    /// The wave is judged: instances holding for it may end their cycles.
    pub(super) fn wave_judged(&mut self) {
        self.judged_wave = true;
        for slot in std::mem::take(&mut self.holding) {
            self.instance(slot as usize).do_send(Proceed);
        }
    }

    /// The session of `slot` logged in with a UserSig that expires after unix second `unix`:
    /// if it still believes it is ready a kick timeout (and a second of clock slack) after
    /// that, it is probed — the backend owed it a `userSigExpired`.
    fn arm_expiry_due(&mut self, slot: u8, unix: u64) {
        let Some(login_sent) = self.history.as_ref().and_then(|h| h.session_id(slot)) else {
            return;
        };
        let wait = Duration::from_secs((unix + 2).saturating_sub(crate::unix_now()))
            + self.plan.kick_timeout;
        // Due after the run's planned end: the history is gone by then, nothing to judge.
        if self
            .plan
            .planned
            .is_some_and(|end| self.plan.epoch.elapsed() + wait > end)
        {
            return;
        }
        // One expiry timer per instance: a new session's replaces the last one's (a default
        // day-long sig would otherwise leave a timer per login, each polled on every wake-up).
        if let Some(t) = self.expiry_timers[slot as usize].take() {
            t.cancel();
        }
        let h = self.later(wait, move |act| {
            act.expiry_timers[slot as usize] = None;
            let Some(h) = &mut act.history else { return };
            if h.still_ready(slot, login_sent) {
                h.judge_due();
                act.instance(slot as usize)
                    .do_send(Probe(ProbeKind::ExpiryDue));
            }
        });
        self.expiry_timers[slot as usize] = Some(h);
    }

    /// An admin kick sent at `sent` was answered: a kick timeout later, the sessions it had
    /// to end that still believe they are ready are probed.
    pub(super) fn arm_admin_due(&mut self, sent: u64) {
        self.later(self.plan.kick_timeout, move |act| {
            let Some(h) = &mut act.history else { return };
            h.judge_due();
            for slot in h.admin_due(sent) {
                act.instance(slot as usize)
                    .do_send(Probe(ProbeKind::AdminDue));
            }
        });
    }

    pub(super) fn settle(&mut self) {
        let Some(h) = &mut self.history else { return };
        if h.login_pending() {
            return;
        }
        let (found, probe) = h.settle();
        self.record(found);
        if probe.is_empty() {
            return self.wave_judged();
        }
        self.settle_probes = Some((probe.len(), Vec::new()));
        for slot in probe {
            self.instance(slot as usize)
                .do_send(Probe(ProbeKind::Settle));
        }
    }
}

/// What an instance saw or did, for the account's history.
#[derive(Debug)]
pub enum Observed {
    LoginAnswered {
        slot: u8,
        ok: bool,
        /// Refused with 2025: the identity it logs in as already has a session.
        in_use: bool,
        repeat: bool,
        /// Unix second after which the session's UserSig has expired (minted sigs only).
        sig_expires: Option<u64>,
        at: Instant,
    },
    Ready {
        slot: u8,
        at: Instant,
    },
    /// No `sdkStateReady` within the ready timeout; `probe` is the answer to the probe sent
    /// then (`None`: none could be sent or answered).
    ReadyMissing {
        slot: u8,
        probe: Option<u32>,
        at: Instant,
    },
    NotReady {
        slot: u8,
        at: Instant,
    },
    LogoutSent {
        slot: u8,
        at: Instant,
    },
    /// The logout's answer (whatever its code): the backend decided it by now.
    LogoutAnswered {
        slot: u8,
        at: Instant,
    },
    /// Connection closed or lost, or the session abandoned after a timeout.
    Gone {
        slot: u8,
        at: Instant,
    },
    /// Connection gone without the server knowing (a silent cut, a gateway restart that kept
    /// the sessions): the session stays there, a ghost, at least `until`.
    Ghost {
        slot: u8,
        at: Instant,
        until: Instant,
    },
    /// A probe's answer: its code, or `None` when the instance could not probe (it was no
    /// longer ready) or the probe was never answered (the connection went).
    Probe {
        slot: u8,
        kind: ProbeKind,
        code: Option<u32>,
        at: Instant,
    },
}

impl Account {
    pub(super) fn observed(&mut self, m: Observed) {
        let ready_timeout = self.plan.ready_timeout;
        let (slot, at) = match &m {
            Observed::LoginAnswered { slot, at, .. }
            | Observed::Ready { slot, at }
            | Observed::ReadyMissing { slot, at, .. }
            | Observed::NotReady { slot, at }
            | Observed::LogoutSent { slot, at }
            | Observed::LogoutAnswered { slot, at }
            | Observed::Gone { slot, at }
            | Observed::Ghost { slot, at, .. }
            | Observed::Probe { slot, at, .. } => (*slot, self.t(*at)),
        };
        if let Observed::Probe {
            kind: ProbeKind::Settle,
            code,
            ..
        } = m
        {
            let Some((want, answers)) = &mut self.settle_probes else {
                return;
            };
            answers.push((slot, code));
            if answers.len() < *want {
                return;
            }
            let answers = std::mem::take(answers);
            self.settle_probes = None;
            if let Some(h) = &mut self.history {
                let found = h.settle_probed(&answers, at);
                self.record(found);
            }
            return self.wave_judged();
        }
        if let Observed::Probe {
            kind: kind @ (ProbeKind::AdminDue | ProbeKind::ExpiryDue),
            code,
            ..
        } = m
        {
            let found = self
                .history
                .as_mut()
                .and_then(|h| h.due_probed(slot, kind, at, code));
            return self.record(found);
        }
        let ghost_until = match &m {
            Observed::Ghost { until, .. } => self.t(*until),
            _ => 0,
        };
        let Some(h) = &mut self.history else { return };
        let mut arm = false;
        let mut expiry_due = None;
        let found: Vec<Violation> = match m {
            Observed::LoginAnswered {
                ok,
                in_use,
                repeat,
                sig_expires,
                ..
            } => {
                arm = true;
                if in_use {
                    h.login_refused_in_use(slot);
                }
                if let (true, Some(unix)) = (ok && !repeat, sig_expires) {
                    expiry_due = Some(unix);
                }
                h.login_answered(slot, at, ok, repeat).into_iter().collect()
            }
            Observed::Ready { .. } => h.ready(slot, at).into_iter().collect(),
            Observed::ReadyMissing { probe, .. } => h
                .ready_missing(
                    slot,
                    at,
                    u64::try_from(ready_timeout.as_micros()).unwrap_or(u64::MAX),
                    probe,
                )
                .into_iter()
                .collect(),
            Observed::NotReady { .. } => h.not_ready(slot, at).into_iter().collect(),
            Observed::LogoutSent { .. } => {
                h.logout_sent(slot, at);
                vec![]
            }
            Observed::LogoutAnswered { .. } => {
                h.logout_answered(slot, at);
                vec![]
            }
            Observed::Gone { .. } => {
                arm = true;
                h.gone(slot, at);
                vec![]
            }
            Observed::Ghost { .. } => {
                arm = true;
                h.ghost(slot, at, ghost_until);
                vec![]
            }
            Observed::Probe { kind, code, .. } => {
                h.probe_answered(slot, kind, at, code).into_iter().collect()
            }
        };
        self.record(found);
        if arm {
            self.arm_settle();
        }
        if let Some(unix) = expiry_due {
            self.arm_expiry_due(slot, unix);
        }
    }
}
