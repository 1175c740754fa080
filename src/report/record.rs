//! `run.json` as one type: [`RunRecord`]. The report writer fills it in and rewrites it as the
//! run goes (`running` at the start, so even a killed run leaves a trace); `merge` and
//! `compare` read it back through the same type. No other code reads or writes `run.json`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{FileSeal, Totals};
use crate::scenario::Scenario;

/// Every field of `run.json` (docs/reports.md, "run.json").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub loginstorm_version: String,
    pub scenario: String,
    pub seed: u64,
    /// The target's URL (or, merged, the shards' targets).
    pub target: String,
    pub embedded_server: bool,
    /// The `--set` overrides, a `target.key`'s value redacted.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// `--threshold` flags added to the scenario's.
    #[serde(default)]
    pub thresholds_added: Vec<String>,
    /// Which share of the accounts this run ran; read wide, so a number past 32 bits is
    /// refused by name rather than cut.
    pub shard: ShardRecord,
    #[serde(default)]
    pub accounts_run: u64,
    /// SHA-256 of the resolved scenario without its seed (what `merge` compares).
    #[serde(default)]
    pub scenario_hash: Option<String>,
    pub started_at: String,
    #[serde(default)]
    pub ended_at: Option<String>,
    #[serde(default)]
    pub elapsed_secs: Option<f64>,
    /// `running`, then how it ended ([`crate::model::Outcome::name`]), or `error`.
    pub outcome: String,
    /// Why it ended in `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub check_warnings: Vec<String>,
    /// Every key, defaults filled in, the signing key redacted.
    pub resolved_scenario: Scenario,
    /// What the load cost the generator (at the end).
    #[serde(default)]
    pub generator: Option<GeneratorRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cautions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_write_secs: Option<f64>,
    /// True once every end-of-run file is on disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reports_complete: Option<bool>,
    /// The run's totals, which its `intervals.jsonl` must add up to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<Totals>,
    /// Record count and SHA-256 of `intervals.jsonl` and `accounts.jsonl`, by file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeMap<String, FileSeal>>,
    /// A merged report: each shard and its directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<Vec<MergedFrom>>,
    /// A merged report: why it is INCOMPLETE, if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_shortfall: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ShardRecord {
    pub index: u64,
    pub count: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GeneratorRecord {
    pub cpu_secs: f64,
    pub load_window_secs: f64,
    pub busy_cores: Option<f64>,
    pub cycles: u64,
    pub logins_ok: Option<u64>,
    pub cpu_us_per_cycle: Option<f64>,
    pub schedule_lag_p50_us: Option<u64>,
    pub schedule_lag_p99_us: Option<u64>,
    /// CPU before the load's clock started (parsing, accounts, the embedded server's start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_cpu_secs: Option<f64>,
    /// CPU after the load window: the wind-down, the summary and every end-of-run report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_load_cpu_secs: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergedFrom {
    pub shard: String,
    pub dir: String,
}

impl RunRecord {
    /// A `run.json` text; what does not fit the type is an error naming the field.
    pub fn parse(text: &[u8]) -> anyhow::Result<RunRecord> {
        serde_json::from_slice(text).map_err(|e| anyhow::anyhow!("{e}"))
    }

    pub fn to_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }

    /// The run ended (however): not `running`, not `error`.
    pub fn outcome(&self) -> Option<crate::model::Outcome> {
        crate::model::Outcome::from_name(&self.outcome)
    }
}
