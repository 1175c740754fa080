//! The run plan: everything an actor needs to know, derived once from the resolved scenario and
//! shared (read-only) by every actor.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::policy::{Platform, Policy};
use crate::scenario::{
    Alignment, ConnectionMode, CycleEnd, LoadModel, MessageTo, OnKick, Resolved,
};
use crate::units::DelayRange;
use crate::usersig;

#[derive(Debug)]
pub struct Plan {
    pub url: String,
    pub addr: SocketAddr,
    pub local_addrs: u32,
    pub sdkappid: u64,
    pub key: String,
    pub admin: String,
    pub sig_lifetime: u64,
    pub credentials: Option<Vec<(String, String)>>,
    pub id_pattern: String,
    pub platforms: Vec<Platform>,
    pub policy: Policy,
    pub model: LoadModel,
    pub cycles: u32,
    pub hold: DelayRange,
    pub message_interval: Option<Duration>,
    pub message_to: MessageTo,
    /// Accounts in the whole scenario (every shard's).
    pub accounts: u32,
    /// The accounts this process runs.
    pub shard: crate::shard::Shard,
    pub end: CycleEnd,
    pub connection: ConnectionMode,
    pub think: crate::scenario::Think,
    pub alignment: Alignment,
    pub on_kick: OnKick,
    pub connect_timeout: Duration,
    pub login_timeout: Duration,
    pub ready_timeout: Duration,
    pub logout_timeout: Duration,
    pub kick_timeout: Duration,
    pub checks: crate::scenario::Checks,
    /// Time zero of the run's histories (timestamps in violations.csv count from here).
    pub epoch: tokio::time::Instant,
    /// How long the run is planned to last, when known (open model, or `load.duration`).
    pub planned: Option<Duration>,
    /// Kicks expected per wave of all instances (min, max over login orders), when the
    /// alignment makes that exact.
    pub expected_per_wave: Option<(u64, u64)>,
}

impl Plan {
    pub fn new(r: &Resolved, url: &str) -> Result<Arc<Plan>, TargetError> {
        let s = &r.scenario;
        let addr = target_addr(url)?;
        // A wave's kicks are exact when its logins all meet a live account: a barrier, or a
        // jitter window shorter than the shortest hold (else early instances may leave first) —
        // any jitter window with the checks on, since instances then hold until the wave is
        // judged.
        let aligned = match s.cycle.alignment {
            Alignment::Barrier => true,
            Alignment::Jitter(w) => s.checks.enabled || w < s.cycle.hold.min,
            Alignment::Independent => false,
        };
        let exact = aligned && !matches!(s.cycle.on_kick, OnKick::Relogin(_));
        Ok(Arc::new(Plan {
            url: url.to_string(),
            addr,
            local_addrs: s.target.local_addrs,
            sdkappid: s.target.sdkappid,
            key: s.target.key.clone(),
            admin: s.target.admin.clone(),
            sig_lifetime: s.target.sig_lifetime.0.as_secs().max(1),
            credentials: r.credentials.clone(),
            id_pattern: s.accounts.id_pattern.clone(),
            platforms: r.platforms.clone(),
            policy: r.policy,
            model: s.load.model,
            cycles: s.cycle.cycles,
            hold: s.cycle.hold,
            message_interval: (s.cycle.message_rate > 0.0)
                .then(|| Duration::from_secs_f64(1.0 / s.cycle.message_rate)),
            message_to: s.cycle.message_to,
            accounts: s.accounts.count,
            shard: r.shard,
            end: s.cycle.end,
            connection: s.cycle.connection,
            think: s.cycle.think,
            alignment: s.cycle.alignment,
            on_kick: s.cycle.on_kick,
            connect_timeout: s.timeouts.connect.0,
            login_timeout: s.timeouts.login.0,
            ready_timeout: s.timeouts.ready.0,
            logout_timeout: s.timeouts.logout.0,
            kick_timeout: s.timeouts.kick.0,
            checks: s.checks.clone(),
            epoch: tokio::time::Instant::now(),
            planned: r.planned_duration(),
            expected_per_wave: exact.then(|| r.policy.expected_kicks(&r.platforms)),
        }))
    }

    /// Whether instances of a wave stay logged in, once their hold ends, until the account has
    /// judged the wave: with the checks on and logins lined up in waves.
    pub fn holds_for_judgment(&self) -> bool {
        self.checks.enabled && self.alignment != Alignment::Independent
    }

    pub fn user_id(&self, n: u32) -> String {
        match &self.credentials {
            Some(c) => c[n as usize].0.clone(),
            None => self.id_pattern.replace("{n}", &n.to_string()),
        }
    }

    /// Microseconds since the run's epoch.
    pub fn micros_since_epoch(&self, t: tokio::time::Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    /// Whether a sig minted at unix second `issued` has expired by now (with a second of slack
    /// for clock edges); always true for sigs from a credentials file, whose life is unknown.
    pub fn sig_expired(&self, issued: Option<u64>) -> bool {
        match issued {
            Some(t) => crate::unix_now() + 1 > t + self.sig_lifetime,
            None => true,
        }
    }

    /// A UserSig for a login of account `n`, issued now (or at `not_before`, if later).
    /// `cache` holds the last one minted: within the same second it is the same string, so it
    /// is reused instead of re-signed.
    pub fn user_sig(
        &self,
        n: u32,
        user: &str,
        not_before: u64,
        cache: &mut Option<(u64, Arc<str>)>,
    ) -> Arc<str> {
        if let Some(c) = &self.credentials {
            return Arc::from(c[n as usize].1.as_str());
        }
        let time = crate::unix_now().max(not_before);
        match cache {
            Some((t, sig)) if *t == time => sig.clone(),
            _ => {
                let sig: Arc<str> = Arc::from(usersig::generate(
                    self.sdkappid,
                    &self.key,
                    user,
                    time,
                    self.sig_lifetime,
                    None,
                ));
                *cache = Some((time, sig.clone()));
                sig
            }
        }
    }

    /// Source address for the `k`-th connection (spread over 127.0.0.0/8 when asked).
    pub fn local_addr(&self, k: u64) -> Option<IpAddr> {
        if self.local_addrs <= 1 || !self.addr.ip().is_loopback() || !self.addr.is_ipv4() {
            return None;
        }
        let base = u32::from(Ipv4Addr::new(127, 0, 0, 1));
        Some(IpAddr::V4(Ipv4Addr::from(
            base + (k % u64::from(self.local_addrs)) as u32,
        )))
    }
}

/// A target URL that names no reachable address.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("target {0:?} must start with ws://")]
    Scheme(String),
    #[error("cannot resolve target {url:?}: {source}")]
    Resolve {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("target {0:?} resolves to no address")]
    NoAddress(String),
}

/// Resolve `ws://host:port/path` to a socket address.
pub fn target_addr(url: &str) -> Result<SocketAddr, TargetError> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| TargetError::Scheme(url.into()))?;
    let hostport = rest.split('/').next().unwrap_or("");
    let with_port = if hostport
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    with_port
        .to_socket_addrs()
        .map_err(|source| TargetError::Resolve {
            url: url.into(),
            source,
        })?
        .next()
        .ok_or_else(|| TargetError::NoAddress(url.into()))
}
