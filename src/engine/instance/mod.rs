//! One simulated SDK instance: an actix actor around its cycle (`cycle/`, a pure machine). The
//! actor is only I/O: its WebSocket (`link.rs`: one item of the actor's context), its driver
//! (requests to frames, frames to meanings), its timers, and its account's inbox; every
//! decision is the cycle's.

use actix::prelude::*;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use tokio::time::Instant;

use super::account::Inbox;
use super::metrics;
use super::plan::Plan;
use super::ActiveGuard;

mod cycle;
mod handlers;
mod io;
mod link;
use cycle::{Cycle, Phase, Timer};
pub use handlers::{Cut, Go, Probe, Proceed, Release, Replay, Stop};
use link::Link;

pub struct Instance {
    /// The decisions.
    cycle: Cycle,
    /// The I/O around them.
    shell: Shell,
}

/// What the actor holds for its cycle: the connection, the driver, the timers, the account.
struct Shell {
    plan: Arc<Plan>,
    /// What this instance tells its account.
    account: Rc<Inbox>,
    /// Global index, for spreading source addresses.
    global: u64,
    /// Shared with the cycle (one allocation per instance, not two).
    user: Rc<str>,
    /// The instance's own id on the wire (`{instance}` in a profile): `<userID>#<slot>`.
    instance_id: String,
    platform: crate::policy::Platform,
    /// `--trace-frames` follows this instance.
    traced: bool,
    /// The traced instance's last sig, redacted wherever frames.log would show it.
    traced_sig: Option<String>,
    /// The connection, while there is one.
    link: Option<Link>,
    /// Connections gone silent (`[[chaos]]` silent drops), held open until the instance stops.
    ghosts: Vec<link::Ghost>,
    /// When the connection's last read returned bytes (`connect::Stamped`): the instant the
    /// frame being handled was received.
    read_at: Option<Rc<Cell<Instant>>>,
    /// Bumped by every new phase: a timer of an earlier phase that fires anyway (actix drops
    /// a cancelled future only on its next pass) sees it changed and does nothing.
    phase_gen: u64,
    /// Timers of the current phase (cancelled when it ends).
    timers: Vec<SpawnHandle>,
    /// The current phase's pending step (a timeout, the end of the hold…): when, and what.
    deadline: Option<(Instant, Timer)>,
    /// The one timer that watches `deadline`: when it fires. It outlives phases (`io.rs`).
    watch: Option<(Instant, SpawnHandle)>,
    /// The connection's heartbeat (`reconnect.heartbeat`), while it is open.
    heartbeat: Option<SpawnHandle>,
    /// Heartbeats sent on this connection (their seqs count down from `HEARTBEAT_SEQ`).
    beats: u64,
    /// The last heartbeat's seq and send time, until answered.
    beat_sent: Option<(u64, Instant)>,
    /// The send time of the connection's last request the server answered (a ghost's bound).
    heard: Option<Instant>,
    /// The connection's last request: its seq, and its frame's number on the link (0: none).
    /// Its answer tells the link that everything written through it is acknowledged
    /// (engine/nagle.rs).
    asked: (u64, u32),
    /// Its side of the wire protocol: requests to frames, frames to meanings.
    driver: crate::driver::Driver,
    _active: ActiveGuard,
}

impl Instance {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: Arc<Plan>,
        account: Rc<Inbox>,
        n: u32,
        slot: u8,
        global: u64,
        user: String,
        seed: u64,
        active: ActiveGuard,
    ) -> Self {
        let user: Rc<str> = user.into();
        let cycle = Cycle::new(plan.clone(), n, slot, user.clone(), seed, Instant::now());
        Instance {
            cycle,
            shell: Shell {
                traced: plan.traces(n, slot),
                instance_id: format!("{user}#{slot}"),
                platform: plan.platforms[slot as usize],
                driver: plan.wire.driver(),
                plan,
                account,
                global,
                user,
                traced_sig: None,
                link: None,
                ghosts: Vec::new(),
                read_at: None,
                phase_gen: 0,
                timers: Vec::new(),
                deadline: None,
                watch: None,
                heartbeat: None,
                beats: 0,
                beat_sent: None,
                heard: None,
                asked: (0, 0),
                _active: active,
            },
        }
    }

    /// The cycle, and the I/O it acts through.
    fn split<'a>(&'a mut self, ctx: &'a mut Context<Self>) -> (&'a mut Cycle, io::ActorIo<'a>) {
        (&mut self.cycle, io::ActorIo::new(&mut self.shell, ctx))
    }
}

impl Actor for Instance {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        if self.cycle.phase() == Phase::Ready {
            metrics::live(-1);
        }
    }
}
