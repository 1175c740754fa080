//! Reading a shard's report directory back: its `run.json` (every figure checked) and the files
//! it names, each checked against what `run.json` sealed of it (docs/reliability.md, "What
//! `merge` checks of a shard").

use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::{AccountReport, Generator, Outcome, Snapshot};
use crate::report::record::RunRecord;
use crate::report::records::{self, IntervalRecord};
use crate::scenario::Scenario;
use crate::shard::Shard;

/// One shard's finished run, read back from its report directory.
pub(super) struct ShardRun {
    pub(super) dir: PathBuf,
    pub(super) shard: Shard,
    pub(super) scenario: Scenario,
    pub(super) hash: String,
    pub(super) thresholds_added: Vec<String>,
    pub(super) target: String,
    pub(super) embedded: bool,
    pub(super) outcome: Outcome,
    pub(super) elapsed: Duration,
    pub(super) generator: Generator,
    pub(super) intervals: Vec<IntervalRecord>,
    pub(super) accounts: Vec<AccountReport>,
}

impl ShardRun {
    /// Wall-clock milliseconds (UTC) of the shard's elapsed 0.
    pub(super) fn zero_ms(&self) -> Option<i64> {
        self.intervals
            .first()
            .map(|r| r.end_unix_ms - (r.at_s * 1e3).round() as i64)
    }
}

/// A report directory read back: a finished shard, or one that never finished — `shard` is
/// `None` when the run was killed before it wrote its first record (an empty `run.json`: the
/// file is claimed empty, then written whole).
pub(super) enum Read {
    Finished(Box<ShardRun>),
    Unfinished { shard: Option<Shard>, why: String },
}

/// A duration in seconds from `run.json`: finite, not negative, at most `max`; refused
/// otherwise, never rounded into range.
fn secs_field(x: f64, what: &str, max: f64, dir: &Path) -> anyhow::Result<Duration> {
    if !(x.is_finite() && (0.0..=max).contains(&x)) {
        anyhow::bail!(
            "{}: run.json's {what} {x} is not within 0..={max} seconds",
            dir.display()
        );
    }
    Ok(Duration::from_secs_f64(x))
}

pub(super) fn read_dir(dir: &Path) -> anyhow::Result<Read> {
    let path = dir.join("run.json");
    let text = crate::input::read_text(
        &path,
        crate::input::Links::Refuse,
        crate::input::MAX_RUN_JSON,
    )
    .with_context(|| {
        format!(
            "{} is not a loginstorm report directory (cannot read run.json)",
            dir.display()
        )
    })?;
    if text.is_empty() {
        return Ok(Read::Unfinished {
            shard: None,
            why: format!(
                "{} did not finish: its run.json is empty (the run was killed before it wrote its first record)",
                dir.display()
            ),
        });
    }
    read_run(dir, &text)
}

/// Read a `run.json` text as `merge` does, its named files looked for in `dir` (for the fuzz
/// target: every check of run.json itself runs before any file is opened).
pub fn check_run_json(dir: &Path, text: &str) -> anyhow::Result<()> {
    read_run(dir, text).map(|_| ())
}

/// One report directory, from its `run.json` text: every figure checked, every file it names
/// checked against what it recorded of it.
fn read_run(dir: &Path, text: &str) -> anyhow::Result<Read> {
    let path = dir.join("run.json");
    let j = RunRecord::parse(text.as_bytes()).with_context(|| format!("{}", path.display()))?;
    let (i, n) = (j.shard.index, j.shard.count);
    let (Ok(index), Ok(count)) = (u32::try_from(i), u32::try_from(n)) else {
        anyhow::bail!("{}: shard {i}/{n} is out of range", path.display());
    };
    if count == 0 || index >= count {
        anyhow::bail!("{}: shard {i}/{n} is not a shard", path.display());
    }
    let shard = Shard { index, count };
    let Some(outcome) = j.outcome() else {
        return Ok(Read::Unfinished {
            shard: Some(shard),
            why: format!(
                "shard {shard} in {} did not finish (run.json says {:?}: killed, or still running)",
                dir.display(),
                j.outcome
            ),
        });
    };
    if !dir.join(records::ACCOUNTS_FILE).exists() {
        return Ok(Read::Unfinished {
            shard: Some(shard),
            why: format!(
                "shard {shard} in {} has no {} (it stopped while writing its report)",
                dir.display(),
                records::ACCOUNTS_FILE
            ),
        });
    }
    let (intervals, accounts) = read_sealed(dir, &j)?;
    let max_run = records::MAX_RUN_SECS;
    // CPU time may exceed the run's length by the cores used: a generous bound.
    let max_cpu = records::MAX_RUN_SECS * 4096.0;
    let hash = match &j.scenario_hash {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => h.clone(),
        Some(h) => anyhow::bail!(
            "{}: run.json's scenario_hash {h:?} is not a SHA-256",
            path.display()
        ),
        None => crate::report::scenario_hash(&j.resolved_scenario),
    };
    let g = j.generator.clone().unwrap_or_default();
    Ok(Read::Finished(Box::new(ShardRun {
        dir: dir.to_path_buf(),
        shard,
        hash,
        elapsed: secs_field(j.elapsed_secs.unwrap_or(0.0), "elapsed_secs", max_run, dir)?,
        generator: Generator {
            cpu: secs_field(g.cpu_secs, "generator.cpu_secs", max_cpu, dir)?,
            window: secs_field(
                g.load_window_secs,
                "generator.load_window_secs",
                max_run,
                dir,
            )?,
            cycles: g.cycles,
            // A report from before the load window's logins were written: its rate stays
            // what it was, over the whole run.
            logins_ok: g.logins_ok.unwrap_or_else(|| {
                intervals
                    .iter()
                    .filter_map(|r| r.counters.get(crate::model::Counter::LoginsOk.name()))
                    .fold(0, |a, b| a.saturating_add(*b))
            }),
            startup_cpu: std::time::Duration::ZERO,
        },
        scenario: j.resolved_scenario,
        thresholds_added: j.thresholds_added,
        target: j.target,
        embedded: j.embedded_server,
        outcome,
        intervals,
        accounts,
    })))
}

/// A shard's `intervals.jsonl` and `accounts.jsonl`, each refused unless it is whole and the
/// shard's own: its record count and SHA-256 must be those `run.json` recorded when the shard
/// finished, and its intervals must add up, exactly, to the totals recorded beside them. A file
/// cut short, emptied, replaced by another shard's, or edited is named, never merged.
fn read_sealed(
    dir: &Path,
    j: &RunRecord,
) -> anyhow::Result<(Vec<IntervalRecord>, Vec<AccountReport>)> {
    use sha2::Digest;
    let refuse = |what: String| {
        anyhow::anyhow!(
            "{}: {what}; this shard's report is not the one it wrote, and is not merged",
            dir.display()
        )
    };
    let seal = |name: &str| -> anyhow::Result<crate::report::FileSeal> {
        j.files.as_ref().and_then(|f| f.get(name)).cloned().ok_or_else(|| {
            refuse(format!(
                "run.json records no count and hash of {name} (a report of an older loginstorm, or altered)"
            ))
        })
    };
    let read = |name: &str| -> anyhow::Result<(Vec<u8>, crate::report::FileSeal)> {
        let want = seal(name)?;
        let bytes = crate::input::read(
            &dir.join(name),
            crate::input::Links::Refuse,
            crate::input::MAX_REPORT_FILE,
        )?;
        let got = crate::report::hex(&sha2::Sha256::digest(&bytes));
        if got != want.sha256 {
            return Err(refuse(format!(
                "{name} does not have the SHA-256 run.json recorded ({}… now, {}… then)",
                &got[..12],
                want.sha256.get(..12).unwrap_or(&want.sha256)
            )));
        }
        Ok((bytes, want))
    };
    let (bytes, want) = read(records::INTERVALS_FILE)?;
    let (intervals, complete) = records::parse_intervals(&bytes)
        .with_context(|| format!("{}", dir.join(records::INTERVALS_FILE).display()))?;
    if complete != bytes.len() || intervals.len() as u64 != want.records {
        return Err(refuse(format!(
            "{} holds {} whole record(s), run.json recorded {}",
            records::INTERVALS_FILE,
            intervals.len(),
            want.records
        )));
    }
    let mut sum = Snapshot::default();
    for (i, r) in intervals.iter().enumerate() {
        let s = r.snapshot().with_context(|| {
            format!(
                "{} record {}",
                dir.join(records::INTERVALS_FILE).display(),
                i + 1
            )
        })?;
        sum.checked_add(&s)
            .map_err(|e| refuse(format!("{} record {}: {e}", records::INTERVALS_FILE, i + 1)))?;
    }
    let totals = j
        .totals
        .as_ref()
        .ok_or_else(|| refuse("run.json records no totals".into()))?;
    if crate::report::Totals::of(&sum) != *totals {
        return Err(refuse(format!(
            "its {} does not add up to the totals run.json recorded",
            records::INTERVALS_FILE
        )));
    }
    let (bytes, want) = read(records::ACCOUNTS_FILE)?;
    let accounts = records::parse_accounts(&bytes)
        .with_context(|| format!("{}", dir.join(records::ACCOUNTS_FILE).display()))?;
    if accounts.len() as u64 != want.records {
        return Err(refuse(format!(
            "{} holds {} account(s), run.json recorded {}",
            records::ACCOUNTS_FILE,
            accounts.len(),
            want.records
        )));
    }
    Ok((intervals, accounts))
}
