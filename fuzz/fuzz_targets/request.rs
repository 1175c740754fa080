//! The server's request decoder: any text frame a client may send.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match loginstorm::protocol::Request::parse(text) {
            // What parses re-serializes and parses to the same request.
            Ok(r) => assert_eq!(loginstorm::protocol::Request::parse(&r.to_json()).unwrap(), r),
            Err(e) => assert!(!e.message.is_empty()),
        }
    }
});
