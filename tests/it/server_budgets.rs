//! The server's budgets and timeouts: each sheds the client that would take it down, with the
//! documented close code or status, and leaves honest clients alone.

use crate::util::*;
use futures_util::StreamExt;
use loginstorm::policy::Platform::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// A WebSocket client written by hand, to send what a library would refuse to.
struct Raw(TcpStream);

impl Raw {
    async fn upgrade(h: &loginstorm::server::ServerHandle) -> Raw {
        let mut s = TcpStream::connect(h.addr).await.unwrap();
        s.write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            assert_eq!(s.read(&mut b).await.unwrap(), 1, "upgrade answered");
            head.push(b[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        Raw(s)
    }

    /// The head of a masked client frame (mask key 0, so the payload goes as it is).
    async fn frame_head(&mut self, first: u8, masked: bool, len: usize) {
        let mask = if masked { 0x80 } else { 0 };
        let mut h = vec![first];
        if len < 126 {
            h.push(mask | len as u8);
        } else {
            h.push(mask | 127);
            h.extend_from_slice(&(len as u64).to_be_bytes());
        }
        if masked {
            h.extend_from_slice(&[0, 0, 0, 0]);
        }
        self.0.write_all(&h).await.unwrap();
    }

    /// Read frames until a close frame; its code, or None if the connection just ended.
    async fn close_code(&mut self) -> Option<u16> {
        let read = async {
            loop {
                let mut h = [0u8; 2];
                self.0.read_exact(&mut h).await.ok()?;
                let mut len = u64::from(h[1] & 0x7f);
                if len == 126 {
                    let mut b = [0u8; 2];
                    self.0.read_exact(&mut b).await.ok()?;
                    len = u64::from(u16::from_be_bytes(b));
                } else if len == 127 {
                    let mut b = [0u8; 8];
                    self.0.read_exact(&mut b).await.ok()?;
                    len = u64::from_be_bytes(b);
                }
                let mut payload = vec![0u8; len as usize];
                self.0.read_exact(&mut payload).await.ok()?;
                if h[0] & 0x0f == 0x8 {
                    return Some(u16::from_be_bytes([payload[0], payload[1]]));
                }
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("closed within WAIT")
    }
}

/// Poll until `cond` holds (within WAIT).
async fn eventually(cond: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < WAIT,
            "condition not met within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Wait for a tungstenite client's close frame; its code.
async fn closed_with(c: &mut Client) -> Option<u16> {
    loop {
        match tokio::time::timeout(WAIT, c.ws_mut().next()).await {
            Err(_) => panic!("not closed within {WAIT:?}"),
            Ok(Some(Ok(Message::Close(f)))) => return f.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(None) | Ok(Some(Err(_))) => return None,
        }
    }
}

#[tokio::test]
async fn a_connection_that_never_logs_in_is_closed_with_1008() {
    let h = start(|c| c.limits.login_timeout = Duration::from_secs(1));
    let mut honest = Client::connect(&h).await;
    honest.login_ready("u", Web).await;
    let mut silent = Client::connect(&h).await;
    assert_eq!(closed_with(&mut silent).await, Some(1008));
    // The deadline was met once; the honest session outlives it, logged in or not.
    assert_eq!(honest.logout().await.code, 0);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(honest.ping().await.code, 0);
}

#[tokio::test]
async fn the_idle_timeout_closes_silent_sessions_and_pings_keep_them() {
    let h = start(|c| {
        c.limits.login_timeout = Duration::ZERO;
        c.limits.idle_timeout = Duration::from_secs(1);
    });
    let mut pinging = Client::connect(&h).await;
    let mut silent = Client::connect(&h).await;
    pinging.login_ready("a", Web).await;
    silent.login_ready("b", Web).await;
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(pinging.ping().await.code, 0);
    }
    assert_eq!(closed_with(&mut silent).await, Some(1000));
    assert_eq!(pinging.ping().await.code, 0);
}

#[tokio::test]
async fn a_stalled_request_gets_408_or_a_close() {
    let h = start(|c| c.limits.request_timeout = Duration::from_millis(300));
    // A REST body that stops after 10 of 100 bytes.
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    s.write_all(
        format!(
            "POST /v4/im_open_login_svc/kick?{} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"UserID\":",
            admin_query()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut out))
        .await
        .expect("answered and closed")
        .unwrap();
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    // A request head that stops midway: closed.
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let r = tokio::time::timeout(WAIT, s.read_to_end(&mut rest))
        .await
        .expect("closed within WAIT");
    assert!(r.is_err() || !String::from_utf8_lossy(&rest).contains("101"));
}

#[tokio::test]
async fn past_max_connections_a_client_gets_503_before_the_upgrade() {
    let h = start(|c| c.limits.max_connections = 3);
    let mut held = Vec::new();
    for i in 0..3 {
        let mut c = Client::connect(&h).await;
        c.login_ready(&format!("u{i}"), Web).await;
        held.push(c);
    }
    let refused = tokio_tungstenite::connect_async(h.url()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), 503)
        }
        other => panic!("expected 503, got {other:?}"),
    }
    // The ones it holds are untouched; when one leaves, a new client gets in.
    assert_eq!(held[0].ping().await.code, 0);
    drop(held.pop());
    let mut ok = None;
    for _ in 0..50 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(h.url()).await {
            ok = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok.is_some(), "a place freed up");
}

#[tokio::test]
async fn over_the_frame_budget_the_largest_holders_are_closed_with_1009() {
    let h = start(|c| c.limits.frame_budget = 1 << 20);
    let mut honest = Client::connect(&h).await;
    honest.login_ready("honest", Web).await;
    // Three clients announce a 500 KiB message and send part of it: 480, 100 and 450 KiB.
    // Over 1 MiB in all: the 480 KiB one goes (550 KiB left, under 90 % of the budget).
    let mut holders = Vec::new();
    let mut sent = 0;
    for kib in [480usize, 100, 450] {
        let mut r = Raw::upgrade(&h).await;
        r.frame_head(0x81, true, 500 << 10).await;
        r.0.write_all(&vec![b'x'; kib << 10]).await.unwrap();
        holders.push(r);
        sent += kib << 10;
        // Wait until the server has counted it (the last one tips it over).
        if sent <= 1 << 20 {
            eventually(|| h.partial_message_bytes() >= sent).await;
        }
    }
    assert_eq!(holders[0].close_code().await, Some(1009));
    // (Frame heads count too: a few bytes over the payloads.)
    let near = |kib: usize| move |b: usize| (kib << 10..(kib << 10) + 64).contains(&b);
    eventually(|| near(550)(h.partial_message_bytes())).await;
    // The others were not shed: finishing a message (950 KiB held at most, within the budget)
    // gets the ordinary answer to an oversized frame (70402), on a connection still open.
    let second = &mut holders[1];
    second.0.write_all(&vec![b'x'; 400 << 10]).await.unwrap();
    let mut h2 = [0u8; 2];
    tokio::time::timeout(WAIT, second.0.read_exact(&mut h2))
        .await
        .expect("answered")
        .unwrap();
    assert_eq!(h2[0], 0x81, "a text frame, not a close");
    eventually(|| near(450)(h.partial_message_bytes())).await;
    assert_eq!(honest.send_message("honest", "still here").await.code, 0);
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007_and_broken_framing_with_1002() {
    let h = start(|_| {});
    let mut r = Raw::upgrade(&h).await;
    r.frame_head(0x81, true, 2).await;
    r.0.write_all(&[0xff, 0xfe]).await.unwrap();
    assert_eq!(r.close_code().await, Some(1007));
    // A client frame without a mask (RFC 6455 §5.1).
    let mut r = Raw::upgrade(&h).await;
    r.frame_head(0x81, false, 2).await;
    r.0.write_all(b"{}").await.unwrap();
    assert_eq!(r.close_code().await, Some(1002));
    // Reserved bits set with no extension negotiated (§5.2).
    let mut r = Raw::upgrade(&h).await;
    r.frame_head(0x81 | 0x40, true, 2).await;
    r.0.write_all(b"{}").await.unwrap();
    assert_eq!(r.close_code().await, Some(1002));
}
