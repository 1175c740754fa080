//! Instance, duration, delay-range and stage parsing (scenario values and `--set`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(d) = loginstorm::units::parse_duration(s) {
            let _ = loginstorm::units::format_duration(d);
        }
        let _ = s.parse::<loginstorm::units::DelayRange>();
        if let Ok(v) = loginstorm::scenario::parse_instances(s) {
            assert!(v.len() <= 64 * 7);
        }
        if let Ok(stages) = loginstorm::scenario::parse_stages(s) {
            for st in &stages {
                let _ = loginstorm::scenario::rate_at(&stages, st.over);
            }
        }
    }
});
