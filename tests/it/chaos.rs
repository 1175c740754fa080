//! Disruptions and reconnects (`[[chaos]]`, `[reconnect]`): the verdict rule — a loss a
//! disruption caused is planned and passes, the same loss unplanned fails, an instance that
//! never comes back fails — and a disruption that cannot be caused ends the run with its
//! reports.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use loginstorm::model::Counter;
use loginstorm::verdict::Status;

use crate::util::{free_port, run_bin, run_text, TempDir};

const ACCOUNTS: u64 = 20;

/// A `loginstorm serve` on `port`, its pid in `dir/pid` (a chaos command replaces it). Started
/// in the background of a shell, as the commands start its successor: no child of this process,
/// so a killed server is reaped and its pid is gone when it is.
fn serve_on(port: u16, dir: &Path) {
    let status = Command::new("sh")
        .args([
            "-c",
            &format!(
                "{bin} serve --listen 127.0.0.1:{port} >/dev/null 2>&1 & echo $! > {p}",
                bin = env!("CARGO_BIN_EXE_loginstorm"),
                p = dir.join("pid").display()
            ),
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    wait_listening(port);
}

fn wait_listening(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("nothing listens on {port}");
}

/// Kill the server whose pid is in `dir/pid`, and (with `again`) start another on `port`.
fn restart_command(dir: &Path, port: u16, again: bool) -> String {
    let pid = dir.join("pid");
    let mut c = format!(
        "kill $(cat {p}); n=0; while kill -0 $(cat {p}) 2>/dev/null && [ $n -lt 100 ]; do sleep 0.05; n=$((n+1)); done",
        p = pid.display()
    );
    if again {
        c += &format!(
            "; sleep 0.3; {bin} serve --listen 127.0.0.1:{port} >/dev/null 2>&1 & echo $! > {p}",
            bin = env!("CARGO_BIN_EXE_loginstorm"),
            p = pid.display()
        );
    }
    c
}

/// Kill the server whose pid is in `dir/pid`, and wait until it is gone (its port free).
fn stop(dir: &Path) {
    assert!(kill(dir), "the server in {} did not stop", dir.display());
}

/// Kill the server whose pid is in `dir/pid`; whether it is gone within 5 s.
fn kill(dir: &Path) -> bool {
    let Ok(pid) = std::fs::read_to_string(dir.join("pid")) else {
        return true;
    };
    let pid = pid.trim();
    let _ = Command::new("kill").arg(pid).status();
    for _ in 0..200 {
        let alive = Command::new("kill")
            .args(["-0", pid])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !alive {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// Whatever server `dir/pid` names when the test ends — passed or failed — is killed: the
/// servers run in the background of a shell, no child of this process.
struct Reaper<'a>(&'a Path);

impl Drop for Reaper<'_> {
    fn drop(&mut self) {
        kill(self.0);
    }
}

/// Sessions held 4 s, reconnecting with short waits; `extra` adds tables.
fn scenario(url: &str, extra: &str) -> String {
    format!(
        "[target]\nurl = \"{url}\"\n[accounts]\ncount = {ACCOUNTS}\ninstances = \"Web,Android\"\n\
         [cycle]\nhold = \"4s\"\n[reconnect]\nmode = \"backoff\"\ninitial = \"200ms\"\nmax = \"1s\"\n{extra}"
    )
}

#[test]
fn losses_a_disruption_caused_pass_and_the_same_losses_unplanned_fail() {
    let dir = TempDir::new();
    let _reaper = Reaper(dir.path());
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}/ws");

    // Planned: the scenario's own command restarts the server.
    serve_on(port, dir.path());
    let chaos = format!(
        "[[chaos]]\nat = \"1500ms\"\naction = \"command\"\ncommand = \"{}\"\n",
        restart_command(dir.path(), port, true)
    );
    let (r, _d) = run_text(&scenario(&url, &chaos), &[]);
    let t = &r.totals;
    let sessions = ACCOUNTS * 2;
    assert_eq!(r.verdict.status, Status::Pass, "{:?}", r.verdict.reasons);
    assert_eq!(t.get(Counter::ConnectionsLostPlanned), sessions);
    assert_eq!(t.get(Counter::ConnectionsLost), 0);
    assert_eq!(t.get(Counter::SessionsDisrupted), sessions);
    assert_eq!(t.get(Counter::Reconnects), sessions);
    assert_eq!(
        t.get(Counter::Logouts),
        sessions,
        "each finished its hold and logged out"
    );
    stop(dir.path());

    // Unplanned: the same restart, from outside the scenario (on a port of its own, so no
    // server of the first part can answer).
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}/ws");
    serve_on(port, dir.path());
    let cmd = restart_command(dir.path(), port, true);
    let outside = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        Command::new("sh").args(["-c", &cmd]).status().unwrap();
    });
    let (r, _d) = run_text(&scenario(&url, ""), &[]);
    outside.join().unwrap();
    stop(dir.path());
    let t = &r.totals;
    assert_eq!(r.verdict.status, Status::Fail);
    assert!(
        r.verdict
            .reasons
            .iter()
            .any(|(_, why)| why.contains("dropped mid-session")),
        "{:?}",
        r.verdict.reasons
    );
    assert_eq!(t.get(Counter::ConnectionsLost), sessions);
    assert_eq!(t.get(Counter::ConnectionsLostPlanned), 0);
    assert_eq!(
        t.get(Counter::SessionsDisrupted),
        0,
        "no disruption: none counted"
    );
    assert_eq!(
        t.get(Counter::Reconnects),
        sessions,
        "they came back all the same"
    );
}

#[test]
fn a_backend_that_never_comes_back_fails_the_run() {
    let dir = TempDir::new();
    let _reaper = Reaper(dir.path());
    let port = free_port();
    serve_on(port, dir.path());
    let chaos = format!(
        "[[chaos]]\nat = \"1s\"\naction = \"command\"\nsettle = \"200ms\"\ncommand = \"{}\"\n",
        restart_command(dir.path(), port, false)
    );
    let (r, _d) = run_text(&scenario(&format!("ws://127.0.0.1:{port}/ws"), &chaos), &[]);
    stop(dir.path());
    let t = &r.totals;
    assert_eq!(r.verdict.status, Status::Fail);
    assert_eq!(t.get(Counter::Reconnects), 0);
    assert_eq!(
        t.get(Counter::ReconnectsUnfinished),
        ACCOUNTS * 2,
        "{:?}",
        r.verdict.reasons
    );
    assert!(
        r.verdict
            .reasons
            .iter()
            .any(|(_, why)| why.contains("not ready again by the run's end")),
        "{:?}",
        r.verdict.reasons
    );
}

#[test]
fn an_embedded_restart_without_reconnect_ends_the_cycles_it_cut_and_passes() {
    let toml = "[accounts]\ncount = 10\ninstances = \"Web,Android\"\n[cycle]\nhold = \"2s\"\n\
                [[chaos]]\nat = \"1s\"\naction = \"restart\"\npause = \"300ms\"\n";
    let (r, _d) = run_text(toml, &[]);
    let t = &r.totals;
    assert_eq!(r.verdict.status, Status::Pass, "{:?}", r.verdict.reasons);
    assert_eq!(t.get(Counter::ConnectionsLostPlanned), 20);
    assert_eq!(t.get(Counter::Reconnects), 0);
    assert_eq!(t.get(Counter::ReconnectAttempts), 0);
    assert_eq!(
        t.get(Counter::Logouts),
        0,
        "every session was cut before its logout"
    );
}

#[test]
fn a_disruption_that_cannot_be_caused_ends_the_run_with_its_reports() {
    let dir = TempDir::new();
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        "[accounts]\ncount = 2\n[cycle]\nhold = \"5s\"\n\
         [[chaos]]\nat = \"300ms\"\naction = \"command\"\ncommand = \"exit 3\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let (code, stdout, report) = run_bin(&[path.to_str().unwrap()], &out);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("disruption could not be caused"),
        "{stdout}"
    );
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["outcome"], "disruption_failed");
    assert!(report.join("summary.json").is_file());
}

/// `[network]`: a 40 ms delay each way adds 80 ms to every login → ready round trip (the login
/// out, `sdkStateReady` back): no round trip is shorter (but for the half millisecond a hop may
/// be early, engine/shaped.rs) — a bound the code guarantees, whatever the machine's speed —
/// and the median grows by the delay once each way, not twice (a delay applied twice would
/// add 160 ms; the bound leaves a busy machine 40 ms of its own on the median).
#[test]
fn an_added_network_delay_is_seen_in_ready_service() {
    let base =
        "[accounts]\ncount = 50\n[cycle]\ncycles = 3\nhold = \"50ms\"\nthink = \"fixed:20ms\"\n";
    let p50 = |extra: &str| {
        let (r, _d) = run_text(&format!("{base}{extra}"), &[]);
        assert_eq!(r.verdict.status, Status::Pass, "{:?}", r.verdict.reasons);
        let h = r.totals.hist(loginstorm::model::Metric::ReadyService);
        assert_eq!(h.len(), 150);
        (h.value_at_quantile(0.5), h.min())
    };
    let (plain, _) = p50("");
    let (shaped, min) = p50("[network]\ndelay = \"40ms\"\n");
    let added = shaped.saturating_sub(plain);
    assert!(
        min >= 79_000,
        "a round trip shorter than the delay: {min} µs"
    );
    assert!(
        (72_000..120_000).contains(&added),
        "asked 80 ms more, saw {added} µs more ({plain} → {shaped})"
    );
}

/// A silent drop leaves a ghost on the server until its session timeout: the server keeps the
/// connection (and its session) while the instance has already come back on a new one — whose
/// login replaces its own ghost (the oldest) with a kick nobody reads — and closes it once it
/// has been silent for the timeout. The checks stay sound: a ghost replaced by its own
/// instance's re-login is the backend being right.
#[test]
fn a_silent_drop_leaves_a_ghost_until_the_session_timeout() {
    let mut cfg = loginstorm::server::ServerConfig::default();
    cfg.limits.idle_timeout = Duration::from_secs(2);
    let server = loginstorm::server::start(cfg).unwrap();
    let toml = format!(
        "[target]\nurl = \"{}\"\n[accounts]\ncount = 10\n[cycle]\nhold = \"10s\"\n\
         [reconnect]\nmode = \"backoff\"\ninitial = \"200ms\"\nheartbeat = \"500ms\"\n\
         [[chaos]]\nat = \"1s\"\naction = \"drop\"\nfraction = 1.0\nhow = \"silent\"\n",
        server.url()
    );
    let began = std::time::Instant::now();
    let run = std::thread::spawn(move || run_text(&toml, &[]));
    // Watched, not sampled at set instants: every instance comes back on a new connection
    // while its ghost's is still open (20), then the server times the ghosts out (10) — each
    // ghost's last heartbeat left before 1 s, so by 3 s, long before the holds end at 11 s
    // (when 10 would mean the live ones had gone instead). The deadlines only end the loops.
    let watch = |want: usize, by: Duration| {
        while server.open_connections() != want && began.elapsed() < by {
            std::thread::sleep(Duration::from_millis(10));
        }
        server.open_connections()
    };
    let while_ghosts = watch(20, Duration::from_secs(8));
    let after = watch(10, Duration::from_secs(8));
    let (r, _d) = run.join().unwrap();
    let t = &r.totals;
    assert_eq!(while_ghosts, 20, "10 ghosts beside 10 new connections");
    assert_eq!(after, 10, "the ghosts timed out");
    let server_kicks = server.stats().read().kicks;
    assert_eq!(
        server_kicks[0], 10,
        "each re-login replaced its ghost: {server_kicks:?}"
    );
    assert_eq!(t.kicks_total(), 0, "kicks sent to ghosts are never read");
    assert_eq!(r.verdict.status, Status::Pass, "{:?}", r.verdict.reasons);
    assert_eq!(t.get(Counter::ConnectionsLostPlanned), 10);
    assert_eq!(t.get(Counter::Reconnects), 10);
    assert_eq!(
        t.get(Counter::ConnectionsLost),
        0,
        "the heartbeat kept the live ones"
    );
}

/// gateway-restart as shipped (smaller, sooner): its gateway restart keeps the sessions as
/// ghosts, and a backend that kicks a live instance instead of the ghost fails the run on the
/// ghost-order check, named in the verdict — while the same run on the correct server passes
/// (`shipped.rs`, `gateway_restart_passes_against_the_correct_server`).
#[test]
fn gateway_restart_fails_on_a_backend_that_kicks_live_instances_before_ghosts() {
    let dir = TempDir::new();
    let (code, stdout, report) = run_bin(
        &[
            "scenarios/gateway-restart.toml",
            "--set",
            "accounts.count=60",
            "--set",
            "load.ramp=1000",
            "--set",
            "chaos.0.at=3s",
            "--set",
            "cycle.hold=6s",
            "--set",
            "server.faults.ghost_kick=1",
        ],
        &dir.path().join("out"),
    );
    assert_eq!(code, Some(1), "{stdout}");
    let failed = stdout
        .lines()
        .find(|l| l.starts_with("violations.victim_order == 0"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(failed.ends_with("FAIL"), "{failed}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    let violations = std::fs::read_to_string(report.join("violations.csv")).unwrap();
    assert!(
        violations.contains("a ghost (#"),
        "the violations name the ghost: {violations}"
    );
    // Each account's second re-login kicked its first one's live session.
    assert_eq!(
        summary["checks"]["victim_order"]["violations"], 60,
        "{summary}"
    );
}
