//! The rows of `counters.csv`, typed: what thresholds judge and reports print.

use crate::model::{Counter, Generator, Snapshot};

/// Rates in counters.csv (the rest are counts).
pub const RATE_ROWS: [&str; 2] = ["logins_per_sec", "cycles_per_sec"];
/// Derived totals in counters.csv.
pub const TOTAL_ROWS: [&str; 4] = [
    "kicks_total",
    "violations_total",
    "warnings_total",
    "errors_total",
];

/// Every counter, then failed logins per code, violations and judgments per class, failed
/// connects per reason, then derived totals and rates (over the load window, `g`): the rows of
/// counters.csv, typed.
pub fn counter_rows(s: &Snapshot, g: &Generator) -> Vec<(String, f64)> {
    let mut rows: Vec<(String, f64)> = Counter::ALL
        .iter()
        .map(|c| (c.name().to_string(), s.get(*c) as f64))
        .collect();
    for (code, n) in &s.login_codes {
        rows.push((format!("logins_failed_code_{code}"), *n as f64));
    }
    for c in crate::checks::Class::ALL {
        rows.push((format!("violations_{}", c.name()), s.violations(c) as f64));
    }
    for c in crate::checks::Class::ALL {
        rows.push((format!("judged_{}", c.name()), s.judged(c) as f64));
    }
    for (reason, n) in &s.connect_errors {
        rows.push((format!("connections_failed_{reason}"), *n as f64));
    }
    let totals = [
        s.kicks_total(),
        s.violations_total(),
        s.warnings_total(),
        s.errors_total(),
    ];
    for (name, v) in TOTAL_ROWS.iter().zip(totals) {
        rows.push((name.to_string(), v as f64));
    }
    for (name, v) in RATE_ROWS.iter().zip(g.rates()) {
        rows.push((name.to_string(), v));
    }
    rows
}
