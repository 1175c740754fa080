//! The open model's arrival schedule: when each account cycle is due, as offsets from the run's
//! start. The rate (`load.stages`) is integrated in 1 ms steps; each whole arrival is due at the
//! step that completes it. A plain iterator, tested without clocks; the engine sleeps until each
//! offset and sends the arrival.

use std::time::Duration;

use crate::scenario::{rate_at, Stage};

/// Integration step.
const DT: Duration = Duration::from_millis(1);

pub struct Arrivals {
    stages: Vec<Stage>,
    total: Duration,
    t: Duration,
    due: f64,
}

impl Arrivals {
    pub fn new(stages: Vec<Stage>) -> Arrivals {
        Arrivals {
            total: stages.iter().map(|s| s.over).sum(),
            stages,
            t: Duration::ZERO,
            due: 0.0,
        }
    }
}

impl Iterator for Arrivals {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        while self.due < 1.0 {
            if self.t >= self.total {
                return None;
            }
            self.due += rate_at(&self.stages, self.t) * DT.as_secs_f64();
            self.t += DT;
        }
        self.due -= 1.0;
        Some(self.t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_stages;

    fn arrivals(stages: &str) -> Vec<Duration> {
        Arrivals::new(parse_stages(stages).unwrap()).collect()
    }

    #[test]
    fn a_steady_rate_gives_evenly_spaced_arrivals() {
        // Ramp to 100/s in 1 ms, then hold 100/s for 1 s: about 100 arrivals, 10 ms apart.
        let a = arrivals("100,1ms;100,1s");
        assert!((99..=101).contains(&a.len()), "{}", a.len());
        let gaps: Vec<u128> = a.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
        assert!(gaps.iter().all(|g| (9..=11).contains(g)), "{gaps:?}");
    }

    #[test]
    fn a_ramp_integrates_its_rate_and_speeds_up() {
        // 0 → 100/s over 2 s: the area is 100 arrivals, denser at the end.
        let a = arrivals("100,2s");
        assert!((99..=100).contains(&a.len()), "{}", a.len());
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        let first_half = a.iter().filter(|t| **t < Duration::from_secs(1)).count();
        assert!(first_half < a.len() / 3, "{first_half} of {}", a.len());
    }

    #[test]
    fn no_rate_no_arrivals_and_none_after_the_stages() {
        assert!(arrivals("0,5s").is_empty());
        let a = arrivals("1000,100ms;0,100ms");
        assert!(a.iter().all(|t| *t <= Duration::from_millis(200)));
    }
}
