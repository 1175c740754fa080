//! The run plan: everything an actor needs to know, derived once from the resolved scenario and
//! shared (read-only) by every actor.

use std::net::{IpAddr, Ipv4Addr};

pub use super::endpoint::TargetError;
use super::endpoint::{tls_client, Endpoint};
use std::sync::Arc;
use std::time::Duration;

use crate::policy::{Platform, Policy};
use crate::scenario::{
    Alignment, ConnectionMode, CycleEnd, LoadModel, MessageTo, OnKick, Resolved,
};
use crate::units::DelayRange;
use crate::usersig;

/// How many unexplained frames a run keeps for `unmatched-frames.txt`.
pub const UNMATCHED_KEPT: usize = 20;

#[derive(Debug)]
pub struct Plan {
    /// The target's WebSocket endpoint (its path and query may hold placeholders).
    pub target: Endpoint,
    /// The admin API's endpoint, when the scenario kicks through it.
    pub admin_endpoint: Option<Endpoint>,
    /// The TLS client, when the target or the admin API is `wss://` / `https://`.
    pub tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
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
    /// Closed model: account cycles started per second while the accounts ramp up.
    pub ramp: f64,
    /// Open model: the whole run's arrival stages (each pacer sends its own accounts' share).
    pub stages: Vec<crate::scenario::Stage>,
    /// The run's seed (each account's is derived from it and the account's index).
    pub seed: u64,
    /// Admin kicks every so often (zero: none).
    pub admin_kick_interval: Duration,
    /// How long instances may take to wind down once the load stops.
    pub graceful_stop: Duration,
    pub cycles: u32,
    pub hold: DelayRange,
    pub message_interval: Option<Duration>,
    pub message_to: MessageTo,
    /// Accounts in the whole scenario (every shard's).
    pub accounts: u32,
    /// The accounts this process runs.
    pub shard: crate::shard::Shard,
    /// The backend's wire protocol.
    pub profile: Arc<crate::profile::Profile>,
    /// The wire protocol the instances speak through their drivers (`crate::driver`).
    pub wire: crate::driver::Wire,
    /// The first frames the profile could not explain, from any instance of this run.
    unmatched: std::sync::Mutex<Vec<String>>,
    /// `--trace-frames`: every frame of this process's first instance goes here.
    trace: Option<std::sync::Mutex<std::io::BufWriter<std::fs::File>>>,
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
    /// What an instance does when its connection is lost.
    pub reconnect: crate::scenario::Reconnect,
    /// The disruptions the run causes (`[[chaos]]`).
    pub disruptions: Vec<crate::scenario::Disruption>,
    /// How long the target holds a session whose connection vanished (a ghost) after the last
    /// request it answered, when known: the embedded server's `server.session_timeout`.
    pub ghost_hold: Option<Duration>,
    /// The current disruption, as instances ask about it.
    pub window: Arc<super::chaos::Window>,
    /// The network the connections go through (`[network]`).
    pub network: crate::scenario::Network,
    /// The trace model's schedule, and its speed.
    pub replay: Option<Arc<crate::trace::Trace>>,
    pub speed: f64,
}

impl Plan {
    pub fn new(r: &Resolved, url: &str) -> Result<Arc<Plan>, TargetError> {
        let s = &r.scenario;
        let target = Endpoint::parse(url, false)?;
        if target.raw && !matches!(r.wire, crate::driver::Wire::Mqtt(_)) {
            return Err(TargetError::RawNotMqtt(url.into()));
        }
        let admin_endpoint = if s.admin_kick.interval.0.is_zero() {
            None
        } else if s.target.admin_url.is_empty() {
            Some(Endpoint::parse(&Endpoint::admin_url_for(url), true)?)
        } else {
            Some(Endpoint::parse(&s.target.admin_url, true)?)
        };
        let tls = if target.tls_name.is_some()
            || admin_endpoint
                .as_ref()
                .is_some_and(|a| a.tls_name.is_some())
        {
            Some(tls_client(s.target.ca_file.as_deref(), s.target.insecure)?)
        } else {
            None
        };
        // A wave's kicks are exact when its logins all meet a live account: a barrier, or a
        // jitter window shorter than the shortest hold (else early instances may leave first) —
        // any jitter window with the checks on, since instances then hold until the wave is
        // judged.
        let aligned = match s.cycle.alignment {
            Alignment::Barrier => true,
            Alignment::Jitter(_) | Alignment::Stagger(_) => {
                s.checks.enabled || s.cycle.alignment.window(r.platforms.len()) < s.cycle.hold.min
            }
            Alignment::Independent => false,
        };
        let exact = aligned && !matches!(s.cycle.on_kick, OnKick::Relogin(_));
        let epoch = tokio::time::Instant::now();
        Ok(Arc::new(Plan {
            target,
            admin_endpoint,
            tls,
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
            ramp: s.load.ramp,
            stages: r.stages.clone(),
            seed: s.seed,
            admin_kick_interval: s.admin_kick.interval.0,
            graceful_stop: s.timeouts.graceful_stop.0,
            cycles: s.cycle.cycles,
            hold: s.cycle.hold,
            message_interval: (s.cycle.message_rate > 0.0)
                .then(|| Duration::from_secs_f64(1.0 / s.cycle.message_rate)),
            message_to: s.cycle.message_to,
            accounts: s.accounts.count,
            shard: r.shard,
            profile: r.profile.clone(),
            wire: r.wire.clone(),
            unmatched: std::sync::Mutex::new(Vec::new()),
            trace: match &r.trace_frames {
                None => None,
                Some(p) => Some(std::sync::Mutex::new(std::io::BufWriter::new(
                    std::fs::File::create(p).map_err(|source| TargetError::Trace {
                        path: p.display().to_string(),
                        source,
                    })?,
                ))),
            },
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
            epoch,
            planned: r.planned_duration(),
            expected_per_wave: exact.then(|| r.policy.expected_kicks(&r.platforms)),
            reconnect: s.reconnect.clone(),
            disruptions: s.chaos.clone(),
            ghost_hold: s
                .target
                .url
                .is_empty()
                .then(|| match s.server.session_timeout.0 {
                    t if t.is_zero() => Duration::MAX,
                    t => t,
                }),
            window: Arc::new(super::chaos::Window::new(epoch)),
            network: s.network.clone(),
            replay: r.trace.clone(),
            speed: s.load.speed.max(1e-3),
        }))
    }

    /// Keep a frame no rule of the profile explains (only the first [`UNMATCHED_KEPT`], each cut
    /// to 2 KiB; the rest are only counted).
    pub fn keep_unmatched(&self, instance: &str, text: &str) {
        let Ok(mut kept) = self.unmatched.lock() else {
            return;
        };
        if kept.len() < UNMATCHED_KEPT {
            kept.push(format!(
                "{instance}\t{}",
                crate::protocol::truncate(text, 2048)
            ));
        }
    }

    /// Whether instance `slot` of account `n` is the one `--trace-frames` follows: this
    /// process's first.
    pub fn traces(&self, n: u32, slot: u8) -> bool {
        self.trace.is_some() && n == self.shard.index && slot == 0
    }

    /// Write one frame of the traced instance: milliseconds since the run's start, `>` sent
    /// or `<` received, the frame.
    pub fn trace_frame(&self, sent: bool, text: &str) {
        use std::io::Write;
        if let Some(Ok(mut w)) = self.trace.as_ref().map(|t| t.lock()) {
            let ms = self.epoch.elapsed().as_secs_f64() * 1e3;
            let _ = writeln!(w, "{ms:>10.3} {} {text}", if sent { '>' } else { '<' });
            let _ = w.flush();
        }
    }

    /// The unexplained frames kept.
    pub fn take_unmatched(&self) -> Vec<String> {
        self.unmatched
            .lock()
            .map(|mut k| std::mem::take(&mut *k))
            .unwrap_or_default()
    }

    /// Whether instances of a wave stay logged in, once their hold ends, until the account has
    /// judged the wave: with the checks on and logins lined up in waves.
    pub fn holds_for_judgment(&self) -> bool {
        self.checks.enabled && self.alignment != Alignment::Independent
    }

    pub fn user_id(&self, n: u32) -> String {
        if let Some(t) = &self.replay {
            return t.users[n as usize].clone();
        }
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

    /// The seed of connection `k`'s network, when it goes through `[network]` (a share of
    /// the instances, chosen by the run's seed); `None`: it connects as it is.
    pub fn shaped(&self, instance: u64, k: u64) -> Option<u64> {
        if !self.network.active() {
            return None;
        }
        let mut pick =
            fastrand::Rng::with_seed(self.seed ^ instance.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        (pick.f64() < self.network.share).then(|| pick.u64(..) ^ k)
    }

    /// Source address for the `k`-th connection (spread over 127.0.0.0/8 when asked).
    pub fn local_addr(&self, k: u64) -> Option<IpAddr> {
        let addr = self.target.addr;
        if self.local_addrs <= 1 || !addr.ip().is_loopback() || !addr.is_ipv4() {
            return None;
        }
        let base = u32::from(Ipv4Addr::new(127, 0, 0, 1));
        Some(IpAddr::V4(Ipv4Addr::from(
            base + (k % u64::from(self.local_addrs)) as u32,
        )))
    }
}
