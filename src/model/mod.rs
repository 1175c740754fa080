//! The run's results as typed data: metrics and counters ([`Snapshot`]), how the run ended and
//! what each account saw ([`RunSummary`]), and the typed rows of `counters.csv`.
//!
//! The engine produces these; report writers, thresholds, the verdict, `compare` and the live
//! display only read them.

mod metrics;
mod outcome;
mod recovery;
mod rows;
mod snapshot;
mod threshold;

pub use metrics::{Counter, Metric};
pub use outcome::{AccountReport, Generator, Outcome, RunSummary, Tick};
pub use recovery::{had_reconnects, recovery_time, RECOVERY_SHARES};
pub use rows::{counter_rows, RATE_ROWS, TOTAL_ROWS};
pub use snapshot::{new_histogram, Overflow, Snapshot};
pub use threshold::{closest, Op, Stat, Subject, Threshold, ThresholdError, ThresholdProblem};
