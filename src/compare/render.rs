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
