//! What drives an instance: frames from its WebSocket (`link.rs`), the connection's end, and
//! the account's messages (start a cycle, release a wave, probe, stop) — each handed to the
//! cycle with the I/O it acts through.

use actix::prelude::*;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::io::who;
use super::Instance;
use crate::checks::ProbeKind;
use crate::driver::{Incoming, Meaning};
use crate::engine::clock;
use crate::engine::metrics::{self, Metric};

impl Instance {
    /// A frame from the connection (or its read error).
    pub(super) fn frame(&mut self, item: super::link::Frame, ctx: &mut Context<Self>) {
        let message = match item {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => m,
            Ok(Message::Close(_)) | Err(_) => {
                let (c, mut io) = self.split(ctx);
                return c.lost(&mut io);
            }
            Ok(_) => return,
        };
        let frame = match &message {
            Message::Text(t) => Incoming::Text(t.as_str()),
            Message::Binary(b) => Incoming::Binary(b),
            _ => return,
        };
        let sh = &mut self.shell;
        if sh.traced {
            match frame {
                Incoming::Text(t) => sh.trace(false, t),
                Incoming::Binary(b) => sh.trace(false, &format!("<{} binary bytes>", b.len())),
            }
        }
        let meaning = sh
            .driver
            .incoming(&sh.plan.wire, frame, &who(&sh.user, &sh.instance_id));
        if let Meaning::Unmatched(_) = meaning {
            // Kept (the first few) so the user can fix the profile; the cycle counts it.
            let shown = match frame {
                Incoming::Text(t) => t.to_string(),
                Incoming::Binary(b) => match std::str::from_utf8(b) {
                    Ok(t) => t.to_string(),
                    Err(_) => format!("<binary frame of {} bytes, not UTF-8>", b.len()),
                },
            };
            sh.plan.keep_unmatched(&sh.instance_id, &shown);
        }
        // A heartbeat's answer is the connection's business, not the cycle's.
        if let Meaning::Response {
            seq: Some(seq),
            code,
            ..
        } = meaning
        {
            if (super::io::HEARTBEAT_FLOOR..super::io::HEARTBEAT_SEQ).contains(&seq) {
                if code != 0 {
                    metrics::count(crate::engine::metrics::Counter::ProtocolErrors);
                }
                let sh = &mut self.shell;
                if let Some((_, sent)) = sh.beat_sent.filter(|(s, _)| *s == seq) {
                    sh.heard(sent);
                }
                return;
            }
            // The answer to the connection's last request acknowledges all written before it.
            let sh = &self.shell;
            if let (Some(link), (asked, frame @ 1..)) = (&sh.link, sh.asked) {
                if asked == seq {
                    link.answered(frame);
                }
            }
        }
        let (c, mut io) = self.split(ctx);
        c.meaning(&mut io, meaning);
        // The rest of the frame (several MQTT packets; a CONNACK that is also the ready), while
        // the connection it came on is still the instance's.
        while self.shell.link.is_some() {
            let sh = &mut self.shell;
            let Some(m) = sh.driver.more(&sh.plan.wire) else {
                break;
            };
            if let Meaning::Unmatched(why) = m {
                sh.plan.keep_unmatched(&sh.instance_id, &format!("<{why}>"));
            }
            let (c, mut io) = self.split(ctx);
            c.meaning(&mut io, m);
        }
    }

    /// The connection ended under the instance: the server closed it, or a write failed (a
    /// close or drop of the instance's own does not come here).
    pub(super) fn link_ended(&mut self, ctx: &mut Context<Self>) {
        if self.shell.link.take().is_some() {
            let (c, mut io) = self.split(ctx);
            c.lost(&mut io);
        }
    }
}

/// Start a cycle: `intended` is when it should have started (the open model's arrival), `due`
/// when the generator should have begun it (the arrival, or the moment a queued arrival's
/// account became free; `None` when no schedule applies, as after a think time).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Go {
    pub intended: Instant,
    pub due: Option<Instant>,
    /// Connect, report `Arrived`, and log in only on `Release`.
    pub barrier: bool,
}

impl Handler<Go> for Instance {
    type Result = ();

    fn handle(&mut self, m: Go, ctx: &mut Context<Self>) {
        if !self.cycle.startable() {
            return;
        }
        let now = Instant::now();
        if let Some(due) = m.due {
            paced(due, now);
        }
        let late = now.saturating_duration_since(m.intended);
        let (c, mut io) = self.split(ctx);
        c.go(&mut io, late, m.barrier);
    }
}

/// A paced start (a ramp's, an arrival's, a trace row's) due at `due` began at `now`: the
/// pacer learns its error, `schedule_lag` its lateness.
fn paced(due: Instant, now: Instant) {
    let late = now.saturating_duration_since(due);
    let early = due.saturating_duration_since(now);
    clock::paced_start(late.as_nanos() as i64 - early.as_nanos() as i64);
    // Lateness only: a start the pacer sent a few microseconds early was not late.
    metrics::record(Metric::ScheduleLag, super::cycle::micros(late));
}

/// A trace row for this instance (`load.model = "trace"`).
#[derive(Message)]
#[rtype(result = "()")]
pub enum Replay {
    /// Log in; the row was due at this instant.
    Login(Instant),
    Logout,
    Drop,
}

impl Handler<Replay> for Instance {
    type Result = ();

    fn handle(&mut self, r: Replay, ctx: &mut Context<Self>) {
        let now = Instant::now();
        if let Replay::Login(due) = r {
            paced(due, now);
        }
        let (c, mut io) = self.split(ctx);
        match r {
            Replay::Login(due) => c.replay_login(&mut io, now.saturating_duration_since(due)),
            Replay::Logout => c.replay_logout(&mut io),
            Replay::Drop => c.replay_drop(&mut io),
        }
    }
}

/// A `[[chaos]]` drop cuts this instance's connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Cut(pub crate::scenario::Cut);

impl Handler<Cut> for Instance {
    type Result = ();

    fn handle(&mut self, Cut(how): Cut, ctx: &mut Context<Self>) {
        let (c, mut io) = self.split(ctx);
        c.cut(&mut io, how);
    }
}

/// Wind down: log out if logged in, close, and stop the actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Stop> for Instance {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        let (c, mut io) = self.split(ctx);
        c.stop(&mut io);
    }
}

/// The account wants a probe (settle or due): answered through `Observed::Probe`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Probe(pub ProbeKind);

impl Handler<Probe> for Instance {
    type Result = ();

    fn handle(&mut self, Probe(kind): Probe, ctx: &mut Context<Self>) {
        let (c, mut io) = self.split(ctx);
        c.probe_asked(&mut io, kind);
    }
}

/// The account releases a wave: log in after `delay` (0 for a barrier, a draw for jitter).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Release {
    pub delay: Duration,
}

impl Handler<Release> for Instance {
    type Result = ();

    fn handle(&mut self, m: Release, ctx: &mut Context<Self>) {
        let (c, mut io) = self.split(ctx);
        c.release(&mut io, m.delay);
    }
}

/// The account judged the wave this instance holds for: end the cycle now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Proceed;

impl Handler<Proceed> for Instance {
    type Result = ();

    fn handle(&mut self, _: Proceed, ctx: &mut Context<Self>) {
        let (c, mut io) = self.split(ctx);
        c.proceed(&mut io);
    }
}
