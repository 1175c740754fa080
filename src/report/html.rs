//! `report.html`: one self-contained page per run — no script, no network, no external font —
//! readable at 1280 px and printable. The charts are SVG drawn by `plotters` (its SVG backend
//! only: a well-kept crate, no JavaScript to vendor, and an SVG prints and scales as the page
//! does; the page stays a few hundred kilobytes). Everything on it comes from the run model:
//! the per-second series the report writer kept, the totals, the accounts' violations, the
//! thresholds and the verdict.

use super::charts::{latency_over_time, line_chart, percentile_chart, pts, Series};
use std::fmt::Write as _;

use crate::checks::Class;
use crate::model::{Counter, Metric, Snapshot};
use crate::verdict::Verdict;

/// One interval of the run, as the charts need it (kept by the report writer, one per second).
/// Intervals shorter than this many seconds have no rate in the charts.
const MIN_RATED_SPAN: f64 = 0.5;

#[derive(Debug, Clone, Default)]
pub struct Point {
    /// Seconds since the start, at the end of the interval.
    pub t: f64,
    pub offered_per_s: Option<f64>,
    /// None for an interval too short to be a rate (the run's last, partial one).
    pub cycles_per_s: Option<f64>,
    pub logins_per_s: Option<f64>,
    pub live: i64,
    /// p50, p99, max in µs of login, ready, kick propagation (None: no sample).
    pub login: Option<[u64; 3]>,
    pub ready: Option<[u64; 3]>,
    pub kick: Option<[u64; 3]>,
    /// Kicks received in the interval, by type (KickType::ALL order).
    pub kicks: [u64; 4],
    pub violations: u64,
    pub errors: u64,
    /// Reconnect attempts, instances ready again, and losses in disruptions, in the interval.
    pub reconnecting: [u64; 3],
}

impl Point {
    pub fn from_interval(
        t: f64,
        span: f64,
        live: i64,
        i: &Snapshot,
        offered: Option<f64>,
    ) -> Point {
        // A rate over a sliver of a second (the wind-down's last interval, 0.07 s) would plot
        // a few events as a spike of thousands a second: such an interval has no rate.
        let rated = span >= MIN_RATED_SPAN;
        let span = span.max(1e-3);
        let q = |m: Metric| {
            let h = i.hist(m);
            (!h.is_empty()).then(|| [h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max()])
        };
        Point {
            t,
            offered_per_s: offered,
            cycles_per_s: rated.then(|| i.get(Counter::CyclesCompleted) as f64 / span),
            logins_per_s: rated.then(|| i.get(Counter::LoginsOk) as f64 / span),
            live,
            login: q(Metric::Login),
            ready: q(Metric::Ready),
            kick: q(Metric::KickPropagation),
            kicks: [
                i.get(Counter::KicksMultipleAccount),
                i.get(Counter::KicksMultipleDevice),
                i.get(Counter::KicksUserSigExpired),
                i.get(Counter::KicksRestApi),
            ],
            violations: i.violations_total() + i.warnings_total(),
            errors: i.errors_total(),
            reconnecting: [
                i.get(Counter::ReconnectAttempts),
                i.get(Counter::Reconnects),
                i.get(Counter::ConnectionsLostPlanned),
            ],
        }
    }
}

/// What the page shows besides the series.
pub struct Page<'a> {
    pub scenario: &'a str,
    pub description: &'a str,
    pub target: &'a str,
    pub embedded: bool,
    pub seed: u64,
    /// The `--set` overrides (redacted), shown in the header.
    pub overrides: &'a [String],
    pub started: &'a str,
    pub elapsed_secs: f64,
    pub outcome: &'a str,
    pub verdict: &'a Verdict,
    pub totals: &'a Snapshot,
    pub series: &'a [Point],
    pub accounts: &'a [crate::model::AccountReport],
    pub thresholds: &'a [crate::thresholds::Judged],
}

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1200px;margin:20px auto;padding:0 10px;color:#222}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.verdict{font-size:20px;font-weight:700;padding:8px 12px;border-radius:4px;display:inline-block;margin:8px 0}
.PASS{background:#e3f5e1;color:#1b6e1b}.FAIL{background:#fde2e1;color:#a01a1a}.INCOMPLETE{background:#fff3d6;color:#8a5a00}
table{border-collapse:collapse;margin:6px 0 12px;font-size:14px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}figure{margin:8px 0}svg{max-width:100%;height:auto}
.empty{color:#777;font-style:italic}td.l,th.l{text-align:left}.meta{color:#555;font-size:14px}ul{margin:4px 0}
@media print{body{max-width:none;margin:0}h2{break-after:avoid}figure,table{break-inside:avoid}}
.legend{display:flex;gap:18px;justify-content:center;font-size:13px;margin:2px 0 10px}.legend i{display:inline-block;width:14px;height:4px;margin-right:6px;vertical-align:middle}";

/// The whole page.
pub fn render(p: &Page) -> String {
    let mut h = String::with_capacity(256 << 10);
    let s = p.series;
    let x_max = s.last().map_or(1.0, |q| q.t);
    let t = p.totals;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>loginstorm — {}</title><style>{STYLE}</style></head><body>",
        esc(p.scenario)
    );
    let _ = write!(
        h,
        "<h1>loginstorm run: {}</h1><p class=\"meta\">{}</p>\
         <p class=\"meta\">target <code>{}</code>{} · seed {} · started {} · {:.1} s · outcome {}</p>",
        esc(p.scenario),
        esc(p.description),
        esc(p.target),
        if p.embedded { " (embedded reference server)" } else { "" },
        p.seed,
        esc(p.started),
        p.elapsed_secs,
        esc(p.outcome)
    );
    if !p.overrides.is_empty() {
        let _ = write!(h, "<p class=\"meta\">overrides");
        for o in super::redacted_overrides(p.overrides) {
            let _ = write!(h, " <code>--set {}</code>", esc(&o));
        }
        h.push_str("</p>");
    }
    let status = p.verdict.status.name();
    let _ = write!(h, "<div class=\"verdict {status}\">verdict: {status}</div>");
    if !p.verdict.reasons.is_empty() || !p.verdict.cautions.is_empty() {
        h.push_str("<ul>");
        for (_, r) in &p.verdict.reasons {
            let _ = write!(h, "<li>{}</li>", esc(r));
        }
        for c in &p.verdict.cautions {
            let _ = write!(h, "<li>caution: {}</li>", esc(c));
        }
        h.push_str("</ul>");
    }

    h.push_str("<h2>Throughput</h2>");
    let mut rate_series: Vec<Series> = Vec::new();
    if s.iter().any(|q| q.offered_per_s.is_some()) {
        // An arrival is one account's: each starts a cycle of every instance of the account.
        rate_series.push((
            "offered account arrivals/s".into(),
            pts(s, |q| q.offered_per_s),
        ));
    }
    rate_series.push(("instance cycles/s".into(), pts(s, |q| q.cycles_per_s)));
    rate_series.push(("logins OK/s".into(), pts(s, |q| q.logins_per_s)));
    h.push_str(&line_chart(
        "Offered and achieved rates",
        "per second",
        &rate_series,
        x_max,
        false,
    ));
    h.push_str(&line_chart(
        "Live sessions (ready instances)",
        "sessions",
        &[("live".into(), pts(s, |q| Some(q.live.max(0) as f64)))],
        x_max,
        false,
    ));

    if crate::model::had_reconnects(t) {
        super::html_reconnects::section(&mut h, t, s, x_max);
    }

    h.push_str("<h2>Latency over time</h2>");
    h.push_str(&latency_over_time(s, "login", |q| q.login));
    h.push_str(&latency_over_time(s, "ready", |q| q.ready));
    h.push_str(&latency_over_time(s, "kick propagation", |q| q.kick));

    h.push_str("<h2>Latency distribution</h2>");
    h.push_str(&percentile_chart(t));
    h.push_str("<table><tr><th>metric</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>");
    for m in Metric::ALL {
        let hist = t.hist(m);
        if hist.is_empty() {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>0</td><td colspan=5></td></tr>",
                m.name()
            );
            continue;
        }
        let ms = |v: u64| format!("{:.2} ms", v as f64 / 1e3);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            m.name(),
            hist.len(),
            ms(hist.value_at_quantile(0.5)),
            ms(hist.value_at_quantile(0.9)),
            ms(hist.value_at_quantile(0.99)),
            ms(hist.value_at_quantile(0.999)),
            ms(hist.max())
        );
    }
    h.push_str("</table>");

    h.push_str("<h2>Kicks</h2>");
    let kick_series: Vec<Series> = crate::policy::KickType::ALL
        .iter()
        .enumerate()
        .map(|(i, k)| (k.name().to_string(), pts(s, |q| Some(q.kicks[i] as f64))))
        .collect();
    h.push_str(&line_chart(
        "Kicks received per second, by type",
        "kicks",
        &kick_series,
        x_max,
        false,
    ));
    let (lo, hi) = (
        t.get(Counter::ExpectedKicks),
        t.get(Counter::ExpectedKicksMax),
    );
    let predicted = t.judged(Class::KickCount) > 0 || hi > 0;
    let _ = write!(
        h,
        "<table><tr><th>kick type</th><th>observed</th></tr>\
         <tr><td>multipleAccount</td><td>{}</td></tr><tr><td>multipleDevice</td><td>{}</td></tr>\
         <tr><td>userSigExpired</td><td>{}</td></tr><tr><td>REST_API_Kick</td><td>{}</td></tr>\
         <tr><th>all</th><th>{}</th></tr><tr><td>expected from the policy (login kicks)</td><td>{}</td></tr></table>",
        t.get(Counter::KicksMultipleAccount),
        t.get(Counter::KicksMultipleDevice),
        t.get(Counter::KicksUserSigExpired),
        t.get(Counter::KicksRestApi),
        t.kicks_total(),
        if !predicted {
            "n/a (no aligned waves to predict from)".to_string()
        } else if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}..{hi}")
        }
    );

    h.push_str("<h2>Checks and violations</h2>");
    h.push_str(&line_chart(
        "Violations and warnings per second, when judged (a wave is judged after its kicks settle)",
        "found",
        &[(
            "violations + warnings".into(),
            pts(s, |q| (q.violations > 0).then_some(q.violations as f64)),
        )],
        x_max,
        true,
    ));
    h.push_str("<table><tr><th>check</th><th>judged</th><th>violations</th></tr>");
    for c in Class::ALL {
        let _ = write!(
            h,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td></tr>",
            c.name(),
            if c.is_warning() { " (warning)" } else { "" },
            match t.judged(c) {
                0 => "not judged".to_string(),
                n => n.to_string(),
            },
            t.violations(c)
        );
    }
    h.push_str("</table>");
    super::html_violations::list(&mut h, p);

    h.push_str("<h2>Thresholds</h2>");
    if p.thresholds.is_empty() {
        h.push_str("<p class=\"empty\">No thresholds were set.</p>");
    } else {
        h.push_str("<table><tr><th>threshold</th><th>actual</th><th>result</th></tr>");
        for r in p.thresholds {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&r.threshold.text),
                r.actual.map_or("no data".into(), |a| r.threshold.show(a)),
                if r.passed { "pass" } else { "<b>FAIL</b>" }
            );
        }
        h.push_str("</table>");
    }

    h.push_str("<h2>Errors and timeouts</h2>");
    h.push_str(&line_chart(
        "Errors per second",
        "errors",
        &[("errors".into(), pts(s, |q| Some(q.errors as f64)))],
        x_max,
        false,
    ));
    h.push_str("<table><tr><th>reason</th><th>count</th></tr>");
    let mut rows: Vec<(String, u64)> = vec![
        (
            "connections failed".into(),
            t.get(Counter::ConnectionsFailed),
        ),
        ("connections lost".into(), t.get(Counter::ConnectionsLost)),
        ("logins failed".into(), t.get(Counter::LoginsFailed)),
        ("timeouts: connect".into(), t.get(Counter::TimeoutsConnect)),
        ("timeouts: login".into(), t.get(Counter::TimeoutsLogin)),
        ("timeouts: ready".into(), t.get(Counter::TimeoutsReady)),
        ("timeouts: logout".into(), t.get(Counter::TimeoutsLogout)),
        ("protocol errors".into(), t.get(Counter::ProtocolErrors)),
        ("messages failed".into(), t.get(Counter::MessagesFailed)),
    ];
    rows.extend(
        t.login_codes
            .iter()
            .map(|(c, n)| (format!("login refused with code {c}"), *n)),
    );
    rows.extend(
        t.connect_errors
            .iter()
            .map(|(r, n)| (format!("connect failed: {r}"), *n)),
    );
    for (k, v) in rows {
        let _ = write!(h, "<tr><td>{}</td><td>{v}</td></tr>", esc(&k));
    }
    h.push_str("</table>");
    let _ = writeln!(
        h,
        "<p class=\"meta\">loginstorm {} · every figure is also in the CSV files and <code>summary.json</code> beside this page (docs/reports.md).</p></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    h
}

#[cfg(test)]
mod rate_tests {
    use super::*;

    #[test]
    fn a_sliver_of_an_interval_has_no_rate() {
        let mut s = Snapshot::default();
        s.counters[Counter::CyclesCompleted as usize] = 116;
        let last = Point::from_interval(10.07, 0.069, 0, &s, None);
        assert_eq!(
            last.cycles_per_s, None,
            "116 cycles in 0.069 s is not 1,681/s"
        );
        let full = Point::from_interval(10.0, 1.0, 0, &s, None);
        assert_eq!(full.cycles_per_s, Some(116.0));
    }
}
