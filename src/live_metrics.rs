//! Live metrics in the OpenMetrics / Prometheus text format (`prometheus-client`), served on
//! `GET /metrics` by `run --metrics-listen ADDR` and `serve --metrics-listen ADDR` while they
//! run. The generator's figures are fed from each one-second interval, so they agree with
//! `timeseries.csv`; the server's are read when scraped. docs/reports.md lists every metric and
//! a set of queries for Grafana.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter as PCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::checks::Class;
use crate::model::{Counter, Metric, Tick};

/// Latency buckets, in seconds: 100 µs to 10 s, about ×2.5 apart.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByCounter {
    counter: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByKick {
    kick: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByCheck {
    check: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByMetric {
    metric: &'static str,
}

type F64Gauge = Gauge<f64, AtomicU64>;

/// The generator's live metrics.
pub struct RunMetrics {
    registry: Arc<Registry>,
    counters: Family<ByCounter, PCounter>,
    kicks: Family<ByKick, PCounter>,
    violations: Family<ByCheck, PCounter>,
    latency: Family<ByMetric, Histogram>,
    live: Gauge,
    offered: F64Gauge,
    finished: Gauge,
    stages: Vec<crate::scenario::Stage>,
}

/// Every counter of `counters.csv`, exported as `loginstorm_events_total{counter="NAME"}`.
const EXPORTED: [Counter; Counter::ALL.len()] = Counter::ALL;

impl RunMetrics {
    pub fn new(scenario: &str, stages: Vec<crate::scenario::Stage>) -> RunMetrics {
        let mut registry = Registry::with_prefix_and_labels(
            "loginstorm",
            [(
                std::borrow::Cow::Borrowed("scenario"),
                std::borrow::Cow::Owned(scenario.to_string()),
            )]
            .into_iter(),
        );
        let counters = Family::<ByCounter, PCounter>::default();
        registry.register(
            "events",
            "What the generator counted, by counter name (as in counters.csv)",
            counters.clone(),
        );
        let kicks = Family::<ByKick, PCounter>::default();
        registry.register(
            "kicks",
            "kickedOut events received, by kick type",
            kicks.clone(),
        );
        let violations = Family::<ByCheck, PCounter>::default();
        registry.register(
            "violations",
            "Policy violations and warnings found, by check",
            violations.clone(),
        );
        let latency = Family::<ByMetric, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS.iter().copied())
        });
        registry.register_with_unit(
            "latency",
            "Latencies by metric (as in summary.csv)",
            prometheus_client::registry::Unit::Seconds,
            latency.clone(),
        );
        let live = Gauge::default();
        registry.register(
            "live_sessions",
            "Instances in the ready state",
            live.clone(),
        );
        let offered = F64Gauge::default();
        registry.register(
            "offered_arrivals_per_second",
            "Open model: arrivals per second the plan offers now (0 in the closed model)",
            offered.clone(),
        );
        let finished = Gauge::default();
        registry.register(
            "run_finished",
            "1 once the run ended and every figure here is final (the endpoint lingers for a last scrape)",
            finished.clone(),
        );
        // Every series exists from the first scrape (at 0), not only once something happened.
        for c in EXPORTED {
            let _ = counters.get_or_create(&ByCounter { counter: c.name() });
        }
        for k in crate::policy::KickType::ALL {
            let _ = kicks.get_or_create(&ByKick { kick: k.name() });
        }
        for c in Class::ALL {
            let _ = violations.get_or_create(&ByCheck { check: c.name() });
        }
        for m in Metric::ALL {
            let _ = latency.get_or_create(&ByMetric { metric: m.name() });
        }
        RunMetrics {
            registry: Arc::new(registry),
            counters,
            kicks,
            violations,
            latency,
            live,
            offered,
            finished,
            stages,
        }
    }

    /// Add what `total` has beyond what was `fed` (a `--processes` parent: the merged run's
    /// figures against the intervals it read as the children ran), so the final figures are
    /// the merged run's exactly.
    pub fn catch_up(&self, fed: &crate::model::Snapshot, total: &crate::model::Snapshot) {
        let mut rest = crate::model::Snapshot::default();
        for c in Counter::ALL {
            rest.counters[c as usize] = total.get(c).saturating_sub(fed.get(c));
        }
        for c in Class::ALL {
            rest.violations[c.index()] = total.violations(c).saturating_sub(fed.violations(c));
        }
        for m in Metric::ALL {
            let mut h = total.hist(m).clone();
            if h.subtract(fed.hist(m)).is_ok() {
                rest.hist[m as usize] = h;
            }
        }
        self.update(&Tick {
            at: std::time::Duration::ZERO,
            span: std::time::Duration::ZERO,
            live: 0,
            interval: &rest,
            totals: total,
        });
        // The run is over: nothing is offered any more.
        self.offered.set(0.0);
    }

    /// The run ended: every figure is final.
    pub fn finished(&self) {
        self.finished.set(1);
    }

    /// Add one interval.
    pub fn update(&self, t: &Tick) {
        let i = t.interval;
        for c in EXPORTED {
            let n = i.get(c);
            let f = self
                .counters
                .get_or_create(&ByCounter { counter: c.name() });
            if n > 0 {
                f.inc_by(n);
            }
        }
        for (c, k) in [
            Counter::KicksMultipleAccount,
            Counter::KicksMultipleDevice,
            Counter::KicksUserSigExpired,
            Counter::KicksRestApi,
        ]
        .into_iter()
        .zip(crate::policy::KickType::ALL)
        {
            self.kicks
                .get_or_create(&ByKick { kick: k.name() })
                .inc_by(i.get(c));
        }
        for c in Class::ALL {
            self.violations
                .get_or_create(&ByCheck { check: c.name() })
                .inc_by(i.violations(c));
        }
        for m in Metric::ALL {
            let h = self.latency.get_or_create(&ByMetric { metric: m.name() });
            for v in i.hist(m).iter_recorded() {
                let secs = v.value_iterated_to() as f64 / 1e6;
                for _ in 0..v.count_at_value() {
                    h.observe(secs);
                }
            }
        }
        self.live.set(t.live.max(0));
        self.offered
            .set(crate::scenario::rate_at(&self.stages, t.at));
    }

    /// A run's metrics, served on `addr` (if given) from now on; the bound address is printed
    /// on stderr (`metrics on http://…/metrics`), as scripts and tests read it.
    pub fn start(
        addr: Option<SocketAddr>,
        scenario: &str,
        stages: Vec<crate::scenario::Stage>,
    ) -> anyhow::Result<Option<RunMetrics>> {
        let Some(addr) = addr else { return Ok(None) };
        let m = RunMetrics::new(scenario, stages);
        let bound = m.serve(addr)?;
        eprintln!("metrics on http://{bound}/metrics");
        Ok(Some(m))
    }

    /// Serve `GET /metrics` on `addr` until the process ends.
    pub fn serve(&self, addr: SocketAddr) -> anyhow::Result<SocketAddr> {
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let admit = move || -> Option<Box<dyn Send + Sync>> {
            Slot::take(&open, RUN_MAX_SCRAPERS).map(|s| Box::new(s) as Box<dyn Send + Sync>)
        };
        serve(
            addr,
            self.registry.clone(),
            Arc::new(|| {}),
            Budget {
                admit: Arc::new(admit),
                timeout: RUN_SCRAPE_TIMEOUT,
            },
        )
    }
}

/// How long a run's metrics stay up after it ended, by default: long enough for one more scrape
/// at Prometheus's common 15 s interval, so the final figures are seen (`--metrics-linger`).
pub const DEFAULT_LINGER: std::time::Duration = std::time::Duration::from_secs(20);

/// An address as `--metrics-listen` takes it: `HOST:PORT` (a name is resolved, its first
/// address used), an IP address and port, or `:PORT` for every interface (as Prometheus
/// exporters write it).
pub fn parse_listen(s: &str) -> Result<SocketAddr, ListenError> {
    use std::net::ToSocketAddrs;
    let spec = match s.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => s.to_string(),
    };
    let (_, port) = spec
        .rsplit_once(':')
        .ok_or_else(|| ListenError(s.into(), "give HOST:PORT or :PORT".into()))?;
    port.parse::<u16>()
        .map_err(|_| ListenError(s.into(), format!("{port:?} is not a port (0-65535)")))?;
    spec.to_socket_addrs()
        .map_err(|e| ListenError(s.into(), format!("cannot resolve the host: {e}")))?
        .next()
        .ok_or_else(|| ListenError(s.into(), "the host has no address".into()))
}

/// A `--metrics-listen` value that is not an address.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0:?}: {1}")]
pub struct ListenError(pub String, pub String);

/// Scrapers a run's endpoint serves at once (Prometheus is one; a dashboard or two more).
pub const RUN_MAX_SCRAPERS: usize = 64;
/// How long a scrape of a run's endpoint may take, from accept to the answer sent.
pub const RUN_SCRAPE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a metrics endpoint's connections may take: `admit` gives a connection its place (a
/// guard held while it is open) or refuses it, and each connection — the request read, the
/// answer written — must be done within `timeout`. One request a connection (no keep-alive):
/// an idle scraper holds nothing.
pub struct Budget {
    pub admit: Arc<dyn Fn() -> Option<Box<dyn Send + Sync>> + Send + Sync>,
    pub timeout: std::time::Duration,
}

/// One of at most `max` places, released on drop.
struct Slot(Arc<std::sync::atomic::AtomicUsize>);

impl Slot {
    fn take(open: &Arc<std::sync::atomic::AtomicUsize>, max: usize) -> Option<Slot> {
        use std::sync::atomic::Ordering;
        if open.fetch_add(1, Ordering::AcqRel) < max {
            Some(Slot(open.clone()))
        } else {
            open.fetch_sub(1, Ordering::AcqRel);
            None
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Serve the registry's text on `GET /metrics` at `addr` from a thread of its own; `refresh`
/// runs before each scrape (to read gauges). Returns the bound address.
pub fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    refresh: Arc<dyn Fn() + Send + Sync>,
    budget: Budget,
) -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("--metrics-listen {addr}: {e}"))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("loginstorm-metrics".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return eprintln!("warning: metrics endpoint not started: {e}"),
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    };
                    // Over the budget: closed at once, before a byte is read.
                    let Some(place) = (budget.admit)() else {
                        drop(stream);
                        continue;
                    };
                    let (registry, refresh) = (registry.clone(), refresh.clone());
                    let timeout = budget.timeout;
                    tokio::spawn(async move {
                        let _place = place;
                        let service = hyper::service::service_fn(move |req| {
                            let (registry, refresh) = (registry.clone(), refresh.clone());
                            async move {
                                Ok::<_, std::convert::Infallible>(answer(
                                    &req, &registry, &*refresh,
                                ))
                            }
                        });
                        let mut b = hyper::server::conn::http1::Builder::new();
                        b.timer(hyper_util::rt::TokioTimer::new())
                            .header_read_timeout(timeout)
                            .keep_alive(false)
                            .max_buf_size(16 * 1024);
                        let conn =
                            b.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                        let _ = tokio::time::timeout(timeout, conn).await;
                    });
                }
            });
        })?;
    Ok(bound)
}

fn answer(
    req: &hyper::Request<hyper::body::Incoming>,
    registry: &Registry,
    refresh: &(dyn Fn() + Send + Sync),
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    use hyper::header::{HeaderValue, CONTENT_TYPE};
    let mut r = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::new()));
    if req.uri().path() != "/metrics" {
        *r.status_mut() = hyper::StatusCode::NOT_FOUND;
        *r.body_mut() =
            http_body_util::Full::new(bytes::Bytes::from_static(b"metrics are on GET /metrics\n"));
        return r;
    }
    refresh();
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, registry).is_err() {
        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        return r;
    }
    // OpenMetrics for a scraper that asks for it (Prometheus does); the Prometheus text format
    // 0.0.4 for anyone else (curl, promtool, older scrapers).
    let openmetrics = req
        .headers()
        .get_all(hyper::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let (content_type, text) = if openmetrics {
        (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            text,
        )
    } else {
        (
            "text/plain; version=0.0.4; charset=utf-8",
            prometheus_text(&text),
        )
    };
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    *r.body_mut() = http_body_util::Full::new(bytes::Bytes::from(text));
    r
}

/// OpenMetrics text as the Prometheus text format 0.0.4: a counter's HELP and TYPE name its
/// samples (`…_total`), and the `# UNIT` and `# EOF` lines that format does not have go.
pub fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|p| {
            let rest = line.strip_prefix(p)?;
            let (name, tail) = rest.split_once(' ')?;
            (counters.contains(name) && !name.ends_with("_total"))
                .then(|| format!("{p}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
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
