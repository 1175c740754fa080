//! Hostile clients for `benches/attack.sh`: each mode opens many connections that misbehave in
//! one way, keeps them until the server sheds them (or SECONDS pass), and prints one line of
//! `key=value` — how many it opened, how many the server closed and with which close code or
//! HTTP status, and when. Not part of the product; built with
//! `cargo build --profile dist --example attack`.
//!
//!   attack silent  ADDR N SECONDS        # N upgraded WebSockets that never send a byte
//!   attack partial ADDR N KIB SECONDS    # N WebSockets each sending KIB KiB of a 1 MiB message, then nothing
//!   attack fill    ADDR N SECONDS        # N plain TCP connections that never send (fills the fd limit)
//!
//! ADDR is `HOST:PORT` of a `loginstorm serve`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What became of one connection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    /// Never connected or never upgraded (connect error, or an HTTP status instead of 101).
    Refused(String),
    /// Closed by the server: its close code, or "eof"/"reset" without one.
    Closed(String),
    /// Still open at the end.
    Open,
}

async fn upgrade(addr: SocketAddr) -> Result<TcpStream, String> {
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect:{}", e.kind()))?;
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .map_err(|e| format!("write:{}", e.kind()))?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        match s.read(&mut b).await {
            Ok(1) => head.push(b[0]),
            _ => return Err("eof-before-101".into()),
        }
        if head.len() > 4096 {
            return Err("head-too-long".into());
        }
    }
    let status = String::from_utf8_lossy(&head[9..12.min(head.len())]).into_owned();
    if status != "101" {
        return Err(format!("http-{status}"));
    }
    Ok(s)
}

/// Wait for the server to close: the close code of its close frame, or eof/reset.
async fn fate_of(mut s: TcpStream, until: Instant) -> (Fate, Option<Duration>) {
    let started = Instant::now();
    let mut buf = vec![0u8; 64];
    let r = tokio::time::timeout_at(until.into(), s.read(&mut buf)).await;
    let fate = match r {
        Err(_) => return (Fate::Open, None),
        Ok(Ok(0)) => Fate::Closed("eof".into()),
        Ok(Ok(n)) if n >= 4 && buf[0] == 0x88 => {
            Fate::Closed(u16::from_be_bytes([buf[2], buf[3]]).to_string())
        }
        Ok(Ok(_)) if buf.starts_with(b"HTTP/1.1 ") => {
            Fate::Closed(format!("http-{}", String::from_utf8_lossy(&buf[9..12])))
        }
        Ok(Ok(_)) => Fate::Closed("data".into()),
        Ok(Err(e)) => Fate::Closed(format!("{:?}", e.kind())),
    };
    (fate, Some(started.elapsed()))
}

async fn one(
    mode: String,
    addr: SocketAddr,
    kib: usize,
    until: Instant,
) -> (Fate, Option<Duration>) {
    match mode.as_str() {
        "silent" => match upgrade(addr).await {
            Ok(s) => fate_of(s, until).await,
            Err(e) => (Fate::Refused(e), None),
        },
        "partial" => match upgrade(addr).await {
            Ok(mut s) => {
                // FIN + text, masked, 64-bit length: 1 MiB − 1 byte (just under the hard limit).
                let mut head = vec![0x81u8, 0x80 | 127];
                head.extend_from_slice(&((1u64 << 20) - 1).to_be_bytes());
                head.extend_from_slice(&[0, 0, 0, 0]);
                if s.write_all(&head).await.is_err()
                    || s.write_all(&vec![b'x'; kib << 10]).await.is_err()
                {
                    return (Fate::Closed("write".into()), Some(Duration::ZERO));
                }
                fate_of(s, until).await
            }
            Err(e) => (Fate::Refused(e), None),
        },
        _ => match TcpStream::connect(addr).await {
            Ok(s) => fate_of(s, until).await,
            Err(e) => (Fate::Refused(format!("connect:{}", e.kind())), None),
        },
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: attack silent ADDR N SECONDS | attack partial ADDR N KIB SECONDS | attack fill ADDR N SECONDS";
    let (mode, addr, n, kib, secs) = match args.first().map(String::as_str) {
        Some(m @ ("silent" | "fill")) if args.len() == 4 => (m, &args[1], &args[2], "0", &args[3]),
        Some("partial") if args.len() == 5 => {
            ("partial", &args[1], &args[2], args[3].as_str(), &args[4])
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let addr: SocketAddr = addr.parse().expect("ADDR as HOST:PORT");
    let n: usize = n.parse().expect("N");
    let kib: usize = kib.parse().expect("KIB");
    let secs: f64 = secs.parse().expect("SECONDS");
    loginstorm::reserve_fds(loginstorm::raise_fd_limit().min(n as u64 + 64));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(secs);
    let fates = rt.block_on(async {
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            tasks.push(tokio::spawn(one(mode.to_string(), addr, kib, until)));
            // Connect in small bursts, as a botnet would, not all in one syscall storm.
            if tasks.len() % 200 == 0 {
                tokio::task::yield_now().await;
            }
        }
        let mut out = Vec::with_capacity(n);
        for t in tasks {
            out.push(t.await.expect("task"));
        }
        out
    });
    let mut counts: BTreeMap<Fate, usize> = BTreeMap::new();
    let mut last_close = Duration::ZERO;
    for (f, after) in &fates {
        *counts.entry(f.clone()).or_default() += 1;
        if let Some(d) = after {
            last_close = last_close.max(*d);
        }
    }
    let list = counts
        .iter()
        .map(|(f, c)| match f {
            Fate::Refused(r) => format!("refused_{r}={c}"),
            Fate::Closed(code) => format!("closed_{code}={c}"),
            Fate::Open => format!("open={c}"),
        })
        .collect::<Vec<_>>()
        .join(" ");
    println!(
        "mode={mode} n={n} {list} last_close_after_ms={}",
        last_close.as_millis()
    );
}
