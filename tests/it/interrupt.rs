//! A run that ends before its time still leaves its reports: interrupted (Ctrl-C, SIGTERM) —
//! before its load starts or during it — or with its target gone; and a second Ctrl-C exits at
//! once.

use crate::util::{bin, interrupt, only_report_dir, run_json, spawn_serve, TempDir};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// `loginstorm run --quiet [TARGET] --out OUT SCENARIO`, its stdout and stderr piped.
fn spawn_run(target: Option<&str>, out: &Path, scenario: &Path) -> Child {
    let mut cmd = bin();
    cmd.args(["run", "--quiet"]);
    if let Some(url) = target {
        cmd.args(["--target", url]);
    }
    cmd.arg("--out")
        .arg(out)
        .arg(scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait until the run writing under `out` has had its first second of load (the first row of
/// its timeseries.csv): its signal handlers are in place and its target is in use. The bound
/// only ends the loop.
fn wait_for_load(out: &std::path::Path) {
    for _ in 0..3000 {
        let first_row = std::fs::read_dir(out).ok().and_then(|mut d| {
            let dir = d.next()?.ok()?.path();
            let text = std::fs::read_to_string(dir.join("timeseries.csv")).ok()?;
            (text.lines().count() >= 2).then_some(())
        });
        if first_row.is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the run under {} never began its load", out.display());
}

/// A minute of 20 accounts × 2 Web instances cycling on kept connections: a run to cut short.
fn long_scenario(tmp: &TempDir) -> std::path::PathBuf {
    let path = tmp.path().join("long.toml");
    std::fs::write(
        &path,
        "[accounts]\ncount = 20\ninstances = \"Web*2\"\n[cycle]\ncycles = 0\nhold = \"50ms\"\nthink = \"fixed:20ms\"\n[load]\nduration = \"60s\"\n[timeouts]\nconnect = \"500ms\"\n",
    )
    .unwrap();
    path
}

#[test]
fn an_interrupted_run_still_leaves_its_reports() {
    let tmp = TempDir::new();
    let scenario = long_scenario(&tmp);
    let out_dir = tmp.path().join("out");
    let child = spawn_run(None, &out_dir, &scenario);
    wait_for_load(&out_dir);
    interrupt(child.id());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("run interrupted"));
    let dir = only_report_dir(&out_dir);
    assert_eq!(run_json(&dir)["outcome"], "interrupted");
    let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    // The header and one row per metric.
    assert_eq!(
        summary.lines().count(),
        1 + loginstorm::model::Metric::ALL.len(),
        "{summary}"
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<failure message=\"the run was interrupted before its end"),
        "{junit}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("verdict: INCOMPLETE"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_target_that_dies_mid_run_is_reported_as_lost() {
    let tmp = TempDir::new();
    let scenario = long_scenario(&tmp);
    let out_dir = tmp.path().join("out");
    let (mut server, url) = spawn_serve();
    let child = spawn_run(Some(&url), &out_dir, &scenario);
    wait_for_load(&out_dir);
    server.kill().unwrap();
    server.wait().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let dir = only_report_dir(&out_dir);
    assert_eq!(run_json(&dir)["outcome"], "target_lost");
    assert!(dir.join("kicks.csv").is_file());
}

#[test]
fn a_second_interrupt_exits_at_once() {
    let tmp = TempDir::new();
    // Every login waits 20 s for sdkStateReady, so the wind-down after the first Ctrl-C waits
    // (graceful_stop 30 s) for cycles that are still running.
    let path = tmp.path().join("slow.toml");
    std::fs::write(
        &path,
        "[server]\nready_delay = \"20s\"\n[accounts]\ncount = 4\n[cycle]\ncycles = 0\n[load]\nduration = \"60s\"\n[timeouts]\nready = \"30s\"\ngraceful_stop = \"30s\"\n",
    )
    .unwrap();
    let mut child = spawn_run(None, &tmp.path().join("out"), &path);
    wait_for_load(&tmp.path().join("out"));
    interrupt(child.id());
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "still winding down");
    interrupt(child.id());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no forced exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("second interrupt"), "{err}");
}

/// A Ctrl-C before the load starts — here while the preflight's connection waits for its
/// upgrade, held by a proxy until the signal was sent — ends the run as interrupted with its
/// reports, not with the process killed and run.json saying `running`.
#[test]
fn an_interrupt_before_the_load_still_leaves_its_reports() {
    let tmp = TempDir::new();
    let (mut server, url) = spawn_serve();
    let backend = url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("ws://{}/ws", listener.local_addr().unwrap());
    let (held_tx, held) = mpsc::channel::<()>();
    let (go, go_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        for (i, client) in listener.incoming().enumerate() {
            let Ok(client) = client else { break };
            if i == 0 {
                let _ = held_tx.send(());
                let _ = go_rx.recv_timeout(Duration::from_secs(30));
            }
            let Ok(up) = TcpStream::connect(&backend) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), up.try_clone().unwrap()),
                (up, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    let out_dir = tmp.path().join("out");
    let child = spawn_run(Some(&target), &out_dir, &long_scenario(&tmp));
    held.recv_timeout(Duration::from_secs(30))
        .expect("the run's preflight connection came");
    interrupt(child.id());
    // Let the signal land while the preflight is still held, then let it through.
    std::thread::sleep(Duration::from_millis(200));
    let _ = go.send(());
    let out = child.wait_with_output().unwrap();
    // Before any assertion, so a failing one leaves no server behind.
    server.kill().unwrap();
    server.wait().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("run interrupted"), "{stdout}");
    assert!(stdout.contains("verdict: INCOMPLETE"), "{stdout}");
    let dir = only_report_dir(&out_dir);
    let run = run_json(&dir);
    assert_eq!(run["outcome"], "interrupted");
    assert!(dir.join("summary.csv").is_file() && dir.join("junit.xml").is_file());
}
