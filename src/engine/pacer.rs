//! One worker's pacer: it starts the cycles of the worker's own accounts when they are due — the
//! closed model's ramp, the open model's arrivals — on a precise timer (`clock.rs`), calling the
//! accounts directly (same thread), at the instants the unsharded run would.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// How long before the load's end a start must have been due to count as unsent when it was
/// never sent. A pacer wakes microseconds after a start's instant, and a busy machine can hold
/// it back a few milliseconds now and then — lateness, which `schedule_lag` and its caution
/// report. One 100 ms behind when the load ends has stopped keeping its schedule.
pub const UNSENT_SLACK: Duration = Duration::from_millis(100);

/// Pace this worker's accounts from `start` until the schedule ends or `stop` is set, counting
/// each start it sends in `sent`. Runs on the worker's thread (it takes the worker's accounts,
/// which are not sendable).
pub async fn pace(
    plan: Arc<Plan>,
    start: Instant,
    w: Worker,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) {
    let sent = || sent.fetch_add(1, Ordering::Relaxed);
    // A pacer that stalls, for the tests that prove `arrivals_unsent` fails the run and is
    // the generator's (test_hook.rs): a test build only, never the shipped one.
    let stall_after = crate::test_hook::number("LOGINSTORM_TEST_PACER_STALLS_AFTER");
    // Before each start: the controller said stop, or (a test build) the pacer stalls here.
    let mut sends = 0u64;
    let mut halt = |stop: &AtomicBool| {
        sends += 1;
        stop.load(Ordering::Relaxed) || stall_after.is_some_and(|k| sends > k)
    };
    // This worker's accounts, by index: the pacer calls them directly (same thread).
    let accts = account::take_local();
    let timer = match clock::Timer::new() {
        Ok(t) => t,
        Err(e) => return eprintln!("warning: no precise timer ({e}); pacing stopped"),
    };
    match plan.model {
        LoadModel::Closed => {
            for a in &accts {
                let due = ramp_offset(&plan, a.borrow().n()).map(|d| start + d);
                if let Some(due) = due {
                    let _ = timer.sleep_until(due - clock::lead()).await;
                }
                if halt(&stop) {
                    return;
                }
                a.borrow_mut().start(due);
                sent();
            }
        }
        LoadModel::Open => {
            // Arrivals are dealt to the scenario's accounts in turn; this process sends those
            // of its own accounts, at the instants the unsharded run would.
            let shard = plan.shard;
            let mine = |next: usize| {
                let n = arrival_account(&plan, next);
                shard.owns(n) && shard.worker(n, w.of) == w.index
            };
            let schedule = arrivals::Arrivals::new(plan.stages.clone()).enumerate();
            for (next, at) in schedule.filter(|(next, _)| mine(*next)) {
                let _ = timer.sleep_until((start + at) - clock::lead()).await;
                if halt(&stop) {
                    return;
                }
                let n = arrival_account(&plan, next);
                if let Ok(i) = accts.binary_search_by_key(&n, |a| a.borrow().n()) {
                    accts[i].borrow_mut().arrive(start + at);
                }
                sent();
            }
        }
        LoadModel::Trace => {
            // The trace's rows of this worker's accounts, each at its offset ÷ the speed.
            let Some(trace) = plan.replay.clone() else {
                return;
            };
            let shard = plan.shard;
            let mine = |n: u32| shard.owns(n) && shard.worker(n, w.of) == w.index;
            for e in trace.events.iter().filter(|e| mine(e.account)) {
                let at = start + replayed(&plan, e.at);
                let _ = timer.sleep_until(at - clock::lead()).await;
                if halt(&stop) {
                    return;
                }
                if let Ok(i) = accts.binary_search_by_key(&e.account, |a| a.borrow().n()) {
                    accts[i].borrow_mut().replay(e.slot, e.action, at);
                }
                sent();
            }
        }
    }
}

/// The closed model's start of account `n`, from the load's start: the ramp's place of its
/// global index, so shards together start accounts when the unsharded run would (`None`: no
/// ramp, at once).
fn ramp_offset(plan: &Plan, n: u32) -> Option<Duration> {
    let k = plan.platforms.len() as u64;
    (plan.ramp > 0.0).then(|| Duration::from_secs_f64((u64::from(n) * k) as f64 / plan.ramp))
}

/// The account the open model's `next`-th arrival is dealt to (the scenario's, in turn).
fn arrival_account(plan: &Plan, next: usize) -> u32 {
    (next % plan.accounts as usize) as u32
}

/// When a trace row at offset `at` is replayed, from the load's start.
fn replayed(plan: &Plan, at: Duration) -> Duration {
    at.div_f64(plan.speed)
}

/// How many starts this process's pacers (all workers) had due before `before`: what they
/// owe by then — the schedule `pace` follows, read with the same functions. The pacers send
/// in order, so `owed − sent` is exactly what a late or stalled pacer left unsent.
pub fn owed(plan: &Plan, start: Instant, before: Instant) -> u64 {
    let Some(window) = before.checked_duration_since(start) else {
        return 0;
    };
    let shard = plan.shard;
    match plan.model {
        LoadModel::Closed => shard
            .accounts(plan.accounts)
            .filter(|n| ramp_offset(plan, *n).is_none_or(|d| d < window))
            .count() as u64,
        LoadModel::Open => arrivals::Arrivals::new(plan.stages.clone())
            .enumerate()
            .take_while(|(_, at)| *at < window)
            .filter(|(next, _)| shard.owns(arrival_account(plan, *next)))
            .count() as u64,
        LoadModel::Trace => plan.replay.as_ref().map_or(0, |t| {
            t.events
                .iter()
                .filter(|e| shard.owns(e.account) && replayed(plan, e.at) < window)
                .count() as u64
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn plan(text: &str) -> Arc<Plan> {
        let r = crate::scenario::load_text(text, Path::new("."), &Default::default()).unwrap();
        Plan::new(&r, "ws://127.0.0.1:9/").unwrap()
    }

    #[test]
    fn what_the_pacers_owe_is_what_the_schedule_had_due() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        // Open: 1,000/s for 1 s, one arrival a millisecond, dealt to 10 accounts in turn.
        let open = plan(
            "[accounts]\ncount = 10\ninstances = \"Web\"\n[cycle]\nhold = \"0\"\n\
             [load]\nmodel = \"open\"\nstages = \"1000,1us;1000,1s\"\n",
        );
        assert_eq!(owed(&open, start, start), 0);
        let by_half = owed(&open, start, at(500));
        assert!((499..=501).contains(&by_half), "{by_half}");
        let all = owed(&open, start, at(2000));
        assert!((999..=1001).contains(&all), "{all}");
        assert_eq!(owed(&open, start, start - Duration::from_secs(1)), 0);
        // Closed: 10 accounts of 2 instances ramped at 20 logins/s: one account every 100 ms.
        let closed = plan(
            "[accounts]\ncount = 10\ninstances = \"Web,Android\"\n[cycle]\nhold = \"0\"\n\
             [load]\nramp = 20.0\n",
        );
        assert_eq!(owed(&closed, start, at(350)), 4);
        assert_eq!(owed(&closed, start, at(5000)), 10);
    }
}
