//! `run.json` as the run goes: what the writer records in it after it was created (an error,
//! the reports' time and the CPU after the load, a merge's shards, the verdict's cautions),
//! each time writing it whole, atomically.

use super::{record, write_atomic, ReportWriter};

impl ReportWriter {
    pub(super) fn write_run_json(&self) -> anyhow::Result<()> {
        write_atomic(
            &self.dir.join("run.json"),
            self.run_json.to_json()?.as_bytes(),
        )
    }

    /// Record in `run.json` that the run ended in an error before its reports (a target that
    /// could not be reached, a port that could not be bound): never left saying `running`.
    pub fn record_error(&mut self, e: &anyhow::Error) -> anyhow::Result<()> {
        self.run_json.outcome = "error".into();
        self.run_json.error = Some(crate::error_message(e));
        self.run_json.ended_at = Some(chrono::Utc::now().to_rfc3339());
        self.write_run_json()
    }

    /// Record in `run.json` how long writing the end-of-run reports took (every file after the
    /// load ended: CSV tables, thresholds, junit, summary.json, report.html).
    /// `after_load_cpu`: the process's CPU since the load window ended (wind-down included).
    pub fn record_report_time(
        &mut self,
        secs: f64,
        after_load_cpu: Option<std::time::Duration>,
    ) -> anyhow::Result<()> {
        self.run_json.report_write_secs = Some(secs);
        if let (Some(g), Some(cpu)) = (self.run_json.generator.as_mut(), after_load_cpu) {
            g.after_load_cpu_secs = Some(cpu.as_secs_f64());
        }
        self.run_json.reports_complete = Some(true);
        self.write_run_json()
    }

    /// Record in `run.json` which shard reports this one merges, and what it lacks.
    pub fn record_merge(
        &mut self,
        shards: Vec<(crate::shard::Shard, String)>,
        shortfall: &[String],
    ) -> anyhow::Result<()> {
        self.run_json.merged_from = Some(
            shards
                .iter()
                .map(|(s, dir)| record::MergedFrom {
                    shard: s.to_string(),
                    dir: dir.clone(),
                })
                .collect(),
        );
        self.run_json.merge_shortfall = Some(shortfall.to_vec());
        self.write_run_json()
    }

    /// Add the verdict's cautions to `run.json`.
    pub fn record_cautions(&mut self, cautions: &[String]) -> anyhow::Result<()> {
        self.run_json.cautions = Some(cautions.to_vec());
        self.write_run_json()
    }
}
