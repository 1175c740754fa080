//! Run reports: `reports/<UTC time>-<scenario>/` with `summary.csv`, `counters.csv`,
//! `timeseries.csv`, `kicks.csv`, `latency.hlog` and `run.json`, plus the stdout summary table.
//!
//! `timeseries.csv` and `latency.hlog` are streamed as the run goes, and `run.json` is written at
//! the start (outcome `running`), so even a killed run leaves a trace. Renderers write to any
//! `io::Write`, so tests render into a `Vec<u8>`.

use anyhow::Context as _;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::engine::account::AccountReport;
use crate::engine::metrics::{Counter, Metric, Snapshot};
use crate::policy::KickType;
use crate::scenario::Resolved;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every planned cycle was done.
    Completed,
    /// The planned duration (or the open model's stages) ran out.
    DurationReached,
    /// Ctrl-C.
    Interrupted,
    /// The target stopped accepting connections mid-run.
    TargetLost,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::DurationReached => "duration_reached",
            Outcome::Interrupted => "interrupted",
            Outcome::TargetLost => "target_lost",
        }
    }

    /// Whether the run went as planned (its numbers describe the whole plan).
    pub fn is_clean(self) -> bool {
        matches!(self, Outcome::Completed | Outcome::DurationReached)
    }
}

pub struct RunInfo {
    pub target: String,
    pub embedded: bool,
    pub overrides: Vec<String>,
}

/// One second of the run, as the controller sees it.
pub struct Tick<'a> {
    pub at: Duration,
    pub span: Duration,
    pub live: i64,
    pub interval: &'a Snapshot,
    pub totals: &'a Snapshot,
}

pub const SUMMARY_COLUMNS: [&str; 9] = [
    "metric", "count", "mean_us", "min_us", "p50_us", "p90_us", "p99_us", "p99_9_us", "max_us",
];
pub const TIMESERIES_COLUMNS: [&str; 17] = [
    "second",
    "live_sessions",
    "connections_opened",
    "connections_failed",
    "logins_ok",
    "logins_failed",
    "readies",
    "logouts",
    "kicks",
    "kicks_multipleAccount",
    "kicks_multipleDevice",
    "kicks_userSigExpired",
    "kicks_REST_API_Kick",
    "errors",
    "login_p50_us",
    "login_p99_us",
    "ready_p99_us",
];
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

/// Violations of the error classes (victim order, a warning, excluded).
pub fn violations(s: &Snapshot) -> u64 {
    crate::checks::Class::ALL
        .iter()
        .filter(|c| !c.is_warning())
        .map(|c| s.get(Counter::violation(*c)))
        .sum()
}

/// Violations of the warning classes.
pub fn warnings(s: &Snapshot) -> u64 {
    crate::checks::Class::ALL
        .iter()
        .filter(|c| c.is_warning())
        .map(|c| s.get(Counter::violation(*c)))
        .sum()
}

/// Errors of every kind, summed.
pub fn errors(s: &Snapshot) -> u64 {
    [
        Counter::ConnectionsFailed,
        Counter::ConnectionsLost,
        Counter::LoginsFailed,
        Counter::LogoutsFailed,
        Counter::TimeoutsConnect,
        Counter::TimeoutsLogin,
        Counter::TimeoutsReady,
        Counter::TimeoutsLogout,
        Counter::MessagesFailed,
        Counter::ProtocolErrors,
        Counter::AdminKicksFailed,
    ]
    .iter()
    .map(|c| s.get(*c))
    .sum()
}

pub fn kicks(s: &Snapshot) -> u64 {
    KickType::ALL.iter().map(|k| s.get(Counter::kick(*k))).sum()
}

pub struct ReportWriter {
    dir: PathBuf,
    started: SystemTime,
    run_json: serde_json::Value,
    timeseries: csv::Writer<BufWriter<File>>,
    hlog: BufWriter<File>,
    serializer: V2DeflateSerializer,
    max_listed: usize,
}

impl ReportWriter {
    /// Make the run's directory and start the streamed files.
    pub fn create(out: &Path, r: &Resolved, info: RunInfo) -> anyhow::Result<ReportWriter> {
        let started = SystemTime::now();
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let safe: String = r
            .scenario
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut dir = out.join(format!("{stamp}-{safe}"));
        let mut n = 2;
        while dir.exists() {
            dir = out.join(format!("{stamp}-{safe}-{n}"));
            n += 1;
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create report directory {}", dir.display()))?;
        let mut timeseries =
            csv::Writer::from_writer(BufWriter::new(File::create(dir.join("timeseries.csv"))?));
        timeseries.write_record(TIMESERIES_COLUMNS)?;
        timeseries.flush()?;
        let mut hlog = BufWriter::new(File::create(dir.join("latency.hlog"))?);
        let mut serializer = V2DeflateSerializer::new();
        {
            let mut b = IntervalLogWriterBuilder::new();
            b.add_comment(&format!(
                "loginstorm {} scenario {}; latencies in microseconds; one tagged histogram per metric per second",
                env!("CARGO_PKG_VERSION"),
                r.scenario.name
            ));
            b.with_start_time(started);
            b.with_base_time(started);
            b.begin_log_with(&mut hlog, &mut serializer)?;
        }
        hlog.flush()?;
        let run_json = serde_json::json!({
            "loginstorm_version": env!("CARGO_PKG_VERSION"),
            "scenario": r.scenario.name,
            "seed": r.scenario.seed,
            "target": info.target,
            "embedded_server": info.embedded,
            "overrides": info.overrides,
            "started_at": chrono::Utc::now().to_rfc3339(),
            "ended_at": null,
            "elapsed_secs": null,
            "outcome": "running",
            "resolved_scenario": r.scenario,
        });
        let w = ReportWriter {
            dir,
            started,
            run_json,
            timeseries,
            hlog,
            serializer,
            max_listed: r.scenario.checks.max_listed,
        };
        w.write_run_json()?;
        Ok(w)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write_run_json(&self) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(&self.run_json)?;
        std::fs::write(self.dir.join("run.json"), text + "\n")?;
        Ok(())
    }

    /// Append one second to `timeseries.csv` and `latency.hlog`.
    pub fn tick(&mut self, t: &Tick) -> anyhow::Result<()> {
        let i = t.interval;
        let q = |m: Metric, p: f64| -> String {
            let h = i.hist(m);
            if h.is_empty() {
                String::new()
            } else {
                h.value_at_quantile(p).to_string()
            }
        };
        let row = [
            t.at.as_secs().to_string(),
            t.live.max(0).to_string(),
            i.get(Counter::ConnectionsOpened).to_string(),
            i.get(Counter::ConnectionsFailed).to_string(),
            i.get(Counter::LoginsOk).to_string(),
            i.get(Counter::LoginsFailed).to_string(),
            i.get(Counter::Readies).to_string(),
            i.get(Counter::Logouts).to_string(),
            kicks(i).to_string(),
            i.get(Counter::KicksMultipleAccount).to_string(),
            i.get(Counter::KicksMultipleDevice).to_string(),
            i.get(Counter::KicksUserSigExpired).to_string(),
            i.get(Counter::KicksRestApi).to_string(),
            errors(i).to_string(),
            q(Metric::Login, 0.5),
            q(Metric::Login, 0.99),
            q(Metric::Ready, 0.99),
        ];
        self.timeseries.write_record(&row)?;
        self.timeseries.flush()?;
        let start = t.at.saturating_sub(t.span);
        let mut log =
            IntervalLogWriterBuilder::new().begin_log_with(&mut self.hlog, &mut self.serializer)?;
        for m in Metric::ALL {
            let h = i.hist(m);
            if !h.is_empty() {
                log.write_histogram(h, start, t.span, Tag::new(m.name()))
                    .map_err(|e| anyhow::anyhow!("writing latency.hlog: {e:?}"))?;
            }
        }
        self.hlog.flush()?;
        Ok(())
    }

    /// Write the final files and mark `run.json` with the outcome.
    pub fn finish(
        &mut self,
        outcome: Outcome,
        totals: &Snapshot,
        accounts: &[AccountReport],
        elapsed: Duration,
    ) -> anyhow::Result<()> {
        let mut f = csv::Writer::from_path(self.dir.join("summary.csv"))?;
        write_summary_csv(&mut f, totals)?;
        f.flush()?;
        let mut f = csv::Writer::from_path(self.dir.join("counters.csv"))?;
        write_counters_csv(&mut f, totals, elapsed)?;
        f.flush()?;
        let mut f = csv::Writer::from_path(self.dir.join("kicks.csv"))?;
        write_kicks_csv(&mut f, accounts)?;
        f.flush()?;
        let mut f = csv::Writer::from_path(self.dir.join("violations.csv"))?;
        write_violations_csv(&mut f, accounts, self.max_listed)?;
        f.flush()?;
        let _ = self.started;
        self.run_json["outcome"] = outcome.name().into();
        self.run_json["ended_at"] = chrono::Utc::now().to_rfc3339().into();
        self.run_json["elapsed_secs"] = elapsed.as_secs_f64().into();
        self.write_run_json()
    }
}

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

/// Every counter, then failed logins per code, then derived totals and rates.
pub fn counter_rows(s: &Snapshot, elapsed: Duration) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = Counter::ALL
        .iter()
        .map(|c| (c.name().to_string(), s.get(*c).to_string()))
        .collect();
    for (code, n) in &s.login_codes {
        rows.push((format!("logins_failed_code_{code}"), n.to_string()));
    }
    for (reason, n) in &s.connect_errors {
        rows.push((format!("connections_failed_{reason}"), n.to_string()));
    }
    rows.push(("kicks_total".into(), kicks(s).to_string()));
    rows.push(("violations_total".into(), violations(s).to_string()));
    rows.push(("warnings_total".into(), warnings(s).to_string()));
    rows.push(("errors_total".into(), errors(s).to_string()));
    let secs = elapsed.as_secs_f64().max(1e-9);
    rows.push((
        "logins_per_sec".into(),
        format!("{:.1}", s.get(Counter::LoginsOk) as f64 / secs),
    ));
    rows.push((
        "cycles_per_sec".into(),
        format!("{:.1}", s.get(Counter::CyclesCompleted) as f64 / secs),
    ));
    rows
}

pub fn write_counters_csv<W: Write>(
    w: &mut csv::Writer<W>,
    s: &Snapshot,
    elapsed: Duration,
) -> anyhow::Result<()> {
    w.write_record(["counter", "value"])?;
    for (k, v) in counter_rows(s, elapsed) {
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

fn fmt_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

/// The human summary printed at the end of a run.
pub fn render_summary<W: Write>(
    out: &mut W,
    outcome: Outcome,
    s: &Snapshot,
    elapsed: Duration,
    dir: &Path,
) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "run {} after {:.1}s",
        outcome.name().replace('_', " "),
        elapsed.as_secs_f64()
    )?;
    writeln!(
        out,
        "{:<18}{:>9}{:>11}{:>11}{:>11}{:>11}{:>11}",
        "latency", "count", "p50", "p90", "p99", "p99.9", "max"
    )?;
    for m in Metric::ALL {
        let h = s.hist(m);
        if h.is_empty() {
            writeln!(out, "{:<18}{:>9}", m.name(), 0)?;
            continue;
        }
        writeln!(
            out,
            "{:<18}{:>9}{:>11}{:>11}{:>11}{:>11}{:>11}",
            m.name(),
            h.len(),
            fmt_us(h.value_at_quantile(0.5)),
            fmt_us(h.value_at_quantile(0.9)),
            fmt_us(h.value_at_quantile(0.99)),
            fmt_us(h.value_at_quantile(0.999)),
            fmt_us(h.max()),
        )?;
    }
    let g = |c: Counter| s.get(c);
    writeln!(
        out,
        "connections  opened {}  failed {}  lost {}",
        g(Counter::ConnectionsOpened),
        g(Counter::ConnectionsFailed),
        g(Counter::ConnectionsLost)
    )?;
    let codes: Vec<String> = s
        .login_codes
        .iter()
        .map(|(c, n)| format!("{c}×{n}"))
        .collect();
    writeln!(
        out,
        "logins       ok {}  failed {}{}  repeat {}  ready {}  logouts {}  cycles {}",
        g(Counter::LoginsOk),
        g(Counter::LoginsFailed),
        if codes.is_empty() {
            String::new()
        } else {
            format!(" ({})", codes.join(", "))
        },
        g(Counter::RepeatLogins),
        g(Counter::Readies),
        g(Counter::Logouts),
        g(Counter::CyclesCompleted)
    )?;
    let expected = if g(Counter::ExpectedKicks) == g(Counter::ExpectedKicksMax) {
        g(Counter::ExpectedKicks).to_string()
    } else {
        format!(
            "{}..{}",
            g(Counter::ExpectedKicks),
            g(Counter::ExpectedKicksMax)
        )
    };
    writeln!(
        out,
        "kicks        multipleAccount {}  multipleDevice {}  userSigExpired {}  REST_API_Kick {}  (expected from policy: {})",
        g(Counter::KicksMultipleAccount),
        g(Counter::KicksMultipleDevice),
        g(Counter::KicksUserSigExpired),
        g(Counter::KicksRestApi),
        expected
    )?;
    writeln!(
        out,
        "timeouts     connect {}  login {}  ready {}  logout {}",
        g(Counter::TimeoutsConnect),
        g(Counter::TimeoutsLogin),
        g(Counter::TimeoutsReady),
        g(Counter::TimeoutsLogout)
    )?;
    writeln!(
        out,
        "messages     sent {}  ok {}  failed {}  received {}   protocol errors {}   errors total {}",
        g(Counter::MessagesSent),
        g(Counter::MessagesOk),
        g(Counter::MessagesFailed),
        g(Counter::MessagesReceived),
        g(Counter::ProtocolErrors),
        errors(s)
    )?;
    let classes: Vec<String> = crate::checks::Class::ALL
        .iter()
        .filter(|c| s.get(Counter::violation(**c)) > 0)
        .map(|c| format!("{} {}", c.name(), s.get(Counter::violation(*c))))
        .collect();
    writeln!(
        out,
        "checks       probes {}  violations {}  warnings {}{}",
        g(Counter::ProbesSent),
        violations(s),
        warnings(s),
        if classes.is_empty() {
            String::new()
        } else {
            format!("  ({})", classes.join(", "))
        }
    )?;
    writeln!(out, "reports      {}", dir.display())?;
    Ok(())
}

/// Write `thresholds.csv` and print the result table.
pub fn write_thresholds<W: Write>(
    out: &mut W,
    dir: &Path,
    results: &[crate::thresholds::Outcome],
) -> anyhow::Result<()> {
    let mut f = csv::Writer::from_path(dir.join("thresholds.csv"))?;
    f.write_record(["threshold", "actual", "passed"])?;
    if !results.is_empty() {
        writeln!(out, "{:<40}{:>14}  result", "threshold", "actual")?;
    }
    for r in results {
        let actual = r
            .actual
            .map(|a| r.threshold.show(a))
            .unwrap_or_else(|| "no data".into());
        f.write_record([
            r.threshold.text.clone(),
            r.actual.map(|a| a.to_string()).unwrap_or_default(),
            r.passed.to_string(),
        ])?;
        writeln!(
            out,
            "{:<40}{:>14}  {}",
            r.threshold.text,
            actual,
            if r.passed { "pass" } else { "FAIL" }
        )?;
    }
    f.flush()?;
    Ok(())
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Write `junit.xml`: a testcase per threshold and per invariant, so CI systems show failures.
pub fn write_junit(
    dir: &Path,
    scenario: &str,
    s: &Snapshot,
    results: &[crate::thresholds::Outcome],
    accounts: &[AccountReport],
    elapsed: Duration,
) -> anyhow::Result<()> {
    let mut cases = Vec::new();
    for r in results {
        let failure = (!r.passed).then(|| {
            format!(
                "actual {}",
                r.actual
                    .map(|a| r.threshold.show(a))
                    .unwrap_or_else(|| "no data".into())
            )
        });
        cases.push(("thresholds", r.threshold.text.clone(), failure));
    }
    for c in crate::checks::Class::ALL {
        let n = s.get(Counter::violation(c));
        let first = accounts
            .iter()
            .flat_map(|a| a.violations.iter())
            .find(|v| v.class == c)
            .map(|v| {
                format!(
                    ": e.g. {} — expected {}, seen {}",
                    v.account, v.expected, v.seen
                )
            })
            .unwrap_or_default();
        // Warnings are reported as passing cases with the count in their name.
        let failure = (n > 0 && !c.is_warning()).then(|| format!("{n} violation(s){first}"));
        let name = if c.is_warning() && n > 0 {
            format!("{} ({n} warnings)", c.name())
        } else {
            c.name().to_string()
        };
        cases.push(("invariants", name, failure));
    }
    let failures = cases.iter().filter(|c| c.2.is_some()).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x += &format!(
        "<testsuites name=\"loginstorm\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        cases.len(),
        elapsed.as_secs_f64()
    );
    x += &format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        xml_escape(scenario),
        cases.len(),
        elapsed.as_secs_f64()
    );
    for (class, name, failure) in &cases {
        x += &format!(
            "    <testcase classname=\"loginstorm.{class}\" name=\"{}\"",
            xml_escape(name)
        );
        match failure {
            None => x += "/>\n",
            Some(m) => {
                x += &format!(
                    ">\n      <failure message=\"{}\"/>\n    </testcase>\n",
                    xml_escape(m)
                )
            }
        }
    }
    x += "  </testsuite>\n</testsuites>\n";
    std::fs::write(dir.join("junit.xml"), x)?;
    Ok(())
}

/// The last line of a run: PASS, FAIL or INCOMPLETE, and why.
pub fn render_verdict<W: Write>(
    out: &mut W,
    outcome: Outcome,
    s: &Snapshot,
    thresholds_failed: usize,
    regressions: usize,
) -> std::io::Result<()> {
    let verdict = if !outcome.is_clean() {
        format!(
            "INCOMPLETE — the run was {}",
            outcome.name().replace('_', " ")
        )
    } else if violations(s) > 0 || thresholds_failed > 0 || regressions > 0 {
        let mut why = Vec::new();
        if violations(s) > 0 {
            why.push(format!(
                "the backend broke its login promises {} time(s) (violations.csv)",
                violations(s)
            ));
        }
        if thresholds_failed > 0 {
            why.push(format!(
                "{thresholds_failed} threshold(s) failed (thresholds.csv)"
            ));
        }
        if regressions > 0 {
            why.push(format!(
                "{regressions} regression(s) against the baseline (comparison.csv)"
            ));
        }
        format!("FAIL — {}", why.join("; "))
    } else {
        format!(
            "PASS — no violations{}",
            if warnings(s) > 0 {
                format!(" ({} victim-order warnings)", warnings(s))
            } else {
                String::new()
            }
        )
    };
    writeln!(out, "verdict: {verdict}")
}
