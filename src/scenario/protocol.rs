//! The scenario's wire protocol: a JSON profile, read and checked against the checks it must
//! serve (MQTT is `mqtt.rs`).

use std::path::Path;

use super::*;

/// The protocol profile `spec`, read and checked against what the scenario's enabled checks
/// need.
pub(super) fn profile_for(
    sc: &Scenario,
    stages: &[Stage],
    spec: &str,
    base: &Path,
) -> Result<std::sync::Arc<crate::profile::Profile>, ScenarioError> {
    let profile = crate::profile::Profile::load(spec, base)
        .map_err(|e| ScenarioError::parse("target.protocol", e))?;
    let planned = planned_duration(sc, stages);
    profile
        .check_needs(crate::profile::Needs {
            checks: sc.checks.enabled,
            admin_kicks: !sc.admin_kick.interval.0.is_zero(),
            // UserSigs that may expire within the run (a run of unknown length: an hour).
            expiry: sc.target.sig_lifetime.0
                < planned.unwrap_or(Duration::from_secs(3600)) + Duration::from_secs(60),
        })
        .map_err(|e| ScenarioError::parse("target.protocol", e))?;
    Ok(profile)
}
