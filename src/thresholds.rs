//! Judging a run against its thresholds (the expressions are [`crate::model::Threshold`]).

pub use crate::model::Threshold;
use crate::model::{counter_rows, Counter, Generator, Snapshot, Stat, Subject};

/// One threshold's outcome.
#[derive(Debug, Clone)]
pub struct Judged {
    pub threshold: Threshold,
    /// `None` when the run measured nothing for it (a latency with no samples): that passes
    /// only `count` thresholds and fails the others.
    pub actual: Option<f64>,
    pub passed: bool,
}

impl Threshold {
    /// The value this threshold reads from a run's totals (rates: over its load window, `g`).
    pub fn actual(&self, s: &Snapshot, g: &Generator) -> Option<f64> {
        match &self.subject {
            Subject::Latency(m, stat) => {
                let h = s.hist(*m);
                if let Stat::Count = stat {
                    return Some(h.len() as f64);
                }
                if h.is_empty() {
                    return None;
                }
                Some(match stat {
                    Stat::Quantile(q) => h.value_at_quantile(*q) as f64,
                    Stat::Min => h.min() as f64,
                    Stat::Max => h.max() as f64,
                    Stat::Mean => h.mean(),
                    Stat::Count => unreachable!(),
                })
            }
            Subject::ErrorRate(which) => {
                let (ok, failed) = match *which {
                    "login" => (
                        s.get(Counter::LoginsOk)
                            .saturating_add(s.get(Counter::LoginsRefusedAfterAdminKick)),
                        s.get(Counter::LoginsFailed)
                            .saturating_add(s.get(Counter::TimeoutsLogin)),
                    ),
                    "connect" => (
                        s.get(Counter::ConnectionsOpened),
                        s.get(Counter::ConnectionsFailed),
                    ),
                    _ => return crate::verdict::error_rate(s),
                };
                (ok.saturating_add(failed) > 0).then(|| failed as f64 / (ok as f64 + failed as f64))
            }
            // A dynamic row (a code, a reason) that did not occur is zero.
            Subject::Counter(name) => Some(
                counter_rows(s, g)
                    .into_iter()
                    .find(|(k, _)| k == name)
                    .map_or(0.0, |(_, v)| v),
            ),
        }
    }

    pub fn judge(&self, s: &Snapshot, g: &Generator) -> Judged {
        let actual = self.actual(s, g);
        Judged {
            threshold: self.clone(),
            passed: actual.is_some_and(|a| self.op.holds(a, self.value)),
            actual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Metric, Op};

    #[test]
    fn thresholds_parse() {
        let t: Threshold = "login.p99 < 150ms".parse().unwrap();
        assert_eq!(
            t.subject,
            Subject::Latency(Metric::Login, Stat::Quantile(0.99))
        );
        assert_eq!(t.value, 150_000.0);
        let t: Threshold = "ready.p99.9<1s".parse().unwrap();
        match t.subject {
            Subject::Latency(Metric::Ready, Stat::Quantile(q)) => {
                assert!((q - 0.999).abs() < 1e-12)
            }
            other => panic!("{other:?}"),
        }
        let t: Threshold = "login.error_rate < 0.1%".parse().unwrap();
        assert!((t.value - 0.001).abs() < 1e-12);
        let t: Threshold = "kicks.lost == 0".parse().unwrap();
        assert_eq!(t.subject, Subject::Counter("violations_lost_kick".into()));
        let t = Threshold::from_entry("violations", "== 0").unwrap();
        assert_eq!(t.op, Op::Eq);
        assert!("login.p77x < 1s".parse::<Threshold>().is_err());
        assert!("nonsense < 1".parse::<Threshold>().is_err());
        assert!("login.p99 150ms".parse::<Threshold>().is_err());
        assert!("login.p99 < fast".parse::<Threshold>().is_err());
    }

    #[test]
    fn thresholds_judge_a_run() {
        let mut s = Snapshot::default();
        s.hist[Metric::Login as usize].record(1000).unwrap();
        s.counters[Counter::LoginsOk as usize] = 999;
        s.counters[Counter::LoginsFailed as usize] = 1;
        let g = Generator::default();
        let judge = |t: &str| t.parse::<Threshold>().unwrap().judge(&s, &g).passed;
        assert!(judge("login.p99 < 2ms"));
        assert!(!judge("login.p99 < 500us"));
        assert!(judge("login.error_rate <= 0.1%"));
        assert!(!judge("login.error_rate < 0.1%"));
        assert!(judge("violations == 0"));
        assert!(
            !judge("ready.p99 < 1s"),
            "no samples fails a latency threshold"
        );
        assert!(judge("ready.count == 0"));
    }

    #[test]
    fn every_counters_row_is_a_subject_and_typos_are_named() {
        for ok in [
            "kicks_total == 2000",
            "errors_total == 0",
            "logins_per_sec >= 500",
            "cycles_per_sec > 1",
            "violations.capacity == 0",
            "violations_excess_kick == 0",
            "judged_capacity > 0",
            "logins_failed_code_70009 == 0",
            "connections_failed_tcp_ConnectionRefused == 0",
            "error_rate < 1%",
        ] {
            assert!(ok.parse::<Threshold>().is_ok(), "{ok}");
        }
        let e = "violations.capcity == 0"
            .parse::<Threshold>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean \"violations.capacity\""), "{e}");
        let e = "logins_per_secc >= 1"
            .parse::<Threshold>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("logins_per_sec"), "{e}");
        assert!("login.error_rate < 200%".parse::<Threshold>().is_err());
        assert!("login.error_rate < 1.5".parse::<Threshold>().is_err());
        assert!("violations == nan".parse::<Threshold>().is_err());
        assert!("violations < inf".parse::<Threshold>().is_err());
        assert!("errors < -1".parse::<Threshold>().is_err());
    }

    /// Rates are what the load window did over the window: the totals (which include the
    /// wind-down after it) do not enter them.
    #[test]
    fn rates_and_totals_are_judged_from_typed_values() {
        let mut s = Snapshot::default();
        s.counters[Counter::LoginsOk as usize] = 1100;
        s.counters[Counter::CyclesCompleted as usize] = 1100;
        s.counters[Counter::KicksMultipleAccount as usize] = 7;
        let g = Generator {
            window: std::time::Duration::from_secs(2),
            logins_ok: 1000,
            cycles: 900,
            ..Generator::default()
        };
        let judge = |t: &str| t.parse::<Threshold>().unwrap().judge(&s, &g);
        assert!(judge("logins_per_sec >= 500").passed);
        assert!(!judge("logins_per_sec > 500").passed);
        assert_eq!(judge("cycles_per_sec > 1").actual, Some(450.0));
        assert_eq!(judge("cycles_completed > 1").actual, Some(1100.0));
        assert_eq!(judge("kicks_total == 7").actual, Some(7.0));
        assert_eq!(judge("kicks == 7").actual, Some(7.0));
        assert_eq!(judge("logins_failed_code_70001 == 0").actual, Some(0.0));
    }

    #[test]
    fn login_error_rate_counts_timeouts_and_has_no_data_without_attempts() {
        let s = Snapshot::default();
        let g = Generator::default();
        let t: Threshold = "login.error_rate < 0.1%".parse().unwrap();
        let o = t.judge(&s, &g);
        assert_eq!(o.actual, None);
        assert!(!o.passed, "no data fails");
        let mut s = Snapshot::default();
        s.counters[Counter::TimeoutsLogin as usize] = 60;
        let o = t.judge(&s, &g);
        assert_eq!(o.actual, Some(1.0));
        assert!(!o.passed);
    }
}
