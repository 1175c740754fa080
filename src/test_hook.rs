//! Fault switches for the test suite: a number read from the environment in a test (debug)
//! build, so a test can hold a window open or make the generator misbehave; always `None` in a
//! release build, where the read is compiled out.
//!
//! - `LOGINSTORM_TEST_PACER_STALLS_AFTER`: each pacer stops sending after this many starts
//!   (engine/pacer.rs; tests/it/verdict.rs, tests/it/search.rs).
//! - `LOGINSTORM_TEST_PARENT_WAITS_MS`: the `run --processes` parent waits this long between
//!   starting its shards and watching them (processes/mod.rs; tests/it/shards_processes.rs).

/// The number in the environment variable `name`, in a test build.
pub fn number(name: &str) -> Option<u64> {
    #[cfg(debug_assertions)]
    {
        std::env::var(name).ok().and_then(|v| v.parse().ok())
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = name;
        None
    }
}
