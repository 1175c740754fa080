//! Shards' intervals on one time line: each second of the merged run holds every shard interval
//! that ended in it, added exactly.

use anyhow::Context as _;
use std::collections::BTreeMap;

use super::ShardRun;
use crate::model::Snapshot;
use crate::report::records;

/// One merged interval: everything the shards recorded in that second of the merged run.
pub(super) struct Bucket {
    /// Where the interval ends, in milliseconds of the merged run: its whole second, or for
    /// the last one the moment the last shard's report ended.
    pub end_ms: i64,
    pub snapshot: Snapshot,
    /// Each shard's live sessions as of this bucket (the last value it reported).
    pub live: Vec<Option<i64>>,
}

/// Align the shards' intervals on UTC time: each merged interval is one second of the merged
/// run (counted from the earliest shard's start) and holds every shard interval that ended in
/// it, added exactly.
pub(super) fn align(runs: &[&ShardRun], zero_ms: i64) -> anyhow::Result<Vec<Bucket>> {
    let mut buckets: BTreeMap<i64, Bucket> = BTreeMap::new();
    let mut last_end = 0i64;
    for (i, r) in runs.iter().enumerate() {
        for rec in &r.intervals {
            let s = rec
                .snapshot()
                .with_context(|| format!("{}: {}", r.dir.display(), records::INTERVALS_FILE))?;
            let since = rec.end_unix_ms - zero_ms;
            let second = (since + 999).div_euclid(1000).max(1);
            let b = buckets.entry(second).or_insert_with(|| Bucket {
                end_ms: 0,
                snapshot: Snapshot::default(),
                live: vec![None; runs.len()],
            });
            b.snapshot
                .checked_add(&s)
                .map_err(|e| anyhow::anyhow!("{}: {e}", r.dir.display()))?;
            b.live[i] = Some(rec.live);
            last_end = last_end.max(since);
        }
    }
    // Carry each shard's live count forward into the seconds where it reported nothing.
    let mut last = vec![0i64; runs.len()];
    let mut out = Vec::with_capacity(buckets.len());
    for (second, mut b) in buckets {
        for (i, l) in b.live.iter_mut().enumerate() {
            last[i] = l.unwrap_or(last[i]);
            *l = Some(last[i]);
        }
        b.end_ms = second * 1000;
        out.push(b);
    }
    if let Some(b) = out.last_mut() {
        b.end_ms = last_end;
    }
    Ok(out)
}
