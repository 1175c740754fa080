//! Ctrl-C and SIGTERM from the moment a run has a report to keep.
//!
//! The engine's controller listens for both (tokio's signal streams) and ends an interrupted run
//! with its reports written. Before it exists — the embedded server starting, the preflight
//! connection, the plan being made — the signals' default action would kill the process with
//! `run.json` still saying `running`. [`watch`], called as a run begins, replaces that action
//! with a count: the first signal is remembered ([`pending`]), and the controller, which looks
//! once its own streams exist (so no signal falls between the two), ends the run as interrupted
//! before its load starts. A second signal, at any time, means the user will not wait: the
//! process exits at once with 130, as a shell reports an interrupted command.

use std::sync::atomic::{AtomicU32, Ordering};

/// Ctrl-Cs and SIGTERMs received since [`watch`].
static SEEN: AtomicU32 = AtomicU32::new(0);

/// What a second signal prints before the process exits.
const SECOND: &[u8] = b"second interrupt: exiting now, without the report\n";

/// Start counting Ctrl-C and SIGTERM (once a process; later calls do nothing).
pub fn watch() {
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
    if SEEN.fetch_add(1, Ordering::SeqCst) >= 1 {
        // SAFETY: write(2) of a static buffer and _exit(2), both async-signal-safe.
        unsafe {
            libc::write(2, SECOND.as_ptr().cast(), SECOND.len());
            libc::_exit(130);
        }
    }
}

/// A Ctrl-C or SIGTERM came since [`watch`].
pub fn pending() -> bool {
    SEEN.load(Ordering::SeqCst) > 0
}
