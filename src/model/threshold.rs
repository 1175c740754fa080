//! A threshold as a user writes it: `login.p99 < 150ms`, `violations == 0`,
//! `logins_per_sec >= 500`. One parser serves the `[thresholds]` table of a scenario
//! (`"login.p99" = "< 150ms"`) and the repeatable `--threshold` flag; every subject it accepts is
//! a latency statistic, an error rate or a row of `counters.csv`, and an unknown one is refused
//! with the closest known name. Judging a run against it is [`crate::thresholds`]' business.

use std::fmt;
use std::str::FromStr;

use crate::model::{Counter, Metric};
use crate::units::UnitError;

/// What is wrong with a threshold; shown after the threshold's text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdProblem {
    #[error("expected SUBJECT OP VALUE, e.g. \"login.p99 < 150ms\"")]
    Syntax,
    #[error("unknown statistic {0:?} (use p50, p90, p99, p99.9, min, max, mean, count)")]
    UnknownStat(String),
    #[error("unknown threshold subject {subject:?}{} (see docs/ci.md: <metric>.<stat>, login.error_rate, error_rate, violations, or any counters.csv row)", closest.as_ref().map(|c| format!("; did you mean {c:?}?")).unwrap_or_default())]
    UnknownSubject {
        subject: String,
        closest: Option<String>,
    },
    #[error(
        "{0}: error_rate exists for login and connect (and error_rate alone for every operation)"
    )]
    NoErrorRate(String),
    #[error("{0:?} is not a non-negative number")]
    NotANumber(String),
    #[error("{0:?} is over 100%")]
    OverHundredPercent(String),
    #[error(transparent)]
    Duration(#[from] UnitError),
}

/// A threshold that could not be read, with its text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("threshold {text:?}: {problem}")]
pub struct ThresholdError {
    pub text: String,
    pub problem: ThresholdProblem,
}

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

fn parse_stat(s: &str) -> Result<Stat, ThresholdProblem> {
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
                .ok_or_else(|| ThresholdProblem::UnknownStat(s.into()))?;
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

/// The known name closest to `s` (edit distance), for "did you mean".
pub fn closest<'a>(s: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known.into_iter().min_by_key(|k| strsim::levenshtein(s, k))
}

fn unknown(s: &str) -> ThresholdProblem {
    let known = known_subjects();
    ThresholdProblem::UnknownSubject {
        subject: s.into(),
        closest: closest(s, known.iter().map(String::as_str)).map(str::to_string),
    }
}

fn parse_subject(s: &str) -> Result<Subject, ThresholdProblem> {
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
                _ => Err(ThresholdProblem::NoErrorRate(s.into())),
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

fn number(v: &str) -> Result<f64, ThresholdProblem> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(ThresholdProblem::NotANumber(v.into())),
    }
}

fn parse_value(subject: &Subject, v: &str) -> Result<f64, ThresholdProblem> {
    let v = v.trim();
    match subject {
        Subject::Latency(_, Stat::Count) | Subject::Counter(_) => number(v),
        Subject::Latency(..) => Ok(crate::units::parse_duration(v)?.as_secs_f64() * 1e6),
        Subject::ErrorRate(_) => {
            let f = match v.strip_suffix('%') {
                Some(p) => number(p.trim())? / 100.0,
                None => number(v)?,
            };
            if f > 1.0 {
                return Err(ThresholdProblem::OverHundredPercent(v.into()));
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
    pub fn from_entry(subject: &str, condition: &str) -> Result<Threshold, ThresholdError> {
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
    type Err = ThresholdError;
    fn from_str(s: &str) -> Result<Threshold, ThresholdError> {
        let err = |problem| ThresholdError {
            text: s.into(),
            problem,
        };
        let (lhs, op, rhs) = split_op(s).ok_or_else(|| err(ThresholdProblem::Syntax))?;
        let subject = parse_subject(lhs.trim()).map_err(err)?;
        let value = parse_value(&subject, rhs).map_err(err)?;
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
