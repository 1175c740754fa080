//! Taking connections: the listening socket, each worker's accept loop, the connection count
//! against `--max-connections` (503 past it), and what happens at the descriptor limit.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{http, Shared};

/// One open TCP connection, counted in `Shared::tcp_conns` until every holder drops it (the
/// HTTP connection, then the WebSocket session it was upgraded to).
pub(crate) struct ConnToken(Arc<Shared>);

impl ConnToken {
    pub(super) fn new(shared: &Arc<Shared>) -> Self {
        shared.tcp_conns.fetch_add(1, Ordering::Relaxed);
        ConnToken(shared.clone())
    }
}

impl Drop for ConnToken {
    fn drop(&mut self) {
        self.0.tcp_conns.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Connections the kernel may queue before the accept loop takes them (login storms arrive in
/// bursts; the default of 128 drops SYNs under a ramp of thousands per second).
const LISTEN_BACKLOG: i32 = 8192;

pub(super) fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

pub(super) fn fd_limit() -> usize {
    rlimit::Resource::NOFILE.get().map_or(1024, |(soft, _)| {
        usize::try_from(soft).unwrap_or(usize::MAX)
    })
}

/// Connections answered 503 at once, at most; past it a connection over the limit is just
/// closed (each answer holds a descriptor for up to a second).
const MAX_REFUSING: usize = 64;

pub(super) async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut refused = RateLog::default();
    let mut failed = RateLog::default();
    // A descriptor kept in reserve: out of descriptors, it is given up to accept one queued
    // connection and close it, so clients in the backlog get a close instead of a hang.
    let mut spare = std::fs::File::open("/dev/null").ok();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                let out_of_fds = matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
                failed.note(|n| {
                    format!(
                        "warning: {n} accepts failed ({e}){}; open connections kept",
                        if out_of_fds {
                            ": out of file descriptors, queued connections are closed"
                        } else {
                            ""
                        }
                    )
                });
                if out_of_fds {
                    drop(spare.take());
                    if let Ok((s, _)) = listener.accept().await {
                        drop(s);
                    }
                    spare = std::fs::File::open("/dev/null").ok();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if shared.gateway_down.load(Ordering::Relaxed) {
            drop(stream);
            continue;
        }
        if shared.tcp_conns.load(Ordering::Relaxed) >= shared.max_conns {
            shared
                .stats
                .refused_at_limit
                .fetch_add(1, Ordering::Relaxed);
            refused.note(|n| {
                format!(
                    "warning: {n} connections refused with 503: the server is at its limit of {} open connections (--max-connections)",
                    shared.max_conns
                )
            });
            if shared.refusing.fetch_add(1, Ordering::Relaxed) < MAX_REFUSING {
                let shared = shared.clone();
                actix::spawn(async move {
                    http::refuse_busy(stream).await;
                    shared.refusing.fetch_sub(1, Ordering::Relaxed);
                });
            } else {
                shared.refusing.fetch_sub(1, Ordering::Relaxed);
            }
            continue;
        }
        let _ = stream.set_nodelay(true);
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(super::KEEPALIVE_IDLE)
            .with_interval(super::KEEPALIVE_INTERVAL)
            .with_retries(super::KEEPALIVE_PROBES);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        let token = Arc::new(ConnToken::new(&shared));
        actix::spawn(http::serve_connection(stream, shared.clone(), token));
    }
}

/// A warning that may repeat thousands of times a second, printed at most every 10 s with how
/// many times it happened since.
#[derive(Default)]
struct RateLog {
    last: Option<std::time::Instant>,
    count: u64,
}

impl RateLog {
    const EVERY: Duration = Duration::from_secs(10);

    fn note(&mut self, line: impl FnOnce(u64) -> String) {
        self.count += 1;
        if self.last.is_none_or(|t| t.elapsed() >= Self::EVERY) {
            eprintln!("{}", line(self.count));
            self.count = 0;
            self.last = Some(std::time::Instant::now());
        }
    }
}
