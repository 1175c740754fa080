//! Pass/fail thresholds: `login.p99 < 150ms`, `violations == 0`, `login.error_rate < 0.1%`.
//!
//! One parser serves the `[thresholds]` table of a scenario (`"login.p99" = "< 150ms"`) and the
//! repeatable `--threshold` flag (`"login.p99 < 150ms"`).

use std::fmt;
use std::str::FromStr;

use crate::engine::metrics::{Counter, Metric, Snapshot};
use crate::report::counter_rows;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

/// What a threshold reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A latency statistic, in microseconds.
    Latency(Metric, Stat),
    /// Failed / attempted for logins (timeouts count as failures), connections, or every
    /// operation (`all`), as a fraction; no data when nothing was attempted.
    ErrorRate(&'static str),
    /// Any row of counters.csv.
    Counter(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    Quantile(f64),
    Min,
    Max,
    Mean,
    Count,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub text: String,
    pub subject: Subject,
    pub op: Op,
    /// In the subject's unit: microseconds, a fraction, or a count.
    pub value: f64,
}

/// One threshold's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub threshold: Threshold,
    /// `None` when the run measured nothing for it (a latency with no samples): that passes
    /// only `count` thresholds and fails the others.
    pub actual: Option<f64>,
    pub passed: bool,
}

fn parse_stat(s: &str) -> Result<Stat, String> {
    match s {
        "min" => Ok(Stat::Min),
        "max" => Ok(Stat::Max),
        "mean" => Ok(Stat::Mean),
        "count" => Ok(Stat::Count),
        _ => {
            let q = s
                .strip_prefix('p')
                .and_then(|q| q.parse::<f64>().ok())
                .filter(|q| (0.0..=100.0).contains(q))
                .ok_or_else(|| {
                    format!(
                        "unknown statistic {s:?} (use p50, p90, p99, p99.9, min, max, mean, count)"
                    )
                })?;
            Ok(Stat::Quantile(q / 100.0))
        }
    }
}

/// Short names for common subjects.
const ALIASES: [(&str, &str); 6] = [
    ("violations", "violations_total"),
    ("warnings", "warnings_total"),
    ("errors", "errors_total"),
    ("kicks", "kicks_total"),
    ("kicks.lost", "violations_lost_kick"),
    ("kicks.spurious", "violations_spurious_kick"),
];

/// Every fixed subject name (for "did you mean").
fn known_subjects() -> Vec<String> {
    let mut k: Vec<String> = ALIASES.iter().map(|(a, _)| a.to_string()).collect();
    k.extend(Counter::ALL.iter().map(|c| c.name().to_string()));
    k.extend(crate::report::TOTAL_ROWS.iter().map(|r| r.to_string()));
    k.extend(crate::report::RATE_ROWS.iter().map(|r| r.to_string()));
    for c in crate::checks::Class::ALL {
        k.push(format!("violations_{}", c.name()));
        k.push(format!("violations.{}", c.name()));
        k.push(format!("judged_{}", c.name()));
    }
    for m in Metric::ALL {
        for stat in ["p50", "p90", "p99", "p99.9", "min", "max", "mean", "count"] {
            k.push(format!("{}.{stat}", m.name()));
        }
    }
    k.extend(["login.error_rate", "connect.error_rate", "error_rate"].map(String::from));
    k
}

/// Edit distance, for suggesting the closest known subject.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn unknown(s: &str) -> String {
    let known = known_subjects();
    let closest = known.iter().min_by_key(|k| distance(s, k));
    format!(
        "unknown threshold subject {s:?}{} (see docs/ci.md: <metric>.<stat>, login.error_rate, error_rate, violations, or any counters.csv row)",
        closest
            .map(|c| format!("; did you mean {c:?}?"))
            .unwrap_or_default()
    )
}

fn parse_subject(s: &str) -> Result<Subject, String> {
    if let Some((_, c)) = ALIASES.iter().find(|(a, _)| *a == s) {
        return Ok(Subject::Counter(c.to_string()));
    }
    if s == "error_rate" {
        return Ok(Subject::ErrorRate("all"));
    }
    if let Some(rest) = s.strip_prefix("violations.") {
        return match crate::checks::Class::ALL.iter().find(|c| c.name() == rest) {
            Some(c) => Ok(Subject::Counter(format!("violations_{}", c.name()))),
            None => Err(unknown(s)),
        };
    }
    if let Some((m, stat)) = s.split_once('.') {
        if stat == "error_rate" {
            return match m {
                "login" => Ok(Subject::ErrorRate("login")),
                "connect" => Ok(Subject::ErrorRate("connect")),
                _ => Err(format!("{s}: error_rate exists for login and connect (and error_rate alone for every operation)")),
            };
        }
        if let Some(metric) = Metric::ALL.iter().find(|x| x.name() == m) {
            return Ok(Subject::Latency(*metric, parse_stat(stat)?));
        }
    }
    let dynamic = |prefix: &str, ok: fn(char) -> bool| {
        s.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.chars().all(ok))
    };
    if known_subjects().iter().any(|k| k == s && !k.contains('.'))
        || dynamic("logins_failed_code_", |c| c.is_ascii_digit())
        || dynamic("connections_failed_", |c| {
            c.is_ascii_alphanumeric() || c == '_'
        })
    {
        return Ok(Subject::Counter(s.to_string()));
    }
    Err(unknown(s))
}

fn number(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("{v:?} is not a non-negative number")),
    }
}

fn parse_value(subject: &Subject, v: &str) -> Result<f64, String> {
    let v = v.trim();
    match subject {
        Subject::Latency(_, Stat::Count) | Subject::Counter(_) => number(v),
        Subject::Latency(..) => crate::units::parse_duration(v).map(|d| d.as_secs_f64() * 1e6),
        Subject::ErrorRate(_) => {
            let f = match v.strip_suffix('%') {
                Some(p) => number(p.trim())? / 100.0,
                None => number(v)?,
            };
            if f > 1.0 {
                return Err(format!("{v:?} is over 100%"));
            }
            Ok(f)
        }
    }
}

fn split_op(s: &str) -> Option<(&str, Op, &str)> {
    for (sym, op) in [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ] {
        if let Some(i) = s.find(sym) {
            return Some((&s[..i], op, &s[i + sym.len()..]));
        }
    }
    None
}

impl Threshold {
    /// Build from a `[thresholds]` entry: `"login.p99" = "< 150ms"`.
    pub fn from_entry(subject: &str, condition: &str) -> Result<Threshold, String> {
        format!("{subject} {condition}").parse()
    }

    /// The value this threshold reads from a run's totals.
    pub fn actual(&self, s: &Snapshot, elapsed: std::time::Duration) -> Option<f64> {
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
                        s.get(Counter::LoginsOk) + s.get(Counter::LoginsRefusedAfterAdminKick),
                        s.get(Counter::LoginsFailed) + s.get(Counter::TimeoutsLogin),
                    ),
                    "connect" => (
                        s.get(Counter::ConnectionsOpened),
                        s.get(Counter::ConnectionsFailed),
                    ),
                    _ => return crate::verdict::error_rate(s),
                };
                (ok + failed > 0).then(|| failed as f64 / (ok + failed) as f64)
            }
            // A dynamic row (a code, a reason) that did not occur is zero.
            Subject::Counter(name) => Some(
                counter_rows(s, elapsed)
                    .into_iter()
                    .find(|(k, _)| k == name)
                    .map_or(0.0, |(_, v)| v),
            ),
        }
    }

    pub fn judge(&self, s: &Snapshot, elapsed: std::time::Duration) -> Outcome {
        let actual = self.actual(s, elapsed);
        Outcome {
            threshold: self.clone(),
            passed: actual.is_some_and(|a| self.op.holds(a, self.value)),
            actual,
        }
    }

    /// Render a value in this threshold's unit.
    pub fn show(&self, v: f64) -> String {
        match self.subject {
            Subject::Latency(_, Stat::Count) | Subject::Counter(_) => {
                if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            }
            Subject::Latency(..) => {
                crate::units::format_duration(std::time::Duration::from_micros(v.max(0.0) as u64))
            }
            Subject::ErrorRate(_) => format!("{:.3}%", v * 100.0),
        }
    }
}

impl FromStr for Threshold {
    type Err = String;
    fn from_str(s: &str) -> Result<Threshold, String> {
        let (lhs, op, rhs) = split_op(s).ok_or_else(|| {
            format!("threshold {s:?}: expected SUBJECT OP VALUE, e.g. \"login.p99 < 150ms\"")
        })?;
        let subject = parse_subject(lhs.trim()).map_err(|e| format!("threshold {s:?}: {e}"))?;
        let value = parse_value(&subject, rhs).map_err(|e| format!("threshold {s:?}: {e}"))?;
        Ok(Threshold {
            text: format!("{} {} {}", lhs.trim(), op.symbol(), rhs.trim()),
            subject,
            op,
            value,
        })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let d = std::time::Duration::from_secs(1);
        let judge = |t: &str| t.parse::<Threshold>().unwrap().judge(&s, d).passed;
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
        let e = "violations.capcity == 0".parse::<Threshold>().unwrap_err();
        assert!(e.contains("did you mean \"violations.capacity\""), "{e}");
        let e = "logins_per_secc >= 1".parse::<Threshold>().unwrap_err();
        assert!(e.contains("logins_per_sec"), "{e}");
        assert!("login.error_rate < 200%".parse::<Threshold>().is_err());
        assert!("login.error_rate < 1.5".parse::<Threshold>().is_err());
        assert!("violations == nan".parse::<Threshold>().is_err());
        assert!("violations < inf".parse::<Threshold>().is_err());
        assert!("errors < -1".parse::<Threshold>().is_err());
    }

    #[test]
    fn rates_and_totals_are_judged_from_typed_values() {
        let mut s = Snapshot::default();
        s.counters[Counter::LoginsOk as usize] = 1000;
        s.counters[Counter::KicksMultipleAccount as usize] = 7;
        let d = std::time::Duration::from_secs(2);
        let judge = |t: &str| t.parse::<Threshold>().unwrap().judge(&s, d);
        assert!(judge("logins_per_sec >= 500").passed);
        assert!(!judge("logins_per_sec > 500").passed);
        assert_eq!(judge("kicks_total == 7").actual, Some(7.0));
        assert_eq!(judge("kicks == 7").actual, Some(7.0));
        assert_eq!(judge("logins_failed_code_70001 == 0").actual, Some(0.0));
    }

    #[test]
    fn login_error_rate_counts_timeouts_and_has_no_data_without_attempts() {
        let s = Snapshot::default();
        let d = std::time::Duration::from_secs(1);
        let t: Threshold = "login.error_rate < 0.1%".parse().unwrap();
        let o = t.judge(&s, d);
        assert_eq!(o.actual, None);
        assert!(!o.passed, "no data fails");
        let mut s = Snapshot::default();
        s.counters[Counter::TimeoutsLogin as usize] = 60;
        let o = t.judge(&s, d);
        assert_eq!(o.actual, Some(1.0));
        assert!(!o.passed);
    }
}
