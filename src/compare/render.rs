//! The comparison as a table on a terminal and as `comparison.csv`.

use std::io::Write;
use std::path::Path;

use super::{regressions, Intervals, Row};

fn show(metric: &str, v: f64) -> String {
    if metric.contains('.') {
        crate::units::format_duration(std::time::Duration::from_micros(v.max(0.0) as u64))
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A latency quantile's interval as the table shows it: `[lo, hi]`; empty for other rows.
fn interval(metric: &str, lohi: Option<(f64, f64)>) -> String {
    match lohi {
        Some((lo, hi)) => format!("[{}, {}]", show(metric, lo), show(metric, hi)),
        None => String::new(),
    }
}

/// The delta table, for a terminal: the current run first (as on the command line), then the
/// baseline, the change, and — for a latency quantile — the interval of each that the verdict
/// was decided on (a quantile regresses only when the intervals say so, docs/ci.md).
pub fn render<W: Write>(out: &mut W, rows: &[Row], tolerance: f64) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<28}{:>12}{:>12}{:>10}  {:<12}{:>22}{:>22}",
        "metric",
        "current",
        "baseline",
        "delta",
        "verdict",
        "current interval",
        "baseline interval"
    )?;
    for r in rows {
        let delta = r
            .delta()
            .map(|d| format!("{:+.1}%", d * 100.0))
            .unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "{:<28}{:>12}{:>12}{:>10}  {:<12}{:>22}{:>22}",
            r.metric,
            show(&r.metric, r.current),
            show(&r.metric, r.baseline),
            delta,
            r.status.label(),
            interval(&r.metric, r.intervals.map(|i| i.current)),
            interval(&r.metric, r.intervals.map(|i| i.baseline)),
        )?;
    }
    let n = regressions(rows);
    writeln!(
        out,
        "tolerance {:.0}%: {}",
        tolerance * 100.0,
        if n == 0 {
            "compare: no regression".to_string()
        } else {
            format!("compare: {n} regression(s)")
        }
    )?;
    Ok(())
}

/// The comparison as one JSON document (`comparison.json`): every row with its verdict and
/// intervals, the tolerance, and the count of regressions.
pub fn to_json(rows: &[Row], tolerance: f64) -> serde_json::Value {
    serde_json::json!({
        "tolerance": tolerance,
        "regressions": regressions(rows),
        "rows": rows.iter().map(|r| serde_json::json!({
            "metric": r.metric,
            "current": r.current,
            "baseline": r.baseline,
            "delta": r.delta(),
            "verdict": r.status.label(),
            "current_interval": r.intervals.map(|i| [i.current.0, i.current.1]),
            "baseline_interval": r.intervals.map(|i| [i.baseline.0, i.baseline.1]),
        })).collect::<Vec<_>>(),
    })
}

/// The comparison as Markdown, for a CI job's summary page.
pub fn markdown(rows: &[Row], tolerance: f64) -> String {
    let n = regressions(rows);
    let mut md = format!(
        "### loginstorm compare: {}\n\n| metric | current | baseline | delta | verdict |\n|---|---:|---:|---:|---|\n",
        if n == 0 {
            "no regression".to_string()
        } else {
            format!("{n} regression(s)")
        }
    );
    for r in rows {
        md += &format!(
            "| {} | {} | {} | {} | {} |\n",
            r.metric,
            show(&r.metric, r.current),
            show(&r.metric, r.baseline),
            r.delta()
                .map(|d| format!("{:+.1}%", d * 100.0))
                .unwrap_or_else(|| "-".into()),
            r.status.label()
        );
    }
    md += &format!("\ntolerance {:.0}%\n", tolerance * 100.0);
    md
}

pub fn write_csv(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "metric",
        "baseline",
        "current",
        "delta",
        "verdict",
        "baseline_lo",
        "baseline_hi",
        "current_lo",
        "current_hi",
    ])?;
    for r in rows {
        let ci = |f: fn(&Intervals) -> f64| {
            r.intervals
                .as_ref()
                .map(|i| f(i).to_string())
                .unwrap_or_default()
        };
        w.write_record([
            r.metric.clone(),
            r.baseline.to_string(),
            r.current.to_string(),
            r.delta().map(|d| format!("{d:.4}")).unwrap_or_default(),
            r.status.label().to_string(),
            ci(|i| i.baseline.0),
            ci(|i| i.baseline.1),
            ci(|i| i.current.0),
            ci(|i| i.current.1),
        ])?;
    }
    crate::report::write_atomic(path, &w.into_inner()?)
}
