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

use crate::policy::{Limits, Platform, Policy};

mod credentials;
mod kinds;
mod schema;
mod warnings;
pub use kinds::{
    arrivals_until, parse_instances, parse_stages, rate_at, Alignment, OnKick, Stage, Think,
};
pub use schema::*;
pub use warnings::check_warnings;

/// A scenario whose values have been checked, with its derived parts parsed.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub scenario: Scenario,
    pub policy: Policy,
    pub platforms: Vec<Platform>,
    pub stages: Vec<Stage>,
    pub credentials: Option<Vec<(String, String)>>,
    pub thresholds: Vec<crate::model::Threshold>,
    /// The share of the accounts this process runs (`--shard`; whole by default).
    pub shard: crate::shard::Shard,
    /// The backend's wire protocol (`target.protocol`), read and checked.
    pub profile: std::sync::Arc<crate::profile::Profile>,
    /// Write every frame of the first instance here (`run --trace-frames`).
    pub trace_frames: Option<std::path::PathBuf>,
}

/// A scenario that cannot be run, naming the file, the key or the `--set` at fault.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", plain(&.0.to_string()))]
    Toml(#[from] toml::de::Error),
    #[error("--set {0:?}: expected key=value, e.g. accounts.count=100")]
    OverrideSyntax(String),
    #[error("--set {key}: {part} is not a table")]
    OverrideNotATable { key: String, part: String },
    /// A value in one of the small languages (limits, instances, stages, thresholds…).
    #[error("{key}: {source}")]
    Parse {
        key: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A value out of its range, or settings that do not go together.
    #[error("{key} {problem}")]
    Invalid { key: String, problem: String },
    /// What a `--set` override made wrong (the file alone was fine).
    #[error("--set {set}: {source}")]
    InOverride {
        set: String,
        #[source]
        source: Box<ScenarioError>,
    },
    #[error("{path}: {source}")]
    InFile {
        path: String,
        #[source]
        source: Box<ScenarioError>,
    },
}

impl ScenarioError {
    fn parse(key: impl Into<String>, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ScenarioError::Parse {
            key: key.into(),
            source: Box::new(e),
        }
    }

    fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ScenarioError::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }

    fn in_file(path: &Path, e: ScenarioError) -> Self {
        if matches!(e, ScenarioError::InOverride { .. }) {
            return e;
        }
        ScenarioError::InFile {
            path: path.display().to_string(),
            source: Box::new(e),
        }
    }
}

/// A TOML error in a user's words: serde names Rust types (`expected u32`); a scenario's
/// author wants to know what to write.
fn plain(msg: &str) -> String {
    let mut m = msg.to_string();
    for (rust, words) in [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
        ("floating point `", "the number `"),
        ("integer `", "the number `"),
        ("invalid type: ", "wrong type: "),
        ("invalid value: ", "out of range: "),
    ] {
        m = m.replace(rust, words);
    }
    m
}

/// Simulated SDK instances one process creates at most.
pub const MAX_INSTANCES: u64 = 2_000_000;
/// Worker threads of the embedded server at most (as `serve --workers`).
pub use crate::protocol::defaults::MAX_SERVER_WORKERS;

/// Read, override and validate a scenario file.
pub fn load(path: &Path, overrides: &[String]) -> Result<Resolved, ScenarioError> {
    let text =
        crate::input::read_text_io(path, crate::input::Links::Follow, crate::input::MAX_CONFIG)
            .map_err(|source| ScenarioError::Read {
                path: path.display().to_string(),
                source,
            })?;
    let mut s = parse(&text, overrides).map_err(|e| ScenarioError::in_file(path, e))?;
    if s.name.is_empty() {
        s.name = path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into());
    }
    let base = path.parent().unwrap_or(Path::new("."));
    resolve(s, base).map_err(|e| ScenarioError::in_file(path, e))
}

/// Parse and validate scenario text as [`load`] does a file's (relative paths from `base`).
pub fn load_text(text: &str, base: &Path, overrides: &[String]) -> Result<Resolved, ScenarioError> {
    resolve(parse(text, overrides)?, base)
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

fn apply_override(tree: &mut toml::Table, o: &str) -> Result<(), ScenarioError> {
    let (key, value) = o
        .split_once('=')
        .ok_or_else(|| ScenarioError::OverrideSyntax(o.into()))?;
    let value = value.trim();
    // A TOML literal if it parses as one (numbers, booleans, quoted strings), else a bare string.
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    let mut node = tree;
    for p in &parts[..parts.len() - 1] {
        node = node
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .ok_or_else(|| ScenarioError::OverrideNotATable {
                key: key.into(),
                part: p.to_string(),
            })?;
    }
    node.insert(parts[parts.len() - 1].to_string(), parsed);
    Ok(())
}

/// Resolve a scenario a report recorded (`run.json`'s `resolved_scenario`) for reporting on
/// it — `merge` — without reading its credentials file, which a merge need not have.
pub fn resolve_recorded(s: Scenario) -> Result<Resolved, ScenarioError> {
    let credentials = s.target.credentials.clone();
    let protocol = s.target.protocol.clone();
    let mut bare = s;
    bare.target.credentials = None;
    bare.target.protocol = String::new();
    let mut r = resolve(bare, Path::new("."))?;
    r.scenario.target.credentials = credentials;
    r.scenario.target.protocol = protocol;
    Ok(r)
}

fn resolve(s: Scenario, base: &Path) -> Result<Resolved, ScenarioError> {
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
    let ws = |u: &str| u.starts_with("ws://") || u.starts_with("wss://");
    let http = |u: &str| u.starts_with("http://") || u.starts_with("https://");
    if !s.target.url.is_empty() && !ws(&s.target.url) {
        return Err(ScenarioError::invalid(
            format!("target.url {:?}", s.target.url),
            "must start with ws:// or wss://",
        ));
    }
    if !s.target.admin_url.is_empty() && !http(&s.target.admin_url) {
        return Err(ScenarioError::invalid(
            format!("target.admin_url {:?}", s.target.admin_url),
            "must start with http:// or https://",
        ));
    }
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
            "target.key",
            "is empty; a UserSig signed with an empty key is refused by any backend that has one",
        ));
    }
    let mut s = s;
    if let Some(ca) = &s.target.ca_file {
        if !ca.is_absolute() {
            s.target.ca_file = Some(base.join(ca));
        }
    }
    let credentials = match &s.target.credentials {
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
    let r = Resolved {
        thresholds,
        shard: crate::shard::Shard::WHOLE,
        profile: profile_for(&s, &stages, &s.target.protocol, base)?,
        trace_frames: None,
        policy: Policy {
            limits,
            mode: s.policy.mode,
        },
        platforms,
        stages,
        credentials,
        scenario: s,
    };
    Ok(r)
}

/// The protocol profile `spec`, read and checked against what the scenario's enabled checks
/// need.
fn profile_for(
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

fn planned_duration(sc: &Scenario, stages: &[Stage]) -> Option<Duration> {
    match (sc.load.model, sc.load.duration.0) {
        (LoadModel::Open, _) => Some(stages.iter().map(|s| s.over).sum()),
        (_, d) if !d.is_zero() => Some(d),
        _ => None,
    }
}

impl Resolved {
    pub fn user_id(&self, n: u32) -> String {
        match &self.credentials {
            Some(c) => c[n as usize].0.clone(),
            None => self
                .scenario
                .accounts
                .id_pattern
                .replace("{n}", &n.to_string()),
        }
    }

    /// Instances this process runs: its shard's accounts × instances per account.
    pub fn instances(&self) -> u64 {
        u64::from(self.accounts_owned()) * self.platforms.len() as u64
    }

    /// The open model's plan as this process offers it: the stages' rates × its share of the
    /// accounts (what its reports and display call "offered"). The engine paces the whole
    /// plan's arrivals and sends its own, so these are for figures only.
    pub fn own_stages(&self) -> Vec<Stage> {
        let f = self.shard_fraction();
        self.stages
            .iter()
            .map(|s| Stage {
                rate: s.rate * f,
                over: s.over,
            })
            .collect()
    }

    /// Speak the protocol `spec` (a shipped profile's name or a file, relative to `base`):
    /// read it, and refuse it if it lacks what this scenario's enabled checks need.
    pub fn use_profile(&mut self, spec: &str, base: &Path) -> Result<(), ScenarioError> {
        self.profile = profile_for(&self.scenario, &self.stages, spec, base)?;
        self.scenario.target.protocol = spec.to_string();
        Ok(())
    }

    /// Refuse a share too large for one process (each instance is an actor created before the
    /// run): checked once the shard is known, so a large scenario can still run as shards.
    pub fn check_process_size(&self) -> Result<(), ScenarioError> {
        let instances = self.instances();
        if instances > MAX_INSTANCES {
            return Err(ScenarioError::invalid(
                "accounts",
                format!(
                    "this process would run {} accounts × {} instances = {instances} instances; one process runs at most {MAX_INSTANCES} (each is an actor created before the run): split the accounts over processes with `run --processes N` or `run --shard I/N`",
                    self.accounts_owned(),
                    self.platforms.len()
                ),
            ));
        }
        Ok(())
    }

    /// Accounts this process runs (all of them unless sharded).
    pub fn accounts_owned(&self) -> u32 {
        self.shard.owned(self.scenario.accounts.count)
    }

    /// The share of the open model's arrivals (and of the closed model's ramp) that goes to this
    /// process's accounts: arrivals are dealt to accounts in turn.
    pub fn shard_fraction(&self) -> f64 {
        f64::from(self.accounts_owned()) / f64::from(self.scenario.accounts.count.max(1))
    }

    /// How long the run is planned to last, when that is known up front.
    pub fn planned_duration(&self) -> Option<Duration> {
        planned_duration(&self.scenario, &self.stages)
    }

    /// Cycles the whole run will do, when that is known up front (closed model with a count).
    pub fn cycles_planned(&self) -> Option<u64> {
        let c = self.scenario.cycle.cycles;
        (self.scenario.load.model == LoadModel::Closed && c > 0)
            .then(|| self.instances() * u64::from(c))
    }
}

#[cfg(test)]
mod tests;
