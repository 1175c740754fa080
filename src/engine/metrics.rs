//! Per-thread recording and off-path aggregation.
//!
//! Every worker thread records into its own [`Snapshot`] (a thread-local: no locks on the hot
//! path). Once a second a task on each worker swaps the recorder out and sends the snapshot to
//! the collector, which adds it into the run's totals. The data types live in
//! [`crate::model`]; this module only records into them.

use std::cell::{Cell, RefCell};

use crate::checks::Class;
pub use crate::model::{Counter, Metric, Snapshot};

thread_local! {
    static RECORDER: RefCell<Option<Snapshot>> = const { RefCell::new(None) };
    /// Whether anything was recorded since the last take.
    static TOUCHED: Cell<bool> = const { Cell::new(false) };
}

fn with<R>(f: impl FnOnce(&mut Snapshot) -> R) -> R {
    TOUCHED.with(|t| t.set(true));
    RECORDER.with(|r| f(r.borrow_mut().get_or_insert_with(Snapshot::default)))
}

/// Whether this thread recorded anything since its last take.
pub fn touched() -> bool {
    TOUCHED.with(Cell::get)
}

/// Record a latency in microseconds on this thread.
pub fn record(m: Metric, micros: u64) {
    with(|s| s.hist[m as usize].saturating_record(micros.max(1)));
}

/// Count one event on this thread.
pub fn count(c: Counter) {
    add(c, 1);
}

pub fn add(c: Counter, n: u64) {
    with(|s| s.counters[c as usize] += n);
}

pub fn login_failed(code: u32) {
    with(|s| {
        s.counters[Counter::LoginsFailed as usize] += 1;
        *s.login_codes.entry(code).or_default() += 1;
    });
}

/// Count a failed connect with its reason.
pub fn connect_failed(reason: String) {
    with(|s| {
        s.counters[Counter::ConnectionsFailed as usize] += 1;
        *s.connect_errors.entry(reason).or_default() += 1;
    });
}

/// Count one violation of class `c` on this thread.
pub fn violation(c: Class) {
    with(|s| s.violations[c.index()] += 1);
}

/// Count the times each invariant was judged on this thread.
pub fn judged(n: &[u64; Class::COUNT]) {
    with(|s| {
        for (a, b) in s.judged.iter_mut().zip(n) {
            *a += b;
        }
    });
}

/// Move the live-session gauge.
pub fn live(delta: i64) {
    with(|s| s.live_delta += delta);
}

/// Take what this thread recorded since the last take.
pub fn take() -> Snapshot {
    TOUCHED.with(|t| t.set(false));
    RECORDER.with(|r| r.borrow_mut().take().unwrap_or_default())
}

/// Take what this thread recorded since the last take and record into `spare` from now on.
///
/// A snapshot holds a few MiB of histogram counts: creating one (allocating and zeroing it) on
/// a worker is a millisecond's stall of every instance on that worker, and the first event
/// after a plain [`take`] would pay it. The collector resets each snapshot it has added up,
/// off the workers' threads, and hands it back as the worker's next spare.
pub fn take_into(spare: Snapshot) -> Snapshot {
    TOUCHED.with(|t| t.set(false));
    RECORDER.with(|r| r.borrow_mut().replace(spare).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorders_are_per_thread_and_take_resets() {
        record(Metric::Login, 1500);
        count(Counter::LoginsOk);
        login_failed(70001);
        live(2);
        let s = take();
        assert_eq!(s.hist(Metric::Login).len(), 1);
        assert_eq!(s.get(Counter::LoginsOk), 1);
        assert_eq!(s.get(Counter::LoginsFailed), 1);
        assert_eq!(s.login_codes[&70001], 1);
        assert_eq!(s.live_delta, 2);
        // A spare takes over: what was recorded comes out, the spare records from now on.
        let spare = Snapshot::default();
        count(Counter::LoginsOk);
        assert!(touched());
        let first = take_into(spare);
        assert!(!touched());
        assert_eq!(first.get(Counter::LoginsOk), 1);
        count(Counter::LoginsOk);
        let mut second = take_into(Snapshot::default());
        assert_eq!(second.get(Counter::LoginsOk), 1);
        // A reset snapshot is empty again.
        second.reset();
        assert_eq!(second.get(Counter::LoginsOk), 0);
        assert_eq!(take().get(Counter::LoginsOk), 0);
        let other = std::thread::spawn(take).join().unwrap();
        assert_eq!(other.get(Counter::LoginsOk), 0);
        assert_eq!(take().get(Counter::LoginsOk), 0);
        let mut total = Snapshot::default();
        total.add(&s);
        total.add(&s);
        assert_eq!(total.hist(Metric::Login).len(), 2);
        assert_eq!(total.get(Counter::LoginsOk), 2);
    }
}
