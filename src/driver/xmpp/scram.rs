//! SASL SCRAM-SHA-1 (RFC 5802) for the XMPP login, without channel binding (`n,,`): the client's
//! first message, its proof from the server's challenge, and the check of the server's own
//! signature in `<success/>`. The salted password (PBKDF2, `i` rounds) is what costs; a driver
//! keeps the last one (RFC 5802 §5.1 lets a client cache it), so an instance pays it once per
//! salt, not once per login. A challenge asking for more than [`MAX_ITERATIONS`] rounds is
//! refused: a hostile server cannot make the generator spin.

use base64::Engine;
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;

/// Most PBKDF2 rounds a server may ask for (servers use 4,096; RFC 7677 suggests at least that).
pub const MAX_ITERATIONS: u32 = 100_000;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a server's SCRAM message cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("a SCRAM message that is not base64 or not UTF-8")]
    Encoding,
    #[error("a SCRAM challenge without r=, s= and i=")]
    Malformed,
    #[error("the server's nonce does not extend the client's")]
    Nonce,
    #[error("a SCRAM challenge asking for {0} rounds (at most {MAX_ITERATIONS})")]
    Iterations(u64),
    #[error("the server's signature does not verify: it does not know the password")]
    ServerSignature,
}

/// One SCRAM exchange in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    nonce: String,
    first_bare: String,
    /// The server signature `<success/>` must carry, once the proof is sent.
    expect: Option<Vec<u8>>,
}

/// The salted password of one (password, salt, rounds): cached by the driver.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Salted {
    key: Option<(String, Vec<u8>, u32)>,
    salted: [u8; 20],
}

impl Salted {
    fn get(&mut self, password: &str, salt: &[u8], rounds: u32) -> [u8; 20] {
        let fresh = self
            .key
            .as_ref()
            .is_none_or(|(p, s, i)| p != password || s != salt || *i != rounds);
        if fresh {
            let n = NonZeroU32::new(rounds).expect("rounds checked above 0");
            pbkdf2::derive(
                pbkdf2::PBKDF2_HMAC_SHA1,
                n,
                salt,
                password.as_bytes(),
                &mut self.salted,
            );
            self.key = Some((password.to_string(), salt.to_vec(), rounds));
        }
        self.salted
    }
}

/// `=` and `,` escaped in a SCRAM user name (RFC 5802 §5.1).
fn sasl_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    let k = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    hmac::sign(&k, data).as_ref().to_vec()
}

impl Exchange {
    /// Start: the exchange and the base64 of the client's first message.
    pub fn start(user: &str, nonce: String) -> (Exchange, String) {
        let first_bare = format!("n={},r={nonce}", sasl_name(user));
        let first = B64.encode(format!("n,,{first_bare}"));
        (
            Exchange {
                nonce,
                first_bare,
                expect: None,
            },
            first,
        )
    }

    /// Answer the server's challenge (base64): the base64 of the client's final message.
    pub fn answer(
        &mut self,
        password: &str,
        challenge_b64: &str,
        cache: &mut Salted,
    ) -> Result<String, ScramError> {
        let server_first = B64
            .decode(challenge_b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(ScramError::Encoding)?;
        let (mut r, mut s, mut i) = (None, None, None);
        for part in server_first.split(',') {
            match part.split_once('=') {
                Some(("r", v)) => r = Some(v),
                Some(("s", v)) => s = Some(v),
                Some(("i", v)) => i = Some(v),
                _ => {}
            }
        }
        let (Some(r), Some(s), Some(i)) = (r, s, i) else {
            return Err(ScramError::Malformed);
        };
        if !r.starts_with(&self.nonce) || r.len() == self.nonce.len() {
            return Err(ScramError::Nonce);
        }
        let rounds: u64 = i.parse().map_err(|_| ScramError::Malformed)?;
        if rounds == 0 || rounds > u64::from(MAX_ITERATIONS) {
            return Err(ScramError::Iterations(rounds));
        }
        let salt = B64.decode(s).map_err(|_| ScramError::Encoding)?;
        let salted = cache.get(password, &salt, rounds as u32);
        let without_proof = format!("c=biws,r={r}");
        let auth = format!("{},{server_first},{without_proof}", self.first_bare);
        let client_key = hmac_sha1(&salted, b"Client Key");
        let stored = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &client_key);
        let signature = hmac_sha1(stored.as_ref(), auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac_sha1(&salted, b"Server Key");
        self.expect = Some(hmac_sha1(&server_key, auth.as_bytes()));
        Ok(B64.encode(format!("{without_proof},p={}", B64.encode(proof))))
    }

    /// The server's `<success/>` (its base64 text: `v=SIGNATURE`): does it prove the server?
    pub fn verify(&self, success_b64: &str) -> Result<(), ScramError> {
        let text = B64
            .decode(success_b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(ScramError::Encoding)?;
        let v = text
            .split(',')
            .find_map(|p| p.strip_prefix("v="))
            .ok_or(ScramError::ServerSignature)?;
        let got = B64.decode(v).map_err(|_| ScramError::Encoding)?;
        match &self.expect {
            Some(e) if *e == got => Ok(()),
            _ => Err(ScramError::ServerSignature),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5802 §5's example exchange, byte for byte.
    #[test]
    fn the_rfc_5802_example() {
        let (mut x, first) = Exchange::start("user", "fyko+d2lbbFgONRv9qkxdawL".into());
        assert_eq!(
            B64.decode(first).unwrap(),
            b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        let challenge =
            B64.encode("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
        let mut cache = Salted::default();
        let last = x.answer("pencil", &challenge, &mut cache).unwrap();
        assert_eq!(
            String::from_utf8(B64.decode(last).unwrap()).unwrap(),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        assert_eq!(
            x.verify(&B64.encode("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")),
            Ok(())
        );
        // A server that does not know the password cannot sign.
        assert_eq!(
            x.verify(&B64.encode("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
            Err(ScramError::ServerSignature)
        );
    }

    #[test]
    fn hostile_or_broken_challenges_are_refused() {
        let mut cache = Salted::default();
        let mut ask = |server_first: &str| {
            let (mut x, _) = Exchange::start("u,=x", "abc".into());
            x.answer("pw", &B64.encode(server_first), &mut cache)
        };
        assert_eq!(
            ask("r=abcdef,s=QSXC,i=1000000"),
            Err(ScramError::Iterations(1_000_000))
        );
        assert_eq!(ask("r=abcdef,s=QSXC,i=0"), Err(ScramError::Iterations(0)));
        assert_eq!(ask("r=zzzdef,s=QSXC,i=4096"), Err(ScramError::Nonce));
        assert_eq!(ask("r=abc,s=QSXC,i=4096"), Err(ScramError::Nonce));
        assert_eq!(ask("r=abcdef,i=4096"), Err(ScramError::Malformed));
        let (mut x, first) = Exchange::start("u,=x", "abc".into());
        assert_eq!(B64.decode(first).unwrap(), b"n,,n=u=2C=3Dx,r=abc");
        assert_eq!(
            x.answer("pw", "not base64!", &mut cache),
            Err(ScramError::Encoding)
        );
    }
}
