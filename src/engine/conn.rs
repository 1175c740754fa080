//! What an instance's connection is: a WebSocket (`ws://`, `wss://`), or — for MQTT over TCP
//! (`mqtt://`, `mqtts://`) — the bare byte stream, read and written as binary "frames" of
//! whatever arrived, which the MQTT driver already reassembles into packets (a WebSocket frame
//! may hold part of a packet too). One type, so the instance's link reads and writes both alike.

use bytes::{Bytes, BytesMut};
use futures_util::{Sink, Stream};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::connect::Ws;
use super::stamped::Stamped;

/// Bytes read from a bare stream at once (a stack buffer: an idle connection holds none).
const READ_CHUNK: usize = 2048;

/// An instance's connection. Not boxed: the WebSocket is the common variant, and a box would
/// be one more allocation per connection.
#[allow(clippy::large_enum_variant)]
pub enum Conn {
    Ws(Ws),
    Raw(Raw),
}

impl Conn {
    /// Make dropping the connection reset it (RST) instead of closing it (FIN).
    pub fn reset_on_drop(&self) {
        let io = match self {
            Conn::Ws(ws) => ws.get_ref(),
            Conn::Raw(r) => &r.io,
        };
        if let Some(tcp) = io.tcp() {
            let _ = socket2::SockRef::from(tcp).set_linger(Some(std::time::Duration::ZERO));
        }
    }

    /// Writes so far (engine/nagle.rs): what an answer to the last of them covers.
    pub fn writes(&self) -> u32 {
        match self {
            Conn::Ws(ws) => ws.get_ref().writes(),
            Conn::Raw(r) => r.io.writes(),
        }
    }

    /// The peer answered the write numbered `through` and every one before it.
    pub fn answered(&mut self, through: u32) {
        match self {
            Conn::Ws(ws) => ws.get_mut().answered(through),
            Conn::Raw(r) => r.io.answered(through),
        }
    }

    /// When the connection's last bytes were received (the kernel's stamp).
    pub fn read_at(&self) -> std::rc::Rc<std::cell::Cell<tokio::time::Instant>> {
        match self {
            Conn::Ws(ws) => ws.get_ref().read_at(),
            Conn::Raw(r) => r.io.read_at(),
        }
    }
}

/// A bare byte stream (MQTT over TCP or TLS).
pub struct Raw {
    io: Stamped,
    /// Bytes sent but not yet taken by the socket.
    out: BytesMut,
}

impl Raw {
    pub fn new(io: Stamped) -> Raw {
        Raw {
            io,
            out: BytesMut::new(),
        }
    }

    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        while !self.out.is_empty() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.out))?;
            if n == 0 {
                return Poll::Ready(Err(WsError::Io(std::io::ErrorKind::WriteZero.into())));
            }
            let _ = self.out.split_to(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl Stream for Conn {
    type Item = Result<Message, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut() {
            Conn::Ws(ws) => Pin::new(ws).poll_next(cx),
            Conn::Raw(r) => {
                let mut chunk = [0u8; READ_CHUNK];
                let mut buf = ReadBuf::new(&mut chunk);
                match ready!(Pin::new(&mut r.io).poll_read(cx, &mut buf)) {
                    Ok(()) if buf.filled().is_empty() => Poll::Ready(None),
                    Ok(()) => Poll::Ready(Some(Ok(Message::Binary(Bytes::copy_from_slice(
                        buf.filled(),
                    ))))),
                    Err(e) => Poll::Ready(Some(Err(WsError::Io(e)))),
                }
            }
        }
    }
}

impl Sink<Message> for Conn {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        match self.get_mut() {
            Conn::Ws(ws) => Pin::new(ws).poll_ready(cx),
            // Sends are small and few; they queue until flushed.
            Conn::Raw(_) => Poll::Ready(Ok(())),
        }
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        match self.get_mut() {
            Conn::Ws(ws) => Pin::new(ws).start_send(item),
            Conn::Raw(r) => {
                match item {
                    Message::Binary(b) => r.out.extend_from_slice(&b),
                    Message::Text(t) => r.out.extend_from_slice(t.as_bytes()),
                    // Nothing of a WebSocket's own goes on a bare stream.
                    _ => {}
                }
                Ok(())
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        match self.get_mut() {
            Conn::Ws(ws) => Pin::new(ws).poll_flush(cx),
            Conn::Raw(r) => {
                ready!(r.poll_write_out(cx))?;
                Pin::new(&mut r.io).poll_flush(cx).map_err(WsError::Io)
            }
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        match self.get_mut() {
            Conn::Ws(ws) => Pin::new(ws).poll_close(cx),
            Conn::Raw(r) => {
                ready!(r.poll_write_out(cx))?;
                Pin::new(&mut r.io).poll_shutdown(cx).map_err(WsError::Io)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A bare stream carries bytes both ways as binary "frames" and ends with the peer's close.
    #[test]
    fn a_raw_connection_is_bytes_both_ways() {
        super::super::stamped::on_loopback(|tcp, mut peer| async move {
            let mut c = Conn::Raw(Raw::new(Stamped::new(
                super::super::endpoint::Stream::Plain(tcp),
            )));
            c.send(Message::binary(vec![0x10, 2, 0, 4])).await.unwrap();
            let mut got = [0u8; 4];
            peer.read_exact(&mut got).await.unwrap();
            assert_eq!(got, [0x10, 2, 0, 4]);
            peer.write_all(&[0x20, 2, 0, 0]).await.unwrap();
            match c.next().await {
                Some(Ok(Message::Binary(b))) => assert_eq!(&b[..], &[0x20, 2, 0, 0]),
                other => panic!("{other:?}"),
            }
            drop(peer);
            assert!(c.next().await.is_none(), "the peer's close ends the stream");
        });
    }
}
