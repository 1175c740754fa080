//! The history checker: did the backend keep its login promises? (docs/checks.md)
//!
//! Pure: fed one account's observations (what each instance sent and saw, with timestamps in
//! microseconds since the run started), it reports violations of the policy. It never trusts the
//! server's own account, and it never reports what some acceptable order of overlapping logins
//! explains: a login's effect happened somewhere between its send and its answer.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

use crate::policy::{KickType, Platform, Policy};

pub mod accounting;
mod kicks;
mod session;
mod settle;
mod steps;

use accounting::{End, Stint};

/// The invariants checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Class {
    Capacity,
    LostKick,
    SpuriousKick,
    ExcessKick,
    KickCount,
    LateKick,
    VictimOrder,
    KickType,
    Zombie,
    Ready,
    Isolation,
}

impl Class {
    pub const COUNT: usize = 11;
    pub const ALL: [Class; Class::COUNT] = [
        Class::Capacity,
        Class::LostKick,
        Class::SpuriousKick,
        Class::ExcessKick,
        Class::KickCount,
        Class::LateKick,
        Class::VictimOrder,
        Class::KickType,
        Class::Zombie,
        Class::Ready,
        Class::Isolation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Capacity => "capacity",
            Class::LostKick => "lost_kick",
            Class::SpuriousKick => "spurious_kick",
            Class::ExcessKick => "excess_kick",
            Class::KickCount => "kick_count",
            Class::LateKick => "late_kick",
            Class::VictimOrder => "victim_order",
            Class::KickType => "kick_type",
            Class::Zombie => "zombie",
            Class::Ready => "ready",
            Class::Isolation => "isolation",
        }
    }

    /// Victim order is promised only "in most cases", and a late kick is slow rather than
    /// wrong: warnings, not failures.
    pub fn is_warning(self) -> bool {
        matches!(self, Class::VictimOrder | Class::LateKick)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One broken promise, with what was expected and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub class: Class,
    pub account: String,
    pub instances: Vec<u8>,
    pub platforms: Vec<Platform>,
    pub times_us: Vec<u64>,
    pub expected: String,
    pub seen: String,
}

/// Why an instance sent an authenticated probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// Right after it saw `kickedOut`: must be refused (zombie check).
    AfterKick,
    /// Right after its logout was answered: must be refused (zombie check).
    AfterLogout,
    /// The account looked over capacity once logins settled: tells a silent kick from
    /// over-admission.
    Settle,
    /// An admin kick of the account was answered `timeouts.kick` ago and this session, older
    /// than the kick, still believes it is ready.
    AdminDue,
    /// The session's UserSig expired `timeouts.kick` ago and it still believes it is ready.
    ExpiryDue,
    /// No `sdkStateReady` within the ready timeout: was the session kicked silently?
    ReadyDue,
}

#[derive(Debug, Clone, Default)]
struct Inst {
    login_sent: Option<u64>,
    login_answered: Option<u64>,
    login_ok: bool,
    ready_at: Option<u64>,
    kicked: Option<(KickType, u64)>,
    logged_out: bool,
    /// Logout sent, connection closed or lost: it no longer believes it is ready.
    gone_at: Option<u64>,
    /// The session before this login ended (kicked or logged out).
    prev_ended: bool,
    /// An earlier session of this instance ended (logout or kick) and its `sdkStateNotReady`
    /// has not arrived yet: it may come after the next login was sent (a correct backend may
    /// send it after the logout's response, and the client may already be logging in again).
    not_ready_owed: bool,
    /// Its session in the current segment (an index into `History::seg`).
    seg: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Login {
    slot: u8,
    sent: u64,
    answered: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct KickRec {
    slot: u8,
    login_sent: u64,
    login_answered: Option<u64>,
    at: u64,
}

/// A barrier or jitter wave whose kicks the policy fixes: judged at its settle.
#[derive(Debug, Clone)]
struct Wave {
    number: u64,
    /// Logins of the wave not sent yet: the wave cannot settle before they are.
    unsent: usize,
    /// Slots whose login the backend refused because their identity's session is in use
    /// (code 2025: XMPP's `kick_new`), where the policy has the newer login replace the older.
    refused_in_use: Vec<u8>,
}

/// One account's recent history.
pub struct History {
    account: String,
    policy: Policy,
    platforms: Vec<Platform>,
    inst: Vec<Inst>,
    logins: VecDeque<Login>,
    /// Logins in `logins` not answered yet (kept so `login_pending` need not scan them all:
    /// an account cycling back to back keeps thousands within the horizon).
    unanswered: usize,
    admin_kicks: VecDeque<u64>,
    recent_kicks: Vec<KickRec>,
    /// A capacity violation was reported since the last login: do not report it again.
    capacity_reported: bool,
    /// Logins older than this (relative to the newest event) no longer explain anything new.
    horizon_us: u64,
    /// The sessions of the current segment (since the last settle), for kick accounting;
    /// `None` for a login that failed (no session).
    seg: Vec<Option<Stint>>,
    /// `multipleAccount`/`multipleDevice` kicks seen in the current segment.
    seg_kicks: u64,
    wave: Option<Wave>,
    judged: [u64; Class::COUNT],
}

impl History {
    pub fn new(account: String, policy: Policy, platforms: Vec<Platform>, horizon_us: u64) -> Self {
        let k = platforms.len();
        History {
            account,
            policy,
            inst: vec![Inst::default(); platforms.len()],
            platforms,
            logins: VecDeque::new(),
            unanswered: 0,
            admin_kicks: VecDeque::new(),
            recent_kicks: Vec::new(),
            capacity_reported: false,
            horizon_us,
            seg: Vec::with_capacity(k),
            seg_kicks: 0,
            wave: None,
            judged: [0; Class::COUNT],
        }
    }

    fn violation(
        &self,
        class: Class,
        slots: &[u8],
        times: Vec<u64>,
        expected: String,
        seen: String,
    ) -> Violation {
        Violation {
            class,
            account: self.account.clone(),
            instances: slots.to_vec(),
            platforms: slots.iter().map(|s| self.platforms[*s as usize]).collect(),
            times_us: times,
            expected,
            seen,
        }
    }

    fn judge(&mut self, c: Class) {
        self.judged[c.index()] += 1;
    }

    /// How many times each invariant had the chance to fire since the last take.
    pub fn take_judged(&mut self) -> [u64; Class::COUNT] {
        std::mem::take(&mut self.judged)
    }

    /// The slot's session in the current segment.
    fn session(&mut self, slot: u8) -> Option<&mut Stint> {
        let i = self.inst[slot as usize].seg?;
        self.seg[i].as_mut()
    }

    /// End the slot's live session by its own doing (logout sent, connection closed).
    fn end_own(&mut self, slot: u8, t: u64) {
        if let Some(s) = self.session(slot) {
            if s.end == End::Live {
                s.end = End::Own { lo: t, hi: None };
            }
        }
    }

    /// Whether another instance of the account still believes it is ready.
    fn others_ready(&self, slot: u8) -> bool {
        (0..self.inst.len()).any(|s| s != slot as usize && self.is_ready(s))
    }

    /// Whether this instance still believes it is ready.
    fn is_ready(&self, s: usize) -> bool {
        let i = &self.inst[s];
        i.login_ok && i.ready_at.is_some() && i.kicked.is_none() && i.gone_at.is_none()
    }

    fn prune(&mut self, now: u64) {
        let keep_from = now.saturating_sub(self.horizon_us);
        // A login stays while it is unanswered or recent.
        while self
            .logins
            .front()
            .is_some_and(|l| l.answered.is_some_and(|a| a < keep_from))
        {
            self.logins.pop_front();
        }
        while self.admin_kicks.front().is_some_and(|t| *t < keep_from) {
            self.admin_kicks.pop_front();
        }
    }

    /// A barrier or jitter wave of `logins` logins is released; with `counted`, its kicks
    /// are judged against the policy's expectation at its settle.
    pub fn wave_released(&mut self, number: u64, logins: usize, counted: bool) {
        self.wave = counted.then_some(Wave {
            number,
            unsent: logins,
            refused_in_use: Vec::new(),
        });
    }
}

#[cfg(test)]
mod tests;
