//! The `search` subcommand's arguments.

use clap::Args;
use std::path::PathBuf;

use super::Common;

#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    /// Scenario file (TOML). Its load is replaced by the open model at each step's rate; keep
    /// accounts.count at least rate × cycle time, or arrivals queue and are dropped.
    pub scenario: PathBuf,
    /// A service-level objective, in threshold syntax (see `run --threshold`):
    /// `ready.p99 < 50ms`, `login.error_rate < 0.1%`. Repeatable; at least one.
    #[arg(long = "slo", value_name = "EXPR", value_parser = super::parse_threshold, required = true)]
    pub slos: Vec<crate::thresholds::Threshold>,
    /// First rate tried, in account cycles per second.
    #[arg(long, default_value_t = 100.0, value_name = "RATE")]
    pub start: f64,
    /// Each step multiplies the rate by this until one breaks an SLO.
    #[arg(long, default_value_t = 2.0, value_name = "F")]
    pub factor: f64,
    /// Never try above this rate.
    #[arg(long, default_value_t = 100_000.0, value_name = "RATE")]
    pub max_rate: f64,
    /// Bisect until the failing rate is within this of the passing one (`10%` or `0.1`).
    #[arg(long, default_value = "10%", value_name = "PCT", value_parser = crate::compare::parse_tolerance)]
    pub precision: f64,
    /// How long each step holds its rate (after --ramp).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = crate::units::parse_duration)]
    pub step: std::time::Duration,
    /// How long each step takes to ramp up to its rate.
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = crate::units::parse_duration)]
    pub ramp: std::time::Duration,
    /// Most steps in all (the search's time bound: steps × (ramp + step + wind-down)).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_steps: usize,
    #[command(flatten)]
    pub common: Common,
}

impl SearchArgs {
    /// Validate the numbers and build the search's options.
    pub fn options(&self) -> anyhow::Result<crate::search::SearchOptions> {
        // The open model's own bound on a rate (load.stages).
        if !(self.max_rate >= 1.0 && self.max_rate <= 1_000_000.0) {
            anyhow::bail!("--max-rate must be within 1..=1000000 arrivals/s");
        }
        if !(self.start >= 1.0 && self.start <= self.max_rate) {
            anyhow::bail!(
                "--start must be at least 1 and at most --max-rate ({})",
                self.max_rate
            );
        }
        if !(self.factor > 1.0 && self.factor <= 100.0) {
            anyhow::bail!("--factor must be above 1 and at most 100");
        }
        if !(self.precision > 0.0 && self.precision < 1.0) {
            anyhow::bail!("--precision must be above 0% and below 100%");
        }
        if self.step.is_zero() {
            anyhow::bail!("--step must be longer than 0");
        }
        if self.max_steps == 0 || self.max_steps > 100 {
            anyhow::bail!("--max-steps must be within 1..=100");
        }
        Ok(crate::search::SearchOptions {
            scenario: self.scenario.clone(),
            overrides: self.common.overrides.clone(),
            slos: self.slos.clone(),
            strategy: crate::search::Strategy {
                start: self.start,
                factor: self.factor,
                max_rate: self.max_rate,
                precision: self.precision,
                max_steps: self.max_steps,
            },
            ramp: self.ramp,
            hold: self.step,
            out_dir: self.common.out.clone(),
        })
    }
}
