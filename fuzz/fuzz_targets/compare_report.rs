//! What `compare` reads of a report directory: summary.csv, counters.csv, latency.hlog and
//! run.json, cut from one input at NUL bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == 0);
    let summary = parts.next().unwrap_or_default();
    let counters = parts.next().unwrap_or_default();
    let hlog = parts.next();
    let run_json = parts.next();
    let _ = loginstorm::compare::parse_report(
        std::path::Path::new("fuzz"),
        summary,
        counters,
        hlog,
        run_json,
    );
});
