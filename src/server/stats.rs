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
    /// How long logins took to be decided.
    pub login: LoginLatency,
}

/// Upper bounds of the login latency's buckets, in microseconds (the last is +Inf).
pub const LOGIN_BUCKETS_US: [u64; 16] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000,
];

/// A histogram of login latencies, from the login frame's receipt to the server's decision
/// (admitted or refused): plain atomics, so the workers that record it share no lock.
#[derive(Default)]
pub(crate) struct LoginLatency {
    /// Per bucket of [`LOGIN_BUCKETS_US`], then one past the last bound.
    buckets: [AtomicU64; LOGIN_BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
}

impl LoginLatency {
    pub fn observe(&self, us: u64) {
        let i = LOGIN_BUCKETS_US
            .iter()
            .position(|b| us <= *b)
            .unwrap_or(LOGIN_BUCKETS_US.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The counts per bucket (not cumulative) and the sum, in microseconds.
    pub fn read(&self) -> ([u64; LOGIN_BUCKETS_US.len() + 1], u64) {
        let mut b = [0; LOGIN_BUCKETS_US.len() + 1];
        for (v, a) in b.iter_mut().zip(&self.buckets) {
            *v = a.load(Ordering::Relaxed);
        }
        (b, self.sum_us.load(Ordering::Relaxed))
    }
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
    /// Logins decided, per bucket of [`LOGIN_BUCKETS_US`] (then +Inf), not cumulative.
    pub login_buckets: [u64; LOGIN_BUCKETS_US.len() + 1],
    /// Their latencies' sum, in microseconds.
    pub login_sum_us: u64,
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
        let (login_buckets, login_sum_us) = s.stats.login.read();
        ServerStats {
            login_buckets,
            login_sum_us,
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
