//! Opening one WebSocket: TCP from a chosen loopback source address, then the HTTP upgrade.

use std::net::{IpAddr, SocketAddr};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

/// Small buffers: an idle simulated instance should cost little memory.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(2048)
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
    #[error("WebSocket upgrade failed: {0}")]
    Upgrade(#[from] tokio_tungstenite::tungstenite::Error),
}

impl ConnectError {
    /// A short reason for counters: `tcp_<io error kind>` or `upgrade_<what>`.
    pub fn reason(&self) -> String {
        use tokio_tungstenite::tungstenite::Error as E;
        match self {
            ConnectError::Tcp { source, .. } if source.raw_os_error() == Some(libc::EMFILE) => {
                "tcp_too_many_open_files".into()
            }
            ConnectError::Tcp { source, .. } => format!("tcp_{:?}", source.kind()),
            ConnectError::Upgrade(E::Http(resp)) => {
                format!("upgrade_http_{}", resp.status().as_u16())
            }
            ConnectError::Upgrade(E::Io(e)) => format!("upgrade_io_{:?}", e.kind()),
            ConnectError::Upgrade(E::ConnectionClosed | E::AlreadyClosed) => {
                "upgrade_closed".into()
            }
            ConnectError::Upgrade(E::Protocol(_)) => "upgrade_protocol".into(),
            ConnectError::Upgrade(_) => "upgrade_other".into(),
        }
    }
}

pub async fn connect(
    url: &str,
    addr: SocketAddr,
    local: Option<IpAddr>,
) -> Result<WebSocketStream<TcpStream>, ConnectError> {
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
    let stream = socket.connect(addr).await.map_err(tcp)?;
    let _ = stream.set_nodelay(true);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config())).await?;
    Ok(ws)
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
