//! The verdict from the failure side: a backend that is dead, refuses every login, never
//! answers, or kicks where the policy admits never passes — and says why.

use crate::util::{run_bin, spawn_serve_with, spawn_silent_backend, TempDir};
use std::time::Duration;

fn junit(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("junit.xml")).unwrap()
}

#[test]
fn a_target_killed_half_a_second_in_fails_as_lost() {
    let tmp = TempDir::new();
    let (mut server, url) = spawn_serve_with(&[]);
    let out = tmp.path().to_path_buf();
    let run =
        std::thread::spawn(move || run_bin(&["scenarios/smoke.toml", "--target", &url], &out));
    std::thread::sleep(Duration::from_millis(500));
    server.kill().unwrap();
    server.wait().unwrap();
    let (code, stdout, dir) = run.join().unwrap();
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("verdict: FAIL"), "{stdout}");
    assert!(stdout.contains("target lost"), "{stdout}");
    let j = junit(&dir);
    assert!(
        j.contains("name=\"run\"") && j.contains("<failure message=\"target lost"),
        "{j}"
    );
}

#[test]
fn a_backend_that_refuses_every_login_fails() {
    let tmp = TempDir::new();
    let (mut server, url) = spawn_serve_with(&["--key", "another-key"]);
    let (code, stdout, _) = run_bin(
        &[
            "scenarios/smoke.toml",
            "--target",
            &url,
            "--set",
            "cycle.cycles=1",
        ],
        tmp.path(),
    );
    server.kill().unwrap();
    let _ = server.wait();
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("no login succeeded"), "{stdout}");
    assert!(
        stdout.contains("operations failed or timed out"),
        "{stdout}"
    );
}

#[test]
fn a_backend_that_never_answers_fails_and_its_error_rate_has_timeouts() {
    let tmp = TempDir::new();
    let url = spawn_silent_backend();
    let (code, stdout, dir) = run_bin(
        &[
            "scenarios/smoke.toml",
            "--target",
            &url,
            "--set",
            "cycle.cycles=1",
            "--set",
            "timeouts.login=300ms",
            "--threshold",
            "login.error_rate < 0.1%",
        ],
        tmp.path(),
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("no login succeeded"), "{stdout}");
    let t = std::fs::read_to_string(dir.join("thresholds.csv")).unwrap();
    assert!(t.contains("login.error_rate < 0.1%,1,false"), "{t}");
    // Nothing was kicked or probed: the kick invariants were not judged, and junit says so.
    assert!(junit(&dir).contains("<skipped"), "{}", junit(&dir));
}

#[test]
fn a_backend_with_a_stricter_limit_than_the_policy_fails_on_excess_kicks() {
    let tmp = TempDir::new();
    let (mut server, url) = spawn_serve_with(&["--limits", "Web=1"]);
    let (code, stdout, dir) = run_bin(
        &[
            "scenarios/kick-storm.toml",
            "--target",
            &url,
            "--set",
            "accounts.count=20",
            "--set",
            "cycle.cycles=2",
        ],
        tmp.path(),
    );
    server.kill().unwrap();
    let _ = server.wait();
    assert_eq!(code, Some(1), "{stdout}");
    // Three kicks a wave where two are the most any order explains: one excess per wave.
    assert!(stdout.contains("excess_kick 40"), "{stdout}");
    assert!(stdout.contains("kick_count 40"), "{stdout}");
    let v = std::fs::read_to_string(dir.join("violations.csv")).unwrap();
    assert!(
        v.lines()
            .any(|l| l.starts_with("kick_count,error,") && l.contains("3 kicks")),
        "{v}"
    );
}

/// `arrivals_unsent` from the failure side: a generator whose pacers stall (a test build's
/// fault switch; a stalled pacer once let a 40,000-arrival run pass after 13 cycles) leaves
/// the schedule's arrivals unsent, and the run fails naming the generator, though every cycle
/// it did send passed; the same run with its pacers sound passes (no false alarm).
#[test]
fn a_generator_that_stops_sending_its_arrivals_fails_the_run() {
    let scenario = "[accounts]\ncount = 50\n[cycle]\nhold = \"0\"\n[load]\nmodel = \"open\"\nstages = \"200,1ms;200,2s\"\n";
    let run = |stall: Option<&str>| {
        let tmp = TempDir::new();
        let path = tmp.path().join("open.toml");
        std::fs::write(&path, scenario).unwrap();
        let out = tmp.path().join("out");
        let mut cmd = crate::util::bin();
        cmd.arg("run")
            .arg(&path)
            .args(["--quiet", "--out"])
            .arg(&out);
        if let Some(k) = stall {
            cmd.env("LOGINSTORM_TEST_PACER_STALLS_AFTER", k);
        }
        let o = cmd.output().unwrap();
        let dir = crate::util::only_report_dir(&out);
        let counters = std::fs::read_to_string(dir.join("counters.csv")).unwrap();
        let unsent: u64 = counters
            .lines()
            .find_map(|l| l.strip_prefix("arrivals_unsent,"))
            .unwrap_or_else(|| panic!("{counters}"))
            .parse()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            unsent,
            tmp,
        )
    };
    let (code, stdout, unsent, _tmp) = run(None);
    assert_eq!((code, unsent), (Some(0), 0), "{stdout}");
    assert!(stdout.contains("verdict: PASS"), "{stdout}");
    // Each worker's pacer sends one arrival and stalls: of the ~380 due more than 100 ms
    // before the end, at most one a worker was sent.
    let (code, stdout, unsent, _tmp) = run(Some("1"));
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        unsent >= 370u64.saturating_sub(workers),
        "unsent {unsent}: {stdout}"
    );
    assert!(stdout.contains("verdict: FAIL"), "{stdout}");
    assert!(
        stdout.contains("never sent") && stdout.contains("arrivals_unsent"),
        "{stdout}"
    );
}
