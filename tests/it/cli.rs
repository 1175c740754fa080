//! The real binary: `serve` announces itself on its first stdout line, `sig` mints and checks.

use std::process::Command;

use crate::util::{bin, spawn_serve};

#[test]
fn serve_prints_its_url_first_and_stops_on_sigterm() {
    // spawn_serve reads the first stdout line and insists it is `listening on …`.
    let (mut child, url) = spawn_serve();
    let port = url
        .strip_prefix("ws://127.0.0.1:")
        .and_then(|r| r.strip_suffix("/ws"))
        .unwrap_or_else(|| panic!("{url}"));
    let port: u16 = port.parse().unwrap();
    assert!(port > 0);
    // It is really listening.
    std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn sig_gen_output_verifies_and_a_wrong_user_is_refused() {
    let out = bin()
        .args([
            "sig",
            "gen",
            "--sdkappid",
            "1400000123",
            "--key",
            "k",
            "--user",
            "alice",
            "--expire",
            "600",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let sig = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let ok = bin()
        .args([
            "sig",
            "verify",
            "--sdkappid",
            "1400000123",
            "--key",
            "k",
            "--user",
            "alice",
            &sig,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{text}");
    assert!(
        text.contains("TLS.identifier: alice") && text.contains("verdict: valid"),
        "{text}"
    );
    let bad = bin()
        .args([
            "sig",
            "verify",
            "--sdkappid",
            "1400000123",
            "--key",
            "k",
            "--user",
            "bob",
            &sig,
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("70013"));
}

#[test]
fn bad_serve_flags_exit_2_naming_the_problem() {
    let out = bin()
        .args(["serve", "--limits", "Web=11"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Web"));
    let out = bin().args(["serve", "--workers", "5000"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0..=1024"));
    let out = bin()
        .args(["serve", "--fault-zombie", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("zombie"));
}

#[test]
fn errors_name_each_cause_once_and_empty_keys_are_refused() {
    let out = bin()
        .args([
            "run",
            "scenarios/smoke.toml",
            "--set",
            "accounts.instances=\"Web*1000000000\"",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("1000000000 or more").count(), 1, "{err}");
    for args in [
        &["sig", "gen", "--user", "a", "--key", ""][..],
        &["serve", "--key", ""][..],
    ] {
        let out = bin().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--key"),
            "{args:?}"
        );
    }
}

#[test]
fn completions_and_environment_defaults() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("loginstorm") && script.contains("target"),
            "{shell}"
        );
    }
    // LOGINSTORM_OUT and LOGINSTORM_SEED stand for --out and --seed.
    let tmp = crate::util::TempDir::new();
    let out = bin()
        .args(["run", "scenarios/smoke.toml", "--quiet"])
        .env("LOGINSTORM_OUT", tmp.path())
        .env("LOGINSTORM_SEED", "42")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let dir = std::fs::read_dir(tmp.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(doc["seed"], 42);
}

/// Files that are not files, and a baseline that is not there: exit 2 at once, naming the
/// problem, before any run (no abort, no hang, no report directory).
#[test]
fn devices_fifos_and_missing_baselines_are_refused_before_the_run() {
    let tmp = crate::util::TempDir::new();
    let smoke = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/smoke.toml");
    let out = tmp.path().join("out");
    let check = |args: &[&str], says: &str| {
        // A FIFO opened for reading, or a device read to its end, would hang here, not return.
        let o = bin().args(args).arg("--out").arg(&out).output().unwrap();
        let _ = std::fs::remove_dir_all(&out);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    };
    check(
        &[
            "run",
            smoke,
            "--quiet",
            "--ca-file",
            "/dev/zero",
            "--target",
            "wss://127.0.0.1:1/ws",
        ],
        "character device",
    );
    // That one failed after its report directory was made: run.json says so, not `running`.
    let o = bin()
        .args(["run", smoke, "--quiet", "--ca-file", "/dev/zero"])
        .args(["--target", "wss://127.0.0.1:1/ws", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let dir = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(j["outcome"], "error", "{j}");
    assert!(
        j["error"].as_str().unwrap().contains("character device"),
        "{j}"
    );
    let _ = std::fs::remove_dir_all(&out);
    let fifo = tmp.path().join("profile.toml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path of our own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    check(
        &[
            "run",
            smoke,
            "--quiet",
            "--protocol",
            fifo.to_str().unwrap(),
        ],
        "FIFO",
    );
    check(&["run", fifo.to_str().unwrap(), "--quiet"], "FIFO");
    let o = bin()
        .args([
            "run",
            smoke,
            "--quiet",
            "--baseline",
            "/nonexistent/baseline",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--baseline"));
    assert!(
        !out.exists(),
        "the run went ahead before reading its baseline"
    );
    let o = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "/dev/zero",
            "--tls-key",
            "/dev/zero",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("character device"));
}

/// The verdict line comes after every file: a run that cannot write one ends with the error
/// naming the file (exit 2), and prints no verdict. A second run into the same --report-dir
/// is refused.
#[test]
fn a_report_that_cannot_be_written_prints_no_verdict_and_a_report_dir_is_claimed_once() {
    let tmp = crate::util::TempDir::new();
    let smoke = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/smoke.toml");
    let dir = tmp.path().join("r");
    std::fs::create_dir_all(dir.join("summary.json")).unwrap();
    let o = bin()
        .args([
            "run",
            smoke,
            "--quiet",
            "--set",
            "accounts.count=4",
            "--report-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("summary.json"), "{stderr}");
    assert!(!stdout.contains("verdict:"), "{stdout}");
    let o = bin()
        .args([
            "run",
            smoke,
            "--quiet",
            "--set",
            "accounts.count=4",
            "--report-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already holds a report"));
}

/// Away from the repository the docs are still there: the man page (every subcommand) and the
/// documentation topics, from the binary itself.
#[test]
fn the_man_page_and_the_docs_come_with_the_binary() {
    let o = bin().arg("man").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let page = String::from_utf8_lossy(&o.stdout);
    for name in [
        "loginstorm",
        "loginstorm-run",
        "loginstorm-serve",
        "loginstorm-compare",
        "loginstorm-docs",
    ] {
        assert!(page.contains(&format!(".TH {name} 1")), "{name}");
    }
    let o = bin().args(["docs", "checks"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/checks.md")).unwrap()
    );
    let o = bin().args(["docs", "nope"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}
