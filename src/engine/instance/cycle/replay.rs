//! The trace model's orders (`load.model = "trace"`): a session begins on a login row and lasts
//! until its logout or drop row — no hold of its own. A login row for an instance still ending
//! its last session waits for that end; a logout row for one still coming up logs out as soon
//! as it is ready.

use std::time::Duration;

use super::{Cycle, Io, Phase};
use crate::scenario::Cut;

impl Cycle {
    /// Whether sessions last until the trace ends them.
    pub(super) fn replayed(&self) -> bool {
        self.plan.replay.is_some()
    }

    /// A login row, `late` behind its instant.
    pub fn replay_login(&mut self, io: &mut impl Io, late: Duration) {
        if self.startable() {
            self.replay.end_when_ready = false;
            self.go(io, late, false);
        } else if !self.stopping {
            self.replay.queued_login = true;
        }
    }

    /// A logout row.
    pub fn replay_logout(&mut self, io: &mut impl Io) {
        self.replay.queued_login = false;
        match self.phase {
            Phase::Ready => self.end_session(io),
            Phase::Connecting | Phase::Arrived | Phase::LoggingIn | Phase::AwaitReady => {
                self.replay.end_when_ready = true;
            }
            // Coming back from a loss the user no longer waits for.
            Phase::Reconnecting => {
                self.set_phase(io, Phase::Idle);
                self.cycle_done(io, false);
            }
            Phase::Idle | Phase::LoggingOut => {}
        }
    }

    /// A drop row: the connection dies without a word and the user is gone (no reconnect).
    pub fn replay_drop(&mut self, io: &mut impl Io) {
        self.replay.queued_login = false;
        self.cut_as(io, Cut::Silent, false);
    }

    /// A cycle ended: a login row that came while it was ending starts the next one now.
    pub(super) fn replay_next(&mut self, io: &mut impl Io) {
        if std::mem::take(&mut self.replay.queued_login) && self.startable() {
            self.replay.end_when_ready = false;
            self.go(io, Duration::ZERO, false);
        }
    }
}

/// What the trace asked that could not be done at once.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Pending {
    /// Log out as soon as ready.
    pub end_when_ready: bool,
    /// Log in as soon as the current session has ended.
    pub queued_login: bool,
}
