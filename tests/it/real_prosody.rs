//! Prosody 0.12 (`.ci/run` installs it), started the way its docs say from a temporary directory
//! of its own, and judged by loginstorm (XMPP over WebSocket).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::real_servers::{assert_loopback_only, counters, run_scenario, wait_listening};
use crate::util::{free_port, TempDir};

/// A Prosody of a test's own: WebSocket on a free loopback port, the accounts of
/// `scenarios/xmpp-users.csv` written to its data directory (internal_plain). CI runs as
/// root, which Prosody refuses unless told (`run_as_root`): it serves loopback only, from a
/// temporary directory, for the test's length.
pub struct Prosody {
    child: Child,
    http: u16,
    dir: TempDir,
}

impl Drop for Prosody {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prosody {
    pub fn start(conflict_resolve: &str) -> Prosody {
        let dir = TempDir::new();
        let d = dir.path();
        let accounts = d.join("data/localhost/accounts");
        std::fs::create_dir_all(&accounts).unwrap();
        let users = std::fs::read_to_string("scenarios/xmpp-users.csv").unwrap();
        for line in users.lines().filter(|l| !l.starts_with('#')).skip(1) {
            let (user, pw) = line.split_once(',').unwrap();
            // Prosody's file names encode every byte but letters and digits (`-` is %2d).
            let name: String = user
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_string()
                    } else {
                        format!("%{:02x}", c as u32)
                    }
                })
                .collect();
            std::fs::write(
                accounts.join(format!("{name}.dat")),
                format!("return {{\n\t[\"password\"] = \"{pw}\";\n}};\n"),
            )
            .unwrap();
        }
        let http = free_port();
        let conf = format!(
            "daemonize = false\nrun_as_root = true\npidfile = \"{d}/prosody.pid\"\ndata_path = \"{d}/data\"\n\
             log = {{ info = \"{d}/prosody.log\" }}\nadmins = {{ }}\n\
             modules_enabled = {{ \"roster\"; \"saslauth\"; \"disco\"; \"ping\"; \"websocket\" }}\n\
             modules_disabled = {{ \"s2s\" }}\nauthentication = \"internal_plain\"\n\
             allow_unencrypted_plain_auth = true\nc2s_require_encryption = false\n\
             consider_websocket_secure = true\nconflict_resolve = \"{conflict_resolve}\"\n\
             interfaces = {{ \"127.0.0.1\" }}\nc2s_ports = {{ }}\ns2s_ports = {{ }}\n\
             http_ports = {{ {http} }}\nhttp_interfaces = {{ \"127.0.0.1\" }}\nhttps_ports = {{ }}\n\
             VirtualHost \"localhost\"\n",
            d = d.display()
        );
        std::fs::write(d.join("prosody.cfg.lua"), conf).unwrap();
        let child = Command::new("prosody")
            .arg("--config")
            .arg(d.join("prosody.cfg.lua"))
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "prosody is not installed: `bash .ci/run` installs it (apt-get install prosody)",
            );
        let p = Prosody { child, http, dir };
        wait_listening("prosody", http, || {
            std::fs::read_to_string(p.dir.path().join("prosody.log")).unwrap_or_default()
        });
        assert_loopback_only(p.child.id(), 1);
        p
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/xmpp-websocket", self.http)
    }
}

fn run_xmpp(p: &Prosody, sets: &[&str], tmp: &TempDir, name: &str) -> (i32, PathBuf, String) {
    run_scenario("scenarios/xmpp-resource.toml", &p.url(), sets, tmp, name)
}

/// Prosody's default (`kick_old`): each same-resource bind replaces the older session — one
/// per account per wave, accounted for exactly, over two seeds. Then a
/// Prosody configured against the scenario's promise (`kick_new`: the newer bind is refused,
/// the older session stays): the run fails, no kick came, the refused logins named. (One test:
/// two Prosodys started at once on this machine do not both come up.)
#[test]
fn prosody_same_resource_logins_kick_exactly_and_kick_new_fails() {
    let tmp = TempDir::new();
    {
        let p = Prosody::start("kick_old");
        for seed in ["1", "2"] {
            let (code, dir, text) = run_xmpp(&p, &[&format!("seed={seed}")], &tmp, seed);
            let c = counters(&dir);
            // Every replaced session ends one of two ways: a <conflict/> stream error read (a
            // kick), or — Prosody 0.12.3 closing a few replaced connections with a bare FIN,
            // no stream error, no <close/>, no WebSocket close (a packet capture shows it;
            // Prosody logs them "connection timeout") — a session dropped without a word
            // (docs/real-servers.md). Both are counted, exactly, and the verdict follows: a
            // dropped session fails the run.
            assert_eq!(
                c["kicks_multipleAccount"] + c["connections_lost"],
                60,
                "seed {seed}: {c:?}"
            );
            assert_eq!(c["expected_kicks"], 60, "{c:?}");
            assert_eq!(c["logins_ok"], 120, "{c:?}");
            assert_eq!(c["protocol_errors"], 0, "{c:?}");
            assert_eq!(c["violations_total"], 0, "no kick was wrong: {c:?}");
            if c["connections_lost"] == 0 {
                assert_eq!(code, 0, "seed {seed}: {text}");
            } else {
                assert_eq!(code, 1, "seed {seed}: {text}");
                assert!(text.contains("dropped mid-session"), "{text}");
            }
        }
    }
    // A resource per instance: Prosody keeps both sessions, which the settle probes (pings)
    // find alive — capacity broken on every wave.
    {
        let p = Prosody::start("kick_old");
        let (code, dir, text) = run_xmpp(&p, &["xmpp.resource={instance}"], &tmp, "both");
        assert_eq!(code, 1, "{text}");
        let c = counters(&dir);
        assert_eq!(c["kicks_multipleAccount"], 0, "{c:?}");
        assert_eq!(c["violations_capacity"], 60, "{c:?}\n{text}");
        assert_eq!(c["violations_kick_count"], 60, "{c:?}\n{text}");
    }
    // kick_new: every wave's newer bind is refused with <conflict/> and the older session
    // kept — the wave's kick missing, named as kick_count on every account and wave.
    let p = Prosody::start("kick_new");
    let (code, dir, text) = run_xmpp(&p, &[], &tmp, "kick_new");
    assert_eq!(code, 1, "{text}");
    let c = counters(&dir);
    assert_eq!(c["kicks_multipleAccount"], 0, "{c:?}");
    assert_eq!(c["logins_failed"], 60, "{c:?}\n{text}");
    assert_eq!(c["violations_kick_count"], 60, "{c:?}\n{text}");
    assert!(text.contains("verdict: FAIL"), "{text}");
    assert!(text.contains("kick_count"), "{text}");
}
