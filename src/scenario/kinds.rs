//! The small languages inside scenario values — think times, alignment, kick reactions, open-model
//! stages, instance lists — each parsed by `FromStr` so files and `--set` share one parser.

use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::time::Duration;

use crate::policy::{Platform, PolicyError};
use crate::units::{parse_duration, DelayRange, UnitError};

/// Most instances one account may have.
pub const MAX_INSTANCES: usize = 64;

/// A value in one of the scenario's small languages that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KindError {
    #[error("think {0:?}: expected fixed:D, uniform:A..B or exp:MEAN")]
    Think(String),
    #[error("alignment {0:?}: expected barrier, jitter:WINDOW, stagger:STEP or independent")]
    Alignment(String),
    #[error("on_kick {0:?}: expected relogin:BACKOFF, next_cycle or stop")]
    OnKick(String),
    #[error("stage {0:?}: expected RATE,DURATION")]
    StageShape(String),
    #[error("stage {0:?}: rate is not a number within 0..=1000000")]
    StageRate(String),
    #[error("{0:?}: count after * is not a whole number")]
    Count(String),
    #[error("no instances given (e.g. \"Web*3,Android\")")]
    NoInstances,
    #[error("{0} or more instances per account; at most {MAX_INSTANCES}")]
    TooManyInstances(u64),
    #[error(transparent)]
    Unit(#[from] UnitError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// Think time between cycles: `fixed:100ms`, `uniform:50ms..200ms`, `exp:100ms` (mean).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Think {
    Fixed(Duration),
    Uniform(DelayRange),
    Exponential(Duration),
}

impl Think {
    /// Draw a think time; `unit` is uniform in [0, 1).
    pub fn sample(&self, unit: f64) -> Duration {
        match self {
            Think::Fixed(d) => *d,
            Think::Uniform(r) => r.sample(unit),
            Think::Exponential(mean) => {
                let x = -(1.0 - unit).max(f64::MIN_POSITIVE).ln();
                mean.mul_f64(x.min(50.0))
            }
        }
    }
}

impl FromStr for Think {
    type Err = KindError;
    fn from_str(s: &str) -> Result<Self, KindError> {
        let (kind, arg) = s
            .split_once(':')
            .ok_or_else(|| KindError::Think(s.into()))?;
        match kind {
            "fixed" => Ok(Think::Fixed(parse_duration(arg)?)),
            "uniform" => Ok(Think::Uniform(arg.parse()?)),
            "exp" => Ok(Think::Exponential(parse_duration(arg)?)),
            _ => Err(KindError::Think(s.into())),
        }
    }
}

impl std::fmt::Display for Think {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Think::Fixed(d) => write!(f, "fixed:{}", crate::units::format_duration(*d)),
            Think::Uniform(r) => write!(f, "uniform:{r}"),
            Think::Exponential(d) => write!(f, "exp:{}", crate::units::format_duration(*d)),
        }
    }
}

/// How the logins of one account line up: `barrier`, `jitter:50ms`, `stagger:200ms`, `independent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alignment {
    /// All instances of the account send login at the same instant each wave.
    Barrier,
    /// Like barrier, but each login is delayed by a uniform draw within the window.
    Jitter(Duration),
    /// Like barrier, but the wave's k-th login (k = 0, 1, …, in slot order) is sent k steps
    /// after the first: the account's logins one after another, each meeting the others live.
    Stagger(Duration),
    /// Every instance cycles on its own.
    Independent,
}

impl Alignment {
    /// The longest a wave of `logins` logins spreads its logins over (zero for a barrier).
    pub fn window(&self, logins: usize) -> Duration {
        match *self {
            Alignment::Jitter(w) => w,
            Alignment::Stagger(step) => step.saturating_mul(logins.saturating_sub(1) as u32),
            Alignment::Barrier | Alignment::Independent => Duration::ZERO,
        }
    }
}

impl FromStr for Alignment {
    type Err = KindError;
    fn from_str(s: &str) -> Result<Self, KindError> {
        match s.split_once(':') {
            None if s == "barrier" => Ok(Alignment::Barrier),
            None if s == "independent" => Ok(Alignment::Independent),
            Some(("jitter", d)) => Ok(Alignment::Jitter(parse_duration(d)?)),
            Some(("stagger", d)) => Ok(Alignment::Stagger(parse_duration(d)?)),
            _ => Err(KindError::Alignment(s.into())),
        }
    }
}

impl std::fmt::Display for Alignment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Alignment::Barrier => f.write_str("barrier"),
            Alignment::Jitter(d) => write!(f, "jitter:{}", crate::units::format_duration(*d)),
            Alignment::Stagger(d) => write!(f, "stagger:{}", crate::units::format_duration(*d)),
            Alignment::Independent => f.write_str("independent"),
        }
    }
}

/// What a kicked instance does: `relogin:200ms`, `next_cycle`, `stop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnKick {
    Relogin(Duration),
    NextCycle,
    Stop,
}

impl FromStr for OnKick {
    type Err = KindError;
    fn from_str(s: &str) -> Result<Self, KindError> {
        match s.split_once(':') {
            None if s == "next_cycle" => Ok(OnKick::NextCycle),
            None if s == "stop" => Ok(OnKick::Stop),
            Some(("relogin", d)) => Ok(OnKick::Relogin(parse_duration(d)?)),
            _ => Err(KindError::OnKick(s.into())),
        }
    }
}

impl std::fmt::Display for OnKick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OnKick::Relogin(d) => write!(f, "relogin:{}", crate::units::format_duration(*d)),
            OnKick::NextCycle => f.write_str("next_cycle"),
            OnKick::Stop => f.write_str("stop"),
        }
    }
}

macro_rules! string_serde {
    ($t:ty, $what:expr) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::units::quoted(d, $what)
            }
        }
    };
}
string_serde!(
    Think,
    "a think time in quotes, such as \"fixed:50ms\" or \"uniform:50ms..150ms\""
);
string_serde!(
    Alignment,
    "an alignment in quotes: \"independent\", \"barrier\", \"jitter:300ms\" or \"stagger:200ms\""
);
string_serde!(
    OnKick,
    "what a kicked instance does, in quotes (see loginstorm docs scenarios: cycle.on_kick)"
);

/// One stage of an open-model plan: ramp linearly to `rate` over `over`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub rate: f64,
    pub over: Duration,
}

/// Parse `"50,10s;200,30s"`.
pub fn parse_stages(s: &str) -> Result<Vec<Stage>, KindError> {
    s.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (rate, over) = p
                .split_once(',')
                .ok_or_else(|| KindError::StageShape(p.into()))?;
            let rate: f64 = rate
                .trim()
                .parse()
                .ok()
                .filter(|r| (0.0..=1e6).contains(r))
                .ok_or_else(|| KindError::StageRate(p.into()))?;
            Ok(Stage {
                rate,
                over: parse_duration(over)?,
            })
        })
        .collect()
}

/// The arrival rate at `t` since the start (linear ramps from 0).
pub fn rate_at(stages: &[Stage], t: Duration) -> f64 {
    let mut start = 0.0;
    let mut elapsed = Duration::ZERO;
    for st in stages {
        if t < elapsed + st.over {
            let frac = (t - elapsed).as_secs_f64() / st.over.as_secs_f64().max(1e-9);
            return start + (st.rate - start) * frac;
        }
        elapsed += st.over;
        start = st.rate;
    }
    0.0
}

/// Arrivals the plan makes from the start up to `t`: the integral of [`rate_at`].
pub fn arrivals_until(stages: &[Stage], t: Duration) -> f64 {
    let t = t.as_secs_f64();
    let (mut start, mut elapsed, mut total) = (0.0, 0.0, 0.0);
    for st in stages {
        let over = st.over.as_secs_f64();
        if t < elapsed + over {
            let dt = t - elapsed;
            let rate_t = start + (st.rate - start) * dt / over.max(1e-9);
            return total + (start + rate_t) / 2.0 * dt;
        }
        total += (start + st.rate) / 2.0 * over;
        elapsed += over;
        start = st.rate;
    }
    total
}

/// Parse `Web*3,Android` into a list of platforms.
pub fn parse_instances(s: &str) -> Result<Vec<Platform>, KindError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, n) = match part.split_once('*') {
            Some((name, n)) => (
                name.trim(),
                n.trim()
                    .parse::<u64>()
                    .map_err(|_| KindError::Count(part.into()))?,
            ),
            None => (part, 1),
        };
        let p: Platform = name.parse()?;
        // Counted before anything is expanded: `Web*1000000000000` allocates nothing.
        let total = out.len() as u64 + n;
        if total > MAX_INSTANCES as u64 {
            return Err(KindError::TooManyInstances(total));
        }
        out.extend(std::iter::repeat_n(p, n as usize));
    }
    if out.is_empty() {
        return Err(KindError::NoInstances);
    }
    Ok(out)
}

#[cfg(test)]
mod alignment_tests {
    use super::*;

    #[test]
    fn alignments_read_and_print_back() {
        for text in ["barrier", "independent", "jitter:300ms", "stagger:200ms"] {
            let a: Alignment = text.parse().unwrap();
            assert_eq!(a.to_string(), text);
        }
        assert!(matches!(
            "stagger".parse::<Alignment>(),
            Err(KindError::Alignment(_))
        ));
        assert!("stagger:soon".parse::<Alignment>().is_err());
    }

    #[test]
    fn a_stagger_spreads_a_wave_over_a_step_per_login_after_the_first() {
        let step = Duration::from_millis(200);
        assert_eq!(Alignment::Stagger(step).window(3), 2 * step);
        assert_eq!(Alignment::Stagger(step).window(1), Duration::ZERO);
        assert_eq!(Alignment::Jitter(step).window(3), step);
        assert_eq!(Alignment::Barrier.window(3), Duration::ZERO);
    }
}
