//! The generator's frame decoder: any text frame a backend may send.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(f) = loginstorm::protocol::ServerFrame::parse(text) {
            // What parses re-serializes into a frame that parses.
            assert!(loginstorm::protocol::ServerFrame::parse(&f.to_json()).is_ok());
        }
    }
});
