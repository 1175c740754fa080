//! A one-shot timer with nanosecond resolution on the tokio reactor (a Linux `timerfd`).
//!
//! tokio's own timers tick in whole milliseconds and round every deadline up to the next tick,
//! so an arrival due at 3.2 ms would leave at 4 ms or later: at thousands of arrivals a second
//! that is a scheduling offset in every open-model latency, and arrivals bunched per tick. A
//! `timerfd` fires at the deadline itself and wakes the same event loop as the sockets do, so
//! the arrivals it paces leave when they are due without a thread hop or a busy wait.

use std::cell::Cell;
use std::io;
#[cfg(target_os = "linux")]
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;
#[cfg(target_os = "linux")]
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// Most a pacer aims ahead of an instant.
const MAX_LEAD_NS: i64 = 250_000;
/// The lateness the pacer steers towards (a little late rather than early).
const TARGET_LATE_NS: i64 = 5_000;

thread_local! {
    /// How far ahead of each instant this thread's pacer wakes: the wake-up and hand-over
    /// latency it has measured lately (per thread, as each worker has its own pacer).
    static LEAD_NS: Cell<i64> = const { Cell::new(0) };
}

/// A paced start began `late_ns` after its instant (negative: early). Steers the lead so that
/// starts land on their instants: waking a sleeping thread and handing the start to its
/// instance takes tens of microseconds, which the pacer learns and wakes that much earlier.
pub fn paced_start(late_ns: i64) {
    LEAD_NS.with(|l| {
        let step = (late_ns - TARGET_LATE_NS) / 8;
        l.set((l.get() + step).clamp(0, MAX_LEAD_NS));
    });
}

/// How far ahead of its instant this thread's pacer should wake.
pub fn lead() -> Duration {
    Duration::from_nanos(LEAD_NS.with(Cell::get) as u64)
}

#[cfg(target_os = "linux")]
pub struct Timer {
    fd: AsyncFd<OwnedFd>,
    /// An instant and the `CLOCK_MONOTONIC` time it was (`Instant` hides its own).
    anchor: (Instant, Duration),
}

/// Elsewhere: tokio's millisecond timer (`schedule_lag` shows what that costs).
#[cfg(not(target_os = "linux"))]
pub struct Timer;

#[cfg(not(target_os = "linux"))]
impl Timer {
    pub fn new() -> io::Result<Timer> {
        Ok(Timer)
    }

    pub async fn sleep_until(&self, at: Instant) -> io::Result<()> {
        tokio::time::sleep_until(at).await;
        Ok(())
    }
}

#[cfg(target_os = "linux")]
impl Timer {
    /// A timer on the current runtime's reactor.
    pub fn new() -> io::Result<Timer> {
        // SAFETY: plain syscall; the descriptor is checked and then owned.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: the descriptor stays open as long as the AsyncFd owns it.
        let fd = unsafe { AsyncFd::register(owned) }.map_err(|e| e.into_parts().1)?;
        // The instant first, then the clock: the clock reads a little later than the instant
        // was, so the kernel's deadline falls at or after the instant asked for, never before
        // it (a wake-up before its instant would wait for the next).
        let now = Instant::now();
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime fills the timespec it is given.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let mono = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        Ok(Timer {
            fd,
            anchor: (now, mono),
        })
    }

    /// Wait until `at` (at once if it has passed).
    ///
    /// One system call a wait, `timerfd_settime`: the timer is never read. tokio registers it
    /// edge-triggered and each expiry of a one-shot timer wakes its wait queue, so every
    /// expiry is an event whether or not its count was drained (re-arming resets the count).
    /// (A periodic timer would not do: the kernel re-arms one only when it is read.)
    pub async fn sleep_until(&self, at: Instant) -> io::Result<()> {
        if at <= Instant::now() {
            return Ok(());
        }
        self.set(at)?;
        loop {
            if Instant::now() >= at {
                return Ok(());
            }
            // A readiness left from an earlier expiry is cleared here and the clock looked
            // at again; tokio keeps a readiness that arrived after the guard was taken.
            let mut guard = self.fd.readable().await?;
            guard.clear_ready();
        }
    }

    /// Arm the timer, once, at `at` (as an absolute deadline: no drift from the call's own time).
    fn set(&self, at: Instant) -> io::Result<()> {
        let (i0, mono0) = self.anchor;
        let abs = mono0 + at.saturating_duration_since(i0);
        let ts = |d: Duration| libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: ts(Duration::ZERO),
            it_value: ts(abs),
        };
        let fd = self.fd.get_ref().as_raw_fd();
        // SAFETY: `fd` is our open timerfd; `spec` is a valid itimerspec.
        let r = unsafe {
            libc::timerfd_settime(fd, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut())
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// CPU time this process has used (user + system), all threads.
pub fn process_cpu() -> std::time::Duration {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| {
        std::time::Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1000)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lead_follows_the_lateness_and_stays_bounded() {
        assert_eq!(lead(), Duration::ZERO);
        // Waking and handing over takes 60 µs: starts land 60 µs late less the lead. The lead
        // settles where they land 5 µs late.
        for _ in 0..200 {
            let lead_ns = lead().as_nanos() as i64;
            paced_start(60_000 - lead_ns);
        }
        let l = lead().as_micros();
        assert!((54..=56).contains(&l), "{l}");
        // Now early: the lead shrinks, never below 0.
        for _ in 0..400 {
            paced_start(-100_000);
        }
        assert_eq!(lead(), Duration::ZERO);
        // A stall does not make the pacer run arbitrarily early.
        for _ in 0..400 {
            paced_start(50_000_000);
        }
        assert_eq!(lead(), Duration::from_nanos(MAX_LEAD_NS as u64));
    }
}
