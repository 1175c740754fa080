//! What a person reads on stdout: the summary table, the thresholds table, the verdict.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::checks::Class;
use crate::model::Outcome;
use crate::model::{Counter, Generator, Metric, Snapshot};

fn fmt_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.2}ms", us as f64 / 1e3)
    } else {
        format!("{:.2}s", us as f64 / 1e6)
    }
}

/// The human summary printed at the end of a run.
/// The open model's offered load: account arrivals per second, each a cycle of every instance
/// of the account.
#[derive(Debug, Clone, Copy)]
pub struct Offered {
    pub arrivals_per_s: f64,
    pub instances_per_account: usize,
}

pub fn render_summary<W: Write>(
    out: &mut W,
    outcome: Outcome,
    s: &Snapshot,
    elapsed: Duration,
    gen: &Generator,
    dir: &Path,
    offered: Option<Offered>,
) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "run {} after {:.1}s",
        outcome.name().replace('_', " "),
        elapsed.as_secs_f64()
    )?;
    writeln!(
        out,
        "{:<18}{:>9}{:>11}{:>11}{:>11}{:>11}{:>11}",
        "latency", "count", "p50", "p90", "p99", "p99.9", "max"
    )?;
    for m in Metric::ALL {
        let h = s.hist(m);
        // `login_service` / `ready_service` differ from `login` / `ready` only by how late
        // cycles began (the open model); where they are the same histogram, one row says it.
        let base = match m {
            Metric::LoginService => Some(Metric::Login),
            Metric::ReadyService => Some(Metric::Ready),
            _ => None,
        };
        if base.is_some_and(|b| s.hist(b) == h) {
            continue;
        }
        if h.is_empty() {
            writeln!(out, "{:<18}{:>9}", m.name(), 0)?;
            continue;
        }
        writeln!(
            out,
            "{:<18}{:>9}{:>11}{:>11}{:>11}{:>11}{:>11}",
            m.name(),
            h.len(),
            fmt_us(h.value_at_quantile(0.5)),
            fmt_us(h.value_at_quantile(0.9)),
            fmt_us(h.value_at_quantile(0.99)),
            fmt_us(h.value_at_quantile(0.999)),
            fmt_us(h.max()),
        )?;
    }
    let g = |c: Counter| s.get(c);
    writeln!(
        out,
        "connections  opened {}  failed {}  lost {}",
        g(Counter::ConnectionsOpened),
        g(Counter::ConnectionsFailed),
        g(Counter::ConnectionsLost)
    )?;
    if crate::model::had_reconnects(s) {
        render_reconnects(out, s)?;
    }
    let codes: Vec<String> = s
        .login_codes
        .iter()
        .map(|(c, n)| format!("{c}×{n}"))
        .collect();
    writeln!(
        out,
        "logins       ok {}  failed {}{}  repeat {}  ready {}  logouts {}  cycles {}",
        g(Counter::LoginsOk),
        g(Counter::LoginsFailed),
        if codes.is_empty() {
            String::new()
        } else {
            format!(" ({})", codes.join(", "))
        },
        g(Counter::RepeatLogins),
        g(Counter::Readies),
        g(Counter::Logouts),
        g(Counter::CyclesCompleted)
    )?;
    let [logins_per_s, cycles_per_s] = gen.rates();
    writeln!(
        out,
        "throughput   logins/s {logins_per_s:.1}  cycles/s {cycles_per_s:.1} over the {:.1}s load{}",
        gen.window.as_secs_f64(),
        offered.map_or(String::new(), |o| format!(
            "  (offered: {:.1} arrivals/s × {} instance{} = {:.1} cycles/s; arrivals dropped {}, unsent {})",
            o.arrivals_per_s,
            o.instances_per_account,
            if o.instances_per_account == 1 {
                ""
            } else {
                "s"
            },
            o.arrivals_per_s * o.instances_per_account as f64,
            g(Counter::ArrivalsDropped),
            g(Counter::ArrivalsUnsent)
        ))
    )?;
    // Only aligned waves make a prediction; otherwise "expected 0" would read as a promise.
    let expected = if s.judged(Class::KickCount) == 0 && g(Counter::ExpectedKicksMax) == 0 {
        "n/a: no aligned waves to predict from".to_string()
    } else if g(Counter::ExpectedKicks) == g(Counter::ExpectedKicksMax) {
        g(Counter::ExpectedKicks).to_string()
    } else {
        format!(
            "{}..{}",
            g(Counter::ExpectedKicks),
            g(Counter::ExpectedKicksMax)
        )
    };
    writeln!(
        out,
        "kicks        multipleAccount {}  multipleDevice {}  userSigExpired {}  REST_API_Kick {}  (expected from policy: {})",
        g(Counter::KicksMultipleAccount),
        g(Counter::KicksMultipleDevice),
        g(Counter::KicksUserSigExpired),
        g(Counter::KicksRestApi),
        expected
    )?;
    writeln!(
        out,
        "timeouts     connect {}  login {}  ready {}  logout {}",
        g(Counter::TimeoutsConnect),
        g(Counter::TimeoutsLogin),
        g(Counter::TimeoutsReady),
        g(Counter::TimeoutsLogout)
    )?;
    writeln!(
        out,
        "messages     sent {}  ok {}  failed {}  refused after a kick {}  received {}   protocol errors {}   errors total {}",
        g(Counter::MessagesSent),
        g(Counter::MessagesOk),
        g(Counter::MessagesFailed),
        g(Counter::MessagesRefused),
        g(Counter::MessagesReceived),
        g(Counter::ProtocolErrors),
        s.errors_total()
    )?;
    let classes: Vec<String> = crate::checks::Class::ALL
        .iter()
        .filter(|c| s.violations(**c) > 0)
        .map(|c| format!("{} {}", c.name(), s.violations(*c)))
        .collect();
    writeln!(
        out,
        "checks       probes {}  violations {}  warnings {}{}",
        g(Counter::ProbesSent),
        s.violations_total(),
        s.warnings_total(),
        if classes.is_empty() {
            String::new()
        } else {
            format!("  ({})", classes.join(", "))
        }
    )?;
    let judged: Vec<String> = Class::ALL
        .iter()
        .map(|c| match s.judged(*c) {
            0 => format!("{} not judged", c.name()),
            n => format!("{} {n}", c.name()),
        })
        .collect();
    writeln!(out, "judged       {}", judged.join("  "))?;
    writeln!(out, "reports      {}", dir.display())?;
    Ok(())
}

/// Write `thresholds.csv` and print the result table.
/// thresholds.csv: each threshold, its actual value, and whether it passed.
pub fn write_thresholds(dir: &Path, results: &[crate::thresholds::Judged]) -> anyhow::Result<()> {
    let mut f = csv::Writer::from_writer(Vec::new());
    f.write_record(["threshold", "actual", "passed"])?;
    for r in results {
        f.write_record([
            r.threshold.text.clone(),
            r.actual.map(|a| a.to_string()).unwrap_or_default(),
            r.passed.to_string(),
        ])?;
    }
    super::write_atomic(&dir.join("thresholds.csv"), &f.into_inner()?)
}

/// The thresholds' table on stdout.
pub fn render_thresholds<W: Write>(
    out: &mut W,
    results: &[crate::thresholds::Judged],
) -> std::io::Result<()> {
    if !results.is_empty() {
        writeln!(out, "{:<40}{:>14}  result", "threshold", "actual")?;
    }
    for r in results {
        let actual = r
            .actual
            .map(|a| r.threshold.show(a))
            .unwrap_or_else(|| "no data".into());
        writeln!(
            out,
            "{:<40}{:>14}  {}",
            r.threshold.text,
            actual,
            if r.passed { "pass" } else { "FAIL" }
        )?;
    }
    Ok(())
}

/// The last line of a run: PASS, FAIL or INCOMPLETE, and why.
pub fn render_verdict<W: Write>(
    out: &mut W,
    v: &crate::verdict::Verdict,
    s: &Snapshot,
) -> std::io::Result<()> {
    let why = if v.reasons.is_empty() {
        format!(
            "no violations{}",
            if s.warnings_total() > 0 {
                format!(" ({} warnings, violations.csv)", s.warnings_total())
            } else {
                String::new()
            }
        )
    } else {
        v.reasons
            .iter()
            .map(|(_, r)| r.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    writeln!(out, "verdict: {} — {why}", v.status.name())?;
    for c in &v.cautions {
        writeln!(out, "caution: {c}")?;
    }
    Ok(())
}

/// What the load cost the generator, and how late it was.
/// `after_load`: the process's CPU after the load window (wind-down and reports), when known.
pub fn render_generator<W: Write>(
    out: &mut W,
    g: &crate::model::Generator,
    s: &Snapshot,
    embedded: bool,
    after_load: Option<std::time::Duration>,
) -> std::io::Result<()> {
    let lag = s.hist(Metric::ScheduleLag);
    let lag = if lag.is_empty() {
        "no paced starts".to_string()
    } else {
        format!(
            "schedule_lag p50 {} p99 {}",
            fmt_us(lag.value_at_quantile(0.5)),
            fmt_us(lag.value_at_quantile(0.99))
        )
    };
    let per_cycle = g
        .cpu_us_per_cycle()
        .map(|us| format!(", {}", fmt_us(us.round() as u64) + " CPU per cycle"))
        .unwrap_or_default();
    let outside = after_load
        .map(|after| {
            format!(
                "; CPU before the load {}, after it (wind-down, reports) {}",
                fmt_us(g.startup_cpu.as_micros() as u64),
                fmt_us(after.as_micros() as u64)
            )
        })
        .unwrap_or_default();
    writeln!(
        out,
        "generator: {:.2} cores busy over the load{per_cycle}{}; {lag}{outside}",
        g.busy_cores(),
        if embedded {
            " (with the embedded server)"
        } else {
            ""
        }
    )
}

/// The reconnects line: what disruptions took down, how the instances came back, and how long
/// it took (the recovery time at each of [`crate::model::RECOVERY_SHARES`]).
fn render_reconnects<W: Write>(out: &mut W, s: &Snapshot) -> std::io::Result<()> {
    let g = |c: Counter| s.get(c);
    let recovery: Vec<String> = crate::model::RECOVERY_SHARES
        .iter()
        .map(|p| {
            let t = match crate::model::recovery_time(s, *p) {
                Some(t) => crate::units::format_duration(t),
                None if g(Counter::SessionsDisrupted) == 0 => "n/a".into(),
                None => "never".into(),
            };
            format!("p{} {t}", p * 100.0)
        })
        .collect();
    writeln!(
        out,
        "reconnects   lost in disruptions {}  connects refused while down {}  attempts {}  back {}  given up {}  unfinished {}  recovery {} of {} sessions disrupted",
        g(Counter::ConnectionsLostPlanned),
        g(Counter::ConnectionsFailedPlanned),
        g(Counter::ReconnectAttempts),
        g(Counter::Reconnects),
        g(Counter::ReconnectsGivenUp),
        g(Counter::ReconnectsUnfinished),
        recovery.join(" "),
        g(Counter::SessionsDisrupted),
    )
}
