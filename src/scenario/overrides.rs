//! What the command line changes in a scenario: one type, flattened into `run` and `search`
//! (clap), applied while the scenario is loaded — never to a scenario already resolved.
//! Paths given here are relative to the current directory; paths in the file, to the file's.

use std::path::PathBuf;

/// The target-side flags every run-like command shares, and `--set`.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Override a scenario key, e.g. `--set accounts.count=1000 --set cycle.alignment=barrier`.
    /// Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// WebSocket URL of the backend (overrides `target.url`), e.g. ws://127.0.0.1:9090/ws, or
    /// for MQTT over TCP mqtt://127.0.0.1:1883; none: the embedded reference server.
    #[arg(long, value_name = "URL", env = "LOGINSTORM_TARGET")]
    pub target: Option<String>,
    /// Seed for every random choice (overrides the scenario's `seed`).
    #[arg(long, value_name = "N", env = "LOGINSTORM_SEED")]
    pub seed: Option<u64>,
    /// The backend's wire protocol (overrides `target.protocol`): a shipped profile
    /// (`loginstorm-v1`, the default; `webim`), a profile file (`loginstorm docs backends`),
    /// `mqtt` (an MQTT broker) or `xmpp` (an XMPP server; `loginstorm docs real-servers`).
    #[arg(long, value_name = "NAME|FILE", env = "LOGINSTORM_PROTOCOL")]
    pub protocol: Option<String>,
    /// Trust the CA certificates in this PEM file for `wss://` and `https://` (besides the
    /// Mozilla roots); overrides `target.ca_file`.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate: for a self-signed development server only (the
    /// connection is encrypted, but to a server nobody verified). Overrides `target.insecure`.
    #[arg(long)]
    pub insecure: bool,
    /// The secret key UserSigs are signed with (overrides `target.key`). Prefer the
    /// environment variable (a CI secret, a Kubernetes Secret): it stays out of process
    /// listings. Reports never show it.
    #[arg(
        long,
        value_name = "KEY",
        env = "LOGINSTORM_KEY",
        hide_env_values = true
    )]
    pub key: Option<String>,
}

impl Overrides {
    /// These overrides of the target, on a scenario as parsed (before any check, so a bad
    /// value is refused like the file's own). Paths given here stay relative to the current
    /// directory (`ca_file` and `protocol` are applied where the scenario's are resolved).
    pub(super) fn apply(&self, s: &mut super::Scenario) {
        if let Some(seed) = self.seed {
            s.seed = seed;
        }
        if let Some(t) = &self.target {
            s.target.url = t.clone();
        }
        if let Some(k) = &self.key {
            s.target.key = k.clone();
        }
        if self.insecure {
            s.target.insecure = true;
        }
    }

    /// Only `--set`s.
    pub fn sets<S: ToString>(sets: &[S]) -> Overrides {
        Overrides {
            sets: sets.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }
}

/// Set `key=value` in a scenario's TOML tree (a `--set`), before it is read.
pub(super) fn apply_override(tree: &mut toml::Table, o: &str) -> Result<(), super::ScenarioError> {
    use super::ScenarioError;
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
    let last = parts.len() - 1;
    let mut node = tree;
    let mut i = 0;
    while i < last {
        let p = parts[i];
        let entry = node
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
        // An array of tables (`[[chaos]]`): the next part is an entry's index, then its key.
        if let toml::Value::Array(items) = entry {
            let len = items.len();
            let item = parts[i + 1]
                .parse::<usize>()
                .ok()
                .filter(|_| i + 1 < last)
                .and_then(|n| items.get_mut(n))
                .and_then(toml::Value::as_table_mut)
                .ok_or_else(|| {
                    ScenarioError::invalid(
                        key.trim(),
                        format!(
                            "{p} is a list of {len} entries: name one by its index and a key of it, e.g. {p}.0.at"
                        ),
                    )
                })?;
            node = item;
            i += 2;
            continue;
        }
        node = entry
            .as_table_mut()
            .ok_or_else(|| ScenarioError::OverrideNotATable {
                key: key.into(),
                part: p.to_string(),
            })?;
        i += 1;
    }
    node.insert(parts[last].to_string(), parsed);
    Ok(())
}
