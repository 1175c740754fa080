//! What `compare` reads from a report directory: the latency summary, the counters, the
//! one-second interval histograms of `latency.hlog`, and the run's identity from `run.json`.

use anyhow::Context as _;
use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::Path;

use crate::report::SUMMARY_COLUMNS;

/// What is compared from one report directory.
#[derive(Default)]
pub struct ReportData {
    pub(super) latency: BTreeMap<String, BTreeMap<String, f64>>,
    pub(super) counters: BTreeMap<String, f64>,
    /// Per metric, its one-second histograms (empty when the report has no `latency.hlog`).
    pub(super) intervals: BTreeMap<String, Vec<Histogram<u64>>>,
    /// Scenario name, seed and target, from `run.json` (when present).
    pub(super) identity: BTreeMap<&'static str, String>,
    /// The run had a planned duration (open model, or `load.duration`): its rates measure
    /// throughput. A run of a fixed number of cycles lasts as long as they take, so its rates
    /// measure its length. True when unknown.
    pub(super) time_bounded: bool,
}

pub fn load(dir: &Path) -> anyhow::Result<ReportData> {
    let mut data = ReportData {
        time_bounded: true,
        ..ReportData::default()
    };
    let path = dir.join("summary.csv");
    let mut r = csv::Reader::from_path(&path).with_context(|| {
        format!(
            "cannot read {} (is it a loginstorm report directory?)",
            path.display()
        )
    })?;
    let headers = r.headers()?.clone();
    anyhow::ensure!(
        headers.iter().eq(SUMMARY_COLUMNS.iter().copied()),
        "{} does not have the summary.csv columns",
        path.display()
    );
    for rec in r.records() {
        let rec = rec?;
        let mut stats = BTreeMap::new();
        for (h, v) in headers.iter().zip(rec.iter()).skip(1) {
            if let Ok(v) = v.parse::<f64>() {
                stats.insert(h.to_string(), v);
            }
        }
        data.latency.insert(rec[0].to_string(), stats);
    }
    let path = dir.join("counters.csv");
    let mut r =
        csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
    for rec in r.records() {
        let rec = rec?;
        if let Ok(v) = rec[1].parse::<f64>() {
            data.counters.insert(rec[0].to_string(), v);
        }
    }
    let hlog = dir.join("latency.hlog");
    if hlog.is_file() {
        data.intervals = read_hlog(&hlog)?;
    }
    if let Ok(text) = std::fs::read_to_string(dir.join("run.json")) {
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", dir.join("run.json").display()))?;
        let load = &v["resolved_scenario"]["load"];
        if let (Some(model), Some(duration)) = (load["model"].as_str(), load["duration"].as_str()) {
            data.time_bounded = model == "open" || duration != "0";
        }
        for key in ["scenario", "seed", "target", "embedded_server"] {
            if let Some(x) = v.get(key).filter(|x| !x.is_null()) {
                let s = x.as_str().map_or_else(|| x.to_string(), str::to_string);
                data.identity.insert(key, s);
            }
        }
    }
    Ok(data)
}

/// Every tagged histogram of an interval log, by tag, in the log's order.
fn read_hlog(path: &Path) -> anyhow::Result<BTreeMap<String, Vec<Histogram<u64>>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out: BTreeMap<String, Vec<Histogram<u64>>> = BTreeMap::new();
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let entry = entry.map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))?;
        let LogEntry::Interval(h) = entry else {
            continue;
        };
        let Some(tag) = h.tag() else { continue };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(h.encoded_histogram())
            .with_context(|| format!("{}: a histogram is not base64", path.display()))?;
        let hist: Histogram<u64> = de
            .deserialize(&mut std::io::Cursor::new(raw))
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))?;
        out.entry(tag.as_str().to_string()).or_default().push(hist);
    }
    Ok(out)
}
