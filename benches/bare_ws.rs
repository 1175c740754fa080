//! The bare WebSocket client the floors share (`benches/xmpp_floor.rs`, `benches/mqtt_floor.rs`):
//! a tokio TCP socket, the upgrade and RFC 6455 frames written by hand, the process's CPU time.
//! Nothing of loginstorm's. Included by each floor with `#[path]`; not part of the product.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

#[allow(dead_code)]
pub fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for c in input.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One WebSocket connection: the socket and what was read of it but not yet taken.
pub struct Conn {
    tcp: TcpStream,
    buf: Vec<u8>,
}

pub type Res<T> = Result<T, String>;

impl Conn {
    /// Connect and upgrade, asking for `subprotocol`.
    pub async fn open(addr: &str, host: &str, path: &str, subprotocol: &str) -> Res<Conn> {
        let mut tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: {subprotocol}\r\n\r\n"
        );
        tcp.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut c = Conn {
            tcp,
            buf: Vec::with_capacity(2048),
        };
        loop {
            if let Some(end) = c.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                if !c.buf.starts_with(b"HTTP/1.1 101") {
                    return Err("upgrade refused".into());
                }
                c.buf.drain(..end + 4);
                return Ok(c);
            }
            c.fill().await?;
        }
    }

    async fn fill(&mut self) -> Res<()> {
        let mut chunk = [0u8; 4096];
        let n = self.tcp.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Send a masked frame (the zero mask: the payload goes as it is).
    pub async fn send(&mut self, opcode: u8, payload: &[u8]) -> Res<()> {
        let mut f = Vec::with_capacity(payload.len() + 8);
        f.push(0x80 | opcode);
        if payload.len() < 126 {
            f.push(0x80 | payload.len() as u8);
        } else {
            f.push(0x80 | 126);
            f.extend((payload.len() as u16).to_be_bytes());
        }
        f.extend([0, 0, 0, 0]);
        f.extend_from_slice(payload);
        self.tcp.write_all(&f).await.map_err(|e| e.to_string())
    }

    /// The next frame: (opcode, payload).
    pub async fn frame(&mut self) -> Res<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                let (op, len7) = (self.buf[0] & 0x0f, (self.buf[1] & 0x7f) as usize);
                let (head, len) = match len7 {
                    126 if self.buf.len() >= 4 => {
                        (4, u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize)
                    }
                    127 if self.buf.len() >= 10 => {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&self.buf[2..10]);
                        (10, u64::from_be_bytes(b) as usize)
                    }
                    126 | 127 => (usize::MAX, 0),
                    n => (2, n),
                };
                if head != usize::MAX && self.buf.len() >= head + len {
                    let payload = self.buf[head..head + len].to_vec();
                    self.buf.drain(..head + len);
                    return Ok((op, payload));
                }
            }
            self.fill().await?;
        }
    }

    /// Read text frames until one holds `needle`.
    #[allow(dead_code)]
    pub async fn until(&mut self, needle: &str) -> Res<()> {
        loop {
            let (op, p) = self.frame().await?;
            if op == 8 {
                return Err(format!("closed while waiting for {needle}"));
            }
            let text = String::from_utf8_lossy(&p);
            if text.contains("<failure") || text.contains("type='error'") {
                return Err(format!("refused: {text}"));
            }
            if text.contains(needle) {
                return Ok(());
            }
        }
    }
}

/// What an open loop did: each cycle's latencies (microseconds), the failures, the first
/// failure's reason, and the process's CPU seconds over the loop.
pub struct Outcome {
    pub done: Vec<Vec<u64>>,
    pub errors: u64,
    pub first_error: Option<String>,
    pub cpu: f64,
}

/// Start `cycle(n)` for n = 0, 1, … at `rate` a second for `secs` seconds, evenly spaced, on one
/// current-thread runtime; each has 10 s. Its `Ok` is the cycle's latencies (microseconds).
pub fn open_loop<F, Fut>(rate: f64, secs: f64, cycle: F) -> Outcome
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Res<Vec<u64>>> + 'static,
{
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let out = Rc::new(RefCell::new(Outcome {
        done: Vec::new(),
        errors: 0,
        first_error: None,
        cpu: 0.0,
    }));
    let cpu0 = cpu_seconds();
    let total = (rate * secs) as u64;
    rt.block_on(async {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let start = tokio::time::Instant::now();
                let mut tasks = Vec::with_capacity(total as usize);
                for n in 0..total {
                    tokio::time::sleep_until(start + Duration::from_secs_f64(n as f64 / rate))
                        .await;
                    let (out, fut) = (out.clone(), cycle(n));
                    tasks.push(tokio::task::spawn_local(async move {
                        let r = tokio::time::timeout(Duration::from_secs(10), fut).await;
                        let mut o = out.borrow_mut();
                        match r {
                            Ok(Ok(lat)) => o.done.push(lat),
                            Ok(Err(e)) => {
                                o.errors += 1;
                                o.first_error.get_or_insert(e);
                            }
                            Err(_) => o.errors += 1,
                        }
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
            })
            .await;
    });
    let mut o = Rc::try_unwrap(out)
        .ok()
        .expect("every cycle is done")
        .into_inner();
    o.cpu = cpu_seconds() - cpu0;
    o
}

/// The p-quantile of the k-th latency of every cycle (microseconds).
pub fn quantile(done: &[Vec<u64>], k: usize, q: f64) -> u64 {
    let mut v: Vec<u64> = done.iter().map(|l| l[k]).collect();
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() - 1) as f64 * q).round() as usize]
}
