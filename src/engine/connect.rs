//! Opening one WebSocket: TCP from a chosen loopback source address, TLS for `wss://`, then
//! the HTTP upgrade with the profile's subprotocols and headers and the instance's URL.

use std::net::{IpAddr, SocketAddr};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use super::endpoint::Stream;
use super::plan::Plan;
use super::stamped::Stamped;
use crate::profile::template::Values;

/// The connection an instance talks over.
pub type Ws = WebSocketStream<Stamped>;

/// Small buffers: an idle simulated instance should cost little memory.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("TCP connect to {addr} failed: {source}")]
    Tcp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS handshake with {addr} failed: {source}{hint}")]
    Tls {
        addr: SocketAddr,
        source: std::io::Error,
        hint: &'static str,
    },
    #[error("WebSocket upgrade failed: {0}")]
    Io(std::io::Error),
    #[error("WebSocket upgrade refused: HTTP {0}")]
    Status(u16),
    #[error("WebSocket upgrade failed: the connection closed during the handshake")]
    Closed,
    #[error("WebSocket upgrade failed: {0}")]
    Protocol(String),
}

impl ConnectError {
    /// A short reason for counters: `tcp_<io error kind>` or `upgrade_<what>`.
    pub fn reason(&self) -> String {
        match self {
            ConnectError::Tcp { source, .. } if source.raw_os_error() == Some(libc::EMFILE) => {
                "tcp_too_many_open_files".into()
            }
            ConnectError::Tcp { source, .. } => format!("tcp_{:?}", source.kind()),
            ConnectError::Tls { source, .. } => match tls_cause(source) {
                Some(c) => format!("tls_{c}"),
                None => format!("tls_{:?}", source.kind()),
            },
            ConnectError::Status(code) => format!("upgrade_http_{code}"),
            ConnectError::Io(e) => format!("upgrade_io_{:?}", e.kind()),
            ConnectError::Closed => "upgrade_closed".into(),
            ConnectError::Protocol(_) => "upgrade_protocol".into(),
        }
    }
}

/// What kind of TLS failure an I/O error carries (certificate, alert, …), as a counter suffix.
fn tls_cause(e: &std::io::Error) -> Option<&'static str> {
    use tokio_rustls::rustls::Error as E;
    let inner = e.get_ref()?.downcast_ref::<E>()?;
    Some(match inner {
        E::InvalidCertificate(_) => "invalid_certificate",
        E::AlertReceived(_) => "alert_received",
        E::NoCertificatesPresented => "no_certificate",
        E::PeerIncompatible(_) => "incompatible",
        E::InvalidMessage(_) => "invalid_message",
        _ => "error",
    })
}

/// Open one instance's WebSocket to the plan's target, from `local` if given; `who` fills
/// the URL's and the headers' placeholders.
/// `traced`: this is the `--trace-frames` instance, whose upgrade (request and response heads)
/// goes to frames.log before its frames — what a new profile's `[connection]` gets wrong.
/// `network`: the seed of the `[network]` this connection goes through, if it does.
pub async fn connect(
    plan: &Plan,
    local: Option<IpAddr>,
    who: &Values<'_>,
    traced: bool,
    network: Option<u64>,
) -> Result<super::conn::Conn, ConnectError> {
    let addr = plan.target.addr;
    let tcp = |source| ConnectError::Tcp { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(tcp)?;
    if let Some(ip) = local {
        bind_address_no_port(&socket);
        socket.bind(SocketAddr::new(ip, 0)).map_err(tcp)?;
    }
    // Nagle: plain TCP turns it off when a write could be held (engine/nagle.rs); TLS and a
    // shaped network, whose bytes the write count does not see, as they are made.
    let stream = socket.connect(addr).await.map_err(tcp)?;
    let stream = Stream::over(stream, plan.target.tls_name.as_ref(), plan.tls.as_ref())
        .await
        .map_err(|source| ConnectError::Tls {
            addr,
            hint: if tls_cause(&source) == Some("invalid_certificate") {
                " (a private CA: --ca-file FILE; a self-signed development server: --insecure)"
            } else {
                ""
            },
            source,
        })?;
    let stream = match network {
        Some(seed) => Stream::Shaped(Box::new(super::shaped::Shaped::new(
            stream,
            &plan.network,
            seed,
        ))),
        None => stream,
    };
    if plan.target.raw {
        // MQTT over TCP (or TLS): no upgrade, the bytes are the protocol's.
        return Ok(super::conn::Conn::Raw(super::conn::Raw::new(Stamped::new(
            stream,
        ))));
    }
    let path = plan.target.path.render(who);
    let mut extra = String::new();
    let subprotocols = plan.wire.subprotocols();
    if !subprotocols.is_empty() {
        extra.push_str("Sec-WebSocket-Protocol: ");
        extra.push_str(&subprotocols.join(", "));
        extra.push_str("\r\n");
    }
    for (name, value) in plan.wire.headers() {
        extra.push_str(name);
        extra.push_str(": ");
        extra.push_str(&value.render(who));
        extra.push_str("\r\n");
    }
    upgrade(
        stream,
        &plan.target.authority,
        &path,
        &extra,
        subprotocols,
        traced.then_some(plan),
    )
    .await
    .map(super::conn::Conn::Ws)
}

/// Longest upgrade response accepted.
const MAX_RESPONSE: usize = 8 * 1024;

/// The client side of the WebSocket upgrade (RFC 6455 §4.1), done here rather than by
/// tungstenite: its handshake hands its 4 KiB read buffer on to the connection as the frame
/// buffer, which then stays 4 KiB however small `read_buffer_size` is — half of what an idle
/// session costs. Here the connection starts with only the bytes that followed the response.
async fn upgrade(
    tcp: Stream,
    authority: &str,
    path: &str,
    extra_headers: &str,
    subprotocols: &[String],
    trace: Option<&Plan>,
) -> Result<Ws, ConnectError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::handshake::{client::generate_key, derive_accept_key};
    // Read through the stamp from the start: frames that came with the response were received
    // with it.
    let mut tcp = Stamped::new(tcp);
    let key = generate_key();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n{extra_headers}\r\n"
    );
    if let Some(plan) = trace {
        plan.trace_frame(
            true,
            &format!("HTTP upgrade request:\n{}", request.trim_end()),
        );
    }
    tcp.write_all(request.as_bytes())
        .await
        .map_err(ConnectError::Io)?;
    let mut response = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    let head_end = loop {
        let n = tcp.read(&mut chunk).await.map_err(ConnectError::Io)?;
        if n == 0 {
            return Err(ConnectError::Closed);
        }
        let from = response.len().saturating_sub(3);
        response.extend_from_slice(&chunk[..n]);
        if let Some(i) = response[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            break from + i + 4;
        }
        if response.len() > MAX_RESPONSE {
            return Err(ConnectError::Protocol(format!(
                "no end of the response headers within {MAX_RESPONSE} bytes"
            )));
        }
    };
    // The response answers the request: whatever was written is acknowledged.
    let written = tcp.writes();
    tcp.answered(written);
    if let Some(plan) = trace {
        let head = String::from_utf8_lossy(&response[..head_end]);
        plan.trace_frame(
            false,
            &format!("HTTP upgrade response:\n{}", head.trim_end()),
        );
    }
    check_response(
        &response[..head_end],
        &derive_accept_key(key.as_bytes()),
        subprotocols,
    )?;
    // Frames the server sent right after its response start the connection's buffer.
    let part = response[head_end..].to_vec();
    Ok(WebSocketStream::from_partially_read(tcp, part, Role::Client, Some(config())).await)
}

/// A `101 Switching Protocols` with `Upgrade: websocket`, `Connection: upgrade`, the
/// `Sec-WebSocket-Accept` the key asks for, and no subprotocol the client did not offer.
fn check_response(head: &[u8], accept: &str, offered: &[String]) -> Result<(), ConnectError> {
    let text = std::str::from_utf8(head)
        .map_err(|_| ConnectError::Protocol("response headers are not UTF-8".into()))?;
    // One pass over the lines (split on '\n', the '\r' trimmed with the value): this runs on
    // every fresh connection, and looking each header up anew scanned the head four times.
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status = lines.next().unwrap_or_default();
    let code = status
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| ConnectError::Protocol(format!("bad status line {status:?}")))?;
    if code != 101 {
        return Err(ConnectError::Status(code));
    }
    let (mut upgrade, mut connection, mut accepted, mut protocol) = (None, None, None, None);
    for l in lines {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        let slot = match k.trim() {
            k if k.eq_ignore_ascii_case("upgrade") => &mut upgrade,
            k if k.eq_ignore_ascii_case("connection") => &mut connection,
            k if k.eq_ignore_ascii_case("sec-websocket-accept") => &mut accepted,
            k if k.eq_ignore_ascii_case("sec-websocket-protocol") => &mut protocol,
            _ => continue,
        };
        // The first of a repeated header counts, as before.
        slot.get_or_insert(v.trim());
    }
    if !upgrade.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err(ConnectError::Protocol(
            "no `Upgrade: websocket` in the response".into(),
        ));
    }
    if !connection.is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    }) {
        return Err(ConnectError::Protocol(
            "no `Connection: upgrade` in the response".into(),
        ));
    }
    if accepted != Some(accept) {
        return Err(ConnectError::Protocol(
            "Sec-WebSocket-Accept does not match the key".into(),
        ));
    }
    if let Some(chosen) = protocol {
        if !offered.iter().any(|o| o == chosen) {
            return Err(ConnectError::Protocol(format!(
                "the server chose subprotocol {chosen:?}, which was not offered"
            )));
        }
    }
    Ok(())
}

/// Let `connect` pick the source port knowing the destination (Linux `IP_BIND_ADDRESS_NO_PORT`),
/// so binding a source address does not reserve a port for every destination at once. Without
/// it, bind-before-connect runs out of ports long before the 4-tuples do.
#[cfg(target_os = "linux")]
fn bind_address_no_port(socket: &TcpSocket) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket fd and a pointer to a c_int that outlives the call.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn bind_address_no_port(_: &TcpSocket) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upgrade_response_is_checked() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
        assert_eq!(
            tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes()),
            accept
        );
        let ok = format!("HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n");
        assert!(check_response(ok.as_bytes(), accept, &[]).is_ok());
        let chosen = ok.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: webim.v2\r\n\r\n");
        assert!(check_response(chosen.as_bytes(), accept, &["webim.v2".into()]).is_ok());
        assert!(check_response(chosen.as_bytes(), accept, &[]).is_err());
        let refused = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            check_response(refused, accept, &[]).unwrap_err().reason(),
            "upgrade_http_404"
        );
        let wrong = ok.replace(accept, "AAAA");
        assert_eq!(
            check_response(wrong.as_bytes(), accept, &[])
                .unwrap_err()
                .reason(),
            "upgrade_protocol"
        );
        let no_upgrade = ok.replace("upgrade: WebSocket\r\n", "");
        assert!(check_response(no_upgrade.as_bytes(), accept, &[]).is_err());
        let no_connection = ok.replace("Connection: keep-alive, Upgrade\r\n", "");
        assert!(check_response(no_connection.as_bytes(), accept, &[]).is_err());
        // Header names in any case, values trimmed, other headers between.
        let spaced = format!("HTTP/1.1 101 OK\r\nServer: x\r\nSEC-WEBSOCKET-ACCEPT:  {accept} \r\nupgrade:websocket\r\nconnection: upgrade\r\n\r\n");
        assert!(check_response(spaced.as_bytes(), accept, &[]).is_ok());
    }
}
