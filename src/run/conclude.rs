//! The end of a run (and of a merge), in three steps: a pure judgment of the run's model
//! (thresholds, the baseline's comparison, the verdict), one step that writes every end-of-run
//! file, and the text on stdout — the verdict last, once every file it speaks for is on disk.

use std::io::Write;
use std::path::Path;

use super::{Finished, Options};
use crate::compare;
use crate::model::RunSummary;
use crate::report::{self, ReportWriter};
use crate::scenario::Resolved;
use crate::verdict::{self, Verdict};

/// What a finished run was judged to be.
pub struct Judgment {
    /// Each threshold (the scenario's and the command line's), judged.
    pub thresholds: Vec<crate::thresholds::Judged>,
    /// The comparison with the baseline, when there is one.
    pub comparison: Option<Vec<compare::Row>>,
    pub verdict: Verdict,
}

/// Judge a finished run from its model alone (`comparison`: the baseline's rows, read
/// before). `shortfall`: why the results are not the whole run — `merge` names missing shards
/// here — which makes the verdict INCOMPLETE.
pub fn judge(
    resolved: &Resolved,
    summary: &RunSummary,
    comparison: Option<Vec<compare::Row>>,
    shortfall: &[String],
) -> Judgment {
    let thresholds: Vec<_> = resolved
        .thresholds
        .iter()
        .map(|t| t.judge(&summary.totals, &summary.generator))
        .collect();
    let failed = thresholds.iter().filter(|j| !j.passed).count();
    let regressions = comparison.as_deref().map_or(0, compare::regressions);
    let mut verdict = verdict::judge(
        summary.outcome,
        &summary.totals,
        resolved.scenario.checks.error_budget,
        failed,
        regressions,
    );
    if !shortfall.is_empty() {
        verdict.status = verdict::Status::Incomplete;
        // The shortfall comes first: every other figure is of a part of the run.
        verdict.reasons.splice(
            0..0,
            shortfall.iter().map(|r| (verdict::Kind::Run, r.clone())),
        );
    }
    // Only the open model's latencies contain how late a cycle began; the closed model's run
    // from the actual send, so a late ramp start does not enter them.
    if resolved.scenario.load.model == crate::scenario::LoadModel::Open {
        verdict.cautions.extend(verdict::lag_caution(
            &summary.totals,
            resolved.scenario.load.max_schedule_lag.0,
        ));
    }
    // Re-logins after a loss kick outside any wave: the per-wave arithmetic no longer holds.
    let relogins = summary.totals.get(crate::model::Counter::Reconnects) > 0;
    if verdict.status != verdict::Status::Pass && !relogins {
        let limits = resolved.policy.limits.to_spec();
        verdict.cautions.extend(verdict::limits_hint(
            &summary.accounts,
            &limits,
            matches!(resolved.wire, crate::driver::Wire::Json(_)),
        ));
    }
    Judgment {
        thresholds,
        comparison,
        verdict,
    }
}

/// A finished load's results, written and judged: every end-of-run report, thresholds, the
/// baseline comparison and the verdict. `run` and `merge` end the same way.
#[allow(clippy::too_many_arguments)]
pub fn conclude<W: Write>(
    resolved: &Resolved,
    url: &str,
    embedded_used: bool,
    opts: &Options,
    summary: RunSummary,
    writer: &mut ReportWriter,
    shortfall: &[String],
    out: &mut W,
) -> anyhow::Result<Finished> {
    let writing = std::time::Instant::now();
    writer.finish(
        summary.outcome,
        &summary.totals,
        &summary.accounts,
        summary.elapsed,
        &summary.generator,
        &summary.unmatched,
    )?;
    let dir = writer.dir().to_path_buf();
    // The comparison reads this run's latency.hlog, written just now.
    let comparison = match &opts.baseline {
        Some(base) => Some(compare::compare_dirs(&dir, base, &opts.compare)?),
        None => None,
    };
    let judgment = judge(resolved, &summary, comparison, shortfall);
    let run = Identity {
        resolved,
        url,
        embedded: embedded_used,
    };
    write_end(&run, opts, &summary, &judgment, writer)?;
    // The process's CPU outside the load window: before it, and after it up to here.
    let g = &summary.generator;
    let after = (!g.startup_cpu.is_zero())
        .then(|| crate::engine::clock::process_cpu().saturating_sub(g.startup_cpu + g.cpu));
    writer.record_report_time(writing.elapsed().as_secs_f64(), after)?;
    tell(out, &run, opts, &summary, &judgment, &dir, after)?;
    Ok(Finished {
        outcome: summary.outcome,
        totals: summary.totals,
        accounts: summary.accounts,
        elapsed: summary.elapsed,
        report_dir: dir,
        verdict: judgment.verdict,
        generator: summary.generator,
    })
}

/// Which run this is, as its reports name it.
struct Identity<'a> {
    resolved: &'a Resolved,
    url: &'a str,
    embedded: bool,
}

/// Every end-of-run file the streamed reports do not hold: thresholds.csv, the comparison,
/// junit.xml, summary.json (and `--summary-json`), report.html, the cautions in run.json, the
/// CI job summary.
fn write_end(
    run: &Identity,
    opts: &Options,
    summary: &RunSummary,
    j: &Judgment,
    writer: &mut ReportWriter,
) -> anyhow::Result<()> {
    let (resolved, dir) = (run.resolved, writer.dir().to_path_buf());
    report::write_thresholds(&dir, &j.thresholds)?;
    if let Some(rows) = &j.comparison {
        let tolerance = opts.compare.max_regression;
        compare::write_csv(&dir.join("comparison.csv"), rows)?;
        let doc = serde_json::to_string_pretty(&compare::to_json(rows, tolerance))? + "\n";
        report::write_atomic(&dir.join("comparison.json"), doc.as_bytes())?;
    }
    writer.record_cautions(&j.verdict.cautions)?;
    report::write_junit(
        &dir,
        &resolved.scenario.name,
        &summary.totals,
        &j.thresholds,
        &summary.accounts,
        &j.verdict,
        summary.started,
        summary.elapsed,
    )?;
    let doc = report::summary_json::build(
        &report::summary_json::RunIdentity {
            scenario: &resolved.scenario.name,
            seed: resolved.scenario.seed,
            target: run.url,
            embedded_server: run.embedded,
            overrides: &resolved.overrides.sets,
            started: summary.started,
        },
        summary.outcome,
        &summary.totals,
        summary.elapsed,
        &summary.generator,
        &j.thresholds,
        &j.verdict,
    );
    report::append_step_summary(&report::summary_json::markdown(&doc, &dir));
    let started = chrono::DateTime::<chrono::Utc>::from(summary.started)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let page = report::html::render(&report::html::Page {
        scenario: &resolved.scenario.name,
        description: &resolved.scenario.description,
        target: run.url,
        embedded: run.embedded,
        seed: resolved.scenario.seed,
        overrides: &resolved.overrides.sets,
        started: &started,
        elapsed_secs: summary.elapsed.as_secs_f64(),
        outcome: summary.outcome.name(),
        verdict: &j.verdict,
        totals: &summary.totals,
        series: writer.series(),
        accounts: &summary.accounts,
        thresholds: &j.thresholds,
    });
    report::write_atomic(&dir.join("report.html"), page.as_bytes())?;
    let text = serde_json::to_string_pretty(&doc)? + "\n";
    report::write_atomic(&dir.join("summary.json"), text.as_bytes())?;
    match opts.summary_json.as_deref() {
        Some(p) if p == Path::new("-") => std::io::stdout().lock().write_all(text.as_bytes())?,
        Some(p) => std::fs::write(p, &text)
            .map_err(|e| anyhow::anyhow!("cannot write --summary-json {}: {e}", p.display()))?,
        None => {}
    }
    Ok(())
}

/// The run's text on `out`, the verdict last: a run that could not write its reports has
/// already ended with the error naming the file (exit 2), never after a verdict.
fn tell<W: Write>(
    out: &mut W,
    run: &Identity,
    opts: &Options,
    summary: &RunSummary,
    j: &Judgment,
    dir: &Path,
    after_load: Option<std::time::Duration>,
) -> anyhow::Result<()> {
    let resolved = run.resolved;
    if !summary.unmatched.is_empty() {
        writeln!(
            out,
            "protocol: {} frame(s) no rule of profile {} explains; the first are in {}",
            summary
                .totals
                .get(crate::model::Counter::ProtocolErrorsUnmatched),
            resolved.profile.source,
            dir.join(report::UNMATCHED_FILE).display()
        )?;
    }
    // The open model's plan, as arrivals per second over the run's planned length.
    let offered = resolved
        .planned_duration()
        .filter(|_| !resolved.stages.is_empty())
        .map(|d| report::Offered {
            arrivals_per_s: crate::scenario::arrivals_until(&resolved.own_stages(), d)
                / d.as_secs_f64().max(1e-9),
            instances_per_account: resolved.platforms.len(),
        });
    report::render_summary(
        out,
        summary.outcome,
        &summary.totals,
        summary.elapsed,
        &summary.generator,
        dir,
        offered,
    )?;
    report::render_generator(
        out,
        &summary.generator,
        &summary.totals,
        run.embedded,
        after_load,
    )?;
    report::render_thresholds(out, &j.thresholds)?;
    if let (Some(rows), Some(base)) = (&j.comparison, &opts.baseline) {
        writeln!(out, "compared with baseline {}", base.display())?;
        compare::render(out, rows, opts.compare.max_regression)?;
    }
    report::render_verdict(out, &j.verdict, &summary.totals)?;
    Ok(())
}
