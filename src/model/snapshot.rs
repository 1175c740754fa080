//! The snapshot that carries what a run measured: one thread's interval, or (added up) a run's
//! totals. All histograms come from one template, so they can be added.

use hdrhistogram::Histogram;
use std::collections::BTreeMap;

use super::{Counter, Metric};
use crate::checks::Class;
use crate::policy::KickType;

/// Highest latency a histogram tracks (one hour, in µs); larger values saturate.
const MAX_MICROS: u64 = 3_600_000_000;

/// The one histogram shape every recorder and total uses.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("static histogram bounds")
}

/// A figure read from a file that would overflow when added up (its name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} overflows when added up")]
pub struct Overflow(pub String);

/// What one thread recorded in one interval.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub hist: Vec<Histogram<u64>>,
    pub counters: [u64; Counter::ALL.len()],
    /// Failed logins by error code.
    pub login_codes: BTreeMap<u32, u64>,
    /// Failed connects by reason (e.g. `tcp_AddrNotAvailable`, `upgrade_http_503`).
    pub connect_errors: BTreeMap<String, u64>,
    /// Change of the live-session gauge.
    pub live_delta: i64,
    /// Violations found, by class.
    pub violations: [u64; Class::COUNT],
    /// Times each invariant had the chance to fire, by class.
    pub judged: [u64; Class::COUNT],
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            hist: Metric::ALL.iter().map(|_| new_histogram()).collect(),
            counters: [0; Counter::ALL.len()],
            login_codes: BTreeMap::new(),
            connect_errors: BTreeMap::new(),
            live_delta: 0,
            violations: [0; Class::COUNT],
            judged: [0; Class::COUNT],
        }
    }
}

impl Snapshot {
    /// Empty again, keeping the histograms' memory (see `engine::metrics::take_into`).
    pub fn reset(&mut self) {
        for h in &mut self.hist {
            h.reset();
        }
        self.counters = [0; Counter::ALL.len()];
        self.login_codes.clear();
        self.connect_errors.clear();
        self.live_delta = 0;
        self.violations = [0; Class::COUNT];
        self.judged = [0; Class::COUNT];
    }

    pub fn add(&mut self, other: &Snapshot) {
        for (a, b) in self.hist.iter_mut().zip(&other.hist) {
            // Same template on both sides: adding cannot fail.
            let _ = a.add(b);
        }
        for (a, b) in self.counters.iter_mut().zip(other.counters) {
            *a += b;
        }
        for (c, n) in &other.login_codes {
            *self.login_codes.entry(*c).or_default() += n;
        }
        for (c, n) in &other.connect_errors {
            *self.connect_errors.entry(c.clone()).or_default() += n;
        }
        self.live_delta += other.live_delta;
        for (a, b) in self.violations.iter_mut().zip(other.violations) {
            *a += b;
        }
        for (a, b) in self.judged.iter_mut().zip(other.judged) {
            *a += b;
        }
    }

    /// [`Snapshot::add`] for figures read from files: refused, and `self` left unchanged,
    /// where a sum would overflow (crafted counters must not wrap to zero).
    pub fn checked_add(&mut self, other: &Snapshot) -> Result<(), Overflow> {
        let over = |what: &str| Err(Overflow(what.to_string()));
        for (m, (a, b)) in Metric::ALL.iter().zip(self.hist.iter().zip(&other.hist)) {
            if a.len().checked_add(b.len()).is_none() {
                return over(&format!("the {} histogram's count", m.name()));
            }
        }
        for (c, (a, b)) in Counter::ALL
            .iter()
            .zip(self.counters.iter().zip(other.counters))
        {
            if a.checked_add(b).is_none() {
                return over(c.name());
            }
        }
        for (code, n) in &other.login_codes {
            if self
                .login_codes
                .get(code)
                .unwrap_or(&0)
                .checked_add(*n)
                .is_none()
            {
                return over(&format!("login code {code}"));
            }
        }
        for (reason, n) in &other.connect_errors {
            if self
                .connect_errors
                .get(reason)
                .unwrap_or(&0)
                .checked_add(*n)
                .is_none()
            {
                return over(&format!("connect error {reason}"));
            }
        }
        if self.live_delta.checked_add(other.live_delta).is_none() {
            return over("the live-session gauge");
        }
        for (c, i) in Class::ALL.iter().map(|c| (c, c.index())) {
            if self.violations[i]
                .checked_add(other.violations[i])
                .is_none()
                || self.judged[i].checked_add(other.judged[i]).is_none()
            {
                return over(c.name());
            }
        }
        // Class totals are sums over classes: they must not overflow either.
        let sum = |v: &[u64; Class::COUNT], w: &[u64; Class::COUNT]| {
            v.iter()
                .zip(w)
                .try_fold(0u64, |acc, (a, b)| acc.checked_add(a + b))
        };
        if sum(&self.violations, &other.violations).is_none() {
            return over("the violations total");
        }
        self.add(other);
        Ok(())
    }

    pub fn violations(&self, c: Class) -> u64 {
        self.violations[c.index()]
    }

    pub fn judged(&self, c: Class) -> u64 {
        self.judged[c.index()]
    }

    /// Violations of the error classes (warning classes excluded).
    pub fn violations_total(&self) -> u64 {
        Class::ALL
            .iter()
            .filter(|c| !c.is_warning())
            .map(|c| self.violations(*c))
            .fold(0, u64::saturating_add)
    }

    /// Violations of the warning classes.
    pub fn warnings_total(&self) -> u64 {
        Class::ALL
            .iter()
            .filter(|c| c.is_warning())
            .map(|c| self.violations(*c))
            .fold(0, u64::saturating_add)
    }

    /// Errors of every kind, summed.
    pub fn errors_total(&self) -> u64 {
        [
            Counter::ConnectionsFailed,
            Counter::ConnectionsLost,
            Counter::LoginsFailed,
            Counter::LogoutsFailed,
            Counter::TimeoutsConnect,
            Counter::TimeoutsLogin,
            Counter::TimeoutsReady,
            Counter::TimeoutsLogout,
            Counter::MessagesFailed,
            Counter::ProtocolErrors,
            Counter::AdminKicksFailed,
        ]
        .iter()
        .map(|c| self.get(*c))
        .fold(0, u64::saturating_add)
    }

    /// `kickedOut` events of every type.
    pub fn kicks_total(&self) -> u64 {
        KickType::ALL
            .iter()
            .map(|k| self.get(Counter::kick(*k)))
            .fold(0, u64::saturating_add)
    }

    pub fn get(&self, c: Counter) -> u64 {
        self.counters[c as usize]
    }

    pub fn hist(&self, m: Metric) -> &Histogram<u64> {
        &self.hist[m as usize]
    }
}
