//! Ctrl-C and SIGTERM from the moment a run has a report to keep.
//!
//! The engine's controller listens for both (tokio's signal streams) and ends an interrupted run
//! with its reports written. Before it exists — the embedded server starting, the preflight
//! connection, the plan being made — the signals' default action would kill the process with
//! `run.json` still saying `running`. [`watch`], called as a run begins, replaces that action
//! with a count: the first signal is remembered ([`pending`]), and the controller, which looks
//! once its own streams exist (so no signal falls between the two), ends the run as interrupted
//! before its load starts. A second signal while the run is being made means the user will not
//! wait: the process exits at once with 130, as a shell reports an interrupted command. Once the
//! reports are written ([`settled`]) there is nothing left to give up: a signal is only counted,
//! and whatever then waits for one (`--metrics-linger`) ends as it was asked to.
//!
//! The parent of `run --processes` only counts ([`count`]): it forwards every signal to its shard
//! processes itself (processes/watch.rs), and one that came while it started them must not kill
//! it and leave them running, nor make it exit without passing a second one on.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Ctrl-Cs and SIGTERMs received since [`watch`].
static SEEN: AtomicU32 = AtomicU32::new(0);

/// What a second signal prints before the process exits.
const SECOND: &[u8] = b"second interrupt: exiting now, without the report\n";

/// A second signal exits the process: a run is being made (not yet [`settled`]; never in the
/// parent of shard processes).
static EXIT_ON_SECOND: AtomicBool = AtomicBool::new(false);

/// Count Ctrl-C and SIGTERM, a second one exiting at once, until [`settled`] (a run begins;
/// the handler is installed once a process).
pub fn watch() {
    EXIT_ON_SECOND.store(true, Ordering::SeqCst);
    install();
}

/// Count Ctrl-C and SIGTERM, and nothing more: the caller acts on every one.
pub fn count() {
    EXIT_ON_SECOND.store(false, Ordering::SeqCst);
    install();
}

/// The run's reports are written: a second signal no longer exits at once.
pub fn settled() {
    EXIT_ON_SECOND.store(false, Ordering::SeqCst);
}

fn install() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            for signal in [libc::SIGINT, libc::SIGTERM] {
                // SAFETY: the action only touches an atomic and makes the async-signal-safe
                // calls write(2) and _exit(2).
                let _ = unsafe { signal_hook_registry::register(signal, on_signal) };
            }
        });
    }
}

#[cfg(unix)]
fn on_signal() {
    if SEEN.fetch_add(1, Ordering::SeqCst) >= 1 && EXIT_ON_SECOND.load(Ordering::SeqCst) {
        // SAFETY: write(2) of a static buffer and _exit(2), both async-signal-safe.
        unsafe {
            libc::write(2, SECOND.as_ptr().cast(), SECOND.len());
            libc::_exit(130);
        }
    }
}

/// A Ctrl-C or SIGTERM came since the count began ([`watch`] or [`count`]).
pub fn pending() -> bool {
    SEEN.load(Ordering::SeqCst) > 0
}
