//! The shard actor: the one place where the login decisions of its accounts are made.
//!
//! Accounts are hashed onto shards; each shard handles one message at a time, so concurrent
//! logins of one account never race, while different shards run on different cores. A shard
//! keeps, per account, the live instances in login order, the REST-kick invalidation mark and a
//! few recent UserSigs (to tell a pre-kick sig from a fresh one within the kick's second).

use actix::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

use super::Faults;
use crate::policy::{Kick, KickType, Platform, Policy, VictimOrder};
use crate::protocol::code;

/// Most `messageReceived` events queued for one connection; further ones are dropped.
pub const MAX_QUEUED_MESSAGES: usize = 256;
/// How many recent UserSigs per account are remembered for same-second invalidation.
const RECENT_SIGS: usize = 8;

/// What a shard pushes to a connection.
#[derive(Debug)]
pub enum Push {
    Kicked {
        instance: u64,
        kick: KickType,
        /// Fault: the kick happened but no `kickedOut`/`sdkStateNotReady` is sent.
        silent: bool,
        /// Fault: the events are sent but the session stays authenticated.
        zombie: bool,
    },
    Message(Arc<Delivery>),
    /// The frame budget is full and this connection holds the most: close it (1009).
    Shed,
    /// The gateway restarts and keeps the sessions: drop the connection, keep the session.
    Crash,
}

#[derive(Debug)]
pub struct Delivery {
    pub from: String,
    pub text: String,
    pub message_id: String,
}

/// The shard's handle on a connection.
#[derive(Debug, Clone)]
pub struct ConnLink {
    pub conn: u64,
    pub push: UnboundedSender<Push>,
    /// `messageReceived` events pushed but not yet written.
    pub queued: Arc<AtomicUsize>,
    /// Its connection was lost to a gateway restart and the session is kept as a ghost.
    pub ghost: Arc<AtomicBool>,
}

struct Live {
    instance: u64,
    platform: Platform,
    link: ConnLink,
}

#[derive(Default)]
struct Account {
    live: Vec<Live>,
    /// UserSigs issued before this unix second are invalid (0 = no REST kick yet).
    invalid_before: u64,
    /// Hashes of sigs issued in the kick's own second that were in use before the kick.
    invalid_same_second: Vec<u64>,
    /// (sig hash, TLS.time) of recent logins.
    recent_sigs: Vec<(u64, u64)>,
}

pub struct Ledger {
    index: usize,
    policy: Policy,
    faults: Faults,
    rng: fastrand::Rng,
    accounts: HashMap<String, Account>,
    next_instance: u64,
}

impl Ledger {
    pub fn new(index: usize, policy: Policy, faults: Faults, seed: u64) -> Self {
        Ledger {
            index,
            policy,
            faults,
            rng: fastrand::Rng::with_seed(
                seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ),
            accounts: HashMap::new(),
            next_instance: 0,
        }
    }

    fn roll(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.f64() < p
    }

    /// Remove `live[index]` and push its kick, applying the kick-related faults.
    fn kick(&mut self, user: &str, index: usize, kick: KickType) {
        let wrong = self.roll(self.faults.wrong_kick_type);
        let silent = self.roll(self.faults.drop_kick);
        let zombie = self.roll(self.faults.zombie);
        let Some(acct) = self.accounts.get_mut(user) else {
            return;
        };
        let victim = acct.live.remove(index);
        let kick = if wrong { wrong_type(kick) } else { kick };
        // A send fails only when the connection is gone, which is then a no-op.
        let _ = victim.link.push.send(Push::Kicked {
            instance: victim.instance,
            kick,
            silent,
            zombie,
        });
    }
}

impl Ledger {
    /// Fault `ghost_kick`: a same-platform victim that is a ghost is spared, and the oldest
    /// live (not ghost) instance on its platform that is not a victim yet is kicked instead.
    fn spare_ghosts(&mut self, user: &str, kicks: &mut [Kick]) {
        let Some(acct) = self.accounts.get(user) else {
            return;
        };
        let is_ghost = |i: usize| acct.live[i].link.ghost.load(Ordering::Relaxed);
        let mut swaps = Vec::new();
        for (k, kick) in kicks.iter().enumerate() {
            if kick.kick != KickType::MultipleAccount || !is_ghost(kick.index) {
                continue;
            }
            let p = acct.live[kick.index].platform;
            let taken =
                |i: usize| kicks.iter().any(|k| k.index == i) || swaps.iter().any(|(_, j)| *j == i);
            let instead = (0..acct.live.len())
                .find(|&i| acct.live[i].platform == p && !is_ghost(i) && !taken(i));
            if let Some(i) = instead {
                swaps.push((k, i));
            }
        }
        for (k, i) in swaps {
            if self.roll(self.faults.ghost_kick) {
                kicks[k].index = i;
            }
        }
        kicks.sort_by_key(|k| k.index);
    }
}

fn wrong_type(k: KickType) -> KickType {
    match k {
        KickType::MultipleAccount => KickType::MultipleDevice,
        _ => KickType::MultipleAccount,
    }
}

impl Actor for Ledger {
    type Context = Context<Self>;
}

/// A verified login, ready for the policy decision.
#[derive(Message)]
#[rtype(result = "Result<u64, u32>")]
pub struct Login {
    pub user: String,
    pub platform: Platform,
    pub sig_time: u64,
    pub sig_hash: u64,
    pub now_unix: u64,
    pub link: ConnLink,
}

impl Handler<Login> for Ledger {
    type Result = Result<u64, u32>;

    fn handle(&mut self, m: Login, _: &mut Context<Self>) -> Self::Result {
        let acct = self.accounts.entry(m.user.clone()).or_default();
        if m.sig_time < acct.invalid_before
            || (m.sig_time == acct.invalid_before && acct.invalid_same_second.contains(&m.sig_hash))
        {
            return Err(code::SIG_INVALIDATED);
        }
        acct.recent_sigs.retain(|(h, _)| *h != m.sig_hash);
        if acct.recent_sigs.len() == RECENT_SIGS {
            acct.recent_sigs.remove(0);
        }
        acct.recent_sigs.push((m.sig_hash, m.sig_time));
        // A connection holds at most one instance; a stale entry for it is replaced.
        acct.live.retain(|l| l.link.conn != m.link.conn);
        let live: Vec<Platform> = acct.live.iter().map(|l| l.platform).collect();
        let order = if self.roll(self.faults.kick_newest) {
            VictimOrder::Newest
        } else {
            VictimOrder::Oldest
        };
        let mut kicks = if self.roll(self.faults.over_admit) {
            Vec::new()
        } else {
            self.policy.decide(&live, m.platform, order)
        };
        if self.faults.ghost_kick > 0.0 {
            self.spare_ghosts(&m.user, &mut kicks);
        }
        for k in kicks.iter().rev() {
            self.kick(&m.user, k.index, k.kick);
        }
        if self.roll(self.faults.extra_victim) {
            let extra = self.accounts[&m.user]
                .live
                .iter()
                .position(|l| l.platform == m.platform);
            if let Some(i) = extra {
                self.kick(&m.user, i, KickType::MultipleAccount);
            }
        }
        if self.roll(self.faults.foreign_kick) {
            let other = self
                .accounts
                .iter()
                .filter(|(u, a)| **u != m.user && !a.live.is_empty())
                .map(|(u, _)| u.clone())
                .min();
            if let Some(u) = other {
                self.kick(&u, 0, KickType::MultipleAccount);
            }
        }
        self.next_instance += 1;
        let instance = (self.next_instance << 8) | self.index as u64;
        let acct = self.accounts.get_mut(&m.user).expect("entry made above");
        acct.live.push(Live {
            instance,
            platform: m.platform,
            link: m.link,
        });
        Ok(instance)
    }
}

/// Log out (or forget, on disconnect) the instance of `conn`. Replies whether it was live.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Leave {
    pub user: String,
    pub conn: u64,
}

impl Handler<Leave> for Ledger {
    type Result = bool;

    fn handle(&mut self, m: Leave, _: &mut Context<Self>) -> bool {
        let Some(acct) = self.accounts.get_mut(&m.user) else {
            return false;
        };
        let before = acct.live.len();
        acct.live.retain(|l| l.link.conn != m.conn);
        acct.live.len() != before
    }
}

/// The UserSig of a live instance has expired: kick it with `userSigExpired`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Expire {
    pub user: String,
    pub instance: u64,
}

impl Handler<Expire> for Ledger {
    type Result = ();

    fn handle(&mut self, m: Expire, _: &mut Context<Self>) {
        let index = self
            .accounts
            .get(&m.user)
            .and_then(|a| a.live.iter().position(|l| l.instance == m.instance));
        if let Some(index) = index {
            self.kick(&m.user, index, KickType::UserSigExpired);
        }
    }
}

/// Deliver a message to every live instance of `to` (connections drop it unless ready).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub to: String,
    pub delivery: Arc<Delivery>,
}

impl Handler<Deliver> for Ledger {
    type Result = ();

    fn handle(&mut self, m: Deliver, _: &mut Context<Self>) {
        let Some(acct) = self.accounts.get(&m.to) else {
            return;
        };
        for l in &acct.live {
            if l.link.queued.fetch_add(1, Ordering::Relaxed) < MAX_QUEUED_MESSAGES {
                let _ = l.link.push.send(Push::Message(m.delivery.clone()));
            } else {
                l.link.queued.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// Admin REST kick: kick every live instance with `REST_API_Kick` and invalidate older sigs.
/// Replies the number of instances kicked, or `None` for an account never seen.
#[derive(Message)]
#[rtype(result = "Option<usize>")]
pub struct AdminKick {
    pub user: String,
    pub now_unix: u64,
}

impl Handler<AdminKick> for Ledger {
    type Result = Option<usize>;

    fn handle(&mut self, m: AdminKick, _: &mut Context<Self>) -> Option<usize> {
        let acct = self.accounts.get_mut(&m.user)?;
        acct.invalid_before = m.now_unix;
        acct.invalid_same_second = acct
            .recent_sigs
            .iter()
            .filter(|(_, t)| *t == m.now_unix)
            .map(|(h, _)| *h)
            .collect();
        let n = acct.live.len();
        for i in (0..n).rev() {
            self.kick(&m.user, i, KickType::RestApiKick);
        }
        Some(n)
    }
}

/// Online status of some accounts: for each, `None` if never seen, else its live platforms.
#[derive(Message)]
#[rtype(result = "Vec<Option<Vec<Platform>>>")]
pub struct QueryOnline {
    pub users: Vec<String>,
}

impl Handler<QueryOnline> for Ledger {
    type Result = Vec<Option<Vec<Platform>>>;

    fn handle(&mut self, m: QueryOnline, _: &mut Context<Self>) -> Self::Result {
        m.users
            .iter()
            .map(|u| {
                self.accounts
                    .get(u)
                    .map(|a| a.live.iter().map(|l| l.platform).collect())
            })
            .collect()
    }
}

/// A gateway restart that keeps the sessions: every live instance's connection drops.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CrashGateway;

impl Handler<CrashGateway> for Ledger {
    type Result = ();

    fn handle(&mut self, _: CrashGateway, _: &mut Context<Self>) {
        for l in self.accounts.values().flat_map(|a| &a.live) {
            let _ = l.link.push.send(Push::Crash);
        }
    }
}

/// Counts for tests and diagnostics: (accounts known, live instances).
#[derive(Message)]
#[rtype(result = "(usize, usize)")]
pub struct Census;

impl Handler<Census> for Ledger {
    type Result = MessageResult<Census>;

    fn handle(&mut self, _: Census, _: &mut Context<Self>) -> Self::Result {
        MessageResult((
            self.accounts.len(),
            self.accounts.values().map(|a| a.live.len()).sum(),
        ))
    }
}
