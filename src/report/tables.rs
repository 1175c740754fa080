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

/// Violations listed in report.html at most.
pub(super) const LISTED: usize = 100;

/// At most `max` of `all` (in order: errors first, then by time), taking each check's first,
/// then each one's second, and so on: 100 `kick_count` rows must not hide the one `capacity`
/// row that explains them. The result keeps the order of `all`.
pub(super) fn listed(
    all: Vec<&crate::checks::Violation>,
    max: usize,
) -> Vec<&crate::checks::Violation> {
    if all.len() <= max {
        return all;
    }
    let mut taken = vec![false; all.len()];
    let mut count = 0;
    let mut round = 0;
    while count < max {
        let mut seen: std::collections::HashMap<crate::checks::Class, usize> = Default::default();
        let mut took_any = false;
        for (i, v) in all.iter().enumerate() {
            let n = seen.entry(v.class).or_default();
            if *n == round && !taken[i] && count < max {
                taken[i] = true;
                count += 1;
                took_any = true;
            }
            *n += 1;
        }
        if !took_any {
            break;
        }
        round += 1;
    }
    all.into_iter()
        .zip(taken)
        .filter_map(|(v, t)| t.then_some(v))
        .collect()
}

/// One row per violation (errors first, then warnings), at most `max` rows.
/// A cell that holds a userID (or text quoting one): one that a spreadsheet would take for a
/// formula (`=`, `+`, `-`, `@`, a tab or a carriage return first) is written with a `'` before
/// it, as OWASP advises against CSV injection. The CSV quoting does the rest.
pub fn text_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

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
            text_cell(&v.account),
            // Slots alone: the account is its own column, and a userID may hold `;` or `#`.
            join(v.instances.iter().map(|i| i.to_string()).collect()),
            join(v.platforms.iter().map(|p| p.to_string()).collect()),
            join(v.times_us.iter().map(|t| t.to_string()).collect()),
            text_cell(&v.expected),
            text_cell(&v.seen),
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
            text_cell(&a.user),
            a.logins.to_string(),
            a.waves.to_string(),
            a.kicks[0].to_string(),
            a.kicks[1].to_string(),
            a.kicks[2].to_string(),
            a.kicks[3].to_string(),
            a.kicks
                .iter()
                .fold(0u64, |s, k| s.saturating_add(*k))
                .to_string(),
            lo,
            hi,
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Class, Violation};
    use crate::model::AccountReport;
    use crate::policy::Platform;

    #[test]
    fn a_cause_is_listed_beside_its_many_consequences() {
        let v = |class, t| crate::checks::Violation {
            class,
            account: "a".into(),
            instances: vec![],
            platforms: vec![],
            times_us: vec![t],
            expected: String::new(),
            seen: String::new(),
        };
        let mut all: Vec<crate::checks::Violation> = (0..150)
            .map(|t| v(crate::checks::Class::KickCount, t))
            .collect();
        all.push(v(crate::checks::Class::Capacity, 1_000));
        let refs: Vec<&crate::checks::Violation> = all.iter().collect();
        let l = listed(refs, 100);
        assert_eq!(l.len(), 100);
        assert!(l.iter().any(|x| x.class == crate::checks::Class::Capacity));
        // In time order still.
        assert!(l.windows(2).all(|w| w[0].times_us <= w[1].times_us));
    }

    #[test]
    fn hostile_user_ids_are_neither_formulas_nor_ambiguous() {
        let account = |user: &str, v: Vec<Violation>| AccountReport {
            index: 0,
            user: user.into(),
            logins: 1,
            kicks: [u64::MAX, 1, 0, 0],
            waves: 1,
            expected: None,
            violations: v,
        };
        let user = "=HYPERLINK(\"x\");a#1";
        let v = Violation {
            class: Class::Capacity,
            account: user.into(),
            instances: vec![1, 2],
            platforms: vec![Platform::Web, Platform::Web],
            times_us: vec![5, 6],
            expected: "-at most 2".into(),
            seen: "@3".into(),
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        write_violations_csv(&mut w, &[account(user, vec![v])], 10).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let row = r.records().next().unwrap().unwrap();
        assert_eq!(&row[2], "'=HYPERLINK(\"x\");a#1");
        assert_eq!(&row[3], "1;2");
        assert_eq!((&row[6], &row[7]), ("'-at most 2", "'@3"));
        // Kicks past u64::MAX in total saturate instead of wrapping (or panicking).
        let mut w = csv::Writer::from_writer(Vec::new());
        write_kicks_csv(&mut w, &[account("+1", vec![])]).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert!(
            text.contains(&format!("'+1,1,1,{},1,0,0,{}", u64::MAX, u64::MAX)),
            "{text}"
        );
    }
}
