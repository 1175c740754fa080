//! A session that ended under its instance, on a wire whose broker takes a session over
//! without a word (`mqtt.takeover = "inferred"`): a takeover or a lost connection?
//!
//! The declared inference: it is a takeover when another instance of the account (sharing its
//! ClientId) sent a login after this session's own and at most `mqtt.takeover_window` before
//! the end. Then it counts as a `multipleAccount` kick — the checks judge it as any kick — and
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
        let own = self.last_login[slot as usize];
        let newer = self
            .last_login
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != slot as usize)
            .filter_map(|(_, t)| *t)
            .any(|t| {
                t <= at && at.saturating_duration_since(t) <= window && own.is_none_or(|o| t > o)
            });
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
