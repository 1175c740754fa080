//! What `compare` reads from a report directory: the latency summary, the counters, the
//! one-second interval histograms of `latency.hlog`, and the run's identity from `run.json`.

use anyhow::Context as _;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
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

/// A report file, bounded and refused unless it is a regular file of the report's own.
fn report_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    crate::input::read(
        path,
        crate::input::Links::Refuse,
        crate::input::MAX_REPORT_FILE,
    )
}

pub fn load(dir: &Path) -> anyhow::Result<ReportData> {
    let path = dir.join("summary.csv");
    let summary = report_file(&path).with_context(|| {
        format!(
            "cannot read {} (is it a loginstorm report directory?)",
            path.display()
        )
    })?;
    let counters = report_file(&dir.join("counters.csv"))?;
    let hlog = dir.join("latency.hlog");
    let hlog = match std::fs::symlink_metadata(&hlog) {
        Ok(_) => Some(report_file(&hlog)?),
        Err(_) => None,
    };
    let run_json = match std::fs::symlink_metadata(dir.join("run.json")) {
        Ok(_) => Some(crate::input::read(
            &dir.join("run.json"),
            crate::input::Links::Refuse,
            crate::input::MAX_RUN_JSON,
        )?),
        Err(_) => None,
    };
    parse_report(
        dir,
        &summary,
        &counters,
        hlog.as_deref(),
        run_json.as_deref(),
    )
}

/// What is compared, from the bytes of a report's files (`dir` only names them in errors).
pub fn parse_report(
    dir: &Path,
    summary: &[u8],
    counters: &[u8],
    hlog: Option<&[u8]>,
    run_json: Option<&[u8]>,
) -> anyhow::Result<ReportData> {
    let mut data = ReportData {
        time_bounded: true,
        ..ReportData::default()
    };
    let path = dir.join("summary.csv");
    let mut r = csv::Reader::from_reader(summary);
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
    let mut r = csv::Reader::from_reader(counters);
    for rec in r.records() {
        let rec = rec.with_context(|| format!("{}", path.display()))?;
        let (Some(name), Some(value)) = (rec.get(0), rec.get(1)) else {
            anyhow::bail!("{}: a row without name and value", path.display());
        };
        if let Ok(v) = value.parse::<f64>() {
            data.counters.insert(name.to_string(), v);
        }
    }
    if let Some(bytes) = hlog {
        data.intervals = read_hlog(&dir.join("latency.hlog"), bytes)?;
    }
    if let Some(text) = run_json {
        let r = crate::report::record::RunRecord::parse(text).with_context(|| {
            format!(
                "{} is not a loginstorm run record",
                dir.join("run.json").display()
            )
        })?;
        let load = &r.resolved_scenario.load;
        data.time_bounded =
            load.model == crate::scenario::LoadModel::Open || !load.duration.0.is_zero();
        data.identity.insert("scenario", r.scenario);
        data.identity.insert("seed", r.seed.to_string());
        data.identity.insert("target", r.target);
        data.identity
            .insert("embedded_server", r.embedded_server.to_string());
    }
    Ok(data)
}

/// Every tagged histogram of an interval log, by tag, in the log's order.
fn read_hlog(path: &Path, bytes: &[u8]) -> anyhow::Result<BTreeMap<String, Vec<Histogram<u64>>>> {
    let mut out: BTreeMap<String, Vec<Histogram<u64>>> = BTreeMap::new();
    for entry in IntervalLogIterator::new(bytes) {
        let entry = entry.map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))?;
        let LogEntry::Interval(h) = entry else {
            continue;
        };
        let Some(tag) = h.tag() else { continue };
        let hist = crate::report::records::decode_histogram(h.encoded_histogram())
            .with_context(|| format!("{}: a histogram", path.display()))?;
        out.entry(tag.as_str().to_string()).or_default().push(hist);
    }
    Ok(out)
}
