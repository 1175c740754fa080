//! The load engine: drives a resolved scenario against a backend's URL.
//!
//! One actix Arbiter per core. Each account's coordinator and its instances live on one Arbiter
//! (accounts are dealt round-robin). The controller (this module) starts them on the ramp or at
//! open-model arrivals, collects each thread's metrics once a second and hands each second to an
//! [`Observer`], decides when the run ends, and returns the run's [`RunSummary`]. It knows
//! nothing of reports, displays or the reference server: `crate::run` composes those.

pub mod account;
pub mod admin;
mod arrivals;
pub mod chaos;
mod pacer;
mod preflight;
use preflight::reach;
pub mod clock;
mod collect;
pub mod conn;
pub mod connect;
pub mod endpoint;
pub mod instance;
pub mod metrics;
mod nagle;
pub mod plan;
mod priority;
pub mod shaped;
pub mod stamped;
mod tls;

use actix::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::model::{AccountReport, Counter, Generator, Outcome, RunSummary, Snapshot, Tick};
use crate::scenario::{LoadModel, Resolved};
use account::{Account, Accounts, Note, Order};
use collect::{Collector, FLUSH_EVERY};
use plan::Plan;

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

/// What the engine tells its caller as the run goes (reports, live display).
pub trait Observer {
    /// One second of the run (and, last, the partial interval up to its end).
    fn tick(&mut self, t: &Tick) -> anyhow::Result<()>;
    /// The load stops: instances are winding down.
    fn stopping(&mut self);
}

/// Run a resolved scenario against the backend at `url` until it ends; `restart` restarts
/// the embedded server for a `[[chaos]]` restart.
pub fn run(
    resolved: &Resolved,
    url: &str,
    observer: &mut dyn Observer,
    restart: Option<Box<dyn chaos::Restart>>,
) -> anyhow::Result<RunSummary> {
    let mut plan = Plan::new(resolved, url)?;
    reach(&mut plan)?;
    let started = std::time::SystemTime::now();
    let sys = System::new();
    let result = sys.block_on(controller(plan.clone(), observer, restart));
    System::current().stop();
    let _ = sys.run();
    let (outcome, totals, accounts, elapsed, generator) = result?;
    Ok(RunSummary {
        outcome,
        totals,
        accounts,
        generator,
        started,
        elapsed,
        unmatched: plan.take_unmatched(),
    })
}

/// Create this process's accounts (all of them unless sharded), each under its global index —
/// userID, seed, instance numbers and place in the schedule are the unsharded run's — on its
/// worker (dealt round-robin). One job a worker makes its whole share and starts the task
/// that carries out the controller's orders for them; the returned handle sends those orders.
async fn create_accounts(
    plan: &Arc<Plan>,
    arbiters: &[Arbiter],
    notes: &mpsc::UnboundedSender<Note>,
    active: &Arc<AtomicUsize>,
) -> anyhow::Result<Accounts> {
    let (shard, workers) = (plan.shard, arbiters.len());
    let owned = shard.owned(plan.accounts) as usize;
    let (accounts, orders) = account::channels(shard, owned, workers);
    let mut made = Vec::with_capacity(workers);
    for ((w, arb), orders) in arbiters.iter().enumerate().zip(orders) {
        let (plan, notes, active) = (plan.clone(), notes.clone(), active.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        arb.spawn_fn(move || {
            // In index order: the pacer and the orders' task look accounts up by index.
            let mine: Vec<account::Shared> = shard
                .accounts(plan.accounts)
                .filter(|n| shard.worker(*n, workers) == w)
                .map(|n| {
                    let seed = plan.seed ^ u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    let (plan, notes) = (plan.clone(), notes.clone());
                    account::create(|me| Account::new(plan, n, notes, seed, &active, me))
                })
                .collect();
            account::settle(mine, orders);
            let _ = tx.send(());
        });
        made.push(rx);
    }
    for rx in made {
        rx.await
            .map_err(|_| anyhow::anyhow!("a worker thread stopped while creating its accounts"))?;
    }
    Ok(accounts)
}

type ControllerOut = (Outcome, Snapshot, Vec<AccountReport>, Duration, Generator);

/// The run's one loop, on the controller's thread; everything it knows is in the plan.
async fn controller(
    plan: Arc<Plan>,
    observer: &mut dyn Observer,
    restart: Option<Box<dyn chaos::Restart>>,
) -> anyhow::Result<ControllerOut> {
    // Ctrl-C, and SIGTERM (a cancelled CI job), are caught from here on, not from the loop's
    // first poll: one that comes while the accounts are made ends the run as interrupted, its
    // reports written, instead of killing the process with run.json still `running`. One that
    // came before (the embedded server's start, the preflight) was counted (interrupt.rs):
    // looked at once these streams exist, so none falls between the two.
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    let interrupted_before = crate::interrupt::pending();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let arbiters: Vec<Arbiter> = (0..workers).map(|_| Arbiter::new()).collect();
    let mut collector = Collector::start(&arbiters);
    let (note_tx, mut note_rx) = mpsc::unbounded_channel::<Note>();
    let active = Arc::new(AtomicUsize::new(0));
    // Every worker has made its share of the accounts when this returns; their instance
    // actors start on first use (`account/slots.rs`), so no actor's first poll waits in a
    // worker's queue for the clock's first seconds (80,000 of them, created up front, were a
    // 10–17 ms stall). One round through each worker's queue: its order task's first poll.
    let accounts = create_accounts(&plan, &arbiters, &note_tx, &active).await?;
    collect::caught_up(&arbiters).await;
    // While the clock runs, this thread's once-a-second bookkeeping yields to the workers.
    let background = priority::Background::enter();
    // Starts and arrivals are paced by a precise timer on the thread of the accounts they go
    // to (one pacer per worker), so they leave when due: no millisecond rounding, no thread hop.
    let start = Instant::now();
    collector.begin(start);
    let cpu_at_start = clock::process_cpu();
    let planned = plan.planned;
    let stop_pacing = Arc::new(AtomicBool::new(false));
    let starts_sent = Arc::new(AtomicU64::new(0));
    for (w, arb) in arbiters.iter().enumerate() {
        let (plan, stop, sent) = (plan.clone(), stop_pacing.clone(), starts_sent.clone());
        // The pacer holds its worker's accounts (`Rc`s: not sendable), so the future is made
        // on the worker's thread.
        arb.spawn_fn(move || {
            actix::spawn(pacer::pace(
                plan,
                start,
                pacer::Worker {
                    index: w,
                    of: workers,
                },
                stop,
                sent,
            ));
        });
    }
    let kicker = (!plan.admin_kick_interval.is_zero()).then(|| {
        actix::spawn(admin::kicker(
            plan.clone(),
            accounts.clone(),
            plan.admin_kick_interval,
            plan.seed,
        ))
    });

    // The disruptions run beside the load; one that cannot be caused ends the run.
    let mut disruptions = (!plan.disruptions.is_empty()).then(|| {
        let to = accounts.clone();
        let cut: chaos::Cutter = Box::new(move |fraction, how, seed| {
            to.broadcast(|| Order::Cut {
                fraction,
                how,
                seed,
            });
        });
        actix::spawn(chaos::run(
            plan.disruptions.clone(),
            start,
            plan.window.clone(),
            restart,
            cut,
            plan.seed,
        ))
    });
    let mut totals = Snapshot::default();
    let mut live: i64 = 0;
    let mut done = 0usize;
    let mut strikes = 0u32;
    let mut tick = tokio::time::interval_at(start + FLUSH_EVERY, FLUSH_EVERY);
    let mut last_tick = start;
    #[cfg(unix)]
    let ctrl_c = int.recv();
    #[cfg(not(unix))]
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    #[cfg(unix)]
    let sigterm = term.recv();
    #[cfg(not(unix))]
    let sigterm = std::future::pending::<Option<()>>();
    tokio::pin!(sigterm);
    // The run ends at its planned end, not at the next one-second tick after it.
    let end = tokio::time::sleep_until(start + planned.unwrap_or(Duration::from_secs(1 << 30)));
    tokio::pin!(end);
    let outcome = loop {
        // Biased: when the planned end falls on a second, that second's tick comes first, so
        // the last full second is an interval of its own and not part of the wind-down's.
        tokio::select! {
            biased;
            _ = std::future::ready(()), if interrupted_before => break Outcome::Interrupted,
            _ = &mut ctrl_c => break Outcome::Interrupted,
            _ = &mut sigterm => break Outcome::Interrupted,
            Some(Note::Done(_)) = note_rx.recv() => {
                done += 1;
                if done == accounts.len() && plan.model == LoadModel::Closed {
                    break Outcome::Completed;
                }
            }
            now = tick.tick() => {
                let mut interval = Snapshot::default();
                collector.gather(collect::second_of(start, now), now, &mut interval).await;
                live += interval.live_delta;
                totals.add(&interval);
                let t = Tick { at: now - start, span: now - last_tick, live, interval: &interval, totals: &totals };
                last_tick = now;
                observer.tick(&t)?;
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
            _ = &mut end, if planned.is_some() => break Outcome::DurationReached,
            res = async {
                match disruptions.as_mut() {
                    Some(d) => d.await,
                    None => std::future::pending().await,
                }
            }, if disruptions.is_some() => {
                disruptions = None;
                let failed = match res {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(format!("{e:#}")),
                    Err(e) => Some(format!("the chaos task ended: {e}")),
                };
                if let Some(e) = failed {
                    eprintln!("error: {e}");
                    break Outcome::DisruptionFailed;
                }
            }
        }
    };
    if let Some(d) = disruptions {
        d.abort();
    }
    stop_pacing.store(true, Ordering::Relaxed);
    // What the schedule had due by now that no pacer sent: a generator that fell behind (or
    // stalled) did not offer the load asked for, whatever the backend did with the rest.
    let owed = pacer::owed(&plan, start, Instant::now() - pacer::UNSENT_SLACK);
    let unsent = owed.saturating_sub(starts_sent.load(Ordering::Relaxed));
    drop(background);
    // The generator's cost over the load alone: CPU now, and every cycle completed by now (the
    // workers hand in what they recorded since their last flush). The wind-down — stopping
    // every actor of the population — is a fixed cost, not a cycle's.
    let mut tail = Snapshot::default();
    tail.counters[Counter::ArrivalsUnsent as usize] = unsent;
    collector.flush(&arbiters, &mut tail).await;
    let generator = Generator {
        cpu: clock::process_cpu().saturating_sub(cpu_at_start),
        window: start.elapsed(),
        cycles: totals.get(Counter::CyclesCompleted) + tail.get(Counter::CyclesCompleted),
        logins_ok: totals.get(Counter::LoginsOk) + tail.get(Counter::LoginsOk),
        startup_cpu: cpu_at_start,
    };
    if let Some(k) = kicker {
        k.abort();
    }
    observer.stopping();
    accounts.broadcast(|| Order::Finish);
    // What arrives from here on is the run's last, partial interval.
    let deadline = Instant::now() + plan.graceful_stop;
    while active.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            Some(s) = collector.next() => tail.add(&s),
        }
    }
    // Each worker sends its accounts' reports and lets them go; a worker that is gone sends
    // nothing (its order, and its sender, are dropped), so the channel ends when every live
    // one has answered.
    let (report_tx, mut report_rx) = mpsc::unbounded_channel();
    accounts.broadcast(|| Order::TakeReport {
        to: report_tx.clone(),
    });
    drop(report_tx);
    let mut reports: Vec<AccountReport> = Vec::with_capacity(accounts.len());
    while let Some(r) = report_rx.recv().await {
        reports.push(r);
    }
    reports.sort_unstable_by_key(|r| r.index);
    // Final flush: every worker hands in what it recorded since its last flush.
    collector.flush(&arbiters, &mut tail).await;
    live += tail.live_delta;
    totals.add(&tail);
    let now = Instant::now();
    observer.tick(&Tick {
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
    Ok((outcome, totals, reports, elapsed, generator))
}
