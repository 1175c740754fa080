//! The REST API's query-string percent decoder, and that it inverts percent-encoding.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = loginstorm::server::percent_decode(s);
        let encoded: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
        assert_eq!(loginstorm::server::percent_decode(&encoded), s);
    }
});
