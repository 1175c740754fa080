//! The reference server's fault switches: how a broken backend misbehaves, as data. Each breaks
//! one promise so the checks can be proven to catch it (docs/protocol.md, docs/checks.md).

/// A fault probability outside 0..=1.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("fault probability {name} = {p} is not within 0..=1")]
pub struct FaultError {
    pub name: &'static str,
    pub p: f64,
}

/// Probabilities (0..=1) of each injected fault; all zero by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Kick silently: the instance is logged out but gets no `kickedOut`/`sdkStateNotReady`.
    pub drop_kick: f64,
    /// Send the kick events but keep the session authenticated.
    pub zombie: f64,
    /// Admit a login over the limit without kicking anyone.
    pub over_admit: f64,
    /// Kick the newest same-platform instance instead of the oldest.
    pub kick_newest: f64,
    /// Send the wrong kick type.
    pub wrong_kick_type: f64,
    /// Never send `sdkStateReady` after a successful login.
    pub no_ready: f64,
    /// Kick one more same-platform instance than the policy allows (a stricter limit when the
    /// login kicks nobody, a second victim when it kicks one).
    pub extra_victim: f64,
    /// Also kick (`multipleAccount`) the oldest instance of another account on the same shard.
    pub foreign_kick: f64,
    /// When the oldest same-platform session a login must kick is a ghost (its connection lost
    /// to a gateway restart that kept the sessions), kick the oldest live one instead.
    pub ghost_kick: f64,
}

impl Faults {
    pub fn validate(&self) -> Result<(), FaultError> {
        for (name, p) in self.named() {
            if !(0.0..=1.0).contains(&p) {
                return Err(FaultError { name, p });
            }
        }
        Ok(())
    }

    pub fn named(&self) -> [(&'static str, f64); 9] {
        [
            ("drop_kick", self.drop_kick),
            ("zombie", self.zombie),
            ("over_admit", self.over_admit),
            ("kick_newest", self.kick_newest),
            ("wrong_kick_type", self.wrong_kick_type),
            ("no_ready", self.no_ready),
            ("extra_victim", self.extra_victim),
            ("foreign_kick", self.foreign_kick),
            ("ghost_kick", self.ghost_kick),
        ]
    }

    pub fn any(&self) -> bool {
        self.named().iter().any(|(_, p)| *p > 0.0)
    }
}
