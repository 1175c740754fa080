//! A session that ended under its instance, on a wire whose broker takes a session over
//! without a word (`mqtt.takeover = "inferred"`): a takeover or a lost connection?
//!
//! The declared inference: it is a takeover when another instance of the account (sharing its
//! ClientId) sent a login at most `mqtt.takeover_window` before the end and its session is
//! still on (its cycle has not ended since). Which of two simultaneous logins the broker took
//! first is not the order they were sent in — in a barrier wave they leave together — so the
//! send order is not asked; a login whose own session already ended cannot have taken this one
//! over (it was itself taken over, or closed). Then it counts as a `multipleAccount` kick — the checks judge it as any kick — and
//! in `takeovers_inferred`; otherwise it is a lost connection. The instance tells its account
//! before the session's end reaches the history, so the kick comes first there, as a kick
//! the broker sent would.
//!
//! What the inference cannot tell: a broker that dies while a wave's newer logins are on
//! their way ends the older sessions within the window of those logins, and they are counted
//! as takeovers; the newer logins then fail or time out, and the run fails as a lost target
//! all the same. A broker that dies while sessions hold (no login within the window) is only
//! lost connections.

use tokio::time::Instant;

use super::{Account, Kicked};
use crate::engine::metrics::{self, Counter};
use crate::policy::KickType;

impl Account {
    pub(super) fn dropped(&mut self, slot: u8, at: Instant) {
        let Some(window) = self.plan.wire.takeover_window() else {
            return metrics::count(Counter::ConnectionsLost);
        };
        self.in_session[slot as usize] = false;
        let newer = self
            .last_login
            .iter()
            .zip(&self.in_session)
            .enumerate()
            .filter(|(i, (_, on))| *i != slot as usize && **on)
            .filter_map(|(_, (t, _))| *t)
            .any(|t| t <= at && at.saturating_duration_since(t) <= window);
        if !newer {
            return metrics::count(Counter::ConnectionsLost);
        }
        metrics::count(Counter::TakeoversInferred);
        metrics::count(Counter::kick(KickType::MultipleAccount));
        self.kicked(Kicked {
            slot,
            kick: KickType::MultipleAccount,
            at,
            sig_expired: false,
        });
    }
}
