//! `loginstorm search` end to end against the embedded server. The SLO is a count (logins in a
//! one-second step), not a latency, so where the search lands does not depend on timing.

use crate::util::{bin, TempDir};
use std::process::{Command, Output};

/// `search scenarios/capacity-search.toml ARGS` in one-second steps after a 1 ms ramp, into
/// `out`. The generator's own lateness (a debug build on a busy CI machine) must not decide
/// where a search lands, so its bound is a minute.
fn search(mut cmd: Command, args: &[&str], out: &TempDir) -> Output {
    cmd.args(["search", "scenarios/capacity-search.toml"])
        .args(args)
        .args(["--step", "1s", "--ramp", "1ms"])
        .args(["--set", "timeouts.graceful_stop=2s"])
        .args(["--set", "load.max_schedule_lag=60s"])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap()
}

/// The search.csv a search wrote under `out` (its one directory, named for the search).
fn search_csv(out: &TempDir) -> std::path::PathBuf {
    let dir = crate::util::only_report_dir(out.path());
    let name = dir.file_name().unwrap().to_string_lossy();
    assert!(name.contains("-search-capacity-search"), "{name}");
    dir.join("search.csv")
}

#[test]
fn search_finds_the_highest_rate_meeting_the_slos_and_writes_search_csv() {
    let out = TempDir::new();
    let o = search(
        bin(),
        &[
            "--slo",
            "logins_ok < 300",
            "--slo",
            "login.error_rate < 1%",
            "--start",
            "100",
            "--precision",
            "10%",
        ],
        &out,
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // ×2 from 100 until a step breaks `logins_ok < 300`, then bisection to 10 %.
    let best: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("highest rate meeting every SLO: "))
        .and_then(|r| r.strip_suffix("/s"))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!((200.0..=320.0).contains(&best), "{stdout}");
    assert!(stdout.contains("lowest rate that broke one: "), "{stdout}");
    assert!(stdout.contains("ran out first: the "), "{stdout}");
    let mut r = csv::Reader::from_path(search_csv(&out)).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers, loginstorm::search::SEARCH_COLUMNS);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert!(rows.len() >= 4, "{rows:?}");
    let rates: Vec<f64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert_eq!(&rates[..3], &[100.0, 200.0, 400.0], "{rates:?}");
    for row in &rows {
        let passed = &row[3] == "true";
        // A step passes exactly when it broke no SLO (the reference server does the work).
        assert_eq!(passed, row[14].is_empty(), "{row:?}");
        assert!(
            std::path::Path::new(&row[16]).join("run.json").exists(),
            "{row:?}"
        );
    }
}

#[test]
fn search_refuses_a_search_it_cannot_run() {
    let out = TempDir::new();
    let o = bin()
        .args([
            "search",
            "scenarios/capacity-search.toml",
            "--slo",
            "login.p99 < 1s",
            "--factor",
            "1",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--factor"));
    let o = bin()
        .args([
            "search",
            "scenarios/capacity-search.toml",
            "--slo",
            "nonsense.p99 < 1s",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// A search step whose generator left arrivals unsent says nothing about the backend at that
/// rate: the step fails as the generator's (a test build's stalled pacers, one start each),
/// `search.csv` marks it `generator_limited` with the unsent count as its reason, and the
/// search ends saying the generator ran out first — never that the backend did.
#[test]
fn search_blames_the_generator_for_the_arrivals_it_never_sent() {
    let out = TempDir::new();
    let mut cmd = bin();
    cmd.env("LOGINSTORM_TEST_PACER_STALLS_AFTER", "1");
    let o = search(
        cmd,
        &[
            "--slo",
            "login.error_rate < 1%",
            "--start",
            "40",
            "--precision",
            "25%",
        ],
        &out,
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("ran out first: the generator"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut r = csv::Reader::from_path(search_csv(&out)).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    // 40/s for a second owes ~35 starts past the slack; the pacers sent one each.
    assert_eq!(&rows[0][1], "40", "{rows:?}");
    assert_eq!(&rows[0][3], "false", "{rows:?}");
    for row in rows.iter().filter(|r| &r[3] == "false") {
        assert_eq!(&row[13], "true", "{row:?}");
        assert!(
            row[15].contains("arrivals_unsent") && row[14].is_empty(),
            "{row:?}"
        );
    }
}
