//! Scenario files (TOML): what to run, against what, and how logins line up.
//!
//! The schema (every table and key, with defaults) is in `schema.rs`; this module reads a file,
//! applies `--set key=value` overrides to the TOML tree before it is read (so the CLI and files
//! share one parser), and resolves it: values are checked naming the key, and the parts written
//! in small languages (limits, instances, stages, thresholds) are parsed once, here.

use credentials::{check_id_pattern, read_credentials};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

use crate::policy::{Limits, Policy};

mod chaos;
pub use chaos::{ChaosAction, Cut, Disruption, Sessions};
mod reconnect;
pub use reconnect::{Reconnect, ReconnectMode};
mod credentials;
mod network;
mod trace_model;
pub use network::Network;
use trace_model::read_trace;
pub mod mqtt;
mod protocol;
pub mod xmpp;
use protocol::profile_for;
mod overrides;
use overrides::apply_override;
pub use overrides::Overrides;
mod error;
pub use error::ScenarioError;
mod kinds;
mod resolved;
pub use resolved::Resolved;
mod schema;
mod warnings;
mod wire_schema;
pub use kinds::{
    arrivals_until, parse_instances, parse_stages, rate_at, Alignment, OnKick, Stage, Think,
};
pub use schema::*;
pub use warnings::check_warnings;

/// Simulated SDK instances one process creates at most.
pub const MAX_INSTANCES: u64 = 2_000_000;
/// Worker threads of the embedded server at most (as `serve --workers`).
pub use crate::protocol::defaults::MAX_SERVER_WORKERS;

/// Read, override and validate a scenario file: the one place a run's configuration is made.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Resolved, ScenarioError> {
    let text =
        crate::input::read_text_io(path, crate::input::Links::Follow, crate::input::MAX_CONFIG)
            .map_err(|source| ScenarioError::Read {
                path: path.display().to_string(),
                source,
            })?;
    let mut s = parse(&text, &overrides.sets).map_err(|e| ScenarioError::in_file(path, e))?;
    if s.name.is_empty() {
        s.name = path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into());
    }
    let base = path.parent().unwrap_or(Path::new("."));
    resolve_with(s, base, overrides, Files::Read).map_err(|e| ScenarioError::in_file(path, e))
}

/// Parse and validate scenario text as [`load`] does a file's (relative paths from `base`).
pub fn load_text(
    text: &str,
    base: &Path,
    overrides: &Overrides,
) -> Result<Resolved, ScenarioError> {
    resolve_with(parse(text, &overrides.sets)?, base, overrides, Files::Read)
}

/// Whether resolving reads the files a scenario names (its credentials and protocol profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Files {
    Read,
    /// A scenario a report recorded, resolved to report on it (`merge`): its files need not
    /// be here. No credentials are read and the default profile stands in for its protocol
    /// (only the run's own figures are reported, never a frame).
    Recorded,
}

/// Parse scenario TOML text with `key=value` overrides applied first.
///
/// An error names where it came from: the file (read from its text, so with its line and
/// column) or the first `--set` that made a good file wrong.
pub fn parse(text: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
    let file: toml::Table = text.parse()?;
    let mut tree = file.clone();
    for o in overrides {
        apply_override(&mut tree, o)?;
    }
    let whole = Scenario::deserialize(toml::Value::Table(tree));
    let Err(e) = whole else {
        return Ok(whole?);
    };
    if overrides.is_empty() {
        // From the text, so the error has the file's line and column.
        return Err(toml::from_str::<Scenario>(text).err().unwrap_or(e).into());
    }
    if let Err(in_file) = toml::from_str::<Scenario>(text) {
        return Err(in_file.into());
    }
    // The file alone is fine: the first override that breaks it is named.
    let mut tree = file;
    for o in overrides {
        apply_override(&mut tree, o)?;
        if let Err(e) = Scenario::deserialize(toml::Value::Table(tree.clone())) {
            return Err(ScenarioError::InOverride {
                set: o.clone(),
                source: Box::new(e.into()),
            });
        }
    }
    Err(e.into())
}

/// Resolve a scenario a report recorded (`run.json`'s `resolved_scenario`) for reporting on
/// it — `merge` — without reading its credentials file, which a merge need not have.
pub fn resolve_recorded(s: Scenario) -> Result<Resolved, ScenarioError> {
    resolve_with(s, Path::new("."), &Overrides::default(), Files::Recorded)
}

/// Resolve with no command-line overrides, reading the files (the tests' way in).
#[cfg(test)]
fn resolve(s: Scenario, base: &Path) -> Result<Resolved, ScenarioError> {
    resolve_with(s, base, &Overrides::default(), Files::Read)
}

fn resolve_with(
    mut s: Scenario,
    base: &Path,
    o: &Overrides,
    files: Files,
) -> Result<Resolved, ScenarioError> {
    o.apply(&mut s);
    let limits: Limits = s
        .policy
        .limits
        .parse()
        .map_err(|e| ScenarioError::parse("policy.limits", e))?;
    let platforms = parse_instances(&s.accounts.instances)
        .map_err(|e| ScenarioError::parse("accounts.instances", e))?;
    if s.accounts.count == 0 || s.accounts.count > 10_000_000 {
        return Err(ScenarioError::invalid(
            "accounts.count",
            "must be within 1..=10000000",
        ));
    }
    if s.server.workers > MAX_SERVER_WORKERS {
        return Err(ScenarioError::invalid(
            "server.workers",
            format!("must be within 0..={MAX_SERVER_WORKERS} (0 = one per core)"),
        ));
    }
    if !s.accounts.id_pattern.contains("{n}") {
        return Err(ScenarioError::invalid(
            "accounts.id_pattern",
            "must contain {n}",
        ));
    }
    if !(0.0..=10_000.0).contains(&s.cycle.message_rate) {
        return Err(ScenarioError::invalid(
            "cycle.message_rate",
            "must be within 0..=10000",
        ));
    }
    for name in &s.checks.unjudged {
        if !crate::checks::Class::ALL.iter().any(|c| c.name() == name) {
            let names: Vec<&str> = crate::checks::Class::ALL.iter().map(|c| c.name()).collect();
            return Err(ScenarioError::invalid(
                "checks.unjudged",
                format!("names {name:?}, which is not a check: {}", names.join(", ")),
            ));
        }
    }
    for (name, p) in [
        ("checks.probe_after_kick", s.checks.probe_after_kick),
        ("checks.probe_after_logout", s.checks.probe_after_logout),
        ("checks.error_budget", s.checks.error_budget),
    ] {
        if !(0.0..=1.0).contains(&p) {
            return Err(ScenarioError::invalid(name, "must be within 0..=1"));
        }
    }
    if s.load.max_schedule_lag.0.is_zero() || s.load.max_schedule_lag.0 > Duration::from_secs(60) {
        return Err(ScenarioError::invalid(
            "load.max_schedule_lag",
            "must be within 1us..=60s",
        ));
    }
    if !(0.0..=1e6).contains(&s.load.ramp) {
        return Err(ScenarioError::invalid(
            "load.ramp",
            "must be within 0..=1000000",
        ));
    }
    s.server
        .faults
        .validate()
        .map_err(|e| ScenarioError::parse("server.faults", e))?;
    if s.target.local_addrs == 0 || s.target.local_addrs > 65_000 {
        return Err(ScenarioError::invalid(
            "target.local_addrs",
            "must be within 1..=65000",
        ));
    }
    if s.target.sig_lifetime.0 < Duration::from_secs(1) {
        return Err(ScenarioError::invalid(
            "target.sig_lifetime",
            "must be at least 1s",
        ));
    }
    protocol::check_urls(&s)?;
    s.reconnect.validate()?;
    s.network.validate()?;
    chaos::validate(&s.chaos, s.target.url.is_empty())?;
    let stages =
        parse_stages(&s.load.stages).map_err(|e| ScenarioError::parse("load.stages", e))?;
    match s.load.model {
        LoadModel::Open if stages.is_empty() => {
            return Err(ScenarioError::invalid(
                "load.stages",
                "is required for the open model (e.g. \"50,10s;50,30s\")",
            ))
        }
        LoadModel::Closed if !stages.is_empty() => {
            return Err(ScenarioError::invalid(
                "load.stages",
                "applies to the open model only; set load.model = \"open\"",
            ))
        }
        _ => {}
    }
    if s.load.model == LoadModel::Closed && s.cycle.cycles == 0 && s.load.duration.0.is_zero() {
        return Err(ScenarioError::invalid(
            "cycle.cycles",
            "= 0 (unbounded) needs load.duration",
        ));
    }
    for (name, d) in [
        ("timeouts.connect", s.timeouts.connect),
        ("timeouts.login", s.timeouts.login),
        ("timeouts.ready", s.timeouts.ready),
        ("timeouts.logout", s.timeouts.logout),
        ("timeouts.kick", s.timeouts.kick),
    ] {
        if d.0.is_zero() {
            return Err(ScenarioError::invalid(name, "must be above 0"));
        }
    }
    if s.target.key.is_empty() {
        return Err(ScenarioError::invalid(
            if o.key.is_some() {
                "--key (or LOGINSTORM_KEY)"
            } else {
                "target.key"
            },
            "is empty; a UserSig signed with an empty key is refused by any backend that has one",
        ));
    }
    if let Some(ca) = &s.target.ca_file {
        if !ca.is_absolute() {
            s.target.ca_file = Some(base.join(ca));
        }
    }
    if let Some(ca) = &o.ca_file {
        s.target.ca_file = Some(ca.clone());
    }
    let protocol_base = match &o.protocol {
        Some(p) => {
            s.target.protocol = p.clone();
            Path::new(".")
        }
        None => base,
    };
    let credentials = match &s.target.credentials {
        _ if files == Files::Recorded => None,
        None => {
            check_id_pattern(&s.accounts.id_pattern, s.accounts.count)?;
            None
        }
        Some(p) => {
            let p = if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            };
            Some(read_credentials(&p)?)
        }
    };
    if let Some(c) = &credentials {
        if (c.len() as u64) < u64::from(s.accounts.count) {
            return Err(ScenarioError::invalid(
                "target.credentials",
                format!(
                    "holds {} accounts but accounts.count is {}",
                    c.len(),
                    s.accounts.count
                ),
            ));
        }
    }
    let thresholds = s
        .thresholds
        .iter()
        .map(|(k, v)| {
            crate::model::Threshold::from_entry(k, v)
                .map_err(|e| ScenarioError::parse(format!("thresholds.{k}"), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // MQTT is a wire of its own (`driver/mqtt.rs`); the reference profile stands beside it
    // for what only names things (platform names).
    let is_mqtt = s.target.protocol == mqtt::MQTT;
    let is_xmpp = s.target.protocol == xmpp::XMPP;
    let profile = match files {
        Files::Read if !is_mqtt && !is_xmpp => {
            profile_for(&s, &stages, &s.target.protocol, protocol_base)?
        }
        _ => profile_for(&s, &stages, "", base)?,
    };
    let profile = if is_xmpp {
        protocol::with_xmpp_admin(&s, profile)?
    } else {
        profile
    };
    let wire = if is_mqtt {
        crate::driver::Wire::Mqtt(mqtt::wire(&s, credentials.is_some())?)
    } else if is_xmpp {
        crate::driver::Wire::Xmpp(xmpp::wire(&s)?)
    } else {
        crate::driver::Wire::Json(profile.clone())
    };
    protocol::check_on_kick(&s, &wire)?;
    let (trace, platforms) = match read_trace(&mut s, base, files)? {
        Some(t) => {
            let platforms = t.platforms.clone();
            (Some(std::sync::Arc::new(t)), platforms)
        }
        None => (None, platforms),
    };
    if trace.is_some() && credentials.is_some() {
        return Err(ScenarioError::invalid(
            "target.credentials",
            "cannot be used with the trace model: the trace's userIDs name the accounts",
        ));
    }
    if !s.reconnect.heartbeat.0.is_zero()
        && !matches!(s.target.protocol.as_str(), "" | "loginstorm-v1")
    {
        return Err(ScenarioError::invalid(
            "reconnect.heartbeat",
            "is supported with the loginstorm-v1 protocol (its `ping`); MQTT keeps its connections alive with mqtt.keep_alive",
        ));
    }
    let r = Resolved {
        thresholds,
        shard: crate::shard::Shard::WHOLE,
        profile: profile.clone(),
        wire,
        overrides: o.clone(),
        trace_frames: None,
        policy: Policy {
            limits,
            mode: s.policy.mode,
        },
        platforms,
        stages,
        credentials,
        trace,
        scenario: s,
    };
    Ok(r)
}

fn planned_duration(
    sc: &Scenario,
    stages: &[Stage],
    trace: Option<&crate::trace::Trace>,
) -> Option<Duration> {
    match (sc.load.model, sc.load.duration.0) {
        (LoadModel::Open, _) => Some(stages.iter().map(|s| s.over).sum()),
        // The last row's time at the replay's speed, and a moment for its action.
        (LoadModel::Trace, _) => {
            trace.map(|t| t.span().div_f64(sc.load.speed.max(1e-3)) + Duration::from_millis(500))
        }
        (_, d) if !d.is_zero() => Some(d),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
