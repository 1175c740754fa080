//! The load engine end to end against the embedded server.

use crate::util::{run_text, TempDir};
use loginstorm::model::{Counter, Metric, Outcome};
use loginstorm::report::{timeseries_columns, KICKS_COLUMNS, SUMMARY_COLUMNS, TIMESERIES_COLUMNS};
use std::path::Path;

const STORM: &str = r#"
[policy]
limits = "Web=1"
[accounts]
count = 50
instances = "Web*3"
[cycle]
cycles = 3
hold = "50ms"
think = "fixed:20ms"
alignment = "barrier"
on_kick = "next_cycle"
"#;

#[test]
fn barrier_waves_give_exactly_the_expected_kicks() {
    let (r, _dir) = run_text(STORM, &[]);
    assert_eq!(r.outcome, Outcome::Completed);
    let t = &r.totals;
    // 50 accounts × 3 waves × 2 kicks.
    assert_eq!(t.get(Counter::KicksMultipleAccount), 300);
    assert_eq!(t.get(Counter::ExpectedKicks), 300);
    assert_eq!(t.get(Counter::ExpectedKicksMax), 300);
    assert_eq!(t.get(Counter::KicksMultipleDevice), 0);
    assert_eq!(r.accounts.len(), 50);
    for a in &r.accounts {
        assert_eq!(a.kicks[0], 6, "{}", a.user);
        assert_eq!(a.expected, Some((6, 6)));
        assert_eq!(a.waves, 3);
        assert_eq!(a.logins, 9);
    }
    assert_eq!(t.get(Counter::LoginsOk), 450);
    assert_eq!(t.get(Counter::CyclesCompleted), 450);
    assert_eq!(t.errors_total(), 0);
}

#[test]
fn histogram_counts_equal_the_operations_done() {
    let (r, _dir) = run_text(
        STORM,
        &[
            "cycle.message_rate=40",
            "cycle.hold=100ms",
            "accounts.count=10",
        ],
    );
    let t = &r.totals;
    let n = |m: Metric| t.hist(m).len();
    assert_eq!(n(Metric::Connect), t.get(Counter::ConnectionsOpened));
    assert_eq!(n(Metric::Login), t.get(Counter::LoginsOk));
    assert_eq!(n(Metric::LoginService), t.get(Counter::LoginsOk));
    assert_eq!(n(Metric::Ready), t.get(Counter::Readies));
    assert_eq!(n(Metric::Logout), t.get(Counter::Logouts));
    assert_eq!(
        n(Metric::Message),
        t.get(Counter::MessagesOk)
            + t.get(Counter::MessagesFailed)
            + t.get(Counter::MessagesRefused)
    );
    assert_eq!(
        n(Metric::KickPropagation),
        t.get(Counter::KicksMultipleAccount)
    );
    assert!(t.get(Counter::MessagesOk) > 0);
    // Every ready instance that was not kicked logged out.
    assert_eq!(t.get(Counter::Logouts), t.get(Counter::Readies) - 60);
}

fn read_csv(path: &Path, columns: &[&str]) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(headers, columns, "{}", path.display());
    r.records().map(Result::unwrap).collect()
}

#[test]
fn every_report_parses_back_with_its_documented_columns() {
    let (r, _dir) = run_text(STORM, &["accounts.count=5"]);
    let d = &r.report_dir;
    let summary = read_csv(&d.join("summary.csv"), &SUMMARY_COLUMNS);
    let names: Vec<&str> = summary.iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(
        names,
        [
            "connect",
            "login",
            "login_service",
            "ready",
            "ready_service",
            "logout",
            "kick_propagation",
            "message",
            "schedule_lag",
            "reconnect",
            "recovery"
        ]
    );
    let login = &summary[1];
    assert_eq!(
        login[1].parse::<u64>().unwrap(),
        r.totals.get(Counter::LoginsOk)
    );
    let p50: u64 = login[4].parse().unwrap();
    let p99: u64 = login[6].parse().unwrap();
    assert!(p50 <= p99);
    let counters = read_csv(&d.join("counters.csv"), &["counter", "value"]);
    let get = |k: &str| -> String {
        counters
            .iter()
            .find(|r| &r[0] == k)
            .unwrap_or_else(|| panic!("{k}"))[1]
            .to_string()
    };
    assert_eq!(get("kicks_multipleAccount"), "30");
    assert_eq!(get("expected_kicks"), "30");
    let columns = timeseries_columns();
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    assert_eq!(&columns[..TIMESERIES_COLUMNS.len()], TIMESERIES_COLUMNS);
    let ts = read_csv(&d.join("timeseries.csv"), &columns);
    assert!(!ts.is_empty());
    let col = |name: &str| columns.iter().position(|c| *c == name).unwrap();
    let sum = |name: &str| -> u64 {
        ts.iter()
            .map(|r| r[col(name)].parse::<u64>().unwrap())
            .sum()
    };
    // Every interval's counts add up to the totals of counters.csv and summary.csv.
    assert_eq!(sum("logins_ok"), r.totals.get(Counter::LoginsOk));
    assert_eq!(sum("cycles"), r.totals.get(Counter::CyclesCompleted));
    assert_eq!(sum("kicks_multipleAccount"), 30);
    for m in Metric::ALL {
        assert_eq!(
            sum(&format!("{}_count", m.name())),
            r.totals.hist(m).len(),
            "{}",
            m.name()
        );
    }
    // One row per interval: elapsed time and UTC timestamps strictly increase, and the
    // intervals add up to the last row's elapsed time.
    let elapsed: Vec<f64> = ts
        .iter()
        .map(|r| r[col("elapsed_s")].parse().unwrap())
        .collect();
    assert!(elapsed.windows(2).all(|w| w[0] < w[1]), "{elapsed:?}");
    let spans: f64 = ts
        .iter()
        .map(|r| r[col("interval_s")].parse::<f64>().unwrap())
        .sum();
    assert!(
        (spans - elapsed[elapsed.len() - 1]).abs() < 0.01,
        "{spans} vs {elapsed:?}"
    );
    let stamps: Vec<chrono::DateTime<chrono::FixedOffset>> = ts
        .iter()
        .map(|r| chrono::DateTime::parse_from_rfc3339(&r[col("timestamp")]).unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]));
    assert!(
        ts.iter().all(|r| r[col("offered_per_s")].is_empty()),
        "closed model: no offered rate"
    );
    // summary.json holds the same figures as the CSV files, from the same run model.
    let sj: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap();
    assert_eq!(sj["schema"], "loginstorm.summary/v1");
    assert_eq!(sj["verdict"]["status"], "PASS");
    for row in &counters {
        let json = &sj["counters"][&row[0]];
        assert_eq!(
            json.as_f64().unwrap(),
            row[1].parse::<f64>().unwrap(),
            "{}",
            &row[0]
        );
    }
    for row in &summary {
        let m = &sj["latency_us"][&row[0]];
        if row[1] == *"0" {
            assert!(m.is_null(), "{}", &row[0]);
        } else {
            assert_eq!(m["count"].to_string(), row[1].to_string(), "{}", &row[0]);
            assert_eq!(m["p99"].to_string(), row[6].to_string(), "{}", &row[0]);
            assert_eq!(m["max"].to_string(), row[8].to_string(), "{}", &row[0]);
        }
    }
    assert_eq!(sj["checks"]["kick_count"]["violations"], 0);
    let kicks = read_csv(&d.join("kicks.csv"), &KICKS_COLUMNS);
    assert_eq!(kicks.len(), 5);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["outcome"], "completed");
    assert_eq!(run["resolved_scenario"]["accounts"]["count"], 5);
    // The interval log is readable by HdrHistogram tooling.
    let hlog = std::fs::read(d.join("latency.hlog")).unwrap();
    let mut tags = std::collections::BTreeSet::new();
    let mut logins_in_log = 0;
    // Per interval, the log's login histogram: its count and p99, in order.
    let mut login_intervals: Vec<(u64, u64)> = Vec::new();
    for entry in hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&hlog) {
        if let hdrhistogram::serialization::interval_log::LogEntry::Interval(h) = entry.unwrap() {
            let tag = h.tag().unwrap().as_str().to_string();
            if tag == "login" {
                let b = base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    h.encoded_histogram(),
                )
                .unwrap();
                let hist: hdrhistogram::Histogram<u64> =
                    hdrhistogram::serialization::Deserializer::new()
                        .deserialize(&mut &b[..])
                        .unwrap();
                logins_in_log += hist.len();
                login_intervals.push((hist.len(), hist.value_at_quantile(0.99)));
            }
            tags.insert(tag);
        }
    }
    assert!(
        tags.contains("login") && tags.contains("kick_propagation"),
        "{tags:?}"
    );
    assert_eq!(logins_in_log, r.totals.get(Counter::LoginsOk));
    // timeseries.csv's per-interval login figures are those of latency.hlog, interval by
    // interval (the log leaves out intervals with no login).
    let from_csv: Vec<(u64, u64)> = ts
        .iter()
        .filter(|r| r[col("login_count")] != *"0")
        .map(|r| {
            (
                r[col("login_count")].parse().unwrap(),
                r[col("login_p99_us")].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(from_csv, login_intervals);
}

#[test]
fn open_model_runs_its_stages() {
    let (r, _dir) = run_text(
        r#"
[accounts]
count = 50
instances = "Web"
[cycle]
hold = "20ms"
alignment = "independent"
[load]
model = "open"
stages = "40,1s;40,1s"
"#,
        &[],
    );
    assert_eq!(r.outcome, Outcome::DurationReached);
    let logins = r.totals.get(Counter::LoginsOk);
    // 20 arrivals in the ramp second and 40 in the flat one, give or take the edges.
    assert!((50..=70).contains(&logins), "{logins}");
}

#[test]
fn expiring_sigs_kick_every_session() {
    let (r, _dir) = run_text(
        r#"
[target]
sig_lifetime = "1s"
[accounts]
count = 5
[cycle]
cycles = 1
hold = "3s"
on_kick = "next_cycle"
"#,
        &[],
    );
    assert_eq!(r.totals.get(Counter::KicksUserSigExpired), 5);
    assert_eq!(r.totals.get(Counter::Logouts), 0);
}

#[test]
fn credentials_from_a_file_log_in_without_the_key() {
    let dir = TempDir::new();
    let now = loginstorm::unix_now();
    let mut csv = String::from("# userID,userSig\n");
    for n in 0..3 {
        let user = format!("given-{n}");
        let sig = loginstorm::usersig::generate(
            loginstorm::server::DEV_SDKAPPID,
            loginstorm::server::DEV_KEY,
            &user,
            now,
            3600,
            None,
        );
        csv.push_str(&format!("{user},{sig}\n"));
    }
    std::fs::write(dir.path().join("creds.csv"), csv).unwrap();
    // The generator's key is wrong on purpose: only the file's sigs can log in.
    std::fs::write(
        dir.path().join("s.toml"),
        "[target]\nkey = \"not-the-key\"\ncredentials = \"creds.csv\"\n[accounts]\ncount = 3\n[cycle]\nhold = \"20ms\"\n",
    )
    .unwrap();
    // A backend with the real key (the embedded one would take the scenario's wrong key).
    let h = loginstorm::server::start(loginstorm::server::ServerConfig::default()).unwrap();
    let target = loginstorm::scenario::Overrides {
        target: Some(h.url()),
        ..Default::default()
    };
    let resolved = loginstorm::scenario::load(&dir.path().join("s.toml"), &target).unwrap();
    assert_eq!(resolved.user_id(2), "given-2");
    let r = crate::util::execute(resolved, crate::util::quiet(dir.path().join("out")));
    assert_eq!(r.totals.get(Counter::LoginsOk), 3);
    assert_eq!(r.totals.get(Counter::LoginsFailed), 0);
    let users: Vec<&str> = r.accounts.iter().map(|a| a.user.as_str()).collect();
    assert!(
        users.contains(&"given-0") && users.contains(&"given-2"),
        "{users:?}"
    );
    let too_few = dir.path().join("few.toml");
    std::fs::write(
        &too_few,
        "[target]\ncredentials = \"creds.csv\"\n[accounts]\ncount = 4\n",
    )
    .unwrap();
    let e = loginstorm::scenario::load(&too_few, &Default::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("credentials"), "{e}");
}

#[test]
fn closed_model_ramp_lag_is_recorded_but_never_cautions() {
    // The closed model's latencies run from the actual send: however late its ramp starts
    // (here any lateness at all passes the bound), the verdict must not call them unreliable.
    let (r, _dir) = run_text(
        r#"
name = "ramp-lag"
[accounts]
count = 150
instances = "Web"
[cycle]
hold = "0"
[load]
model = "closed"
ramp = 3000.0
max_schedule_lag = "1us"
"#,
        &[],
    );
    assert!(r.outcome.is_clean(), "{:?}", r.outcome);
    assert_eq!(r.totals.hist(Metric::ScheduleLag).len(), 150);
    assert!(r.verdict.cautions.is_empty(), "{:?}", r.verdict.cautions);
}

/// A message timer that falls due in the same pass as the hold's end must not fire after the
/// logout went out: the backend's right answer to it ("not logged in") is not a protocol error
/// or a refused message. 1,000 messages/s over 20 ms holds puts a tick on nearly every hold end.
#[test]
fn no_message_is_sent_after_the_hold_ends() {
    let (r, _dir) = run_text(
        "[accounts]\ncount = 20\n[cycle]\ncycles = 15\nhold = \"20ms\"\nthink = \"fixed:5ms\"\nmessage_rate = 1000.0\nend = \"logout\"\n",
        &[],
    );
    let t = &r.totals;
    assert_eq!(t.get(Counter::CyclesCompleted), 300);
    assert!(
        t.get(Counter::MessagesSent) > 1000,
        "{}",
        t.get(Counter::MessagesSent)
    );
    assert_eq!(t.get(Counter::MessagesOk), t.get(Counter::MessagesSent));
    assert_eq!(t.get(Counter::MessagesRefused), 0);
    assert_eq!(t.get(Counter::ProtocolErrors), 0);
    assert_eq!(r.verdict.status, loginstorm::verdict::Status::Pass);
}

/// The embedded server's first-login deadline leaves a jitter wave its whole window: instances
/// connect first and may wait that long before their login.
#[test]
fn the_embedded_server_waits_a_jitter_window_for_the_first_login() {
    let load = |alignment: &str| {
        let r = loginstorm::scenario::load_text(
            &format!("[accounts]\ncount = 2\ninstances = \"Web*2\"\n[cycle]\nalignment = \"{alignment}\"\n"),
            Path::new("."),
            &Default::default(),
        )
        .unwrap();
        loginstorm::run::embedded_server_config(&r)
            .limits
            .login_timeout
    };
    let default = loginstorm::server::ServerLimits::default().login_timeout;
    assert_eq!(load("barrier"), default);
    assert_eq!(
        load("jitter:60s"),
        default + std::time::Duration::from_secs(60)
    );
}
