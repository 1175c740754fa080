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
        socket.bind(SocketAddr::new(ip, 0)).map_err(tcp)?;
    }
    let stream = socket.connect(addr).await.map_err(tcp)?;
    let _ = stream.set_nodelay(true);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config())).await?;
    Ok(ws)
}
