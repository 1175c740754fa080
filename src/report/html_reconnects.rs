//! report.html's reconnects section, for a run with disruptions or reconnecting instances:
//! the reconnect rate over time and the recovery time (docs/reports.md).

use std::fmt::Write as _;

use super::charts::{line_chart, pts, Series};
use super::html::Point;
use crate::model::{recovery_time, Counter, Snapshot, RECOVERY_SHARES};

pub(super) fn section(h: &mut String, t: &Snapshot, s: &[Point], x_max: f64) {
    h.push_str("<h2>Reconnects and recovery</h2>");
    let names = [
        "reconnect attempts/s",
        "ready again/s",
        "connections lost in disruptions/s",
    ];
    let series: Vec<Series> = names
        .iter()
        .enumerate()
        .map(|(i, n)| ((*n).to_string(), pts(s, |q| Some(q.reconnecting[i] as f64))))
        .collect();
    h.push_str(&line_chart(
        "Reconnect rate over time",
        "per second",
        &series,
        x_max,
        false,
    ));
    h.push_str("<table><tr><th>figure</th><th>value</th></tr>");
    let rows = [
        (
            "sessions disrupted (ready when a disruption took them down)",
            Counter::SessionsDisrupted,
        ),
        (
            "connections lost in disruptions",
            Counter::ConnectionsLostPlanned,
        ),
        (
            "connects refused while down",
            Counter::ConnectionsFailedPlanned,
        ),
        ("reconnect attempts", Counter::ReconnectAttempts),
        ("ready again", Counter::Reconnects),
        (
            "given up (re-login refused or unanswered)",
            Counter::ReconnectsGivenUp,
        ),
        (
            "still reconnecting at the end",
            Counter::ReconnectsUnfinished,
        ),
    ];
    for (name, c) in rows {
        let _ = write!(h, "<tr><td>{name}</td><td>{}</td></tr>", t.get(c));
    }
    for p in RECOVERY_SHARES {
        let _ = write!(
            h,
            "<tr><td>recovery time p{} (the disruption's start → {}% of its sessions ready again)</td><td>{}</td></tr>",
            p * 100.0,
            p * 100.0,
            recovery_time(t, p).map_or("never reached".into(), crate::units::format_duration)
        );
    }
    h.push_str("</table>");
}
