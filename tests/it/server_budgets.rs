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

#[tokio::test]
async fn a_refused_or_garbage_login_does_not_stop_the_login_deadline() {
    let h = start(|c| c.limits.login_timeout = Duration::from_secs(1));
    // A login with a sig that does not verify (70003-class refusal), and one that is not a
    // login at all: each connection is still closed at the deadline.
    let mut refused = Client::connect(&h).await;
    let r = refused.login_as("u1", Web, "not-a-sig").await;
    assert_ne!(r.code, 0, "{r:?}");
    let mut garbage = Client::connect(&h).await;
    garbage
        .send_raw(Message::text(r#"{"op":"login","seq":1}"#))
        .await;
    assert_eq!(closed_with(&mut refused).await, Some(1008));
    assert_eq!(closed_with(&mut garbage).await, Some(1008));
    // A successful login lifts it.
    let mut honest = Client::connect(&h).await;
    honest.login_ready("u2", Web).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(honest.ping().await.code, 0);
}

#[test]
fn by_default_a_silent_connection_is_not_held_forever() {
    // The idle bound is on by default (10 minutes; the_idle_timeout_closes_silent_sessions…
    // proves what it does), and so is `serve`'s.
    let d = loginstorm::server::ServerLimits::default();
    assert_eq!(d.idle_timeout, loginstorm::server::DEFAULT_IDLE_TIMEOUT);
    assert!(!d.idle_timeout.is_zero());
    let help = bin().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("[default: 10m]"), "{help}");
}

#[tokio::test]
async fn accepted_connections_have_tcp_keepalive() {
    let h = start(|_| {});
    let _c = Client::connect(&h).await;
    // The server's end of the connection, as the kernel lists it: a keepalive timer ("keepalive")
    // is on it. `ss -o` shows timers.
    let out = std::process::Command::new("ss")
        .args([
            "-tnoH",
            "state",
            "established",
            "sport",
            "=",
            &format!(":{}", h.addr.port()),
        ])
        .output();
    // iproute2 is part of Debian's default install; without it this test cannot see the
    // kernel's timers, and fails rather than pass unseen.
    let out = out.expect("ss (iproute2) lists the kernel's socket timers");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("keepalive"), "{text}");
}

#[tokio::test]
async fn a_close_frame_with_an_invalid_code_gets_1002() {
    let h = start(|_| {});
    let mut r = Raw::upgrade(&h).await;
    // Close with code 999 (§7.4.2: not a code an endpoint may send).
    r.frame_head(0x88, true, 2).await;
    r.0.write_all(&999u16.to_be_bytes()).await.unwrap();
    assert_eq!(r.close_code().await, Some(1002));
}

#[test]
fn the_metrics_endpoint_shares_the_servers_connection_cap_and_request_timeout() {
    use std::io::{Read, Write};
    let (mut server, url) = spawn_serve_with(&[
        "--metrics-listen",
        "127.0.0.1:0",
        "--max-connections",
        "20",
        "--request-timeout",
        "1s",
    ]);
    // serve prints the metrics address on stderr; find it with ss instead: the server's
    // listening sockets other than the WebSocket one.
    let port: u16 = url
        .trim_start_matches("ws://")
        .split(['/', ':'])
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let pid = server.id().to_string();
    let ss = std::process::Command::new("ss").args(["-tlnpH"]).output();
    let ss = ss.expect("ss (iproute2) lists the listening sockets");
    let listing = String::from_utf8_lossy(&ss.stdout).into_owned();
    let metrics_port: u16 = listing
        .lines()
        .filter(|l| l.contains(&format!("pid={pid},")))
        .filter_map(|l| {
            l.split_whitespace()
                .nth(3)?
                .rsplit(':')
                .next()?
                .parse()
                .ok()
        })
        .find(|p: &u16| *p != port)
        .unwrap_or_else(|| panic!("no metrics listener in {listing}"));
    // 40 idle connections to the metrics port: at most 20 are held, and not past 1 s.
    let idle: Vec<std::net::TcpStream> = (0..40)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", metrics_port)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = [0u8; 64];
        // Closed by the server (0 bytes) or reset: never held.
        let _ = s.read(&mut b);
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // A scrape still works, and so does a WebSocket login.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        use futures_util::SinkExt;
        ws.send(Message::text(r#"{"op":"ping","seq":1}"#))
            .await
            .unwrap();
        let m = tokio::time::timeout(WAIT, ws.next()).await.unwrap();
        assert!(matches!(m, Some(Ok(Message::Text(_)))), "{m:?}");
    });
    let _ = server.kill();
    let _ = server.wait();
}
