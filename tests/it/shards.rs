//! Shards and their merge, from the failure side: merged shards must equal one unsharded run
//! (counts, kicks and expectations exact; percentiles those of the added histograms), thresholds
//! are judged on the merged run. A missing, duplicated, unfinished or foreign shard is never
//! merged silently (shards_tampered.rs); `run --processes` watching its shards fail or be
//! interrupted is shards_processes.rs. The helpers here serve all three.

use crate::util::{bin, TempDir};
use loginstorm::model::{Metric, Snapshot};
use loginstorm::report::records;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

/// Barrier waves on 12 accounts of 3 Web + 1 Android, Web limit 2: one multipleAccount kick per
/// account per cycle, 24 in all, whichever shard runs the account.
pub(crate) const CLOSED: &str = r#"
name = "shardy"
seed = 7
[policy]
limits = "Web=2"
mode = "multi"
[accounts]
count = 12
id_pattern = "sh-{n}"
instances = "Web*3,Android"
[cycle]
cycles = 2
hold = "50ms..100ms"
think = "uniform:20ms..50ms"
alignment = "barrier"
connection = "kept"
[load]
model = "closed"
ramp = 500.0
"#;

/// The open model: 40 arrivals dealt to 10 accounts, then a second without arrivals so the
/// last one is not racing the planned end.
const OPEN: &str = r#"
name = "shardy-open"
seed = 3
[accounts]
count = 10
id_pattern = "op-{n}"
instances = "Web"
[cycle]
hold = "20ms"
[load]
model = "open"
stages = "20,1ms;20,2s;0,1ms;0,1s"
"#;

/// Counters that do not depend on timing in these scenarios (messages, probes of settling
/// accounts and rates do).
const EXACT: [&str; 16] = [
    "connections_opened",
    "connections_failed",
    "logins_ok",
    "logins_failed",
    "readies",
    "logouts",
    "kicks_multipleAccount",
    "kicks_multipleDevice",
    "expected_kicks",
    "expected_kicks_max",
    "cycles_completed",
    "arrivals_dropped",
    "violations_total",
    "errors_total",
    "judged_capacity",
    "judged_kick_count",
];

pub(crate) fn write(tmp: &TempDir, name: &str, text: &str) -> PathBuf {
    let p = tmp.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// CLOSED without a cycle count, lasting `duration`: a run to kill or interrupt midway.
pub(crate) fn long(tmp: &TempDir, duration: &str) -> PathBuf {
    write(
        tmp,
        "long.toml",
        &CLOSED.replace("cycles = 2", "cycles = 0").replace(
            "ramp = 500.0",
            &format!("ramp = 500.0\nduration = \"{duration}\""),
        ),
    )
}

pub(crate) fn spawn_run(scenario: &Path, dir: &Path, extra: &[&str]) -> Child {
    bin()
        .arg("run")
        .arg(scenario)
        .args(["--quiet", "--report-dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Run the shards (all at once, as a cluster would) and the unsharded run.
fn shards_and_whole(
    tmp: &TempDir,
    scenario: &Path,
    n: u32,
    extra: &[&str],
) -> (Vec<PathBuf>, PathBuf) {
    let mut kids = Vec::new();
    let mut dirs = Vec::new();
    for i in 0..n {
        let dir = tmp.path().join(format!("shard-{i}"));
        let shard = format!("{i}/{n}");
        let mut args = vec!["--shard", &shard];
        args.extend_from_slice(extra);
        kids.push(spawn_run(scenario, &dir, &args));
        dirs.push(dir);
    }
    let whole = tmp.path().join("whole");
    let w = spawn_run(scenario, &whole, extra)
        .wait_with_output()
        .unwrap();
    assert!(w.status.code().is_some(), "{}", text(&w));
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    }
    (dirs, whole)
}

pub(crate) fn merge(dirs: &[PathBuf], out: &Path, extra: &[&str]) -> Output {
    bin()
        .arg("merge")
        .args(dirs)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn counters(dir: &Path) -> BTreeMap<String, String> {
    let mut r = csv::Reader::from_path(dir.join("counters.csv")).unwrap();
    r.records()
        .map(|row| {
            let row = row.unwrap();
            (row[0].to_string(), row[1].to_string())
        })
        .collect()
}

pub(crate) fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

/// The run's totals, added up from its intervals.jsonl.
fn totals(dir: &Path) -> Snapshot {
    let (recs, _) = records::read_intervals_from(&dir.join(records::INTERVALS_FILE), 0).unwrap();
    let mut s = Snapshot::default();
    for r in recs {
        s.add(&r.snapshot().unwrap());
    }
    s
}

fn summary_rows(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut r = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    r.records()
        .map(|row| {
            let row = row.unwrap();
            (row[0].to_string(), row.iter().map(str::to_string).collect())
        })
        .collect()
}

/// What must hold between merged shards and the unsharded run of the same scenario and seed.
fn assert_merged_equals_whole(shards: &[PathBuf], merged: &Path, whole: &Path) {
    let (m, w) = (counters(merged), counters(whole));
    for k in EXACT {
        assert_eq!(m.get(k), w.get(k), "{k}: merged vs unsharded");
    }
    assert_eq!(read(merged, "kicks.csv"), read(whole, "kicks.csv"));
    // Every histogram has the unsharded run's number of samples (messages aside: timed) …
    let (ms, ws) = (summary_rows(merged), summary_rows(whole));
    for metric in ["connect", "login", "ready", "logout", "kick_propagation"] {
        assert_eq!(ms[metric][1], ws[metric][1], "{metric} count");
    }
    // … and its percentiles are those of the shards' histograms added (not averaged).
    let mut sum = Snapshot::default();
    for d in shards {
        sum.add(&totals(d));
    }
    for m in Metric::ALL {
        let h = sum.hist(m);
        let row = &ms[m.name()];
        assert_eq!(row[1], h.len().to_string(), "{}", m.name());
        if !h.is_empty() {
            assert_eq!(
                row[4],
                h.value_at_quantile(0.5).to_string(),
                "{} p50",
                m.name()
            );
            assert_eq!(
                row[6],
                h.value_at_quantile(0.99).to_string(),
                "{} p99",
                m.name()
            );
            assert_eq!(row[8], h.max().to_string(), "{} max", m.name());
        }
    }
    assert_eq!(totals(merged).counters, sum.counters);
}

#[test]
fn three_shards_merged_equal_one_unsharded_run() {
    let tmp = TempDir::new();
    for (name, text_) in [("closed.toml", CLOSED), ("open.toml", OPEN)] {
        let scenario = write(&tmp, name, text_);
        let sub = TempDir::new();
        let (dirs, whole) = shards_and_whole(&sub, &scenario, 3, &[]);
        // Each shard ran exactly its own accounts (n % 3 == i), under their global userIDs.
        for (i, d) in dirs.iter().enumerate() {
            let accounts = records::read_accounts(&d.join(records::ACCOUNTS_FILE)).unwrap();
            assert!(!accounts.is_empty());
            assert!(
                accounts.iter().all(|a| a.index % 3 == i as u32),
                "{accounts:?}"
            );
            assert!(accounts
                .iter()
                .all(|a| a.user.ends_with(&format!("-{}", a.index))));
        }
        let merged = sub.path().join("merged");
        let o = merge(&dirs, &merged, &[]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(text(&o).contains("merged 3 shard(s) of 3"), "{}", text(&o));
        assert_merged_equals_whole(&dirs, &merged, &whole);
        if name == "closed.toml" {
            assert_eq!(counters(&merged)["kicks_multipleAccount"], "24");
            assert_eq!(counters(&merged)["expected_kicks"], "24");
        } else {
            assert_eq!(counters(&merged)["cycles_completed"], "40");
        }
        // The merged report is a whole report: every file, judged once.
        for f in [
            "summary.json",
            "report.html",
            "junit.xml",
            "timeseries.csv",
            "latency.hlog",
        ] {
            assert!(merged.join(f).is_file(), "{f}");
        }
        let run: serde_json::Value = serde_json::from_str(&read(&merged, "run.json")).unwrap();
        assert_eq!(run["merged_from"].as_array().unwrap().len(), 3);
    }
}

#[test]
fn run_processes_merges_its_children_into_the_unsharded_result() {
    let tmp = TempDir::new();
    let scenario = write(&tmp, "closed.toml", CLOSED);
    let whole = tmp.path().join("whole");
    let w = spawn_run(&scenario, &whole, &[])
        .wait_with_output()
        .unwrap();
    assert_eq!(w.status.code(), Some(0), "{}", text(&w));
    let merged = tmp.path().join("procs");
    let o = bin()
        .arg("run")
        .arg(&scenario)
        .args(["--processes", "3", "--quiet", "--report-dir"])
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let shards: Vec<PathBuf> = (0..3)
        .map(|i| merged.join("shards").join(format!("shard-{i}")))
        .collect();
    assert_merged_equals_whole(&shards, &merged, &whole);
    // Each child had its own embedded server.
    let targets: Vec<String> = shards
        .iter()
        .map(|d| {
            let j: serde_json::Value = serde_json::from_str(&read(d, "run.json")).unwrap();
            assert_eq!(j["embedded_server"], true);
            j["target"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(
        targets[0] != targets[1] && targets[1] != targets[2],
        "{targets:?}"
    );
}

#[test]
fn thresholds_are_judged_on_the_merged_run() {
    let tmp = TempDir::new();
    let scenario = write(&tmp, "closed.toml", CLOSED);
    // 24 kicks in all, 8 per shard: each shard alone fails this, the merged run passes it.
    let (dirs, _) = shards_and_whole(&tmp, &scenario, 3, &["--threshold", "kicks_total >= 20"]);
    for d in &dirs {
        let j: serde_json::Value = serde_json::from_str(&read(d, "summary.json")).unwrap();
        assert_eq!(j["verdict"]["status"], "FAIL", "{}", d.display());
    }
    let o = merge(&dirs, &tmp.path().join("m1"), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A threshold the merged run breaks fails the merge, named.
    let o = merge(
        &dirs,
        &tmp.path().join("m2"),
        &["--threshold", "kicks_total > 24"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("kicks_total > 24"), "{}", text(&o));
    assert!(text(&o).contains("verdict: FAIL"), "{}", text(&o));
}
