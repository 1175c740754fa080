//! Scenario files (TOML): what to run, against what, and how logins line up.
//!
//! Every key is documented in `docs/scenarios.md`. Unknown keys and out-of-range values are
//! rejected naming the key. `--set key=value` overrides edit the TOML tree before it is read, so
//! the CLI and files share one parser.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::faults::Faults;
use crate::policy::{Limits, Platform, PlatformMode, Policy};
use crate::protocol::defaults::{DEFAULT_ADMIN, DEV_KEY, DEV_SDKAPPID};
use crate::units::{DelayRange, Dur};

mod kinds;
mod warnings;
pub use kinds::{parse_instances, parse_stages, rate_at, Alignment, OnKick, Stage, Think};
pub use warnings::check_warnings;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name used in the report directory; defaults to the file's stem.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Seed of every random choice the generator makes (think times, jitter, picks).
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub target: Target,
    #[serde(default)]
    pub server: EmbeddedServer,
    #[serde(default)]
    pub policy: PolicySpec,
    pub accounts: Accounts,
    #[serde(default)]
    pub cycle: Cycle,
    #[serde(default)]
    pub load: Load,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub admin_kick: AdminKick,
    #[serde(default)]
    pub checks: Checks,
    /// Pass/fail limits: `"login.p99" = "< 150ms"`, `violations = "== 0"`.
    #[serde(default)]
    pub thresholds: std::collections::BTreeMap<String, String>,
}

/// The policy checks (docs/checks.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Checks {
    pub enabled: bool,
    /// Probability that an instance probes (an authenticated request) right after `kickedOut`.
    pub probe_after_kick: f64,
    /// Probability that an instance probes right after its logout is answered.
    pub probe_after_logout: f64,
    /// At most this many violations are listed in violations.csv (all are counted).
    pub max_listed: usize,
    /// Fraction of operations (connects, logins, readies, logouts, messages) that may fail or
    /// time out before the run fails on the backend's health.
    pub error_budget: f64,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            enabled: true,
            probe_after_kick: 0.25,
            probe_after_logout: 0.25,
            max_listed: 10_000,
            error_budget: 0.01,
        }
    }
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Target {
    /// WebSocket URL of the backend; empty = start the embedded reference server.
    pub url: String,
    pub sdkappid: u64,
    /// Secret key used to mint UserSigs (and the admin's for REST kicks).
    pub key: String,
    /// CSV file of `userID,userSig` for backends whose key the tester does not hold.
    pub credentials: Option<PathBuf>,
    /// Lifetime of minted UserSigs.
    pub sig_lifetime: Dur,
    /// Admin identifier for REST calls.
    pub admin: String,
    /// Spread connections over this many loopback source addresses (127.0.0.1, .2, …).
    pub local_addrs: u32,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            url: String::new(),
            sdkappid: DEV_SDKAPPID,
            key: DEV_KEY.into(),
            credentials: None,
            sig_lifetime: Dur(Duration::from_secs(86400)),
            admin: DEFAULT_ADMIN.into(),
            local_addrs: 1,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedServer {
    pub ready_delay: DelayRange,
    /// Worker threads of the embedded server; 0 = one per core.
    pub workers: usize,
    pub faults: Faults,
    pub fault_seed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySpec {
    /// `Web=3,Android=2`; unnamed platforms keep 1.
    pub limits: String,
    pub mode: PlatformMode,
}

impl Default for PolicySpec {
    fn default() -> Self {
        PolicySpec {
            limits: String::new(),
            mode: PlatformMode::Multi,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    pub count: u32,
    /// `{n}` is replaced by the account number (0-based).
    #[serde(default = "default_pattern")]
    pub id_pattern: String,
    /// Instances of each account: `Web*3,Android` = three Web and one Android.
    #[serde(default = "default_instances")]
    pub instances: String,
}

fn default_pattern() -> String {
    "user-{n}".into()
}

fn default_instances() -> String {
    "Web".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CycleEnd {
    Logout,
    LogoutClose,
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionMode {
    Kept,
    Fresh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageTo {
    #[serde(rename = "self")]
    Myself,
    Peer,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cycle {
    /// Cycles per instance (closed model); 0 = until `load.duration`.
    pub cycles: u32,
    /// Time an instance stays ready before ending the cycle.
    pub hold: DelayRange,
    /// `sendMessage` per second while ready (0 = none).
    pub message_rate: f64,
    pub message_to: MessageTo,
    pub end: CycleEnd,
    pub connection: ConnectionMode,
    pub think: Think,
    pub alignment: Alignment,
    pub on_kick: OnKick,
}

impl Default for Cycle {
    fn default() -> Self {
        Cycle {
            cycles: 1,
            hold: DelayRange::fixed(Duration::from_millis(200)),
            message_rate: 0.0,
            message_to: MessageTo::Myself,
            end: CycleEnd::Logout,
            connection: ConnectionMode::Kept,
            think: Think::Fixed(Duration::from_millis(100)),
            alignment: Alignment::Independent,
            on_kick: OnKick::NextCycle,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadModel {
    Closed,
    Open,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Load {
    pub model: LoadModel,
    /// Closed model: new instances started per second (0 = all at once).
    pub ramp: f64,
    /// Stop after this long (0 = when every cycle is done). Required for the open model
    /// unless stages are given.
    pub duration: Dur,
    /// Open model: account cycles started per second, ramping linearly per stage:
    /// `"50,10s;200,30s;0,5s"` = ramp to 50/s over 10 s, to 200/s over 30 s, down to 0 over 5 s.
    pub stages: String,
}

impl Default for Load {
    fn default() -> Self {
        Load {
            model: LoadModel::Closed,
            ramp: 0.0,
            duration: Dur(Duration::ZERO),
            stages: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    pub connect: Dur,
    pub login: Dur,
    pub ready: Dur,
    pub logout: Dur,
    /// How long a kick may take to arrive (used by the checks).
    pub kick: Dur,
    /// After the run ends, instances get this long to log out before they are dropped.
    pub graceful_stop: Dur,
}

impl Default for Timeouts {
    fn default() -> Self {
        let s = |n| Dur(Duration::from_secs(n));
        Timeouts {
            connect: s(5),
            login: s(5),
            ready: s(5),
            logout: s(5),
            kick: s(2),
            graceful_stop: s(5),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminKick {
    /// Kick one random account through the REST API this often (0 = never).
    pub interval: Dur,
}

impl Default for AdminKick {
    fn default() -> Self {
        AdminKick {
            interval: Dur(Duration::ZERO),
        }
    }
}

/// A scenario whose values have been checked, with its derived parts parsed.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub scenario: Scenario,
    pub policy: Policy,
    pub platforms: Vec<Platform>,
    pub stages: Vec<Stage>,
    pub credentials: Option<Vec<(String, String)>>,
    pub thresholds: Vec<crate::model::Threshold>,
}

/// Read, override and validate a scenario file.
pub fn load(path: &Path, overrides: &[String]) -> Result<Resolved, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read scenario {}: {e}", path.display()))?;
    let mut s = parse(&text, overrides).map_err(|e| format!("{}: {e}", path.display()))?;
    if s.name.is_empty() {
        s.name = path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into());
    }
    let base = path.parent().unwrap_or(Path::new("."));
    resolve(s, base).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parse scenario TOML text with `key=value` overrides applied first.
pub fn parse(text: &str, overrides: &[String]) -> Result<Scenario, String> {
    let mut tree: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    for o in overrides {
        apply_override(&mut tree, o)?;
    }
    Scenario::deserialize(toml::Value::Table(tree)).map_err(|e| e.to_string())
}

fn apply_override(tree: &mut toml::Table, o: &str) -> Result<(), String> {
    let (key, value) = o
        .split_once('=')
        .ok_or_else(|| format!("--set {o:?}: expected key=value, e.g. accounts.count=100"))?;
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
            .ok_or_else(|| format!("--set {key}: {p} is not a table"))?;
    }
    node.insert(parts[parts.len() - 1].to_string(), parsed);
    Ok(())
}

fn resolve(s: Scenario, base: &Path) -> Result<Resolved, String> {
    let limits: Limits = s
        .policy
        .limits
        .parse()
        .map_err(|e| format!("policy.limits: {e}"))?;
    let platforms =
        parse_instances(&s.accounts.instances).map_err(|e| format!("accounts.instances: {e}"))?;
    if s.accounts.count == 0 || s.accounts.count > 10_000_000 {
        return Err("accounts.count must be within 1..=10000000".into());
    }
    if !s.accounts.id_pattern.contains("{n}") {
        return Err("accounts.id_pattern must contain {n}".into());
    }
    if !(0.0..=10_000.0).contains(&s.cycle.message_rate) {
        return Err("cycle.message_rate must be within 0..=10000".into());
    }
    for (name, p) in [
        ("checks.probe_after_kick", s.checks.probe_after_kick),
        ("checks.probe_after_logout", s.checks.probe_after_logout),
        ("checks.error_budget", s.checks.error_budget),
    ] {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("{name} must be within 0..=1"));
        }
    }
    if !(0.0..=1e6).contains(&s.load.ramp) {
        return Err("load.ramp must be within 0..=1000000".into());
    }
    s.server
        .faults
        .validate()
        .map_err(|e| format!("server.faults: {e}"))?;
    if s.target.local_addrs == 0 || s.target.local_addrs > 65_000 {
        return Err("target.local_addrs must be within 1..=65000".into());
    }
    if s.target.sig_lifetime.0 < Duration::from_secs(1) {
        return Err("target.sig_lifetime must be at least 1s".into());
    }
    if !s.target.url.is_empty() && !s.target.url.starts_with("ws://") {
        return Err(format!(
            "target.url {:?} must start with ws:// (TLS is not supported)",
            s.target.url
        ));
    }
    let stages = parse_stages(&s.load.stages).map_err(|e| format!("load.stages: {e}"))?;
    match s.load.model {
        LoadModel::Open if stages.is_empty() => {
            return Err(
                "load.stages is required for the open model (e.g. \"50,10s;50,30s\")".into(),
            )
        }
        LoadModel::Closed if !stages.is_empty() => {
            return Err(
                "load.stages applies to the open model only; set load.model = \"open\"".into(),
            )
        }
        _ => {}
    }
    if s.load.model == LoadModel::Closed && s.cycle.cycles == 0 && s.load.duration.0.is_zero() {
        return Err("cycle.cycles = 0 (unbounded) needs load.duration".into());
    }
    for (name, d) in [
        ("timeouts.connect", s.timeouts.connect),
        ("timeouts.login", s.timeouts.login),
        ("timeouts.ready", s.timeouts.ready),
        ("timeouts.logout", s.timeouts.logout),
        ("timeouts.kick", s.timeouts.kick),
    ] {
        if d.0.is_zero() {
            return Err(format!("{name} must be above 0"));
        }
    }
    let credentials = match &s.target.credentials {
        None => None,
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
            return Err(format!(
                "target.credentials holds {} accounts but accounts.count is {}",
                c.len(),
                s.accounts.count
            ));
        }
    }
    let thresholds = s
        .thresholds
        .iter()
        .map(|(k, v)| {
            crate::model::Threshold::from_entry(k, v).map_err(|e| format!("thresholds.{k}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Resolved {
        thresholds,
        policy: Policy {
            limits,
            mode: s.policy.mode,
        },
        platforms,
        stages,
        credentials,
        scenario: s,
    })
}

fn read_credentials(p: &Path) -> Result<Vec<(String, String)>, String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .from_path(p)
        .map_err(|e| format!("target.credentials {}: {e}", p.display()))?;
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| format!("target.credentials {}: {e}", p.display()))?;
        if rec.len() != 2 {
            return Err(format!(
                "target.credentials {} line {}: expected userID,userSig",
                p.display(),
                i + 1
            ));
        }
        out.push((rec[0].trim().to_string(), rec[1].trim().to_string()));
    }
    Ok(out)
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

    pub fn instances(&self) -> u64 {
        u64::from(self.scenario.accounts.count) * self.platforms.len() as u64
    }

    /// How long the run is planned to last, when that is known up front.
    pub fn planned_duration(&self) -> Option<Duration> {
        match (self.scenario.load.model, self.scenario.load.duration.0) {
            (LoadModel::Open, _) => Some(self.stages.iter().map(|s| s.over).sum()),
            (_, d) if !d.is_zero() => Some(d),
            _ => None,
        }
    }

    /// Cycles the whole run will do, when that is known up front (closed model with a count).
    pub fn cycles_planned(&self) -> Option<u64> {
        let c = self.scenario.cycle.cycles;
        (self.scenario.load.model == LoadModel::Closed && c > 0)
            .then(|| self.instances() * u64::from(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "[accounts]\ncount = 2\n";

    #[test]
    fn minimal_scenario_gets_defaults() {
        let s = parse(MIN, &[]).unwrap();
        assert_eq!(s.accounts.count, 2);
        assert_eq!(s.cycle.cycles, 1);
        let r = resolve(s, Path::new(".")).unwrap();
        assert_eq!(r.platforms, vec![Platform::Web]);
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse("[accounts]\ncount = 2\ncolor = 1\n", &[]).unwrap_err();
        assert!(e.contains("color"), "{e}");
        let e = parse("bogus = 1\n[accounts]\ncount = 2\n", &[]).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad = |extra: &str| {
            let s = parse(&format!("{MIN}{extra}"), &[]).unwrap();
            resolve(s, Path::new(".")).unwrap_err()
        };
        assert!(bad("[policy]\nlimits = \"Web=11\"\n").contains("policy.limits"));
        assert!(bad("[cycle]\nmessage_rate = -1.0\n").contains("cycle.message_rate"));
        assert!(bad("[load]\nmodel = \"open\"\n").contains("load.stages"));
        let e = parse(&format!("{MIN}[cycle]\nthink = \"sometimes\"\n"), &[]).unwrap_err();
        assert!(e.contains("think"), "{e}");
    }

    #[test]
    fn overrides_edit_the_tree() {
        let s = parse(
            MIN,
            &[
                "accounts.count=7".into(),
                "cycle.alignment=barrier".into(),
                "policy.limits=Web=3".into(),
            ],
        )
        .unwrap();
        assert_eq!(s.accounts.count, 7);
        assert_eq!(s.cycle.alignment, Alignment::Barrier);
        assert_eq!(s.policy.limits, "Web=3");
        assert!(parse(MIN, &["nokey".into()]).is_err());
    }

    #[test]
    fn instances_and_stages_parse() {
        assert_eq!(
            parse_instances("Web*2, Android").unwrap(),
            vec![Platform::Web, Platform::Web, Platform::Android]
        );
        assert!(parse_instances("Web*x").is_err());
        let st = parse_stages("10,10s;10,5s").unwrap();
        assert!((rate_at(&st, Duration::from_secs(5)) - 5.0).abs() < 1e-9);
        assert!((rate_at(&st, Duration::from_secs(12)) - 10.0).abs() < 1e-9);
        assert_eq!(rate_at(&st, Duration::from_secs(16)), 0.0);
    }

    #[test]
    fn think_times_sample_in_range() {
        let t: Think = "uniform:10ms..20ms".parse().unwrap();
        assert_eq!(t.sample(0.5), Duration::from_millis(15));
        let e: Think = "exp:100ms".parse().unwrap();
        assert!(e.sample(0.0).is_zero());
        assert!(e.sample(0.999) > Duration::from_millis(500));
        assert_eq!("fixed:1s".parse::<Think>().unwrap().to_string(), "fixed:1s");
    }
}
