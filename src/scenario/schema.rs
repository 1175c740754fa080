//! The scenario file's schema: every table and key, with its default. Unknown keys are refused
//! (`deny_unknown_fields`); values are checked and derived parts parsed by the resolution in
//! `mod.rs`. Every key is documented in docs/scenarios.md.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

pub use super::wire_schema::{Mqtt, Xmpp};
use super::{Alignment, OnKick, Think};
use crate::faults::Faults;
use crate::policy::PlatformMode;
use crate::protocol::defaults::{DEFAULT_ADMIN, DEV_KEY, DEV_SDKAPPID};
use crate::units::{DelayRange, Dur};

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
    /// MQTT settings, for `target.protocol = "mqtt"` (docs/real-servers.md).
    #[serde(default)]
    pub mqtt: Mqtt,
    /// XMPP settings, for `target.protocol = "xmpp"` (docs/real-servers.md).
    #[serde(default)]
    pub xmpp: Xmpp,
    #[serde(default)]
    pub checks: Checks,
    /// What an instance does when its connection is lost (docs/scenarios.md).
    #[serde(default)]
    pub reconnect: super::Reconnect,
    /// The network the instances' connections go through (docs/scenarios.md).
    #[serde(default)]
    pub network: super::Network,
    /// Disruptions on a schedule: `[[chaos]]` entries, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chaos: Vec<super::Disruption>,
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
    /// Checks this scenario knowingly leaves unjudged (by name: `victim_order`, …): a setting
    /// that blinds only these prints no warning. The run still shows them as not judged.
    pub unjudged: Vec<String>,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            enabled: true,
            probe_after_kick: 0.25,
            probe_after_logout: 0.05,
            max_listed: 10_000,
            error_budget: 0.01,
            unjudged: Vec::new(),
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
    /// The backend's wire protocol: a shipped profile's name (`loginstorm-v1`, `webim`) or a
    /// profile file (docs/backends.md); empty = `loginstorm-v1`.
    pub protocol: String,
    /// Where the admin REST API is (`http://…` or `https://…`); empty = the target's host and
    /// port (`ws` → `http`, `wss` → `https`).
    pub admin_url: String,
    /// PEM file of CA certificates trusted for `wss://` / `https://` besides the Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate (a self-signed development server). Never against a
    /// server you must trust.
    pub insecure: bool,
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
            protocol: String::new(),
            admin_url: String::new(),
            ca_file: None,
            insecure: false,
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
    /// Close a connection that sent nothing for this long, ending its session (a ghost's
    /// bound); 0 = never (the instances say nothing while they hold).
    pub session_timeout: Dur,
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
    /// Replay `load.trace` at `load.speed` (docs/scenarios.md, "Replayed traces").
    Trace,
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
    /// Past this 99th percentile of `schedule_lag` the generator itself was late and the
    /// latency figures are marked unreliable.
    pub max_schedule_lag: Dur,
    /// The trace model: a CSV of `offset,userID,platform,action`, relative to the scenario.
    pub trace: Option<PathBuf>,
    /// The trace model: replay this many times faster (2 = twice as fast).
    pub speed: f64,
}

impl Default for Load {
    fn default() -> Self {
        Load {
            model: LoadModel::Closed,
            ramp: 0.0,
            duration: Dur(Duration::ZERO),
            stages: String::new(),
            max_schedule_lag: Dur(Duration::from_millis(1)),
            trace: None,
            speed: 1.0,
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
