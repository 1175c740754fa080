//! Shards and their merge, from the failure side: merged shards must equal one unsharded run
//! (counts, kicks and expectations exact; percentiles those of the added histograms), thresholds
//! are judged on the merged run, and a missing, duplicated, unfinished or foreign shard is
//! never merged silently.

use crate::util::{bin, TempDir};
use loginstorm::model::{Metric, Snapshot};
use loginstorm::report::records;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::Duration;

/// Barrier waves on 12 accounts of 3 Web + 1 Android, Web limit 2: one multipleAccount kick per
/// account per cycle, 24 in all, whichever shard runs the account.
const CLOSED: &str = r#"
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

fn write(tmp: &TempDir, name: &str, text: &str) -> PathBuf {
    let p = tmp.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// CLOSED without a cycle count, lasting `duration`: a run to kill or interrupt midway.
fn long(tmp: &TempDir, duration: &str) -> PathBuf {
    write(
        tmp,
        "long.toml",
        &CLOSED.replace("cycles = 2", "cycles = 0").replace(
            "ramp = 500.0",
            &format!("ramp = 500.0\nduration = \"{duration}\""),
        ),
    )
}

/// `run --processes N` into `dir`, its output piped.
fn spawn_processes(scenario: &Path, dir: &Path, n: u32) -> Child {
    bin()
        .arg("run")
        .arg(scenario)
        .args(["--processes", &n.to_string(), "--quiet", "--report-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn spawn_run(scenario: &Path, dir: &Path, extra: &[&str]) -> Child {
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

fn text(o: &Output) -> String {
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

fn merge(dirs: &[PathBuf], out: &Path, extra: &[&str]) -> Output {
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

fn read(dir: &Path, file: &str) -> String {
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

#[test]
fn foreign_missing_duplicated_or_killed_shards_are_never_merged_silently() {
    let tmp = TempDir::new();
    let scenario = write(&tmp, "closed.toml", CLOSED);
    let other = write(
        &tmp,
        "other.toml",
        &CLOSED.replace("count = 12", "count = 10"),
    );
    let long = long(&tmp, "3s");
    let runs = [
        ("a0", &scenario, "0/2", "7"),
        ("a1", &scenario, "1/2", "7"),
        ("seed", &scenario, "1/2", "8"),
        ("foreign", &other, "1/2", "7"),
        ("long0", &long, "0/2", "7"),
    ];
    let kids: Vec<Child> = runs
        .iter()
        .map(|(d, s, shard, seed)| {
            spawn_run(s, &tmp.path().join(d), &["--shard", shard, "--seed", seed])
        })
        .collect();
    // The other half of the long run is killed outright mid-run.
    let mut killed = spawn_run(
        &long,
        &tmp.path().join("long1"),
        &["--shard", "1/2", "--seed", "7"],
    );
    std::thread::sleep(Duration::from_millis(1500));
    killed.kill().unwrap();
    let _ = killed.wait();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let d = |n: &str| tmp.path().join(n);
    let mut n = 0;
    let mut out = || {
        n += 1;
        tmp.path().join(format!("m{n}"))
    };
    let o = merge(&[d("a0"), d("a1")], &out(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = merge(&[d("a0"), d("seed")], &out(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("seed 7") && text(&o).contains("seed 8"),
        "{}",
        text(&o)
    );

    let o = merge(&[d("a0"), d("foreign")], &out(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("different scenarios"), "{}", text(&o));

    let o = merge(&[d("a0")], &out(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("verdict: INCOMPLETE") && text(&o).contains("1/2 missing"),
        "{}",
        text(&o)
    );

    let o = merge(&[d("a0"), d("a1"), d("a1")], &out(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("given twice"), "{}", text(&o));

    let o = merge(&[d("long0"), d("long1")], &out(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("verdict: INCOMPLETE") && text(&o).contains("did not finish"),
        "{}",
        text(&o)
    );

    // What a shard's files may have become: each refused (exit 2) and named, never merged.
    let variant = |name: &str, f: &dyn Fn(&Path)| {
        let dst = d(name);
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(d("a1")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
        f(&dst);
        dst
    };
    /// A name, what is done to a copy of a good shard, and what the refusal must say.
    type Case<'a> = (&'a str, &'a dyn Fn(&Path), &'a str);
    let cases: Vec<Case> = vec![
        (
            "cut",
            &|p: &Path| {
                let t = read(p, records::INTERVALS_FILE);
                let cut = t
                    .trim_end_matches('\n')
                    .rsplit_once('\n')
                    .unwrap()
                    .0
                    .to_string()
                    + "\n";
                std::fs::write(p.join(records::INTERVALS_FILE), cut).unwrap();
            },
            "SHA-256",
        ),
        (
            "empty",
            &|p: &Path| {
                std::fs::write(p.join(records::INTERVALS_FILE), "").unwrap();
            },
            "SHA-256",
        ),
        (
            "linked",
            &|p: &Path| {
                let f = p.join(records::INTERVALS_FILE);
                std::fs::remove_file(&f).unwrap();
                std::os::unix::fs::symlink(
                    p.parent().unwrap().join("a0").join(records::INTERVALS_FILE),
                    &f,
                )
                .unwrap();
            },
            "symbolic link",
        ),
        (
            "copied",
            &|p: &Path| {
                std::fs::copy(
                    p.parent().unwrap().join("a0").join(records::INTERVALS_FILE),
                    p.join(records::INTERVALS_FILE),
                )
                .unwrap();
            },
            "SHA-256",
        ),
        (
            "accounts-cut",
            &|p: &Path| {
                let t = read(p, records::ACCOUNTS_FILE);
                std::fs::write(p.join(records::ACCOUNTS_FILE), &t[..t.len() / 2]).unwrap();
            },
            "SHA-256",
        ),
        (
            "huge-elapsed",
            &|p: &Path| edit_run_json(p, |j| j["elapsed_secs"] = serde_json::json!(1e300)),
            "elapsed_secs",
        ),
        (
            "huge-cpu",
            &|p: &Path| edit_run_json(p, |j| j["generator"]["cpu_secs"] = serde_json::json!(1e300)),
            "cpu_secs",
        ),
        (
            "multibyte-hash",
            &|p: &Path| {
                edit_run_json(p, |j| {
                    j["scenario_hash"] = serde_json::json!("é".repeat(40))
                })
            },
            "not a SHA-256",
        ),
        (
            "wide-shard",
            &|p: &Path| edit_run_json(p, |j| j["shard"]["index"] = serde_json::json!(1u64 << 32)),
            "out of range",
        ),
        (
            "no-seal",
            &|p: &Path| {
                edit_run_json(p, |j| {
                    j.as_object_mut().unwrap().remove("files");
                })
            },
            "no count and hash",
        ),
        // Resealed by the tamperer (hash and count made to match): the content is still judged.
        (
            "time-overflow",
            &|p: &Path| {
                reseal(p, |recs| {
                    recs[0]["end_unix_ms"] = serde_json::json!(i64::MAX)
                })
            },
            "end_unix_ms",
        ),
        (
            "time-underflow",
            &|p: &Path| {
                reseal(p, |recs| {
                    recs[0]["end_unix_ms"] = serde_json::json!(i64::MIN)
                })
            },
            "end_unix_ms",
        ),
        (
            "wrapping",
            &|p: &Path| {
                reseal(p, |recs| {
                    let big = serde_json::json!(u64::MAX / 2 + 1);
                    recs[0]["violations"]["capacity"] = big.clone();
                    recs[1]["violations"]["capacity"] = big;
                })
            },
            "overflows",
        ),
        (
            "not-adding-up",
            &|p: &Path| {
                reseal(p, |recs| {
                    let n = recs[0]["counters"]["connections_opened"]
                        .as_u64()
                        .unwrap_or(0);
                    recs[0]["counters"]["connections_opened"] = serde_json::json!(n + 1);
                })
            },
            "does not add up",
        ),
    ];
    for (name, f, says) in cases {
        let o = merge(&[d("a0"), variant(name, f)], &out(), &[]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(text(&o).contains(says), "{name}: {}", text(&o));
    }

    let o = merge(&[d("nowhere")], &out(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("not a loginstorm report directory"),
        "{}",
        text(&o)
    );
}

/// Change a report's run.json.
fn edit_run_json(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut j: serde_json::Value = serde_json::from_str(&read(dir, "run.json")).unwrap();
    f(&mut j);
    std::fs::write(dir.join("run.json"), j.to_string()).unwrap();
}

/// Change a report's intervals and make run.json's record of the file match again (as a
/// tamperer who knows the format would), so what is judged is the content.
fn reseal(dir: &Path, f: impl FnOnce(&mut Vec<serde_json::Value>)) {
    use sha2::Digest;
    let mut recs: Vec<serde_json::Value> = read(dir, records::INTERVALS_FILE)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    f(&mut recs);
    let text: String = recs.iter().map(|r| r.to_string() + "\n").collect();
    std::fs::write(dir.join(records::INTERVALS_FILE), &text).unwrap();
    let hash: String = sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    edit_run_json(dir, |j| {
        j["files"][records::INTERVALS_FILE] =
            serde_json::json!({"records": recs.len(), "sha256": hash});
    });
}

/// The pid of the second of two `--processes` children, once it reports (Linux's list of the
/// parent's children).
fn second_child(parent: &Child, dir: &Path) -> String {
    let children = format!("/proc/{0}/task/{0}/children", parent.id());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let listed = std::fs::read_to_string(&children).unwrap_or_default();
        let pids: Vec<&str> = listed.split_whitespace().collect();
        if pids.len() == 2 && dir.join("shards/shard-1/intervals.jsonl").exists() {
            return pids[1].to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "children never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_shard_killed_under_run_processes_makes_the_run_incomplete() {
    let tmp = TempDir::new();
    let long = long(&tmp, "4s");
    let dir = tmp.path().join("procs");
    let parent = spawn_processes(&long, &dir, 2);
    // Find a child (this is Linux's list of the parent's children) and kill it outright.
    let pid = second_child(&parent, &dir);
    std::thread::sleep(Duration::from_millis(1200));
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    let o = parent.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("verdict: INCOMPLETE") && text(&o).contains("did not finish"),
        "{}",
        text(&o)
    );
}

#[test]
fn ctrl_c_under_run_processes_reaches_every_shard_and_still_merges() {
    let tmp = TempDir::new();
    let long = long(&tmp, "30s");
    let dir = tmp.path().join("procs");
    let parent = spawn_processes(&long, &dir, 2);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !(0..2).all(|i| {
        dir.join(format!("shards/shard-{i}/intervals.jsonl"))
            .metadata()
            .is_ok_and(|m| m.len() > 0)
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "shards never reported"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The parent alone gets the signal (its children are in their own process group, as a
    // terminal's Ctrl-C would leave them); it must pass it on, wait, and merge.
    let _ = std::process::Command::new("kill")
        .args(["-INT", &parent.id().to_string()])
        .status();
    let o = parent.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("verdict: INCOMPLETE — the run was interrupted"),
        "{}",
        text(&o)
    );
    for d in [
        dir.join("shards/shard-0"),
        dir.join("shards/shard-1"),
        dir.clone(),
    ] {
        let j: serde_json::Value = serde_json::from_str(&read(&d, "run.json")).unwrap();
        assert_eq!(j["outcome"], "interrupted", "{}", d.display());
    }
}

#[test]
fn a_hung_shard_under_run_processes_is_killed_at_its_deadline_and_the_run_is_incomplete() {
    let tmp = TempDir::new();
    let scenario = write(
        &tmp,
        "hang.toml",
        &format!(
            "{}[timeouts]\ngraceful_stop = \"1s\"\n",
            CLOSED
                .replace("cycles = 2", "cycles = 0")
                .replace("ramp = 500.0", "ramp = 500.0\nduration = \"2s\"")
        ),
    );
    let dir = tmp.path().join("procs");
    let started = std::time::Instant::now();
    let parent = spawn_processes(&scenario, &dir, 2);
    let pid = second_child(&parent, &dir);
    // Stopped, not killed: it holds its sockets and never exits by itself.
    let _ = std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status();
    let o = parent.wait_with_output().unwrap();
    // 2 s planned + 1 s graceful stop + 15 s margin (+ 1 ms an account), and some slack.
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("killed") && text(&o).contains("verdict: INCOMPLETE"),
        "{}",
        text(&o)
    );
}

#[test]
fn trace_frames_under_run_processes_traces_shard_zeros_first_instance() {
    let tmp = TempDir::new();
    let scenario = write(&tmp, "closed.toml", CLOSED);
    let dir = tmp.path().join("procs");
    let o = bin()
        .arg("run")
        .arg(&scenario)
        .args([
            "--processes",
            "2",
            "--quiet",
            "--trace-frames",
            "--report-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let frames = read(&dir.join("shards/shard-0"), "frames.log");
    assert!(frames.contains(" > ") && frames.contains(" < "), "{frames}");
    assert!(frames.contains("<sig sha256:"), "{frames}");
    // The upgrade comes first, both ways.
    assert!(
        frames.contains("HTTP upgrade request:\nGET /ws HTTP/1.1")
            && frames.contains("HTTP upgrade response:\nHTTP/1.1 101"),
        "{frames}"
    );
    assert!(!dir.join("shards/shard-1/frames.log").exists());
}
