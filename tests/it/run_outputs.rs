//! What a run leaves for the people and machines that read it: `compare` against a baseline,
//! `summary.json` to stdout or a file, and the plain lines, live violations and step summary a
//! CI job gets.

use crate::util::{bin, only_report_dir, TempDir};

#[test]
fn compare_flags_a_deliberately_slowed_server_as_a_regression() {
    let tmp = TempDir::new();
    let base_out = tmp.path().join("base");
    let out = bin()
        .args(["run", "scenarios/smoke.toml", "--quiet", "--out"])
        .arg(&base_out)
        .output()
        .unwrap();
    assert!(out.status.success());
    let base = only_report_dir(&base_out);
    // The same scenario against a server that waits 40 ms before sdkStateReady.
    let slow_out = tmp.path().join("slow");
    let out = bin()
        .args([
            "run",
            "scenarios/smoke.toml",
            "--quiet",
            "--set",
            "server.ready_delay=40ms",
            "--baseline",
        ])
        .arg(&base)
        .arg("--out")
        .arg(&slow_out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("regression(s) against the baseline"),
        "{stdout}"
    );
    let slow = only_report_dir(&slow_out);
    let cmp = std::fs::read_to_string(slow.join("comparison.csv")).unwrap();
    assert!(
        cmp.lines()
            .any(|l| l.starts_with("ready.p50,") && l.split(',').nth(4) == Some("REGRESSION")),
        "{cmp}"
    );
    assert!(
        cmp.starts_with(
            "metric,baseline,current,delta,verdict,baseline_lo,baseline_hi,current_lo,current_hi\n"
        ),
        "{cmp}"
    );
    // `compare` itself: the slowed run against the baseline fails, a run against itself passes.
    // It shows the intervals that decided, and leaves comparison.csv, comparison.json and the
    // CI step summary.
    let step = tmp.path().join("step-summary.md");
    let out = bin()
        .arg("compare")
        .arg(&slow)
        .arg(&base)
        .env("GITHUB_STEP_SUMMARY", &step)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("current interval") && table.contains("baseline interval"),
        "{table}"
    );
    let row = table.lines().find(|l| l.starts_with("ready.p50 ")).unwrap();
    assert!(row.contains("REGRESSION") && row.contains('['), "{row}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(slow.join("comparison.json")).unwrap())
            .unwrap();
    assert!(doc["regressions"].as_u64().unwrap() > 0, "{doc}");
    let p50 = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "ready.p50")
        .unwrap();
    assert_eq!(p50["verdict"], "REGRESSION");
    assert!(p50["current_interval"].is_array(), "{p50}");
    assert!(slow.join("comparison.csv").exists());
    let md = std::fs::read_to_string(&step).unwrap();
    assert!(
        md.contains("loginstorm compare") && md.contains("REGRESSION"),
        "{md}"
    );
    let out = bin().arg("compare").arg(&base).arg(&base).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("no regression"));
    // A generous tolerance accepts the slowdown.
    let out = bin()
        .args(["compare", "--max-regression", "5000%"])
        .arg(&slow)
        .arg(&base)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\nslow run: {stdout}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = bin()
        .arg("compare")
        .arg(tmp.path())
        .arg(&base)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("summary.csv"));
}

#[test]
fn summary_json_to_stdout_or_a_file() {
    let tmp = TempDir::new();
    let out = bin()
        .args([
            "run",
            "scenarios/smoke.toml",
            "--quiet",
            "--summary-json",
            "-",
            "--out",
        ])
        .arg(tmp.path().join("a"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // stdout is the document alone; the run's text went to stderr.
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(doc["verdict"]["status"], "PASS");
    assert!(String::from_utf8_lossy(&out.stderr).contains("verdict: PASS"));
    let path = tmp.path().join("s.json");
    // Independent cycles make no kick prediction: "n/a", not a promise of 0.
    let out = bin()
        .args(["run", "scenarios/smoke.toml", "--quiet", "--summary-json"])
        .arg(&path)
        .args(["--set", "cycle.alignment=independent"])
        .arg("--out")
        .arg(tmp.path().join("b"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["schema"], "loginstorm.summary/v1");
    assert!(doc["counters"]["logins_ok"].as_u64().unwrap() > 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(expected from policy: n/a"), "{stdout}");
}

/// In CI (`CI` set) the display is plain lines even on a terminal, each reporting its whole
/// interval; violations are printed the second they are found; with `GITHUB_STEP_SUMMARY` set
/// the run appends a Markdown summary to that file.
#[test]
fn ci_gets_plain_lines_live_violations_and_a_step_summary() {
    let tmp = TempDir::new();
    let summary = tmp.path().join("step-summary.md");
    std::fs::write(&summary, "# earlier step\n").unwrap();
    let out = bin()
        .args([
            "run",
            "scenarios/kick-storm.toml",
            "--set",
            "server.faults.over_admit=0.2",
            "--set",
            "cycle.cycles=0",
            "--set",
            "load.duration=6s",
            "--set",
            "accounts.count=40",
            "--out",
        ])
        .arg(tmp.path().join("out"))
        .env("CI", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("VIOLATIONS: capacity"), "{err}");
    assert!(err.contains("s/6s  live"), "a plain status line: {err}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("# earlier step\n"), "appended, not replaced");
    assert!(md.contains("loginstorm `kick-storm`: FAIL"), "{md}");
    assert!(
        md.contains("| login |") && md.contains("**Violations** capacity"),
        "{md}"
    );
}
