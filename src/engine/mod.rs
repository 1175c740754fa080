//! The load engine: `loginstorm run`.
//!
//! One actix Arbiter per core. Each account's coordinator and its instances live on one Arbiter
//! (accounts are dealt round-robin). The controller (this module) starts them on the ramp or at
//! open-model arrivals, collects each thread's metrics once a second, shows progress, decides
//! when the run ends, and hands the totals to the report writer.

pub mod account;
pub mod admin;
pub mod connect;
pub mod instance;
pub mod metrics;
pub mod plan;

use actix::prelude::*;
use anyhow::Context as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::report::{Outcome, ReportWriter, RunInfo, Tick};
use crate::scenario::{rate_at, LoadModel, Resolved};
use crate::server::{self, ServerConfig};
use account::{Account, AccountReport, Arrive, Finish, Note, Start, TakeReport};
use metrics::{Counter, Snapshot};
use plan::Plan;

/// How often worker threads hand in their metrics.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Seconds in a row with failed connects, none opened and no live session before the target is
/// declared lost.
const TARGET_LOST_STRIKES: u32 = 3;

/// Counts live instance actors; dropped with the actor.
pub struct ActiveGuard(Arc<AtomicUsize>);

impl ActiveGuard {
    pub fn new(c: &Arc<AtomicUsize>) -> Self {
        c.fetch_add(1, Ordering::Relaxed);
        ActiveGuard(c.clone())
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct RunOptions {
    /// Overrides the scenario's target URL.
    pub target: Option<String>,
    pub out_dir: PathBuf,
    pub seed: Option<u64>,
    pub quiet: bool,
    /// Extra `key=value` settings already applied (recorded in run.json).
    pub overrides: Vec<String>,
}

pub struct RunResult {
    pub outcome: Outcome,
    pub report_dir: PathBuf,
    pub totals: Snapshot,
    pub accounts: Vec<AccountReport>,
    /// Wall-clock start of the run.
    pub started: std::time::SystemTime,
    pub elapsed: Duration,
}

/// Run a scenario to its end and write its reports.
pub fn run(mut resolved: Resolved, opts: RunOptions) -> anyhow::Result<RunResult> {
    if let Some(seed) = opts.seed {
        resolved.scenario.seed = seed;
    }
    let fd_limit = crate::raise_fd_limit();
    let sc = &resolved.scenario;
    let sockets = resolved.instances()
        * if sc.target.url.is_empty() && opts.target.is_none() {
            2
        } else {
            1
        };
    if fd_limit > 0 && sockets + 64 > fd_limit {
        eprintln!(
            "warning: the open-file limit is {fd_limit} and cannot be raised further here; this run may hold up to {sockets} sockets{}, so connects beyond the limit will fail (counted as connections_failed_tcp_too_many_open_files)",
            if sockets > resolved.instances() { " (both ends, with the embedded server)" } else { "" }
        );
    }
    for w in crate::scenario::check_warnings(&resolved) {
        eprintln!("warning: {w}");
    }
    let url_from_scenario = (!sc.target.url.is_empty()).then(|| sc.target.url.clone());
    let (url, embedded) = match opts.target.clone().or(url_from_scenario) {
        Some(url) => (url, None),
        None => {
            let cfg = ServerConfig {
                sdkappid: sc.target.sdkappid,
                key: sc.target.key.clone(),
                admin: sc.target.admin.clone(),
                policy: resolved.policy,
                ready_delay: sc.server.ready_delay,
                faults: sc.server.faults,
                fault_seed: sc.server.fault_seed,
                workers: sc.server.workers,
                ..ServerConfig::default()
            };
            let h = server::start(cfg).context("cannot start the embedded server")?;
            (h.url(), Some(h))
        }
    };
    let plan = Plan::new(&resolved, &url).map_err(anyhow::Error::msg)?;
    preflight(&plan)?;
    let mut writer = ReportWriter::create(
        &opts.out_dir,
        &resolved,
        RunInfo {
            target: url.clone(),
            embedded: embedded.is_some(),
            overrides: opts.overrides.clone(),
        },
    )?;
    let started = std::time::SystemTime::now();
    let sys = System::new();
    let result = sys.block_on(controller(resolved, plan, &mut writer, opts.quiet));
    System::current().stop();
    let _ = sys.run();
    drop(embedded);
    let (outcome, totals, accounts, elapsed) = result?;
    writer.finish(outcome, &totals, &accounts, elapsed)?;
    Ok(RunResult {
        outcome,
        report_dir: writer.dir().to_path_buf(),
        totals,
        accounts,
        started,
        elapsed,
    })
}

/// One connection before the load starts, so an unreachable target is a clear error.
fn preflight(plan: &Plan) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match tokio::time::timeout(
            plan.connect_timeout,
            connect::connect(&plan.url, plan.addr, None),
        )
        .await
        {
            Ok(Ok(mut ws)) => {
                let _ = ws.close(None).await;
                Ok(())
            }
            Ok(Err(e)) => Err(anyhow::anyhow!("cannot reach target {}: {e}", plan.url)),
            Err(_) => Err(anyhow::anyhow!(
                "cannot reach target {}: no WebSocket within {:?}",
                plan.url,
                plan.connect_timeout
            )),
        }
    })
}

type ControllerOut = (Outcome, Snapshot, Vec<AccountReport>, Duration);

async fn controller(
    resolved: Resolved,
    plan: Arc<Plan>,
    writer: &mut ReportWriter,
    quiet: bool,
) -> anyhow::Result<ControllerOut> {
    let sc = resolved.scenario.clone();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let arbiters: Vec<Arbiter> = (0..workers).map(|_| Arbiter::new()).collect();
    let (snap_tx, mut snap_rx) = mpsc::unbounded_channel::<Snapshot>();
    for arb in &arbiters {
        let tx = snap_tx.clone();
        arb.spawn(async move {
            let mut iv = tokio::time::interval(FLUSH_EVERY);
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                iv.tick().await;
                if tx.send(metrics::take()).is_err() {
                    break;
                }
            }
        });
    }
    let (note_tx, mut note_rx) = mpsc::unbounded_channel::<Note>();
    let active = Arc::new(AtomicUsize::new(0));
    let k = plan.platforms.len() as u64;
    let accounts: Vec<Addr<Account>> = (0..sc.accounts.count)
        .map(|n| {
            let (plan, notes, active) = (plan.clone(), note_tx.clone(), active.clone());
            let seed = sc.seed ^ u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            Account::start_in_arbiter(&arbiters[n as usize % workers].handle(), move |ctx| {
                Account::new(plan, n, u64::from(n) * k, notes, seed, &active, ctx)
            })
        })
        .collect();
    let start = Instant::now();
    let planned = match (sc.load.model, sc.load.duration.0) {
        (LoadModel::Open, _) => Some(resolved.stages.iter().map(|s| s.over).sum()),
        (_, d) if !d.is_zero() => Some(d),
        _ => None,
    };
    let driver = match sc.load.model {
        LoadModel::Closed => {
            let (accts, ramp) = (accounts.clone(), sc.load.ramp);
            actix::spawn(async move {
                for (n, a) in accts.iter().enumerate() {
                    if ramp > 0.0 {
                        let at = Duration::from_secs_f64((n as u64 * k) as f64 / ramp);
                        tokio::time::sleep_until(start + at).await;
                    }
                    a.do_send(Start);
                }
            })
        }
        LoadModel::Open => {
            let (accts, stages) = (accounts.clone(), resolved.stages.clone());
            actix::spawn(async move {
                // Integrate the rate in 1 ms steps; each whole arrival is due at its step.
                const DT: Duration = Duration::from_millis(1);
                let total: Duration = stages.iter().map(|s| s.over).sum();
                let (mut t, mut due, mut next) = (Duration::ZERO, 0.0f64, 0usize);
                while t < total {
                    due += rate_at(&stages, t) * DT.as_secs_f64();
                    t += DT;
                    while due >= 1.0 {
                        due -= 1.0;
                        tokio::time::sleep_until(start + t).await;
                        accts[next % accts.len()].do_send(Arrive {
                            intended: start + t,
                        });
                        next += 1;
                    }
                }
            })
        }
    };
    let kicker = (!sc.admin_kick.interval.0.is_zero()).then(|| {
        actix::spawn(admin::kicker(
            plan.clone(),
            accounts.clone(),
            sc.admin_kick.interval.0,
            sc.seed,
        ))
    });

    let mut progress = crate::progress::Progress::new(quiet, planned, plan.cycles_planned());
    let mut totals = Snapshot::default();
    let mut live: i64 = 0;
    let mut done = 0usize;
    let mut strikes = 0u32;
    let mut tick = tokio::time::interval_at(start + FLUSH_EVERY, FLUSH_EVERY);
    let mut last_tick = start;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    // SIGTERM (a cancelled CI job) ends the run like Ctrl-C: reports are still written.
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let sigterm = term.recv();
    #[cfg(not(unix))]
    let sigterm = std::future::pending::<Option<()>>();
    tokio::pin!(sigterm);
    let outcome = loop {
        tokio::select! {
            _ = &mut ctrl_c => break Outcome::Interrupted,
            _ = &mut sigterm => break Outcome::Interrupted,
            Some(Note::Done(_)) = note_rx.recv() => {
                done += 1;
                if done == accounts.len() && sc.load.model == LoadModel::Closed {
                    break Outcome::Completed;
                }
            }
            now = tick.tick() => {
                let mut interval = Snapshot::default();
                while let Ok(s) = snap_rx.try_recv() {
                    interval.add(&s);
                }
                live += interval.live_delta;
                totals.add(&interval);
                let t = Tick { at: now - start, span: now - last_tick, live, interval: &interval, totals: &totals };
                last_tick = now;
                writer.tick(&t)?;
                progress.update(&t);
                if interval.get(Counter::ConnectionsFailed) > 0
                    && interval.get(Counter::ConnectionsOpened) == 0
                    && live <= 0
                {
                    strikes += 1;
                    if strikes >= TARGET_LOST_STRIKES {
                        break Outcome::TargetLost;
                    }
                } else if interval.get(Counter::ConnectionsOpened) > 0 {
                    strikes = 0;
                }
                if planned.is_some_and(|p| now - start >= p) {
                    break Outcome::DurationReached;
                }
            }
        }
    };
    driver.abort();
    if let Some(k) = kicker {
        k.abort();
    }
    progress.stopping();
    for a in &accounts {
        a.do_send(Finish);
    }
    // What arrives from here on is the run's last, partial interval.
    let mut tail = Snapshot::default();
    let deadline = Instant::now() + sc.timeouts.graceful_stop.0;
    while active.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            Some(s) = snap_rx.recv() => tail.add(&s),
        }
    }
    let reports = futures_util::future::join_all(accounts.iter().map(|a| a.send(TakeReport))).await;
    let reports: Vec<AccountReport> = reports.into_iter().filter_map(Result::ok).collect();
    // Final flush: every worker hands in what it recorded since its last flush.
    let (final_tx, mut final_rx) = mpsc::unbounded_channel();
    for arb in &arbiters {
        let tx = final_tx.clone();
        arb.spawn(async move {
            let _ = tx.send(metrics::take());
        });
    }
    drop(final_tx);
    while let Ok(Some(s)) = tokio::time::timeout(Duration::from_secs(2), final_rx.recv()).await {
        tail.add(&s);
    }
    while let Ok(s) = snap_rx.try_recv() {
        tail.add(&s);
    }
    live += tail.live_delta;
    totals.add(&tail);
    let now = Instant::now();
    writer.tick(&Tick {
        at: now - start,
        span: now - last_tick,
        live,
        interval: &tail,
        totals: &totals,
    })?;
    for arb in &arbiters {
        arb.stop();
    }
    let elapsed = start.elapsed();
    progress.finish();
    Ok((outcome, totals, reports, elapsed))
}

impl Plan {
    /// Cycles the whole run will do, when that is known up front (closed model with a count).
    pub fn cycles_planned(&self) -> Option<u64> {
        (self.model == LoadModel::Closed && self.cycles > 0).then(|| {
            u64::from(self.accounts) * self.platforms.len() as u64 * u64::from(self.cycles)
        })
    }
}
