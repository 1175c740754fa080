//! Judgments on one instance's own session: `sdkStateReady` owed or out of turn, a stray
//! `sdkStateNotReady` (isolation), and probes of ended sessions (zombies).

use super::accounting::End;
use super::{Class, History, ProbeKind, Violation};

impl History {
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

    /// `sdkStateNotReady` seen: must follow a kick or this instance's own logout.
    /// One that arrives during a later session is excused once per earlier logout or kick of
    /// this instance (it was owed then).
    pub fn not_ready(&mut self, slot: u8, t: u64) -> Option<Violation> {
        let i = &mut self.inst[slot as usize];
        if i.kicked.is_some() || i.logged_out {
            return None;
        }
        if i.not_ready_owed {
            i.not_ready_owed = false;
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

    /// Zombie check on an after-kick or after-logout probe's answer.
    pub fn probe_answered(
        &mut self,
        slot: u8,
        kind: ProbeKind,
        t: u64,
        code: Option<u32>,
    ) -> Option<Violation> {
        let code = code.filter(|_| kind != ProbeKind::Settle)?;
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
}
