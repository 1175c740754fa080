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

mod http;
mod server;
use http::Slot;
pub use http::{
    parse_listen, prometheus_text, serve, Budget, ListenError, RUN_MAX_SCRAPERS, RUN_SCRAPE_TIMEOUT,
};
pub use server::serve_server;

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

impl RunMetrics {
    /// Keep the live metrics up for `d` after the run (its final figures in them, `run_finished` 1)
    /// so a scraper's next pass sees the end; Ctrl-C or SIGTERM ends the wait.
    pub fn linger(&self, d: std::time::Duration) {
        self.finished();
        if d.is_zero() {
            return;
        }
        eprintln!(
            "metrics stay up {} more for a last scrape (--metrics-linger; Ctrl-C ends it)",
            crate::units::format_duration(d)
        );
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            #[cfg(unix)]
            let term = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let term = std::future::pending::<()>();
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = tokio::signal::ctrl_c() => {}
                _ = term => {}
            }
        });
    }
}
