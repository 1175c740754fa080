//! What an account's instances tell it. They live on the account's worker thread, so an
//! instance hands what it tells to the account at once, in its own handler: no message, no
//! wake-up of another task.
//!
//! History: each tell was a mailbox message (eight a fresh cycle: an envelope, a queue node and
//! a poll of the account's task each); then one `Drain` message a burst. Measured with uprobes
//! on tokio's scheduler at 4,000 fresh cycles a second, the account's task was still polled
//! five times a cycle, against one task poll a cycle of work the floor client does in all.
//!
//! Order: what an instance tells is handled in the order told, and before the instance goes
//! on. The account's other senders (the controller, the kicker) are other tasks; against them
//! a tell is handled when it happens, as a message sent then would be. The kicker waits until
//! the account has taken `AdminKickSent` before it sends the kick, so whatever the kick causes
//! (a `kickedOut`, a 70052) always finds the kick on record (`admin.rs`).
//!
//! The account is never busy when an instance tells it (each runs in its own task's poll, one
//! at a time on the thread). Should it be, the tell waits in a queue — behind it every later
//! tell, so the order holds — and a task of the worker hands the queue over once it is free.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use tokio::time::Instant;

use super::{Account, Kicked, Observed};

/// One thing an instance tells its account.
#[derive(Debug)]
pub enum Told {
    /// Connected, waiting for its wave's release.
    Arrived {
        slot: u8,
    },
    LoginSent {
        slot: u8,
        at: Instant,
    },
    /// What the checks' history needs (sent only with checks on).
    Observed(Observed),
    Kicked(Kicked),
    /// A login was refused with 70052 (UserSig invalidated by an admin kick).
    SigInvalidated,
    /// One of its instances logged in (told once per instance): the backend knows the account.
    LoggedIn,
    /// The hold ended; in a judged wave the instance waits for the judgment.
    HoldEnded {
        slot: u8,
    },
    CycleDone {
        slot: u8,
        stopped: bool,
    },
    /// Its session ended under it on a wire that infers takeovers (`drops.rs`).
    Dropped {
        slot: u8,
        at: Instant,
    },
}

/// Whoever an inbox hands its items to.
pub trait Hears<T> {
    fn hear(&mut self, m: T);
}

impl Hears<Told> for Account {
    fn hear(&mut self, m: Told) {
        match m {
            Told::Arrived { slot } => self.arrived(slot),
            Told::LoginSent { slot, at } => self.login_sent(slot, at),
            Told::Observed(o) => self.observed(o),
            Told::Kicked(k) => self.kicked(k),
            Told::SigInvalidated => self.sig_invalidated(),
            Told::LoggedIn => self.logged_in_once = true,
            Told::HoldEnded { slot } => self.hold_ended(slot),
            Told::CycleDone { slot, stopped } => self.cycle_done(slot, stopped),
            Told::Dropped { slot, at } => self.dropped(slot, at),
        }
    }
}

/// An account's inbox, shared by its instances (same thread: `Rc`). Generic over who hears
/// only so that its rules can be tested alone.
pub struct Inbox<L: Hears<T> = Account, T = Told> {
    /// Items that found the account busy, oldest first; while any wait, later ones queue too.
    queue: RefCell<VecDeque<T>>,
    account: Weak<RefCell<L>>,
}

impl<L: Hears<T> + 'static, T: 'static> Inbox<L, T> {
    pub fn new(account: Weak<RefCell<L>>) -> Self {
        Inbox {
            queue: RefCell::new(VecDeque::new()),
            account,
        }
    }

    /// Hand `m` to the account now (or, should it be busy, as soon as it is free).
    pub fn tell(self: &Rc<Self>, m: T) {
        {
            let mut q = self.queue.borrow_mut();
            if !q.is_empty() {
                // A hand-over is already due and will take this one too, in order.
                q.push_back(m);
                return;
            }
            let Some(account) = self.account.upgrade() else {
                return;
            };
            if let Ok(mut a) = account.try_borrow_mut() {
                drop(q);
                a.hear(m);
                return;
            }
            q.push_back(m);
        }
        let me = Rc::clone(self);
        actix::spawn(async move {
            loop {
                if me.hand_over() {
                    return;
                }
                tokio::task::yield_now().await;
            }
        });
    }

    /// Hand the queue to the account; `false` if it is still busy.
    fn hand_over(&self) -> bool {
        let Some(account) = self.account.upgrade() else {
            self.queue.borrow_mut().clear();
            return true;
        };
        let Ok(mut a) = account.try_borrow_mut() else {
            return false;
        };
        // Taken one at a time: what the account does with one item never tells the inbox
        // (it answers its instances by message), but the queue must not stay borrowed anyway.
        loop {
            let next = self.queue.borrow_mut().pop_front();
            match next {
                Some(m) => a.hear(m),
                None => return true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Rec(Vec<u32>);
    impl Hears<u32> for Rec {
        fn hear(&mut self, m: u32) {
            self.0.push(m);
        }
    }

    /// A free account hears at once; a busy one hears later, in the order told, and nothing
    /// told meanwhile overtakes what waits.
    #[test]
    fn a_free_account_hears_at_once_and_a_busy_one_in_order() {
        let rec = Rc::new(RefCell::new(Rec::default()));
        let inbox = Rc::new(Inbox::new(Rc::downgrade(&rec)));
        let seen = rec.clone();
        actix::System::new().block_on(async move {
            inbox.tell(1);
            assert_eq!(rec.borrow().0, [1], "heard in the tell");
            let busy = rec.borrow_mut();
            inbox.tell(2);
            inbox.tell(3);
            drop(busy);
            // Free again, but 2 and 3 wait: 4 goes behind them.
            inbox.tell(4);
            assert_eq!(rec.borrow().0, [1]);
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            assert_eq!(rec.borrow().0, [1, 2, 3, 4]);
            inbox.tell(5);
            assert_eq!(rec.borrow().0, [1, 2, 3, 4, 5]);
        });
        assert_eq!(seen.borrow().0.len(), 5);
    }

    /// An account gone: what is told is dropped, not queued for ever.
    #[test]
    fn an_account_gone_hears_nothing() {
        let rec = Rc::new(RefCell::new(Rec::default()));
        let inbox = Rc::new(Inbox::new(Rc::downgrade(&rec)));
        drop(rec);
        inbox.tell(1);
        assert!(inbox.queue.borrow().is_empty());
    }
}
