//! Replayed traces (`load.model = "trace"`): the same trace at ×1 and ×10 gives the same
//! per-account sequence of logins, logouts, kicks and drops — only faster — and a bad trace is
//! refused naming its line.

use loginstorm::model::Counter;
use loginstorm::verdict::Status;

use crate::util::{run_text, TempDir};

/// A generated morning peak (one session a user at a time), and by hand: `dup`'s two Web
/// logins overlap over a limit of one (the second kicks the first), `gone` drops.
fn trace() -> String {
    let spec = loginstorm::trace::shapes::Spec {
        shape: loginstorm::trace::shapes::Shape::MorningPeak,
        users: 30,
        duration: std::time::Duration::from_secs(5),
        session: std::time::Duration::from_secs(1),
        platform: loginstorm::policy::Platform::Web,
        id_pattern: "peak-{n}".into(),
        seed: 3,
    };
    let mut rows = loginstorm::trace::shapes::generate(&spec);
    let by_hand = "0.5,dup,Web,login\n1.5,dup,Web,login\n2.5,dup,Web,logout\n3.0,dup,Web,logout\n\
                   1.0,gone,Android,login\n2.0,gone,Android,drop\n3.5,gone,Android,login\n4.5,gone,Android,logout\n";
    for line in by_hand.lines() {
        let f: Vec<&str> = line.split(',').collect();
        rows.push(loginstorm::trace::Row {
            at: std::time::Duration::from_secs_f64(f[0].parse().unwrap()),
            user: f[1].into(),
            platform: f[2].parse().unwrap(),
            action: match f[3] {
                "login" => loginstorm::trace::Action::Login,
                "logout" => loginstorm::trace::Action::Logout,
                _ => loginstorm::trace::Action::Drop,
            },
        });
    }
    rows.sort_by_key(|r| r.at);
    loginstorm::trace::to_csv(&rows)
}

#[test]
fn a_trace_at_x1_and_x10_gives_the_same_sequence_per_account() {
    let dir = TempDir::new();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, trace()).unwrap();
    let run = |speed: u32| {
        let toml = format!(
            "[accounts]\ncount = 1\n[load]\nmodel = \"trace\"\ntrace = \"{}\"\nspeed = {speed}\n\
             [server]\nsession_timeout = \"2s\"\n[reconnect]\nheartbeat = \"500ms\"\n",
            path.display()
        );
        run_text(&toml, &[]).0
    };
    let (slow, fast) = (run(1), run(10));
    for r in [&slow, &fast] {
        assert_eq!(r.verdict.status, Status::Pass, "{:?}", r.verdict.reasons);
    }
    assert!(
        fast.elapsed * 4 < slow.elapsed,
        "{:?} vs {:?}",
        fast.elapsed,
        slow.elapsed
    );
    let per_account = |r: &loginstorm::run::Finished| {
        let mut v: Vec<(String, u64, [u64; 4])> = r
            .accounts
            .iter()
            .map(|a| (a.user.clone(), a.logins, a.kicks))
            .collect();
        v.sort();
        v
    };
    assert_eq!(per_account(&slow), per_account(&fast));
    let dup = per_account(&slow)
        .into_iter()
        .find(|a| a.0 == "dup")
        .unwrap();
    assert_eq!(
        (dup.1, dup.2[0]),
        (2, 1),
        "two logins, the second kicking the first"
    );
    for c in [
        Counter::LoginsOk,
        Counter::Readies,
        Counter::Logouts,
        Counter::ConnectionsLostPlanned,
        Counter::KicksMultipleAccount,
    ] {
        assert_eq!(slow.totals.get(c), fast.totals.get(c), "{}", c.name());
    }
    assert_eq!(
        slow.totals.get(Counter::ConnectionsLostPlanned),
        1,
        "gone's drop"
    );
    assert_eq!(
        slow.totals.get(Counter::Reconnects),
        0,
        "a dropped user does not come back by itself"
    );
}

#[test]
fn a_bad_trace_is_refused_naming_its_line() {
    let dir = TempDir::new();
    std::fs::write(dir.path().join("t.csv"), "0,a,Web,login\n1,a,Web,jump\n").unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "[accounts]\ncount = 1\n[load]\nmodel = \"trace\"\ntrace = \"t.csv\"\n",
    )
    .unwrap();
    let e = loginstorm::scenario::load(&dir.path().join("s.toml"), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("load.trace") && e.contains("line 2") && e.contains("jump"),
        "{e}"
    );
}
