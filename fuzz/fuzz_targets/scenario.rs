//! Scenario loading: TOML text through parsing and every validation (no file I/O).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = loginstorm::scenario::load_text(s, std::path::Path::new("/nonexistent"), &[]);
    }
});
