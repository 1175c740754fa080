//! The controller's thread steps aside for the workers while the clock runs.
//!
//! Once a second the controller folds the workers' snapshots together and the report writer
//! serializes the interval (every histogram, compressed, for `intervals.jsonl` and
//! `latency.hlog`): a few milliseconds of CPU in one burst. Where a worker shares a core with
//! it — always on a one- or two-core generator — that burst would preempt the worker, and the
//! backend's answers that arrived meanwhile would wait behind it: the generator's own delay,
//! recorded as the backend's latency. At a lower priority (nice 10) the scheduler favours the
//! worker (a tenth of its weight); the controller still runs whenever a core has time
//! (a worker is never busy for a whole second unless the generator is saturated, which
//! `schedule_lag` reports). Only where the process may raise the priority back afterwards
//! (RLIMIT_NICE or CAP_SYS_NICE): this thread goes on to create the next run's workers.

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
                // Only where it can be undone: this thread creates the next run's workers (as
                // `search` does step after step), and they would inherit a priority it could
                // not raise back.
                if to == was
                    || !may_raise_to(was)
                    || libc::setpriority(libc::PRIO_PROCESS, tid, to) != 0
                {
                    return Background { restore: None };
                }
                Background { restore: Some(was) }
            }
        }
        #[cfg(not(target_os = "linux"))]
        Background {}
    }
}

/// Whether this process may set a thread's nice value back down to `nice`: RLIMIT_NICE allows
/// it (the ceiling is `20 - rlim_cur`), or the process holds CAP_SYS_NICE.
#[cfg(target_os = "linux")]
fn may_raise_to(nice: libc::c_int) -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct it is given.
    let by_limit = unsafe { libc::getrlimit(libc::RLIMIT_NICE, &mut lim) } == 0
        && lim.rlim_cur >= (20 - nice).max(0) as libc::rlim_t;
    by_limit || has_cap_sys_nice()
}

/// CAP_SYS_NICE (bit 23) in this process's effective capabilities.
#[cfg(target_os = "linux")]
fn has_cap_sys_nice() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let hex = s
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))?
                .trim()
                .to_string();
            u64::from_str_radix(&hex, 16).ok()
        })
        .is_some_and(|caps| caps & (1 << 23) != 0)
}

impl Drop for Background {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(was) = self.restore {
            // Checked before lowering it (`may_raise_to`), so this is allowed.
            // SAFETY: plain syscall on this thread's own id.
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, was);
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice() -> libc::c_int {
        // SAFETY: plain syscall on this thread's own id.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[test]
    fn the_priority_comes_back_or_is_never_changed() {
        // On a thread of its own: nice values are per thread.
        std::thread::spawn(|| {
            let before = nice();
            let guard = Background::enter();
            let during = nice();
            if may_raise_to(before) && before < 19 {
                assert!(during > before, "{before} → {during}");
            } else {
                assert_eq!(during, before);
            }
            drop(guard);
            assert_eq!(nice(), before);
        })
        .join()
        .unwrap();
    }
}
