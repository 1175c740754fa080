//! Capacity search: the highest open-model arrival rate at which the backend meets every SLO.
//!
//! The strategy is pure (this module, tested without sockets): the rate grows by a factor from
//! a start until a step fails, then the gap between the highest passing and the lowest failing
//! rate is bisected until it is within the precision, or the step budget is spent. Each step is
//! one ordinary run of the scenario at a fixed rate ([`drive`]); a step passes when its verdict
//! passes with the SLOs as thresholds, every arrival was delivered, and the generator kept its
//! schedule (a late generator cannot vouch for a rate). The knee and who ran out first are read
//! off the steps afterwards.

mod drive;
#[cfg(test)]
mod tests;

pub use drive::{search, SearchOptions, Searched, SEARCH_COLUMNS};

use crate::model::Metric;

/// How a search chooses its next rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strategy {
    pub start: f64,
    pub factor: f64,
    pub max_rate: f64,
    /// Stop bisecting once (lowest fail − highest pass) / highest pass is at most this.
    pub precision: f64,
    pub max_steps: usize,
}

/// Where the search stands: the highest passing and the lowest failing rate so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    s: Strategy,
    pass: Option<f64>,
    fail: Option<f64>,
    steps: usize,
}

impl Search {
    pub fn new(s: Strategy) -> Search {
        Search {
            s,
            pass: None,
            fail: None,
            steps: 0,
        }
    }

    /// The next rate to try, or `None` when the search is over.
    pub fn next_rate(&self) -> Option<f64> {
        if self.steps >= self.s.max_steps {
            return None;
        }
        match (self.pass, self.fail) {
            (None, None) => Some(self.s.start),
            // Growing: until a step fails or the ceiling passed.
            (Some(p), None) => {
                (p < self.s.max_rate).then(|| (p * self.s.factor).min(self.s.max_rate))
            }
            // The very first step failed: go down by the factor (not below one arrival a second).
            (None, Some(f)) => (f > 1.0).then(|| (f / self.s.factor).max(1.0)),
            (Some(p), Some(f)) => {
                ((f - p) / p > self.s.precision).then(|| ((p + f) / 2.0).round().max(1.0))
            }
        }
    }

    /// Record a step's result.
    pub fn record(&mut self, rate: f64, passed: bool) {
        self.steps += 1;
        if passed {
            self.pass = Some(self.pass.map_or(rate, |p| p.max(rate)));
        } else {
            self.fail = Some(self.fail.map_or(rate, |f| f.min(rate)));
        }
    }

    /// The highest rate that met every SLO.
    pub fn best(&self) -> Option<f64> {
        self.pass
    }

    /// The lowest rate that did not.
    pub fn lowest_failing(&self) -> Option<f64> {
        self.fail
    }
}

/// One step's figures, as search.csv holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub rate: f64,
    pub passed: bool,
    /// The latency the knee is read from (p99, µs), if measured.
    pub knee_p99_us: Option<u64>,
    /// The generator was late (schedule_lag p99 past its bound) or its cores were full.
    pub generator_limited: bool,
}

/// A knee is where the p99 at least doubles (and grows by at least this much) against the
/// lowest rate tried.
pub const KNEE_MIN_GROWTH_US: u64 = 1_000;

/// The lowest rate whose p99 of the knee metric is more than twice the p99 at the lowest rate
/// tried (and at least [`KNEE_MIN_GROWTH_US`] above it): where latency turned.
pub fn knee(steps: &[Step]) -> Option<f64> {
    let mut by_rate: Vec<&Step> = steps.iter().filter(|s| s.knee_p99_us.is_some()).collect();
    by_rate.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let base = by_rate.first()?.knee_p99_us?;
    by_rate
        .iter()
        .find(|s| {
            let p = s.knee_p99_us.unwrap_or(0);
            p > base * 2 && p >= base + KNEE_MIN_GROWTH_US
        })
        .map(|s| s.rate)
}

/// Who ran out first at the lowest failing rate: the generator when it was late or out of
/// cores there, else the backend. `None` when no step failed.
pub fn ran_out_first(steps: &[Step]) -> Option<&'static str> {
    let first_fail = steps
        .iter()
        .filter(|s| !s.passed)
        .min_by(|a, b| a.rate.total_cmp(&b.rate))?;
    Some(if first_fail.generator_limited {
        "generator"
    } else {
        "backend"
    })
}

/// The latency the knee is read from: the first latency SLO's metric, else `ready`.
pub fn knee_metric(slos: &[crate::thresholds::Threshold]) -> Metric {
    slos.iter()
        .find_map(|t| match t.subject {
            crate::model::Subject::Latency(m, _) if m != Metric::ScheduleLag => Some(m),
            _ => None,
        })
        .unwrap_or(Metric::Ready)
}
