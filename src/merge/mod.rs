//! `loginstorm merge`: shards' report directories become one report, judged globally.
//!
//! Exact, not estimated: every interval's histograms are added (percentiles of the sum, never an
//! average of percentiles), counters summed, intervals aligned on UTC time, accounts (with their
//! kicks, expectations and violations) concatenated in the scenario's order. Thresholds and the
//! verdict are then judged on the merged run by the same code as `run` (`run::conclude`), with
//! the same exit codes. Shards of different scenarios or seeds are refused and named; a missing,
//! unfinished or duplicated shard makes the result INCOMPLETE — never silently partial.

use anyhow::Context as _;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

mod align;
mod read;

use crate::model::{AccountReport, Generator, Outcome, RunSummary, Snapshot, Tick};
use crate::report::{Place, ReportWriter, RunInfo, UNMATCHED_FILE};
use crate::shard::Shard;
use crate::thresholds::Threshold;
use align::align;
pub use read::check_run_json;
use read::{read_dir, Read, ShardRun};

/// What `merge` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dirs: Vec<PathBuf>,
    /// The merged report directory (made; refused if it already holds a report).
    pub out: PathBuf,
    /// Added to the thresholds the shards ran with.
    pub thresholds: Vec<Threshold>,
    pub quiet: bool,
    pub summary_json: Option<PathBuf>,
    /// A baseline report directory to compare the merged run with.
    pub baseline: Option<PathBuf>,
    pub compare: crate::compare::Options,
}

/// The report directories to merge: each given directory, or — for one that holds no report
/// itself — every subdirectory of it that does (`/reports/run-1/shards`, where a Kubernetes
/// Job's pods or `run --processes` put theirs), in name order.
fn expand(dirs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for d in dirs {
        if d.join("run.json").exists() || !d.is_dir() {
            out.push(d.clone());
            continue;
        }
        let mut inner: Vec<PathBuf> = std::fs::read_dir(d)
            .with_context(|| format!("cannot list {}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("run.json").exists())
            .collect();
        if inner.is_empty() {
            anyhow::bail!(
                "{} is not a loginstorm report directory and holds none (no run.json in it or its subdirectories)",
                d.display()
            );
        }
        inner.sort();
        out.extend(inner);
    }
    Ok(out)
}

/// Shards that cannot be merged into one run: a clear error (exit 2), naming them.
fn check_same_run(runs: &[&ShardRun]) -> anyhow::Result<()> {
    let first = runs[0];
    for r in &runs[1..] {
        if r.hash != first.hash {
            anyhow::bail!(
                "{} and {} are runs of different scenarios ({:?}, scenario hash {}… vs {:?}, {}…): merge shards of one run only",
                first.dir.display(),
                r.dir.display(),
                first.scenario.name,
                &first.hash[..12.min(first.hash.len())],
                r.scenario.name,
                &r.hash[..12.min(r.hash.len())]
            );
        }
        if r.scenario.seed != first.scenario.seed {
            anyhow::bail!(
                "{} ran with seed {} but {} with seed {}: shards of one run share its seed",
                first.dir.display(),
                first.scenario.seed,
                r.dir.display(),
                r.scenario.seed
            );
        }
        if r.shard.count != first.shard.count {
            anyhow::bail!(
                "{} is shard {} but {} is shard {}: shards of one run are split the same way",
                first.dir.display(),
                first.shard,
                r.dir.display(),
                r.shard
            );
        }
        if r.thresholds_added != first.thresholds_added {
            anyhow::bail!(
                "{} and {} were given different --threshold flags ({:?} vs {:?})",
                first.dir.display(),
                r.dir.display(),
                first.thresholds_added,
                r.thresholds_added
            );
        }
    }
    Ok(())
}

/// The worst way a shard ended is how the merged run ended.
fn merged_outcome(outcomes: impl Iterator<Item = Outcome>) -> Outcome {
    let rank = |o: Outcome| match o {
        Outcome::Completed => 0,
        Outcome::DurationReached => 1,
        Outcome::TargetLost => 2,
        Outcome::DisruptionFailed => 3,
        Outcome::Interrupted => 4,
    };
    outcomes
        .max_by_key(|o| rank(*o))
        .unwrap_or(Outcome::Completed)
}

/// Merge shard report directories into `opts.out`; prints the merged summary and verdict to
/// `out` like `run` does.
pub fn merge<W: Write>(opts: &Options, out: &mut W) -> anyhow::Result<crate::run::Finished> {
    if opts.dirs.is_empty() {
        anyhow::bail!("merge needs at least one shard report directory");
    }
    let mut finished: Vec<ShardRun> = Vec::new();
    let mut shortfall: Vec<String> = Vec::new();
    let mut unfinished: Vec<Shard> = Vec::new();
    for d in &expand(&opts.dirs)? {
        match read_dir(d)? {
            Read::Finished(r) => finished.push(*r),
            Read::Unfinished { shard, why } => {
                unfinished.extend(shard);
                shortfall.push(why);
            }
        }
    }
    if finished.is_empty() {
        anyhow::bail!(
            "no shard finished, nothing to merge: {}",
            shortfall.join("; ")
        );
    }
    // One run per shard index: the first given is merged, a second is named.
    finished.sort_by_key(|r| r.shard.index);
    let mut runs: Vec<&ShardRun> = Vec::new();
    for r in &finished {
        match runs.iter().find(|k| k.shard == r.shard) {
            Some(k) => shortfall.push(format!(
                "shard {} given twice ({} and {}); only the first was merged",
                r.shard,
                k.dir.display(),
                r.dir.display()
            )),
            None => runs.push(r),
        }
    }
    check_same_run(&runs)?;
    let count = runs[0].shard.count;
    let missing: Vec<String> = (0..count)
        .filter(|i| runs.iter().all(|r| r.shard.index != *i))
        .filter(|i| unfinished.iter().all(|u| u.index != *i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        shortfall.push(format!(
            "shard(s) {} missing: the merged figures cover {} of {count} shard(s)",
            missing.join(", "),
            runs.len()
        ));
    }

    let first = runs[0];
    let mut resolved = crate::scenario::resolve_recorded(first.scenario.clone())
        .with_context(|| format!("{}: the recorded scenario", first.dir.display()))?;
    for t in &first.thresholds_added {
        resolved.thresholds.push(
            t.parse()
                .map_err(|e| anyhow::anyhow!("{}: threshold {t:?}: {e}", first.dir.display()))?,
        );
    }
    resolved.thresholds.extend(opts.thresholds.iter().cloned());

    let zero_ms = runs
        .iter()
        .filter_map(|r| r.zero_ms())
        .min()
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    let zero = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(zero_ms)
        .ok_or_else(|| anyhow::anyhow!("shard start time out of range"))?;
    let elapsed_ms = runs
        .iter()
        .map(|r| r.zero_ms().unwrap_or(zero_ms) - zero_ms + r.elapsed.as_millis() as i64)
        .max()
        .unwrap_or(0)
        .max(0);
    let elapsed = Duration::from_millis(elapsed_ms as u64);
    let buckets = align(&runs, zero_ms)?;

    let targets: Vec<&str> = runs.iter().map(|r| r.target.as_str()).collect();
    let embedded = runs.iter().all(|r| r.embedded);
    let url = if targets.iter().all(|t| *t == targets[0]) {
        targets[0].to_string()
    } else if embedded {
        format!("{} embedded servers (one per shard)", runs.len())
    } else {
        targets.join(" ")
    };
    let mut writer = ReportWriter::create(
        &Place::At(opts.out.clone()),
        &resolved,
        RunInfo {
            target: url.clone(),
            embedded,
            overrides: Vec::new(),
            extra_thresholds: opts.thresholds.iter().map(|t| t.to_string()).collect(),
            started: zero.into(),
        },
    )?;
    writer.set_zero(zero);
    writer.record_merge(
        runs.iter()
            .map(|r| (r.shard, r.dir.display().to_string()))
            .collect(),
        &shortfall,
    )?;
    let mut totals = Snapshot::default();
    let mut prev_ms = 0i64;
    for b in &buckets {
        totals
            .checked_add(&b.snapshot)
            .map_err(|e| anyhow::anyhow!("the shards' totals cannot be added up: {e}"))?;
        let end = b.end_ms.max(prev_ms);
        let live = b.live.iter().map(|l| l.unwrap_or(0)).sum();
        writer.tick(&Tick {
            at: Duration::from_millis(end.max(0) as u64),
            span: Duration::from_millis((end - prev_ms).max(0) as u64),
            live,
            interval: &b.snapshot,
            totals: &totals,
        })?;
        prev_ms = end;
    }
    let mut accounts: Vec<AccountReport> = runs
        .iter()
        .flat_map(|r| r.accounts.iter().cloned())
        .collect();
    accounts.sort_by_key(|a| a.index);
    let generator = Generator {
        cpu: runs.iter().map(|r| r.generator.cpu).sum(),
        window: runs
            .iter()
            .map(|r| r.generator.window)
            .max()
            .unwrap_or_default(),
        cycles: runs
            .iter()
            .fold(0, |a, r| a.saturating_add(r.generator.cycles)),
        logins_ok: runs
            .iter()
            .fold(0, |a, r| a.saturating_add(r.generator.logins_ok)),
        startup_cpu: std::time::Duration::ZERO,
    };
    let unmatched = runs
        .iter()
        .filter_map(|r| {
            crate::input::read_text(
                &r.dir.join(UNMATCHED_FILE),
                crate::input::Links::Refuse,
                1 << 20,
            )
            .ok()
        })
        .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
        .take(crate::engine::plan::UNMATCHED_KEPT)
        .collect();
    let summary = RunSummary {
        unmatched,
        outcome: merged_outcome(runs.iter().map(|r| r.outcome)),
        totals,
        accounts,
        generator,
        started: zero.into(),
        elapsed,
    };
    if !opts.quiet {
        writeln!(
            out,
            "merged {} shard(s) of {count} into {}",
            runs.len(),
            opts.out.display()
        )?;
    }
    let run_opts = crate::run::Options {
        summary_json: opts.summary_json.clone(),
        baseline: opts.baseline.clone(),
        compare: opts.compare.clone(),
        ..Default::default()
    };
    crate::run::conclude(
        &resolved,
        &url,
        embedded,
        &run_opts,
        summary,
        &mut writer,
        &shortfall,
        out,
    )
}
