//! One run, composed: the embedded server when there is no target, the engine, the live display
//! and the reports, then thresholds, the baseline comparison and the verdict. `main` maps the
//! verdict to an exit code; tests drive the same pipeline in-process.
//!
//! Data flows one way: scenario → plan → actors → recorders → [`crate::model`] → reports and
//! verdict (docs/architecture.md).

use std::io::Write;
use std::path::PathBuf;

use crate::compare;
use crate::engine::{self, Observer};
use crate::model::{AccountReport, Outcome, Snapshot, Tick};
use crate::progress::Progress;
use crate::report::{self, ReportWriter, RunInfo};
use crate::scenario::Resolved;
use crate::server::{self, ServerConfig};
use crate::thresholds::Threshold;
use crate::verdict::{self, Verdict};

/// How to run, beyond the scenario itself (the `run` flags).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Overrides the scenario's target URL.
    pub target: Option<String>,
    pub out_dir: PathBuf,
    /// Write the report exactly here instead of a new directory under `out_dir`.
    pub report_dir: Option<PathBuf>,
    /// Trace the first instance's frames into `frames.log` in the report directory.
    pub trace_frames: bool,
    /// Run only this share of the accounts.
    pub shard: crate::shard::Shard,
    /// Overrides the scenario's `target.key`.
    pub key: Option<String>,
    /// Overrides the scenario's `target.protocol` (a name, or a file relative to the current
    /// directory).
    pub protocol: Option<String>,
    /// Overrides `target.ca_file` (relative to the current directory).
    pub ca_file: Option<PathBuf>,
    /// Sets `target.insecure`.
    pub insecure: bool,
    pub seed: Option<u64>,
    /// No live display.
    pub quiet: bool,
    /// The `--set` overrides already applied (recorded in run.json).
    pub overrides: Vec<String>,
    /// Added to the scenario's `[thresholds]`.
    pub thresholds: Vec<Threshold>,
    /// A baseline report directory to compare with.
    pub baseline: Option<PathBuf>,
    pub compare: compare::Options,
    /// Also write `summary.json` here (`-` = stdout; the run's text then goes where `out` is).
    pub summary_json: Option<PathBuf>,
    /// Serve live metrics (OpenMetrics text on GET /metrics) here while the run lasts.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// How long the metrics stay up after the run ended.
    pub metrics_linger: std::time::Duration,
}

/// A finished run: its results, where its reports are, and its verdict.
pub struct Finished {
    pub outcome: Outcome,
    pub totals: Snapshot,
    pub accounts: Vec<AccountReport>,
    pub elapsed: std::time::Duration,
    pub report_dir: PathBuf,
    pub verdict: Verdict,
    /// What the load cost the generator.
    pub generator: crate::model::Generator,
}

/// The embedded reference server for a scenario without a target.
pub fn embedded_server_config(r: &Resolved) -> ServerConfig {
    let sc = &r.scenario;
    // A jitter wave connects first and delays each login within its window: the embedded
    // server's first-login deadline leaves the whole window (and the default) for it.
    // The embedded server serves this run's own instances, which say nothing while they hold
    // (protocol v1 has no heartbeat): no idle bound for them, however long the hold.
    let mut limits = server::ServerLimits {
        idle_timeout: std::time::Duration::ZERO,
        ..Default::default()
    };
    if let crate::scenario::Alignment::Jitter(window) = sc.cycle.alignment {
        limits.login_timeout += window;
    }
    ServerConfig {
        limits,
        sdkappid: sc.target.sdkappid,
        key: sc.target.key.clone(),
        admin: sc.target.admin.clone(),
        policy: r.policy,
        ready_delay: sc.server.ready_delay,
        faults: sc.server.faults,
        fault_seed: sc.server.fault_seed,
        workers: sc.server.workers,
        // The embedded server speaks the dialect of a shipped profile that has one (a user's
        // profile is judged by where it came from, not by the name it gives itself).
        dialect: r
            .profile
            .shipped()
            .and_then(server::Dialect::of_shipped)
            .unwrap_or_default(),
        ..ServerConfig::default()
    }
}

/// Each second goes to the streamed reports, the live display and the live metrics.
struct Sinks<'a> {
    writer: &'a mut ReportWriter,
    progress: &'a mut Progress,
    metrics: Option<&'a crate::live_metrics::RunMetrics>,
}

impl Observer for Sinks<'_> {
    fn tick(&mut self, t: &Tick) -> anyhow::Result<()> {
        self.writer.tick(t)?;
        if let Some(m) = self.metrics {
            m.update(t);
        }
        self.progress.update(t);
        Ok(())
    }

    fn stopping(&mut self) {
        self.progress.stopping();
    }
}

/// Make room for this run's sockets: raise the open-file limit, grow the descriptor table
/// up front (`reserve_fds`), and warn when the run may hold more sockets than it may open.
fn prepare_fds(r: &Resolved, embedded: bool) {
    let fd_limit = crate::raise_fd_limit();
    let sockets = r.instances() * if embedded { 2 } else { 1 };
    crate::reserve_fds(sockets + 256);
    if fd_limit > 0 && sockets + 64 > fd_limit {
        eprintln!(
            "warning: the open-file limit is {fd_limit} and cannot be raised further here; this run may hold up to {sockets} sockets{}, so connects beyond the limit will fail (counted as connections_failed_tcp_too_many_open_files)",
            if embedded { " (both ends, with the embedded server)" } else { "" }
        );
    }
}

/// Run a scenario to its end: reports written, summary and verdict printed to `out`.
pub fn execute<W: Write>(
    mut resolved: Resolved,
    opts: Options,
    out: &mut W,
) -> anyhow::Result<Finished> {
    if let Some(seed) = opts.seed {
        resolved.scenario.seed = seed;
    }
    if let Some(key) = &opts.key {
        if key.is_empty() {
            anyhow::bail!("--key (or LOGINSTORM_KEY) is empty");
        }
        resolved.scenario.target.key = key.clone();
    }
    if let Some(p) = &opts.protocol {
        resolved.use_profile(p, std::path::Path::new("."))?;
    }
    if let Some(ca) = &opts.ca_file {
        resolved.scenario.target.ca_file = Some(ca.clone());
    }
    if opts.insecure {
        resolved.scenario.target.insecure = true;
        eprintln!("warning: --insecure: the server's TLS certificate is not verified");
    }
    resolved.thresholds.extend(opts.thresholds.iter().cloned());
    resolved.shard = opts.shard;
    resolved.check_process_size()?;
    if resolved.accounts_owned() == 0 {
        anyhow::bail!(
            "shard {} runs no account: the scenario has {} account(s), fewer than {} shards",
            opts.shard,
            resolved.scenario.accounts.count,
            opts.shard.count
        );
    }
    // A baseline that cannot be read is known now, not after the whole run.
    if let Some(base) = &opts.baseline {
        compare::load(base).map_err(|e| {
            anyhow::anyhow!(
                "--baseline {}: {}",
                base.display(),
                crate::error_message(&e)
            )
        })?;
    }
    let from_scenario =
        (!resolved.scenario.target.url.is_empty()).then(|| resolved.scenario.target.url.clone());
    let target = opts.target.clone().or(from_scenario);
    prepare_fds(&resolved, target.is_none());
    for w in crate::scenario::check_warnings(&resolved) {
        eprintln!("warning: {w}");
    }
    let (url, embedded) = match target {
        Some(url) => (url, None),
        None => {
            let h = server::start(embedded_server_config(&resolved)).map_err(|e| {
                anyhow::anyhow!(
                    "cannot start the embedded server: {}",
                    crate::error_message(&e)
                )
            })?;
            (h.url(), Some(h))
        }
    };
    // Bound before the report directory is made: a port in use is an error with no report.
    let metrics = crate::live_metrics::RunMetrics::start(
        opts.metrics_listen,
        &resolved.scenario.name,
        resolved.own_stages(),
    )?;
    let place = match &opts.report_dir {
        Some(d) => report::Place::At(d.clone()),
        None => report::Place::Under(opts.out_dir.clone()),
    };
    let mut writer = ReportWriter::create(
        &place,
        &resolved,
        RunInfo {
            target: url.clone(),
            embedded: embedded.is_some(),
            overrides: opts.overrides.clone(),
            extra_thresholds: opts.thresholds.iter().map(|t| t.to_string()).collect(),
            started: std::time::SystemTime::now(),
        },
    )?;
    if opts.trace_frames {
        resolved.trace_frames = Some(writer.dir().join("frames.log"));
    }
    let mut progress = Progress::new(
        opts.quiet,
        resolved.planned_duration(),
        resolved.cycles_planned(),
        resolved.own_stages(),
    );
    let summary = engine::run(
        &resolved,
        &url,
        &mut Sinks {
            writer: &mut writer,
            progress: &mut progress,
            metrics: metrics.as_ref(),
        },
    );
    progress.finish();
    let embedded_used = embedded.is_some();
    drop(embedded);
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            // run.json says what happened, not `running`.
            let _ = writer.record_error(&e);
            return Err(e);
        }
    };
    let finished = conclude(
        &resolved,
        &url,
        embedded_used,
        &opts,
        summary,
        &mut writer,
        &[],
        out,
    )?;
    if let Some(m) = &metrics {
        linger(m, opts.metrics_linger);
    }
    Ok(finished)
}

/// Keep the live metrics up for `d` after the run (its final figures in them, `run_finished` 1)
/// so a scraper's next pass sees the end; Ctrl-C or SIGTERM ends the wait.
pub(crate) fn linger(m: &crate::live_metrics::RunMetrics, d: std::time::Duration) {
    m.finished();
    if d.is_zero() {
        return;
    }
    eprintln!(
        "metrics stay up {} more for a last scrape (--metrics-linger; Ctrl-C ends it)",
        crate::units::format_duration(d)
    );
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    });
}

/// A finished load's results, written and judged: every end-of-run report, thresholds, the
/// baseline comparison and the verdict (`shortfall`: why the results are not the whole run —
/// `merge` names missing shards here — which makes the verdict INCOMPLETE). `run` and `merge`
/// end the same way.
#[allow(clippy::too_many_arguments)]
pub fn conclude<W: Write>(
    resolved: &Resolved,
    url: &str,
    embedded_used: bool,
    opts: &Options,
    summary: crate::model::RunSummary,
    writer: &mut ReportWriter,
    shortfall: &[String],
    out: &mut W,
) -> anyhow::Result<Finished> {
    let writing = std::time::Instant::now();
    writer.finish(
        summary.outcome,
        &summary.totals,
        &summary.accounts,
        summary.elapsed,
        &summary.generator,
        &summary.unmatched,
    )?;
    let dir = writer.dir().to_path_buf();
    if !summary.unmatched.is_empty() {
        writeln!(
            out,
            "protocol: {} frame(s) no rule of profile {} explains; the first are in {}",
            summary
                .totals
                .get(crate::model::Counter::ProtocolErrorsUnmatched),
            resolved.profile.source,
            dir.join(report::UNMATCHED_FILE).display()
        )?;
    }
    // The open model's plan, as arrivals per second over the run's planned length.
    let offered = resolved
        .planned_duration()
        .filter(|_| !resolved.stages.is_empty())
        .map(|d| report::Offered {
            arrivals_per_s: crate::scenario::arrivals_until(&resolved.own_stages(), d)
                / d.as_secs_f64().max(1e-9),
            instances_per_account: resolved.platforms.len(),
        });
    report::render_summary(
        out,
        summary.outcome,
        &summary.totals,
        summary.elapsed,
        &summary.generator,
        &dir,
        offered,
    )?;
    report::render_generator(out, &summary.generator, &summary.totals, embedded_used)?;
    let judged: Vec<_> = resolved
        .thresholds
        .iter()
        .map(|t| t.judge(&summary.totals, &summary.generator))
        .collect();
    report::write_thresholds(out, &dir, &judged)?;
    let failed = judged.iter().filter(|j| !j.passed).count();
    let mut regressions = 0;
    if let Some(base) = &opts.baseline {
        let rows = compare::compare_dirs(&dir, base, &opts.compare)?;
        writeln!(out, "compared with baseline {}", base.display())?;
        compare::render(out, &rows, opts.compare.max_regression)?;
        compare::write_csv(&dir.join("comparison.csv"), &rows)?;
        let doc =
            serde_json::to_string_pretty(&compare::to_json(&rows, opts.compare.max_regression))?
                + "\n";
        report::write_atomic(&dir.join("comparison.json"), doc.as_bytes())?;
        regressions = compare::regressions(&rows);
    }
    let mut verdict = verdict::judge(
        summary.outcome,
        &summary.totals,
        resolved.scenario.checks.error_budget,
        failed,
        regressions,
    );
    if !shortfall.is_empty() {
        verdict.status = verdict::Status::Incomplete;
        // The shortfall comes first: every other figure is of a part of the run.
        verdict.reasons.splice(
            0..0,
            shortfall.iter().map(|r| (verdict::Kind::Run, r.clone())),
        );
    }
    // Only the open model's latencies contain how late a cycle began; the closed model's run
    // from the actual send, so a late ramp start does not enter them.
    if resolved.scenario.load.model == crate::scenario::LoadModel::Open {
        verdict.cautions.extend(verdict::lag_caution(
            &summary.totals,
            resolved.scenario.load.max_schedule_lag.0,
        ));
    }
    if verdict.status != verdict::Status::Pass {
        let limits = resolved.policy.limits.to_spec();
        verdict
            .cautions
            .extend(verdict::limits_hint(&summary.accounts, &limits));
    }
    writer.record_cautions(&verdict.cautions)?;
    report::write_junit(
        &dir,
        &resolved.scenario.name,
        &summary.totals,
        &judged,
        &summary.accounts,
        &verdict,
        summary.started,
        summary.elapsed,
    )?;
    let doc = report::summary_json::build(
        &report::summary_json::RunIdentity {
            scenario: &resolved.scenario.name,
            seed: resolved.scenario.seed,
            target: url,
            embedded_server: embedded_used,
            overrides: &opts.overrides,
            started: summary.started,
        },
        summary.outcome,
        &summary.totals,
        summary.elapsed,
        &summary.generator,
        &judged,
        &verdict,
    );
    report::append_step_summary(&report::summary_json::markdown(&doc, &dir));
    let started = chrono::DateTime::<chrono::Utc>::from(summary.started)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let page = report::html::render(&report::html::Page {
        scenario: &resolved.scenario.name,
        description: &resolved.scenario.description,
        target: url,
        embedded: embedded_used,
        seed: resolved.scenario.seed,
        overrides: &opts.overrides,
        started: &started,
        elapsed_secs: summary.elapsed.as_secs_f64(),
        outcome: summary.outcome.name(),
        verdict: &verdict,
        totals: &summary.totals,
        series: writer.series(),
        accounts: &summary.accounts,
        thresholds: &judged,
    });
    report::write_atomic(&dir.join("report.html"), page.as_bytes())?;
    let text = serde_json::to_string_pretty(&doc)? + "\n";
    report::write_atomic(&dir.join("summary.json"), text.as_bytes())?;
    match opts.summary_json.as_deref() {
        Some(p) if p == std::path::Path::new("-") => {
            std::io::stdout().lock().write_all(text.as_bytes())?
        }
        Some(p) => std::fs::write(p, &text)
            .map_err(|e| anyhow::anyhow!("cannot write --summary-json {}: {e}", p.display()))?,
        None => {}
    }
    writer.record_report_time(writing.elapsed().as_secs_f64())?;
    // The verdict comes last, once every file it speaks for is on disk: a run that could not
    // write its reports ends with the error naming the file (exit 2), never after a verdict.
    report::render_verdict(out, &verdict, &summary.totals)?;
    Ok(Finished {
        outcome: summary.outcome,
        totals: summary.totals,
        accounts: summary.accounts,
        elapsed: summary.elapsed,
        report_dir: dir,
        verdict,
        generator: summary.generator,
    })
}
