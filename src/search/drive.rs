//! Driving a capacity search: each step is one ordinary run of the scenario at a fixed
//! open-model rate (its reports under `steps/`), judged with the SLOs as thresholds; the
//! figures of every step go to `search.csv` as soon as the step ends.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{knee, knee_metric, ran_out_first, Search, Step, Strategy};
use crate::model::{Counter, Metric, Outcome};
use crate::thresholds::Threshold;
use crate::units::format_duration;
use crate::verdict::Status;

/// What `loginstorm search` was asked.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    pub scenario: PathBuf,
    /// The scenario's overrides; each step adds its own `--set`s to them.
    pub overrides: crate::scenario::Overrides,
    pub slos: Vec<Threshold>,
    pub strategy: Strategy,
    /// Each step ramps to its rate over `ramp`, then holds it for `hold`.
    pub ramp: Duration,
    pub hold: Duration,
    pub out_dir: PathBuf,
}

/// The columns of search.csv (docs/reports.md).
pub const SEARCH_COLUMNS: [&str; 17] = [
    "step",
    "rate",
    "achieved_rate",
    "passed",
    "login_p50_us",
    "login_p99_us",
    "ready_p50_us",
    "ready_p99_us",
    "knee_metric_p99_us",
    "error_rate",
    "arrivals_dropped",
    "schedule_lag_p99_us",
    "generator_busy_cores",
    "generator_limited",
    "slos_failed",
    "reasons",
    "report_dir",
];

/// The search's result: the highest passing rate (None when even the lowest failed), and
/// where its report directory is.
pub struct Searched {
    pub best: Option<f64>,
    pub dir: PathBuf,
    pub interrupted: bool,
}

/// Run a capacity search; a summary goes to `out`.
pub fn search<W: Write>(o: &SearchOptions, out: &mut W) -> anyhow::Result<Searched> {
    if o.slos.is_empty() {
        anyhow::bail!("search needs at least one --slo, e.g. --slo \"login.p99 < 50ms\"");
    }
    // Resolve once up front so a bad scenario or override is reported before any step.
    let probe = crate::scenario::load(&o.scenario, &step_sets(o, o.strategy.start))?;
    let name = probe.scenario.name.clone();
    let step_cost =
        o.ramp + o.hold + probe.scenario.timeouts.graceful_stop.0 + Duration::from_secs(3);
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let dir = o.out_dir.join(format!(
        "{stamp}-search-{}",
        crate::report::safe_name(&name)
    ));
    let steps_dir = dir.join("steps");
    std::fs::create_dir_all(&steps_dir)?;
    let metric = knee_metric(&o.slos);
    let slo_text: Vec<&str> = o.slos.iter().map(|t| t.text.as_str()).collect();
    writeln!(
        out,
        "search {name}: SLOs {}; from {}/s, ×{} until one breaks, then bisect to {}%; at most {} steps of about {} each (≤ {})",
        slo_text.join(", "),
        o.strategy.start,
        o.strategy.factor,
        o.strategy.precision * 100.0,
        o.strategy.max_steps,
        format_duration(step_cost),
        format_duration(step_cost * o.strategy.max_steps as u32),
    )?;
    let mut search = Search::new(o.strategy);
    let mut steps: Vec<Step> = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut interrupted = false;
    while let Some(rate) = search.next_rate() {
        let resolved = crate::scenario::load(&o.scenario, &step_sets(o, rate))?;
        let embedded = resolved.scenario.target.url.is_empty();
        let finished = crate::run::execute(
            resolved,
            crate::run::Options {
                out_dir: steps_dir.clone(),
                quiet: true,
                thresholds: o.slos.clone(),
                ..Default::default()
            },
            &mut std::io::sink(),
        )?;
        if finished.outcome == Outcome::Interrupted {
            interrupted = true;
            writeln!(out, "interrupted at {rate}/s: the search stops")?;
            break;
        }
        let t = &finished.totals;
        let failed_slos: Vec<String> = o
            .slos
            .iter()
            .map(|s| s.judge(t, &finished.generator))
            .filter(|j| !j.passed)
            .map(|j| j.threshold.text.clone())
            .collect();
        let dropped = t.get(Counter::ArrivalsDropped);
        // Arrivals the generator never sent (the verdict names them): the step says nothing
        // about the backend at this rate.
        let lagging = !finished.verdict.cautions.is_empty() || t.get(Counter::ArrivalsUnsent) > 0;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        // With the embedded server the process's CPU is both sides': only lateness tells.
        let cpu_full = !embedded && finished.generator.busy_cores() >= 0.9 * cores;
        let mut reasons: Vec<String> = finished
            .verdict
            .reasons
            .iter()
            .map(|(_, r)| r.clone())
            .collect();
        if dropped > 0 {
            reasons.push(format!(
                "{dropped} arrival(s) dropped: every account was busy (raise accounts.count)"
            ));
        }
        reasons.extend(finished.verdict.cautions.iter().cloned());
        if cpu_full {
            reasons.push(format!(
                "the generator kept {:.2} of {cores} cores busy",
                finished.generator.busy_cores()
            ));
        }
        let passed = finished.verdict.status == Status::Pass && dropped == 0 && !lagging;
        search.record(rate, passed);
        let q = |m: Metric, p: f64| {
            let h = t.hist(m);
            (!h.is_empty()).then(|| h.value_at_quantile(p))
        };
        let step = Step {
            rate,
            passed,
            knee_p99_us: q(metric, 0.99),
            generator_limited: lagging || cpu_full,
        };
        // The rate the completed cycles amount to: the step's schedule owes rate × (ramp / 2 +
        // hold) arrivals (the ramp is linear from 0), so all of them done reads as `rate`.
        let owed = rate * (o.ramp.as_secs_f64() / 2.0 + o.hold.as_secs_f64());
        let achieved = rate * finished.generator.cycles as f64 / owed.max(1e-9);
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        rows.push(vec![
            steps.len().to_string(),
            fmt_rate(rate),
            format!("{achieved:.1}"),
            passed.to_string(),
            opt(q(Metric::Login, 0.5)),
            opt(q(Metric::Login, 0.99)),
            opt(q(Metric::Ready, 0.5)),
            opt(q(Metric::Ready, 0.99)),
            opt(step.knee_p99_us),
            crate::verdict::error_rate(t)
                .map(|e| format!("{e:.6}"))
                .unwrap_or_default(),
            dropped.to_string(),
            opt(q(Metric::ScheduleLag, 0.99)),
            format!("{:.3}", finished.generator.busy_cores()),
            step.generator_limited.to_string(),
            failed_slos.join("; "),
            reasons.join("; "),
            finished.report_dir.display().to_string(),
        ]);
        write_csv(&dir.join("search.csv"), &rows)?;
        writeln!(
            out,
            "step {:>2}: {:>9}/s  {}  {} p99 {}  achieved {achieved:.0}/s  lag p99 {}{}",
            steps.len(),
            fmt_rate(rate),
            if passed { "PASS" } else { "FAIL" },
            metric.name(),
            step.knee_p99_us.map_or("-".into(), fmt_us),
            q(Metric::ScheduleLag, 0.99).map_or("-".into(), fmt_us),
            if reasons.is_empty() && failed_slos.is_empty() {
                String::new()
            } else {
                let mut why = failed_slos.clone();
                why.extend(reasons.iter().cloned());
                format!("  — {}", why.join("; "))
            }
        )?;
        steps.push(step);
    }
    match search.best() {
        Some(b) => writeln!(out, "highest rate meeting every SLO: {}/s", fmt_rate(b))?,
        None => writeln!(out, "no rate tried met every SLO")?,
    }
    if let Some(f) = search.lowest_failing() {
        writeln!(out, "lowest rate that broke one: {}/s", fmt_rate(f))?;
    } else if !interrupted {
        writeln!(
            out,
            "no step broke an SLO up to --max-rate {}/s",
            fmt_rate(o.strategy.max_rate)
        )?;
    }
    match knee(&steps) {
        Some(k) => writeln!(
            out,
            "knee: {}/s ({} p99 more than doubled against the lowest rate)",
            fmt_rate(k),
            metric.name()
        )?,
        None => writeln!(
            out,
            "knee: none within the rates tried ({} p99)",
            metric.name()
        )?,
    }
    if let Some(who) = ran_out_first(&steps) {
        writeln!(
            out,
            "ran out first: the {who}{}",
            if who == "generator" {
                " — its figures at that rate are its own; give it more cores or shard the load"
            } else {
                ""
            }
        )?;
    }
    writeln!(out, "search report: {}", dir.join("search.csv").display())?;
    Ok(Searched {
        best: search.best(),
        dir,
        interrupted,
    })
}

/// The overrides of one step: the user's, then the open model at `rate`.
fn step_sets(o: &SearchOptions, rate: f64) -> crate::scenario::Overrides {
    let mut step = o.overrides.clone();
    let sets = &mut step.sets;
    sets.push("load.model=open".into());
    sets.push("load.duration=\"0\"".into());
    sets.push(format!(
        "load.stages={r},{};{r},{}",
        format_duration(o.ramp.max(Duration::from_micros(1))),
        format_duration(o.hold),
        r = fmt_rate(rate)
    ));
    step
}

fn fmt_rate(r: f64) -> String {
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.2}")
    }
}

fn fmt_us(us: u64) -> String {
    format_duration(Duration::from_micros(us))
}

fn write_csv(path: &Path, rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(SEARCH_COLUMNS)?;
    for r in rows {
        w.write_record(r)?;
    }
    crate::report::write_atomic(path, &w.into_inner()?)
}
