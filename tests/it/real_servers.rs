//! Real servers nobody here wrote, started the way their own docs say — from a temporary
//! directory, with their own configuration, on loopback only — and judged by loginstorm.
//!
//! This file: what every real-server test shares, and Mosquitto; Prosody and ejabberd are in
//! `real_prosody.rs` and `real_ejabberd.rs`.
//!
//! Mosquitto 2.0 (`.ci/run` installs it): one session per ClientId; a newer CONNECT takes the
//! session over and the older connection is ended without a word (no DISCONNECT 0x8E in this
//! version), which `mqtt.takeover = "inferred"` turns into counted takeovers.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{bin, free_port, TempDir};

/// A Mosquitto of a test's own.
pub struct Mosquitto {
    child: Child,
    /// The WebSocket listener's port.
    ws: u16,
    /// The plain MQTT (TCP) listener's port.
    tcp: u16,
    dir: TempDir,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mosquitto_binary() -> PathBuf {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect(
            "mosquitto is not installed: `bash .ci/run` installs it (apt-get install mosquitto)",
        )
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        let dir = TempDir::new();
        let (tcp, ws) = (free_port(), free_port());
        // A plain listener is required beside a WebSocket-only one. `listener PORT 127.0.0.1`
        // would bind every interface for WebSockets: the interface form keeps it on loopback.
        let conf = format!(
            "per_listener_settings false\nallow_anonymous true\npersistence false\n\
             log_dest file {log}\nlistener {tcp} 127.0.0.1\nlistener {ws} lo\nprotocol websockets\n",
            log = dir.path().join("mosquitto.log").display()
        );
        std::fs::write(dir.path().join("mosquitto.conf"), conf).unwrap();
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(dir.path().join("mosquitto.conf"))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let m = Mosquitto {
            child,
            ws,
            tcp,
            dir,
        };
        wait_listening("mosquitto", ws, || m.log());
        m.assert_loopback_only();
        m
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/mqtt", self.ws)
    }

    /// MQTT over TCP: the plain listener.
    pub fn tcp_url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.tcp)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    fn assert_loopback_only(&self) {
        assert_loopback_only(self.child.id(), 2);
    }
}

/// Wait (120 s at most) until `server` accepts connections on loopback `port`; its log if
/// not. An Erlang VM starting beside the rest of the suite took 12 s on a loaded two-core
/// machine, and more than 30 s with two busy loops beside it: the bound only ends the wait.
pub(crate) fn wait_listening(server: &str, port: u16, log: impl Fn() -> String) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{server} did not listen on {port}: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every socket process `pid` listens on (at least `min`) is a loopback address (`ss -ltnp`).
pub(crate) fn assert_loopback_only(pid: u32, min: usize) {
    let out = Command::new("ss")
        .args(["-ltnpH"])
        .output()
        .expect("ss (iproute2) is needed to check what listens");
    let text = String::from_utf8_lossy(&out.stdout);
    let pid = format!("pid={pid},");
    let mine: Vec<&str> = text.lines().filter(|l| l.contains(&pid)).collect();
    assert!(
        mine.len() >= min,
        "the server's listeners not found:\n{text}"
    );
    for l in mine {
        let local = l.split_whitespace().nth(3).unwrap_or("");
        assert!(
            local.starts_with("127.0.0.1:") || local.starts_with("[::ffff:127.0.0.1]:"),
            "a server listens beyond loopback: {l}"
        );
    }
}

/// Counters of a finished run, by name (counters.csv).
pub(crate) fn counters(dir: &Path) -> std::collections::HashMap<String, u64> {
    let text = std::fs::read_to_string(dir.join("counters.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let (k, v) = l.split_once(',')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Run a shipped scenario against `url` with `sets`; the exit code, the report directory and
/// the run's text.
pub(crate) fn run_scenario(
    scenario: &str,
    url: &str,
    sets: &[&str],
    tmp: &TempDir,
    name: &str,
) -> (i32, PathBuf, String) {
    let dir = tmp.path().join(name);
    let mut cmd = bin();
    cmd.args(["run", scenario, "--quiet", "--target", url])
        .arg("--report-dir")
        .arg(&dir);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), dir, text)
}

fn run(m: &Mosquitto, sets: &[&str], tmp: &TempDir, name: &str) -> (i32, PathBuf, String) {
    run_scenario("scenarios/mqtt-takeover.toml", &m.url(), sets, tmp, name)
}

/// Each barrier wave's two CONNECTs of one ClientId: one takeover each, inferred and counted
/// exactly, over several seeds; every check the scenario claims judged and passed.
#[test]
fn mosquitto_takeovers_are_counted_exactly() {
    let m = Mosquitto::start();
    let tmp = TempDir::new();
    for seed in ["1", "2", "3"] {
        let (code, dir, text) = run(&m, &[&format!("seed={seed}")], &tmp, seed);
        assert_eq!(code, 0, "seed {seed}: {text}\n{}", m.log());
        assert!(text.contains("verdict: PASS"), "{text}");
        let c = counters(&dir);
        // 20 accounts × 3 waves, one takeover each.
        assert_eq!(c["takeovers_inferred"], 60, "seed {seed}: {c:?}");
        assert_eq!(c["kicks_multipleAccount"], 60, "seed {seed}: {c:?}");
        assert_eq!(c["expected_kicks"], 60, "seed {seed}: {c:?}");
        assert_eq!(c["connections_lost"], 0, "seed {seed}: {c:?}");
        assert_eq!(c["logins_ok"], 120, "seed {seed}: {c:?}");
        assert_eq!(c["protocol_errors"], 0, "seed {seed}: {c:?}");
        let judged = std::fs::read_to_string(dir.join("summary.json")).unwrap();
        for class in [
            "capacity",
            "lost_kick",
            "excess_kick",
            "kick_count",
            "kick_type",
        ] {
            assert!(judged.contains(class), "{class} missing from {judged}");
        }
    }
}

/// MQTT over TCP (`mqtt://`, no WebSocket): the same takeovers, counted exactly, in MQTT 3.1.1
/// and 5 — and a connect in microseconds where Mosquitto's WebSocket upgrade takes ~100 ms.
#[test]
fn mosquitto_over_tcp_takeovers_are_counted_exactly() {
    let m = Mosquitto::start();
    let tmp = TempDir::new();
    for (name, sets) in [("tcp", vec![]), ("tcp5", vec!["mqtt.version=5"])] {
        let (code, dir, text) = run_scenario(
            "scenarios/mqtt-takeover.toml",
            &m.tcp_url(),
            &sets,
            &tmp,
            name,
        );
        assert_eq!(code, 0, "{name}: {text}\n{}", m.log());
        let c = counters(&dir);
        assert_eq!(c["takeovers_inferred"], 60, "{name}: {c:?}");
        assert_eq!(c["kicks_multipleAccount"], 60, "{name}: {c:?}");
        assert_eq!(c["connections_lost"], 0, "{name}: {c:?}");
        assert_eq!(c["logins_ok"], 120, "{name}: {c:?}");
        assert_eq!(c["protocol_errors"], 0, "{name}: {c:?}");
    }
}

/// One ClientId per instance: nothing is taken over, and none is owed.
#[test]
fn per_instance_client_ids_are_never_taken_over() {
    let m = Mosquitto::start();
    let tmp = TempDir::new();
    let (code, dir, text) = run(
        &m,
        &["mqtt.client_id={instance}", "policy.limits=Web=2"],
        &tmp,
        "own",
    );
    assert_eq!(code, 0, "{text}");
    let c = counters(&dir);
    assert_eq!(c["takeovers_inferred"], 0, "{c:?}");
    assert_eq!(c["kicks_multipleAccount"], 0, "{c:?}");
    assert_eq!(c["logins_ok"], 120, "{c:?}");
}

/// The other side: a promise of one session where the broker keeps both (a ClientId per
/// instance, nothing taken over) — the settle probes find both sessions alive on every wave:
/// capacity broken, the wave's kick count short, and the run fails naming them.
#[test]
fn a_broker_keeping_both_sessions_against_a_one_session_policy_fails() {
    let m = Mosquitto::start();
    let tmp = TempDir::new();
    let (code, dir, text) = run(&m, &["mqtt.client_id={instance}"], &tmp, "both");
    assert_eq!(code, 1, "{text}");
    let c = counters(&dir);
    assert_eq!(c["takeovers_inferred"], 0, "{c:?}");
    assert_eq!(c["violations_capacity"], 60, "{c:?}\n{text}");
    assert_eq!(c["violations_kick_count"], 60, "{c:?}\n{text}");
    assert!(text.contains("capacity"), "{text}");
}

/// A scenario that promises two sessions per account where the broker keeps one: every
/// takeover is a kick the policy has room for — an excess kick, and the wave's count off.
#[test]
fn a_broker_kicking_against_the_policy_fails() {
    let m = Mosquitto::start();
    let tmp = TempDir::new();
    let (code, dir, text) = run(&m, &["policy.limits=Web=2"], &tmp, "wrong");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("verdict: FAIL"), "{text}");
    let c = counters(&dir);
    assert_eq!(c["violations_excess_kick"], 60, "{c:?}\n{text}");
    assert_eq!(c["violations_kick_count"], 60, "{c:?}\n{text}");
    assert!(text.contains("excess_kick"), "{text}");
}

/// A broker killed while the sessions hold is a lost target — connections lost, the run
/// failed — and not a storm of takeovers.
#[test]
fn a_killed_mosquitto_is_a_lost_target_not_takeovers() {
    let mut m = Mosquitto::start();
    let tmp = TempDir::new();
    let dir = tmp.path().join("killed");
    let mut child = bin()
        .args(["run", "scenarios/mqtt-takeover.toml", "--quiet", "--target"])
        .arg(m.url())
        .arg("--report-dir")
        .arg(&dir)
        .args(["--set", "cycle.hold=3s", "--set", "cycle.cycles=1"])
        .args(["--set", "timeouts.graceful_stop=2s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Into the hold: every login answered (well past the wave's logins and the window).
    std::thread::sleep(Duration::from_millis(2000));
    m.child.kill().unwrap();
    let _ = m.child.wait();
    let started = Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run did not end"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut text = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(code, Some(1), "{text}");
    let c = counters(&dir);
    assert_eq!(
        c["takeovers_inferred"], 20,
        "only the wave's own takeovers: {c:?}"
    );
    assert!(c["connections_lost"] >= 20, "{c:?}");
    assert!(text.contains("lost"), "{text}");
}

/// MQTT 5 (§3.1.4-3): the broker "sends a DISCONNECT packet to the existing Client with Reason
/// Code 0x8E (Session taken over)". Mosquitto 2.0.11 does not: the older connection just ends.
/// Judged on the wire alone (`takeover = "signalled"`), every takeover is a session dropped
/// without a word and the run fails as a lost target — the finding docs/real-servers.md
/// records; with the declared inference the same run passes, takeovers counted exactly.
#[test]
fn mosquitto_sends_mqtt5_clients_no_session_taken_over() {
    let m = Mosquitto::start();
    let tmp = TempDir::new();
    let (code, dir, text) = run(
        &m,
        &["mqtt.version=5", "mqtt.takeover=signalled"],
        &tmp,
        "signalled",
    );
    assert_eq!(code, 1, "{text}");
    let c = counters(&dir);
    assert_eq!(c["connections_lost"], 60, "{c:?}");
    assert_eq!(
        c["kicks_multipleAccount"], 0,
        "no DISCONNECT 0x8E came: {c:?}"
    );
    assert_eq!(c["protocol_errors"], 0, "{c:?}");
    assert!(text.contains("dropped mid-session"), "{text}");
    let (code, dir, text) = run(&m, &["mqtt.version=5"], &tmp, "inferred");
    assert_eq!(code, 0, "{text}");
    let c = counters(&dir);
    assert_eq!(c["takeovers_inferred"], 60, "{c:?}");
    assert_eq!(c["connections_lost"], 0, "{c:?}");
}
