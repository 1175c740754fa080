//! `merge`'s reader of a shard's run.json: any text, every figure checked (no panic on huge,
//! negative or non-finite times, wide shard numbers, multibyte hashes).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = loginstorm::merge::check_run_json(
            std::path::Path::new("/nonexistent/loginstorm-fuzz"),
            text,
        );
    }
});
