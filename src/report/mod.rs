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
pub mod html;
mod junit;
pub mod record;
pub mod records;
mod render;
pub mod summary_json;
mod tables;

pub use junit::write_junit;
pub use render::{render_generator, render_summary, render_verdict, write_thresholds, Offered};
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

/// What a report may show of the scenario: everything but the secret key (reports are
/// uploaded as CI artifacts and shared). The dev key of the reference server is public and
/// stays, so a report says which one a run used.
pub fn redacted(s: &crate::scenario::Scenario) -> crate::scenario::Scenario {
    let mut s = s.clone();
    if s.target.key != crate::server::DEV_KEY {
        s.target.key = "(redacted)".into();
    }
    s
}

/// The `--set` overrides as a report may show them: the value of `target.key` (the signing
/// key) is redacted like the resolved scenario's, whatever spacing the override used.
pub fn redacted_overrides(overrides: &[String]) -> Vec<String> {
    overrides
        .iter()
        .map(|o| match o.split_once('=') {
            Some((k, v))
                if k.trim() == "target.key"
                    && v.trim().trim_matches('"') != crate::server::DEV_KEY =>
            {
                format!("{}=(redacted)", k.trim())
            }
            _ => o.clone(),
        })
        .collect()
}

/// Write a whole report file at once: into a temporary file beside it, then renamed over
/// it, so a reader (or a full disk) never leaves half a file under the real name. The error
/// names the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::Error::new(e).context(format!("cannot write {}", path.display())));
    }
    Ok(())
}

/// A CSV table rendered in memory, then written with [`write_atomic`].
pub fn write_csv(
    path: &Path,
    fill: impl FnOnce(&mut csv::Writer<&mut Vec<u8>>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut bytes);
        fill(&mut w)?;
        w.flush()?;
    }
    write_atomic(path, &bytes)
}

/// What a finished report records of its own totals and files in `run.json`, so `merge`
/// can refuse a shard whose files were cut short, swapped or altered: the sum of its
/// intervals must be these totals, and each file must have this many records and this hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    pub counters: std::collections::BTreeMap<String, u64>,
    pub login_codes: std::collections::BTreeMap<u32, u64>,
    pub connect_errors: std::collections::BTreeMap<String, u64>,
    pub violations: std::collections::BTreeMap<String, u64>,
    pub judged: std::collections::BTreeMap<String, u64>,
    /// Samples of each latency histogram with any.
    pub samples: std::collections::BTreeMap<String, u64>,
}

impl Totals {
    pub fn of(s: &Snapshot) -> Totals {
        let r = records::IntervalRecord::new(s, 0, 0.0, 0.0, 0);
        Totals {
            counters: r.counters,
            login_codes: r.login_codes,
            connect_errors: r.connect_errors,
            violations: r.violations,
            judged: r.judged,
            samples: Metric::ALL
                .iter()
                .filter(|m| !s.hist(**m).is_empty())
                .map(|m| (m.name().to_string(), s.hist(*m).len()))
                .collect(),
        }
    }
}

/// A file's record count and SHA-256, as `run.json` records them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileSeal {
    pub records: u64,
    pub sha256: String,
}

/// Hashes a file as it is written, line by line.
#[derive(Default)]
struct Sealer {
    hash: sha2::Sha256,
    records: u64,
}

impl Sealer {
    fn line(&mut self, bytes: &[u8]) {
        use sha2::Digest;
        self.hash.update(bytes);
        self.records += 1;
    }

    fn seal(self) -> FileSeal {
        use sha2::Digest;
        FileSeal {
            records: self.records,
            sha256: hex(&self.hash.finalize()),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Make the report directory and claim it for this run alone: `run.json` is created with
/// `O_EXCL`, so of two runs given one `--report-dir` (or two `--out` runs in the same second)
/// only one gets it, and the other is refused (or takes the next name).
pub fn claim(place: &Place, scenario: &str, started: SystemTime) -> anyhow::Result<PathBuf> {
    let taken = |dir: &Path| {
        anyhow::anyhow!(
            "report directory {} already holds a report (run.json); give a new one",
            dir.display()
        )
    };
    let create = |dir: &Path| -> anyhow::Result<bool> {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join("run.json"))
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(anyhow::Error::new(e)
                .context(format!("cannot create {}", dir.join("run.json").display()))),
        }
    };
    match place {
        Place::At(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create report directory {}", dir.display()))?;
            if create(dir)? {
                Ok(dir.clone())
            } else {
                Err(taken(dir))
            }
        }
        Place::Under(out) => {
            std::fs::create_dir_all(out)
                .with_context(|| format!("cannot create report directory {}", out.display()))?;
            for _ in 0..10_000 {
                let dir = new_dir_under(out, scenario, started);
                match std::fs::create_dir(&dir) {
                    Ok(()) if create(&dir)? => return Ok(dir),
                    Ok(()) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => {
                        return Err(anyhow::Error::new(e)
                            .context(format!("cannot create report directory {}", dir.display())))
                    }
                }
            }
            anyhow::bail!("no free report directory name under {}", out.display())
        }
    }
}

/// A directory name not yet taken under `out`: `<UTC time>-<scenario>` (then `-2`, `-3`, …).
pub fn new_dir_under(out: &Path, scenario: &str, started: SystemTime) -> PathBuf {
    let stamp = chrono::DateTime::<chrono::Utc>::from(started)
        .format("%Y%m%dT%H%M%SZ")
        .to_string();
    let safe = safe_name(scenario);
    let mut dir = out.join(format!("{stamp}-{safe}"));
    let mut n = 2;
    while dir.exists() {
        dir = out.join(format!("{stamp}-{safe}-{n}"));
        n += 1;
    }
    dir
}

/// The identity of a scenario for merging shards: a SHA-256 of the resolved scenario with its
/// seed left out (the seed is compared on its own, so a mismatch names which differs).
pub fn scenario_hash(s: &crate::scenario::Scenario) -> String {
    use sha2::Digest;
    let mut s = s.clone();
    s.seed = 0;
    let text = serde_json::to_string(&s).unwrap_or_default();
    hex(&sha2::Sha256::digest(text.as_bytes()))
}

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

/// A scenario name as it may appear in a directory name.
pub fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
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

    fn write_run_json(&self) -> anyhow::Result<()> {
        write_atomic(
            &self.dir.join("run.json"),
            self.run_json.to_json()?.as_bytes(),
        )
    }

    /// Record in `run.json` that the run ended in an error before its reports (a target that
    /// could not be reached, a port that could not be bound): never left saying `running`.
    pub fn record_error(&mut self, e: &anyhow::Error) -> anyhow::Result<()> {
        self.run_json.outcome = "error".into();
        self.run_json.error = Some(crate::error_message(e));
        self.run_json.ended_at = Some(chrono::Utc::now().to_rfc3339());
        self.write_run_json()
    }

    /// Record in `run.json` how long writing the end-of-run reports took (every file after the
    /// load ended: CSV tables, thresholds, junit, summary.json, report.html).
    pub fn record_report_time(&mut self, secs: f64) -> anyhow::Result<()> {
        self.run_json.report_write_secs = Some(secs);
        self.run_json.reports_complete = Some(true);
        self.write_run_json()
    }

    /// Record in `run.json` which shard reports this one merges, and what it lacks.
    pub fn record_merge(
        &mut self,
        shards: Vec<(crate::shard::Shard, String)>,
        shortfall: &[String],
    ) -> anyhow::Result<()> {
        self.run_json.merged_from = Some(
            shards
                .iter()
                .map(|(s, dir)| record::MergedFrom {
                    shard: s.to_string(),
                    dir: dir.clone(),
                })
                .collect(),
        );
        self.run_json.merge_shortfall = Some(shortfall.to_vec());
        self.write_run_json()
    }

    /// Add the verdict's cautions to `run.json`.
    pub fn record_cautions(&mut self, cautions: &[String]) -> anyhow::Result<()> {
        self.run_json.cautions = Some(cautions.to_vec());
        self.write_run_json()
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
        });
        self.write_run_json()
    }
}
