//! Shards that must never be merged silently: foreign (another scenario or seed), missing,
//! duplicated, killed or unfinished ones, and reports tampered with by someone who knows the
//! format.

use crate::shards::{long, merge, read, spawn_run, text, write, CLOSED};
use crate::util::TempDir;
use loginstorm::report::records;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

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

    // A shard killed between claiming its directory and its first record leaves run.json
    // empty (claimed with O_EXCL, then written whole): a shard that did not finish, not a
    // directory that cannot be read — INCOMPLETE, with the shard named missing.
    let early = d("early1");
    std::fs::create_dir_all(&early).unwrap();
    std::fs::write(early.join("run.json"), "").unwrap();
    let o = merge(&[d("a0"), early], &out(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("verdict: INCOMPLETE")
            && text(&o).contains("run.json is empty")
            && text(&o).contains("1/2 missing"),
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
