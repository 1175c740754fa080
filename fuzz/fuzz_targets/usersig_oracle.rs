//! verify(generate(x)) == Ok for every x, and a changed user, app or key is refused.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    sdkappid: u64,
    key: String,
    user: String,
    time: u32,
    expire: u32,
    userbuf: Option<Vec<u8>>,
}

fuzz_target!(|x: Input| {
    if x.key.is_empty() || x.expire == 0 || loginstorm::protocol::check_user_id(&x.user).is_err() {
        return;
    }
    let (time, expire) = (u64::from(x.time), u64::from(x.expire));
    let sig = loginstorm::usersig::generate(x.sdkappid, &x.key, &x.user, time, expire, x.userbuf.as_deref());
    let f = loginstorm::usersig::verify(&sig, x.sdkappid, &x.key, &x.user, time).expect("own sig verifies");
    assert_eq!((f.identifier.as_str(), f.time, f.expire), (x.user.as_str(), time, expire));
    let other = format!("{}x", x.key);
    assert!(loginstorm::usersig::verify(&sig, x.sdkappid, &other, &x.user, time).is_err());
    assert!(loginstorm::usersig::verify(&sig, x.sdkappid ^ 1, &x.key, &x.user, time).is_err());
});
