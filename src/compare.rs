//! Regression runs: compare a run's reports with a baseline run's.
//!
//! Reads `summary.csv` and `counters.csv` of both directories and builds a per-metric delta
//! table. A regression is a latency percentile that grew by more than the tolerance (and by more
//! than an absolute floor, so microsecond jitter is not a regression), a throughput rate that fell
//! by more than the tolerance, any growth in violations, or a kick count that changed by more than
//! the tolerance.

use anyhow::Context as _;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::report::SUMMARY_COLUMNS;

/// The columns of summary.csv compared, with their quantile (`None`: shown, never gating).
const LATENCY_STATS: [(&str, Option<f64>); 5] = [
    ("p50_us", Some(0.5)),
    ("p90_us", Some(0.9)),
    ("p99_us", Some(0.99)),
    ("p99_9_us", Some(0.999)),
    ("max_us", None),
];
/// A percentile gates only when both runs have at least this many samples beyond it
/// (p99 needs 500 samples, p99.9 needs 5,000): below that it is noise.
const MIN_TAIL_SAMPLES: f64 = 5.0;

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
}

impl Row {
    /// Relative change, current vs baseline (`None` when the baseline is 0).
    pub fn delta(&self) -> Option<f64> {
        (self.baseline != 0.0).then(|| (self.current - self.baseline) / self.baseline)
    }
}

/// What is compared from one report directory.
#[derive(Debug, Default)]
pub struct ReportData {
    latency: BTreeMap<String, BTreeMap<String, f64>>,
    counters: BTreeMap<String, f64>,
}

pub fn load(dir: &Path) -> anyhow::Result<ReportData> {
    let mut data = ReportData::default();
    let path = dir.join("summary.csv");
    let mut r = csv::Reader::from_path(&path).with_context(|| {
        format!(
            "cannot read {} (is it a loginstorm report directory?)",
            path.display()
        )
    })?;
    let headers = r.headers()?.clone();
    anyhow::ensure!(
        headers.iter().eq(SUMMARY_COLUMNS.iter().copied()),
        "{} does not have the summary.csv columns",
        path.display()
    );
    for rec in r.records() {
        let rec = rec?;
        let mut stats = BTreeMap::new();
        for (h, v) in headers.iter().zip(rec.iter()).skip(1) {
            if let Ok(v) = v.parse::<f64>() {
                stats.insert(h.to_string(), v);
            }
        }
        data.latency.insert(rec[0].to_string(), stats);
    }
    let path = dir.join("counters.csv");
    let mut r =
        csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
    for rec in r.records() {
        let rec = rec?;
        if let Ok(v) = rec[1].parse::<f64>() {
            data.counters.insert(rec[0].to_string(), v);
        }
    }
    Ok(data)
}

/// Build the delta table. `tolerance` is a fraction (0.1 = 10 %); `floor_us` is the smallest
/// latency growth that can count as a regression.
pub fn compare(
    current: &ReportData,
    baseline: &ReportData,
    tolerance: f64,
    floor_us: f64,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for (metric, base) in &baseline.latency {
        let Some(cur) = current.latency.get(metric) else {
            continue;
        };
        if base.get("count").copied().unwrap_or(0.0) == 0.0
            || cur.get("count").copied().unwrap_or(0.0) == 0.0
        {
            continue;
        }
        let n = base["count"].min(cur["count"]);
        for (stat, quantile) in LATENCY_STATS {
            let (Some(&b), Some(&c)) = (base.get(stat), cur.get(stat)) else {
                continue;
            };
            let gates = quantile.is_some_and(|q| n * (1.0 - q) >= MIN_TAIL_SAMPLES);
            let status = if !gates {
                Status::Info
            } else if c > b * (1.0 + tolerance) && c - b > floor_us {
                Status::Regression
            } else if c < b * (1.0 - tolerance) && b - c > floor_us {
                Status::Improved
            } else {
                Status::Ok
            };
            rows.push(Row {
                metric: format!(
                    "{metric}.{}",
                    stat.trim_end_matches("_us").replace('_', ".")
                ),
                baseline: b,
                current: c,
                status,
            });
        }
    }
    for (name, dir) in COUNTERS {
        let b = baseline.counters.get(name).copied().unwrap_or(0.0);
        let c = current.counters.get(name).copied().unwrap_or(0.0);
        let rel = |x: f64| {
            if b == 0.0 {
                x != 0.0
            } else {
                (x - b).abs() / b > tolerance
            }
        };
        let status = match dir {
            Direction::Info => Status::Info,
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
        });
    }
    rows
}

pub fn regressions(rows: &[Row]) -> usize {
    rows.iter()
        .filter(|r| r.status == Status::Regression)
        .count()
}

fn show(metric: &str, v: f64) -> String {
    if metric.contains('.') {
        crate::units::format_duration(std::time::Duration::from_micros(v.max(0.0) as u64))
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The delta table, for a terminal.
pub fn render<W: Write>(out: &mut W, rows: &[Row], tolerance: f64) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<28}{:>14}{:>14}{:>10}  verdict (tolerance {:.0}%)",
        "metric",
        "baseline",
        "current",
        "delta",
        tolerance * 100.0
    )?;
    for r in rows {
        let delta = r
            .delta()
            .map(|d| format!("{:+.1}%", d * 100.0))
            .unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "{:<28}{:>14}{:>14}{:>10}  {}",
            r.metric,
            show(&r.metric, r.baseline),
            show(&r.metric, r.current),
            delta,
            r.status.label()
        )?;
    }
    let n = regressions(rows);
    if n == 0 {
        writeln!(out, "compare: no regression")
    } else {
        writeln!(out, "compare: {n} regression(s)")
    }
}

pub fn write_csv(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(["metric", "baseline", "current", "delta", "verdict"])?;
    for r in rows {
        w.write_record([
            r.metric.clone(),
            r.baseline.to_string(),
            r.current.to_string(),
            r.delta().map(|d| format!("{d:.4}")).unwrap_or_default(),
            r.status.label().to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Parse `10%` or `0.1` into a fraction.
pub fn parse_tolerance(s: &str) -> Result<f64, String> {
    let v = match s.trim().strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|p| p / 100.0),
        None => s.trim().parse::<f64>(),
    }
    .map_err(|_| format!("{s:?} is not a tolerance (e.g. 10% or 0.1)"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("tolerance {s:?} out of range (0%..=10000%)"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(p99: f64, rate: f64, violations: f64) -> ReportData {
        let mut d = ReportData::default();
        let stats: BTreeMap<String, f64> = [
            ("count", 10_000.0),
            ("p50_us", p99 / 2.0),
            ("p90_us", p99 * 0.8),
            ("p99_us", p99),
            ("p99_9_us", p99),
            ("max_us", p99),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        d.latency.insert("ready".into(), stats);
        d.counters.insert("logins_per_sec".into(), rate);
        d.counters.insert("violations_total".into(), violations);
        d
    }

    #[test]
    fn slower_latency_fewer_logins_and_new_violations_regress() {
        let base = data(10_000.0, 1000.0, 0.0);
        assert_eq!(regressions(&compare(&base, &base, 0.1, 1000.0)), 0);
        let slow = data(50_000.0, 1000.0, 0.0);
        let rows = compare(&slow, &base, 0.1, 1000.0);
        assert!(rows
            .iter()
            .any(|r| r.metric == "ready.p99" && r.status == Status::Regression));
        assert!(rows
            .iter()
            .all(|r| r.metric != "ready.max" || r.status == Status::Info));
        assert!(regressions(&compare(&data(10_000.0, 800.0, 0.0), &base, 0.1, 1000.0)) > 0);
        assert!(regressions(&compare(&data(10_000.0, 1000.0, 1.0), &base, 0.1, 1000.0)) > 0);
        // Microsecond jitter under the floor is not a regression.
        let jitter = compare(
            &data(10_500.0, 1000.0, 0.0),
            &data(10_000.0, 1000.0, 0.0),
            0.01,
            1000.0,
        );
        assert_eq!(regressions(&jitter), 0);
    }

    #[test]
    fn tolerances_parse() {
        assert_eq!(parse_tolerance("10%"), Ok(0.1));
        assert_eq!(parse_tolerance("0.25"), Ok(0.25));
        assert!(parse_tolerance("ten").is_err());
        assert!(parse_tolerance("-5%").is_err());
    }
}
