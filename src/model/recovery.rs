//! The recovery time of a run's disruptions: by when a share of the ready sessions they took
//! down were ready again (docs/reports.md, "Reconnects and recovery").

use std::time::Duration;

use super::{Counter, Metric, Snapshot};

/// The shares the reports give the recovery time at.
pub const RECOVERY_SHARES: [f64; 2] = [0.5, 0.99];

/// How long after its disruption began `share` of the ready sessions disruptions took down
/// (`sessions_disrupted`) were ready again; `None` when there were none, or fewer came back.
/// Each session that came back recorded its own time in the `recovery` histogram; those that
/// never did count as never, so the quantile is taken over all the disrupted, not only over
/// those that returned.
pub fn recovery_time(s: &Snapshot, share: f64) -> Option<Duration> {
    let disrupted = s.get(Counter::SessionsDisrupted);
    let h = s.hist(Metric::Recovery);
    if disrupted == 0 {
        return None;
    }
    let needed = ((share * disrupted as f64).ceil() as u64).max(1);
    if h.len() < needed {
        return None;
    }
    let q = needed as f64 / h.len() as f64;
    Some(Duration::from_micros(h.value_at_quantile(q.min(1.0))))
}

/// Whether the run had anything to do with reconnects (a line of its own in the summary).
pub fn had_reconnects(s: &Snapshot) -> bool {
    [
        Counter::ConnectionsLostPlanned,
        Counter::ConnectionsFailedPlanned,
        Counter::ReconnectAttempts,
        Counter::SessionsDisrupted,
    ]
    .iter()
    .any(|c| s.get(*c) > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(disrupted: u64, back_ms: &[u64]) -> Snapshot {
        let mut s = Snapshot::default();
        s.counters[Counter::SessionsDisrupted as usize] = disrupted;
        for ms in back_ms {
            s.hist[Metric::Recovery as usize].record(ms * 1000).unwrap();
        }
        s
    }

    #[test]
    fn the_share_is_of_all_the_disrupted_not_of_those_back() {
        let s = run(4, &[100, 200, 300]);
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis());
        // Half of four is two: the second to come back.
        assert_eq!(ms(recovery_time(&s, 0.5)), Some(200));
        assert_eq!(ms(recovery_time(&s, 0.75)), Some(300));
        // The fourth never came back: 99 % was never reached.
        assert_eq!(recovery_time(&s, 0.99), None);
        let all = run(4, &[100, 200, 300, 400]);
        assert_eq!(ms(recovery_time(&all, 0.99)), Some(400));
        assert_eq!(recovery_time(&run(0, &[]), 0.5), None);
    }
}
