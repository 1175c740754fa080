//! TLS for the reference server (`serve --tls-cert/--tls-key`): `wss://` and `https://` on the
//! same port, through rustls.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;

/// Why the server's TLS could not be set up; each names the flag and file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{flag} {path}: {source}")]
    Read {
        flag: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{flag} {path}: {source}")]
    Pem {
        flag: &'static str,
        path: String,
        source: rustls_pki_types::pem::Error,
    },
    #[error("--tls-cert {0}: no PEM certificate in it")]
    NoCertificate(String),
    #[error("--tls-cert/--tls-key: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A server TLS configuration from PEM files: the certificate chain (leaf first) and its key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let pem = |flag: &'static str, p: &Path| {
        crate::input::read_io(p, crate::input::Links::Follow, crate::input::MAX_PEM).map_err(
            |source| TlsError::Read {
                flag,
                path: p.display().to_string(),
                source,
            },
        )
    };
    let bad_pem = |flag: &'static str, p: &Path| {
        let path = p.display().to_string();
        move |source| TlsError::Pem { flag, path, source }
    };
    let cert_pem = pem("--tls-cert", cert)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(bad_pem("--tls-cert", cert))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert.display().to_string()));
    }
    let key = PrivateKeyDer::from_pem_slice(&pem("--tls-key", key)?)
        .map_err(bad_pem("--tls-key", key))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
