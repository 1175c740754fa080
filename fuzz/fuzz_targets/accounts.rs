//! accounts.jsonl as `merge` reads it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = loginstorm::report::records::parse_accounts(data);
});
