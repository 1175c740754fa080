//! The open model's arrival schedule: when each account cycle is due, as offsets from the run's
//! start. The rate (`load.stages`) is piecewise linear, so the expected number of arrivals by
//! time t is piecewise quadratic; the k-th arrival is due at the exact instant that number
//! reaches k (no integration step, so arrivals are evenly spaced at any rate instead of bunched
//! per millisecond). A plain iterator, tested without clocks; the engine sleeps until each offset
//! on a precise timer and sends the arrival.

use std::time::Duration;

use crate::scenario::Stage;

pub struct Arrivals {
    stages: Vec<Stage>,
    /// The stage being served, its start offset and its starting rate.
    i: usize,
    stage_start: Duration,
    from: f64,
    /// The next arrival's number within the stage (1-based).
    k: u64,
    /// Arrivals owed from earlier stages (a fraction in [0, 1)).
    carry: f64,
}

impl Arrivals {
    pub fn new(stages: Vec<Stage>) -> Arrivals {
        Arrivals {
            stages,
            i: 0,
            stage_start: Duration::ZERO,
            from: 0.0,
            k: 1,
            carry: 0.0,
        }
    }
}

impl Iterator for Arrivals {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        loop {
            let st = self.stages.get(self.i)?;
            let (a, b, d) = (self.from, st.rate, st.over.as_secs_f64());
            let area = (a + b) / 2.0 * d;
            // Arrivals still to come in this stage before the next one is due.
            let m = self.k as f64 - self.carry;
            if d > 0.0 && m <= area + 1e-9 {
                // Solve a·τ + (b−a)/(2d)·τ² = m for τ in [0, d], in the form that is stable
                // for rising, falling and constant rates.
                let c2 = (b - a) / (2.0 * d);
                let disc = (a * a + 4.0 * c2 * m).max(0.0);
                let denom = a + disc.sqrt();
                let tau = if denom > 0.0 { 2.0 * m / denom } else { d };
                self.k += 1;
                return Some(self.stage_start + Duration::from_secs_f64(tau.clamp(0.0, d)));
            }
            self.carry = (self.carry + area - (self.k - 1) as f64).clamp(0.0, 1.0);
            self.stage_start += st.over;
            self.from = b;
            self.i += 1;
            self.k = 1;
        }
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
    fn arrivals_are_exact_not_bunched_per_millisecond() {
        // 4,000/s: one arrival every 250 µs, not four per millisecond.
        let a = arrivals("4000,1us;4000,100ms");
        let gaps: Vec<u128> = a.windows(2).map(|w| (w[1] - w[0]).as_micros()).collect();
        assert!(gaps.iter().all(|g| (249..=251).contains(g)), "{gaps:?}");
        assert!((399..=401).contains(&a.len()), "{}", a.len());
    }

    #[test]
    fn a_falling_rate_and_fractions_carry_across_stages() {
        // 100 → 0 over 1 s: area 50. Then 0.5 + 0.5 arrivals over two half-second stages at
        // 1/s: the fraction left in one stage carries into the next.
        let a = arrivals("100,1ms;100,0ms;0,1s");
        assert!((49..=51).contains(&a.len()), "{}", a.len());
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        let b = arrivals("1,1ms;1,500ms;1,500ms");
        assert_eq!(b.len(), 1, "{b:?}");
        assert!(b[0] > Duration::from_millis(900) && b[0] <= Duration::from_millis(1001));
    }

    #[test]
    fn no_rate_no_arrivals_and_none_after_the_stages() {
        assert!(arrivals("0,5s").is_empty());
        let a = arrivals("1000,100ms;0,100ms");
        assert!(a.iter().all(|t| *t <= Duration::from_millis(200)));
    }
}
