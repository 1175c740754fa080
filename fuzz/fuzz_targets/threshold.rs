//! Threshold expressions: `[thresholds]` keys and conditions, `--threshold`, `search --slo`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let (subject, condition) = s.split_once('\n').unwrap_or(("login", s));
        if let Ok(t) = loginstorm::model::Threshold::from_entry(subject, condition) {
            let _ = t.show(1.5);
        }
    }
});
