//! One worker's pacer: it starts the cycles of the worker's own accounts when they are due — the
//! closed model's ramp, the open model's arrivals — on a precise timer (`clock.rs`), calling the
//! accounts directly (same thread), at the instants the unsharded run would.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use super::plan::Plan;
use super::{account, arrivals, clock};
use crate::scenario::LoadModel;

/// Which worker a pacer runs on, of how many.
#[derive(Debug, Clone, Copy)]
pub struct Worker {
    pub index: usize,
    pub of: usize,
}

/// Pace this worker's accounts from `start` until the schedule ends or `stop` is set. Runs on
/// the worker's thread (it takes the worker's accounts, which are not sendable).
pub async fn pace(plan: Arc<Plan>, start: Instant, w: Worker, stop: Arc<AtomicBool>) {
    // This worker's accounts, by index: the pacer calls them directly (same thread).
    let accts = account::take_local();
    let timer = match clock::Timer::new() {
        Ok(t) => t,
        Err(e) => return eprintln!("warning: no precise timer ({e}); pacing stopped"),
    };
    let k = plan.platforms.len() as u64;
    match plan.model {
        LoadModel::Closed => {
            for a in &accts {
                // The ramp's place of the account's global index: shards together start
                // accounts when the unsharded run would.
                let n = u64::from(a.borrow().n());
                let due = (plan.ramp > 0.0)
                    .then(|| start + Duration::from_secs_f64((n * k) as f64 / plan.ramp));
                if let Some(due) = due {
                    let _ = timer.sleep_until(due - clock::lead()).await;
                }
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                a.borrow_mut().start(due);
            }
        }
        LoadModel::Open => {
            // Arrivals are dealt to the scenario's accounts in turn; this process sends those
            // of its own accounts, at the instants the unsharded run would.
            let (all, shard) = (plan.accounts as usize, plan.shard);
            let mine = |next: usize| {
                let n = (next % all) as u32;
                shard.owns(n) && shard.local(n) % w.of == w.index
            };
            let schedule = arrivals::Arrivals::new(plan.stages.clone()).enumerate();
            for (next, at) in schedule.filter(|(next, _)| mine(*next)) {
                let _ = timer.sleep_until((start + at) - clock::lead()).await;
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let n = (next % all) as u32;
                if let Ok(i) = accts.binary_search_by_key(&n, |a| a.borrow().n()) {
                    accts[i].borrow_mut().arrive(start + at);
                }
            }
        }
        LoadModel::Trace => {
            // The trace's rows of this worker's accounts, each at its offset ÷ the speed.
            let Some(trace) = plan.replay.clone() else {
                return;
            };
            let shard = plan.shard;
            let mine = |n: u32| shard.owns(n) && shard.local(n) % w.of == w.index;
            for e in trace.events.iter().filter(|e| mine(e.account)) {
                let at = start + e.at.div_f64(plan.speed);
                let _ = timer.sleep_until(at - clock::lead()).await;
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Ok(i) = accts.binary_search_by_key(&e.account, |a| a.borrow().n()) {
                    accts[i].borrow_mut().replay(e.slot, e.action, at);
                }
            }
        }
    }
}
