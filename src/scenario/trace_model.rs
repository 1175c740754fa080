//! The trace model's scenario side (`load.model = "trace"`): the trace file read and
//! scheduled (`crate::trace`), its users made the accounts, its keys checked.

use std::path::Path;

use super::{Alignment, Files, LoadModel, Scenario, ScenarioError};

/// The trace model's trace: read, scheduled, and the accounts made its users. `None` for the
/// other models, and for a recorded scenario (`merge` reports on the run without its trace).
pub(super) fn read_trace(
    s: &mut Scenario,
    base: &Path,
    files: Files,
) -> Result<Option<crate::trace::Trace>, ScenarioError> {
    if s.load.model != LoadModel::Trace {
        if s.load.trace.is_some() {
            return Err(ScenarioError::invalid(
                "load.trace",
                "applies to the trace model only; set load.model = \"trace\"",
            ));
        }
        return Ok(None);
    }
    if !(s.load.speed > 0.0 && s.load.speed <= 1000.0) {
        return Err(ScenarioError::invalid(
            "load.speed",
            "must be above 0 and at most 1000",
        ));
    }
    if s.cycle.alignment != Alignment::Independent {
        return Err(ScenarioError::invalid(
            "cycle.alignment",
            "applies to the closed and open models: a trace says when each login happens",
        ));
    }
    let Some(path) = s.load.trace.clone() else {
        return Err(ScenarioError::invalid(
            "load.trace",
            "is required for the trace model (a CSV of offset,userID,platform,action)",
        ));
    };
    if files == Files::Recorded {
        return Ok(None);
    }
    let path = if path.is_absolute() {
        path
    } else {
        base.join(path)
    };
    let text =
        crate::input::read_text_io(&path, crate::input::Links::Follow, crate::input::MAX_CONFIG)
            .map_err(|e| {
                ScenarioError::invalid("load.trace", format!("cannot read {}: {e}", path.display()))
            })?;
    let t = crate::trace::Trace::parse(&text)
        .map_err(|e| ScenarioError::invalid("load.trace", format!("{}: {e}", path.display())))?;
    s.accounts.count = t.users.len() as u32;
    Ok(Some(t))
}
