//! An account's instance actors, each started the first time the account needs it: an
//! account the schedule never reaches costs no actor, and a run's start is not spent starting
//! 40,000 actors (a tokio task of 1.25 KB each) the first arrivals then wait behind.

use actix::prelude::*;
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use super::Inbox;
use crate::engine::instance::Instance;
use crate::engine::plan::Plan;
use crate::engine::ActiveGuard;

pub struct Slots {
    started: Vec<Option<Addr<Instance>>>,
    /// What a new instance is made of.
    inbox: Rc<Inbox>,
    active: Arc<AtomicUsize>,
    seed: u64,
}

impl Slots {
    pub fn new(k: usize, inbox: Rc<Inbox>, active: Arc<AtomicUsize>, seed: u64) -> Slots {
        Slots {
            started: vec![None; k],
            inbox,
            active,
            seed,
        }
    }

    /// How many instances the account has (started or not).
    pub fn len(&self) -> usize {
        self.started.len()
    }

    /// Instance `slot` of account `n`, started now if it was not: under the global number
    /// the engine deals (`n × k + slot`) and the account's seed, as if started with the run.
    pub fn get(&mut self, plan: &Arc<Plan>, n: u32, slot: usize) -> &Addr<Instance> {
        let k = self.started.len() as u64;
        let (inbox, active, seed) = (&self.inbox, &self.active, self.seed);
        self.started[slot].get_or_insert_with(|| {
            Instance::new(
                plan.clone(),
                inbox.clone(),
                n,
                slot as u8,
                u64::from(n) * k + slot as u64,
                plan.user_id(n),
                seed.wrapping_add(slot as u64 + 1),
                ActiveGuard::new(active),
            )
            .start()
        })
    }

    /// The instances started so far, with their slots: those that can have a connection.
    pub fn started(&self) -> impl Iterator<Item = (usize, &Addr<Instance>)> {
        self.started
            .iter()
            .enumerate()
            .filter_map(|(slot, a)| a.as_ref().map(|a| (slot, a)))
    }
}
