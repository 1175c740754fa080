//! The HTML report's list of violations: the first of every check taken in turn, each with
//! its account, when it was judged, the instances it names and, where the check timed each
//! one, when.

use std::fmt::Write as _;

use super::html::{esc, Page};

/// Append the list (nothing when the run has no violation).
pub(super) fn list(h: &mut String, p: &Page) {
    let mut all: Vec<&crate::checks::Violation> = p
        .accounts
        .iter()
        .flat_map(|a| a.violations.iter())
        .collect();
    all.sort_by_key(|v| {
        (
            v.class.is_warning(),
            v.times_us.last().copied().unwrap_or(0),
        )
    });
    let total = all.len();
    let all = super::tables::listed(all, super::tables::LISTED);
    if !all.is_empty() {
        let _ = write!(
            h,
            "<p>{} of {} violations, the first of every check taken in turn so a cause is not crowded out by its consequences (all are in <code>violations.csv</code>):</p>\
             <table><tr><th>check</th><th class=\"l\">account</th><th>happened at (s)</th><th class=\"l\">instances (platform, at s)</th><th class=\"l\">expected</th><th class=\"l\">seen</th></tr>",
            all.len(),
            total
        );
        for v in &all {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"l\">{}</td><td>{:.3}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                v.class.name(),
                esc(&v.account),
                v.times_us.last().copied().unwrap_or(0) as f64 / 1e6,
                esc(&instances_cell(v)),
                esc(&v.expected),
                esc(&v.seen)
            );
        }
        h.push_str("</table>");
    }
}

/// A violation's instances with their platforms and, where the check recorded one per instance
/// (capacity: each live session's login), when: `2 Web @1.385, 4 Web @1.385`.
fn instances_cell(v: &crate::checks::Violation) -> String {
    let timed = v.times_us.len() > v.instances.len();
    v.instances
        .iter()
        .enumerate()
        .map(|(k, slot)| {
            let platform = v
                .platforms
                .get(k)
                .map(|p| p.to_string())
                .unwrap_or_default();
            if timed {
                format!("{slot} {platform} @{:.3}", v.times_us[k] as f64 / 1e6)
            } else {
                format!("{slot} {platform}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
