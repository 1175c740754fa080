//! The reference server: the embedded default target and the yardstick the checks are proven
//! against. One port serves `GET /ws` (the wire protocol) and `POST /v4/...` (the admin REST API).
//!
//! Threads: one accept loop, and one actix Arbiter per worker; each Arbiter runs a [`shard::Ledger`]
//! actor (the accounts hashed to it) and the connections handed to it round-robin.

mod accept;
mod budget;
mod close;
mod conn;
mod http;
mod limits;
mod rest;
#[doc(hidden)]
pub use limits::{
    ServerLimits, DEFAULT_IDLE_TIMEOUT, FD_RESERVE, KEEPALIVE_IDLE, KEEPALIVE_INTERVAL,
    KEEPALIVE_PROBES,
};
pub use rest::percent_decode;
mod session;
pub mod shard;
mod stats;
pub mod tls;

pub(crate) use accept::ConnToken;
use accept::{accept_loop, fd_limit, listen};
pub(crate) use stats::Counters;
pub use stats::{ServerStats, StatsSource, LOGIN_BUCKETS_US};

use actix::prelude::*;
use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::policy::Policy;
use crate::units::DelayRange;

pub use crate::protocol::defaults::{DEFAULT_ADMIN, DEV_KEY, DEV_SDKAPPID};

pub use crate::faults::Faults;

/// Everything the server needs to know; built from `serve` flags or a scenario's `[server]`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub sdkappid: u64,
    pub key: String,
    pub admin: String,
    pub policy: Policy,
    pub ready_delay: DelayRange,
    pub faults: Faults,
    pub fault_seed: u64,
    /// Worker threads (Arbiters), each with one shard. 0 = one per core.
    pub workers: usize,
    /// Budgets and timeouts that keep one client (or a thousand) from taking the server down.
    pub limits: ServerLimits,
    /// The wire format on `/ws` (and the admin API's): protocol v1 or the webim dialect.
    pub dialect: Dialect,
    /// Webim: how often the server sends a heartbeat; one unanswered for two intervals closes
    /// the connection (1008). Zero = none.
    pub heartbeat: Duration,
    /// Serve TLS (`wss://`, `https://`) with this certificate chain and key.
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

/// The server's wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// Protocol v1 (docs/protocol.md).
    #[default]
    V1,
    /// The webim dialect (`crate::protocol::webim`; `profiles/webim.toml`).
    Webim,
}

impl Dialect {
    /// The dialect the reference server speaks to a shipped profile (`None`: a profile it
    /// has no dialect for, such as a user's file).
    pub fn of_shipped(profile: &str) -> Option<Dialect> {
        match profile {
            "loginstorm-v1" => Some(Dialect::V1),
            "webim" => Some(Dialect::Webim),
            _ => None,
        }
    }
}

/// A dialect name the server does not speak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dialect {0:?}: v1 or webim")]
pub struct UnknownDialect(pub String);

impl std::str::FromStr for Dialect {
    type Err = UnknownDialect;
    fn from_str(s: &str) -> Result<Dialect, UnknownDialect> {
        match s {
            "v1" | "loginstorm-v1" => Ok(Dialect::V1),
            "webim" => Ok(Dialect::Webim),
            other => Err(UnknownDialect(other.to_string())),
        }
    }
}

pub use crate::protocol::defaults::MAX_SERVER_WORKERS as MAX_WORKERS;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            sdkappid: DEV_SDKAPPID,
            key: DEV_KEY.to_string(),
            admin: DEFAULT_ADMIN.to_string(),
            policy: Policy::default(),
            ready_delay: DelayRange::default(),
            faults: Faults::default(),
            fault_seed: 0,
            workers: 0,
            limits: ServerLimits::default(),
            dialect: Dialect::V1,
            heartbeat: Duration::from_secs(5),
            tls: None,
        }
    }
}

impl ServerConfig {
    /// Warnings a user should see before the server starts.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.key == DEV_KEY && !self.listen.ip().is_loopback() {
            w.push(format!(
                "warning: the documented development key is in use on the non-loopback address {}; anyone can mint UserSigs for it (set --key)",
                self.listen
            ));
        }
        if self.faults.any() {
            w.push(
                "warning: fault injection is on; this server breaks the login promises on purpose"
                    .into(),
            );
        }
        w
    }
}

/// State shared by every connection and REST call.
pub(crate) struct Shared {
    config: ServerConfig,
    /// What every session needs of the config, shared rather than copied per connection.
    session: Arc<session::Settings>,
    shards: Vec<Addr<shard::Ledger>>,
    next_conn: AtomicU64,
    open_conns: AtomicUsize,
    /// Open TCP connections (HTTP, WebSocket and REST alike), against `max_conns`.
    tcp_conns: AtomicUsize,
    max_conns: usize,
    /// Connections answered 503 at the limit that are still being answered.
    refusing: AtomicUsize,
    frames: Arc<budget::FrameBudget>,
    /// Counters for `serve --metrics-listen`.
    stats: Counters,
    /// Bumped by a gateway restart that keeps the sessions: a connection opened before it
    /// drops at its next event (and every logged-in one at once, told by its shard).
    gateway: AtomicU64,
    /// The gateway is restarting: connections accepted now are closed at once.
    gateway_down: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn shard_for(&self, user: &str) -> &Addr<shard::Ledger> {
        &self.shards[self.shard_index(user)]
    }

    fn shard_index(&self, user: &str) -> usize {
        // FNV-1a: stable, cheap, and good enough to spread account names.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in user.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (h % self.shards.len() as u64) as usize
    }
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A running server; dropping it (or [`ServerHandle::stop`]) shuts it down.
pub struct ServerHandle {
    pub addr: SocketAddr,
    system: Option<System>,
    thread: Option<std::thread::JoinHandle<()>>,
    shared: Arc<Shared>,
    /// The workers; they stop with the System.
    _arbiters: Vec<Arbiter>,
}

impl ServerHandle {
    /// The WebSocket URL clients connect to.
    pub fn url(&self) -> String {
        let scheme = if self.shared.config.tls.is_some() {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}://{}/ws", self.addr)
    }

    /// Connections currently open on the WebSocket endpoint.
    pub fn open_connections(&self) -> usize {
        self.shared.open_conns.load(Ordering::Relaxed)
    }

    /// Bytes of partly received WebSocket messages the server holds now (see `frame_budget`).
    pub fn partial_message_bytes(&self) -> usize {
        self.shared.frames.total()
    }

    /// Reads the server's counters and gauges while it runs.
    pub fn stats(&self) -> StatsSource {
        StatsSource(self.shared.clone())
    }

    /// Open TCP connections, of any kind.
    pub fn tcp_connections(&self) -> usize {
        self.shared.tcp_conns.load(Ordering::Relaxed)
    }

    /// (accounts known, live instances) summed over the shards.
    pub async fn census(&self) -> (usize, usize) {
        let mut total = (0, 0);
        for s in &self.shared.shards {
            if let Ok((a, l)) = s.send(shard::Census).await {
                total.0 += a;
                total.1 += l;
            }
        }
        total
    }

    /// Take the gateway down and keep the sessions, as a chat backend whose connection tier
    /// crashed while its session tier stayed up: every WebSocket connection is dropped at once
    /// (no close frame), connections that arrive are closed as soon as they are accepted
    /// until [`ServerHandle::gateway_up`], and each dropped session stays in its account as a
    /// **ghost** — counted against the limit, kicked like any session (the kick reaches no
    /// one) — until the idle timeout after the last frame it received, as if its client had
    /// gone silent (with no idle timeout, until it is kicked).
    pub fn gateway_down(&self) {
        self.shared.gateway_down.store(true, Ordering::SeqCst);
        self.shared.gateway.fetch_add(1, Ordering::SeqCst);
        for s in &self.shared.shards {
            s.do_send(shard::CrashGateway);
        }
    }

    /// The gateway is back: connections are served again.
    pub fn gateway_up(&self) {
        self.shared.gateway_down.store(false, Ordering::SeqCst);
    }

    /// Stop accepting, close every connection and wait for the threads to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(sys) = self.system.take() {
            sys.stop();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Start the server on its own threads and return once it is listening.
pub fn start(config: ServerConfig) -> anyhow::Result<ServerHandle> {
    config.faults.validate().map_err(|e| anyhow::anyhow!(e))?;
    let workers = if config.workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        config.workers
    };
    let std_listener =
        listen(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = std_listener.local_addr()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("loginstorm-server".into())
        .spawn(move || {
            let sys = System::new();
            sys.block_on(async move {
                let arbiters: Vec<Arbiter> = (0..workers).map(|_| Arbiter::new()).collect();
                let shards = arbiters
                    .iter()
                    .enumerate()
                    .map(|(i, arb)| {
                        let (policy, faults, seed) =
                            (config.policy, config.faults, config.fault_seed);
                        shard::Ledger::start_in_arbiter(&arb.handle(), move |_| {
                            shard::Ledger::new(i, policy, faults, seed)
                        })
                    })
                    .collect();
                let session = Arc::new(session::Settings {
                    sdkappid: config.sdkappid,
                    key: config.key.clone(),
                    ready_delay: config.ready_delay,
                    faults: config.faults,
                });
                let max_conns = match config.limits.max_connections {
                    0 => fd_limit().saturating_sub(FD_RESERVE).max(1),
                    n => n,
                };
                let frames = budget::FrameBudget::new(config.limits.frame_budget);
                let shared = Arc::new(Shared {
                    session,
                    config,
                    shards,
                    next_conn: AtomicU64::new(1),
                    open_conns: AtomicUsize::new(0),
                    tcp_conns: AtomicUsize::new(0),
                    max_conns,
                    refusing: AtomicUsize::new(0),
                    frames,
                    stats: Counters::default(),
                    gateway: AtomicU64::new(0),
                    gateway_down: std::sync::atomic::AtomicBool::new(false),
                });
                // Every worker accepts on its own handle to the listening socket and serves what
                // it accepted: no hand-off between threads per connection (on one core, that
                // hand-off was a context switch and two epoll registrations per connection).
                for arb in &arbiters {
                    let listener = match std_listener.try_clone() {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("error: cannot share the listener with a worker: {e}");
                            System::current().stop();
                            return;
                        }
                    };
                    let shared = shared.clone();
                    arb.spawn(async move {
                        match tokio::net::TcpListener::from_std(listener) {
                            Ok(l) => accept_loop(l, shared).await,
                            Err(e) => {
                                eprintln!("error: cannot register the listener: {e}");
                                System::current().stop();
                            }
                        }
                    });
                }
                let _ = tx.send((System::current(), shared.clone(), arbiters));
            });
            let _ = sys.run();
        })?;
    let (system, shared, arbiters) = rx
        .recv()
        .context("the server thread ended before it was listening")?;
    Ok(ServerHandle {
        addr,
        system: Some(system),
        thread: Some(thread),
        shared,
        _arbiters: arbiters,
    })
}
