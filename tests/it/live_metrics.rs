//! `--metrics-listen`: while `run` and `serve` run, GET /metrics answers OpenMetrics text with
//! the run's (and the server's) figures.

use crate::util::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Read the child's stderr until the `metrics on http://ADDR/metrics` line; ADDR.
fn metrics_addr(child: &mut std::process::Child) -> String {
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "no metrics line");
        if let Some(rest) = line.trim_end().strip_prefix("metrics on http://") {
            let addr = rest.strip_suffix("/metrics").unwrap().to_string();
            // Keep draining stderr so the child never blocks on it.
            std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
            return addr;
        }
    }
}

fn scrape(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text; version=1.0.0\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("application/openmetrics-text"), "{out}");
    out
}

/// A scrape that does not ask for OpenMetrics (curl, promtool): the Prometheus text format.
fn scrape_text(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

/// Scrape until the endpoint says the run is over (`run_finished` 1: every figure final);
/// bounded.
fn finished(addr: &str) -> String {
    let started = Instant::now();
    loop {
        let text = scrape(addr);
        if value(&text, "loginstorm_run_finished{scenario=\"smoke\"}") == 1.0 {
            return text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never finished:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Each named counter on the endpoint has the value the report's counters.csv has.
fn assert_final(text: &str, report: &std::path::Path, names: &[&str]) {
    let counters = std::fs::read_to_string(report.join("counters.csv")).unwrap();
    for name in names {
        let want: f64 = counters
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name},")))
            .unwrap_or_else(|| panic!("{name} in counters.csv"))
            .parse()
            .unwrap();
        let got = value(
            text,
            &format!("loginstorm_events_total{{scenario=\"smoke\",counter=\"{name}\"}}"),
        );
        assert_eq!(got, want, "{name}");
    }
}

/// The value of the first sample line starting with `prefix`.
fn value(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_run_and_a_server_serve_their_metrics_while_they_run() {
    let mut server = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--limits",
            "Web=3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let server_metrics = metrics_addr(&mut server);
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url_now = first
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let tmp = TempDir::new();
    let mut run = bin()
        .args([
            "run",
            "scenarios/kick-storm.toml",
            "--quiet",
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-linger",
            "0",
            "--target",
            &url_now,
            "--set",
            "policy.limits=\"Web=3\"",
            "--set",
            "accounts.count=20",
            "--set",
            "cycle.cycles=0",
            "--set",
            "load.duration=5s",
            "--out",
        ])
        .arg(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run_metrics = metrics_addr(&mut run);
    // Scrape until the run has logged in and been kicked (bounded: the run lasts 5 s).
    let started = Instant::now();
    let text = loop {
        let text = scrape(&run_metrics);
        if value(
            &text,
            "loginstorm_kicks_total{scenario=\"kick-storm\",kick=\"multipleAccount\"}",
        ) > 0.0
        {
            break text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no kicks seen:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        value(
            &text,
            "loginstorm_events_total{scenario=\"kick-storm\",counter=\"logins_ok\"}"
        ) > 0.0
    );
    assert!(text.contains(
        "loginstorm_latency_seconds_bucket{scenario=\"kick-storm\",le=\"0.001\",metric=\"login\"}"
    ));
    assert!(
        value(
            &text,
            "loginstorm_latency_seconds_count{scenario=\"kick-storm\",metric=\"login\"}"
        ) > 0.0
    );
    let s = scrape(&server_metrics);
    assert!(
        value(
            &s,
            "loginstorm_server_events_total{counter=\"logins_admitted\"}"
        ) > 0.0,
        "{s}"
    );
    assert!(
        value(
            &s,
            "loginstorm_server_kicks_total{kick=\"multipleAccount\"}"
        ) > 0.0,
        "{s}"
    );
    assert!(
        value(&s, "loginstorm_server_websocket_connections") > 0.0,
        "{s}"
    );
    // The server's login latency: a histogram whose buckets grow to its count, which is every
    // login it decided (each admitted here: nothing invalidated a sig).
    let count = value(&s, "loginstorm_server_login_seconds_count");
    assert!(count > 0.0, "{s}");
    let buckets: Vec<f64> = s
        .lines()
        .filter(|l| l.starts_with("loginstorm_server_login_seconds_bucket{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 17, "{s}");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{s}");
    assert_eq!(buckets[16], count, "{s}");
    assert!(
        s.contains("loginstorm_server_login_seconds_bucket{le=\"+Inf\"}"),
        "{s}"
    );
    assert!(
        value(&s, "loginstorm_server_login_seconds_sum") > 0.0,
        "{s}"
    );
    assert_eq!(run.wait().unwrap().code(), Some(0));
    // With the run over, every login the server decided is in the histogram.
    let s = scrape(&server_metrics);
    let decided = value(
        &s,
        "loginstorm_server_events_total{counter=\"logins_admitted\"}",
    ) + value(
        &s,
        "loginstorm_server_events_total{counter=\"logins_refused_sig_invalidated\"}",
    );
    assert_eq!(
        value(&s, "loginstorm_server_login_seconds_count"),
        decided,
        "{s}"
    );
    server.kill().unwrap();
    let _ = server.wait();
}

/// `run scenarios/smoke.toml` with 6 accounts, its endpoint on a free port lingering `linger`
/// after the run, `extra` arguments, its report in `report`; stderr piped for `metrics_addr`.
fn smoke_lingering(linger: &str, extra: &[&str], report: &std::path::Path) -> std::process::Child {
    bin()
        .args(["run", "scenarios/smoke.toml", "--quiet"])
        .args([
            "--metrics-listen",
            "localhost:0",
            "--metrics-linger",
            linger,
        ])
        .args(["--set", "accounts.count=6"])
        .args(extra)
        .arg("--report-dir")
        .arg(report)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// After the run the endpoint lingers (`--metrics-linger`) with every counter at its final
/// value — the figures counters.csv has — and `run_finished` 1, then the process exits.
#[test]
fn the_final_figures_outlive_the_run_for_a_last_scrape() {
    let tmp = TempDir::new();
    let mut run = smoke_lingering("3s", &[], &tmp.path().join("r"));
    let addr = metrics_addr(&mut run);
    let started = Instant::now();
    let text = finished(&addr);
    // Without an Accept for OpenMetrics: the Prometheus text format (what promtool lints),
    // a counter's HELP and TYPE naming its `_total` samples, no `# EOF`.
    let plain = scrape_text(&addr);
    assert!(plain.contains("text/plain; version=0.0.4"), "{plain}");
    assert!(
        plain.contains("# TYPE loginstorm_events_total counter"),
        "{plain}"
    );
    assert!(
        !plain.contains("# EOF") && !plain.contains("# UNIT"),
        "{plain}"
    );
    // Every counter of counters.csv is exported, at its final value.
    assert_final(
        &text,
        &tmp.path().join("r"),
        &[
            "logins_ok",
            "kicks_multipleAccount",
            "timeouts_login",
            "admin_kicks_failed",
            "cycles_completed",
        ],
    );
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// `run --processes 2 --metrics-listen`: one endpoint for the whole run, whose final figures
/// are the merged run's.
#[test]
fn run_processes_serves_one_aggregate_whose_end_is_the_merged_run() {
    let tmp = TempDir::new();
    let mut run = bin()
        .args([
            "run",
            "scenarios/smoke.toml",
            "--quiet",
            "--processes",
            "2",
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-linger",
            "3s",
            "--report-dir",
        ])
        .arg(tmp.path().join("r"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = metrics_addr(&mut run);
    let text = finished(&addr);
    assert_final(
        &text,
        &tmp.path().join("r"),
        &["logins_ok", "kicks_multipleAccount", "cycles_completed"],
    );
    assert!(matches!(run.wait().unwrap().code(), Some(0 | 1)));
}

/// An interrupted run still lingers for its last scrape, and the Ctrl-C that ends the linger
/// is not the "second interrupt" that gives up the report: the reports are written, the run
/// exits 1 (INCOMPLETE), not 130.
#[test]
fn a_ctrl_c_that_ends_the_linger_of_an_interrupted_run_gives_up_nothing() {
    let tmp = TempDir::new();
    let mut run = smoke_lingering(
        "60s",
        &["--set", "cycle.cycles=0", "--set", "load.duration=60s"],
        &tmp.path().join("r"),
    );
    let addr = metrics_addr(&mut run);
    crate::util::interrupt(run.id());
    // Lingering: every figure final.
    finished(&addr);
    crate::util::interrupt(run.id());
    let status = run.wait().unwrap();
    assert_eq!(status.code(), Some(1), "INCOMPLETE, not a forced exit");
    let run_json = std::fs::read_to_string(tmp.path().join("r/run.json")).unwrap();
    assert!(run_json.contains("\"interrupted\""), "{run_json}");
}
