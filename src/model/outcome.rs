//! How a run ended and what each account saw: the run's results beside its metrics.

use serde::Serialize;
use std::time::{Duration, SystemTime};

use crate::checks::Violation;
use crate::model::Snapshot;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every planned cycle was done.
    Completed,
    /// The planned duration (or the open model's stages) ran out.
    DurationReached,
    /// Ctrl-C.
    Interrupted,
    /// The target stopped accepting connections mid-run.
    TargetLost,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::DurationReached => "duration_reached",
            Outcome::Interrupted => "interrupted",
            Outcome::TargetLost => "target_lost",
        }
    }

    /// Whether the run went as planned (its numbers describe the whole plan).
    pub fn is_clean(self) -> bool {
        matches!(self, Outcome::Completed | Outcome::DurationReached)
    }
}

/// One row of `kicks.csv`.
#[derive(Debug, Clone, Default)]
pub struct AccountReport {
    pub user: String,
    pub logins: u64,
    pub kicks: [u64; 4],
    pub waves: u64,
    /// Sum over waves of the policy's expectation (min, max over login orders); `None` when the
    /// alignment does not make it exact.
    pub expected: Option<(u64, u64)>,
    /// Violations found in this account's history (at most a hundred are kept).
    pub violations: Vec<Violation>,
}

/// One second of the run, as the controller sees it.
pub struct Tick<'a> {
    pub at: Duration,
    pub span: Duration,
    pub live: i64,
    pub interval: &'a Snapshot,
    pub totals: &'a Snapshot,
}

/// Everything a finished run measured: how it ended, its totals and its accounts.
pub struct RunSummary {
    pub outcome: Outcome,
    pub totals: Snapshot,
    pub accounts: Vec<AccountReport>,
    /// Wall-clock start of the run.
    pub started: SystemTime,
    pub elapsed: Duration,
}
