//! A threshold as a user writes it: `login.p99 < 150ms`, `violations == 0`,
//! `logins_per_sec >= 500`. One parser serves the `[thresholds]` table of a scenario
//! (`"login.p99" = "< 150ms"`) and the repeatable `--threshold` flag; every subject it accepts is
//! a latency statistic, an error rate or a row of `counters.csv`, and an unknown one is refused
//! with the closest known name. Judging a run against it is [`crate::thresholds`]' business.

use std::fmt;
use std::str::FromStr;

use crate::model::{Counter, Metric};

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
    pub(crate) fn holds(self, a: f64, b: f64) -> bool {
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
    k.extend(crate::model::TOTAL_ROWS.iter().map(|r| r.to_string()));
    k.extend(crate::model::RATE_ROWS.iter().map(|r| r.to_string()));
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
