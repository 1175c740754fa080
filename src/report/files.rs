//! A report directory's files as files: the directory claimed for one run, every end-of-run
//! file written whole (temporary file, then rename), what `run.json` records of the run's totals
//! and files so `merge` can check them, and what a report may show of secrets.

use anyhow::Context as _;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{records, Place};
use crate::model::{Metric, Snapshot};

/// What a report may show of the scenario: everything but the secret key (reports are
/// uploaded as CI artifacts and shared). The dev key of the reference server is public and
/// stays, so a report says which one a run used.
pub fn redacted(s: &crate::scenario::Scenario) -> crate::scenario::Scenario {
    let mut s = s.clone();
    if s.target.key != crate::server::DEV_KEY {
        s.target.key = "(redacted)".into();
    }
    s
}

/// The `--set` overrides as a report may show them: the value of `target.key` (the signing
/// key) is redacted like the resolved scenario's, whatever spacing the override used.
pub fn redacted_overrides(overrides: &[String]) -> Vec<String> {
    overrides
        .iter()
        .map(|o| match key_override(o) {
            Some(key) if key != crate::server::DEV_KEY => "target.key=(redacted)".to_string(),
            _ => o.clone(),
        })
        .collect()
}

/// The signing key a `--set target.key=KEY` override gives (whatever its spacing and quotes),
/// or None for any other override.
pub fn key_override(o: &str) -> Option<&str> {
    let (k, v) = o.split_once('=')?;
    (k.trim() == "target.key").then(|| v.trim().trim_matches('"'))
}

/// Write a whole report file at once: into a temporary file beside it, then renamed over
/// it, so a reader (or a full disk) never leaves half a file under the real name. The error
/// names the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::Error::new(e).context(format!("cannot write {}", path.display())));
    }
    Ok(())
}

/// Append Markdown to a CI job's summary page, when there is one (GitHub Actions sets
/// `GITHUB_STEP_SUMMARY` to a file to append to); a failure is a warning, not the run's.
pub fn append_step_summary(md: &str) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(md.as_bytes()));
    if let Err(e) = appended {
        eprintln!(
            "warning: cannot append to GITHUB_STEP_SUMMARY {}: {e}",
            Path::new(&path).display()
        );
    }
}

/// A CSV table rendered in memory, then written with [`write_atomic`].
pub fn write_csv(
    path: &Path,
    fill: impl FnOnce(&mut csv::Writer<&mut Vec<u8>>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut bytes = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut bytes);
        fill(&mut w)?;
        w.flush()?;
    }
    write_atomic(path, &bytes)
}

/// What a finished report records of its own totals and files in `run.json`, so `merge`
/// can refuse a shard whose files were cut short, swapped or altered: the sum of its
/// intervals must be these totals, and each file must have this many records and this hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    pub counters: std::collections::BTreeMap<String, u64>,
    pub login_codes: std::collections::BTreeMap<u32, u64>,
    pub connect_errors: std::collections::BTreeMap<String, u64>,
    pub violations: std::collections::BTreeMap<String, u64>,
    pub judged: std::collections::BTreeMap<String, u64>,
    /// Samples of each latency histogram with any.
    pub samples: std::collections::BTreeMap<String, u64>,
}

impl Totals {
    pub fn of(s: &Snapshot) -> Totals {
        let r = records::IntervalRecord::new(s, 0, 0.0, 0.0, 0);
        Totals {
            counters: r.counters,
            login_codes: r.login_codes,
            connect_errors: r.connect_errors,
            violations: r.violations,
            judged: r.judged,
            samples: Metric::ALL
                .iter()
                .filter(|m| !s.hist(**m).is_empty())
                .map(|m| (m.name().to_string(), s.hist(*m).len()))
                .collect(),
        }
    }
}

/// A file's record count and SHA-256, as `run.json` records them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileSeal {
    pub records: u64,
    pub sha256: String,
}

/// Hashes a file as it is written, line by line.
#[derive(Default)]
pub(super) struct Sealer {
    hash: sha2::Sha256,
    records: u64,
}

impl Sealer {
    pub(super) fn line(&mut self, bytes: &[u8]) {
        use sha2::Digest;
        self.hash.update(bytes);
        self.records += 1;
    }

    pub(super) fn seal(self) -> FileSeal {
        use sha2::Digest;
        FileSeal {
            records: self.records,
            sha256: hex(&self.hash.finalize()),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Make the report directory and claim it for this run alone: `run.json` is created with
/// `O_EXCL`, so of two runs given one `--report-dir` (or two `--out` runs in the same second)
/// only one gets it, and the other is refused (or takes the next name).
pub fn claim(place: &Place, scenario: &str, started: SystemTime) -> anyhow::Result<PathBuf> {
    let taken = |dir: &Path| {
        anyhow::anyhow!(
            "report directory {} already holds a report (run.json); give a new one",
            dir.display()
        )
    };
    let create = |dir: &Path| -> anyhow::Result<bool> {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join("run.json"))
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(anyhow::Error::new(e)
                .context(format!("cannot create {}", dir.join("run.json").display()))),
        }
    };
    match place {
        Place::At(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create report directory {}", dir.display()))?;
            if create(dir)? {
                Ok(dir.clone())
            } else {
                Err(taken(dir))
            }
        }
        Place::Under(out) => {
            std::fs::create_dir_all(out)
                .with_context(|| format!("cannot create report directory {}", out.display()))?;
            for _ in 0..10_000 {
                let dir = new_dir_under(out, scenario, started);
                match std::fs::create_dir(&dir) {
                    Ok(()) if create(&dir)? => return Ok(dir),
                    Ok(()) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => {
                        return Err(anyhow::Error::new(e)
                            .context(format!("cannot create report directory {}", dir.display())))
                    }
                }
            }
            anyhow::bail!("no free report directory name under {}", out.display())
        }
    }
}

/// A directory name not yet taken under `out`: `<UTC time>-<scenario>` (then `-2`, `-3`, …).
pub fn new_dir_under(out: &Path, scenario: &str, started: SystemTime) -> PathBuf {
    let stamp = chrono::DateTime::<chrono::Utc>::from(started)
        .format("%Y%m%dT%H%M%SZ")
        .to_string();
    let safe = safe_name(scenario);
    let mut dir = out.join(format!("{stamp}-{safe}"));
    let mut n = 2;
    while dir.exists() {
        dir = out.join(format!("{stamp}-{safe}-{n}"));
        n += 1;
    }
    dir
}

/// The identity of a scenario for merging shards: a SHA-256 of the resolved scenario with its
/// seed left out (the seed is compared on its own, so a mismatch names which differs).
pub fn scenario_hash(s: &crate::scenario::Scenario) -> String {
    use sha2::Digest;
    let mut s = s.clone();
    s.seed = 0;
    let text = serde_json::to_string(&s).unwrap_or_default();
    hex(&sha2::Sha256::digest(text.as_bytes()))
}

/// A scenario name as it may appear in a directory name.
pub fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
