//! The run's exact data, for machines: `intervals.jsonl` (every interval's [`Snapshot`] —
//! every counter and every histogram — streamed as the run goes) and `accounts.jsonl` (every
//! account's [`AccountReport`], at the end).
//!
//! `loginstorm merge` rebuilds shards' runs from these (histograms added, never percentiles
//! averaged), and `run --processes` reads its children's `intervals.jsonl` as they grow for one
//! live display. `timeseries.csv` and `latency.hlog` say the same for people and HdrHistogram
//! tools, with derived columns that cannot be added back up.

use anyhow::Context as _;
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use crate::checks::Class;
use crate::model::{AccountReport, Counter, Metric, Snapshot};

pub const INTERVALS_FILE: &str = "intervals.jsonl";
pub const ACCOUNTS_FILE: &str = "accounts.jsonl";

/// One line of `intervals.jsonl`: one interval of the run, exactly.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntervalRecord {
    /// When the interval ended, milliseconds since the Unix epoch (UTC): what merged shards
    /// are aligned on.
    pub end_unix_ms: i64,
    /// Seconds from the run's start to the interval's end, and the interval's length.
    pub at_s: f64,
    pub span_s: f64,
    /// Live sessions at the interval's end.
    pub live: i64,
    /// Counters that moved in the interval (by `counters.csv` name).
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
    #[serde(default)]
    pub login_codes: BTreeMap<u32, u64>,
    #[serde(default)]
    pub connect_errors: BTreeMap<String, u64>,
    /// Violations found and chances to find one, by class.
    #[serde(default)]
    pub violations: BTreeMap<String, u64>,
    #[serde(default)]
    pub judged: BTreeMap<String, u64>,
    /// Histograms with samples, by metric name: HdrHistogram V2 deflate encoding, base64.
    #[serde(default)]
    pub histograms: BTreeMap<String, String>,
}

fn nonzero<'a>(names: impl Iterator<Item = (&'a str, u64)>) -> BTreeMap<String, u64> {
    names
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.to_string(), n))
        .collect()
}

impl IntervalRecord {
    pub fn new(s: &Snapshot, end_unix_ms: i64, at_s: f64, span_s: f64, live: i64) -> Self {
        let mut histograms = BTreeMap::new();
        let mut serializer = V2DeflateSerializer::new();
        for m in Metric::ALL {
            let h = s.hist(m);
            if h.is_empty() {
                continue;
            }
            let mut bytes = Vec::new();
            // Serializing into memory fails only on an impossible histogram.
            if serializer.serialize(h, &mut bytes).is_ok() {
                histograms.insert(
                    m.name().to_string(),
                    base64::engine::general_purpose::STANDARD.encode(bytes),
                );
            }
        }
        IntervalRecord {
            end_unix_ms,
            at_s,
            span_s,
            live,
            counters: nonzero(Counter::ALL.iter().map(|c| (c.name(), s.get(*c)))),
            login_codes: s.login_codes.clone(),
            connect_errors: s.connect_errors.clone(),
            violations: nonzero(Class::ALL.iter().map(|c| (c.name(), s.violations(*c)))),
            judged: nonzero(Class::ALL.iter().map(|c| (c.name(), s.judged(*c)))),
            histograms,
        }
    }

    /// The interval as the engine recorded it; an unknown name (another version's file) is an
    /// error, never silently dropped.
    pub fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let mut s = Snapshot::default();
        for (name, n) in &self.counters {
            let c = Counter::ALL
                .iter()
                .find(|c| c.name() == name)
                .ok_or_else(|| anyhow::anyhow!("unknown counter {name:?}"))?;
            s.counters[*c as usize] = *n;
        }
        s.login_codes = self.login_codes.clone();
        s.connect_errors = self.connect_errors.clone();
        for (into, from) in [
            (&mut s.violations, &self.violations),
            (&mut s.judged, &self.judged),
        ] {
            for (name, n) in from {
                let c = Class::ALL
                    .iter()
                    .find(|c| c.name() == name)
                    .ok_or_else(|| anyhow::anyhow!("unknown check class {name:?}"))?;
                into[c.index()] = *n;
            }
        }
        let mut de = Deserializer::new();
        for (name, text) in &self.histograms {
            let m = Metric::ALL
                .iter()
                .find(|m| m.name() == name)
                .ok_or_else(|| anyhow::anyhow!("unknown metric {name:?}"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| anyhow::anyhow!("histogram {name}: {e}"))?;
            let h: hdrhistogram::Histogram<u64> = de
                .deserialize(&mut bytes.as_slice())
                .map_err(|e| anyhow::anyhow!("histogram {name}: {e:?}"))?;
            s.hist[*m as usize]
                .add(&h)
                .map_err(|e| anyhow::anyhow!("histogram {name}: {e:?}"))?;
        }
        Ok(s)
    }
}

/// Every complete line of an `intervals.jsonl` from byte `from` on; returns them with the
/// offset after the last complete line (a line still being written is left for next time).
pub fn read_intervals_from(path: &Path, from: u64) -> anyhow::Result<(Vec<IntervalRecord>, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    f.seek(SeekFrom::Start(from))?;
    let mut text = Vec::new();
    f.read_to_end(&mut text)?;
    let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut out = Vec::new();
    for (i, line) in text[..complete].split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let r: IntervalRecord = serde_json::from_slice(line)
            .with_context(|| format!("{}: record {} after byte {from}", path.display(), i + 1))?;
        out.push(r);
    }
    Ok((out, from + complete as u64))
}

/// Every account's report from an `accounts.jsonl`.
pub fn read_accounts(path: &Path) -> anyhow::Result<Vec<AccountReport>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .with_context(|| format!("{} line {}", path.display(), i + 1))?,
        );
    }
    Ok(out)
}

/// Write every account's report, one JSON object a line.
pub fn write_accounts(path: &Path, accounts: &[AccountReport]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    for a in accounts {
        serde_json::to_writer(&mut w, a)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_survives_its_record_exactly() {
        let mut s = Snapshot::default();
        s.counters[Counter::LoginsOk as usize] = 7;
        s.counters[Counter::KicksMultipleDevice as usize] = 3;
        s.login_codes.insert(70001, 2);
        s.connect_errors.insert("tcp_ConnectionRefused".into(), 1);
        s.violations[Class::ExcessKick.index()] = 1;
        s.judged[Class::Capacity.index()] = 9;
        for v in [120u64, 130, 5_000, 99_999] {
            s.hist[Metric::Login as usize].record(v).unwrap();
        }
        s.hist[Metric::ScheduleLag as usize].record(42).unwrap();
        let r = IntervalRecord::new(&s, 1_700_000_000_123, 3.0, 1.0, 12);
        let line = serde_json::to_string(&r).unwrap();
        let back: IntervalRecord = serde_json::from_str(&line).unwrap();
        let t = back.snapshot().unwrap();
        assert_eq!(t.counters, s.counters);
        assert_eq!(t.login_codes, s.login_codes);
        assert_eq!(t.connect_errors, s.connect_errors);
        assert_eq!(t.violations, s.violations);
        assert_eq!(t.judged, s.judged);
        for m in Metric::ALL {
            assert_eq!(t.hist(m), s.hist(m), "{}", m.name());
        }
        assert_eq!((back.end_unix_ms, back.live), (1_700_000_000_123, 12));
    }

    #[test]
    fn unknown_names_are_errors_and_partial_lines_wait() {
        let mut r = IntervalRecord::new(&Snapshot::default(), 0, 1.0, 1.0, 0);
        r.counters.insert("logins_teleported".into(), 1);
        let e = r.snapshot().unwrap_err().to_string();
        assert!(e.contains("logins_teleported"), "{e}");

        let dir = std::env::temp_dir().join(format!("ls-records-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(INTERVALS_FILE);
        let line =
            serde_json::to_string(&IntervalRecord::new(&Snapshot::default(), 5, 1.0, 1.0, 0))
                .unwrap();
        std::fs::write(&p, format!("{line}\n{}", &line[..10])).unwrap();
        let (got, off) = read_intervals_from(&p, 0).unwrap();
        assert_eq!((got.len(), off), (1, line.len() as u64 + 1));
        let (got, off2) = read_intervals_from(&p, off).unwrap();
        assert_eq!((got.len(), off2), (0, off));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
