//! `loginstorm serve`'s flags and the server configuration they make.

use clap::Args;
use std::net::SocketAddr;

use crate::policy::{Limits, PlatformMode, Policy};
use crate::server::{Faults, ServerConfig, DEFAULT_ADMIN, DEV_KEY, DEV_SDKAPPID};
use crate::units::{DelayRange, Dur};

/// Settings of the reference server.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:9090", value_name = "HOST:PORT")]
    pub listen: SocketAddr,
    /// The server's SDKAppID; logins and admin calls must name it.
    #[arg(long, default_value_t = DEV_SDKAPPID, value_name = "N")]
    pub sdkappid: u64,
    /// Secret key that signs UserSigs. The default is a documented development key: never use it
    /// on a reachable address.
    #[arg(long, default_value = DEV_KEY, value_name = "KEY", hide_default_value = true,
          value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub key: String,
    /// Identifier of the admin account allowed to call the REST API.
    #[arg(long, default_value = DEFAULT_ADMIN, value_name = "ID")]
    pub admin: String,
    /// Max login instances per user per platform, e.g. `Web=3,Android=2`. Unnamed platforms keep
    /// 1; Web allows up to 10, native platforms up to 3.
    #[arg(long, default_value = "", value_name = "LIST", value_parser = parse_limits)]
    pub limits: Limits,
    /// Which platforms exclude each other: single (all), dual (natives | Web), three
    /// (mobile | desktop | Web) or multi (none).
    #[arg(long, default_value = "multi", value_name = "MODE", value_parser = parse_mode)]
    pub mode: PlatformMode,
    /// Delay between a login response and `sdkStateReady`: fixed (`50ms`) or uniform in a range
    /// (`20ms..200ms`).
    #[arg(long, default_value = "0", value_name = "DELAY")]
    pub ready_delay: DelayRange,
    /// Worker threads, each with one shard of accounts; 0 = one per core (at most 1024).
    #[arg(long, default_value_t = 0, value_name = "N",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=crate::server::MAX_WORKERS as u64))]
    pub workers: usize,
    /// Fault: probability of kicking silently (no kickedOut / sdkStateNotReady).
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "P",
        help_heading = "Fault injection (probabilities 0..=1, all off by default)"
    )]
    pub fault_drop_kick: f64,
    /// Fault: probability that a kicked session stays authenticated (zombie).
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "P",
        help_heading = "Fault injection (probabilities 0..=1, all off by default)"
    )]
    pub fault_zombie: f64,
    /// Fault: probability of admitting a login over the limit without kicking.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "P",
        help_heading = "Fault injection (probabilities 0..=1, all off by default)"
    )]
    pub fault_over_admit: f64,
    /// Fault: probability of kicking the newest same-platform instance instead of the oldest.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "P",
        help_heading = "Fault injection (probabilities 0..=1, all off by default)"
    )]
    pub fault_kick_newest: f64,
    /// Fault: probability of sending the wrong kick type.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "P",
        help_heading = "Fault injection (probabilities 0..=1, all off by default)"
    )]
    pub fault_wrong_kick_type: f64,
    /// Fault: probability of never sending sdkStateReady after a login.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "P",
        help_heading = "Fault injection (probabilities 0..=1, all off by default)"
    )]
    pub fault_no_ready: f64,
    /// Fault: probability that a login kicks one more same-platform instance than the policy
    /// allows (a stricter limit, or a second victim).
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "P",
        help_heading = "Fault injection (probabilities 0..=1, all off by default)"
    )]
    pub fault_extra_victim: f64,
    /// Fault: probability that a login also kicks an instance of another account.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "P",
        help_heading = "Fault injection (probabilities 0..=1, all off by default)"
    )]
    pub fault_foreign_kick: f64,
    /// Fault: probability that a login whose victim is a ghost (a session kept after a gateway
    /// restart dropped its connection) kicks the oldest live instance instead.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "P",
        help_heading = "Fault injection (probabilities 0..=1, all off by default)"
    )]
    pub fault_ghost_kick: f64,
    /// Serve live metrics: OpenMetrics / Prometheus text on `GET http://ADDR/metrics`
    /// (connections, partial-message bytes, logins, kicks by type; `loginstorm docs reports`).
    #[arg(long, value_name = "ADDR", value_parser = crate::live_metrics::parse_listen)]
    pub metrics_listen: Option<SocketAddr>,
    /// A WebSocket connection must send its first login within this time of the upgrade, or it
    /// is closed with 1008 (policy violation). 0 = no deadline.
    #[arg(long, default_value = "30s", value_name = "DURATION", help_heading = BUDGETS)]
    pub login_timeout: Dur,
    /// Close a connection that has sent nothing (no request, no ping) for this long, with 1000:
    /// a client gone without a close (its network lost) does not hold its slot forever. Far
    /// past any SDK heartbeat; a client that holds a session longer in silence must send
    /// `ping`. 0 = never.
    #[arg(long, default_value = "10m", value_name = "DURATION", help_heading = BUDGETS)]
    pub idle_timeout: Dur,
    /// An HTTP request — the upgrade, or a REST call with its body — must arrive within this
    /// time (408 for a stalled REST body; the connection is closed).
    #[arg(long, default_value = "10s", value_name = "DURATION", help_heading = BUDGETS)]
    pub request_timeout: Dur,
    /// Open TCP connections at most; past it a new one gets 503 before any upgrade. 0 = the
    /// open-file limit less 256.
    #[arg(long, default_value_t = 0, value_name = "N", help_heading = BUDGETS)]
    pub max_connections: usize,
    /// Bytes of partly received WebSocket messages held over all connections (e.g. 64MiB); past
    /// it the connections holding the most are closed with 1009.
    #[arg(long, default_value = "64MiB", value_name = "BYTES", value_parser = parse_bytes, help_heading = BUDGETS)]
    pub frame_budget: usize,
    /// The wire format: `v1` (`loginstorm docs protocol`) or `webim`, a second dialect that differs in
    /// every dimension a protocol profile covers (`profiles/webim.toml`; `loginstorm docs protocol`).
    #[arg(long, default_value = "v1", value_name = "NAME")]
    pub dialect: crate::server::Dialect,
    /// Webim: how often the server sends a heartbeat the client must answer; one unanswered
    /// for two intervals closes the connection (1008). 0 = none.
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub heartbeat: Dur,
    /// Serve TLS (`wss://…/ws`, `https://…/v4/…`) with this PEM certificate chain (leaf
    /// first); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Seed of the fault dice, for reproducible faulty runs.
    #[arg(
        long,
        default_value_t = 0,
        value_name = "N",
        help_heading = "Fault injection (probabilities 0..=1, all off by default)"
    )]
    pub fault_seed: u64,
}

/// `serve` flags that do not make a server.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Fault(#[from] crate::faults::FaultError),
    #[error("--key must not be empty")]
    EmptyKey,
    #[error("--request-timeout must be above 0")]
    ZeroRequestTimeout,
    #[error(transparent)]
    Tls(#[from] crate::server::tls::TlsError),
}

impl ServeArgs {
    pub fn into_config(self) -> Result<ServerConfig, ConfigError> {
        let faults = Faults {
            drop_kick: self.fault_drop_kick,
            zombie: self.fault_zombie,
            over_admit: self.fault_over_admit,
            kick_newest: self.fault_kick_newest,
            wrong_kick_type: self.fault_wrong_kick_type,
            no_ready: self.fault_no_ready,
            extra_victim: self.fault_extra_victim,
            foreign_kick: self.fault_foreign_kick,
            ghost_kick: self.fault_ghost_kick,
        };
        faults.validate()?;
        if self.key.is_empty() {
            return Err(ConfigError::EmptyKey);
        }
        if self.request_timeout.0.is_zero() {
            return Err(ConfigError::ZeroRequestTimeout);
        }
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => Some(crate::server::tls::server_config(c, k)?),
            _ => None,
        };
        Ok(ServerConfig {
            dialect: self.dialect,
            heartbeat: self.heartbeat.0,
            tls,
            listen: self.listen,
            sdkappid: self.sdkappid,
            key: self.key,
            admin: self.admin,
            policy: Policy {
                limits: self.limits,
                mode: self.mode,
            },
            ready_delay: self.ready_delay,
            faults,
            fault_seed: self.fault_seed,
            workers: self.workers,
            limits: crate::server::ServerLimits {
                login_timeout: self.login_timeout.0,
                idle_timeout: self.idle_timeout.0,
                request_timeout: self.request_timeout.0,
                max_connections: self.max_connections,
                frame_budget: self.frame_budget,
            },
        })
    }
}

const BUDGETS: &str = "Budgets and timeouts (the server sheds what would take it down)";

/// What is wrong with a byte count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BytesError {
    #[error("{0:?}: expected a byte count such as 64MiB")]
    NotACount(String),
    #[error("{input:?}: unknown unit {unit:?} (use B, KiB, MiB or GiB)")]
    Unit { input: String, unit: String },
    #[error("{0:?}: must be above 0 and fit in memory")]
    Range(String),
}

/// A byte count: `65536`, `64KiB`, `64MiB`, `1GiB` (binary units; `KB`/`MB`/`GB` mean the same).
fn parse_bytes(s: &str) -> Result<usize, BytesError> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| BytesError::NotACount(s.to_string()))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        u => {
            return Err(BytesError::Unit {
                input: s.to_string(),
                unit: u.to_string(),
            })
        }
    };
    n.checked_mul(mult)
        .filter(|&b| b > 0)
        .ok_or_else(|| BytesError::Range(s.to_string()))
}

fn parse_limits(s: &str) -> Result<Limits, crate::policy::PolicyError> {
    s.parse()
}

fn parse_mode(s: &str) -> Result<PlatformMode, crate::policy::PolicyError> {
    s.parse()
}
