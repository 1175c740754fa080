use super::*;
use crate::policy::PlatformMode;
use Platform::*;

fn policy(limits: &str, mode: PlatformMode) -> Policy {
    Policy {
        limits: limits.parse().unwrap(),
        mode,
    }
}

fn login(slot: u8, p: Platform, sent: u64, answered: u64, end: End) -> Stint {
    Stint {
        slot,
        platform: p,
        login: Some((sent, Some(answered))),
        end,
    }
}

fn excess(p: Policy, s: &[Stint]) -> Vec<usize> {
    match judge(p, s) {
        Finding::Judged(v) => v,
        Finding::NotJudged => panic!("not judged"),
    }
}

/// A barrier wave: `n` Web logins sent together at 100, answered in order of slot.
fn wave(n: u8, kicked: &[u8]) -> Vec<Stint> {
    (0..n)
        .map(|s| {
            let end = if kicked.contains(&s) {
                End::Kicked {
                    at: 500 + u64::from(s),
                }
            } else {
                End::Live
            };
            login(s, Web, 100, 200 + u64::from(s), end)
        })
        .collect()
}

#[test]
fn a_correct_wave_is_explained_whichever_instances_were_kicked() {
    let p = policy("Web=2", PlatformMode::Multi);
    for kicked in [[0u8, 1], [2, 3], [0, 3], [1, 2]] {
        assert!(excess(p, &wave(4, &kicked)).is_empty(), "{kicked:?}");
    }
}

#[test]
fn a_stricter_limit_leaves_excess_kicks() {
    // Web=1 behaviour against a Web=2 policy: three of four kicked.
    let p = policy("Web=2", PlatformMode::Multi);
    assert_eq!(excess(p, &wave(4, &[0, 1, 2])).len(), 1);
    // Two logins, one kicked: a limit of 1 where the policy admits 2.
    assert_eq!(excess(p, &wave(2, &[0])).len(), 1);
}

#[test]
fn a_second_victim_for_one_login_is_excess() {
    let p = policy("Web=2", PlatformMode::Multi);
    // #0 and #1 live, then #2 logs in alone and both older ones are kicked.
    let s = [
        login(0, Web, 100, 110, End::Kicked { at: 320 }),
        login(1, Web, 150, 160, End::Kicked { at: 321 }),
        login(2, Web, 300, 310, End::Live),
    ];
    assert_eq!(excess(p, &s).len(), 1);
}

#[test]
fn a_kick_with_every_login_already_explained_is_excess() {
    // Limit 1, two logins: one kick. A third kick of the survivor has no cause left.
    let p = policy("", PlatformMode::Multi);
    let s = [
        login(0, Web, 100, 110, End::Kicked { at: 250 }),
        login(1, Web, 200, 210, End::Kicked { at: 900 }),
    ];
    assert_eq!(excess(p, &s).len(), 1);
}

#[test]
fn a_kick_seen_before_its_only_cause_was_sent_is_excess() {
    let p = policy("", PlatformMode::Multi);
    let s = [
        login(0, Web, 100, 110, End::Kicked { at: 150 }),
        login(1, Web, 200, 210, End::Live),
    ];
    assert_eq!(excess(p, &s), vec![0]);
}

#[test]
fn logouts_and_closes_free_room_only_when_they_may_have_happened() {
    let p = policy("Web=2", PlatformMode::Multi);
    // #0 logged out (answered) before #2 was sent: #2 fits, #1 must not be kicked.
    let s = [
        login(
            0,
            Web,
            100,
            110,
            End::Own {
                lo: 150,
                hi: Some(160),
            },
        ),
        login(1, Web, 120, 130, End::Kicked { at: 320 }),
        login(2, Web, 300, 310, End::Live),
    ];
    assert_eq!(excess(p, &s), vec![1]);
    // The logout still in flight when #2 was decided: #2 may have found the platform full.
    let s = [
        login(0, Web, 100, 110, End::Own { lo: 290, hi: None }),
        login(1, Web, 120, 130, End::Kicked { at: 320 }),
        login(2, Web, 300, 310, End::Live),
    ];
    assert!(excess(p, &s).is_empty());
}

#[test]
fn excluded_platforms_are_kicked_all_at_once() {
    let p = policy("Web=2,iPhone=2", PlatformMode::Three);
    // Two iPhones live; an Android login kicks both with multipleDevice.
    let s = [
        login(0, IPhone, 100, 110, End::Kicked { at: 330 }),
        login(1, IPhone, 120, 130, End::Kicked { at: 331 }),
        login(2, Android, 300, 310, End::Live),
        login(3, Web, 300, 310, End::Live),
    ];
    assert!(excess(p, &s).is_empty());
    // A Web login excludes nothing in `three` mode: a Web-only cause explains no kick.
    let s = [
        login(0, IPhone, 100, 110, End::Kicked { at: 330 }),
        login(3, Web, 300, 310, End::Live),
    ];
    assert_eq!(excess(p, &s), vec![0]);
}

#[test]
fn sessions_live_at_the_start_count_and_other_removals_free_room() {
    let p = policy("", PlatformMode::Multi);
    let start = Stint {
        slot: 0,
        platform: Web,
        login: None,
        end: End::Kicked { at: 220 },
    };
    assert!(excess(p, &[start, login(1, Web, 200, 210, End::Live)]).is_empty());
    // Expired before the new login: the new login had nothing to kick.
    let gone = Stint {
        end: End::Removed { at: 150 },
        ..start
    };
    let s = [
        gone,
        login(1, Web, 200, 210, End::Live),
        login(2, Web, 100, 120, End::Live),
    ];
    // #2 was live, so #1 must kick it (unobserved: allowed) — nothing observed, nothing excess.
    assert!(excess(p, &s).is_empty());
}

#[test]
fn unanswered_logins_may_have_taken_effect() {
    let p = policy("", PlatformMode::Multi);
    let s = [
        login(0, Web, 100, 110, End::Kicked { at: 400 }),
        Stint {
            slot: 1,
            platform: Web,
            login: Some((300, None)),
            end: End::Own { lo: 5000, hi: None },
        },
    ];
    assert!(excess(p, &s).is_empty());
}

#[test]
fn ten_overlapping_logins_are_searched_quickly() {
    let p = policy("Web=3", PlatformMode::Multi);
    let kicked: Vec<u8> = (0..7).collect();
    let s: Vec<Stint> = (0..10u8)
        .map(|i| {
            let end = if kicked.contains(&i) {
                End::Kicked { at: 900 }
            } else {
                End::Live
            };
            login(i, Web, 100, 200, end)
        })
        .collect();
    assert!(excess(p, &s).is_empty());
    let mut over = s.clone();
    over[7].end = End::Kicked { at: 900 };
    assert_eq!(excess(p, &over).len(), 1);
}
