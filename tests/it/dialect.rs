//! The second dialect proves protocol profiles: every shipped scenario judged through
//! `profiles/webim.toml` against the webim reference server as through v1; a real
//! `serve --dialect webim` process with its heartbeat; wss:// against a TLS server with a
//! certificate made here; admin kicks over HTTPS; and the failure side — a frame no rule
//! explains, a malformed profile, a TLS failure — each a clear message.

use crate::util::{bin, spawn_serve_with as serve, TempDir};
use loginstorm::model::Counter;
use loginstorm::policy::KickType;
use std::path::{Path, PathBuf};

fn run(name: &str, extra: &[&str]) -> loginstorm::run::Finished {
    let dir = TempDir::new();
    let extra = loginstorm::scenario::Overrides::sets(extra);
    let path = format!("scenarios/{name}.toml");
    let resolved = loginstorm::scenario::load(Path::new(&path), &extra).unwrap();
    crate::util::execute(resolved, crate::util::quiet(dir.path().to_path_buf()))
}

/// The shipped scenarios, cut to test size as the fault matrix cuts them.
const SHIPPED: [(&str, &[&str]); 7] = [
    ("smoke", &[]),
    ("kick-storm", &["accounts.count=30", "cycle.cycles=2"]),
    ("multi-platform", &["accounts.count=20", "cycle.cycles=2"]),
    ("admin-kick", &["accounts.count=20", "load.duration=4s"]),
    ("capacity", &["load.stages=60,1s;60,2s"]),
    ("expiry", &["accounts.count=25", "cycle.cycles=2"]),
    ("capacity-search", &["load.stages=100,1ms;100,3s"]),
];

fn kicks(r: &loginstorm::run::Finished) -> [u64; 4] {
    KickType::ALL.map(|k| r.totals.get(Counter::kick(k)))
}

#[test]
fn every_shipped_scenario_judges_the_same_through_the_webim_profile() {
    for (name, size) in SHIPPED {
        let v1 = run(name, size);
        let mut with = size.to_vec();
        with.push("target.protocol=webim");
        let webim = run(name, &with);
        assert_eq!(
            v1.verdict.status, webim.verdict.status,
            "{name}: {:?} vs {:?}",
            v1.verdict, webim.verdict
        );
        assert_eq!(
            v1.verdict.status,
            loginstorm::verdict::Status::Pass,
            "{name}: {:?}",
            v1.verdict
        );
        for r in [&v1, &webim] {
            assert_eq!(r.totals.get(Counter::ProtocolErrors), 0, "{name}");
            assert_eq!(r.totals.get(Counter::ProtocolErrorsUnmatched), 0, "{name}");
        }
        // Where the scenario fixes the kicks (waves whose every login meets the account),
        // the counts are equal; where timing decides them (admin kicks at random instants, open
        // arrivals), each run's own count is judged against its own expectation.
        let exact = v1.totals.get(Counter::ExpectedKicks)
            == v1.totals.get(Counter::ExpectedKicksMax)
            && webim.totals.get(Counter::ExpectedKicks)
                == webim.totals.get(Counter::ExpectedKicksMax)
            && !["admin-kick", "capacity"].contains(&name);
        if exact {
            assert_eq!(
                kicks(&v1),
                kicks(&webim),
                "{name}: kicks by type, v1 vs webim"
            );
        }
        for (proto, r) in [("v1", &v1), ("webim", &webim)] {
            let lost = r.totals.violations(loginstorm::checks::Class::LostKick)
                + r.totals.violations(loginstorm::checks::Class::ExcessKick)
                + r.totals.violations(loginstorm::checks::Class::KickCount);
            assert_eq!(lost, 0, "{name} through {proto}");
        }
    }
}

/// `serve --dialect webim` with a Web limit of 2 and heartbeats every `heartbeat`.
fn webim_server(heartbeat: &str) -> (std::process::Child, String) {
    serve(&[
        "--dialect",
        "webim",
        "--limits",
        "Web=2",
        "--heartbeat",
        heartbeat,
    ])
}

fn scenario(tmp: &TempDir, text: &str) -> PathBuf {
    let p = tmp.path().join("s.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const STORM: &str = "[policy]\nlimits = \"Web=2\"\n[accounts]\ncount = 10\ninstances = \"Web*3\"\n[cycle]\ncycles = 2\nhold = \"1500ms\"\nalignment = \"barrier\"\n";

fn run_bin(args: &[&str], scenario: &Path, out: &Path) -> (Option<i32>, String) {
    let o = bin()
        .arg("run")
        .arg(scenario)
        .args(["--quiet", "--report-dir"])
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn a_real_webim_server_with_its_heartbeat_is_tested_through_the_profile() {
    let tmp = TempDir::new();
    // Heartbeats every 200 ms, sessions held 1.5 s: an instance that did not answer would be
    // closed (1008) mid-hold and the run would fail.
    let (mut server, url) = webim_server("200ms");
    let s = scenario(&tmp, STORM);
    let (code, text) = run_bin(
        &["--target", &url, "--protocol", "webim"],
        &s,
        &tmp.path().join("w"),
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("multipleAccount 20"), "{text}");
    // The same server through the v1 profile: refused at the upgrade (no subprotocol, no
    // X-Client), a clear error before the run.
    let (code, text) = run_bin(&["--target", &url], &s, &tmp.path().join("v1"));
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("cannot reach target") && text.contains("HTTP 400"),
        "{text}"
    );
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn frames_no_rule_explains_are_counted_and_kept_for_the_user() {
    let tmp = TempDir::new();
    let (mut server, url) = webim_server("100ms");
    // The webim profile without its heartbeat answer and notice rule: those frames are
    // unexplained (and the unanswered heartbeats get the connections closed).
    let full = loginstorm::profile::BUILTIN[1].1;
    let (head, rest) = full.split_once("# The server's heartbeat").unwrap();
    let (_, tail) = rest.split_once("# Kicks go to the admin API").unwrap();
    let profile = format!("{head}# Kicks go to the admin API{tail}");
    let pfile = tmp.path().join("partial.toml");
    std::fs::write(&pfile, &profile).unwrap();
    let s = scenario(&tmp, STORM);
    let out = tmp.path().join("r");
    let (code, text) = run_bin(
        &["--target", &url, "--protocol", pfile.to_str().unwrap()],
        &s,
        &out,
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no rule of profile"), "{text}");
    let kept = std::fs::read_to_string(out.join("unmatched-frames.txt")).unwrap();
    assert!(
        kept.contains("\"type\":\"notice\"") || kept.contains("\"type\":\"hb\""),
        "{kept}"
    );
    assert!(kept.lines().count() <= 20);
    let counters = std::fs::read_to_string(out.join("counters.csv")).unwrap();
    assert!(
        counters
            .lines()
            .any(|l| l.starts_with("protocol_errors_unmatched,") && !l.ends_with(",0")),
        "{counters}"
    );
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn a_malformed_profile_is_refused_before_the_run_naming_the_problem() {
    let tmp = TempDir::new();
    let s = scenario(&tmp, STORM);
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        loginstorm::profile::BUILTIN[0]
            .1
            .replace(r#"kick_type = "/data/type""#, r#"kick_type = "data.type""#),
    )
    .unwrap();
    let (code, text) = run_bin(
        &["--protocol", bad.to_str().unwrap()],
        &s,
        &tmp.path().join("r"),
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("bad.toml") && text.contains("kick_type") && text.contains("JSON Pointer"),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
}

/// A self-signed certificate for 127.0.0.1 and localhost, made here (never committed).
fn certificate(tmp: &TempDir) -> (PathBuf, PathBuf) {
    let c =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

#[test]
fn wss_against_a_tls_server_with_admin_kicks_over_https() {
    let tmp = TempDir::new();
    let (cert, key) = certificate(&tmp);
    let (mut server, url) = serve(&[
        "--limits",
        "Web=2",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(url.starts_with("wss://"), "{url}");
    let text = "[policy]\nlimits = \"Web=2\"\n[accounts]\ncount = 6\ninstances = \"Web*3\"\n[cycle]\ncycles = 0\nhold = \"300ms\"\nthink = \"fixed:50ms\"\nalignment = \"jitter:50ms\"\n[load]\nduration = \"4s\"\n[admin_kick]\ninterval = \"300ms\"\n";
    let s = scenario(&tmp, text);
    // Trusting the certificate through --ca-file: the storm and the admin kicks (https) work.
    let (code, out) = run_bin(
        &["--target", &url, "--ca-file", cert.to_str().unwrap()],
        &s,
        &tmp.path().join("ok"),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("REST_API_Kick 0 "), "{out}");
    let counters = std::fs::read_to_string(tmp.path().join("ok/counters.csv")).unwrap();
    assert!(counters.contains("admin_kicks_failed,0"), "{counters}");
    // Not trusting it: a clear error before the run, naming the way out.
    let (code, out) = run_bin(&["--target", &url], &s, &tmp.path().join("untrusted"));
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("TLS handshake") && out.contains("--ca-file") && out.contains("--insecure"),
        "{out}"
    );
    // --insecure accepts it.
    // (Other userIDs: a login within the second of the first run's last admin kick of the
    // same account would be refused 70052 by the server, rightly.)
    let (code, out) = run_bin(
        &[
            "--target",
            &url,
            "--insecure",
            "--set",
            "accounts.id_pattern=insecure-{n}",
        ],
        &s,
        &tmp.path().join("insecure"),
    );
    assert_eq!(code, Some(0), "{out}");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn trace_frames_shows_one_instance_frame_by_frame() {
    let tmp = TempDir::new();
    let out = tmp.path().join("r");
    let (code, text) = run_bin(
        &[
            "--protocol",
            "webim",
            "--trace-frames",
            "--set",
            "accounts.count=1",
            "--set",
            "cycle.cycles=1",
        ],
        Path::new("scenarios/smoke.toml"),
        &out,
    );
    assert_eq!(code, Some(0), "{text}");
    let log = std::fs::read_to_string(out.join("frames.log")).unwrap();
    let sent: Vec<&str> = log.lines().filter(|l| l.contains(" > ")).collect();
    let got: Vec<&str> = log.lines().filter(|l| l.contains(" < ")).collect();
    assert!(
        sent.iter().any(|l| l.contains("\"cmd\":\"LOGIN\"")),
        "{log}"
    );
    assert!(got.iter().any(|l| l.contains("\"type\":\"rsp\"")), "{log}");
    assert!(
        got.iter().any(|l| l.contains("\"type\":\"notice\"")),
        "{log}"
    );
    // Only the first instance's frames: no other instance's login is in it.
    let logins = sent.iter().filter(|l| l.contains("LOGIN")).count();
    assert_eq!(logins, 1, "{log}");
}

/// What `openssl req -x509` makes: a self-signed certificate marked as a CA. WebPKI refuses a
/// CA certificate as the server's own; given with --ca-file it is trusted as itself (pinned),
/// as curl and Go clients do — and only that certificate: another one, CA-marked alike, is not.
#[test]
fn a_self_signed_ca_marked_certificate_given_with_ca_file_is_trusted_as_itself() {
    let tmp = TempDir::new();
    let make = |name: &str| {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (c, k) = (
            tmp.path().join(format!("{name}.pem")),
            tmp.path().join(format!("{name}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    };
    let (cert, key) = make("server");
    let (other, _) = make("other");
    let (mut server, url) = serve(&[
        "--limits",
        "Web=2",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let s = scenario(
        &tmp,
        "[policy]\nlimits = \"Web=2\"\n[accounts]\ncount = 3\ninstances = \"Web*3\"\n[cycle]\ncycles = 1\nhold = \"50ms\"\nalignment = \"barrier\"\n",
    );
    let (code, out) = run_bin(
        &["--target", &url, "--ca-file", cert.to_str().unwrap()],
        &s,
        &tmp.path().join("pinned"),
    );
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run_bin(
        &["--target", &url, "--ca-file", other.to_str().unwrap()],
        &s,
        &tmp.path().join("other"),
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("TLS handshake"), "{out}");
    let _ = server.kill();
    let _ = server.wait();
}
