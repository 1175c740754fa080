//! The CSV tables: summary, counters, kicks and violations.

use hdrhistogram::Histogram;
use std::io::Write;

use super::{KICKS_COLUMNS, SUMMARY_COLUMNS, VIOLATIONS_COLUMNS};
use crate::model::{counter_rows, AccountReport, Generator, Metric, Snapshot, RATE_ROWS};

fn hist_row(name: &str, h: &Histogram<u64>) -> Vec<String> {
    if h.is_empty() {
        let mut row = vec![name.to_string(), "0".into()];
        row.extend(std::iter::repeat_n(String::new(), 7));
        return row;
    }
    vec![
        name.to_string(),
        h.len().to_string(),
        format!("{:.1}", h.mean()),
        h.min().to_string(),
        h.value_at_quantile(0.5).to_string(),
        h.value_at_quantile(0.9).to_string(),
        h.value_at_quantile(0.99).to_string(),
        h.value_at_quantile(0.999).to_string(),
        h.max().to_string(),
    ]
}

pub fn write_summary_csv<W: Write>(w: &mut csv::Writer<W>, s: &Snapshot) -> anyhow::Result<()> {
    w.write_record(SUMMARY_COLUMNS)?;
    for m in Metric::ALL {
        w.write_record(hist_row(m.name(), s.hist(m)))?;
    }
    Ok(())
}

pub fn write_counters_csv<W: Write>(
    w: &mut csv::Writer<W>,
    s: &Snapshot,
    g: &Generator,
) -> anyhow::Result<()> {
    w.write_record(["counter", "value"])?;
    for (k, v) in counter_rows(s, g) {
        let v = if RATE_ROWS.contains(&k.as_str()) {
            format!("{v:.1}")
        } else {
            format!("{v:.0}")
        };
        w.write_record([k, v])?;
    }
    Ok(())
}

/// One row per violation (errors first, then warnings), at most `max` rows.
pub fn write_violations_csv<W: Write>(
    w: &mut csv::Writer<W>,
    accounts: &[AccountReport],
    max: usize,
) -> anyhow::Result<()> {
    w.write_record(VIOLATIONS_COLUMNS)?;
    let mut all: Vec<&crate::checks::Violation> =
        accounts.iter().flat_map(|a| a.violations.iter()).collect();
    all.sort_by_key(|v| {
        (
            v.class.is_warning(),
            v.times_us.last().copied().unwrap_or(0),
        )
    });
    let join = |xs: Vec<String>| xs.join(";");
    for v in all.into_iter().take(max) {
        w.write_record([
            v.class.name().to_string(),
            if v.class.is_warning() {
                "warning"
            } else {
                "error"
            }
            .to_string(),
            v.account.clone(),
            join(
                v.instances
                    .iter()
                    .map(|i| format!("{}#{i}", v.account))
                    .collect(),
            ),
            join(v.platforms.iter().map(|p| p.to_string()).collect()),
            join(v.times_us.iter().map(|t| t.to_string()).collect()),
            v.expected.clone(),
            v.seen.clone(),
        ])?;
    }
    Ok(())
}

pub fn write_kicks_csv<W: Write>(
    w: &mut csv::Writer<W>,
    accounts: &[AccountReport],
) -> anyhow::Result<()> {
    w.write_record(KICKS_COLUMNS)?;
    for a in accounts {
        let (lo, hi) = match a.expected {
            Some((lo, hi)) => (lo.to_string(), hi.to_string()),
            None => (String::new(), String::new()),
        };
        w.write_record([
            a.user.clone(),
            a.logins.to_string(),
            a.waves.to_string(),
            a.kicks[0].to_string(),
            a.kicks[1].to_string(),
            a.kicks[2].to_string(),
            a.kicks[3].to_string(),
            a.kicks.iter().sum::<u64>().to_string(),
            lo,
            hi,
        ])?;
    }
    Ok(())
}
