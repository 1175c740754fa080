//! Where an account lives on its worker thread, and how each of its drivers reaches it: the
//! actor (messages from the controller and the kicker, on other threads), the worker's pacer
//! (`take_local`), its timers (`Account::later`) and its instances (`inbox.rs`).

use actix::prelude::*;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::timers::{self, Timer};
use super::Account;
use crate::model::AccountReport;

/// An account, shared on its worker thread.
pub type Shared = Rc<RefCell<Account>>;

thread_local! {
    /// The accounts created on this worker, for its pacer.
    static LOCAL: RefCell<Vec<Shared>> = const { RefCell::new(Vec::new()) };
}

/// The accounts created on this thread so far, ordered by index; the registry is emptied.
pub fn take_local() -> Vec<Shared> {
    let mut v = LOCAL.with(|l| std::mem::take(&mut *l.borrow_mut()));
    v.sort_by_key(|a| a.borrow().n());
    v
}

/// An account's address for the threads that are not its own.
pub struct AccountActor {
    account: Shared,
}

impl AccountActor {
    /// Create an account on the current worker thread: `build` makes it, given its own weak
    /// handle (for its instances' inbox and its timers).
    pub fn new(build: impl FnOnce(Weak<RefCell<Account>>) -> Account) -> Self {
        let account = Rc::new_cyclic(|me| RefCell::new(build(me.clone())));
        LOCAL.with(|l| l.borrow_mut().push(account.clone()));
        AccountActor { account }
    }

    pub(super) fn account(&self) -> std::cell::RefMut<'_, Account> {
        self.account.borrow_mut()
    }
}

impl Actor for AccountActor {
    type Context = Context<Self>;
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

/// Stop starting cycles and wind every instance down.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Finish;

impl Handler<Finish> for AccountActor {
    type Result = ();

    fn handle(&mut self, _: Finish, _: &mut Context<Self>) {
        self.account().finish();
    }
}

/// A `[[chaos]]` drop: each instance cuts its connection with chance `fraction`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Cut {
    pub fraction: f64,
    pub how: crate::scenario::Cut,
    pub seed: u64,
}

impl Handler<Cut> for AccountActor {
    type Result = ();

    fn handle(&mut self, c: Cut, _: &mut Context<Self>) {
        self.account().cut(c.fraction, c.how, c.seed);
    }
}

/// Hand over the account's row for `kicks.csv` through `to`, and stop. A channel, not a
/// reply: 40,000 request futures joined at the end of a run cost a third of its wind-down.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TakeReport {
    pub to: tokio::sync::mpsc::UnboundedSender<AccountReport>,
}

impl Handler<TakeReport> for AccountActor {
    type Result = ();

    fn handle(&mut self, m: TakeReport, ctx: &mut Context<Self>) {
        ctx.stop();
        let _ = m.to.send(self.account().take_report());
    }
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
