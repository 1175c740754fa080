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
use crate::verdict::Verdict;

mod conclude;
pub use conclude::conclude;

/// How to run, beyond the scenario itself (the `run` flags that are not the scenario's: those
/// are [`crate::scenario::Overrides`], applied when it was loaded).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub out_dir: PathBuf,
    /// Write the report exactly here instead of a new directory under `out_dir`.
    pub report_dir: Option<PathBuf>,
    /// Trace the first instance's frames into `frames.log` in the report directory.
    pub trace_frames: bool,
    /// Run only this share of the accounts.
    pub shard: crate::shard::Shard,
    /// No live display.
    pub quiet: bool,
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
    // A jitter or stagger wave connects first and delays each login within its window: the embedded
    // server's first-login deadline leaves the whole window (and the default) for it.
    // The embedded server serves this run's own instances, which say nothing while they hold:
    // no idle bound for them, however long the hold — unless the scenario sets one
    // (`server.session_timeout`: how long a silent connection's session, a ghost, lives).
    let mut limits = server::ServerLimits {
        idle_timeout: sc.server.session_timeout.0,
        ..Default::default()
    };
    limits.login_timeout += sc.cycle.alignment.window(r.platforms.len());
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

/// The embedded server, shared with the engine's chaos task, which may restart it.
type Embedded = std::sync::Arc<std::sync::Mutex<Option<server::ServerHandle>>>;

/// A `[[chaos]]` restart of the embedded server: stop it (every connection closes), wait,
/// and listen again on the same address with the same configuration, empty.
struct Restarter {
    server: Embedded,
    config: ServerConfig,
}

impl engine::chaos::Restart for Restarter {
    fn restart(&mut self, pause: std::time::Duration, keep_sessions: bool) -> anyhow::Result<()> {
        if keep_sessions {
            let gateway = |up: bool| -> anyhow::Result<()> {
                let server = self
                    .server
                    .lock()
                    .map_err(|_| anyhow::anyhow!("the embedded server's handle is poisoned"))?;
                match server.as_ref() {
                    Some(s) if up => s.gateway_up(),
                    Some(s) => s.gateway_down(),
                    None => anyhow::bail!("the embedded server is not running"),
                }
                Ok(())
            };
            gateway(false)?;
            std::thread::sleep(pause);
            return gateway(true);
        }
        let old = self
            .server
            .lock()
            .map_err(|_| anyhow::anyhow!("the embedded server's handle is poisoned"))?
            .take();
        if let Some(old) = old {
            self.config.listen = old.addr;
            old.stop();
        }
        std::thread::sleep(pause);
        let new = server::start(self.config.clone()).map_err(|e| {
            anyhow::anyhow!(
                "the embedded server cannot listen again on {}: {}",
                self.config.listen,
                crate::error_message(&e)
            )
        })?;
        if let Ok(mut s) = self.server.lock() {
            *s = Some(new);
        }
        Ok(())
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
    // From here a Ctrl-C ends the run with its reports, whatever it is doing (interrupt.rs).
    crate::interrupt::watch();
    if resolved.scenario.target.insecure {
        eprintln!("warning: target.insecure: the server's TLS certificate is not verified");
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
    let target =
        (!resolved.scenario.target.url.is_empty()).then(|| resolved.scenario.target.url.clone());
    prepare_fds(&resolved, target.is_none());
    for w in crate::scenario::check_warnings(&resolved) {
        eprintln!("warning: {w}");
    }
    let (url, embedded) = match target {
        Some(url) => (url, None),
        None => {
            let config = embedded_server_config(&resolved);
            let h = server::start(config.clone()).map_err(|e| {
                anyhow::anyhow!(
                    "cannot start the embedded server: {}",
                    crate::error_message(&e)
                )
            })?;
            let url = h.url();
            (
                url,
                Some((Embedded::new(std::sync::Mutex::new(Some(h))), config)),
            )
        }
    };
    let restart = embedded.as_ref().map(|(server, config)| {
        Box::new(Restarter {
            server: server.clone(),
            config: config.clone(),
        }) as Box<dyn engine::chaos::Restart>
    });
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
            overrides: resolved.overrides.sets.clone(),
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
        restart,
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
    // The reports are written: a second Ctrl-C (ending the linger) gives up nothing.
    crate::interrupt::settled();
    if let Some(m) = &metrics {
        m.linger(opts.metrics_linger);
    }
    Ok(finished)
}
