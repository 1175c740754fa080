//! How a run ended and what each account saw: the run's results beside its metrics.

use serde::{Deserialize, Serialize};
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
    /// A `[[chaos]]` disruption could not be caused (the embedded server did not listen
    /// again, a command failed): the run did not go as the scenario says.
    DisruptionFailed,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::DurationReached => "duration_reached",
            Outcome::Interrupted => "interrupted",
            Outcome::TargetLost => "target_lost",
            Outcome::DisruptionFailed => "disruption_failed",
        }
    }

    /// The outcome `name` gives (None for anything else, e.g. `running`).
    pub fn from_name(name: &str) -> Option<Outcome> {
        [
            Outcome::Completed,
            Outcome::DurationReached,
            Outcome::Interrupted,
            Outcome::TargetLost,
            Outcome::DisruptionFailed,
        ]
        .into_iter()
        .find(|o| o.name() == name)
    }

    /// Whether the run went as planned (its numbers describe the whole plan).
    pub fn is_clean(self) -> bool {
        matches!(self, Outcome::Completed | Outcome::DurationReached)
    }
}

/// One row of `kicks.csv` (and one line of `accounts.jsonl`, which `merge` reads back).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountReport {
    /// The account's index in the scenario (its place in every shard's numbering).
    pub index: u32,
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
    /// What the load cost the generator itself.
    pub generator: Generator,
    /// Wall-clock start of the run.
    pub started: SystemTime,
    pub elapsed: Duration,
    /// The first frames the protocol profile could not explain (`instance<TAB>frame`).
    pub unmatched: Vec<String>,
}

/// The load window (from the clock's start to its planned end, or to the last cycle of a run
/// of fixed cycles; without the wind-down that stops the population): what the generator spent
/// in it (process CPU time), and what was done in it. The run's rates are these counts over the
/// window, so the generator's own wind-down never lowers the backend's throughput.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Generator {
    pub cpu: Duration,
    pub window: Duration,
    /// Cycles completed in the window.
    pub cycles: u64,
    /// Logins answered OK in the window.
    pub logins_ok: u64,
    /// The process's CPU before the load's clock started: parsing, accounts and their actors,
    /// the embedded server's start (zero for a merged report).
    pub startup_cpu: Duration,
}

impl Generator {
    /// CPU microseconds per completed cycle (None without cycles).
    pub fn cpu_us_per_cycle(&self) -> Option<f64> {
        (self.cycles > 0).then(|| self.cpu.as_secs_f64() * 1e6 / self.cycles as f64)
    }

    /// `logins_per_sec` and `cycles_per_sec`: over the load window.
    pub fn rates(&self) -> [f64; 2] {
        let secs = self.window.as_secs_f64().max(1e-9);
        [self.logins_ok as f64 / secs, self.cycles as f64 / secs]
    }

    /// Cores the generator kept busy on average.
    pub fn busy_cores(&self) -> f64 {
        self.cpu.as_secs_f64() / self.window.as_secs_f64().max(1e-9)
    }
}
