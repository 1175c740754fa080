//! The metrics endpoints over HTTP: their address (`--metrics-listen`), their budget (how many
//! scrapes at once, how long each), and the format each scraper gets (OpenMetrics when asked,
//! the Prometheus text format otherwise).

use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;

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
pub(super) struct Slot(Arc<std::sync::atomic::AtomicUsize>);

impl Slot {
    pub(super) fn take(open: &Arc<std::sync::atomic::AtomicUsize>, max: usize) -> Option<Slot> {
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
