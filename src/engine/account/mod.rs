//! The per-account coordinator: lines up the logins of an account's instances (barrier, jitter or
//! independent), counts its kicks against the policy's expectation, and measures kick propagation.
//!
//! An account lives on one worker thread, shared there (`Rc<RefCell<Account>>`, see
//! `handle.rs`) by what drives it: its instances tell it what they see (`inbox.rs`), the
//! worker's pacer starts its cycles, its timers fire, and its worker's channel of orders
//! carries what the controller and the kicker ask of it from their threads. Each calls it
//! directly, in its own task's poll: an account costs no task poll of its own per cycle.

use actix::prelude::*;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::instance::{Go, Instance, Release, Stop};
use super::metrics::{self, Counter};
use super::plan::Plan;
use crate::checks::History;
use crate::model::AccountReport;

mod drops;
mod handle;
mod history;
mod inbox;
mod kicks;
mod orders;
mod slots;
mod timers;
use slots::Slots;
mod waves;
use crate::scenario::{Alignment, LoadModel};
pub use handle::{channels, create, settle, take_local, Accounts, Order, Orders, Shared};
pub use history::Observed;
pub use inbox::{Inbox, Told};
/// A settle probe's answer: the instance's slot and the code (`None`: no answer).
type SettleAnswer = (u8, Option<u32>);

pub use kicks::Kicked;
use waves::{Shape, Waves};

/// Violations one account keeps for violations.csv (all are counted).
const MAX_LISTED_PER_ACCOUNT: usize = 100;

/// What the coordinator tells the run controller.
#[derive(Debug)]
pub enum Note {
    /// The account finished all its cycles.
    Done(u32),
}

pub struct Account {
    /// This account, for its timers (which find it gone once the run is over).
    me: Weak<RefCell<Account>>,
    plan: Arc<Plan>,
    n: u32,
    /// Its instances, each started when first needed.
    instances: Slots,
    waves: Waves<Instant>,
    last_login: Vec<Option<Instant>>,
    /// Each instance's session is on: a login sent since its last cycle ended (`drops.rs`).
    in_session: Vec<bool>,
    admin_kick_at: Option<Instant>,
    /// Some instance of it has logged in: the backend knows it, and an admin kick of it must
    /// succeed (one of an account it never saw may rightly be refused).
    pub(super) logged_in_once: bool,
    finishing: bool,
    done_sent: bool,
    notes: UnboundedSender<Note>,
    rng: fastrand::Rng,
    report: AccountReport,
    history: Option<History>,
    /// Bumped by every login sent; a settle check armed in an older generation does nothing.
    settle_gen: u64,
    /// Settle probes sent, and the answers in so far.
    settle_probes: Option<(usize, Vec<SettleAnswer>)>,
    /// The current wave has been judged (instances may log out without waiting).
    judged_wave: bool,
    /// Instances whose hold ended, waiting for the wave's judgment.
    holding: Vec<u8>,
    /// When the settle check is due, and for which generation of logins: set exactly while
    /// its timer is pending (see `arm_settle`).
    settle_due: Option<(Instant, u64)>,
    /// Each instance's pending expiry check.
    expiry_timers: Vec<Option<timers::Timer>>,
}

impl Account {
    pub fn new(
        plan: Arc<Plan>,
        n: u32,
        notes: UnboundedSender<Note>,
        seed: u64,
        active: &Arc<std::sync::atomic::AtomicUsize>,
        me: Weak<RefCell<Account>>,
    ) -> Self {
        let user = plan.user_id(n);
        let inbox = Rc::new(Inbox::new(me.clone()));
        let k = plan.platforms.len();
        let instances = Slots::new(k, inbox, active.clone(), seed);
        let history = plan.checks.enabled.then(|| {
            History::new(
                user.clone(),
                plan.policy,
                plan.platforms.clone(),
                u64::try_from((plan.kick_timeout * 4).as_micros()).unwrap_or(u64::MAX),
            )
        });
        Account {
            me,
            history,
            settle_gen: 0,
            settle_probes: None,
            judged_wave: true,
            holding: Vec::new(),
            settle_due: None,
            expiry_timers: (0..k).map(|_| None).collect(),
            report: AccountReport {
                index: n,
                user,
                expected: plan.expected_per_wave.map(|_| (0, 0)),
                ..Default::default()
            },
            waves: Waves::new(Shape {
                slots: k,
                cycles: plan.cycles,
                waves: plan.model == LoadModel::Open || plan.alignment != Alignment::Independent,
                barrier: plan.alignment != Alignment::Independent,
                open: plan.model == LoadModel::Open,
            }),
            plan,
            n,
            instances,
            last_login: vec![None; k],
            in_session: vec![false; k],
            admin_kick_at: None,
            logged_in_once: false,
            finishing: false,
            done_sent: false,
            notes,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The account's index in the whole scenario.
    pub fn n(&self) -> u32 {
        self.n
    }

    /// Its instance `slot`, started now if it was not.
    fn instance(&mut self, slot: usize) -> &Addr<Instance> {
        self.instances.get(&self.plan, self.n, slot)
    }

    /// The delay of a wave's `k`-th login: a draw in a jitter window, `k` steps of a stagger.
    fn login_delay(&mut self, k: usize) -> Duration {
        match self.plan.alignment {
            Alignment::Jitter(w) => w.mul_f64(self.rng.f64()),
            Alignment::Stagger(step) => step.saturating_mul(k as u32),
            _ => Duration::ZERO,
        }
    }

    /// Send every live slot into a new cycle. In barrier/jitter waves the instances first
    /// connect and report `Arrived`; the logins leave together on `Release`. `due` is when the
    /// generator should have begun (for `schedule_lag`), if a schedule applies.
    fn start_wave(&mut self, intended: Instant, due: Option<Instant>) {
        if self.finishing {
            return;
        }
        let (slots, barrier) = match self.waves.start() {
            waves::Start::Done => return self.done(),
            waves::Start::Go { slots, barrier } => (slots, barrier),
        };
        self.report.waves = self.waves.waves;
        if !barrier {
            self.expect(&slots);
            if let Some(h) = &mut self.history {
                h.wave_released(self.report.waves, slots.len(), false);
            }
        }
        for i in slots {
            self.instance(i).do_send(Go {
                intended,
                due,
                barrier,
            });
        }
    }

    /// Add the policy's expectation for a wave of these slots logging in together.
    fn expect(&mut self, slots: &[usize]) {
        let (Some(total), Some(per_wave)) =
            (self.report.expected.as_mut(), self.plan.expected_per_wave)
        else {
            return;
        };
        let (lo, hi) = if slots.len() == self.instances.len() {
            per_wave
        } else {
            let ps: Vec<_> = slots.iter().map(|&i| self.plan.platforms[i]).collect();
            self.plan.policy.expected_kicks(&ps)
        };
        total.0 += lo;
        total.1 += hi;
        metrics::add(Counter::ExpectedKicks, lo);
        metrics::add(Counter::ExpectedKicksMax, hi);
    }

    /// Release a barrier, jitter or stagger wave's logins.
    fn release(&mut self, slots: Vec<usize>) {
        self.expect(&slots);
        self.judged_wave = false;
        if let Some(h) = &mut self.history {
            h.wave_released(
                self.report.waves,
                slots.len(),
                self.plan.expected_per_wave.is_some(),
            );
        }
        for (k, i) in slots.into_iter().enumerate() {
            let delay = self.login_delay(k);
            self.instance(i).do_send(Release { delay });
        }
    }

    fn done(&mut self) {
        if !self.done_sent {
            self.done_sent = true;
            let _ = self.notes.send(Note::Done(self.n));
        }
    }

    fn think(&mut self) -> Duration {
        self.plan.think.sample(self.rng.f64())
    }
}

impl Account {
    /// Begin (closed model); `due` is the ramp's instant for this account, if it ramps.
    pub fn start(&mut self, due: Option<Instant>) {
        let now = Instant::now();
        if self.plan.model == LoadModel::Open || self.plan.alignment != Alignment::Independent {
            self.start_wave(now, due);
        } else {
            for i in 0..self.instances.len() {
                self.instance(i).do_send(Go {
                    intended: now,
                    due,
                    barrier: false,
                });
            }
        }
    }

    /// An open-model arrival: run one cycle of every instance, intended to start at `intended`.
    pub fn arrive(&mut self, intended: Instant) {
        if self.finishing {
            return;
        }
        match self.waves.arrival(intended) {
            waves::Arrival::StartNow => self.start_wave(intended, Some(intended)),
            waves::Arrival::Queued => {}
            waves::Arrival::Dropped => metrics::count(Counter::ArrivalsDropped),
        }
    }
}

impl Account {
    /// An instance is connected and waiting for its wave's release.
    ///
    /// The last one to arrive does not release the wave from its own handler: it would send
    /// its login there and then, and the others only when their turns came — its answer could
    /// be in before they sent theirs. Released from a task of its own, every instance of the
    /// wave is woken at once and sends its login on its next turn, before any of them handles
    /// an answer.
    fn arrived(&mut self, slot: u8) {
        if let Some(slots) = self.waves.arrived(slot as usize) {
            self.later(Duration::ZERO, move |a| a.release(slots));
        }
    }

    fn login_sent(&mut self, slot: u8, at: Instant) {
        self.report.logins += 1;
        self.last_login[slot as usize] = Some(at);
        self.in_session[slot as usize] = true;
        self.settle_gen += 1;
        let t = self.t(at);
        if let Some(h) = &mut self.history {
            h.login_sent(slot, t);
        }
    }

    fn cycle_done(&mut self, slot: u8, stopped: bool) {
        self.in_session[slot as usize] = false;
        if self.plan.replay.is_some() {
            // The trace starts each session itself: no wave, no next cycle.
            return;
        }
        let next = self.waves.cycle_done(slot as usize, stopped);
        if self.finishing {
            return;
        }
        match next {
            waves::Next::Wait => {}
            waves::Next::Release(slots) => self.release(slots),
            // No think time means back to back: a zero-length timer would still wait for the
            // timer wheel's next millisecond tick (and cost a timer per cycle).
            waves::Next::Again(slot) => {
                let addr = self.instance(slot).clone();
                let go = || Go {
                    intended: Instant::now(),
                    due: None,
                    barrier: false,
                };
                match self.think() {
                    d if d.is_zero() => addr.do_send(go()),
                    d => {
                        self.later(d, move |_| addr.do_send(go()));
                    }
                }
            }
            waves::Next::Think => match self.think() {
                d if d.is_zero() => self.start_wave(Instant::now(), None),
                d => {
                    self.later(d, |act| act.start_wave(Instant::now(), None));
                }
            },
            // A queued arrival: the account became free now, so the generator owes nothing
            // before now; the wait since `intended` counts in the latencies (the backend's).
            waves::Next::Arrival(intended) => self.start_wave(intended, Some(Instant::now())),
            waves::Next::Done => self.done(),
        }
    }

    /// An instance's hold ended; in a judged wave it logs out only once the wave is judged.
    fn hold_ended(&mut self, slot: u8) {
        if self.judged_wave || self.history.is_none() {
            self.instance(slot as usize)
                .do_send(super::instance::Proceed);
        } else {
            self.holding.push(slot);
        }
    }

    /// Stop starting cycles and wind every instance down.
    pub fn finish(&mut self) {
        self.finishing = true;
        // Wind-down logouts are not checked: judge what was seen, then stop the history.
        if let Some(h) = &mut self.history {
            let found = h.finish();
            self.record(found);
        }
        self.history = None;
        self.holding.clear();
        self.waves.finish();
        for (_, i) in self.instances.started() {
            i.do_send(Stop);
        }
    }

    /// The account's row for `kicks.csv`; its pending timers are dropped.
    pub fn take_report(&mut self) -> AccountReport {
        for t in self.expiry_timers.iter_mut().filter_map(Option::take) {
            t.cancel();
        }
        std::mem::take(&mut self.report)
    }
}
