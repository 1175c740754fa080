//! Kicks, one at a time: could anything have caused this one, does its type fit, and the kicks
//! an admin kick or an expiry owes (probed once their time has come).

use super::accounting::End;
use super::{Class, History, KickRec, Login, ProbeKind, Violation};
use crate::policy::KickType;

impl History {
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
        code: Option<u32>,
    ) -> Option<Violation> {
        let i = &self.inst[slot as usize];
        // The kick arrived after all, the instance moved on, or it could not probe: no verdict.
        let code = code.filter(|_| i.kicked.is_none() && i.gone_at.is_none())?;
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
}
