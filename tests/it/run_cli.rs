//! `loginstorm run` as a user runs it: exit codes, bad scenarios, thresholds, reports (a run
//! that ends early, interrupted or with its target gone: `interrupt.rs`).

use crate::util::{bin, only_report_dir, run_json, TempDir};

#[test]
fn shipped_smoke_scenario_runs_and_prints_a_summary() {
    let tmp = TempDir::new();
    let out = bin()
        .args(["run", "scenarios/smoke.toml", "--quiet", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("run completed"), "{stdout}");
    assert!(
        stdout.contains("kick_propagation") && stdout.contains("multipleAccount 60"),
        "{stdout}"
    );
    assert!(stdout.contains("(expected from policy: 60)"), "{stdout}");
    assert!(stdout.contains("throughput   logins/s "), "{stdout}");
    let dir = only_report_dir(tmp.path());
    for f in [
        "summary.csv",
        "counters.csv",
        "timeseries.csv",
        "summary.json",
        "kicks.csv",
        "latency.hlog",
        "run.json",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    // The rates are the load window's counts over the window, not the totals over the run's
    // elapsed time (which includes the generator's wind-down).
    let j = run_json(&dir);
    let g = &j["generator"];
    let window = g["load_window_secs"].as_f64().unwrap();
    assert!(
        window > 0.0 && window <= j["elapsed_secs"].as_f64().unwrap(),
        "{j}"
    );
    let counters = std::fs::read_to_string(dir.join("counters.csv")).unwrap();
    let row = |name: &str| -> f64 {
        counters
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name},")))
            .unwrap_or_else(|| panic!("{name} in {counters}"))
            .parse()
            .unwrap()
    };
    for (rate, count) in [
        ("logins_per_sec", "logins_ok"),
        ("cycles_per_sec", "cycles"),
    ] {
        let n = g[count].as_u64().unwrap() as f64;
        assert!(n > 0.0, "{j}");
        assert!(
            (row(rate) - n / window).abs() <= 0.05 + 1e-9,
            "{rate}: {j}\n{counters}"
        );
    }
    assert_eq!(
        row("cycles_completed"),
        g["cycles"].as_f64().unwrap(),
        "{j}"
    );
}

#[test]
fn a_bad_scenario_names_the_bad_key_and_exits_2() {
    let tmp = TempDir::new();
    let cases = [
        ("[accounts]\ncount = 3\nflavour = 1\n", "flavour"),
        ("[accounts]\ncount = 0\n", "accounts.count"),
        (
            "[accounts]\ncount = 3\n[policy]\nlimits = \"Web=42\"\n",
            "policy.limits",
        ),
        (
            "[accounts]\ncount = 3\n[cycle]\nalignment = \"sideways\"\n",
            "alignment",
        ),
        ("[accounts\ncount = 3\n", "scenario.toml"),
    ];
    for (text, key) in cases {
        let path = tmp.path().join("scenario.toml");
        std::fs::write(&path, text).unwrap();
        let out = bin().args(["run", "--quiet"]).arg(&path).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(key), "{text}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = bin()
        .args(["run", "--quiet", "no/such/file.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/file.toml"));
}

#[test]
fn an_unreachable_target_is_a_clear_error() {
    let tmp = TempDir::new();
    // A port nothing listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = bin()
        .args([
            "run",
            "scenarios/smoke.toml",
            "--quiet",
            "--target",
            &format!("ws://127.0.0.1:{port}/ws"),
            "--out",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach target"), "{err}");
}

#[test]
fn thresholds_gate_the_exit_code_and_land_in_junit() {
    let tmp = TempDir::new();
    let pass = bin()
        .args([
            "run",
            "scenarios/smoke.toml",
            "--quiet",
            "--threshold",
            "login.p99 < 30s",
            "--threshold",
            "violations == 0",
            "--out",
        ])
        .arg(tmp.path().join("pass"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&pass.stdout);
    assert_eq!(pass.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("verdict: PASS"), "{stdout}");
    let fail = bin()
        .args([
            "run",
            "scenarios/smoke.toml",
            "--quiet",
            "--threshold",
            "login.p50 < 1us",
            "--out",
        ])
        .arg(tmp.path().join("fail"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&fail.stdout);
    assert_eq!(fail.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("verdict: FAIL") && stdout.contains("FAIL"),
        "{stdout}"
    );
    let dir = only_report_dir(&tmp.path().join("fail"));
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("name=\"login.p50 &lt; 1us\" time=\"0.000\">") && junit.contains("<failure"),
        "{junit}"
    );
    assert!(
        junit.contains("classname=\"loginstorm.invariants\" name=\"zombie\" time=\"0.000\"/>"),
        "{junit}"
    );
    // Smoke's barrier waves cannot judge victim order: skipped, not passed.
    assert!(
        junit.contains("name=\"victim_order\" time=\"0.000\">\n      <skipped"),
        "{junit}"
    );
    assert!(junit.contains("timestamp=\""), "{junit}");
    let csv = std::fs::read_to_string(dir.join("thresholds.csv")).unwrap();
    assert!(
        csv.starts_with("threshold,actual,passed\n") && csv.contains(",false"),
        "{csv}"
    );
}

#[test]
fn a_broken_promise_fails_the_run_with_exit_1_and_explains_it() {
    let tmp = TempDir::new();
    let path = tmp.path().join("faulty.toml");
    std::fs::write(
        &path,
        "[server.faults]\nover_admit = 1.0\n[accounts]\ncount = 4\ninstances = \"Web*2\"\n[cycle]\nhold = \"600ms\"\nalignment = \"barrier\"\n[timeouts]\nkick = \"200ms\"\n[thresholds]\nviolations = \"== 0\"\n",
    )
    .unwrap();
    let out = bin()
        .args(["run", "--quiet", "--out"])
        .arg(tmp.path().join("out"))
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("capacity 4") && stdout.contains("verdict: FAIL"),
        "{stdout}"
    );
    let dir = only_report_dir(&tmp.path().join("out"));
    let v = std::fs::read_to_string(dir.join("violations.csv")).unwrap();
    assert_eq!(
        v.lines()
            .filter(|l| l.starts_with("capacity,error,"))
            .count(),
        4,
        "{v}"
    );
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[accounts]\ncount = 1\n[thresholds]\n\"login.p99\" = \"< soon\"\n",
    )
    .unwrap();
    let out = bin().args(["run", "--quiet"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("thresholds.login.p99"));
}

#[test]
fn the_key_comes_from_the_environment_and_never_reaches_a_report() {
    let tmp = TempDir::new();
    let (mut server, url) = crate::util::spawn_serve_with(&["--key", "s3cr3t-app-key"]);
    let scenario = tmp.path().join("k.toml");
    std::fs::write(
        &scenario,
        "[accounts]\ncount = 3\ninstances = \"Web\"\n[cycle]\ncycles = 1\nhold = \"10ms\"\n",
    )
    .unwrap();
    let run = |key: Option<&str>, dir: &str| {
        let mut c = bin();
        c.arg("run")
            .arg(&scenario)
            .args(["--quiet", "--target", &url, "--report-dir"])
            .arg(tmp.path().join(dir))
            .env_remove("LOGINSTORM_KEY");
        if let Some(k) = key {
            c.env("LOGINSTORM_KEY", k);
        }
        c.output().unwrap()
    };
    // The scenario's (default) key is not the backend's: every login is refused.
    let o = run(None, "without");
    assert_eq!(o.status.code(), Some(1));
    // … with 70009 (the signature does not verify), reported as the backend's code, not as
    // the meaning's (70003, a sig that cannot be decoded).
    let counters = std::fs::read_to_string(tmp.path().join("without/counters.csv")).unwrap();
    assert!(
        counters.contains("logins_failed_code_70009,3"),
        "{counters}"
    );
    let o = run(Some("s3cr3t-app-key"), "with");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    for entry in std::fs::read_dir(tmp.path().join("with")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains("s3cr3t-app-key"));
    }
    let j = run_json(&tmp.path().join("with"));
    assert_eq!(j["resolved_scenario"]["target"]["key"], "(redacted)");
    // The key as a `--set` override, with the first instance's frames traced: no file holds
    // the key, nor a working UserSig (frames.log shows each sig as its hash).
    let o = bin()
        .arg("run")
        .arg(&scenario)
        .args([
            "--quiet",
            "--trace-frames",
            "--target",
            &url,
            "--report-dir",
        ])
        .arg(tmp.path().join("set"))
        .args(["--set", "target.key=s3cr3t-app-key"])
        .env_remove("LOGINSTORM_KEY")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    for entry in std::fs::read_dir(tmp.path().join("set")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(!text.contains("s3cr3t-app-key"), "{}", path.display());
        // Every UserSig is base64 of zlib data: it begins "eJ".
        assert!(!text.contains("\"eJ"), "{}: {text}", path.display());
    }
    let j = run_json(&tmp.path().join("set"));
    assert_eq!(j["overrides"][0], "target.key=(redacted)");
    // The overrides show in summary.json and in report.html's header (a run with a changed
    // size or a fault switch says so), redacted alike.
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("set/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["overrides"][0], "target.key=(redacted)");
    let html = std::fs::read_to_string(tmp.path().join("set/report.html")).unwrap();
    assert!(
        html.contains("--set target.key=(redacted)"),
        "overrides in the header"
    );
    let frames = std::fs::read_to_string(tmp.path().join("set/frames.log")).unwrap();
    assert!(
        frames.contains("userSig") && frames.contains("<sig sha256:"),
        "{frames}"
    );
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn admin_kicks_are_counted_and_an_admin_api_that_refuses_them_fails_the_run() {
    let tmp = TempDir::new();
    let scenario = tmp.path().join("adm.toml");
    std::fs::write(
        &scenario,
        "[policy]\nlimits = \"Web=2\"\n[accounts]\ncount = 6\ninstances = \"Web*3\"\n[cycle]\ncycles = 0\nhold = \"200ms\"\nthink = \"fixed:50ms\"\nalignment = \"jitter:50ms\"\non_kick = \"next_cycle\"\n[load]\nduration = \"2s\"\n[admin_kick]\ninterval = \"150ms\"\n",
    )
    .unwrap();
    let counter = |dir: &std::path::Path, name: &str| -> u64 {
        let mut r = csv::Reader::from_path(dir.join("counters.csv")).unwrap();
        r.records()
            .map(|x| x.unwrap())
            .find(|x| &x[0] == name)
            .map(|x| x[1].parse().unwrap())
            .unwrap()
    };
    // The embedded server takes every kick: counted as sent, none failed.
    let ok = tmp.path().join("ok");
    let o = bin()
        .arg("run")
        .arg(&scenario)
        .args(["--quiet", "--report-dir"])
        .arg(&ok)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        counter(&ok, "admin_kicks_sent") >= 5,
        "{}",
        counter(&ok, "admin_kicks_sent")
    );
    assert_eq!(counter(&ok, "admin_kicks_failed"), 0);
    // A server whose admin is someone else refuses every kick: the run fails, naming why.
    let (mut server, url) =
        crate::util::spawn_serve_with(&["--limits", "Web=2", "--admin", "someoneelse"]);
    let refused = tmp.path().join("refused");
    let o = bin()
        .arg("run")
        .arg(&scenario)
        .args(["--quiet", "--target", &url, "--report-dir"])
        .arg(&refused)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("admin kick(s) refused or unanswered"),
        "{stdout}"
    );
    let failed = counter(&refused, "admin_kicks_failed");
    assert!(failed >= 5, "{failed}");
    assert_eq!(failed, counter(&refused, "admin_kicks_sent"));
    let _ = server.kill();
    let _ = server.wait();
}
