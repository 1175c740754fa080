//! Property tests of every decoder that takes untrusted input (the same ones `fuzz/` fuzzes,
//! so CI covers them on stable): none panics on any input, and each round-trips what its own
//! encoder writes. Case counts are bounded; no timing.

use loginstorm::policy::Platform;
use loginstorm::protocol::{Request, ServerFrame};
use loginstorm::usersig;
use proptest::prelude::*;
use std::time::Duration;

fn platform() -> impl Strategy<Value = Platform> {
    prop::sample::select(Platform::ALL.to_vec())
}

/// A userID the protocol accepts: 1..=128 bytes, no control characters.
fn user_id() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{1,40}".prop_filter("≤ 128 bytes", |s| s.len() <= 128)
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (
            any::<u64>(),
            any::<u64>(),
            user_id(),
            "[A-Za-z0-9*_-]{1,200}",
            platform()
        )
            .prop_map(
                |(seq, sdk_app_id, user_id, user_sig, platform)| Request::Login {
                    seq,
                    sdk_app_id,
                    user_id,
                    user_sig,
                    platform
                }
            ),
        any::<u64>().prop_map(|seq| Request::Logout { seq }),
        (any::<u64>(), user_id(), ".{0,100}").prop_map(|(seq, to, text)| Request::SendMessage {
            seq,
            to,
            text
        }),
        any::<u64>().prop_map(|seq| Request::Ping { seq }),
    ]
}

/// JSON-ish text: mostly fragments of real frames, so the parsers get past their first check.
fn jsonish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"seq\"",
        "\"op\"",
        "\"login\"",
        "\"logout\"",
        "\"ping\"",
        "\"sendMessage\"",
        "\"userID\"",
        "\"userSig\"",
        "\"platform\"",
        "\"Web\"",
        "\"sdkAppID\"",
        "\"event\"",
        "\"data\"",
        "\"code\"",
        "\"kickedOut\"",
        "\"type\"",
        "\"multipleAccount\"",
        "\"sdkStateReady\"",
        "\"message\"",
        "\"to\"",
        "\"text\"",
        "0",
        "1",
        "-1",
        "1e400",
        "18446744073709551616",
        "null",
        "true",
        "\"\\u0000\"",
        "\"\\ud800\"",
        " ",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn requests_round_trip(r in request()) {
        prop_assert_eq!(Request::parse(&r.to_json()).unwrap(), r);
    }

    #[test]
    fn the_request_decoder_never_panics(s in prop_oneof![jsonish(), ".{0,200}"]) {
        if let Err(e) = Request::parse(&s) {
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn the_frame_decoder_never_panics(s in prop_oneof![jsonish(), ".{0,200}"]) {
        let _ = ServerFrame::parse(&s);
    }

    #[test]
    fn server_frames_round_trip(seq in any::<u64>(), code in any::<u32>(), msg in ".{0,60}") {
        let text = ServerFrame::error(seq, code, &msg);
        match ServerFrame::parse(&text).unwrap() {
            ServerFrame::Response(r) => {
                prop_assert_eq!(r.seq, seq);
                prop_assert_eq!(r.code, code);
            }
            other => prop_assert!(false, "{other:?}"),
        }
    }

    #[test]
    fn usersigs_verify_what_they_sign(
        sdkappid in any::<u64>(),
        key in "[ -~]{1,64}",
        user in user_id(),
        time in 0u64..4_000_000_000,
        expire in 1u64..100_000_000,
        userbuf in prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
    ) {
        let sig = usersig::generate(sdkappid, &key, &user, time, expire, userbuf.as_deref());
        let f = usersig::verify(&sig, sdkappid, &key, &user, time).unwrap();
        prop_assert_eq!(f.identifier, user.clone());
        prop_assert_eq!(f.time, time);
        prop_assert_eq!(f.expire, expire);
        // Another key, another user, another app: refused, never accepted.
        let other_key = format!("{key}x");
        prop_assert!(usersig::verify(&sig, sdkappid, &other_key, &user, time).is_err());
        let other_user = format!("{user}x");
        prop_assert!(usersig::verify(&sig, sdkappid, &key, &other_user, time).is_err());
        prop_assert!(usersig::verify(&sig, sdkappid.wrapping_add(1), &key, &user, time).is_err());
    }

    #[test]
    fn the_usersig_decoder_never_panics(s in prop_oneof![".{0,300}", "[A-Za-z0-9*_-]{0,300}"]) {
        let _ = usersig::decode(&s);
        let _ = usersig::verify(&s, 1400000000, "k", "u", 0);
    }

    #[test]
    fn a_corrupted_usersig_is_never_accepted(pos in any::<prop::sample::Index>(), c in "[A-Za-z0-9*_-]") {
        let sig = usersig::generate(1400000000, "key", "alice", 1_700_000_000, 86400, None);
        let i = pos.index(sig.len());
        let mut bytes = sig.clone().into_bytes();
        bytes[i] = c.as_bytes()[0];
        let bad = String::from_utf8(bytes).unwrap();
        prop_assume!(bad != sig);
        // A changed character either breaks the decode or the signature; at most it lands on
        // an equivalent encoding of the same document.
        if let Ok(f) = usersig::verify(&bad, 1400000000, "key", "alice", 1_700_000_000) {
            prop_assert_eq!(f.identifier, "alice");
            prop_assert_eq!(f.time, 1_700_000_000);
        }
    }

    #[test]
    fn durations_round_trip_through_their_display(us in 0u64..10_000_000_000) {
        let d = Duration::from_micros(us);
        let shown = loginstorm::units::format_duration(d);
        let back = loginstorm::units::parse_duration(&shown).unwrap();
        // Shown to at most 3 decimals of its unit.
        let tolerance = if us >= 1_000_000 { 1_000 } else { 1 };
        prop_assert!(back.as_micros().abs_diff(u128::from(us)) <= tolerance, "{shown} → {back:?}");
    }

    #[test]
    fn small_languages_never_panic(s in ".{0,80}") {
        let _ = loginstorm::units::parse_duration(&s);
        let _ = s.parse::<loginstorm::units::DelayRange>();
        let _ = loginstorm::scenario::parse_stages(&s);
        let _ = loginstorm::scenario::parse_instances(&s);
        let _ = loginstorm::model::Threshold::from_entry("login", &s);
        let _ = loginstorm::model::Threshold::from_entry(&s, "p99 < 10ms");
    }

    #[test]
    fn instances_are_bounded_before_expansion(p in platform(), n in any::<u64>()) {
        match loginstorm::scenario::parse_instances(&format!("{}*{n}", p.name())) {
            Ok(v) => prop_assert!(v.len() as u64 == n && n <= 64),
            Err(_) => prop_assert!(n == 0 || n > 64),
        }
    }

    #[test]
    fn percent_decoding_inverts_encoding(s in ".{0,60}") {
        let encoded: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
        prop_assert_eq!(loginstorm::server::percent_decode(&encoded), s.clone());
        let _ = loginstorm::server::percent_decode(&s);
    }

    #[test]
    fn scenario_text_never_panics(lines in prop::collection::vec(scenario_line(), 0..12)) {
        let text = lines.concat();
        let _ = loginstorm::scenario::load_text(&text, std::path::Path::new("."), &Default::default());
    }
}

/// A line of a scenario: a table header or a known key with a value that may be wrong.
fn scenario_line() -> impl Strategy<Value = String> {
    let table = prop::sample::select(vec![
        "[accounts]",
        "[cycle]",
        "[load]",
        "[policy]",
        "[timeouts]",
        "[checks]",
        "[server]",
        "[target]",
        "[thresholds]",
        "[admin_kick]",
        "[server.faults]",
    ])
    .prop_map(|t| format!("{t}\n"));
    let key = prop::sample::select(vec![
        "count",
        "instances",
        "id_pattern",
        "cycles",
        "hold",
        "think",
        "alignment",
        "connection",
        "model",
        "ramp",
        "duration",
        "stages",
        "limits",
        "mode",
        "kick",
        "login",
        "ready_delay",
        "zombie",
        "interval",
        "enabled",
        "message_rate",
        "end",
        "on_kick",
        "seed",
        "login.p99",
    ]);
    let value = prop::sample::select(vec![
        "0",
        "1",
        "-1",
        "64",
        "65",
        "4294967296",
        "1e300",
        "nan",
        "true",
        "\"\"",
        "\"Web*3\"",
        "\"Web*1000000000\"",
        "\"u{n}\"",
        "\"x\"",
        "\"1s\"",
        "\"0\"",
        "\"10,1s;20,2s\"",
        "\"Web=3\"",
        "\"single\"",
        "\"waves\"",
        "\"fresh\"",
        "\"open\"",
        "\"< 10ms\"",
        "\"50ms..20ms\"",
        "0.5",
        "[1]",
        "{a=1}",
    ]);
    prop_oneof![
        table,
        (key, value).prop_map(|(k, v)| format!("{k} = {v}\n"))
    ]
}
