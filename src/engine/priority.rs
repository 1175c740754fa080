//! The controller's thread steps aside for the workers while the clock runs.
//!
//! Once a second the controller folds the workers' snapshots together and the report writer
//! serializes the interval (every histogram, compressed, for `intervals.jsonl` and
//! `latency.hlog`): a few milliseconds of CPU in one burst. Where a worker shares a core with
//! it — always on a one- or two-core generator — that burst would preempt the worker, and the
//! backend's answers that arrived meanwhile would wait behind it: the generator's own delay,
//! recorded as the backend's latency. At a lower priority (nice 10) the scheduler lets the
//! worker finish what it is doing first; the controller still runs whenever a core has time
//! (a worker is never busy for a whole second unless the generator is saturated, which
//! `schedule_lag` reports).

/// Lowers the calling thread's priority until dropped (Linux: per-thread nice value).
pub struct Background {
    #[cfg(target_os = "linux")]
    restore: Option<libc::c_int>,
}

/// How much lower than the rest of the process (nice steps).
#[cfg(target_os = "linux")]
const NICER_BY: libc::c_int = 10;

impl Background {
    pub fn enter() -> Background {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: plain syscalls on this thread's own id; failures leave the priority as
            // it was (an unprivileged process may always lower its own priority).
            unsafe {
                let tid = libc::gettid() as libc::id_t;
                *libc::__errno_location() = 0;
                let was = libc::getpriority(libc::PRIO_PROCESS, tid);
                if *libc::__errno_location() != 0 {
                    return Background { restore: None };
                }
                let to = (was + NICER_BY).min(19);
                if to == was || libc::setpriority(libc::PRIO_PROCESS, tid, to) != 0 {
                    return Background { restore: None };
                }
                Background { restore: Some(was) }
            }
        }
        #[cfg(not(target_os = "linux"))]
        Background {}
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(was) = self.restore {
            // Raising it back needs no privilege only as far as RLIMIT_NICE allows; if it is
            // refused the thread stays nicer, which only slows the report writing.
            // SAFETY: plain syscall on this thread's own id.
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, was);
            }
        }
    }
}
