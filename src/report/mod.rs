//! Run reports: `reports/<UTC time>-<scenario>/` with `summary.csv`, `counters.csv`,
//! `timeseries.csv`, `kicks.csv`, `latency.hlog` and `run.json`, plus the stdout summary table.
//!
//! `timeseries.csv` and `latency.hlog` are streamed as the run goes, and `run.json` is written at
//! the start (outcome `running`), so even a killed run leaves a trace. Renderers write to any
//! `io::Write`, so tests render into a `Vec<u8>`.

use anyhow::Context as _;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

mod charts;
pub use charts::trace_picture;
mod columns;
mod files;
pub mod html;
mod html_reconnects;
mod html_violations;
mod junit;
pub mod record;
pub mod records;
mod render;
mod run_json;
pub mod summary_json;
mod tables;

pub use columns::{
    timeseries_columns, KICKS_COLUMNS, SUMMARY_COLUMNS, TIMESERIES_COLUMNS,
    TIMESERIES_METRIC_STATS, VIOLATIONS_COLUMNS,
};
use files::Sealer;
pub use files::{
    append_step_summary, claim, hex, key_override, new_dir_under, redacted, redacted_overrides,
    safe_name, scenario_hash, write_atomic, write_csv, FileSeal, Totals,
};
pub use junit::write_junit;
pub use render::{
    render_generator, render_summary, render_thresholds, render_verdict, write_thresholds, Offered,
};
pub use tables::{write_counters_csv, write_kicks_csv, write_summary_csv, write_violations_csv};

use crate::model::{AccountReport, Counter, Generator, Metric, Outcome, Snapshot, Tick};
use crate::scenario::Resolved;

pub struct RunInfo {
    pub target: String,
    pub embedded: bool,
    pub overrides: Vec<String>,
    /// Thresholds given on the command line (`--threshold`), added to the scenario's.
    pub extra_thresholds: Vec<String>,
    /// When the run started (wall clock).
    pub started: SystemTime,
}

/// The first frames the protocol profile could not explain, one per line:
/// `<instance>\t<frame>` (written only when there were any).
pub const UNMATCHED_FILE: &str = "unmatched-frames.txt";

/// Where a report directory goes.
#[derive(Debug, Clone)]
pub enum Place {
    /// A new directory `<UTC time>-<scenario>` under this one (`run --out`).
    Under(PathBuf),
    /// Exactly this directory (`run --report-dir`, `merge --out`): made if absent, refused if
    /// it already holds a report.
    At(PathBuf),
}

pub struct ReportWriter {
    dir: PathBuf,
    run_json: record::RunRecord,
    timeseries: csv::Writer<BufWriter<File>>,
    hlog: BufWriter<File>,
    serializer: V2DeflateSerializer,
    /// `intervals.jsonl`: every interval exactly (see [`records`]).
    intervals: BufWriter<File>,
    intervals_seal: Sealer,
    max_listed: usize,
    /// The open model's plan, for the offered rate (empty in the closed model).
    stages: Vec<crate::scenario::Stage>,
    /// Wall-clock time of the engine's start (elapsed 0), fixed at the first interval.
    zero: Option<chrono::DateTime<chrono::Utc>>,
    /// The intervals again, for report.html's charts (one small record a second).
    series: Vec<html::Point>,
}

impl ReportWriter {
    /// Make the run's directory and start the streamed files.
    pub fn create(place: &Place, r: &Resolved, info: RunInfo) -> anyhow::Result<ReportWriter> {
        let started = info.started;
        let dir = claim(place, &r.scenario.name, started)?;
        let mut timeseries =
            csv::Writer::from_writer(BufWriter::new(File::create(dir.join("timeseries.csv"))?));
        timeseries.write_record(timeseries_columns())?;
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
        let run_json = record::RunRecord {
            loginstorm_version: env!("CARGO_PKG_VERSION").into(),
            scenario: r.scenario.name.clone(),
            seed: r.scenario.seed,
            target: info.target,
            embedded_server: info.embedded,
            overrides: redacted_overrides(&info.overrides),
            thresholds_added: info.extra_thresholds,
            shard: record::ShardRecord {
                index: r.shard.index.into(),
                count: r.shard.count.into(),
            },
            accounts_run: r.accounts_owned().into(),
            scenario_hash: Some(scenario_hash(&r.scenario)),
            started_at: chrono::DateTime::<chrono::Utc>::from(started).to_rfc3339(),
            ended_at: None,
            elapsed_secs: None,
            outcome: "running".into(),
            error: None,
            check_warnings: crate::scenario::check_warnings(r),
            resolved_scenario: redacted(&r.scenario),
            generator: None,
            cautions: None,
            report_write_secs: None,
            reports_complete: None,
            totals: None,
            files: None,
            merged_from: None,
            merge_shortfall: None,
        };
        let intervals = BufWriter::new(File::create(dir.join(records::INTERVALS_FILE))?);
        let w = ReportWriter {
            intervals,
            intervals_seal: Sealer::default(),
            dir,
            run_json,
            timeseries,
            hlog,
            serializer,
            max_listed: r.scenario.checks.max_listed,
            stages: r.own_stages(),
            zero: None,
            series: Vec::new(),
        };
        w.write_run_json()?;
        Ok(w)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Fix the wall-clock time of the run's elapsed 0 (merge: the earliest shard's start);
    /// otherwise it is taken at the first interval.
    pub fn set_zero(&mut self, zero: chrono::DateTime<chrono::Utc>) {
        self.zero = Some(zero);
    }

    /// The run's intervals as report.html charts them.
    pub fn series(&self) -> &[html::Point] {
        &self.series
    }

    /// Append one interval to `timeseries.csv`, `intervals.jsonl` and `latency.hlog`.
    pub fn tick(&mut self, t: &Tick) -> anyhow::Result<()> {
        self.append(t).with_context(|| {
            format!(
                "cannot write the streamed reports (timeseries.csv, intervals.jsonl, latency.hlog) in {}",
                self.dir.display()
            )
        })
    }

    fn append(&mut self, t: &Tick) -> anyhow::Result<()> {
        let i = t.interval;
        let zero = *self.zero.get_or_insert_with(|| {
            chrono::Utc::now() - chrono::Duration::from_std(t.at).unwrap_or_default()
        });
        let at = zero + chrono::Duration::from_std(t.at).unwrap_or_default();
        let span = t.span.as_secs_f64();
        let per_s = |n: u64| {
            if span > 0.0 {
                format!("{:.1}", n as f64 / span)
            } else {
                String::new()
            }
        };
        let offered_per_s = (!self.stages.is_empty() && span > 0.0).then(|| {
            let from = t.at.saturating_sub(t.span);
            (crate::scenario::arrivals_until(&self.stages, t.at)
                - crate::scenario::arrivals_until(&self.stages, from))
                / span
        });
        let offered = offered_per_s.map_or(String::new(), |o| format!("{o:.1}"));
        self.series.push(html::Point::from_interval(
            t.at.as_secs_f64(),
            span,
            t.live,
            i,
            offered_per_s,
        ));
        let timeouts = [
            Counter::TimeoutsConnect,
            Counter::TimeoutsLogin,
            Counter::TimeoutsReady,
            Counter::TimeoutsLogout,
        ]
        .iter()
        .map(|c| i.get(*c))
        .sum::<u64>();
        let mut row: Vec<String> = vec![
            at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            format!("{:.3}", t.at.as_secs_f64()),
            format!("{span:.3}"),
            offered,
            per_s(i.get(Counter::CyclesCompleted)),
            per_s(i.get(Counter::LoginsOk)),
            t.live.max(0).to_string(),
            i.get(Counter::ConnectionsOpened).to_string(),
            i.get(Counter::ConnectionsFailed).to_string(),
            i.get(Counter::ConnectionsLost).to_string(),
            i.get(Counter::LoginsOk).to_string(),
            i.get(Counter::LoginsFailed).to_string(),
            i.get(Counter::Readies).to_string(),
            i.get(Counter::Logouts).to_string(),
            i.get(Counter::CyclesCompleted).to_string(),
            i.kicks_total().to_string(),
            i.get(Counter::KicksMultipleAccount).to_string(),
            i.get(Counter::KicksMultipleDevice).to_string(),
            i.get(Counter::KicksUserSigExpired).to_string(),
            i.get(Counter::KicksRestApi).to_string(),
            i.get(Counter::MessagesSent).to_string(),
            i.get(Counter::MessagesReceived).to_string(),
            timeouts.to_string(),
            i.errors_total().to_string(),
            i.violations_total().to_string(),
            i.warnings_total().to_string(),
        ];
        for m in Metric::ALL {
            let h = i.hist(m);
            for (stat, q) in TIMESERIES_METRIC_STATS {
                row.push(match (stat, h.is_empty()) {
                    ("count", _) => h.len().to_string(),
                    (_, true) => String::new(),
                    ("max_us", false) => h.max().to_string(),
                    (_, false) => h.value_at_quantile(q).to_string(),
                });
            }
        }
        self.timeseries.write_record(&row)?;
        self.timeseries.flush()?;
        let record = records::IntervalRecord::new(
            i,
            at.timestamp_millis(),
            t.at.as_secs_f64(),
            span,
            t.live,
        );
        let mut line = serde_json::to_vec(&record)?;
        line.push(b'\n');
        self.intervals.write_all(&line)?;
        self.intervals.flush()?;
        self.intervals_seal.line(&line);
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
        generator: &Generator,
        unmatched: &[String],
    ) -> anyhow::Result<()> {
        write_csv(&self.dir.join("summary.csv"), |f| {
            write_summary_csv(f, totals)
        })?;
        write_csv(&self.dir.join("counters.csv"), |f| {
            write_counters_csv(f, totals, generator)
        })?;
        write_csv(&self.dir.join("kicks.csv"), |f| {
            write_kicks_csv(f, accounts)
        })?;
        let max = self.max_listed;
        write_csv(&self.dir.join("violations.csv"), |f| {
            write_violations_csv(f, accounts, max)
        })?;
        let accounts_seal =
            records::write_accounts(&self.dir.join(records::ACCOUNTS_FILE), accounts)?;
        if !unmatched.is_empty() {
            let text = unmatched.join("\n") + "\n";
            write_atomic(&self.dir.join(UNMATCHED_FILE), text.as_bytes())?;
        }
        let j = &mut self.run_json;
        j.totals = Some(Totals::of(totals));
        j.files = Some(
            [
                (
                    records::INTERVALS_FILE.to_string(),
                    std::mem::take(&mut self.intervals_seal).seal(),
                ),
                (records::ACCOUNTS_FILE.to_string(), accounts_seal),
            ]
            .into(),
        );
        j.outcome = outcome.name().into();
        j.reports_complete = Some(false);
        j.ended_at = Some(chrono::Utc::now().to_rfc3339());
        j.elapsed_secs = Some(elapsed.as_secs_f64());
        let lag = totals.hist(Metric::ScheduleLag);
        let q = |p: f64| (!lag.is_empty()).then(|| lag.value_at_quantile(p));
        j.generator = Some(record::GeneratorRecord {
            cpu_secs: generator.cpu.as_secs_f64(),
            load_window_secs: generator.window.as_secs_f64(),
            busy_cores: Some(generator.busy_cores()),
            cycles: generator.cycles,
            logins_ok: Some(generator.logins_ok),
            cpu_us_per_cycle: generator.cpu_us_per_cycle(),
            schedule_lag_p50_us: q(0.5),
            schedule_lag_p99_us: q(0.99),
            startup_cpu_secs: (!generator.startup_cpu.is_zero())
                .then_some(generator.startup_cpu.as_secs_f64()),
            after_load_cpu_secs: None,
        });
        self.write_run_json()
    }
}
