//! The columns of the CSV reports, in order (docs/reports.md describes each).

use crate::model::Metric;

pub const SUMMARY_COLUMNS: [&str; 9] = [
    "metric", "count", "mean_us", "min_us", "p50_us", "p90_us", "p99_us", "p99_9_us", "max_us",
];
/// `timeseries.csv`: the fixed columns, then [`TIMESERIES_METRIC_STATS`] for each metric of
/// [`Metric::ALL`] (`login_p99_us`, …); [`timeseries_columns`] lists them all.
pub const TIMESERIES_COLUMNS: [&str; 26] = [
    "timestamp",
    "elapsed_s",
    "interval_s",
    "offered_per_s",
    "cycles_per_s",
    "logins_per_s",
    "live_sessions",
    "connections_opened",
    "connections_failed",
    "connections_lost",
    "logins_ok",
    "logins_failed",
    "readies",
    "logouts",
    "cycles",
    "kicks",
    "kicks_multipleAccount",
    "kicks_multipleDevice",
    "kicks_userSigExpired",
    "kicks_REST_API_Kick",
    "messages_sent",
    "messages_received",
    "timeouts",
    "errors",
    "violations",
    "warnings",
];
/// Per metric and interval: `{metric}_count`, `{metric}_p50_us`, … (empty when count is 0).
pub const TIMESERIES_METRIC_STATS: [(&str, f64); 5] = [
    ("count", 0.0),
    ("p50_us", 0.5),
    ("p90_us", 0.9),
    ("p99_us", 0.99),
    ("max_us", 1.0),
];

/// Every column of `timeseries.csv`, in order.
pub fn timeseries_columns() -> Vec<String> {
    let mut c: Vec<String> = TIMESERIES_COLUMNS.iter().map(|s| s.to_string()).collect();
    for m in Metric::ALL {
        for (stat, _) in TIMESERIES_METRIC_STATS {
            c.push(format!("{}_{stat}", m.name()));
        }
    }
    c
}
pub const KICKS_COLUMNS: [&str; 10] = [
    "account",
    "logins",
    "waves",
    "kicks_multipleAccount",
    "kicks_multipleDevice",
    "kicks_userSigExpired",
    "kicks_REST_API_Kick",
    "kicks_total",
    "expected_min",
    "expected_max",
];

pub const VIOLATIONS_COLUMNS: [&str; 8] = [
    "class",
    "severity",
    "account",
    "instances",
    "platforms",
    "times_us",
    "expected",
    "seen",
];
