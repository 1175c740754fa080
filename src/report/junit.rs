//! `junit.xml`: a testcase per threshold and per invariant, for CI systems' test views.

use std::path::Path;
use std::time::Duration;

use crate::engine::account::AccountReport;
use crate::engine::metrics::Snapshot;

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Write `junit.xml`: a testcase per threshold and per invariant, so CI systems show failures.
pub fn write_junit(
    dir: &Path,
    scenario: &str,
    s: &Snapshot,
    results: &[crate::thresholds::Outcome],
    accounts: &[AccountReport],
    elapsed: Duration,
) -> anyhow::Result<()> {
    let mut cases = Vec::new();
    for r in results {
        let failure = (!r.passed).then(|| {
            format!(
                "actual {}",
                r.actual
                    .map(|a| r.threshold.show(a))
                    .unwrap_or_else(|| "no data".into())
            )
        });
        cases.push(("thresholds", r.threshold.text.clone(), failure));
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
        // Warnings are reported as passing cases with the count in their name.
        let failure = (n > 0 && !c.is_warning()).then(|| format!("{n} violation(s){first}"));
        let name = if c.is_warning() && n > 0 {
            format!("{} ({n} warnings)", c.name())
        } else {
            c.name().to_string()
        };
        cases.push(("invariants", name, failure));
    }
    let failures = cases.iter().filter(|c| c.2.is_some()).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x += &format!(
        "<testsuites name=\"loginstorm\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        cases.len(),
        elapsed.as_secs_f64()
    );
    x += &format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">\n",
        xml_escape(scenario),
        cases.len(),
        elapsed.as_secs_f64()
    );
    for (class, name, failure) in &cases {
        x += &format!(
            "    <testcase classname=\"loginstorm.{class}\" name=\"{}\"",
            xml_escape(name)
        );
        match failure {
            None => x += "/>\n",
            Some(m) => {
                x += &format!(
                    ">\n      <failure message=\"{}\"/>\n    </testcase>\n",
                    xml_escape(m)
                )
            }
        }
    }
    x += "  </testsuite>\n</testsuites>\n";
    std::fs::write(dir.join("junit.xml"), x)?;
    Ok(())
}
