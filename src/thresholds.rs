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
    /// Failed / (ok + failed) for logins or connections, as a fraction.
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

fn parse_subject(s: &str) -> Result<Subject, String> {
    let aliases = [
        ("violations", "violations_total"),
        ("warnings", "warnings_total"),
        ("errors", "errors_total"),
        ("kicks", "kicks_total"),
        ("kicks.lost", "violations_lost_kick"),
        ("kicks.spurious", "violations_spurious_kick"),
    ];
    if let Some((_, c)) = aliases.iter().find(|(a, _)| *a == s) {
        return Ok(Subject::Counter(c.to_string()));
    }
    if let Some(rest) = s.strip_prefix("violations.") {
        return Ok(Subject::Counter(format!("violations_{rest}")));
    }
    if let Some((m, stat)) = s.split_once('.') {
        if stat == "error_rate" {
            return match m {
                "login" => Ok(Subject::ErrorRate("login")),
                "connect" => Ok(Subject::ErrorRate("connect")),
                _ => Err(format!("{s}: error_rate exists for login and connect")),
            };
        }
        if let Some(metric) = Metric::ALL.iter().find(|x| x.name() == m) {
            return Ok(Subject::Latency(*metric, parse_stat(stat)?));
        }
    }
    if Counter::ALL.iter().any(|c| c.name() == s) || s.starts_with("logins_failed_code_") {
        return Ok(Subject::Counter(s.to_string()));
    }
    Err(format!(
        "unknown threshold subject {s:?} (e.g. login.p99, ready.p99.9, kick_propagation.max, login.error_rate, violations, kicks.lost, or a counters.csv name)"
    ))
}

fn parse_value(subject: &Subject, v: &str) -> Result<f64, String> {
    let v = v.trim();
    match subject {
        Subject::Latency(_, Stat::Count) | Subject::Counter(_) => v
            .parse::<f64>()
            .map_err(|_| format!("{v:?} is not a number")),
        Subject::Latency(..) => crate::units::parse_duration(v).map(|d| d.as_secs_f64() * 1e6),
        Subject::ErrorRate(_) => match v.strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse::<f64>()
                .map(|p| p / 100.0)
                .map_err(|_| format!("{v:?} is not a percentage")),
            None => v
                .parse::<f64>()
                .map_err(|_| format!("{v:?} is not a fraction or percentage")),
        },
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
                    "login" => (s.get(Counter::LoginsOk), s.get(Counter::LoginsFailed)),
                    _ => (
                        s.get(Counter::ConnectionsOpened),
                        s.get(Counter::ConnectionsFailed),
                    ),
                };
                Some(if ok + failed == 0 {
                    0.0
                } else {
                    failed as f64 / (ok + failed) as f64
                })
            }
            Subject::Counter(name) => Some(
                counter_rows(s, elapsed)
                    .into_iter()
                    .find(|(k, _)| k == name)
                    .and_then(|(_, v)| v.parse::<f64>().ok())
                    .unwrap_or(0.0),
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
}
