//! UserSig: the official vectors verify, every kind of bad sig fails with its own code.

use loginstorm::usersig::{decode, generate, verify, SigError};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    sdkappid: u64,
    key: String,
    identifier: String,
    time: u64,
    expire: u64,
    userbuf: Option<String>,
    library: String,
    usersig: String,
}

fn vectors() -> Vec<Vector> {
    serde_json::from_str(include_str!("../data/usersig-vectors.json")).unwrap()
}

#[test]
fn every_official_vector_verifies_and_decodes_to_its_fields() {
    let vs = vectors();
    assert_eq!(vs.len(), 6);
    for v in vs {
        let f = verify(&v.usersig, v.sdkappid, &v.key, &v.identifier, v.time + 1)
            .unwrap_or_else(|e| panic!("{} {}: {e}", v.library, v.identifier));
        assert_eq!(f.identifier, v.identifier);
        assert_eq!(f.sdkappid, v.sdkappid);
        assert_eq!(f.time, v.time);
        assert_eq!(f.expire, v.expire);
        assert_eq!(
            f.userbuf.as_deref(),
            v.userbuf.as_deref().map(str::as_bytes)
        );
    }
}

#[test]
fn generated_documents_match_npm_vectors_byte_for_byte() {
    // Our generator lays out the JSON document exactly as the npm library does; Node's zlib
    // compresses it into a different (equally valid) deflate stream, so the comparison is of the
    // inflated documents, byte for byte.
    for v in vectors().iter().filter(|v| v.library.contains("npm")) {
        let g = generate(
            v.sdkappid,
            &v.key,
            &v.identifier,
            v.time,
            v.expire,
            v.userbuf.as_deref().map(str::as_bytes),
        );
        assert_eq!(inflate(&g), inflate(&v.usersig), "{}", v.identifier);
    }
}

fn inflate(sig: &str) -> String {
    use base64::Engine;
    use std::io::Read;
    let std: String = sig
        .chars()
        .map(|c| match c {
            '*' => '+',
            '-' => '/',
            '_' => '=',
            c => c,
        })
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(std)
        .unwrap();
    let mut json = String::new();
    flate2::read::ZlibDecoder::new(&raw[..])
        .read_to_string(&mut json)
        .unwrap();
    json
}

#[test]
fn generated_sigs_decode_to_the_same_fields_as_pypi_vectors() {
    for v in vectors().iter().filter(|v| v.library.contains("PyPI")) {
        let g = generate(
            v.sdkappid,
            &v.key,
            &v.identifier,
            v.time,
            v.expire,
            v.userbuf.as_deref().map(str::as_bytes),
        );
        let (a, b) = (decode(&g).unwrap(), decode(&v.usersig).unwrap());
        assert_eq!(a.fields, b.fields);
        assert_eq!(a.claimed_sig, b.claimed_sig);
    }
}

const KEY: &str = "test-key";
const APP: u64 = 1_400_000_001;

fn code_of(r: Result<loginstorm::usersig::SigFields, SigError>) -> u32 {
    r.expect_err("must fail").code()
}

#[test]
fn each_bad_sig_fails_with_its_own_code() {
    let now = 1_800_000_000;
    let good = generate(APP, KEY, "alice", now, 3600, None);
    assert!(verify(&good, APP, KEY, "alice", now).is_ok());
    // wrong key
    assert_eq!(
        code_of(verify(&good, APP, "other-key", "alice", now)),
        70009
    );
    // wrong user
    assert_eq!(code_of(verify(&good, APP, KEY, "bob", now)), 70013);
    // wrong app
    let other_app = generate(APP + 1, KEY, "alice", now, 3600, None);
    assert_eq!(code_of(verify(&other_app, APP, KEY, "alice", now)), 70014);
    // expired: now > time + expire
    assert!(verify(&good, APP, KEY, "alice", now + 3600).is_ok());
    assert_eq!(code_of(verify(&good, APP, KEY, "alice", now + 3601)), 70001);
    // truncated
    assert_eq!(
        code_of(verify(&good[..good.len() / 2], APP, KEY, "alice", now)),
        70003
    );
    assert_eq!(code_of(verify("", APP, KEY, "alice", now)), 70003);
    assert_eq!(
        code_of(verify("!!!not base64", APP, KEY, "alice", now)),
        70003
    );
    // tampered: re-encode the document with a longer lifetime but the old signature
    let forged = reencode(&good, |doc| doc["TLS.expire"] = 999_999.into());
    assert_eq!(code_of(verify(&forged, APP, KEY, "alice", now)), 70009);
    // tampered signature field
    let forged = reencode(&good, |doc| doc["TLS.sig"] = "AAAA".into());
    assert_eq!(code_of(verify(&forged, APP, KEY, "alice", now)), 70009);
}

#[test]
fn userbuf_is_signed() {
    let now = 1_800_000_000;
    let s = generate(APP, KEY, "alice", now, 60, Some(b"payload"));
    assert_eq!(
        verify(&s, APP, KEY, "alice", now)
            .unwrap()
            .userbuf
            .as_deref(),
        Some(&b"payload"[..])
    );
    let forged = reencode(&s, |doc| doc["TLS.userbuf"] = "b3RoZXI=".into());
    assert_eq!(code_of(verify(&forged, APP, KEY, "alice", now)), 70009);
}

/// Decode, edit the JSON document, re-compress and re-encode (keeping the claimed TLS.sig).
fn reencode(sig: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    use base64::Engine;
    use std::io::Write;
    let mut doc: serde_json::Value = serde_json::from_str(&inflate(sig)).unwrap();
    edit(&mut doc);
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(doc.to_string().as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(enc.finish().unwrap());
    b64.chars()
        .map(|c| match c {
            '+' => '*',
            '/' => '-',
            '=' => '_',
            c => c,
        })
        .collect()
}
