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
    let planned = planned_duration(sc, stages, None);
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

/// `target.url` is a WebSocket URL, or `mqtt://`/`mqtts://` for MQTT over TCP; `target.admin_url`
/// an HTTP one.
pub(super) fn check_urls(s: &Scenario) -> Result<(), ScenarioError> {
    let url = &s.target.url;
    let ws = url.starts_with("ws://") || url.starts_with("wss://");
    let raw = url.starts_with("mqtt://") || url.starts_with("mqtts://");
    if !url.is_empty() && !ws && !raw {
        return Err(ScenarioError::invalid(
            format!("target.url {url:?}"),
            "must start with ws:// or wss:// (or, with target.protocol = \"mqtt\", mqtt:// or mqtts://)",
        ));
    }
    if raw && s.target.protocol != super::mqtt::MQTT {
        return Err(ScenarioError::invalid(
            format!("target.url {url:?}"),
            "mqtt:// and mqtts:// carry MQTT only: set target.protocol = \"mqtt\", or use ws:// or wss://",
        ));
    }
    let admin = &s.target.admin_url;
    if !admin.is_empty() && !admin.starts_with("http://") && !admin.starts_with("https://") {
        return Err(ScenarioError::invalid(
            format!("target.admin_url {admin:?}"),
            "must start with http:// or https://",
        ));
    }
    Ok(())
}

/// An XMPP server's admin kick is ejabberd's HTTP API (`kick_user`), not the reference one:
/// `profile` (just read, so not shared) gets it when the scenario kicks.
pub(super) fn with_xmpp_admin(
    s: &Scenario,
    profile: std::sync::Arc<crate::profile::Profile>,
) -> Result<std::sync::Arc<crate::profile::Profile>, ScenarioError> {
    if s.admin_kick.interval.0.is_zero() {
        return Ok(profile);
    }
    let admin = crate::profile::Admin::ejabberd(&s.xmpp.domain)
        .map_err(|e| ScenarioError::invalid("xmpp.domain", e.to_string()))?;
    let mut p = std::sync::Arc::try_unwrap(profile).expect("the profile was just read");
    p.admin = admin;
    Ok(std::sync::Arc::new(p))
}

/// Where the stream is the session (XMPP, MQTT), a kick ends the connection: there is none to
/// log in again on.
pub(super) fn check_on_kick(s: &Scenario, wire: &crate::driver::Wire) -> Result<(), ScenarioError> {
    if matches!(s.cycle.on_kick, OnKick::Relogin(_)) && wire.stream_is_the_session() {
        return Err(ScenarioError::invalid(
            "cycle.on_kick",
            format!(
                "a kick ends the {} stream it arrives on, so there is no connection to log in again on: use \"next_cycle\" (the next cycle connects afresh) or \"stop\"",
                s.target.protocol.to_uppercase()
            ),
        ));
    }
    Ok(())
}
