//! The end of a run (and of a merge): every end-of-run report written, thresholds and the
//! baseline judged, the verdict printed last.

use std::io::Write;

use super::{Finished, Options};
use crate::compare;
use crate::report::{self, ReportWriter};
use crate::scenario::Resolved;
use crate::verdict;

/// A finished load's results, written and judged: every end-of-run report, thresholds, the
/// baseline comparison and the verdict (`shortfall`: why the results are not the whole run —
/// `merge` names missing shards here — which makes the verdict INCOMPLETE). `run` and `merge`
/// end the same way.
#[allow(clippy::too_many_arguments)]
pub fn conclude<W: Write>(
    resolved: &Resolved,
    url: &str,
    embedded_used: bool,
    opts: &Options,
    summary: crate::model::RunSummary,
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
        &dir,
        offered,
    )?;
    report::render_generator(out, &summary.generator, &summary.totals, embedded_used)?;
    let judged: Vec<_> = resolved
        .thresholds
        .iter()
        .map(|t| t.judge(&summary.totals, &summary.generator))
        .collect();
    report::write_thresholds(out, &dir, &judged)?;
    let failed = judged.iter().filter(|j| !j.passed).count();
    let mut regressions = 0;
    if let Some(base) = &opts.baseline {
        let rows = compare::compare_dirs(&dir, base, &opts.compare)?;
        writeln!(out, "compared with baseline {}", base.display())?;
        compare::render(out, &rows, opts.compare.max_regression)?;
        compare::write_csv(&dir.join("comparison.csv"), &rows)?;
        let doc =
            serde_json::to_string_pretty(&compare::to_json(&rows, opts.compare.max_regression))?
                + "\n";
        report::write_atomic(&dir.join("comparison.json"), doc.as_bytes())?;
        regressions = compare::regressions(&rows);
    }
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
    if verdict.status != verdict::Status::Pass {
        let limits = resolved.policy.limits.to_spec();
        verdict
            .cautions
            .extend(verdict::limits_hint(&summary.accounts, &limits));
    }
    writer.record_cautions(&verdict.cautions)?;
    report::write_junit(
        &dir,
        &resolved.scenario.name,
        &summary.totals,
        &judged,
        &summary.accounts,
        &verdict,
        summary.started,
        summary.elapsed,
    )?;
    let doc = report::summary_json::build(
        &report::summary_json::RunIdentity {
            scenario: &resolved.scenario.name,
            seed: resolved.scenario.seed,
            target: url,
            embedded_server: embedded_used,
            overrides: &resolved.overrides.sets,
            started: summary.started,
        },
        summary.outcome,
        &summary.totals,
        summary.elapsed,
        &summary.generator,
        &judged,
        &verdict,
    );
    report::append_step_summary(&report::summary_json::markdown(&doc, &dir));
    let started = chrono::DateTime::<chrono::Utc>::from(summary.started)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let page = report::html::render(&report::html::Page {
        scenario: &resolved.scenario.name,
        description: &resolved.scenario.description,
        target: url,
        embedded: embedded_used,
        seed: resolved.scenario.seed,
        overrides: &resolved.overrides.sets,
        started: &started,
        elapsed_secs: summary.elapsed.as_secs_f64(),
        outcome: summary.outcome.name(),
        verdict: &verdict,
        totals: &summary.totals,
        series: writer.series(),
        accounts: &summary.accounts,
        thresholds: &judged,
    });
    report::write_atomic(&dir.join("report.html"), page.as_bytes())?;
    let text = serde_json::to_string_pretty(&doc)? + "\n";
    report::write_atomic(&dir.join("summary.json"), text.as_bytes())?;
    match opts.summary_json.as_deref() {
        Some(p) if p == std::path::Path::new("-") => {
            std::io::stdout().lock().write_all(text.as_bytes())?
        }
        Some(p) => std::fs::write(p, &text)
            .map_err(|e| anyhow::anyhow!("cannot write --summary-json {}: {e}", p.display()))?,
        None => {}
    }
    writer.record_report_time(writing.elapsed().as_secs_f64())?;
    // The verdict comes last, once every file it speaks for is on disk: a run that could not
    // write its reports ends with the error naming the file (exit 2), never after a verdict.
    report::render_verdict(out, &verdict, &summary.totals)?;
    Ok(Finished {
        outcome: summary.outcome,
        totals: summary.totals,
        accounts: summary.accounts,
        elapsed: summary.elapsed,
        report_dir: dir,
        verdict,
        generator: summary.generator,
    })
}
