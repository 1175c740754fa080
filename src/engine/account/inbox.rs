//! What an account's instances tell it. They live on the account's worker thread, so they tell
//! it through one shared queue instead of a mailbox message each: a fresh cycle told its account
//! eight things (login sent, answered, ready, logout sent, answered, not ready, gone, cycle
//! done), each an envelope, a queue node and a poll of the account's task. Now the first of a
//! burst sends one `Drain`, and whatever the instances tell before the account runs rides along:
//! at the ends of a cycle four or five arrive together.
//!
//! Order: the queue keeps the instances' order among themselves (one queue per account, as the
//! one mailbox did). Against the account's other senders an item may be taken before a message
//! that was sent before it, when an earlier `Drain` was still pending; that is a schedule the
//! mailbox allowed too (the senders are other tasks), with one exception the kicker closes: it
//! waits until the account has taken `AdminKickSent` before it sends the kick, so whatever the
//! kick causes (a `kickedOut`, a 70052) always finds the kick on record (`admin.rs`).

use actix::dev::ToEnvelope;
use actix::prelude::*;
use std::cell::RefCell;
use std::collections::VecDeque;
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
    /// The hold ended; in a judged wave the instance waits for the judgment.
    HoldEnded {
        slot: u8,
    },
    CycleDone {
        slot: u8,
        stopped: bool,
    },
}

/// The queue an account's instances share (same thread: `Rc`). Generic over the actor it
/// wakes only so that its burst rule can be tested alone.
pub struct Inbox<A: Actor = Account, T = Told> {
    queue: RefCell<VecDeque<T>>,
    account: Addr<A>,
}

impl<A, T> Inbox<A, T>
where
    A: Actor + Handler<Drain>,
    A::Context: ToEnvelope<A, Drain>,
{
    pub fn new(account: Addr<A>) -> Self {
        Inbox {
            queue: RefCell::new(VecDeque::new()),
            account,
        }
    }

    /// Queue `m`; only the first of a burst wakes the account.
    pub fn tell(&self, m: T) {
        let first = {
            let mut q = self.queue.borrow_mut();
            q.push_back(m);
            q.len() == 1
        };
        if first {
            self.account.do_send(Drain);
        }
    }

    /// The next item, oldest first.
    pub fn take(&self) -> Option<T> {
        self.queue.borrow_mut().pop_front()
    }
}

/// Something is in the inbox.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

impl Handler<Drain> for Account {
    type Result = ();

    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) {
        // Nothing handled here tells the inbox (the account answers its instances by
        // message), so every item is taken in one pass and the next `tell` wakes it again.
        while let Some(m) = self.inbox.take() {
            match m {
                Told::Arrived { slot } => self.arrived(slot),
                Told::LoginSent { slot, at } => self.login_sent(slot, at),
                Told::Observed(o) => self.observed(o, ctx),
                Told::Kicked(k) => self.kicked(k),
                Told::SigInvalidated => self.sig_invalidated(),
                Told::HoldEnded { slot } => self.hold_ended(slot),
                Told::CycleDone { slot, stopped } => self.cycle_done(slot, stopped, ctx),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// Records each drain's items, in the order taken.
    struct Sink {
        inbox: Rc<Inbox<Sink, u32>>,
        drains: Rc<RefCell<Vec<Vec<u32>>>>,
    }
    impl Actor for Sink {
        type Context = Context<Self>;
    }
    impl Handler<Drain> for Sink {
        type Result = ();
        fn handle(&mut self, _: Drain, _: &mut Context<Self>) {
            let mut batch = vec![];
            while let Some(m) = self.inbox.take() {
                batch.push(m);
            }
            self.drains.borrow_mut().push(batch);
        }
    }
    /// A round trip through the mailbox: every drain sent before it has been handled.
    #[derive(Message)]
    #[rtype(result = "()")]
    struct Ping;
    impl Handler<Ping> for Sink {
        type Result = ();
        fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
    }

    /// A burst told before the account runs is one wake-up, taken in order; a tell after the
    /// drain wakes it again; an empty wake-up never happens.
    #[test]
    fn a_burst_is_one_drain_in_order() {
        let drains = Rc::new(RefCell::new(vec![]));
        let seen = drains.clone();
        actix::System::new().block_on(async move {
            let mut inbox = None;
            let addr = Sink::create(|ctx| {
                let i = Rc::new(Inbox::new(ctx.address()));
                inbox = Some(i.clone());
                Sink { inbox: i, drains }
            });
            let inbox = inbox.unwrap();
            for m in [1, 2, 3] {
                inbox.tell(m);
            }
            addr.send(Ping).await.unwrap();
            inbox.tell(4);
            addr.send(Ping).await.unwrap();
            inbox.tell(5);
            inbox.tell(6);
            addr.send(Ping).await.unwrap();
        });
        assert_eq!(*seen.borrow(), vec![vec![1, 2, 3], vec![4], vec![5, 6]]);
    }
}
