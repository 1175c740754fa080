//! The verdict of a run: PASS, FAIL or INCOMPLETE, with every reason named.
//!
//! A run never passes when the work failed (docs/checks.md, "Health"): no login succeeded, the
//! target refused or dropped connections, the backend broke the protocol, or failures and
//! timeouts went past the error budget. Answers the scenario provokes on purpose (70052 after
//! its own admin kick, a logout refused because a kick came first, a message refused after a
//! kick) are not failures.

use std::time::Duration;

mod hint;
pub use hint::limits_hint;

use crate::checks::Class;
use crate::model::{Counter, Metric, Outcome, Snapshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Incomplete,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Incomplete => "INCOMPLETE",
        }
    }
}

/// What a reason is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The run itself: interrupted, target lost, the backend's health.
    Run,
    Violations,
    Thresholds,
    Regressions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    /// Why it did not pass (empty for PASS).
    pub reasons: Vec<(Kind, String)>,
    /// What qualifies the figures without failing the run (the generator was late).
    pub cautions: Vec<String>,
}

impl Verdict {
    /// The reasons of one kind.
    pub fn of(&self, kind: Kind) -> Vec<&str> {
        self.reasons
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, r)| r.as_str())
            .collect()
    }
}

/// Failures and timeouts the backend is answerable for.
const FAILURES: [Counter; 8] = [
    Counter::ConnectionsFailed,
    Counter::LoginsFailed,
    Counter::TimeoutsLogin,
    Counter::TimeoutsReady,
    Counter::LogoutsFailed,
    Counter::TimeoutsLogout,
    Counter::MessagesFailed,
    Counter::AdminKicksFailed,
];

/// Every operation the generator attempted (each failure above is one of them).
const ATTEMPTS: [Counter; 14] = [
    Counter::ConnectionsOpened,
    Counter::ConnectionsFailed,
    Counter::LoginsOk,
    Counter::LoginsFailed,
    Counter::LoginsRefusedAfterAdminKick,
    Counter::TimeoutsLogin,
    Counter::Readies,
    Counter::TimeoutsReady,
    Counter::Logouts,
    Counter::LogoutsFailed,
    Counter::LogoutsRefusedAfterKick,
    Counter::TimeoutsLogout,
    Counter::MessagesSent,
    Counter::AdminKicksSent,
];

/// Failed operations and all operations attempted.
pub fn failures(s: &Snapshot) -> (u64, u64) {
    let sum = |cs: &[Counter]| cs.iter().map(|c| s.get(*c)).fold(0, u64::saturating_add);
    (sum(&FAILURES), sum(&ATTEMPTS))
}

/// Failures / attempts; `None` when nothing was attempted.
pub fn error_rate(s: &Snapshot) -> Option<f64> {
    let (failed, attempted) = failures(s);
    (attempted > 0).then(|| failed as f64 / attempted as f64)
}

/// Connects refused outright: nothing listens at the target (any more).
pub fn refused(s: &Snapshot) -> u64 {
    s.connect_errors
        .iter()
        .filter(|(reason, _)| reason.as_str() == "tcp_ConnectionRefused")
        .map(|(_, n)| *n)
        .fold(0, u64::saturating_add)
}

/// Why the backend failed the work itself, each as a sentence; empty when it did the work.
pub fn health(s: &Snapshot, error_budget: f64) -> Vec<String> {
    let mut why = Vec::new();
    if s.get(Counter::LoginsOk) == 0 {
        why.push("no login succeeded".to_string());
    }
    let refused = refused(s);
    let lost = s.get(Counter::ConnectionsLost);
    if refused > 0 || lost > 0 {
        why.push(format!(
            "target lost: {refused} connection(s) refused, {lost} dropped mid-session"
        ));
    }
    // Losses a disruption caused are planned (engine/chaos.rs); coming back is the backend's
    // part: an instance that was not ready again by the end is a session it failed to restore.
    let unfinished = s.get(Counter::ReconnectsUnfinished);
    if unfinished > 0 {
        why.push(format!(
            "{unfinished} instance(s) lost their connection and were not ready again by the run's end (reconnects_unfinished)"
        ));
    }
    let unsent = s.get(Counter::ArrivalsUnsent);
    if unsent > 0 {
        why.push(format!(
            "the generator never sent {unsent} start(s) its schedule had due before the load ended (arrivals_unsent): it fell behind its own schedule, so the load asked for was not offered — its limit, not the backend's (more cores or --processes)"
        ));
    }
    let protocol = s.get(Counter::ProtocolErrors);
    if protocol > 0 {
        why.push(format!(
            "{protocol} protocol error(s): frames the protocol does not allow"
        ));
    }
    // An admin kick the backend refused or never answered owed kicks that never came: however
    // few, the backend did not do what the operator asked.
    let admin_failed = s.get(Counter::AdminKicksFailed);
    if admin_failed > 0 {
        why.push(format!(
            "{admin_failed} of {} admin kick(s) refused or unanswered by the admin API",
            s.get(Counter::AdminKicksSent)
        ));
    }
    let (failed, attempted) = failures(s);
    if attempted == 0 {
        why.push("nothing was attempted".to_string());
    } else if failed as f64 > error_budget * attempted as f64 {
        why.push(format!(
            "{failed} of {attempted} operations failed or timed out ({:.2}%, error budget {}%)",
            failed as f64 * 100.0 / attempted as f64,
            error_budget * 100.0
        ));
    }
    why
}

/// Paced starts below which the generator's lateness is not judged.
pub const MIN_LAG_SAMPLES: u64 = 100;

/// Whether the generator kept its own schedule: `None` when it did (or nothing was paced),
/// else why its latency figures are unreliable. The generator's lateness is not the backend's,
/// but a late generator delays what it measures (docs/performance.md, "Honest latency").
pub fn lag_caution(s: &Snapshot, bound: Duration) -> Option<String> {
    let lag = s.hist(Metric::ScheduleLag);
    // The 99th percentile of fewer starts is their maximum: one late start in a short run is
    // not a late generator (and moves one sample of each latency).
    if lag.len() < MIN_LAG_SAMPLES {
        return None;
    }
    let p99 = Duration::from_micros(lag.value_at_quantile(0.99));
    (p99 > bound).then(|| {
        format!(
            "latency figures unreliable: the generator itself started cycles late (schedule_lag p99 {} > load.max_schedule_lag {}); give it more cores or a lower rate, or shard the load",
            crate::units::format_duration(p99),
            crate::units::format_duration(bound)
        )
    })
}

/// The invariants never judged in this run (with the checks on).
pub fn not_judged(s: &Snapshot) -> Vec<Class> {
    Class::ALL
        .into_iter()
        .filter(|c| s.judged(*c) == 0)
        .collect()
}

/// Judge a run from how it ended, its totals, its thresholds and its baseline comparison.
pub fn judge(
    outcome: Outcome,
    s: &Snapshot,
    error_budget: f64,
    thresholds_failed: usize,
    regressions: usize,
) -> Verdict {
    let mut reasons = Vec::new();
    if outcome == Outcome::Interrupted {
        reasons.push((
            Kind::Run,
            "the run was interrupted before its end".to_string(),
        ));
    }
    if outcome == Outcome::TargetLost {
        reasons.push((
            Kind::Run,
            "the target stopped accepting connections".to_string(),
        ));
    }
    if outcome == Outcome::DisruptionFailed {
        reasons.push((
            Kind::Run,
            "a [[chaos]] disruption could not be caused, so the run stopped there (its error was printed before this summary)".to_string(),
        ));
    }
    reasons.extend(health(s, error_budget).into_iter().map(|r| (Kind::Run, r)));
    let violations = s.violations_total();
    if violations > 0 {
        let classes: Vec<String> = Class::ALL
            .iter()
            .filter(|c| !c.is_warning() && s.violations(**c) > 0)
            .map(|c| format!("{} {}", c.name(), s.violations(*c)))
            .collect();
        reasons.push((
            Kind::Violations,
            format!(
                "the backend broke its login promises {violations} time(s): {} (violations.csv)",
                classes.join(", ")
            ),
        ));
    }
    if thresholds_failed > 0 {
        reasons.push((
            Kind::Thresholds,
            format!("{thresholds_failed} threshold(s) failed (thresholds.csv)"),
        ));
    }
    if regressions > 0 {
        reasons.push((
            Kind::Regressions,
            format!("{regressions} regression(s) against the baseline (comparison.csv)"),
        ));
    }
    let status = if outcome == Outcome::Interrupted {
        Status::Incomplete
    } else if reasons.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    Verdict {
        status,
        reasons,
        cautions: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Snapshot {
        let mut s = Snapshot::default();
        s.counters[Counter::ConnectionsOpened as usize] = 100;
        s.counters[Counter::LoginsOk as usize] = 100;
        s.counters[Counter::Readies as usize] = 100;
        s.counters[Counter::Logouts as usize] = 100;
        s
    }

    #[test]
    fn a_healthy_run_passes() {
        let v = judge(Outcome::Completed, &healthy(), 0.01, 0, 0);
        assert_eq!(v.status, Status::Pass, "{v:?}");
    }

    #[test]
    fn a_generator_that_fell_behind_its_schedule_fails_the_run() {
        let mut s = healthy();
        s.counters[Counter::ArrivalsUnsent as usize] = 39_987;
        let v = judge(Outcome::DurationReached, &s, 0.01, 0, 0);
        assert_eq!(v.status, Status::Fail, "{v:?}");
        assert!(
            v.reasons
                .iter()
                .any(|(_, r)| r.contains("never sent 39987 start(s)")),
            "{v:?}"
        );
    }

    #[test]
    fn a_backend_that_refuses_every_login_fails() {
        let mut s = Snapshot::default();
        s.counters[Counter::ConnectionsOpened as usize] = 180;
        s.counters[Counter::LoginsFailed as usize] = 180;
        let v = judge(Outcome::Completed, &s, 0.01, 0, 0);
        assert_eq!(v.status, Status::Fail);
        assert!(v.reasons[0].1.contains("no login succeeded"), "{v:?}");
        assert!(v.reasons[1].1.contains("180 of 360"), "{v:?}");
    }

    #[test]
    fn a_silent_backend_fails_on_its_timeouts() {
        let mut s = Snapshot::default();
        s.counters[Counter::ConnectionsOpened as usize] = 60;
        s.counters[Counter::TimeoutsLogin as usize] = 60;
        let v = judge(Outcome::Completed, &s, 0.01, 0, 0);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(error_rate(&s), Some(0.5));
    }

    #[test]
    fn refused_or_dropped_connections_are_a_lost_target_however_few() {
        let mut s = healthy();
        s.connect_errors.insert("tcp_ConnectionRefused".into(), 1);
        let v = judge(Outcome::Completed, &s, 0.5, 0, 0);
        assert_eq!(v.status, Status::Fail);
        assert!(v.reasons[0].1.starts_with("target lost"), "{v:?}");
        let mut s = healthy();
        s.counters[Counter::ConnectionsLost as usize] = 1;
        assert_eq!(
            judge(Outcome::Completed, &s, 0.5, 0, 0).status,
            Status::Fail
        );
    }

    #[test]
    fn failures_within_the_budget_pass_and_provoked_refusals_are_not_failures() {
        let mut s = healthy();
        s.counters[Counter::TimeoutsReady as usize] = 1;
        s.counters[Counter::LoginsRefusedAfterAdminKick as usize] = 50;
        s.counters[Counter::LogoutsRefusedAfterKick as usize] = 50;
        assert_eq!(
            judge(Outcome::Completed, &s, 0.01, 0, 0).status,
            Status::Pass
        );
        assert_eq!(
            judge(Outcome::Completed, &s, 0.0, 0, 0).status,
            Status::Fail
        );
    }

    #[test]
    fn protocol_errors_violations_and_outcomes_have_their_reasons() {
        let mut s = healthy();
        s.counters[Counter::ProtocolErrors as usize] = 2;
        s.violations[Class::ExcessKick.index()] = 3;
        let v = judge(Outcome::TargetLost, &s, 0.01, 1, 0);
        assert_eq!(v.status, Status::Fail);
        assert_eq!(v.reasons.len(), 4, "{v:?}");
        assert!(v.reasons[2].1.contains("excess_kick 3"));
        assert_eq!(v.of(Kind::Run).len(), 2);
        let v = judge(Outcome::Interrupted, &healthy(), 0.01, 0, 0);
        assert_eq!(v.status, Status::Incomplete);
        // Warnings alone do not fail a run.
        let mut s = healthy();
        s.violations[Class::VictimOrder.index()] = 5;
        assert_eq!(
            judge(Outcome::Completed, &s, 0.01, 0, 0).status,
            Status::Pass
        );
    }

    #[test]
    fn a_late_generator_is_a_caution_not_a_failure_and_few_starts_are_not_judged() {
        let bound = Duration::from_millis(1);
        let mut s = healthy();
        for _ in 0..200 {
            s.hist[Metric::ScheduleLag as usize].record(20).unwrap();
        }
        assert_eq!(lag_caution(&s, bound), None);
        for _ in 0..10 {
            s.hist[Metric::ScheduleLag as usize].record(5_000).unwrap();
        }
        let c = lag_caution(&s, bound).expect("p99 of 5 ms > 1 ms");
        assert!(c.starts_with("latency figures unreliable"), "{c}");
        assert_eq!(
            judge(Outcome::Completed, &s, 0.01, 0, 0).status,
            Status::Pass
        );
        // Under 100 paced starts the p99 is their maximum: not judged.
        let mut few = healthy();
        few.hist[Metric::ScheduleLag as usize]
            .record(50_000)
            .unwrap();
        assert_eq!(lag_caution(&few, bound), None);
    }
}
