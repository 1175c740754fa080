//! The multi-instance / multi-platform login policy, as a pure function.
//!
//! Given the live instances of one account in login order and a new login, [`Policy::decide`]
//! says which instances are kicked and with which [`KickType`]. The reference server enforces it;
//! the load generator uses the same code to compute what it expects of any backend.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A platform, kick type, mode or limit that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "unknown platform {0:?} (expected one of Android, iPhone, iPad, Windows, Mac, Linux, Web)"
    )]
    UnknownPlatform(String),
    #[error("unknown kick type {0:?}")]
    UnknownKickType(String),
    #[error("unknown platform mode {0:?} (expected single, dual, three or multi)")]
    UnknownMode(String),
    #[error("limit {limit} for {platform} is out of range (1..={max})")]
    LimitOutOfRange {
        platform: Platform,
        limit: u8,
        max: u8,
    },
    #[error("expected Platform=N, got {0:?}")]
    NotAPair(String),
    #[error("limit for {platform} is not a small whole number: {text:?}")]
    NotANumber { platform: Platform, text: String },
}

/// At most this much of a bad input is quoted back.
fn quote(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The seven platforms. Mini programs, uni-app and React Native count as `Web`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Platform {
    Android,
    #[serde(rename = "iPhone")]
    IPhone,
    #[serde(rename = "iPad")]
    IPad,
    Windows,
    Mac,
    Linux,
    Web,
}

impl Platform {
    pub const ALL: [Platform; 7] = [
        Platform::Android,
        Platform::IPhone,
        Platform::IPad,
        Platform::Windows,
        Platform::Mac,
        Platform::Linux,
        Platform::Web,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Platform::Android => "Android",
            Platform::IPhone => "iPhone",
            Platform::IPad => "iPad",
            Platform::Windows => "Windows",
            Platform::Mac => "Mac",
            Platform::Linux => "Linux",
            Platform::Web => "Web",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The largest per-platform instance limit that may be configured (10 for Web, 3 native).
    pub fn max_limit(self) -> u8 {
        if self == Platform::Web {
            10
        } else {
            3
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Platform {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        Platform::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| PolicyError::UnknownPlatform(quote(s)))
    }
}

/// The four kick types, with the exact strings of the SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum KickType {
    #[serde(rename = "multipleAccount")]
    MultipleAccount,
    #[serde(rename = "multipleDevice")]
    MultipleDevice,
    #[serde(rename = "userSigExpired")]
    UserSigExpired,
    #[serde(rename = "REST_API_Kick")]
    RestApiKick,
}

impl KickType {
    pub const ALL: [KickType; 4] = [
        KickType::MultipleAccount,
        KickType::MultipleDevice,
        KickType::UserSigExpired,
        KickType::RestApiKick,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KickType::MultipleAccount => "multipleAccount",
            KickType::MultipleDevice => "multipleDevice",
            KickType::UserSigExpired => "userSigExpired",
            KickType::RestApiKick => "REST_API_Kick",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for KickType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KickType {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        KickType::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| PolicyError::UnknownKickType(quote(s)))
    }
}

/// Which platforms exclude each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlatformMode {
    /// One group: all seven platforms.
    Single,
    /// {Android, iPhone, iPad, Windows, Mac, Linux}; Web alone.
    Dual,
    /// {Android, iPhone, iPad}; {Windows, Mac, Linux}; Web alone.
    Three,
    /// Every platform alone.
    #[default]
    Multi,
}

impl PlatformMode {
    pub fn name(self) -> &'static str {
        match self {
            PlatformMode::Single => "single",
            PlatformMode::Dual => "dual",
            PlatformMode::Three => "three",
            PlatformMode::Multi => "multi",
        }
    }

    /// The exclusive group a platform belongs to in this mode (groups are numbered per mode).
    pub fn group(self, p: Platform) -> u8 {
        use Platform::*;
        match self {
            PlatformMode::Single => 0,
            PlatformMode::Dual => u8::from(p == Web),
            PlatformMode::Three => match p {
                Android | IPhone | IPad => 0,
                Windows | Mac | Linux => 1,
                Web => 2,
            },
            PlatformMode::Multi => p.index() as u8,
        }
    }

    /// Whether a login on `a` kicks live instances on `b` (different platforms, same group).
    pub fn excludes(self, a: Platform, b: Platform) -> bool {
        a != b && self.group(a) == self.group(b)
    }
}

impl fmt::Display for PlatformMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PlatformMode {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        match s {
            "single" => Ok(PlatformMode::Single),
            "dual" => Ok(PlatformMode::Dual),
            "three" => Ok(PlatformMode::Three),
            "multi" => Ok(PlatformMode::Multi),
            other => Err(PolicyError::UnknownMode(quote(other))),
        }
    }
}

/// Max login instances per user per platform (default 1 everywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits([u8; 7]);

impl Default for Limits {
    fn default() -> Self {
        Limits([1; 7])
    }
}

impl Limits {
    pub fn get(&self, p: Platform) -> u8 {
        self.0[p.index()]
    }

    /// Set one platform's limit, checking its bounds (1..=10 Web, 1..=3 native).
    pub fn set(&mut self, p: Platform, limit: u8) -> Result<(), PolicyError> {
        if limit == 0 || limit > p.max_limit() {
            return Err(PolicyError::LimitOutOfRange {
                platform: p,
                limit,
                max: p.max_limit(),
            });
        }
        self.0[p.index()] = limit;
        Ok(())
    }

    /// The non-default entries as `Platform=N` pairs, e.g. `Web=3,Android=2` (empty when all 1).
    pub fn to_spec(&self) -> String {
        Platform::ALL
            .into_iter()
            .filter(|p| self.get(*p) != 1)
            .map(|p| format!("{p}={}", self.get(p)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl FromStr for Limits {
    type Err = PolicyError;
    /// Parse `Web=3,Android=1`; platforms not named keep the default of 1.
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        let mut limits = Limits::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, n) = part
                .split_once('=')
                .ok_or_else(|| PolicyError::NotAPair(quote(part)))?;
            let p: Platform = name.trim().parse()?;
            let n: u8 = n.trim().parse().map_err(|_| PolicyError::NotANumber {
                platform: p,
                text: quote(n.trim()),
            })?;
            limits.set(p, n)?;
        }
        Ok(limits)
    }
}

impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = Platform::ALL
            .into_iter()
            .map(|p| format!("{p}={}", self.get(p)))
            .collect::<Vec<_>>()
            .join(",");
        f.write_str(&s)
    }
}

/// The policy a backend enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    pub limits: Limits,
    pub mode: PlatformMode,
}

/// One kick decided by the policy: the index into the live list and the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kick {
    pub index: usize,
    pub kick: KickType,
}

/// Which victim to pick on the same platform when over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VictimOrder {
    /// The instance that first entered the login state (the promised behaviour).
    #[default]
    Oldest,
    /// The most recent one (a fault the reference server can inject).
    Newest,
}

impl Policy {
    /// Decide the kicks caused by a new login on `new` when `live` (oldest first) are the
    /// platforms of the account's live instances. A new login always succeeds.
    ///
    /// Instances on other platforms of the new platform's exclusive group are kicked with
    /// `multipleDevice`; when the new platform would exceed its limit, the oldest instances on it
    /// are kicked with `multipleAccount`. The result is ordered by index.
    pub fn decide(&self, live: &[Platform], new: Platform, order: VictimOrder) -> Vec<Kick> {
        let mut kicks: Vec<Kick> = live
            .iter()
            .enumerate()
            .filter(|(_, p)| self.mode.excludes(new, **p))
            .map(|(index, _)| Kick {
                index,
                kick: KickType::MultipleDevice,
            })
            .collect();
        let same: Vec<usize> = live
            .iter()
            .enumerate()
            .filter(|(_, p)| **p == new)
            .map(|(i, _)| i)
            .collect();
        let limit = usize::from(self.limits.get(new));
        let over = (same.len() + 1).saturating_sub(limit);
        let victims: Box<dyn Iterator<Item = &usize>> = match order {
            VictimOrder::Oldest => Box::new(same.iter()),
            VictimOrder::Newest => Box::new(same.iter().rev()),
        };
        kicks.extend(victims.take(over).map(|&index| Kick {
            index,
            kick: KickType::MultipleAccount,
        }));
        kicks.sort_by_key(|k| k.index);
        kicks
    }

    /// Whether a set of live platforms satisfies the policy (limits and exclusive groups).
    pub fn admits(&self, live: &[Platform]) -> bool {
        let mut counts = [0usize; 7];
        for p in live {
            counts[p.index()] += 1;
        }
        for p in Platform::ALL {
            if counts[p.index()] > usize::from(self.limits.get(p)) {
                return false;
            }
        }
        for a in Platform::ALL {
            for b in Platform::ALL {
                if counts[a.index()] > 0 && counts[b.index()] > 0 && self.mode.excludes(a, b) {
                    return false;
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests;

mod expect;
