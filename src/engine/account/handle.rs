//! Where an account lives on its worker thread, and how each of its drivers reaches it: the
//! controller's thread (the controller, the kicker, the disruptions) through its worker's one
//! channel of orders (`Accounts`), the worker's pacer (`take_local`), its timers
//! (`Account::later`) and its instances (`inbox.rs`).
//!
//! An account is not an actor of its own: everything the controller's thread asks of it is
//! asked of every account of a worker at once, or of one by its index, so a channel a worker
//! carries it. A mailbox and a task an account were ~700 bytes of each session's memory and
//! 40,000 tasks spawned before the clock could start.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::timers::{self, Timer};
use super::Account;
use crate::model::AccountReport;
use crate::shard::Shard;

/// An account, shared on its worker thread.
pub type Shared = Rc<RefCell<Account>>;

thread_local! {
    /// This worker's accounts, ordered by index, for its pacer (`settle`).
    static LOCAL: RefCell<Vec<Shared>> = const { RefCell::new(Vec::new()) };
}

/// This worker's accounts, ordered by index; the registry is emptied.
pub fn take_local() -> Vec<Shared> {
    LOCAL.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

/// Settle a worker's share of the accounts (made on this thread, ordered by index): filed for
/// the worker's pacer, and handed to the task that carries out the controller's orders.
pub fn settle(accounts: Vec<Shared>, orders: Orders) {
    LOCAL.with(|l| *l.borrow_mut() = accounts.clone());
    actix::spawn(orders.serve(accounts));
}

/// What the controller's thread asks of a worker's accounts.
pub enum Order {
    /// Every account: stop starting cycles and wind every instance down.
    Finish,
    /// Every account: a `[[chaos]]` drop — each instance cuts its connection with chance
    /// `fraction`.
    Cut {
        fraction: f64,
        how: crate::scenario::Cut,
        seed: u64,
    },
    /// Every account: hand over its row for `kicks.csv` through `to`, and be let go.
    TakeReport { to: UnboundedSender<AccountReport> },
    /// Account `n`: the admin kicker is about to kick it; `reply` says whether it may
    /// (`kicks.rs`).
    AdminKickSent {
        n: u32,
        at: Instant,
        reply: oneshot::Sender<bool>,
    },
    /// Account `n`: the admin kick sent at `sent` was answered OK.
    AdminKickAnswered { n: u32, sent: Instant },
    /// Account `n`: its admin kick was refused or not answered in time.
    AdminKickFailed { n: u32 },
}

/// This process's accounts, as the controller's thread reaches them: one channel of orders a
/// worker, which the worker's accounts are dealt to round-robin (`Shard::worker`).
#[derive(Clone)]
pub struct Accounts {
    workers: Arc<[UnboundedSender<Order>]>,
    shard: Shard,
    count: usize,
}

impl Accounts {
    /// How many accounts this process runs.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The same order to every account (a worker that is gone takes nothing).
    pub fn broadcast(&self, order: impl Fn() -> Order) {
        for w in self.workers.iter() {
            let _ = w.send(order());
        }
    }

    /// An order for account `n` (one of this process's) to its worker.
    pub fn send(&self, n: u32, order: Order) {
        let w = self.shard.worker(n, self.workers.len());
        let _ = self.workers[w].send(order);
    }
}

/// One worker's end of the orders: `accounts` are its own, by index.
pub struct Orders {
    rx: UnboundedReceiver<Order>,
}

/// The channels of `workers` workers: the controller's end, and each worker's.
pub fn channels(shard: Shard, count: usize, workers: usize) -> (Accounts, Vec<Orders>) {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..workers)
        .map(|_| {
            let (tx, rx) = unbounded_channel();
            (tx, Orders { rx })
        })
        .unzip();
    (
        Accounts {
            workers: txs.into(),
            shard,
            count,
        },
        rxs,
    )
}

/// Create an account on the current worker thread: `build` makes it, given its own weak
/// handle (for its instances' inbox and its timers).
pub fn create(build: impl FnOnce(Weak<RefCell<Account>>) -> Account) -> Shared {
    Rc::new_cyclic(|me| RefCell::new(build(me.clone())))
}

impl Orders {
    /// Carry out the orders for `accounts` (this worker's, ordered by index) until the
    /// controller hangs up or takes their reports, which lets them go.
    async fn serve(mut self, accounts: Vec<Shared>) {
        let find = |n: u32| {
            accounts
                .binary_search_by_key(&n, |a| a.borrow().n())
                .ok()
                .map(|i| &accounts[i])
        };
        while let Some(order) = self.rx.recv().await {
            match order {
                Order::Finish => accounts.iter().for_each(|a| a.borrow_mut().finish()),
                Order::Cut {
                    fraction,
                    how,
                    seed,
                } => accounts
                    .iter()
                    .for_each(|a| a.borrow_mut().cut(fraction, how, seed)),
                Order::TakeReport { to } => {
                    for a in &accounts {
                        let _ = to.send(a.borrow_mut().take_report());
                    }
                    return;
                }
                Order::AdminKickSent { n, at, reply } => {
                    let may = find(n).is_some_and(|a| a.borrow_mut().admin_kick_sent(at));
                    let _ = reply.send(may);
                }
                Order::AdminKickAnswered { n, sent } => {
                    if let Some(a) = find(n) {
                        a.borrow_mut().admin_kick_answered(sent);
                    }
                }
                Order::AdminKickFailed { n } => {
                    if find(n).is_some() {
                        crate::engine::metrics::count(crate::model::Counter::AdminKicksFailed);
                    }
                }
            }
        }
    }
}

impl Account {
    /// Run `f` on this account after `d` (0: on the timers' next turn, after the tasks already
    /// woken), unless the account is gone by then (`timers.rs`).
    pub(super) fn later(&self, d: Duration, f: impl FnOnce(&mut Account) + 'static) -> Timer {
        let me = self.me.clone();
        timers::after(d, move || on(me, Box::new(f)))
    }
}

/// Run `f` on the account if it is still there. It is never busy when a timer runs (one task
/// runs at a time on the thread); should it be, `f` waits for the timers' next turn.
fn on<T: 'static>(me: Weak<RefCell<T>>, f: Box<dyn FnOnce(&mut T)>) {
    let Some(account) = me.upgrade() else { return };
    let Ok(mut a) = account.try_borrow_mut() else {
        timers::after(Duration::ZERO, move || on(me, f));
        return;
    };
    f(&mut a);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timer's call reaches the account; a busy account gets it on a later turn, in order
    /// with what came after; a gone account gets nothing (and nothing waits for it).
    #[test]
    fn a_timer_reaches_a_free_account_waits_for_a_busy_one_and_skips_a_gone_one() {
        let account = Rc::new(RefCell::new(Vec::<u32>::new()));
        let seen = account.clone();
        actix::System::new().block_on(async move {
            let me = Rc::downgrade(&account);
            on(me.clone(), Box::new(|a: &mut Vec<u32>| a.push(1)));
            assert_eq!(*account.borrow(), [1], "a free account hears at once");
            let busy = account.borrow_mut();
            on(me.clone(), Box::new(|a: &mut Vec<u32>| a.push(2)));
            drop(busy);
            assert_eq!(*account.borrow(), [1], "a busy one later, not now");
            for _ in 0..6000 {
                if account.borrow().len() == 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(*account.borrow(), [1, 2]);
            let gone: Weak<RefCell<Vec<u32>>> = {
                let short = Rc::new(RefCell::new(Vec::new()));
                Rc::downgrade(&short)
            };
            on(gone, Box::new(|a: &mut Vec<u32>| a.push(3)));
        });
        assert_eq!(*seen.borrow(), [1, 2]);
    }
}
