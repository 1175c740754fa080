//! UserSig decode and verify on any string a client may present.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = loginstorm::usersig::decode(&text);
    let _ = loginstorm::usersig::verify(&text, 1400000000, "key", "alice", 1_700_000_000);
});
