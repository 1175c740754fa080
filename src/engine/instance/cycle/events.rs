//! The events a cycle is handed: the account's orders (go, release, proceed, probe, stop),
//! the connection's outcome and end, what frames meant, and its timers firing.

use std::time::Duration;

use super::{Cycle, Io, Phase, Timer};
use crate::checks::ProbeKind;
use crate::driver::Meaning;
use crate::engine::account::{Observed, Told};
use crate::engine::metrics::Counter;
use crate::scenario::LoadModel;

impl Cycle {
    /// Start a cycle, `late` behind its intended start; `barrier`: connect, report `Arrived`,
    /// and log in only on [`Cycle::release`].
    pub fn go(&mut self, io: &mut impl Io, late: Duration, barrier: bool) {
        if !self.startable() {
            return;
        }
        self.owed = match self.plan.model {
            // An arrival's or a trace row's instant is the user's: lateness is owed.
            LoadModel::Open | LoadModel::Trace => late,
            LoadModel::Closed => Duration::ZERO,
        };
        self.barrier = barrier;
        if self.linked {
            self.arrived(io);
        } else {
            self.set_phase(io, Phase::Connecting);
            io.connect();
        }
    }

    /// The connection [`Io::connect`] opened is up.
    pub fn connected(&mut self, io: &mut impl Io) {
        if self.phase != Phase::Connecting {
            return;
        }
        self.linked = true;
        self.arrived(io);
    }

    /// The connect failed or timed out: a cycle that never reached the backend (counted by
    /// the I/O side in `connections_failed`, not as a cycle).
    pub fn connect_failed(&mut self, io: &mut impl Io) {
        if self.phase != Phase::Connecting {
            return;
        }
        if self.reconnecting() && !self.stopping {
            return self.reconnect_failed(io);
        }
        self.end_cycle(io, false);
    }

    /// What a frame meant, as the driver read it.
    pub fn meaning(&mut self, io: &mut impl Io, m: Meaning) {
        match m {
            Meaning::Response { seq, code, repeat } => self.on_response(io, seq, code, repeat),
            Meaning::Ready => {
                if self.phase == Phase::AwaitReady {
                    return self.on_ready(io);
                }
                io.count(Counter::ProtocolErrors);
                self.observe(io, |slot, at| Observed::Ready { slot, at });
                // Ready after a kick: does the kicked session act again (a zombie)?
                if self.last_kicked && !self.stopping {
                    self.maybe_probe(io, ProbeKind::AfterKick, self.plan.checks.probe_after_kick);
                }
            }
            Meaning::Kicked(kind) => self.on_kicked(io, kind),
            Meaning::NotReady => self.observe(io, |slot, at| Observed::NotReady { slot, at }),
            Meaning::MessageReceived => io.count(Counter::MessagesReceived),
            Meaning::Reply(frame) => {
                if !io.send_frame(frame) {
                    self.lost(io);
                }
            }
            Meaning::Ignored => {}
            Meaning::Unmatched(_) => {
                io.count(Counter::ProtocolErrors);
                io.count(Counter::ProtocolErrorsUnmatched);
            }
        }
    }

    /// The connection ended under the instance: the server closed it, or a read or write
    /// failed (a close or drop of the instance's own does not come here).
    pub fn lost(&mut self, io: &mut impl Io) {
        if self.phase == Phase::LoggingOut && self.plan.wire.logout_closes() {
            // The protocol's logout has no answer (MQTT's DISCONNECT): the close is its end.
            self.linked = false;
            io.abandon();
            let closes = self.closes_after_logout();
            // The close is noticed now (it brings no frame whose receipt was stamped).
            let took = io.now().saturating_duration_since(self.logout_sent);
            io.record(crate::engine::metrics::Metric::Logout, super::micros(took));
            self.logout_answered(io, 0);
            if !closes {
                // Kept connections end here too: the history hears of it.
                self.observe(io, |slot, at| Observed::Gone { slot, at });
            }
            return;
        }
        let in_session = matches!(
            self.phase,
            Phase::LoggingIn | Phase::AwaitReady | Phase::Ready
        );
        if in_session && self.plan.wire.takeover_window().is_some() {
            // A broker that takes a session over without a word: the account, which saw the
            // account's other logins, tells a takeover from a lost connection
            // (`engine/account/drops.rs`) — before the session's end reaches its history.
            let at = io.now();
            io.tell(Told::Dropped {
                slot: self.slot,
                at,
            });
            self.set_phase(io, Phase::Idle);
            self.drop_connection(io);
            return self.cycle_done(io, false);
        }
        let in_cycle = self.phase != Phase::Idle;
        if !in_cycle && self.last_kicked {
            // The server closed the connection of a session it had kicked (XMPP's stream
            // error is followed by the stream's close): the kick's end, not a loss.
            return self.drop_connection(io);
        }
        if self.phase == Phase::LoggingOut && self.kicked_while_logging_out {
            // Kicked while its logout was on the way (an operator's kick, a replacement): the
            // kick ended the session and the server the connection, the logout unanswered —
            // the backend being right, as with a logout refused after a kick.
            io.count(Counter::LogoutsRefusedAfterKick);
            self.set_phase(io, Phase::Idle);
            self.drop_connection(io);
            return self.cycle_done(io, false);
        }
        // A loss while a disruption is under way is its doing (engine/chaos.rs).
        let disruption = io.disruption();
        io.count(if disruption.is_some() {
            Counter::ConnectionsLostPlanned
        } else {
            Counter::ConnectionsLost
        });
        let was_ready = self.phase == Phase::Ready;
        self.set_phase(io, Phase::Idle);
        let ghost = io.ghost_until(false).filter(|_| in_session);
        self.let_go(io, Io::abandon, ghost);
        if in_session && self.come_back(io, disruption, was_ready) {
            return;
        }
        if in_cycle {
            self.cycle_done(io, false);
        }
    }

    /// A timer the cycle armed fired (in the phase that armed it).
    pub fn fire(&mut self, io: &mut impl Io, t: Timer) {
        match t {
            Timer::LoginTimeout => {
                io.count(Counter::TimeoutsLogin);
                self.resync(io);
            }
            Timer::ReadyTimeout => {
                io.count(Counter::TimeoutsReady);
                // With the checks on, ask whether the session still exists before giving up:
                // a silently kicked session owes no sdkStateReady.
                if self.plan.checks.enabled && self.probe(io, ProbeKind::ReadyDue) {
                    return io.after(self.plan.login_timeout, Timer::ReadyProbeWait);
                }
                self.ready_missing(io, None);
            }
            Timer::ReadyProbeWait => self.ready_missing(io, None),
            Timer::HoldEnd => self.end_hold(io),
            Timer::JudgmentWait => {
                io.count(Counter::JudgmentWaitsExpired);
                self.proceed(io);
            }
            Timer::LogoutTimeout => {
                io.count(Counter::TimeoutsLogout);
                self.resync(io);
            }
            Timer::Login => self.login(io),
            Timer::Relogin => {
                self.owed = Duration::ZERO;
                self.login(io);
            }
            Timer::Message => self.send_message(io),
            Timer::Reconnect => self.reconnect(io),
        }
    }

    /// Wind down: log out if logged in, close, and stop.
    pub fn stop(&mut self, io: &mut impl Io) {
        self.stopping = true;
        match self.phase {
            Phase::Ready => self.logout(io),
            Phase::LoggingOut | Phase::LoggingIn | Phase::AwaitReady => {}
            Phase::Idle | Phase::Connecting | Phase::Arrived | Phase::Reconnecting => {
                self.set_phase(io, Phase::Idle);
                self.comeback_ended(io, true);
                self.close(io);
                io.stop();
            }
        }
    }

    /// The account wants a probe (settle or due): answered through `Observed::Probe`.
    pub fn probe_asked(&mut self, io: &mut impl Io, kind: ProbeKind) {
        if self.phase == Phase::Ready && self.probe(io, kind) {
            return;
        }
        self.observe(io, |slot, at| Observed::Probe {
            slot,
            kind,
            code: None,
            at,
        });
    }

    /// The account releases a wave: log in after `delay` (0 for a barrier, a draw for jitter).
    pub fn release(&mut self, io: &mut impl Io, delay: Duration) {
        if self.phase != Phase::Arrived || self.stopping {
            return;
        }
        if delay.is_zero() {
            self.login(io);
        } else {
            io.after(delay, Timer::Login);
        }
    }

    /// The account judged the wave (or gave up waiting): end the cycle as planned.
    pub fn proceed(&mut self, io: &mut impl Io) {
        if self.awaiting_judgment && self.phase == Phase::Ready {
            self.awaiting_judgment = false;
            self.end_session(io);
        }
    }
}
