//! What the server counts while it runs, and the reading `serve --metrics-listen` exports.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::Shared;

/// What the server counts for its live metrics.
#[derive(Default)]
pub(crate) struct Counters {
    pub logins_admitted: AtomicU64,
    pub logins_refused_sig_invalidated: AtomicU64,
    /// Kicks delivered to sessions, by [`crate::policy::KickType::index`].
    pub kicks: [AtomicU64; 4],
    pub refused_at_limit: AtomicU64,
}

/// A reading of the server's gauges and counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerStats {
    pub websocket_connections: usize,
    pub tcp_connections: usize,
    pub partial_message_bytes: usize,
    pub shed_by_frame_budget: u64,
    pub refused_at_limit: u64,
    pub logins_admitted: u64,
    pub logins_refused_sig_invalidated: u64,
    /// By kick type, in [`crate::policy::KickType::ALL`] order.
    pub kicks: [u64; 4],
}

/// A handle that reads [`ServerStats`] while the server runs (for a metrics endpoint).
#[derive(Clone)]
pub struct StatsSource(pub(super) Arc<Shared>);

impl StatsSource {
    /// Admit one more TCP connection (a metrics scrape) within the server's
    /// `--max-connections`: it is counted with the WebSocket and REST ones while open.
    pub fn admit(&self) -> Option<Box<dyn Send + Sync>> {
        let s = &self.0;
        (s.tcp_conns.load(Ordering::Relaxed) < s.max_conns)
            .then(|| Box::new(super::accept::ConnToken::new(s)) as Box<dyn Send + Sync>)
    }

    /// The server's `--request-timeout`, which a scrape shares.
    pub fn request_timeout(&self) -> std::time::Duration {
        self.0.config.limits.request_timeout
    }

    pub fn read(&self) -> ServerStats {
        let s = &self.0;
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ServerStats {
            websocket_connections: s.open_conns.load(Ordering::Relaxed),
            tcp_connections: s.tcp_conns.load(Ordering::Relaxed),
            partial_message_bytes: s.frames.total(),
            shed_by_frame_budget: s.frames.shed.load(Ordering::Relaxed) as u64,
            refused_at_limit: r(&s.stats.refused_at_limit),
            logins_admitted: r(&s.stats.logins_admitted),
            logins_refused_sig_invalidated: r(&s.stats.logins_refused_sig_invalidated),
            kicks: [
                r(&s.stats.kicks[0]),
                r(&s.stats.kicks[1]),
                r(&s.stats.kicks[2]),
                r(&s.stats.kicks[3]),
            ],
        }
    }
}
