//! Regression runs: compare a run's reports with a baseline run's.
//!
//! A latency quantile regresses only when the current run's value is worse than the baseline's
//! beyond what noise explains: each quantile gets a confidence interval from its run's own
//! one-second histograms (see [`stats`]), and the current interval's low end must exceed the
//! baseline interval's high end by more than the tolerance and by more than an absolute floor.
//! Throughput rates that fell by more than the tolerance (in runs with a planned duration: a
//! fixed number of cycles makes a rate measure the run's length), any growth in violations, and
//! kick counts that changed by more than the tolerance are regressions too. A metric measured within
//! fewer than two seconds (a burst) is shown but not judged. Reports without `latency.hlog`
//! are compared on their summary values alone.

use std::collections::BTreeMap;
use std::path::Path;

mod load;
mod render;
pub mod stats;

pub use load::{load, parse_report, ReportData};
pub use render::{markdown, render, to_json, write_csv};
use stats::{Estimate, Series};

/// The quantiles compared (`max` is shown, never gating).
const QUANTILES: [(&str, f64); 4] = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)];
/// A quantile gates only when both runs have at least this many samples beyond it
/// (p99 needs 1,000 samples, p99.9 needs 10,000): below that it is shown, never judged.
const MIN_TAIL_SAMPLES: f64 = 10.0;

/// Counters compared: (name, direction). Higher-is-better rates regress when they fall.
const COUNTERS: [(&str, Direction); 10] = [
    ("logins_per_sec", Direction::HigherIsBetter),
    ("cycles_per_sec", Direction::HigherIsBetter),
    ("violations_total", Direction::NoIncrease),
    ("warnings_total", Direction::Info),
    ("errors_total", Direction::LowerIsBetter),
    ("kicks_total", Direction::Stable),
    ("kicks_multipleAccount", Direction::Stable),
    ("kicks_multipleDevice", Direction::Stable),
    ("kicks_userSigExpired", Direction::Info),
    ("kicks_REST_API_Kick", Direction::Info),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    /// Any increase is a regression (violations).
    NoIncrease,
    /// A change beyond the tolerance either way is a regression (behaviour changed).
    Stable,
    /// Shown, never gating.
    Info,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Regression,
    Improved,
    Info,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Regression => "REGRESSION",
            Status::Improved => "improved",
            Status::Info => "-",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub metric: String,
    pub baseline: f64,
    pub current: f64,
    pub status: Status,
    /// For latency quantiles: the confidence intervals of both runs.
    pub intervals: Option<Intervals>,
}

/// Confidence intervals (low, high) of a quantile in the baseline and the current run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intervals {
    pub baseline: (f64, f64),
    pub current: (f64, f64),
}

impl Row {
    /// Relative change, current vs baseline (`None` when the baseline is 0).
    pub fn delta(&self) -> Option<f64> {
        (self.baseline != 0.0).then(|| (self.current - self.baseline) / self.baseline)
    }
}

/// How strict a comparison is, and which metrics it covers.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Largest accepted relative regression (0.1 = 10 %).
    pub max_regression: f64,
    /// Latency growth below this (µs) is never a regression.
    pub floor_us: f64,
    pub filter: Filter,
}

/// Load two report directories and compare them; warnings about runs that differ in scenario,
/// seed or target go to stderr.
pub fn compare_dirs(current: &Path, baseline: &Path, o: &Options) -> anyhow::Result<Vec<Row>> {
    let cur = load(current)?;
    let base = load(baseline)?;
    for w in mismatches(&cur, &base) {
        eprintln!("{w}");
    }
    // A name in --only or --ignore that covers no metric is a typo that would silently turn
    // the gate off: refused, naming the closest metric.
    let all = compare(
        &cur,
        &base,
        o.max_regression,
        o.floor_us,
        &Filter::default(),
    );
    o.filter.check(all.iter().map(|r| r.metric.as_str()))?;
    Ok(compare(
        &cur,
        &base,
        o.max_regression,
        o.floor_us,
        &o.filter,
    ))
}

/// Which metrics a comparison covers: `--only` and `--ignore` lists of metric names or
/// prefixes (`ready` covers `ready.p50` … and not `ready_service`).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub only: Vec<String>,
    pub ignore: Vec<String>,
}

impl Filter {
    fn covers(name: &str, pattern: &str) -> bool {
        name == pattern
            || name
                .strip_prefix(pattern)
                .is_some_and(|r| r.starts_with('.'))
    }

    /// Every `--only` and `--ignore` name covers some metric of `metrics`.
    pub fn check<'a>(&self, metrics: impl Iterator<Item = &'a str> + Clone) -> anyhow::Result<()> {
        for (flag, patterns) in [("--only", &self.only), ("--ignore", &self.ignore)] {
            for p in patterns {
                if !metrics.clone().any(|m| Self::covers(m, p)) {
                    let hint = crate::model::closest(p, metrics.clone())
                        .map(|c| format!("; did you mean {c:?}?"))
                        .unwrap_or_default();
                    anyhow::bail!("{flag} {p:?} names no metric of these reports{hint}");
                }
            }
        }
        Ok(())
    }

    pub fn keeps(&self, metric: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|p| Self::covers(metric, p)))
            && !self.ignore.iter().any(|p| Self::covers(metric, p))
    }
}

/// A latency quantile of one run: from its interval histograms, or (an old report) from its
/// summary alone.
fn estimate(d: &ReportData, metric: &str, stat: &str, q: f64) -> Option<Estimate> {
    match d.intervals.get(metric) {
        Some(iv) if !iv.is_empty() => Series::new(iv).estimate(q),
        _ => {
            let s = d.latency.get(metric)?;
            let v = *s.get(&format!("{}_us", stat.replace('.', "_")))?;
            // No interval histograms (an older report): the point value, judged as such.
            Some(Estimate {
                value: v,
                lo: v,
                hi: v,
                count: s.get("count").copied().unwrap_or(0.0) as u64,
                seconds: stats::MIN_SECONDS,
            })
        }
    }
}

/// Whether quantile `q` of `to` is worse than of `from` beyond noise. The median's
/// between-run noise is small: its intervals must not overlap and its value must move by more
/// than the tolerance and the floor. Tails (p90 and up) swing far more between runs than
/// within one (measured: p99 up to 2.4x across same-seed runs on a busy machine), so the gap
/// between the intervals' near ends must itself exceed the tolerance and the floor.
fn worse(from: &Estimate, to: &Estimate, q: f64, tolerance: f64, floor_us: f64) -> bool {
    if q <= 0.5 {
        to.lo > from.hi
            && to.value > from.value * (1.0 + tolerance)
            && to.value - from.value > floor_us
    } else {
        to.lo > from.hi * (1.0 + tolerance) && to.lo - from.hi > floor_us
    }
}

/// Warnings when the two runs are not of the same scenario, seed or target.
pub fn mismatches(current: &ReportData, baseline: &ReportData) -> Vec<String> {
    // Two runs against their own embedded servers differ in port only.
    let embedded = |d: &ReportData| {
        d.identity
            .get("embedded_server")
            .is_some_and(|e| e == "true")
    };
    let keys: &[&str] = if embedded(current) && embedded(baseline) {
        &["scenario", "seed"]
    } else {
        &["scenario", "seed", "target"]
    };
    keys.iter()
        .copied()
        .filter_map(|k| match (current.identity.get(k), baseline.identity.get(k)) {
            (Some(c), Some(b)) if c != b => Some(format!(
                "warning: the runs differ in {k}: {c} (current) vs {b} (baseline); the comparison may mean little"
            )),
            _ => None,
        })
        .collect()
}

/// Build the delta table. `tolerance` is a fraction (0.1 = 10 %); `floor_us` is the smallest
/// latency growth that can count as a regression.
pub fn compare(
    current: &ReportData,
    baseline: &ReportData,
    tolerance: f64,
    floor_us: f64,
    filter: &Filter,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for (metric, base) in &baseline.latency {
        let Some(cur) = current.latency.get(metric) else {
            continue;
        };
        let count = |s: &BTreeMap<String, f64>| s.get("count").copied().unwrap_or(0.0);
        if count(base) == 0.0 || count(cur) == 0.0 {
            continue;
        }
        let n = count(base).min(count(cur));
        for (stat, q) in QUANTILES {
            let name = format!("{metric}.{stat}");
            if !filter.keeps(&name) {
                continue;
            }
            let (Some(b), Some(c)) = (
                estimate(baseline, metric, stat, q),
                estimate(current, metric, stat, q),
            ) else {
                continue;
            };
            let status = if n * (1.0 - q) < MIN_TAIL_SAMPLES || !b.judgeable() || !c.judgeable() {
                Status::Info
            } else if worse(&b, &c, q, tolerance, floor_us) {
                Status::Regression
            } else if worse(&c, &b, q, tolerance, floor_us) {
                Status::Improved
            } else {
                Status::Ok
            };
            rows.push(Row {
                metric: name,
                baseline: b.value,
                current: c.value,
                status,
                intervals: Some(Intervals {
                    baseline: (b.lo, b.hi),
                    current: (c.lo, c.hi),
                }),
            });
        }
        let name = format!("{metric}.max");
        if filter.keeps(&name) {
            if let (Some(b), Some(c)) = (base.get("max_us"), cur.get("max_us")) {
                rows.push(Row {
                    metric: name,
                    baseline: *b,
                    current: *c,
                    status: Status::Info,
                    intervals: None,
                });
            }
        }
    }
    for (name, dir) in COUNTERS {
        if !filter.keeps(name) {
            continue;
        }
        let b = baseline.counters.get(name).copied().unwrap_or(0.0);
        let c = current.counters.get(name).copied().unwrap_or(0.0);
        let rel = |x: f64| {
            if b == 0.0 {
                x != 0.0
            } else {
                (x - b).abs() / b > tolerance
            }
        };
        // A fixed-work run's rates measure how long it took, which the latencies judge.
        let rates_judged = current.time_bounded && baseline.time_bounded;
        let status = match dir {
            Direction::Info => Status::Info,
            Direction::HigherIsBetter if !rates_judged => Status::Info,
            Direction::NoIncrease if c > b => Status::Regression,
            Direction::NoIncrease if c < b => Status::Improved,
            Direction::NoIncrease => Status::Ok,
            Direction::HigherIsBetter if c < b * (1.0 - tolerance) => Status::Regression,
            Direction::HigherIsBetter if c > b * (1.0 + tolerance) => Status::Improved,
            Direction::LowerIsBetter if c > b * (1.0 + tolerance) && c > b => Status::Regression,
            Direction::LowerIsBetter if c < b * (1.0 - tolerance) => Status::Improved,
            Direction::Stable if rel(c) => Status::Regression,
            _ => Status::Ok,
        };
        rows.push(Row {
            metric: name.to_string(),
            baseline: b,
            current: c,
            status,
            intervals: None,
        });
    }
    rows
}

pub fn regressions(rows: &[Row]) -> usize {
    rows.iter()
        .filter(|r| r.status == Status::Regression)
        .count()
}

/// A `--max-regression` that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToleranceError {
    #[error("{0:?} is not a tolerance (e.g. 10% or 0.1)")]
    NotANumber(String),
    #[error("tolerance {0:?} out of range (0%..=10000%)")]
    OutOfRange(String),
}

/// Parse `10%` or `0.1` into a fraction.
pub fn parse_tolerance(s: &str) -> Result<f64, ToleranceError> {
    let v = match s.trim().strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => s.trim().parse::<f64>(),
    }
    .map_err(|_| ToleranceError::NotANumber(s.into()))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(ToleranceError::OutOfRange(s.into()));
    }
    Ok(v)
}

#[cfg(test)]
mod tests;
