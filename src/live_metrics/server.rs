//! The reference server's live metrics (`serve --metrics-listen`), read from the server's
//! counters and gauges at each scrape.

use std::net::SocketAddr;
use std::sync::Arc;

use super::*;

/// The server's login latency, read from its atomics at each scrape.
struct LoginHistogram(crate::server::StatsSource);

impl std::fmt::Debug for LoginHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginHistogram")
    }
}

impl prometheus_client::encoding::EncodeMetric for LoginHistogram {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        let s = self.0.read();
        let bounds = crate::server::LOGIN_BUCKETS_US
            .iter()
            .map(|us| *us as f64 / 1e6)
            .chain(std::iter::once(f64::MAX));
        let buckets: Vec<(f64, u64)> = bounds.zip(s.login_buckets).collect();
        let count = s.login_buckets.iter().sum();
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            s.login_sum_us as f64 / 1e6,
            count,
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        prometheus_client::metrics::MetricType::Histogram
    }
}

/// The reference server's live metrics, read from `stats` at each scrape.
pub fn serve_server(
    addr: SocketAddr,
    stats: crate::server::StatsSource,
) -> anyhow::Result<SocketAddr> {
    let mut registry = Registry::with_prefix("loginstorm_server");
    let gauge = |registry: &mut Registry, name: &str, help: &str| {
        let g = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        registry.register(name, help, g.clone());
        g
    };
    let ws = gauge(
        &mut registry,
        "websocket_connections",
        "Open WebSocket connections",
    );
    let tcp = gauge(
        &mut registry,
        "tcp_connections",
        "Open TCP connections of any kind",
    );
    let partial = gauge(
        &mut registry,
        "partial_message_bytes",
        "Bytes of partly received WebSocket messages held (against --frame-budget)",
    );
    // Counters kept by the server, exported as they stand at each scrape.
    let counters = Family::<ByCounter, PCounter>::default();
    registry.register(
        "events",
        "Logins admitted, logins refused because an admin kick invalidated the sig (70052), connections shed or refused",
        counters.clone(),
    );
    let kicks = Family::<ByKick, PCounter>::default();
    registry.register(
        "kicks",
        "Kicks delivered to sessions, by kick type",
        kicks.clone(),
    );
    registry.register(
        "login_seconds",
        "Logins whose UserSig verified, from the login frame's receipt to the server's decision (admitted, or refused because an admin kick invalidated the sig), seconds",
        LoginHistogram(stats.clone()),
    );
    let set = |c: &PCounter, v: u64| {
        let now = c.get();
        if v > now {
            c.inc_by(v - now);
        }
    };
    let source = stats.clone();
    let refresh = move || {
        let s = source.read();
        ws.set(s.websocket_connections as i64);
        tcp.set(s.tcp_connections as i64);
        partial.set(s.partial_message_bytes as i64);
        for (name, v) in [
            ("logins_admitted", s.logins_admitted),
            (
                "logins_refused_sig_invalidated",
                s.logins_refused_sig_invalidated,
            ),
            ("shed_by_frame_budget", s.shed_by_frame_budget),
            ("refused_at_connection_limit", s.refused_at_limit),
        ] {
            set(&counters.get_or_create(&ByCounter { counter: name }), v);
        }
        for (k, v) in crate::policy::KickType::ALL.iter().zip(s.kicks) {
            set(&kicks.get_or_create(&ByKick { kick: k.name() }), v);
        }
    };
    // The server's own budgets: scrapes count against --max-connections and share
    // --request-timeout.
    let timeout = stats.request_timeout();
    let admit = move || stats.admit();
    serve(
        addr,
        Arc::new(registry),
        Arc::new(refresh),
        Budget {
            admit: Arc::new(admit),
            timeout,
        },
    )
}
