//! UserSig (TLSSigAPIv2): minting and verifying the signed login ticket.
//!
//! A UserSig is a JSON document (`TLS.ver`, `TLS.identifier`, `TLS.sdkappid`, `TLS.time`,
//! `TLS.expire`, optional `TLS.userbuf`, `TLS.sig`), zlib-compressed and base64-encoded with the
//! alphabet changes `+`→`*`, `/`→`-`, `=`→`_`. `TLS.sig` is the standard base64 of an HMAC-SHA256
//! keyed with the secret key's UTF-8 bytes over `TLS.<field>:<value>\n` lines.
//!
//! The encoding is not canonical (the official libraries differ in key order, spacing and
//! compression level), so [`verify`] decodes, inflates, parses and recomputes the HMAC; it never
//! compares strings. This module is pure: the clock is a parameter.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use flate2::read::ZlibDecoder;
use flate2::{Compress, Compression, FlushCompress, Status};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::cell::RefCell;
use std::io::Read;

use crate::protocol::code;

/// What a written file shows of a secret sig (a UserSig, an admin sig): never the sig, which
/// logs in for its whole life, but a short hash of it, so two sigs can still be told apart.
pub fn redact(sig: &str) -> String {
    use sha2::Digest;
    let d = Sha256::digest(sig.as_bytes());
    let hex: String = d[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("<sig sha256:{hex}>")
}

type HmacSha256 = Hmac<Sha256>;

/// A compressed UserSig document above this size is refused before inflating.
const MAX_SIG_LEN: usize = 8 * 1024;
/// The inflated JSON document may not exceed this many bytes (guards against zip bombs).
const MAX_INFLATED_LEN: u64 = 16 * 1024;

/// The decoded, verified content of a UserSig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigFields {
    pub ver: String,
    pub identifier: String,
    pub sdkappid: u64,
    /// Unix seconds of issue.
    pub time: u64,
    /// Lifetime in seconds.
    pub expire: u64,
    /// Raw bytes of the optional user buffer (decoded from its base64 form).
    pub userbuf: Option<Vec<u8>>,
}

impl SigFields {
    /// Unix second after which the sig is expired (`now > time + expire`).
    pub fn expires_at(&self) -> u64 {
        self.time.saturating_add(self.expire)
    }
}

/// Why a UserSig was refused. Each maps to its protocol error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("UserSig cannot be decoded: {0}")]
    Decode(String),
    #[error("UserSig signature does not verify (wrong key or tampered content)")]
    BadSignature,
    #[error("userID {requested:?} does not match the UserSig identifier {in_sig:?}")]
    UserMismatch { requested: String, in_sig: String },
    #[error("SDKAppID {requested} does not match the UserSig sdkappid {in_sig}")]
    AppMismatch { requested: u64, in_sig: u64 },
    #[error("UserSig expired at unix second {expired_at} (now {now})")]
    Expired { expired_at: u64, now: u64 },
}

impl SigError {
    /// The protocol error code for this failure.
    pub fn code(&self) -> u32 {
        match self {
            SigError::Decode(_) => code::SIG_DECODE,
            SigError::BadSignature => code::SIG_BAD_SIGNATURE,
            SigError::UserMismatch { .. } => code::SIG_USER_MISMATCH,
            SigError::AppMismatch { .. } => code::SIG_APP_MISMATCH,
            SigError::Expired { .. } => code::SIG_EXPIRED,
        }
    }
}

/// Mint a UserSig the way the official libraries do (npm key order, compact JSON).
pub fn generate(
    sdkappid: u64,
    key: &str,
    identifier: &str,
    time: u64,
    expire: u64,
    userbuf: Option<&[u8]>,
) -> String {
    let userbuf_b64 = userbuf.map(|b| STANDARD.encode(b));
    let sig = hmac_b64(
        key,
        identifier,
        sdkappid,
        time,
        expire,
        userbuf_b64.as_deref(),
    );
    let doc = GenDoc {
        ver: "2.0",
        identifier,
        sdkappid,
        time,
        expire,
        userbuf: userbuf_b64.as_deref(),
        sig: &sig,
    };
    let json = serde_json::to_vec(&doc).expect("JSON of plain values");
    to_sig_alphabet(STANDARD.encode(zlib(&json)))
}

thread_local! {
    /// This thread's deflate state, reset for each UserSig. A fresh one per sig allocated and
    /// freed ~300 KiB each time: glibc gave it back to the kernel and took it again (brk),
    /// ~140 µs a sig, mostly page faults — on a worker minting a sig for every login.
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::default(), true));
}

/// `data` as one zlib stream, at zlib's default level (as the official libraries compress).
fn zlib(data: &[u8]) -> Vec<u8> {
    DEFLATE.with(|c| {
        let mut c = c.borrow_mut();
        c.reset();
        // Deflate's worst case is a few bytes a 16 KiB block over the input, plus the header.
        let mut out = Vec::with_capacity(data.len() + data.len() / 1000 + 64);
        loop {
            let fed = (c.total_in() as usize).min(data.len());
            match c.compress_vec(&data[fed..], &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => return out,
                Ok(_) => out.reserve(out.capacity().max(64)),
                Err(e) => unreachable!("deflating into a growing Vec cannot fail: {e}"),
            }
        }
    })
}

/// A decoded UserSig whose signature has not been checked yet.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub fields: SigFields,
    /// `TLS.sig` as found in the document (standard base64).
    pub claimed_sig: String,
    /// `TLS.userbuf` exactly as signed (its base64 text), when present.
    signed_userbuf: Option<String>,
}

impl Decoded {
    /// Whether `TLS.sig` is the HMAC of the fields under `key` (constant-time comparison).
    pub fn signature_valid(&self, key: &str) -> bool {
        let Ok(claimed) = STANDARD.decode(self.claimed_sig.as_bytes()) else {
            return false;
        };
        mac_over(key, &self.fields, self.signed_userbuf.as_deref())
            .verify_slice(&claimed)
            .is_ok()
    }
}

/// Decode a UserSig without checking its signature (for display and diagnostics).
pub fn decode(sig: &str) -> Result<Decoded, SigError> {
    if sig.is_empty() {
        return Err(SigError::Decode("empty UserSig".into()));
    }
    if sig.len() > MAX_SIG_LEN {
        return Err(SigError::Decode(format!(
            "UserSig is {} bytes, over the {MAX_SIG_LEN}-byte limit",
            sig.len()
        )));
    }
    let std_b64: Vec<u8> = sig
        .bytes()
        .map(|c| match c {
            b'*' => b'+',
            b'-' => b'/',
            b'_' => b'=',
            c => c,
        })
        .collect();
    let deflated = STANDARD
        .decode(&std_b64)
        .map_err(|e| SigError::Decode(format!("bad base64: {e}")))?;
    let mut json = Vec::new();
    ZlibDecoder::new(deflated.as_slice())
        .take(MAX_INFLATED_LEN + 1)
        .read_to_end(&mut json)
        .map_err(|e| SigError::Decode(format!("bad zlib stream: {e}")))?;
    if json.len() as u64 > MAX_INFLATED_LEN {
        return Err(SigError::Decode("inflated document too large".into()));
    }
    let doc: RawDoc = serde_json::from_slice(&json)
        .map_err(|e| SigError::Decode(format!("bad JSON document: {e}")))?;
    let userbuf = match &doc.userbuf {
        Some(b) => Some(
            STANDARD
                .decode(b.as_bytes())
                .map_err(|e| SigError::Decode(format!("bad TLS.userbuf base64: {e}")))?,
        ),
        None => None,
    };
    Ok(Decoded {
        fields: SigFields {
            ver: doc.ver,
            identifier: doc.identifier,
            sdkappid: doc.sdkappid,
            time: doc.time,
            expire: doc.expire,
            userbuf,
        },
        claimed_sig: doc.sig,
        signed_userbuf: doc.userbuf,
    })
}

/// Verify a UserSig for a login of `user` to app `sdkappid` at unix second `now`.
///
/// Checks, in order: decodes (70003), signature (70009), identifier (70013), sdkappid (70014),
/// expiry (70001).
pub fn verify(
    sig: &str,
    sdkappid: u64,
    key: &str,
    user: &str,
    now: u64,
) -> Result<SigFields, SigError> {
    let decoded = decode(sig)?;
    if !decoded.signature_valid(key) {
        return Err(SigError::BadSignature);
    }
    let fields = decoded.fields;
    if fields.identifier != user {
        return Err(SigError::UserMismatch {
            requested: user.to_string(),
            in_sig: fields.identifier,
        });
    }
    if fields.sdkappid != sdkappid {
        return Err(SigError::AppMismatch {
            requested: sdkappid,
            in_sig: fields.sdkappid,
        });
    }
    if now > fields.expires_at() {
        return Err(SigError::Expired {
            expired_at: fields.expires_at(),
            now,
        });
    }
    Ok(fields)
}

/// The document as the npm library lays it out (this key order, compact).
#[derive(Serialize)]
struct GenDoc<'a> {
    #[serde(rename = "TLS.ver")]
    ver: &'a str,
    #[serde(rename = "TLS.identifier")]
    identifier: &'a str,
    #[serde(rename = "TLS.sdkappid")]
    sdkappid: u64,
    #[serde(rename = "TLS.time")]
    time: u64,
    #[serde(rename = "TLS.expire")]
    expire: u64,
    #[serde(rename = "TLS.userbuf", skip_serializing_if = "Option::is_none")]
    userbuf: Option<&'a str>,
    #[serde(rename = "TLS.sig")]
    sig: &'a str,
}

#[derive(Deserialize)]
struct RawDoc {
    #[serde(rename = "TLS.ver", default = "default_ver")]
    ver: String,
    #[serde(rename = "TLS.identifier")]
    identifier: String,
    #[serde(rename = "TLS.sdkappid")]
    sdkappid: u64,
    #[serde(rename = "TLS.time")]
    time: u64,
    #[serde(rename = "TLS.expire")]
    expire: u64,
    #[serde(rename = "TLS.userbuf")]
    userbuf: Option<String>,
    #[serde(rename = "TLS.sig")]
    sig: String,
}

fn default_ver() -> String {
    "2.0".into()
}

fn mac_over(key: &str, f: &SigFields, userbuf_b64: Option<&str>) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    let head = format!(
        "TLS.identifier:{}\nTLS.sdkappid:{}\nTLS.time:{}\nTLS.expire:{}\n",
        f.identifier, f.sdkappid, f.time, f.expire
    );
    mac.update(head.as_bytes());
    if let Some(ub) = userbuf_b64 {
        mac.update(format!("TLS.userbuf:{ub}\n").as_bytes());
    }
    mac
}

fn hmac_b64(
    key: &str,
    identifier: &str,
    sdkappid: u64,
    time: u64,
    expire: u64,
    userbuf_b64: Option<&str>,
) -> String {
    let f = SigFields {
        ver: "2.0".into(),
        identifier: identifier.into(),
        sdkappid,
        time,
        expire,
        userbuf: None,
    };
    STANDARD.encode(mac_over(key, &f, userbuf_b64).finalize().into_bytes())
}

fn to_sig_alphabet(s: String) -> String {
    s.chars()
        .map(|c| match c {
            '+' => '*',
            '/' => '-',
            '=' => '_',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The reused deflate state writes the bytes a fresh zlib encoder writes, sig after sig.
    #[test]
    fn a_reused_deflate_state_writes_what_a_fresh_encoder_writes() {
        let inputs: Vec<Vec<u8>> = vec![
            Vec::new(),
            br#"{"TLS.ver":"2.0","TLS.identifier":"alice"}"#.to_vec(),
            (0..5_000u32).flat_map(|i| i.to_le_bytes()).collect(),
            br#"{"TLS.ver":"2.0","TLS.identifier":"bob"}"#.repeat(40),
        ];
        for data in inputs.iter().chain(inputs.iter()) {
            let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
            enc.write_all(data).unwrap();
            assert_eq!(zlib(data), enc.finish().unwrap(), "{} bytes", data.len());
        }
    }
}
