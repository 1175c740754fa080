//! Where the generator connects: the target's WebSocket URL (`ws://` or `wss://`, a path and
//! query that may hold per-instance placeholders) and the admin API's URL (`http://` or
//! `https://`), resolved once, and the connection to it (plain or TLS; the TLS client is
//! `tls.rs`).

use std::net::{SocketAddr, ToSocketAddrs};

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

pub use super::tls::tls_client;
use crate::profile::template::{Escape, Template};

/// A URL the generator cannot use, naming what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(
        "target {0:?} must start with ws:// or wss:// (or, for MQTT over TCP, mqtt:// or mqtts://)"
    )]
    Scheme(String),
    #[error("target {0:?}: mqtt:// and mqtts:// carry MQTT only (target.protocol = \"mqtt\"); other protocols go over ws:// or wss://")]
    RawNotMqtt(String),
    #[error("admin URL {0:?} must start with http:// or https://")]
    AdminScheme(String),
    #[error("{url:?}: placeholders belong in the path or query, not the host")]
    TemplatedHost { url: String },
    #[error("{url:?}: {problem}")]
    Template { url: String, problem: String },
    #[error("cannot resolve {url:?}: {source}")]
    Resolve {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0:?} resolves to no address")]
    NoAddress(String),
    #[error("{0}")]
    Tls(String),
    #[error("cannot write the frame trace {path}: {source}")]
    Trace {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// One resolved URL.
#[derive(Debug)]
pub struct Endpoint {
    pub url: String,
    pub addr: SocketAddr,
    /// Every address the host resolved to, in the resolver's order (`addr` is the first; the
    /// engine's preflight moves `addr` to the first that answers: `localhost` may resolve to
    /// `::1` first while the server listens on 127.0.0.1 only).
    pub addrs: Vec<SocketAddr>,
    /// `host[:port]` as written, for the `Host` header.
    pub authority: String,
    /// The host name TLS verifies (None: plain).
    pub tls_name: Option<ServerName<'static>>,
    /// A bare byte stream, no WebSocket (`mqtt://`, `mqtts://`).
    pub raw: bool,
    /// Path and query (a template for the WebSocket URL: {userID}, {sdkAppID}, {platform},
    /// {instance}).
    pub path: Template,
}

fn split(url: &str) -> (&str, &str) {
    match url.find(['/', '?']) {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, "/"),
    }
}

impl Endpoint {
    /// `ws://` or `wss://` (the target); `http://` or `https://` (the admin API) with `admin`.
    pub fn parse(url: &str, admin: bool) -> Result<Endpoint, TargetError> {
        let raw = !admin && matches!(url.split_once("://"), Some(("mqtt" | "mqtts", _)));
        let (tls, rest, default_port) = match url.split_once("://") {
            Some(("ws", r)) if !admin => (false, r, 80),
            Some(("wss", r)) if !admin => (true, r, 443),
            Some(("mqtt", r)) if !admin => (false, r, 1883),
            Some(("mqtts", r)) if !admin => (true, r, 8883),
            Some(("http", r)) if admin => (false, r, 80),
            Some(("https", r)) if admin => (true, r, 443),
            _ if admin => return Err(TargetError::AdminScheme(url.into())),
            _ => return Err(TargetError::Scheme(url.into())),
        };
        let (authority, path) = split(rest);
        if authority.contains(['{', '}']) {
            return Err(TargetError::TemplatedHost { url: url.into() });
        }
        if authority.contains('@') {
            return Err(TargetError::Template {
                url: url.into(),
                problem: "user:password@ in a URL is not supported; give credentials through the profile's [connection] headers".into(),
            });
        }
        // A port that is digits but no port (99999) is named, not sent to the resolver.
        if let Some((_, p)) = authority
            .rsplit_once(':')
            .filter(|(h, _)| !h.ends_with(':'))
        {
            if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_err() {
                return Err(TargetError::Template {
                    url: url.into(),
                    problem: format!("port {p} is not a port (1-65535)"),
                });
            }
        }
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        let vars: &[&str] = if admin {
            &[]
        } else {
            &["userID", "sdkAppID", "platform", "instance"]
        };
        let path = Template::compile(&path, Escape::Url, vars).map_err(|problem| {
            TargetError::Template {
                url: url.into(),
                problem: problem.to_string(),
            }
        })?;
        // `[::1]:9090`, `host:9090`, `host`.
        let (host, with_port) = match authority.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() && !h.is_empty() => (h, authority.to_string()),
            _ => (authority, format!("{authority}:{default_port}")),
        };
        let addrs: Vec<SocketAddr> = with_port
            .to_socket_addrs()
            .map_err(|source| TargetError::Resolve {
                url: url.into(),
                source,
            })?
            .collect();
        let addr = *addrs
            .first()
            .ok_or_else(|| TargetError::NoAddress(url.into()))?;
        let tls_name = if tls {
            let h = host.trim_start_matches('[').trim_end_matches(']');
            Some(
                ServerName::try_from(h.to_string())
                    .map_err(|e| TargetError::Tls(format!("{url:?}: host {h:?}: {e}")))?,
            )
        } else {
            None
        };
        Ok(Endpoint {
            url: url.into(),
            addr,
            addrs,
            authority: authority.to_string(),
            tls_name,
            raw,
            path,
        })
    }

    /// The admin API's URL for a target: its host and port over http (ws) or https (wss).
    pub fn admin_url_for(target: &str) -> String {
        let (scheme, rest) = match target.split_once("://") {
            Some(("wss", r)) => ("https", r),
            Some((_, r)) => ("http", r),
            None => ("http", target),
        };
        let (authority, _) = split(rest);
        format!("{scheme}://{authority}")
    }
}

/// A connection to the target: plain TCP or TLS over it.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Through a bad network (`[network]`, engine/shaped.rs).
    Shaped(Box<super::shaped::Shaped>),
}

impl Stream {
    /// Open TLS over `tcp` when the endpoint asks for it.
    pub async fn over(
        tcp: TcpStream,
        name: Option<&ServerName<'static>>,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> std::io::Result<Stream> {
        match (name, tls) {
            (Some(name), Some(cfg)) => {
                // Before the handshake: its records are writes the connection's count does not
                // see, so Nagle could hold the first request behind them (engine/nagle.rs).
                let _ = tcp.set_nodelay(true);
                let s = tokio_rustls::TlsConnector::from(cfg.clone())
                    .connect(name.clone(), tcp)
                    .await?;
                Ok(Stream::Tls(Box::new(s)))
            }
            _ => Ok(Stream::Plain(tcp)),
        }
    }
}

impl Stream {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(s) => Some(s),
            Stream::Tls(s) => Some(s.get_ref().0),
            Stream::Shaped(s) => s.inner().tcp(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Shaped(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Shaped(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Shaped(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Shaped(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_out_of_range_and_credentials_in_the_url_are_named() {
        let e = Endpoint::parse("ws://127.0.0.1:99999/ws", false).unwrap_err();
        assert!(e.to_string().contains("port 99999 is not a port"), "{e}");
        let e = Endpoint::parse("ws://u:pw@127.0.0.1:9090/ws", false).unwrap_err();
        assert!(e.to_string().contains("user:password@"), "{e}");
        assert_eq!(
            Endpoint::parse("ws://[::1]:9090/ws", false)
                .unwrap()
                .addr
                .port(),
            9090
        );
    }

    #[test]
    fn urls_resolve_with_their_defaults_and_templates() {
        let e = Endpoint::parse("ws://127.0.0.1:9090/ws?u={userID}", false).unwrap();
        assert_eq!(e.addr.port(), 9090);
        assert!(e.tls_name.is_none());
        assert!(e.path.uses("userID"));
        let e = Endpoint::parse("wss://localhost/ws", false).unwrap();
        assert_eq!(e.addr.port(), 443);
        assert!(e.tls_name.is_some());
        // MQTT over TCP and TLS: bare streams, MQTT's ports by default.
        let e = Endpoint::parse("mqtt://127.0.0.1", false).unwrap();
        assert_eq!(
            (e.addr.port(), e.raw, e.tls_name.is_some()),
            (1883, true, false)
        );
        let e = Endpoint::parse("mqtts://localhost", false).unwrap();
        assert_eq!(
            (e.addr.port(), e.raw, e.tls_name.is_some()),
            (8883, true, true)
        );
        assert!(!Endpoint::parse("ws://127.0.0.1/ws", false).unwrap().raw);
        assert!(matches!(
            Endpoint::parse("mqtt://127.0.0.1", true),
            Err(TargetError::AdminScheme(_))
        ));
        let e = Endpoint::parse("https://127.0.0.1:8443/im", true).unwrap();
        assert_eq!((e.addr.port(), e.tls_name.is_some()), (8443, true));
        assert!(matches!(
            Endpoint::parse("http://x/ws", false),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(
            Endpoint::parse("ws://x/ws", true),
            Err(TargetError::AdminScheme(_))
        ));
        assert!(matches!(
            Endpoint::parse("ws://{userID}:9/ws", false),
            Err(TargetError::TemplatedHost { .. })
        ));
        let e = Endpoint::parse("ws://127.0.0.1:1/ws?u={user}", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("{user}"), "{e}");
        assert_eq!(
            Endpoint::admin_url_for("wss://h:8443/ws?x=1"),
            "https://h:8443"
        );
        assert_eq!(Endpoint::admin_url_for("ws://h/ws"), "http://h");
    }
}
