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
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("application/openmetrics-text"), "{out}");
    out
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
    assert_eq!(run.wait().unwrap().code(), Some(0));
    server.kill().unwrap();
    let _ = server.wait();
}
