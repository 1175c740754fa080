use super::*;
use Platform::*;

fn policy(limits: &str, mode: PlatformMode) -> Policy {
    Policy {
        limits: limits.parse().unwrap(),
        mode,
    }
}

fn kicks(p: &Policy, live: &[Platform], new: Platform) -> Vec<(usize, KickType)> {
    p.decide(live, new, VictimOrder::Oldest)
        .into_iter()
        .map(|k| (k.index, k.kick))
        .collect()
}

#[test]
fn default_limit_kicks_the_only_same_platform_instance() {
    let p = Policy::default();
    assert_eq!(kicks(&p, &[Web], Web), vec![(0, KickType::MultipleAccount)]);
    assert_eq!(kicks(&p, &[], Web), vec![]);
}

#[test]
fn over_limit_kicks_the_oldest_first() {
    let p = policy("Web=3", PlatformMode::Multi);
    assert_eq!(kicks(&p, &[Web, Web], Web), vec![]);
    assert_eq!(
        kicks(&p, &[Web, Android, Web, Web], Web),
        vec![(0, KickType::MultipleAccount)]
    );
    let newest = p.decide(&[Web, Web, Web], Web, VictimOrder::Newest);
    assert_eq!(newest[0].index, 2);
}

#[test]
fn multi_mode_platforms_do_not_exclude_each_other() {
    let p = Policy::default();
    for a in Platform::ALL {
        for b in Platform::ALL {
            if a != b {
                assert!(kicks(&p, &[a], b).is_empty(), "{a} vs {b}");
            }
        }
    }
}

#[test]
fn single_mode_kicks_every_other_platform_with_multiple_device() {
    let p = policy("Web=2", PlatformMode::Single);
    assert_eq!(
        kicks(&p, &[Android, Web, Mac], Web),
        vec![(0, KickType::MultipleDevice), (2, KickType::MultipleDevice)]
    );
    assert_eq!(
        kicks(&p, &[Android, Web], Android),
        vec![
            (0, KickType::MultipleAccount),
            (1, KickType::MultipleDevice)
        ]
    );
}

#[test]
fn dual_mode_keeps_web_apart() {
    let p = Policy {
        mode: PlatformMode::Dual,
        ..Default::default()
    };
    assert!(kicks(&p, &[Web], Linux).is_empty());
    assert_eq!(
        kicks(&p, &[Linux, Web], IPhone),
        vec![(0, KickType::MultipleDevice)]
    );
    assert!(kicks(&p, &[Android], Web).is_empty());
}

#[test]
fn three_mode_groups_mobile_desktop_web() {
    let p = Policy {
        mode: PlatformMode::Three,
        ..Default::default()
    };
    assert_eq!(
        kicks(&p, &[Android], IPad),
        vec![(0, KickType::MultipleDevice)]
    );
    assert!(kicks(&p, &[Android], Mac).is_empty());
    assert_eq!(
        kicks(&p, &[Windows, IPhone], Linux),
        vec![(0, KickType::MultipleDevice)]
    );
    assert!(kicks(&p, &[Windows, IPhone], Web).is_empty());
}

#[test]
fn expected_kicks_from_an_empty_account() {
    let p = Policy::default();
    assert_eq!(p.expected_kicks(&[Web, Web, Web]), (2, 2));
    assert_eq!(p.expected_kicks(&[Web, Android]), (0, 0));
    let p = policy("Web=3", PlatformMode::Multi);
    assert_eq!(p.expected_kicks(&[Web; 5]), (2, 2));
    assert_eq!(p.expected_kicks(&[Web; 12]), (9, 9));
    // single mode, Web=2: W W A kicks both Webs; A W W kicks only A.
    let p = policy("Web=2", PlatformMode::Single);
    assert_eq!(p.expected_kicks(&[Web, Web, Android]), (1, 2));
}

#[test]
fn limits_are_bounded() {
    assert!("Web=10".parse::<Limits>().is_ok());
    assert!("Web=11".parse::<Limits>().is_err());
    assert!("Android=3".parse::<Limits>().is_ok());
    assert!("Android=4".parse::<Limits>().is_err());
    assert!("Web=0".parse::<Limits>().is_err());
    assert!("Palm=1".parse::<Limits>().is_err());
    assert!("Web".parse::<Limits>().is_err());
    let l: Limits = " Web=3 , iPad=2 ".parse().unwrap();
    assert_eq!(l.get(Web), 3);
    assert_eq!(l.get(IPad), 2);
    assert_eq!(l.get(Mac), 1);
    assert_eq!(l.to_spec(), "iPad=2,Web=3");
}

#[test]
fn decisions_always_leave_an_admissible_set() {
    // Exhaustive over small live sets for every mode and a few limits.
    for mode in [
        PlatformMode::Single,
        PlatformMode::Dual,
        PlatformMode::Three,
        PlatformMode::Multi,
    ] {
        for limits in ["", "Web=3,Android=2", "Web=10,iPhone=3,Mac=3"] {
            let p = policy(limits, mode);
            let mut live: Vec<Platform> = Vec::new();
            // A deterministic pseudo-random login sequence.
            let mut x: u32 = 12345;
            for _ in 0..200 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let new = Platform::ALL[(x >> 16) as usize % 7];
                let k = p.decide(&live, new, VictimOrder::Oldest);
                for kick in k.iter().rev() {
                    live.remove(kick.index);
                }
                live.push(new);
                assert!(p.admits(&live), "{mode} {limits}: {live:?}");
            }
        }
    }
}
