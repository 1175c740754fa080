//! The history checker: did the backend keep its login promises? (docs/checks.md)
//!
//! Pure: fed one account's observations (what each instance sent and saw, with timestamps in
//! microseconds since the run started), it reports violations of the policy. It never trusts the
//! server's own account, and it never reports what some acceptable order of overlapping logins
//! explains: a login's effect happened somewhere between its send and its answer.

use serde::Serialize;
use std::collections::VecDeque;

use crate::policy::{KickType, Platform, Policy};

pub mod accounting;
mod settle;

use accounting::{End, Session};

/// The invariants checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
#[derive(Debug, Clone, Copy)]
struct Wave {
    number: u64,
    /// Logins of the wave not sent yet: the wave cannot settle before they are.
    unsent: usize,
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
    /// The sessions of the current segment (since the last settle), for kick accounting;
    /// `None` for a login that failed (no session).
    seg: Vec<Option<Session>>,
    /// `multipleAccount`/`multipleDevice` kicks seen in the current segment.
    seg_kicks: u64,
    wave: Option<Wave>,
    judged: [u64; Class::COUNT],
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
            seg: Vec::new(),
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
    fn session(&mut self, slot: u8) -> Option<&mut Session> {
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
        self.believed_ready().iter().any(|s| *s != slot)
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
        });
    }

    pub fn login_sent(&mut self, slot: u8, t: u64) {
        self.prune(t);
        self.capacity_reported = false;
        // A session the client still held is over from its point of view.
        self.end_own(slot, t);
        if let Some(w) = &mut self.wave {
            w.unsent = w.unsent.saturating_sub(1);
        }
        let old = &self.inst[slot as usize];
        let prev_ended = old.login_ok && (old.kicked.is_some() || old.logged_out);
        self.seg.push(Some(Session {
            slot,
            platform: self.platforms[slot as usize],
            login: Some((t, None)),
            end: End::Live,
        }));
        self.inst[slot as usize] = Inst {
            login_sent: Some(t),
            prev_ended,
            seg: Some(self.seg.len() - 1),
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
        if let Some(k) = i.seg {
            match &mut self.seg[k] {
                Some(s) if ok => s.login = s.login.map(|(sent, _)| (sent, Some(t))),
                // A refused login made no session.
                s => *s = None,
            }
        }
        if prev_ended {
            self.judge(Class::Zombie);
        }
        let zombie = (ok && repeat && prev_ended).then(|| {
            self.violation(
                Class::Zombie,
                &[slot],
                vec![t],
                "a login after kickedOut or logout starts a new session".into(),
                "repeatLogin:true — the ended session was still authenticated".into(),
            )
        });
        self.answer_login(slot, t);
        zombie
    }

    /// Mark the slot's pending login answered (or abandoned) at `t`.
    fn answer_login(&mut self, slot: u8, t: u64) {
        if let Some(l) = self
            .logins
            .iter_mut()
            .rev()
            .find(|l| l.slot == slot && l.answered.is_none())
        {
            l.answered = Some(t);
        }
    }

    /// Whether the account cannot settle yet: a login is sent and not yet answered, or a wave
    /// still has logins to send.
    pub fn login_pending(&self) -> bool {
        self.wave.is_some_and(|w| w.unsent > 0) || self.logins.iter().any(|l| l.answered.is_none())
    }

    /// `sdkStateReady` seen.
    pub fn ready(&mut self, slot: u8, t: u64) -> Option<Violation> {
        self.judge(Class::Ready);
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

    /// A successful login got no `sdkStateReady` within the ready timeout. `probe` is the
    /// answer to a probe sent then: a kicked code means the session was kicked silently before
    /// it was ready (a lost kick, not a missing ready).
    pub fn ready_missing(
        &mut self,
        slot: u8,
        t: u64,
        timeout_us: u64,
        probe: Option<u32>,
    ) -> Option<Violation> {
        let i = &self.inst[slot as usize];
        if i.kicked.is_some() {
            return None; // kicked before it was ready: no sdkStateReady was owed
        }
        let sent = i.login_sent.unwrap_or(t);
        self.judge(Class::Ready);
        if let Some(code) = probe.filter(|c| crate::protocol::code::ends_session(*c)) {
            self.judge(Class::LostKick);
            if let Some(s) = self.session(slot) {
                s.end = End::Removed { at: t };
            }
            return Some(self.violation(
                Class::LostKick,
                &[slot],
                vec![sent, t],
                "kickedOut for an instance the policy removes".into(),
                format!(
                    "no kickedOut and no sdkStateReady; its session is gone (probe answered {code})"
                ),
            ));
        }
        Some(self.violation(
            Class::Ready,
            &[slot],
            vec![sent, t],
            format!(
                "sdkStateReady within {} ms of a successful login",
                timeout_us / 1000
            ),
            "no sdkStateReady".into(),
        ))
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
        let found = self.judge_kick(slot, kick, t, sig_expired);
        if self.others_ready(slot) {
            self.judge(Class::Isolation);
        }
        self.inst[slot as usize].kicked = Some((kick, t));
        let by_login = matches!(kick, KickType::MultipleAccount | KickType::MultipleDevice);
        if by_login {
            self.seg_kicks += 1;
        }
        // A kick judged spurious alone is not counted again by the accounting.
        let end = if by_login && found.iter().all(|v| v.class != Class::SpuriousKick) {
            End::Kicked { at: t }
        } else {
            End::Removed { at: t }
        };
        if let Some(s) = self.session(slot) {
            if matches!(s.end, End::Live | End::Own { .. }) {
                s.end = end;
            }
        }
        found
    }

    /// The kick alone: could anything have caused it, and does its type fit the cause?
    fn judge_kick(
        &mut self,
        slot: u8,
        kick: KickType,
        t: u64,
        sig_expired: bool,
    ) -> Vec<Violation> {
        self.judge(Class::KickType);
        self.judge(Class::SpuriousKick);
        if matches!(kick, KickType::UserSigExpired | KickType::RestApiKick) {
            // An owed kick that arrived: the lost-kick promise judged, and kept.
            self.judge(Class::LostKick);
        }
        let victim = self.inst[slot as usize].clone();
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
                        login_answered: victim.login_answered,
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
        self.judge(Class::Isolation);
        Some(self.violation(
            Class::Isolation,
            &[slot],
            vec![t],
            "sdkStateNotReady only after a kick or this instance's own logout".into(),
            "sdkStateNotReady out of the blue (another instance's logout or kick leaked?)".into(),
        ))
    }

    pub fn logout_sent(&mut self, slot: u8, t: u64) {
        if self.others_ready(slot) {
            self.judge(Class::Isolation);
        }
        self.end_own(slot, t);
        let i = &mut self.inst[slot as usize];
        i.logged_out = true;
        i.gone_at.get_or_insert(t);
    }

    /// The logout's answer: the server decided it by now.
    pub fn logout_answered(&mut self, slot: u8, t: u64) {
        if let Some(s) = self.session(slot) {
            if let End::Own { lo, hi: None } = s.end {
                s.end = End::Own { lo, hi: Some(t) };
            }
        }
    }

    /// Connection closed or lost, or the instance gave up on its session.
    pub fn gone(&mut self, slot: u8, t: u64) {
        // A login that will never be answered now no longer holds the account unsettled.
        self.answer_login(slot, t);
        self.end_own(slot, t);
        self.inst[slot as usize].gone_at.get_or_insert(t);
    }

    /// Zombie check on an after-kick or after-logout probe's answer.
    pub fn probe_answered(
        &mut self,
        slot: u8,
        kind: ProbeKind,
        t: u64,
        code: u32,
    ) -> Option<Violation> {
        if kind == ProbeKind::Settle || code == u32::MAX {
            return None;
        }
        self.judge(Class::Zombie);
        if code != 0 {
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

    /// Sessions an admin kick sent at `sent` (and answered) must have ended that still believe
    /// they are ready: their login was answered before the kick was sent.
    pub fn admin_due(&self, sent: u64) -> Vec<u8> {
        self.believed_ready()
            .into_iter()
            .filter(|s| {
                self.inst[*s as usize]
                    .login_answered
                    .is_some_and(|a| a < sent)
            })
            .collect()
    }

    /// The current session of `slot`, named by its login's send time.
    pub fn session_id(&self, slot: u8) -> Option<u64> {
        self.inst[slot as usize].login_sent
    }

    /// A due kick's time came: the lost-kick check judges it (probing if needed).
    pub fn judge_due(&mut self) {
        self.judge(Class::LostKick);
    }

    /// Whether the session that logged in at `login_sent` still believes it is ready.
    pub fn still_ready(&self, slot: u8, login_sent: u64) -> bool {
        self.inst[slot as usize].login_sent == Some(login_sent)
            && self.believed_ready().contains(&slot)
    }

    /// A due probe's answer: the session had to be kicked (admin kick, expiry) by now.
    /// Refused with a kicked code: the kick happened silently. Accepted: it never happened.
    pub fn due_probed(
        &mut self,
        slot: u8,
        kind: ProbeKind,
        t: u64,
        code: u32,
    ) -> Option<Violation> {
        let i = &self.inst[slot as usize];
        if i.kicked.is_some() || i.gone_at.is_some() || code == u32::MAX {
            return None; // the kick arrived after all, or the instance moved on: no verdict
        }
        let login_sent = i.login_sent.unwrap_or(0);
        let (kick, cause) = match kind {
            ProbeKind::AdminDue => ("REST_API_Kick", "an admin kick of the account"),
            _ => ("userSigExpired", "its UserSig expired"),
        };
        let seen = if code == 0 {
            format!("no {kick}, and the session still works (probe accepted) after {cause}")
        } else if crate::protocol::code::ends_session(code) {
            format!("no {kick}, but its session is gone (probe answered {code})")
        } else {
            return None;
        };
        if code != 0 {
            if let Some(s) = self.session(slot) {
                s.end = End::Removed { at: t };
            }
            self.inst[slot as usize].gone_at = Some(t);
        }
        Some(self.violation(
            Class::LostKick,
            &[slot],
            vec![login_sent, t],
            format!("{kick} within timeouts.kick after {cause}"),
            seen,
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
}

#[cfg(test)]
mod tests;
