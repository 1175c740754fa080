//! The history checker: did the backend keep its login promises? (docs/checks.md)
//!
//! Pure: fed one account's observations (what each instance sent and saw, with timestamps in
//! microseconds since the run started), it reports violations of the policy. It never trusts the
//! server's own account, and it never reports what some acceptable order of overlapping logins
//! explains: a login's effect happened somewhere between its send and its answer.

use serde::Serialize;
use std::collections::VecDeque;

use crate::policy::{KickType, Platform, Policy};

/// The invariants checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Class {
    Capacity,
    LostKick,
    SpuriousKick,
    VictimOrder,
    KickType,
    Zombie,
    Ready,
    Isolation,
}

impl Class {
    pub const ALL: [Class; 8] = [
        Class::Capacity,
        Class::LostKick,
        Class::SpuriousKick,
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
            Class::VictimOrder => "victim_order",
            Class::KickType => "kick_type",
            Class::Zombie => "zombie",
            Class::Ready => "ready",
            Class::Isolation => "isolation",
        }
    }

    /// Victim order is promised only "in most cases": a warning, not a failure.
    pub fn is_warning(self) -> bool {
        self == Class::VictimOrder
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One broken promise, with what was expected and what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    at: u64,
}

/// One account's recent history.
pub struct History {
    account: String,
    policy: Policy,
    platforms: Vec<Platform>,
    inst: Vec<Inst>,
    logins: VecDeque<Login>,
    admin_kicks: VecDeque<u64>,
    recent_kicks: Vec<KickRec>,
    /// A capacity violation was reported since the last login: do not report it again.
    capacity_reported: bool,
    /// Logins older than this (relative to the newest event) no longer explain anything new.
    horizon_us: u64,
}

impl History {
    pub fn new(account: String, policy: Policy, platforms: Vec<Platform>, horizon_us: u64) -> Self {
        History {
            account,
            policy,
            inst: vec![Inst::default(); platforms.len()],
            platforms,
            logins: VecDeque::new(),
            admin_kicks: VecDeque::new(),
            recent_kicks: Vec::new(),
            capacity_reported: false,
            horizon_us,
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

    pub fn login_sent(&mut self, slot: u8, t: u64) {
        self.prune(t);
        self.capacity_reported = false;
        let old = &self.inst[slot as usize];
        let prev_ended = old.login_ok && (old.kicked.is_some() || old.logged_out);
        self.inst[slot as usize] = Inst {
            login_sent: Some(t),
            prev_ended,
            ..Inst::default()
        };
        self.logins.push_back(Login {
            slot,
            sent: t,
            answered: None,
        });
    }

    /// A login's answer; `repeat` is `repeatLogin:true`, which means the server still held a
    /// session on this connection — a zombie if that session had been kicked or logged out.
    pub fn login_answered(
        &mut self,
        slot: u8,
        t: u64,
        ok: bool,
        repeat: bool,
    ) -> Option<Violation> {
        let i = &mut self.inst[slot as usize];
        i.login_answered = Some(t);
        i.login_ok = ok;
        let prev_ended = i.prev_ended;
        let zombie = (ok && repeat && prev_ended).then(|| {
            self.violation(
                Class::Zombie,
                &[slot],
                vec![t],
                "a login after kickedOut or logout starts a new session".into(),
                "repeatLogin:true — the ended session was still authenticated".into(),
            )
        });
        if let Some(l) = self
            .logins
            .iter_mut()
            .rev()
            .find(|l| l.slot == slot && l.answered.is_none())
        {
            l.answered = Some(t);
        }
        zombie
    }

    /// Whether a login of this account is sent and not yet answered.
    pub fn login_pending(&self) -> bool {
        self.logins.iter().any(|l| l.answered.is_none())
    }

    /// `sdkStateReady` seen.
    pub fn ready(&mut self, slot: u8, t: u64) -> Option<Violation> {
        let i = &mut self.inst[slot as usize];
        if !i.login_ok || i.kicked.is_some() || i.gone_at.is_some() {
            return Some(self.violation(
                Class::Ready,
                &[slot],
                vec![t],
                "sdkStateReady only after a successful login".into(),
                "sdkStateReady with no live successful login".into(),
            ));
        }
        i.ready_at = Some(t);
        None
    }

    /// A successful login got no `sdkStateReady` within the ready timeout.
    pub fn ready_missing(&self, slot: u8, t: u64, timeout_us: u64) -> Violation {
        let sent = self.inst[slot as usize].login_sent.unwrap_or(t);
        self.violation(
            Class::Ready,
            &[slot],
            vec![sent, t],
            format!(
                "sdkStateReady within {} ms of a successful login",
                timeout_us / 1000
            ),
            "no sdkStateReady".into(),
        )
    }

    pub fn admin_kick_sent(&mut self, t: u64) {
        self.admin_kicks.push_back(t);
    }

    /// `kickedOut` seen. `sig_expired` says whether the instance's UserSig had expired by the
    /// wall clock (with a second of slack) when the kick arrived.
    pub fn kicked(
        &mut self,
        slot: u8,
        kick: KickType,
        t: u64,
        sig_expired: bool,
    ) -> Vec<Violation> {
        let victim = self.inst[slot as usize].clone();
        self.inst[slot as usize].kicked = Some((kick, t));
        let Some(victim_sent) = victim.login_sent else {
            return vec![self.violation(
                Class::SpuriousKick,
                &[slot],
                vec![t],
                "kickedOut only for a logged-in instance".into(),
                format!("{kick} before any login"),
            )];
        };
        match kick {
            KickType::MultipleAccount | KickType::MultipleDevice => {
                let p = self.platforms[slot as usize];
                // Logins of other instances that the server may have decided after the victim's.
                let causes: Vec<&Login> = self
                    .logins
                    .iter()
                    .filter(|l| l.slot != slot && l.sent <= t)
                    .filter(|l| l.answered.is_none_or(|a| a >= victim_sent))
                    .collect();
                let same = causes.iter().any(|l| self.platforms[l.slot as usize] == p);
                let excluded = causes.iter().any(|l| {
                    self.policy
                        .mode
                        .excludes(self.platforms[l.slot as usize], p)
                });
                if kick == KickType::MultipleAccount {
                    self.recent_kicks.push(KickRec {
                        slot,
                        login_sent: victim_sent,
                        at: t,
                    });
                }
                let fits = match kick {
                    KickType::MultipleAccount => same,
                    _ => excluded,
                };
                if fits {
                    return vec![];
                }
                if same || excluded {
                    let want = if same {
                        "multipleAccount"
                    } else {
                        "multipleDevice"
                    };
                    return vec![self.violation(
                        Class::KickType,
                        &[slot],
                        vec![victim_sent, t],
                        format!("{want} (the only cause a login of this account could be)"),
                        kick.name().into(),
                    )];
                }
                vec![self.violation(
                    Class::SpuriousKick,
                    &[slot],
                    vec![victim_sent, t],
                    "a kick only after another login of the account".into(),
                    format!("{kick} with no other login that could cause it"),
                )]
            }
            KickType::UserSigExpired if !sig_expired => vec![self.violation(
                Class::SpuriousKick,
                &[slot],
                vec![victim_sent, t],
                "userSigExpired only once the UserSig expired".into(),
                "userSigExpired while the UserSig was still valid".into(),
            )],
            KickType::RestApiKick if !self.admin_kicks.iter().any(|a| *a <= t) => {
                vec![self.violation(
                    Class::SpuriousKick,
                    &[slot],
                    vec![victim_sent, t],
                    "REST_API_Kick only after an admin kick of the account".into(),
                    "REST_API_Kick with no admin kick sent".into(),
                )]
            }
            _ => vec![],
        }
    }

    /// `sdkStateNotReady` seen: must follow a kick or this instance's own logout.
    pub fn not_ready(&mut self, slot: u8, t: u64) -> Option<Violation> {
        let i = &self.inst[slot as usize];
        if i.kicked.is_some() || i.logged_out {
            return None;
        }
        Some(self.violation(
            Class::Isolation,
            &[slot],
            vec![t],
            "sdkStateNotReady only after a kick or this instance's own logout".into(),
            "sdkStateNotReady out of the blue (another instance's logout or kick leaked?)".into(),
        ))
    }

    pub fn logout_sent(&mut self, slot: u8, t: u64) {
        let i = &mut self.inst[slot as usize];
        i.logged_out = true;
        i.gone_at.get_or_insert(t);
    }

    /// Connection closed or lost, or the instance gave up on its session.
    pub fn gone(&mut self, slot: u8, t: u64) {
        self.inst[slot as usize].gone_at.get_or_insert(t);
    }

    /// Zombie check on an after-kick or after-logout probe's answer.
    pub fn probe_answered(
        &self,
        slot: u8,
        kind: ProbeKind,
        t: u64,
        code: u32,
    ) -> Option<Violation> {
        if code != 0 || kind == ProbeKind::Settle {
            return None;
        }
        let what = match kind {
            ProbeKind::AfterKick => "its kickedOut",
            _ => "its logout was answered",
        };
        Some(self.violation(
            Class::Zombie,
            &[slot],
            vec![t],
            format!("an authenticated request after {what} is refused"),
            "the request succeeded".into(),
        ))
    }

    /// Instances that still believe they are ready.
    pub fn believed_ready(&self) -> Vec<u8> {
        (0..self.inst.len() as u8)
            .filter(|s| {
                let i = &self.inst[*s as usize];
                i.login_ok && i.ready_at.is_some() && i.kicked.is_none() && i.gone_at.is_none()
            })
            .collect()
    }

    fn admits(&self, slots: &[u8]) -> bool {
        let ps: Vec<Platform> = slots.iter().map(|s| self.platforms[*s as usize]).collect();
        self.policy.admits(&ps)
    }

    /// Logins have settled (none pending, the kick timeout passed since the last answer).
    /// Returns victim-order warnings, and the instances to probe when the believed-ready set
    /// breaks the policy (empty when it does not).
    pub fn settle(&mut self) -> (Vec<Violation>, Vec<u8>) {
        let alive = self.believed_ready();
        let mut out = Vec::new();
        for k in std::mem::take(&mut self.recent_kicks) {
            let p = self.platforms[k.slot as usize];
            // A survivor on the victim's platform that certainly logged in before the victim.
            let older: Vec<u8> = alive
                .iter()
                .copied()
                .filter(|s| *s != k.slot && self.platforms[*s as usize] == p)
                .filter(|s| {
                    self.inst[*s as usize]
                        .login_answered
                        .is_some_and(|a| a < k.login_sent)
                })
                .collect();
            if let Some(&s) = older.first() {
                out.push(self.violation(
                    Class::VictimOrder,
                    &[k.slot, s],
                    vec![k.login_sent, k.at],
                    format!("the oldest instance (#{s}) kicked first"),
                    format!("#{} kicked while the older #{s} stayed", k.slot),
                ));
            }
        }
        let probe = if self.capacity_reported || self.admits(&alive) {
            Vec::new()
        } else {
            alive
        };
        (out, probe)
    }

    /// The settle probes are in: `(slot, code)` each. A refused probe with no `kickedOut` seen is
    /// a lost kick notification; if the accepted ones still break the policy, it over-admitted.
    pub fn settle_probed(&mut self, answers: &[(u8, u32)], t: u64) -> Vec<Violation> {
        let mut out = Vec::new();
        let mut accepted = Vec::new();
        for &(slot, code) in answers {
            let i = &self.inst[slot as usize];
            if i.kicked.is_some() || i.gone_at.is_some() {
                continue; // the kick arrived late, or the instance moved on: no verdict
            }
            let login_sent = i.login_sent.unwrap_or(0);
            if code == 0 {
                accepted.push(slot);
            } else if (3002..=3006).contains(&code) {
                // Reported once: the session is known gone from here on.
                self.inst[slot as usize].gone_at = Some(t);
                out.push(self.violation(
                    Class::LostKick,
                    &[slot],
                    vec![login_sent, t],
                    "kickedOut for an instance the policy removes".into(),
                    format!("no kickedOut, but its session is gone (probe answered {code})"),
                ));
            }
        }
        if !self.admits(&accepted) {
            self.capacity_reported = true;
            let times = accepted
                .iter()
                .map(|s| self.inst[*s as usize].login_sent.unwrap_or(0))
                .chain([t])
                .collect();
            let platforms: Vec<String> = accepted
                .iter()
                .map(|s| self.platforms[*s as usize].to_string())
                .collect();
            out.push(self.violation(
                Class::Capacity,
                &accepted,
                times,
                format!(
                    "at most the policy's limits live at once ({}, mode {})",
                    self.policy.limits, self.policy.mode
                ),
                format!("{} live: {}", accepted.len(), platforms.join(",")),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests;
