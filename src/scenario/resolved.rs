//! A scenario resolved: its values checked and its small languages parsed, with what a run
//! asks of it (userIDs, instances, this process's share, the planned length).

use std::time::Duration;

use super::*;
use crate::policy::{Platform, Policy};

/// A scenario whose values have been checked, with its derived parts parsed.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub scenario: Scenario,
    pub policy: Policy,
    pub platforms: Vec<Platform>,
    pub stages: Vec<Stage>,
    pub credentials: Option<Vec<(String, String)>>,
    pub thresholds: Vec<crate::model::Threshold>,
    /// The share of the accounts this process runs (`--shard`; whole by default).
    pub shard: crate::shard::Shard,
    /// The backend's wire protocol (`target.protocol`), read and checked.
    pub profile: std::sync::Arc<crate::profile::Profile>,
    /// What the instances speak: a JSON profile, or MQTT.
    pub wire: crate::driver::Wire,
    /// Write every frame of the first instance here (`run --trace-frames`).
    pub trace_frames: Option<std::path::PathBuf>,
    /// The command line's overrides it was loaded with (recorded in run.json, handed on to
    /// `--processes` children).
    pub overrides: super::Overrides,
    /// The trace model's trace, read and scheduled.
    pub trace: Option<std::sync::Arc<crate::trace::Trace>>,
}

impl Resolved {
    pub fn user_id(&self, n: u32) -> String {
        if let Some(t) = &self.trace {
            return t.users[n as usize].clone();
        }
        match &self.credentials {
            Some(c) => c[n as usize].0.clone(),
            None => self
                .scenario
                .accounts
                .id_pattern
                .replace("{n}", &n.to_string()),
        }
    }

    /// Instances this process runs: its shard's accounts × instances per account.
    pub fn instances(&self) -> u64 {
        u64::from(self.accounts_owned()) * self.platforms.len() as u64
    }

    /// The open model's plan as this process offers it: the stages' rates × its share of the
    /// accounts (what its reports and display call "offered"). The engine paces the whole
    /// plan's arrivals and sends its own, so these are for figures only.
    pub fn own_stages(&self) -> Vec<Stage> {
        let f = self.shard_fraction();
        self.stages
            .iter()
            .map(|s| Stage {
                rate: s.rate * f,
                over: s.over,
            })
            .collect()
    }

    /// Refuse a share too large for one process (each instance is an actor once it starts, its
    /// account is made before the run): checked once the shard is known, so a large scenario can still run as shards.
    pub fn check_process_size(&self) -> Result<(), ScenarioError> {
        let instances = self.instances();
        if instances > MAX_INSTANCES {
            return Err(ScenarioError::invalid(
                "accounts",
                format!(
                    "this process would run {} accounts × {} instances = {instances} instances; one process runs at most {MAX_INSTANCES} (each is an actor once it starts, and its account is made before the run): split the accounts over processes with `run --processes N` or `run --shard I/N`",
                    self.accounts_owned(),
                    self.platforms.len()
                ),
            ));
        }
        Ok(())
    }

    /// Accounts this process runs (all of them unless sharded).
    pub fn accounts_owned(&self) -> u32 {
        self.shard.owned(self.scenario.accounts.count)
    }

    /// The share of the open model's arrivals (and of the closed model's ramp) that goes to this
    /// process's accounts: arrivals are dealt to accounts in turn.
    pub fn shard_fraction(&self) -> f64 {
        f64::from(self.accounts_owned()) / f64::from(self.scenario.accounts.count.max(1))
    }

    /// How long the run is planned to last, when that is known up front.
    pub fn planned_duration(&self) -> Option<Duration> {
        planned_duration(&self.scenario, &self.stages, self.trace.as_deref())
    }

    /// Cycles the whole run will do, when that is known up front (closed model with a count).
    pub fn cycles_planned(&self) -> Option<u64> {
        let c = self.scenario.cycle.cycles;
        (self.scenario.load.model == LoadModel::Closed && c > 0)
            .then(|| self.instances() * u64::from(c))
    }
}
