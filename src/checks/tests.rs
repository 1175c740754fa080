use super::*;
use Platform::*;

fn hist(platforms: &[Platform], limits: &str) -> History {
    History::new(
        "u".into(),
        Policy {
            limits: limits.parse().unwrap(),
            ..Policy::default()
        },
        platforms.to_vec(),
        10_000_000,
    )
}

fn login_ready(h: &mut History, slot: u8, sent: u64) {
    h.login_sent(slot, sent);
    h.login_answered(slot, sent + 10, true, false);
    assert!(h.ready(slot, sent + 20).is_none());
}

#[test]
fn a_correct_kick_is_clean_and_settles_without_probes() {
    let mut h = hist(&[Web, Web], "");
    login_ready(&mut h, 0, 100);
    login_ready(&mut h, 1, 200);
    assert!(h
        .kicked(0, KickType::MultipleAccount, 215, false)
        .is_empty());
    assert!(h.not_ready(0, 216).is_none());
    let (warnings, probe) = h.settle();
    assert!(warnings.is_empty() && probe.is_empty());
}

#[test]
fn overlapping_logins_explain_either_victim() {
    let mut h = hist(&[Web, Web], "");
    h.login_sent(0, 100);
    h.login_sent(1, 101);
    h.login_answered(1, 150, true, false);
    h.login_answered(0, 160, true, false);
    // The server admitted #0 last: #1, though answered first, is the victim.
    assert!(h
        .kicked(1, KickType::MultipleAccount, 170, false)
        .is_empty());
    assert!(h.ready(0, 165).is_none());
    let (w, p) = h.settle();
    assert!(w.is_empty() && p.is_empty(), "{w:?} {p:?}");
}

#[test]
fn kick_with_no_cause_is_spurious_and_wrong_cause_is_kick_type() {
    let mut h = hist(&[Web, Android], "");
    login_ready(&mut h, 0, 100);
    let v = h.kicked(0, KickType::MultipleAccount, 500, false);
    assert_eq!(v[0].class, Class::SpuriousKick);
    let mut h = hist(&[Web, Web], "");
    login_ready(&mut h, 0, 100);
    login_ready(&mut h, 1, 200);
    let v = h.kicked(0, KickType::MultipleDevice, 215, false);
    assert_eq!(v[0].class, Class::KickType);
    let v = h.kicked(1, KickType::UserSigExpired, 300, false);
    assert_eq!(v[0].class, Class::SpuriousKick);
    assert!(h.kicked(1, KickType::UserSigExpired, 300, true).is_empty());
    let v = h.kicked(1, KickType::RestApiKick, 400, false);
    assert_eq!(v[0].class, Class::SpuriousKick);
    h.admin_kick_sent(450);
    assert!(h.kicked(1, KickType::RestApiKick, 460, false).is_empty());
}

#[test]
fn settle_probes_tell_lost_kicks_from_over_admission() {
    let mut h = hist(&[Web, Web], "");
    login_ready(&mut h, 0, 100);
    login_ready(&mut h, 1, 200);
    let (_, probe) = h.settle();
    assert_eq!(probe, vec![0, 1]);
    // Silent kick: #0's session is gone but it never heard.
    let v = h.settle_probed(&[(0, Some(3003)), (1, Some(0))], 5000);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].class, Class::LostKick);
    // Over-admission: both still act.
    let mut h = hist(&[Web, Web], "");
    login_ready(&mut h, 0, 100);
    login_ready(&mut h, 1, 200);
    let v = h.settle_probed(&[(0, Some(0)), (1, Some(0))], 5000);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].class, Class::Capacity);
    assert_eq!(v[0].instances, vec![0, 1]);
}

#[test]
fn a_late_kick_is_not_lost() {
    let mut h = hist(&[Web, Web], "");
    login_ready(&mut h, 0, 100);
    login_ready(&mut h, 1, 200);
    let (_, probe) = h.settle();
    assert_eq!(probe.len(), 2);
    assert!(h
        .kicked(0, KickType::MultipleAccount, 4000, false)
        .is_empty());
    assert!(h
        .settle_probed(&[(0, Some(3003)), (1, Some(0))], 4100)
        .is_empty());
}

#[test]
fn each_broken_promise_is_reported_once() {
    let mut h = hist(&[Web, Web], "");
    login_ready(&mut h, 0, 100);
    login_ready(&mut h, 1, 200);
    let (_, probe) = h.settle();
    assert_eq!(
        h.settle_probed(
            &probe.iter().map(|s| (*s, Some(0))).collect::<Vec<_>>(),
            5000
        )
        .len(),
        1
    );
    assert!(h.settle().1.is_empty(), "capacity already reported");
    let mut h = hist(&[Web, Web], "");
    login_ready(&mut h, 0, 100);
    login_ready(&mut h, 1, 200);
    assert_eq!(
        h.settle_probed(&[(0, Some(3003)), (1, Some(0))], 5000)
            .len(),
        1
    );
    assert!(
        h.settle().1.is_empty(),
        "the silently kicked one is gone now"
    );
}

#[test]
fn repeat_login_after_a_kick_is_a_zombie() {
    let mut h = hist(&[Web, Web], "");
    login_ready(&mut h, 0, 100);
    login_ready(&mut h, 1, 200);
    assert!(h
        .kicked(0, KickType::MultipleAccount, 210, false)
        .is_empty());
    h.login_sent(0, 1000);
    let v = h.login_answered(0, 1010, true, true).unwrap();
    assert_eq!(v.class, Class::Zombie);
    h.login_sent(1, 2000);
    assert!(
        h.login_answered(1, 2010, true, true).is_none(),
        "#1 was never kicked"
    );
}

#[test]
fn victim_order_flags_only_a_certainly_older_survivor() {
    let mut h = hist(&[Web, Web, Web], "Web=2");
    login_ready(&mut h, 0, 100);
    login_ready(&mut h, 1, 200);
    login_ready(&mut h, 2, 300);
    assert!(h
        .kicked(1, KickType::MultipleAccount, 320, false)
        .is_empty());
    let (w, p) = h.settle();
    assert!(p.is_empty());
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].class, Class::VictimOrder);
    assert_eq!(w[0].instances, vec![1, 0]);
    // Same kick, but #0's login overlapped #1's: no warning.
    let mut h = hist(&[Web, Web, Web], "Web=2");
    h.login_sent(0, 100);
    h.login_sent(1, 105);
    h.login_answered(0, 150, true, false);
    h.login_answered(1, 151, true, false);
    h.ready(0, 160);
    h.ready(1, 161);
    login_ready(&mut h, 2, 300);
    h.kicked(1, KickType::MultipleAccount, 320, false);
    assert!(h.settle().0.is_empty());
}

#[test]
fn zombie_ready_and_isolation() {
    let mut h = hist(&[Web, Web], "");
    login_ready(&mut h, 0, 100);
    assert_eq!(
        h.probe_answered(0, ProbeKind::AfterKick, 300, Some(0))
            .unwrap()
            .class,
        Class::Zombie
    );
    assert!(h
        .probe_answered(0, ProbeKind::AfterLogout, 300, Some(3005))
        .is_none());
    assert_eq!(h.not_ready(0, 400).unwrap().class, Class::Isolation);
    h.logout_sent(0, 500);
    assert!(h.not_ready(0, 510).is_none());
    assert_eq!(h.ready(1, 600).unwrap().class, Class::Ready);
    assert_eq!(
        h.ready_missing(1, 700, 5000, None).unwrap().class,
        Class::Ready
    );
}

#[test]
fn a_missing_ready_of_a_silently_kicked_session_is_a_lost_kick() {
    let mut h = hist(&[Web, Web], "");
    h.login_sent(0, 100);
    h.login_answered(0, 110, true, false);
    let v = h.ready_missing(0, 5200, 5000, Some(3003)).unwrap();
    assert_eq!(v.class, Class::LostKick);
    // Kicked before it was ready (and told so): no ready was owed.
    let mut h = hist(&[Web, Web], "");
    h.login_sent(0, 100);
    h.login_answered(0, 110, true, false);
    assert!(h.kicked(0, KickType::UserSigExpired, 300, true).is_empty());
    assert!(h.ready_missing(0, 5200, 5000, None).is_none());
}

/// A barrier wave of every slot, all sent at `t` and answered in slot order.
fn wave(h: &mut History, n: u8, t: u64, number: u64) {
    h.wave_released(number, n as usize, true);
    for s in 0..n {
        h.login_sent(s, t);
    }
    for s in 0..n {
        h.login_answered(s, t + 10 + u64::from(s), true, false);
        h.ready(s, t + 20 + u64::from(s));
    }
}

fn classes(v: &[Violation]) -> Vec<Class> {
    v.iter().map(|v| v.class).collect()
}

#[test]
fn a_wave_settles_only_when_all_its_logins_are_sent() {
    let mut h = hist(&[Web, Web], "");
    h.wave_released(1, 2, true);
    h.login_sent(0, 100);
    h.login_answered(0, 110, true, false);
    assert!(h.login_pending(), "#1's jittered login is still to come");
    h.login_sent(1, 400);
    h.login_answered(1, 410, true, false);
    assert!(!h.login_pending());
}

#[test]
fn a_wave_with_the_kicks_the_policy_owes_is_clean() {
    let mut h = hist(&[Web, Web, Web, Web], "Web=2");
    wave(&mut h, 4, 100, 1);
    h.kicked(0, KickType::MultipleAccount, 200, false);
    h.kicked(3, KickType::MultipleAccount, 201, false);
    let (v, probe) = h.settle();
    assert!(v.is_empty() && probe.is_empty(), "{v:?}");
    let j = h.take_judged();
    assert_eq!(j[Class::KickCount.index()], 1);
    assert_eq!(j[Class::ExcessKick.index()], 1);
    assert_eq!(j[Class::Capacity.index()], 1);
    // The next wave starts from an empty account once the survivors logged out.
    for s in [1, 2] {
        h.logout_sent(s, 3000);
        h.logout_answered(s, 3010);
    }
    wave(&mut h, 4, 4000, 2);
    h.kicked(1, KickType::MultipleAccount, 4100, false);
    h.kicked(2, KickType::MultipleAccount, 4101, false);
    assert!(h.settle().0.is_empty());
}

#[test]
fn too_many_kicks_in_a_wave_are_excess_and_a_wrong_count() {
    let mut h = hist(&[Web, Web, Web, Web], "Web=2");
    wave(&mut h, 4, 100, 1);
    for s in 0..3 {
        h.kicked(s, KickType::MultipleAccount, 200 + u64::from(s), false);
    }
    let (v, _) = h.settle();
    assert_eq!(
        classes(&v),
        vec![Class::ExcessKick, Class::KickCount],
        "{v:?}"
    );
    assert!(v[1].seen.contains("3 kicks") && v[1].expected.contains("wave 1: 2 kicks"));
}

#[test]
fn too_few_kicks_in_a_wave_are_a_wrong_count_and_probed() {
    let mut h = hist(&[Web, Web, Web], "Web=2");
    wave(&mut h, 3, 100, 1);
    let (v, probe) = h.settle();
    assert_eq!(classes(&v), vec![Class::KickCount]);
    assert_eq!(probe, vec![0, 1, 2]);
}

#[test]
fn a_kick_whose_causes_all_settled_before_is_late_not_excess() {
    let mut h = hist(&[Web, Web], "");
    wave(&mut h, 2, 100, 1);
    let (_, probe) = h.settle();
    assert_eq!(probe, vec![0, 1]);
    // The notification comes after the account settled, before the probes are answered.
    let v = h.kicked(0, KickType::MultipleAccount, 5000, false);
    assert!(v.is_empty(), "alone, a login could have caused it: {v:?}");
    assert!(h
        .settle_probed(&[(0, Some(3003)), (1, Some(0))], 5100)
        .is_empty());
    let v = h.finish();
    assert_eq!(classes(&v), vec![Class::LateKick]);
    assert!(v[0].class.is_warning());
}

#[test]
fn an_admin_kick_owes_a_kick_to_every_older_session() {
    let mut h = hist(&[Web, Android], "");
    login_ready(&mut h, 0, 100);
    login_ready(&mut h, 1, 200);
    h.admin_kick_sent(1000);
    h.kicked(0, KickType::RestApiKick, 1010, false);
    // #1 heard nothing: it is due, and its probe tells how the promise broke.
    assert_eq!(h.admin_due(1000), vec![1]);
    let v = h
        .due_probed(1, ProbeKind::AdminDue, 3000, Some(3006))
        .unwrap();
    assert_eq!(v.class, Class::LostKick);
    assert!(v.seen.contains("gone"), "{v:?}");
    let mut h = hist(&[Web], "");
    login_ready(&mut h, 0, 100);
    let v = h
        .due_probed(0, ProbeKind::ExpiryDue, 3000, Some(0))
        .unwrap();
    assert!(v.seen.contains("still works"), "{v:?}");
    // A session newer than the kick owes nothing.
    let mut h = hist(&[Web], "");
    h.admin_kick_sent(50);
    login_ready(&mut h, 0, 100);
    assert!(h.admin_due(50).is_empty());
}

#[test]
fn an_account_that_never_settles_keeps_a_bounded_segment() {
    let mut h = hist(&[Web], "");
    for c in 0..1000u64 {
        let t = c * 100;
        login_ready(&mut h, 0, t);
        h.logout_sent(0, t + 30);
        h.logout_answered(0, t + 40);
    }
    assert!(h.seg.len() <= accounting::MAX_ITEMS, "{}", h.seg.len());
    // What was cut is not judged, never failed: nothing to report.
    assert!(h.finish().is_empty());
}

#[test]
fn a_logouts_not_ready_may_arrive_after_the_next_login_once() {
    // logout → {} → (client logs in again at once) → sdkStateNotReady of the logout arrives
    // during the new session: owed, not a leak. A second one is a leak.
    let mut h = hist(&[Web], "");
    login_ready(&mut h, 0, 100);
    h.logout_sent(0, 200);
    login_ready(&mut h, 0, 300);
    assert!(h.not_ready(0, 310).is_none());
    assert_eq!(h.not_ready(0, 320).unwrap().class, Class::Isolation);
    // Never owed without an earlier logout or kick.
    let mut h = hist(&[Web], "");
    login_ready(&mut h, 0, 100);
    assert_eq!(h.not_ready(0, 110).unwrap().class, Class::Isolation);
}

#[test]
fn a_newer_login_refused_because_the_session_is_in_use_still_owes_its_kick() {
    // Web=1: the newer of two logins must replace the older. Slot 1's login is refused.
    let refused_wave = |in_use: bool| {
        let mut h = hist(&[Web, Web], "Web=1");
        h.wave_released(1, 2, true);
        h.login_sent(0, 100);
        h.login_sent(1, 100);
        h.login_answered(0, 110, true, false);
        h.ready(0, 120);
        if in_use {
            h.login_refused_in_use(1);
        }
        h.login_answered(1, 111, false, false);
        h.settle().0
    };
    // A backend that refuses it because the session is in use (XMPP's kick_new: 2025) kept
    // the older session: the wave's kick is missing.
    let v = refused_wave(true);
    assert_eq!(classes(&v), vec![Class::KickCount], "{v:?}");
    assert!(
        v[0].expected.contains("wave 1: 1 kicks for 2 logins"),
        "{v:?}"
    );
    assert!(v[0].seen.contains("0 kicks; 1 login(s) refused"), "{v:?}");
    assert_eq!(v[0].instances, vec![0, 1]);
    // A login refused for another reason (a wrong password) made no session and owes nothing.
    assert!(refused_wave(false).is_empty());
}
