//! Proof that the checks work: each fault switch of the reference server is caught by its
//! check, and the same scenarios against the correct server show nothing, over several seeds.

use crate::util::{run_text, TempDir};
use loginstorm::checks::Class;
use loginstorm::model::Counter;
use loginstorm::report::VIOLATIONS_COLUMNS;
use loginstorm::run::Finished as RunResult;

/// Two Web instances of each account log in at once (limit 1) and hold longer than the kick
/// timeout, probing after every kick and logout.
const EXPOSE: &str = r#"
[accounts]
count = 8
instances = "Web*2"
[cycle]
cycles = 2
hold = "700ms"
think = "fixed:50ms"
alignment = "barrier"
on_kick = "next_cycle"
[timeouts]
kick = "200ms"
ready = "300ms"
[checks]
probe_after_kick = 1.0
probe_after_logout = 1.0
"#;

/// Three Web instances (limit 2) logging in spread over 600 ms: most logins do not overlap, so
/// the order of entering the login state is known.
const STAGGERED: &[&str] = &[
    "accounts.instances=Web*3",
    "policy.limits=Web=2",
    "cycle.alignment=jitter:600ms",
    "cycle.hold=1200ms",
];

fn run_with(overrides: &[&str]) -> (RunResult, TempDir) {
    run_text(EXPOSE, overrides)
}

fn count(r: &RunResult, c: Class) -> u64 {
    r.totals.violations(c)
}

fn listed(r: &RunResult) -> Vec<csv::StringRecord> {
    let mut rd = csv::Reader::from_path(r.report_dir.join("violations.csv")).unwrap();
    assert_eq!(rd.headers().unwrap(), VIOLATIONS_COLUMNS.as_slice());
    rd.records().map(Result::unwrap).collect()
}

/// Run with one fault at probability 1; assert its class fires and is listed with an explanation.
fn caught(fault: &str, class: Class, extra: &[&str]) -> RunResult {
    let mut o = vec![format!("server.faults.{fault}=1.0")];
    o.extend(extra.iter().map(|s| s.to_string()));
    let o: Vec<&str> = o.iter().map(String::as_str).collect();
    let (r, _dir) = run_with(&o);
    assert!(
        count(&r, class) > 0,
        "{fault} not caught as {}",
        class.name()
    );
    let rows = listed(&r);
    let row = rows
        .iter()
        .find(|row| &row[0] == class.name())
        .unwrap_or_else(|| panic!("{fault}: no {} row in violations.csv", class.name()));
    assert!(
        !row[6].is_empty() && !row[7].is_empty(),
        "expected/seen explain it: {row:?}"
    );
    // The instances by slot, `;`-separated (the account is its own column).
    assert!(
        !row[3].is_empty() && row[3].split(';').all(|i| i.parse::<u8>().is_ok()),
        "names the instances: {row:?}"
    );
    r
}

#[test]
fn a_dropped_kick_notification_is_a_lost_kick() {
    let r = caught("drop_kick", Class::LostKick, &[]);
    // One silent kick per account per wave, each reported once.
    assert_eq!(count(&r, Class::LostKick), 16);
    assert_eq!(count(&r, Class::Capacity), 0);
}

#[test]
fn over_admission_is_a_capacity_violation() {
    let r = caught("over_admit", Class::Capacity, &[]);
    assert_eq!(count(&r, Class::Capacity), 16);
    assert_eq!(count(&r, Class::LostKick), 0);
}

#[test]
fn a_kicked_session_that_still_acts_is_a_zombie() {
    caught("zombie", Class::Zombie, &[]);
}

#[test]
fn a_mislabelled_kick_is_a_kick_type_violation() {
    let r = caught("wrong_kick_type", Class::KickType, &[]);
    assert_eq!(count(&r, Class::KickType), 16);
    assert_eq!(count(&r, Class::SpuriousKick), 0);
}

#[test]
fn a_missing_sdk_state_ready_is_a_ready_violation() {
    let r = caught("no_ready", Class::Ready, &[]);
    // Per account per wave one login survives the kick and never gets ready.
    assert_eq!(count(&r, Class::Ready), 16);
}

#[test]
fn kicking_the_newest_is_a_victim_order_warning() {
    let r = caught("kick_newest", Class::VictimOrder, STAGGERED);
    // A warning class: it does not count as a violation.
    assert_eq!(r.totals.violations_total(), 0);
    assert!(r.totals.warnings_total() > 0);
}

#[test]
fn the_correct_server_shows_no_violation_over_several_seeds() {
    for seed in [1u64, 2, 3] {
        let s = format!("seed={seed}");
        for extra in [
            vec![s.as_str()],
            [vec![s.as_str()], STAGGERED.to_vec()].concat(),
        ] {
            let (r, _dir) = run_with(&extra);
            for c in Class::ALL {
                assert_eq!(
                    count(&r, c),
                    0,
                    "{} on the correct server ({extra:?})",
                    c.name()
                );
            }
            assert!(r.totals.get(Counter::ProbesSent) > 0, "the checks probed");
            assert!(listed(&r).is_empty());
        }
    }
}

/// Three Web instances (limit 2) per account: a wave owes exactly one kick.
const THREE_WEB: &[&str] = &["accounts.instances=Web*3", "policy.limits=Web=2"];

#[test]
fn an_extra_victim_is_an_excess_kick_and_a_wrong_kick_count() {
    // Whatever the order, the fault makes two kicks where the policy owes one.
    let r = caught("extra_victim", Class::ExcessKick, THREE_WEB);
    assert_eq!(count(&r, Class::ExcessKick), 16);
    assert_eq!(count(&r, Class::KickCount), 16);
    assert_eq!(count(&r, Class::SpuriousKick), 0);
}

#[test]
fn a_kick_of_another_account_is_caught() {
    let (r, _dir) = run_with(&["server.faults.foreign_kick=1.0"]);
    let caught = count(&r, Class::SpuriousKick) + count(&r, Class::ExcessKick);
    assert!(caught > 0, "foreign kicks not caught");
    assert!(r.totals.violations_total() > 0);
}

/// Three Web instances (limit 2) logging in one after another, 300 ms apart, every wave: the
/// order of entering the login state is always known, so every kick's victim is judged.
const SEQUENTIAL: &[&str] = &[
    "accounts.instances=Web*3",
    "policy.limits=Web=2",
    "cycle.alignment=stagger:300ms",
    "cycle.hold=900ms",
];

#[test]
fn staggered_logins_owe_exactly_one_kick_each_and_judge_every_victim() {
    for seed in ["seed=1", "seed=2"] {
        let (r, _dir) = run_with(&[SEQUENTIAL, &[seed]].concat());
        for c in Class::ALL {
            assert_eq!(count(&r, c), 0, "{} on the correct server", c.name());
        }
        // 8 accounts × 2 waves, each wave's third login kicking the first.
        assert_eq!(r.totals.get(Counter::KicksMultipleAccount), 16);
        assert_eq!(r.totals.get(Counter::ExpectedKicks), 16);
        assert_eq!(r.totals.judged(Class::KickCount), 16);
        assert_eq!(r.totals.judged(Class::VictimOrder), 16);
    }
    // The wrong victim, every time: each of the 16 kicks is a victim_order warning.
    let r = caught("kick_newest", Class::VictimOrder, SEQUENTIAL);
    assert_eq!(count(&r, Class::VictimOrder), 16);
}
