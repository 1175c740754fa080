//! `junit.xml`: one testcase for the run itself, one per threshold and one per invariant, so CI
//! systems show what failed. An invariant the run never judged is `<skipped>`, never a pass.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::model::{AccountReport, Snapshot};
use crate::verdict::{Kind, Status, Verdict};

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

enum CaseResult {
    Pass,
    Fail(String),
    Skip(String),
}

struct Case {
    class: &'static str,
    name: String,
    time: Duration,
    result: CaseResult,
}

/// Write `junit.xml` for a finished run.
#[allow(clippy::too_many_arguments)]
pub fn write_junit(
    dir: &Path,
    scenario: &str,
    s: &Snapshot,
    results: &[crate::thresholds::Judged],
    accounts: &[AccountReport],
    verdict: &Verdict,
    started: SystemTime,
    elapsed: Duration,
) -> anyhow::Result<()> {
    let mut cases = Vec::new();
    // The run: did the backend do the work, and did the run reach its end?
    let health = verdict.of(Kind::Run);
    cases.push(Case {
        class: "run",
        name: "run".into(),
        time: elapsed,
        result: match (verdict.status, health.is_empty()) {
            (Status::Incomplete, _) | (_, false) => CaseResult::Fail(health.join("; ")),
            _ => CaseResult::Pass,
        },
    });
    // Cautions qualify the figures without failing: a passing case that says so in its name.
    for c in &verdict.cautions {
        cases.push(Case {
            class: "run",
            name: format!("caution: {c}"),
            time: Duration::ZERO,
            result: CaseResult::Pass,
        });
    }
    for r in results {
        cases.push(Case {
            class: "thresholds",
            name: r.threshold.text.clone(),
            time: Duration::ZERO,
            result: if r.passed {
                CaseResult::Pass
            } else {
                CaseResult::Fail(format!(
                    "actual {}",
                    r.actual
                        .map(|a| r.threshold.show(a))
                        .unwrap_or_else(|| "no data".into())
                ))
            },
        });
    }
    for c in crate::checks::Class::ALL {
        let n = s.violations(c);
        let first = accounts
            .iter()
            .flat_map(|a| a.violations.iter())
            .find(|v| v.class == c)
            .map(|v| {
                format!(
                    ": e.g. {} — expected {}, seen {}",
                    v.account, v.expected, v.seen
                )
            })
            .unwrap_or_default();
        let judged = s.judged(c);
        let (name, result) = if judged == 0 && n == 0 {
            (
                c.name().to_string(),
                CaseResult::Skip(
                    "not judged: the scenario gave this check nothing to judge".into(),
                ),
            )
        } else if c.is_warning() {
            // Warnings are passing cases with the count in their name.
            let name = if n > 0 {
                format!("{} ({n} warnings)", c.name())
            } else {
                c.name().to_string()
            };
            (name, CaseResult::Pass)
        } else if n > 0 {
            (
                c.name().to_string(),
                CaseResult::Fail(format!("{n} violation(s) in {judged} judgments{first}")),
            )
        } else {
            (c.name().to_string(), CaseResult::Pass)
        };
        cases.push(Case {
            class: "invariants",
            name,
            time: Duration::ZERO,
            result,
        });
    }
    let failures = cases
        .iter()
        .filter(|c| matches!(c.result, CaseResult::Fail(_)))
        .count();
    let skipped = cases
        .iter()
        .filter(|c| matches!(c.result, CaseResult::Skip(_)))
        .count();
    let stamp = chrono::DateTime::<chrono::Utc>::from(started)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x += &format!(
        "<testsuites name=\"loginstorm\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{:.3}\">\n",
        cases.len(),
        elapsed.as_secs_f64()
    );
    x += &format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" errors=\"0\" timestamp=\"{stamp}\" time=\"{:.3}\">\n",
        xml_escape(scenario),
        cases.len(),
        elapsed.as_secs_f64()
    );
    for c in &cases {
        x += &format!(
            "    <testcase classname=\"loginstorm.{}\" name=\"{}\" time=\"{:.3}\"",
            c.class,
            xml_escape(&c.name),
            c.time.as_secs_f64()
        );
        match &c.result {
            CaseResult::Pass => x += "/>\n",
            CaseResult::Fail(m) => {
                x += &format!(
                    ">\n      <failure message=\"{}\"/>\n    </testcase>\n",
                    xml_escape(m)
                )
            }
            CaseResult::Skip(m) => {
                x += &format!(
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    xml_escape(m)
                )
            }
        }
    }
    x += "  </testsuite>\n</testsuites>\n";
    super::write_atomic(&dir.join("junit.xml"), x.as_bytes())
}
