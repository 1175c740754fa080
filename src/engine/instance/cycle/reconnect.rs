//! Coming back after a lost connection, as an SDK does (`[reconnect]`): wait a backoff,
//! connect (`onConnecting`), log in again and finish the hold the loss interrupted. A connect
//! that fails waits longer; a re-login refused or unanswered ends the cycle as any failed
//! login does (`reconnects_given_up`).

use std::time::Duration;
use tokio::time::Instant;

use super::{micros, Cycle, Io, Phase, Timer};
use crate::engine::metrics::{Counter, Metric};
use crate::scenario::Cut;

/// Where an instance is in coming back from a loss.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Comeback {
    /// When the loss was noticed (`None`: not coming back from one).
    pub lost_at: Option<Instant>,
    /// When the disruption that caused it began, for a ready session it took down.
    pub disrupted_at: Option<Instant>,
    /// Connects tried since the loss.
    pub attempts: u32,
    /// When the interrupted hold was due to end.
    pub hold_until: Option<Instant>,
}

impl Cycle {
    /// Whether the instance is coming back from a loss (its connects are reconnects).
    pub fn reconnecting(&self) -> bool {
        self.comeback.lost_at.is_some()
    }

    /// A `[[chaos]]` drop cuts the connection mid-session, the way `how` says: a loss the
    /// scenario caused (planned), after which the instance comes back as after any loss.
    pub fn cut(&mut self, io: &mut impl Io, how: Cut) {
        self.cut_as(io, how, true);
    }

    /// [`Cycle::cut`], coming back only if `come_back` (a trace's drop: the user is gone).
    pub(super) fn cut_as<I: Io>(&mut self, io: &mut I, how: Cut, come_back: bool) {
        let in_session = matches!(
            self.phase,
            Phase::LoggingIn | Phase::AwaitReady | Phase::Ready
        );
        if !in_session || !self.linked || self.stopping {
            return;
        }
        io.count(Counter::ConnectionsLostPlanned);
        let was_ready = self.phase == Phase::Ready;
        let disruption = io.disruption().or_else(|| Some(io.now()));
        self.set_phase(io, Phase::Idle);
        // The session's end as the client knows it; a silent drop's comes much later on the
        // server (a ghost, held at least until its bound: checks/accounting.rs).
        let ghost = io.ghost_until(true).filter(|_| how == Cut::Silent);
        self.let_go(
            io,
            match how {
                Cut::Close => I::close,
                Cut::Reset => I::reset,
                Cut::Silent => I::silence,
            },
            ghost,
        );
        if !(come_back && self.come_back(io, disruption, was_ready)) {
            self.cycle_done(io, false);
        }
    }

    /// A loss mid-session, already counted and dropped: come back if the scenario says so.
    /// `was_ready`: the session was ready (a disruption's recovery counts those).
    pub(super) fn come_back(
        &mut self,
        io: &mut impl Io,
        disruption: Option<Instant>,
        was_ready: bool,
    ) -> bool {
        if !self.plan.reconnect.enabled() || self.stopping {
            return false;
        }
        let now = io.now();
        self.comeback.lost_at = Some(now);
        self.comeback.attempts = 0;
        self.comeback.disrupted_at = disruption.filter(|_| was_ready);
        if self.comeback.disrupted_at.is_some() {
            io.count(Counter::SessionsDisrupted);
        }
        // A resumed session is on its own: no wave to line up with or be judged in.
        self.barrier = false;
        self.owed = Duration::ZERO;
        self.wait_to_reconnect(io);
        true
    }

    fn wait_to_reconnect(&mut self, io: &mut impl Io) {
        self.set_phase(io, Phase::Reconnecting);
        let wait = self
            .plan
            .reconnect
            .delay(self.comeback.attempts, self.rng.f64());
        io.after(wait, Timer::Reconnect);
    }

    /// The backoff is over: try to connect.
    pub(super) fn reconnect(&mut self, io: &mut impl Io) {
        if self.phase != Phase::Reconnecting {
            return;
        }
        self.comeback.attempts += 1;
        io.count(Counter::ReconnectAttempts);
        self.set_phase(io, Phase::Connecting);
        io.connect();
    }

    /// A reconnect's connect failed: wait longer and try again.
    pub(super) fn reconnect_failed(&mut self, io: &mut impl Io) {
        self.wait_to_reconnect(io);
    }

    /// Ready again after a loss: record how long it took, and how long the hold has left.
    pub(super) fn back(&mut self, io: &mut impl Io) -> Option<Duration> {
        let lost_at = self.comeback.lost_at.take()?;
        let now = io.received();
        io.record(
            Metric::Reconnect,
            micros(now.saturating_duration_since(lost_at)),
        );
        io.count(Counter::Reconnects);
        if let Some(d) = self.comeback.disrupted_at.take() {
            io.record(Metric::Recovery, micros(now.saturating_duration_since(d)));
        }
        Some(
            self.comeback
                .hold_until
                .map_or(Duration::ZERO, |u| u.saturating_duration_since(now)),
        )
    }

    /// The cycle ends while coming back (a re-login refused or unanswered, a kick).
    pub(super) fn comeback_ended(&mut self, io: &mut impl Io, stopping: bool) {
        if self.comeback.lost_at.take().is_some() {
            io.count(if stopping {
                Counter::ReconnectsUnfinished
            } else {
                Counter::ReconnectsGivenUp
            });
        }
        self.comeback.disrupted_at = None;
    }
}
