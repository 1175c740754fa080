//! `run --processes`: the parent that starts its shards, watches them and merges them, from
//! the failure side — a shard killed, stopped or interrupted, a Ctrl-C while the shards start —
//! and frame tracing through it.

use crate::shards::{long, read, text, write, CLOSED};
use crate::util::{bin, interrupt, TempDir};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

/// `run --processes N` into `dir`, its output piped.
fn spawn_processes(scenario: &Path, dir: &Path, n: u32) -> Child {
    bin()
        .arg("run")
        .arg(scenario)
        .args(["--processes", &n.to_string(), "--quiet", "--report-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The pid of the second of two `--processes` children, once it reports (Linux's list of the
/// parent's children).
fn second_child(parent: &Child, dir: &Path) -> String {
    let children = format!("/proc/{0}/task/{0}/children", parent.id());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let listed = std::fs::read_to_string(&children).unwrap_or_default();
        let pids: Vec<&str> = listed.split_whitespace().collect();
        if pids.len() == 2 && dir.join("shards/shard-1/intervals.jsonl").exists() {
            return pids[1].to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "children never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_shard_killed_under_run_processes_makes_the_run_incomplete() {
    let tmp = TempDir::new();
    let long = long(&tmp, "4s");
    let dir = tmp.path().join("procs");
    let parent = spawn_processes(&long, &dir, 2);
    // Find a child (this is Linux's list of the parent's children) and kill it outright.
    let pid = second_child(&parent, &dir);
    std::thread::sleep(Duration::from_millis(1200));
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    let o = parent.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("verdict: INCOMPLETE") && text(&o).contains("did not finish"),
        "{}",
        text(&o)
    );
}

#[test]
fn ctrl_c_under_run_processes_reaches_every_shard_and_still_merges() {
    let tmp = TempDir::new();
    let long = long(&tmp, "30s");
    let dir = tmp.path().join("procs");
    let parent = spawn_processes(&long, &dir, 2);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !(0..2).all(|i| {
        dir.join(format!("shards/shard-{i}/intervals.jsonl"))
            .metadata()
            .is_ok_and(|m| m.len() > 0)
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "shards never reported"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The parent alone gets the signal (its children are in their own process group, as a
    // terminal's Ctrl-C would leave them); it must pass it on, wait, and merge.
    interrupt(parent.id());
    let o = parent.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("verdict: INCOMPLETE — the run was interrupted"),
        "{}",
        text(&o)
    );
    for d in [
        dir.join("shards/shard-0"),
        dir.join("shards/shard-1"),
        dir.clone(),
    ] {
        let j: serde_json::Value = serde_json::from_str(&read(&d, "run.json")).unwrap();
        assert_eq!(j["outcome"], "interrupted", "{}", d.display());
    }
}

/// A Ctrl-C that reaches the parent after it started its shards but before its watch could
/// take signals (a test build holds that window open) is counted, not fatal: once the watch
/// begins it is passed on, and the shards' reports are merged into an interrupted run. Were the
/// signal's default action to kill the parent, the shards would get their death signal and no
/// merged report would be written.
#[test]
fn ctrl_c_while_run_processes_starts_its_shards_still_merges() {
    let tmp = TempDir::new();
    let long = long(&tmp, "30s");
    let dir = tmp.path().join("procs");
    let mut parent = bin()
        .env("LOGINSTORM_TEST_PARENT_WAITS_MS", "1500")
        .arg("run")
        .arg(&long)
        .args(["--processes", "2", "--quiet", "--report-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(parent.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("shard processes started") {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            panic!("the parent ended before starting its shards: {seen}");
        }
        seen.push_str(&line);
    }
    interrupt(parent.id());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let o = parent.wait_with_output().unwrap();
    let all = format!("{seen}{rest}\n{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(
        all.contains("verdict: INCOMPLETE — the run was interrupted"),
        "{all}"
    );
    let j: serde_json::Value = serde_json::from_str(&read(&dir, "run.json")).unwrap();
    assert_eq!(j["outcome"], "interrupted", "{all}");
}

#[test]
fn a_hung_shard_under_run_processes_is_killed_at_its_deadline_and_the_run_is_incomplete() {
    let tmp = TempDir::new();
    let scenario = write(
        &tmp,
        "hang.toml",
        &format!(
            "{}[timeouts]\ngraceful_stop = \"1s\"\n",
            CLOSED
                .replace("cycles = 2", "cycles = 0")
                .replace("ramp = 500.0", "ramp = 500.0\nduration = \"2s\"")
        ),
    );
    let dir = tmp.path().join("procs");
    let started = std::time::Instant::now();
    let parent = spawn_processes(&scenario, &dir, 2);
    let pid = second_child(&parent, &dir);
    // Stopped, not killed: it holds its sockets and never exits by itself.
    let _ = std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status();
    let o = parent.wait_with_output().unwrap();
    // 2 s planned + 1 s graceful stop + 15 s margin (+ 1 ms an account), and some slack.
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("killed") && text(&o).contains("verdict: INCOMPLETE"),
        "{}",
        text(&o)
    );
}

#[test]
fn trace_frames_under_run_processes_traces_shard_zeros_first_instance() {
    let tmp = TempDir::new();
    let scenario = write(&tmp, "closed.toml", CLOSED);
    let dir = tmp.path().join("procs");
    let o = bin()
        .arg("run")
        .arg(&scenario)
        .args([
            "--processes",
            "2",
            "--quiet",
            "--trace-frames",
            "--report-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let frames = read(&dir.join("shards/shard-0"), "frames.log");
    assert!(frames.contains(" > ") && frames.contains(" < "), "{frames}");
    assert!(frames.contains("<sig sha256:"), "{frames}");
    // The upgrade comes first, both ways.
    assert!(
        frames.contains("HTTP upgrade request:\nGET /ws HTTP/1.1")
            && frames.contains("HTTP upgrade response:\nHTTP/1.1 101"),
        "{frames}"
    );
    assert!(!dir.join("shards/shard-1/frames.log").exists());
}
