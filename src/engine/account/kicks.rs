//! The account's kicks: each `kickedOut` its instances saw (counted, judged, and timed from
//! its cause), and the admin kicks the kicker sends (70052 refusals they provoke are not
//! failures; sessions they must end are probed once their time has come).

use tokio::time::Instant;

use super::Account;
use crate::engine::metrics::{self, Counter, Metric};
use crate::policy::KickType;

#[derive(Debug)]
pub struct Kicked {
    pub slot: u8,
    pub kick: KickType,
    pub at: Instant,
    /// The instance's UserSig had expired by the wall clock when the kick arrived.
    pub sig_expired: bool,
}

impl Account {
    /// An instance saw `kickedOut`.
    pub(super) fn kicked(&mut self, m: Kicked) {
        self.report.kicks[m.kick.index()] += 1;
        let t = self.t(m.at);
        let found = match &mut self.history {
            Some(h) => h.kicked(m.slot, m.kick, t, m.sig_expired),
            None => vec![],
        };
        self.record(found);
        let cause = match m.kick {
            KickType::MultipleAccount | KickType::MultipleDevice => self
                .last_login
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != m.slot as usize)
                .filter_map(|(_, t)| *t)
                .filter(|t| *t <= m.at)
                .max(),
            KickType::RestApiKick => self.admin_kick_at.filter(|t| *t <= m.at),
            KickType::UserSigExpired => None,
        };
        if let Some(c) = cause {
            metrics::record(
                Metric::KickPropagation,
                u64::try_from((m.at - c).as_micros()).unwrap_or(u64::MAX),
            );
        }
    }

    /// A login of this account was refused with 70052 (UserSig invalidated by an admin kick).
    pub(super) fn sig_invalidated(&mut self) {
        // The kicker waits until the account has taken `AdminKickSent` before it sends the
        // kick, so a 70052 that the kick caused always finds `admin_kick_at` set.
        if self.admin_kick_at.is_some() {
            metrics::count(Counter::LoginsRefusedAfterAdminKick);
        } else {
            metrics::login_failed(crate::protocol::code::SIG_INVALIDATED);
        }
    }
}

impl Account {
    /// The admin kicker is about to kick this account through the REST API. Answers whether
    /// it may: an account none of whose instances has logged in yet is not kicked (the
    /// backend may rightly refuse to kick an account it never saw).
    pub(super) fn admin_kick_sent(&mut self, at: Instant) -> bool {
        if !self.logged_in_once {
            return false;
        }
        // Counted here, on the account's worker: the kicker runs on the controller's thread,
        // whose recorder no collector takes.
        metrics::count(Counter::AdminKicksSent);
        self.admin_kick_at = Some(at);
        let t = self.t(at);
        if let Some(h) = &mut self.history {
            h.admin_kick_sent(t);
        }
        true
    }

    /// The admin kick sent at `sent` was answered OK by the backend.
    pub(super) fn admin_kick_answered(&mut self, sent: Instant) {
        let sent = self.t(sent);
        self.arm_admin_due(sent);
    }
}
