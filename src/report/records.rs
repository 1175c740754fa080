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

/// The longest run a record may describe: a year.
pub const MAX_RUN_SECS: f64 = 366.0 * 86_400.0;

/// A histogram of a report file (HdrHistogram V2 deflate, base64), refused unless it has the
/// one shape every loginstorm histogram has ([`crate::model::new_histogram`]): its header is
/// read before anything is allocated for it, so a crafted header cannot ask for gigabytes.
pub fn decode_histogram(text: &str) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    use std::io::Read;
    // A histogram of one second's samples compresses to a few KiB; the bound is generous.
    const MAX_B64: usize = 4 << 20;
    const MAX_INFLATED: u64 = 64 << 20;
    if text.len() > MAX_B64 {
        anyhow::bail!(
            "{} bytes of base64, over the {MAX_B64}-byte bound",
            text.len()
        );
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // V2 deflate: cookie 0x1c849314, compressed length, zlib stream of a V2 encoding.
    let be32 = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
    };
    if be32(&bytes, 0) != Some(0x1c84_9314) {
        anyhow::bail!("not an HdrHistogram V2 deflate encoding");
    }
    let mut inner = Vec::new();
    flate2::read::ZlibDecoder::new(bytes.get(8..).unwrap_or_default())
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut inner)
        .map_err(|e| anyhow::anyhow!("its compressed counts: {e}"))?;
    if inner.len() as u64 > MAX_INFLATED {
        anyhow::bail!("its counts inflate past {MAX_INFLATED} bytes");
    }
    // V2: cookie, payload length, normalizing offset, significant figures, lowest, highest
    // (8 bytes each), conversion ratio.
    let be64 = |b: &[u8], at: usize| {
        b.get(at..at + 8).map(|x| {
            let mut a = [0u8; 8];
            a.copy_from_slice(x);
            u64::from_be_bytes(a)
        })
    };
    let want = crate::model::new_histogram();
    let shape = (be32(&inner, 12), be64(&inner, 16), be64(&inner, 24));
    let expected = (
        Some(u32::from(want.sigfig())),
        Some(want.low()),
        Some(want.high()),
    );
    if shape != expected {
        anyhow::bail!(
            "its shape (significant figures, lowest, highest) {shape:?} is not loginstorm's {expected:?}"
        );
    }
    // The payload length in the header is what the deserializer allocates: it must be the
    // payload that is there (a crafted one asked for 4 GiB).
    const V2_HEADER: usize = 40;
    let payload = be32(&inner, 4).map(|n| n as usize);
    if payload != inner.len().checked_sub(V2_HEADER) {
        anyhow::bail!(
            "its header says {payload:?} bytes of counts, it holds {}",
            inner.len().saturating_sub(V2_HEADER)
        );
    }
    let h: hdrhistogram::Histogram<u64> = Deserializer::new()
        .deserialize(&mut inner.as_slice())
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(h)
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

    /// Whether the record's times could be a run's: finite, within the years a timestamp may
    /// name, not negative. What does not pass is refused, never rounded into range.
    pub fn check(&self) -> anyhow::Result<()> {
        // 1970 to the end of year 9999, in milliseconds.
        const MAX_MS: i64 = 253_402_300_799_999;
        if !(0..=MAX_MS).contains(&self.end_unix_ms) {
            anyhow::bail!("end_unix_ms {} is not a time of a run", self.end_unix_ms);
        }
        for (name, v) in [("at_s", self.at_s), ("span_s", self.span_s)] {
            if !(v.is_finite() && (0.0..=MAX_RUN_SECS).contains(&v)) {
                anyhow::bail!("{name} {v} is not within 0..={MAX_RUN_SECS} seconds");
            }
        }
        if self.span_s > self.at_s + 1e-6 {
            anyhow::bail!(
                "span_s {} is longer than the run so far ({} s)",
                self.span_s,
                self.at_s
            );
        }
        Ok(())
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
        for (name, text) in &self.histograms {
            let m = Metric::ALL
                .iter()
                .find(|m| m.name() == name)
                .ok_or_else(|| anyhow::anyhow!("unknown metric {name:?}"))?;
            let h = decode_histogram(text).with_context(|| format!("histogram {name}"))?;
            s.hist[*m as usize]
                .add(&h)
                .map_err(|e| anyhow::anyhow!("histogram {name}: {e:?}"))?;
        }
        Ok(s)
    }
}

/// Every complete line of an `intervals.jsonl` from byte `from` on; returns them with the
/// offset after the last complete line (a line still being written is left for next time).
/// The file must be a regular file of the report's own (no link), within the report bound.
pub fn read_intervals_from(path: &Path, from: u64) -> anyhow::Result<(Vec<IntervalRecord>, u64)> {
    let text = crate::input::read_from(
        path,
        crate::input::Links::Refuse,
        crate::input::MAX_REPORT_FILE,
        from,
    )?;
    let (out, complete) =
        parse_intervals(&text).with_context(|| format!("{} after byte {from}", path.display()))?;
    Ok((out, from + complete as u64))
}

/// The complete lines of `intervals.jsonl` text, each checked (see [`IntervalRecord::check`]),
/// and the length of the text they take (a last line without its newline is left out).
pub fn parse_intervals(text: &[u8]) -> anyhow::Result<(Vec<IntervalRecord>, usize)> {
    let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut out = Vec::new();
    for (i, line) in text[..complete].split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let r: IntervalRecord =
            serde_json::from_slice(line).with_context(|| format!("record {}", i + 1))?;
        r.check().with_context(|| format!("record {}", i + 1))?;
        out.push(r);
    }
    Ok((out, complete))
}

/// Every account's report from an `accounts.jsonl` (a regular file of the report's own).
pub fn read_accounts(path: &Path) -> anyhow::Result<Vec<AccountReport>> {
    let text = crate::input::read(
        path,
        crate::input::Links::Refuse,
        crate::input::MAX_REPORT_FILE,
    )?;
    parse_accounts(&text).with_context(|| format!("{}", path.display()))
}

/// Every account's report from `accounts.jsonl` text; a last line without its newline means
/// the file was cut short, and is refused.
pub fn parse_accounts(text: &[u8]) -> anyhow::Result<Vec<AccountReport>> {
    if !text.is_empty() && !text.ends_with(b"\n") {
        anyhow::bail!("the last line has no newline: the file was cut short");
    }
    let mut out = Vec::new();
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push(serde_json::from_slice(line).with_context(|| format!("line {}", i + 1))?);
    }
    Ok(out)
}

/// Write every account's report, one JSON object a line (at once: see
/// [`super::write_atomic`]); returns its record count and hash for `run.json`.
pub fn write_accounts(path: &Path, accounts: &[AccountReport]) -> anyhow::Result<super::FileSeal> {
    use sha2::Digest;
    let mut bytes = Vec::new();
    for a in accounts {
        serde_json::to_writer(&mut bytes, a)?;
        bytes.push(b'\n');
    }
    super::write_atomic(path, &bytes)?;
    Ok(super::FileSeal {
        records: accounts.len() as u64,
        sha256: super::hex(&sha2::Sha256::digest(&bytes)),
    })
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

    /// A histogram whose header lies (about its shape, or the length of its counts, which the
    /// deserializer would allocate: a fuzzer's 4 GiB) is refused before anything is allocated.
    #[test]
    fn a_histogram_header_that_lies_is_refused() {
        use std::io::{Read, Write};
        let mut h = crate::model::new_histogram();
        h.record(1234).unwrap();
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&h, &mut bytes)
            .unwrap();
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        assert_eq!(decode_histogram(&b64(&bytes)).unwrap(), h);
        // Inflate, change the header, deflate again.
        let mut inner = Vec::new();
        flate2::read::ZlibDecoder::new(&bytes[8..])
            .read_to_end(&mut inner)
            .unwrap();
        let rewrap = |inner: &[u8]| {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(inner).unwrap();
            let z = z.finish().unwrap();
            let mut out = bytes[..4].to_vec();
            out.extend_from_slice(&(z.len() as u32).to_be_bytes());
            out.extend_from_slice(&z);
            b64(&out)
        };
        assert_eq!(decode_histogram(&rewrap(&inner)).unwrap(), h);
        let mut long = inner.clone();
        long[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let e = decode_histogram(&rewrap(&long)).unwrap_err().to_string();
        assert!(e.contains("bytes of counts"), "{e}");
        let mut wide = inner.clone();
        wide[24..32].copy_from_slice(&u64::MAX.to_be_bytes());
        let e = decode_histogram(&rewrap(&wide)).unwrap_err().to_string();
        assert!(e.contains("shape"), "{e}");
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
