//! How sure is a quantile? A run's latencies come as one histogram per second (`latency.hlog`).
//! Stalls on a busy machine hit many operations of the same second at once, so samples are not
//! independent: the quantile's uncertainty is estimated by resampling whole seconds (a block
//! bootstrap). A metric measured within fewer seconds than that (a burst of connects at the
//! start) is one sample of the machine's mood, whatever its count: [`Estimate::judgeable`] is
//! false and `compare` shows it without judging it. For summaries without interval histograms
//! an order-statistic interval (which assumes independent samples) is used.

use hdrhistogram::Histogram;

/// At least this many one-second intervals with samples for a quantile to be judged.
pub const MIN_SECONDS: usize = 2;
/// Bootstrap resamples.
const RESAMPLES: usize = 500;
/// The interval kept: from this quantile of the resampled estimates to its complement (98 %).
const LEVEL: f64 = 0.01;
/// z for the same two-sided level, for the order-statistic interval.
const Z: f64 = 2.326;

/// A quantile with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
    /// Samples, and one-second intervals that had any.
    pub count: u64,
    pub seconds: usize,
}

impl Estimate {
    /// Whether the interval reflects the run's noise (enough seconds to resample).
    pub fn judgeable(&self) -> bool {
        self.seconds >= MIN_SECONDS
    }
}

/// The intervals of one metric as sparse counts over the run's distinct values.
pub struct Series {
    values: Vec<u64>,
    /// Per interval: (index into `values`, count).
    intervals: Vec<Vec<(usize, u64)>>,
    total: Vec<u64>,
}

impl Series {
    pub fn new(intervals: &[Histogram<u64>]) -> Series {
        let mut values: Vec<u64> = intervals
            .iter()
            .flat_map(|h| {
                h.iter_recorded()
                    .map(|v| h.highest_equivalent(v.value_iterated_to()))
            })
            .collect();
        values.sort_unstable();
        values.dedup();
        let index = |v: u64| values.binary_search(&v).unwrap_or_else(|i| i);
        let intervals: Vec<Vec<(usize, u64)>> = intervals
            .iter()
            .filter(|h| !h.is_empty())
            .map(|h| {
                h.iter_recorded()
                    .map(|v| {
                        (
                            index(h.highest_equivalent(v.value_iterated_to())),
                            v.count_at_value(),
                        )
                    })
                    .collect()
            })
            .collect();
        let mut total = vec![0; values.len()];
        for iv in &intervals {
            for &(i, c) in iv {
                total[i] += c;
            }
        }
        Series {
            values,
            intervals,
            total,
        }
    }

    /// The value at quantile `q` of counts over `self.values`.
    fn quantile(&self, counts: &[u64], q: f64) -> f64 {
        let n: u64 = counts.iter().sum();
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n.max(1));
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return self.values[i] as f64;
            }
        }
        self.values.last().copied().unwrap_or(0) as f64
    }

    /// Quantile `q` with its interval; `None` without samples.
    pub fn estimate(&self, q: f64) -> Option<Estimate> {
        let count: u64 = self.total.iter().sum();
        if count == 0 {
            return None;
        }
        let value = self.quantile(&self.total, q);
        let seconds = self.intervals.len();
        let (lo, hi) = if seconds >= MIN_SECONDS {
            self.bootstrap(q)
        } else {
            // Order statistics: the ranks within z standard errors of n·q.
            let n = count as f64;
            let half = Z * (n * q * (1.0 - q)).sqrt();
            (
                self.quantile(&self.total, ((n * q - half) / n).max(0.0)),
                self.quantile(&self.total, ((n * q + half) / n).min(1.0)),
            )
        };
        Some(Estimate {
            value,
            lo: lo.min(value),
            hi: hi.max(value),
            count,
            seconds,
        })
    }

    /// Resample whole seconds with replacement; the spread of the resampled quantiles.
    fn bootstrap(&self, q: f64) -> (f64, f64) {
        // A fixed seed: the same two reports always compare the same way.
        let mut rng = fastrand::Rng::with_seed(0x5eed ^ q.to_bits());
        let k = self.intervals.len();
        let mut counts = vec![0u64; self.values.len()];
        let mut estimates = Vec::with_capacity(RESAMPLES);
        for _ in 0..RESAMPLES {
            counts.iter_mut().for_each(|c| *c = 0);
            for _ in 0..k {
                for &(i, c) in &self.intervals[rng.usize(0..k)] {
                    counts[i] += c;
                }
            }
            estimates.push(self.quantile(&counts, q));
        }
        estimates.sort_by(f64::total_cmp);
        let at = |p: f64| estimates[((p * RESAMPLES as f64) as usize).min(RESAMPLES - 1)];
        (at(LEVEL), at(1.0 - LEVEL))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = crate::model::new_histogram();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn steady_seconds_give_a_tight_interval_and_stalls_a_wide_one() {
        let steady: Vec<_> = (0..10).map(|_| second(1000..2000)).collect();
        let e = Series::new(&steady).estimate(0.99).unwrap();
        assert_eq!(e.seconds, 10);
        assert!(e.hi / e.lo < 1.02, "{e:?}");
        // Two of ten seconds stalled: their whole tail moves, and the interval knows it.
        let mut stalled = steady.clone();
        stalled[3] = second((1000..2000).map(|v| v * 8));
        stalled[7] = second((1000..2000).map(|v| v * 8));
        let e = Series::new(&stalled).estimate(0.9).unwrap();
        assert!(e.hi / e.lo > 2.0, "{e:?}");
    }

    #[test]
    fn few_seconds_fall_back_to_order_statistics_and_are_not_judgeable() {
        let one = [second(1..=1000)];
        let e = Series::new(&one).estimate(0.5).unwrap();
        assert_eq!(e.seconds, 1);
        assert!(!e.judgeable());
        assert!(e.lo < 500.0 && e.hi > 500.0 && e.hi < 560.0, "{e:?}");
        assert!(Series::new(&[second([])]).estimate(0.5).is_none());
    }
}
