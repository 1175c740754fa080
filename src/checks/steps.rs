//! What an account's instances did, step by step: logins sent and answered, logouts, ends.

use super::*;

impl History {
    pub fn login_sent(&mut self, slot: u8, t: u64) {
        self.prune(t);
        self.capacity_reported = false;
        // An account that never settles (back-to-back independent cycles) would grow its
        // segment without bound; past what the search can judge, it is cut unjudged.
        if self.seg.len() >= accounting::MAX_ITEMS {
            self.cut_segment();
        }
        // A session the client still held is over from its point of view.
        self.end_own(slot, t);
        if let Some(w) = &mut self.wave {
            w.unsent = w.unsent.saturating_sub(1);
        }
        let old = &self.inst[slot as usize];
        let prev_ended = old.login_ok && (old.kicked.is_some() || old.logged_out);
        let not_ready_owed = old.not_ready_owed || old.kicked.is_some() || old.logged_out;
        self.seg.push(Some(Stint {
            slot,
            platform: self.platforms[slot as usize],
            login: Some((t, None)),
            end: End::Live,
        }));
        self.inst[slot as usize] = Inst {
            login_sent: Some(t),
            prev_ended,
            not_ready_owed,
            seg: Some(self.seg.len() - 1),
            ..Inst::default()
        };
        self.unanswered += 1;
        self.logins.push_back(Login {
            slot,
            sent: t,
            answered: None,
        });
    }

    /// A login refused because the identity it logs in as already has a session (code 2025,
    /// the answer of a backend that keeps the older session): the policy has every login
    /// admitted and the oldest kicked, so the wave still owes the kick this login would cause.
    pub fn login_refused_in_use(&mut self, slot: u8) {
        if let Some(w) = &mut self.wave {
            w.refused_in_use.push(slot);
        }
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
    pub(super) fn answer_login(&mut self, slot: u8, t: u64) {
        if let Some(l) = self
            .logins
            .iter_mut()
            .rev()
            .find(|l| l.slot == slot && l.answered.is_none())
        {
            l.answered = Some(t);
            self.unanswered -= 1;
        }
    }

    /// Whether the account cannot settle yet: a login is sent and not yet answered, or a wave
    /// still has logins to send.
    pub fn login_pending(&self) -> bool {
        debug_assert_eq!(
            self.unanswered,
            self.logins.iter().filter(|l| l.answered.is_none()).count()
        );
        self.wave.as_ref().is_some_and(|w| w.unsent > 0) || self.unanswered > 0
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

    /// The connection vanished without the server knowing — a silent drop, or a gateway
    /// restart that kept the sessions: a session the server admitted stays there, a ghost,
    /// certainly until `until` (the last request it answered, plus its session timeout).
    pub fn ghost(&mut self, slot: u8, t: u64, until: u64) {
        self.answer_login(slot, t);
        if let Some(s) = self.session(slot) {
            let admitted = s.login.is_none_or(|(_, answered)| answered.is_some());
            if s.end == End::Live {
                s.end = if admitted && until > t {
                    End::Ghost { until }
                } else {
                    End::Own { lo: t, hi: None }
                };
            }
        }
        self.inst[slot as usize].gone_at.get_or_insert(t);
    }

    /// Instances that still believe they are ready.
    pub fn believed_ready(&self) -> Vec<u8> {
        (0..self.inst.len() as u8)
            .filter(|s| self.is_ready(*s as usize))
            .collect()
    }

    pub(super) fn admits(&self, slots: &[u8]) -> bool {
        let ps: Vec<Platform> = slots.iter().map(|s| self.platforms[*s as usize]).collect();
        self.policy.admits(&ps)
    }
}
