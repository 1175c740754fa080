//! What the server allows a connection before it sheds it, and the defaults: the budgets
//! docs/protocol.md lists with their close codes and statuses.

use std::time::Duration;

/// A client must finish its HTTP request head within this time.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may say nothing before the server closes it, by default: ten
/// minutes (docs/reliability.md, "Bounds").
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// TCP keepalive on every accepted connection: the kernel probes a peer silent for this long,
/// every [`KEEPALIVE_INTERVAL`], and gives up after [`KEEPALIVE_PROBES`] unanswered probes —
/// a client whose network vanished (no FIN, no RST) is gone within about two minutes.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
pub const KEEPALIVE_PROBES: u32 = 6;

/// What the server allows a connection before it sheds it; docs/protocol.md lists each with
/// its close code or status.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerLimits {
    /// A WebSocket connection must log in *successfully* within this time of the upgrade, or
    /// it is closed with 1008 (refused logins do not stop the clock). Zero = no deadline.
    pub login_timeout: Duration,
    /// A connection that sends nothing (no request, no ping) for this long is closed with 1000.
    /// Zero = never. The default, [`DEFAULT_IDLE_TIMEOUT`], is far past any SDK's heartbeat
    /// interval, so only a client that has gone (a phone off the network) is ever closed.
    pub idle_timeout: Duration,
    /// An HTTP request (the upgrade, or a REST call with its body) must arrive within this time,
    /// or it gets 408 / the connection is closed.
    pub request_timeout: Duration,
    /// Open TCP connections at most; past it a new one gets `503` before any upgrade. Zero =
    /// the open-file limit less a reserve, so the limit is met with a 503 instead of a stalled
    /// accept.
    pub max_connections: usize,
    /// Bytes of partially received WebSocket messages the server holds over all connections.
    /// Past it, the connections holding the most are closed with 1009 until it is back under.
    pub frame_budget: usize,
}

/// Descriptors kept back from `max_connections = 0` for listeners, logs and the 503 answers.
pub const FD_RESERVE: usize = 256;

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            login_timeout: Duration::from_secs(30),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            request_timeout: HEADER_TIMEOUT,
            max_connections: 0,
            frame_budget: 64 << 20,
        }
    }
}
