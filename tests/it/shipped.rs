//! Every shipped scenario, as a user would copy it: against the reference server it passes,
//! judges the checks its header claims, and leaves a whole, self-contained report; an MQTT or
//! XMPP scenario is run by a real-server test instead (tests/it/real_*.rs).

use crate::util::TempDir;
use loginstorm::checks::Class;
use loginstorm::model::Counter;
use std::path::Path;

#[test]
fn every_shipped_scenario_passes_against_the_correct_server() {
    let mut names: Vec<_> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 6, "{names:?}");
    for path in names {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        if !ON_THEIR_OWN.contains(&stem) {
            shipped_passes(&path);
        }
    }
}

/// The shipped scenarios that take longest (a restart at 10 s, 20 s of drops, a trace), each
/// in a test of its own so they run beside the rest.
const ON_THEIR_OWN: [&str; 3] = ["gateway-restart", "flaky-network", "trace-replay"];

#[test]
fn gateway_restart_passes_against_the_correct_server() {
    shipped_passes(Path::new("scenarios/gateway-restart.toml"));
}

#[test]
fn flaky_network_passes_against_the_correct_server() {
    shipped_passes(Path::new("scenarios/flaky-network.toml"));
}

#[test]
fn trace_replay_passes_against_the_correct_server() {
    shipped_passes(Path::new("scenarios/trace-replay.toml"));
}

/// A shipped scenario passes on the reference server, with the checks its header claims
/// judged, its reports whole.
fn shipped_passes(path: &Path) {
    let path = path.to_path_buf();
    let dir = TempDir::new();
    let resolved = loginstorm::scenario::load(&path, &Default::default()).unwrap();
    if matches!(resolved.scenario.target.protocol.as_str(), "mqtt" | "xmpp") {
        // A broker's or an XMPP server's scenario: judged against Mosquitto, Prosody or
        // ejabberd in tests/it/real_*.rs.
        let real = [
            include_str!("real_servers.rs"),
            include_str!("real_prosody.rs"),
            include_str!("real_ejabberd.rs"),
        ]
        .concat();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(real.contains(name), "{name} is run by no real-server test");
        return;
    }
    let stem = path.file_stem().unwrap().to_str().unwrap();
    let resolved = match stem {
        // 20,000 instances are past one process's descriptors with the embedded server
        // (the scenario says to run it as shard processes); the same shape, smaller.
        "gateway-restart" => loginstorm::scenario::load(
            &path,
            // The restart at 3 s of a 6 s hold: the same storm, sooner.
            &loginstorm::scenario::Overrides::sets(&[
                "accounts.count=150",
                "load.ramp=1000",
                "chaos.0.at=3s",
                "cycle.hold=6s",
            ]),
        )
        .unwrap(),
        "flaky-network" => loginstorm::scenario::load(
            &path,
            // The three drops 2 s apart: silent, reset, closed, as shipped.
            &loginstorm::scenario::Overrides::sets(&[
                "accounts.count=150",
                "chaos.0.at=2s",
                "chaos.1.at=4s",
                "chaos.2.at=6s",
                "load.duration=8s",
            ]),
        )
        .unwrap(),
        _ => resolved,
    };
    let r = crate::util::execute(resolved, crate::util::quiet(dir.path().to_path_buf()));
    let shown = path.display();
    if stem == "gateway-restart" {
        // The restart took every session down and each came back.
        let t = &r.totals;
        assert_eq!(t.get(Counter::SessionsDisrupted), 150 * 3, "{shown}");
        assert_eq!(t.get(Counter::Reconnects), 150 * 3, "{shown}");
        assert_eq!(t.hist(loginstorm::model::Metric::Recovery).len(), 150 * 3);
        assert_eq!(t.get(Counter::ConnectionsLost), 0, "{shown}");
        assert_eq!(t.get(Counter::ReconnectsUnfinished), 0, "{shown}");
        assert!(
            loginstorm::model::recovery_time(t, 0.99).is_some(),
            "{shown}"
        );
    }
    if stem == "flaky-network" {
        // Three drops cut sessions, each came back, and the heartbeat kept the rest.
        let t = &r.totals;
        assert!(t.get(Counter::ConnectionsLostPlanned) > 0, "{shown}");
        assert_eq!(
            t.get(Counter::Reconnects),
            t.get(Counter::ConnectionsLostPlanned),
            "{shown}"
        );
        assert_eq!(t.get(Counter::ConnectionsLost), 0, "{shown}");
        assert!(t.judged(Class::VictimOrder) > 0, "{shown}");
    }
    assert!(r.outcome.is_clean(), "{shown}: {:?}", r.outcome);
    assert_eq!(
        r.totals.violations_total(),
        0,
        "{shown}: {:?}",
        r.accounts.iter().flat_map(|a| &a.violations).next()
    );
    assert_eq!(r.totals.warnings_total(), 0, "{shown}");
    assert!(r.totals.get(Counter::LoginsOk) > 0, "{shown}");
    // The invariants each scenario claims to exercise (its header says which) are judged.
    let claims: &[Class] = match path.file_stem().unwrap().to_str().unwrap() {
        "expiry" => &[
            Class::LostKick,
            Class::SpuriousKick,
            Class::KickType,
            Class::Zombie,
            Class::Ready,
        ],
        "multi-platform" | "admin-kick" => &Class::ALL,
        // One instance per account (one session a user): no kick may come, none is owed.
        "capacity-search" | "trace-replay" => &[Class::ExcessKick, Class::Zombie, Class::Ready],
        _ => &[
            Class::Capacity,
            Class::LostKick,
            Class::SpuriousKick,
            Class::ExcessKick,
            Class::KickCount,
            Class::LateKick,
            Class::KickType,
            Class::Zombie,
            Class::Ready,
            Class::Isolation,
        ],
    };
    for c in claims {
        assert!(
            r.totals.judged(*c) > 0,
            "{shown}: {} never judged",
            c.name()
        );
    }
    let expected = r.totals.get(Counter::ExpectedKicks);
    // Admin kicks and drops cut into waves: there each wave's count is judged by
    // kick_count instead.
    if expected > 0 && !resolved_has_admin_kicks(&path) && stem != "flaky-network" {
        let observed = r.totals.get(Counter::KicksMultipleAccount)
            + r.totals.get(Counter::KicksMultipleDevice);
        assert_eq!(
            observed, expected,
            "{shown}: observed kicks equal the policy's expectation"
        );
    }
    // Its report directory has the page and the document, self-contained.
    let page = std::fs::read_to_string(r.report_dir.join("report.html")).unwrap();
    check_page(&page, &shown.to_string());
    assert!(r.report_dir.join("summary.json").is_file(), "{shown}");
}

/// report.html stands alone (no script, no link, no image, no CSS import or url(): nothing
/// for a browser to fetch) and every chart the run had data for was drawn.
fn check_page(page: &str, shown: &str) {
    assert!(page.starts_with("<!DOCTYPE html>"), "{shown}");
    for forbidden in [
        "<script", "<link", "<img", "src=", "href=", "url(", "@import", "<iframe",
    ] {
        assert!(
            !page.contains(forbidden),
            "{shown}: report.html has {forbidden}"
        );
    }
    assert!(page.contains("verdict: PASS"), "{shown}");
    // Throughput, live sessions, login and ready over time, the percentile chart, kicks and
    // errors always have data in a passing run.
    let svgs = page.matches("<svg").count();
    assert!(svgs >= 7, "{shown}: {svgs} charts");
    for title in [
        "Offered and achieved rates",
        "Live sessions",
        "login: p50 / p99 / max per second",
        "ready: p50 / p99 / max per second",
        "Latency by percentile",
    ] {
        let at = page
            .find(title)
            .unwrap_or_else(|| panic!("{shown}: no {title}"));
        // The title is inside a drawn chart (its <svg> opened before it), not an "empty" note.
        let before = &page[..at];
        assert!(
            before.rfind("<svg") > before.rfind("class=\"empty\""),
            "{shown}: {title} not drawn"
        );
        // A drawn series is a polyline with points.
        let svg_end = at + page[at..].find("</svg>").unwrap();
        assert!(
            page[at..svg_end].contains("<polyline"),
            "{shown}: {title} has no line"
        );
    }
}

fn resolved_has_admin_kicks(path: &std::path::Path) -> bool {
    let r = loginstorm::scenario::load(path, &Default::default()).unwrap();
    !r.scenario.admin_kick.interval.0.is_zero()
}
