//! `summary.json`: a run's results in one versioned document for CI jobs and dashboards — every
//! latency summary, every counter (the rows of `counters.csv`), the checks, the thresholds and
//! the verdict. Built from the run model, never re-read from the CSV files. The schema is
//! documented field by field in docs/reports.md; fields are only ever added within a version.

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::checks::Class;
use crate::model::{counter_rows, Generator, Metric, Outcome, Snapshot, RATE_ROWS};
use crate::verdict::{Kind, Verdict};

/// The schema's name and version, the document's first field.
pub const SCHEMA: &str = "loginstorm.summary/v1";

#[derive(Debug, Serialize)]
pub struct SummaryJson<'a> {
    pub schema: &'static str,
    pub loginstorm_version: &'static str,
    pub scenario: &'a str,
    pub seed: u64,
    /// The backend's URL, or the embedded server's.
    pub target: &'a str,
    pub embedded_server: bool,
    /// The `--set` overrides the run was given (a `target.key` value redacted): a run with a
    /// fault switch or a changed size says so.
    pub overrides: Vec<String>,
    pub started_at: String,
    pub elapsed_secs: f64,
    /// `completed`, `duration_reached`, `interrupted`, `target_lost`.
    pub outcome: &'static str,
    pub verdict: VerdictJson<'a>,
    /// Per metric (summary.csv's rows); `null` for a metric with no sample.
    pub latency_us: BTreeMap<&'static str, Option<LatencyJson>>,
    /// Every row of counters.csv, by name: integers, and the two rates (`*_per_sec`) as decimals.
    pub counters: BTreeMap<String, serde_json::Value>,
    /// The recovery time of the run's disruptions (`p50`, `p99`, µs): by when that share of
    /// the ready sessions they took down were ready again; `null` when not reached (or no
    /// disruption took a session down).
    pub recovery_us: BTreeMap<String, Option<u64>>,
    /// Per check: how often it could fire, how often it did, whether it is a warning class.
    pub checks: BTreeMap<&'static str, CheckJson>,
    pub thresholds: Vec<ThresholdJson>,
    pub generator: GeneratorJson,
}

#[derive(Debug, Serialize)]
pub struct VerdictJson<'a> {
    /// `PASS`, `FAIL` or `INCOMPLETE`.
    pub status: &'static str,
    pub reasons: Vec<ReasonJson<'a>>,
    pub cautions: &'a [String],
}

#[derive(Debug, Serialize)]
pub struct ReasonJson<'a> {
    /// `run`, `violations`, `thresholds` or `regressions`.
    pub kind: &'static str,
    pub text: &'a str,
}

#[derive(Debug, Serialize)]
pub struct LatencyJson {
    pub count: u64,
    pub mean: f64,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
}

#[derive(Debug, Serialize)]
pub struct CheckJson {
    pub judged: u64,
    pub violations: u64,
    pub warning: bool,
}

#[derive(Debug, Serialize)]
pub struct ThresholdJson {
    pub threshold: String,
    /// In the subject's unit (µs, fraction, count); `null` when nothing was measured.
    pub actual: Option<f64>,
    /// `actual` as the summary prints it (`1.06ms`, `0.20%`, `12`), or `no data`.
    pub actual_shown: String,
    pub passed: bool,
}

#[derive(Debug, Serialize)]
pub struct GeneratorJson {
    pub cpu_secs: f64,
    pub load_window_secs: f64,
    pub busy_cores: f64,
    pub cycles: u64,
    pub logins_ok: u64,
    pub cpu_us_per_cycle: Option<f64>,
}

/// What a run was: the identity fields of the document.
pub struct RunIdentity<'a> {
    pub scenario: &'a str,
    pub seed: u64,
    pub target: &'a str,
    pub embedded_server: bool,
    pub overrides: &'a [String],
    pub started: SystemTime,
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Run => "run",
        Kind::Violations => "violations",
        Kind::Thresholds => "thresholds",
        Kind::Regressions => "regressions",
    }
}

#[allow(clippy::too_many_arguments)]
pub fn build<'a>(
    id: &RunIdentity<'a>,
    outcome: Outcome,
    totals: &Snapshot,
    elapsed: Duration,
    generator: &Generator,
    thresholds: &[crate::thresholds::Judged],
    verdict: &'a Verdict,
) -> SummaryJson<'a> {
    let latency_us = Metric::ALL
        .iter()
        .map(|&m| {
            let h = totals.hist(m);
            let v = (!h.is_empty()).then(|| LatencyJson {
                count: h.len(),
                mean: (h.mean() * 10.0).round() / 10.0,
                min: h.min(),
                p50: h.value_at_quantile(0.5),
                p90: h.value_at_quantile(0.9),
                p99: h.value_at_quantile(0.99),
                p99_9: h.value_at_quantile(0.999),
                max: h.max(),
            });
            (m.name(), v)
        })
        .collect();
    let checks = Class::ALL
        .iter()
        .map(|&c| {
            (
                c.name(),
                CheckJson {
                    judged: totals.judged(c),
                    violations: totals.violations(c),
                    warning: c.is_warning(),
                },
            )
        })
        .collect();
    SummaryJson {
        schema: SCHEMA,
        loginstorm_version: env!("CARGO_PKG_VERSION"),
        scenario: id.scenario,
        seed: id.seed,
        target: id.target,
        embedded_server: id.embedded_server,
        overrides: super::redacted_overrides(id.overrides),
        started_at: chrono::DateTime::<chrono::Utc>::from(id.started)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        elapsed_secs: elapsed.as_secs_f64(),
        outcome: outcome.name(),
        verdict: VerdictJson {
            status: verdict.status.name(),
            reasons: verdict
                .reasons
                .iter()
                .map(|(k, t)| ReasonJson {
                    kind: kind_name(*k),
                    text: t,
                })
                .collect(),
            cautions: &verdict.cautions,
        },
        latency_us,
        counters: counter_rows(totals, generator)
            .into_iter()
            .map(|(k, v)| {
                let v = if RATE_ROWS.contains(&k.as_str()) {
                    serde_json::json!((v * 10.0).round() / 10.0)
                } else {
                    serde_json::json!(v as u64)
                };
                (k, v)
            })
            .collect(),
        recovery_us: crate::model::RECOVERY_SHARES
            .iter()
            .map(|p| {
                (
                    format!("p{}", p * 100.0),
                    crate::model::recovery_time(totals, *p)
                        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
                )
            })
            .collect(),
        checks,
        thresholds: thresholds
            .iter()
            .map(|t| ThresholdJson {
                threshold: t.threshold.text.clone(),
                actual: t.actual,
                actual_shown: t
                    .actual
                    .map_or_else(|| "no data".to_string(), |a| t.threshold.show(a)),
                passed: t.passed,
            })
            .collect(),
        generator: GeneratorJson {
            cpu_secs: generator.cpu.as_secs_f64(),
            load_window_secs: generator.window.as_secs_f64(),
            busy_cores: generator.busy_cores(),
            cycles: generator.cycles,
            logins_ok: generator.logins_ok,
            cpu_us_per_cycle: generator.cpu_us_per_cycle(),
        },
    }
}

/// The run as a Markdown section for a CI job's summary page (`GITHUB_STEP_SUMMARY`): verdict
/// and reasons, key latencies, kicks, violations and thresholds.
pub fn markdown(doc: &SummaryJson, report_dir: &std::path::Path) -> String {
    use std::fmt::Write as _;
    let mut m = String::new();
    let icon = match doc.verdict.status {
        "PASS" => "✅",
        "FAIL" => "❌",
        _ => "⚠️",
    };
    let _ = writeln!(
        m,
        "### {icon} loginstorm `{}`: {}\n",
        doc.scenario, doc.verdict.status
    );
    for r in &doc.verdict.reasons {
        let _ = writeln!(m, "- {}", r.text);
    }
    for c in doc.verdict.cautions {
        let _ = writeln!(m, "- caution: {c}");
    }
    let _ = writeln!(
        m,
        "\nTarget `{}`{}, {:.1} s, outcome `{}`, seed {}.\n",
        doc.target,
        if doc.embedded_server {
            " (embedded reference server)"
        } else {
            ""
        },
        doc.elapsed_secs,
        doc.outcome,
        doc.seed
    );
    let _ = writeln!(
        m,
        "| latency | count | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|---:|"
    );
    let ms = |us: u64| format!("{:.2} ms", us as f64 / 1e3);
    for (name, l) in &doc.latency_us {
        if let Some(l) = l {
            let _ = writeln!(
                m,
                "| {name} | {} | {} | {} | {} | {} |",
                l.count,
                ms(l.p50),
                ms(l.p90),
                ms(l.p99),
                ms(l.max)
            );
        }
    }
    let c = |k: &str| doc.counters.get(k).cloned().unwrap_or_default();
    let _ = writeln!(
        m,
        "\n**Throughput** {} logins/s, {} cycles/s · **kicks** multipleAccount {}, multipleDevice {}, userSigExpired {}, REST_API_Kick {} (expected {}) · **errors** {}\n",
        c("logins_per_sec"),
        c("cycles_per_sec"),
        c("kicks_multipleAccount"),
        c("kicks_multipleDevice"),
        c("kicks_userSigExpired"),
        c("kicks_REST_API_Kick"),
        c("expected_kicks"),
        c("errors_total"),
    );
    let found: Vec<String> = doc
        .checks
        .iter()
        .filter(|(_, v)| v.violations > 0)
        .map(|(k, v)| {
            format!(
                "{k} {}{}",
                v.violations,
                if v.warning { " (warning)" } else { "" }
            )
        })
        .collect();
    let _ = writeln!(
        m,
        "**Violations** {}\n",
        if found.is_empty() {
            "none".to_string()
        } else {
            found.join(", ")
        }
    );
    if !doc.thresholds.is_empty() {
        let _ = writeln!(m, "| threshold | actual | result |\n|---|---:|---|");
        for t in &doc.thresholds {
            let _ = writeln!(
                m,
                "| `{}` | {} | {} |",
                t.threshold,
                t.actual_shown,
                if t.passed { "pass" } else { "**FAIL**" }
            );
        }
        m.push('\n');
    }
    let _ = writeln!(m, "Reports: `{}`\n", report_dir.display());
    m
}
