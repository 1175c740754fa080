//! What drives an instance: frames from its WebSocket (`link.rs`), the connection's end, and
//! the account's messages (start a cycle, release a wave, probe, stop).

use actix::prelude::*;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{Instance, Phase};
use crate::checks::ProbeKind;
use crate::driver::{Incoming, Meaning};
use crate::engine::account::Observed;
use crate::engine::clock;
use crate::engine::metrics::{self, Counter, Metric};
use crate::scenario::LoadModel;
use std::time::Duration;

impl Actor for Instance {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        if self.phase == Phase::Ready {
            metrics::live(-1);
        }
    }
}

impl Instance {
    /// A frame no rule of the profile explains: a protocol error, counted as such, and kept
    /// (the first few) so the user can fix the profile.
    fn unmatched(&mut self, _: &mut Context<Self>, text: &str) {
        metrics::count(Counter::ProtocolErrors);
        metrics::count(Counter::ProtocolErrorsUnmatched);
        self.plan.keep_unmatched(&self.instance_id, text);
    }
}

impl Instance {
    /// A frame from the connection (or its read error).
    pub(super) fn frame(&mut self, item: super::link::Frame, ctx: &mut Context<Self>) {
        let message = match item {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => m,
            Ok(Message::Close(_)) | Err(_) => return self.lost(ctx),
            Ok(_) => return,
        };
        let frame = match &message {
            Message::Text(t) => Incoming::Text(t.as_str()),
            Message::Binary(b) => Incoming::Binary(b),
            _ => return,
        };
        if self.traced {
            match frame {
                Incoming::Text(t) => self.trace(false, t),
                Incoming::Binary(b) => self.trace(false, &format!("<{} binary bytes>", b.len())),
            }
        }
        let who = Self::who(&self.user, &self.instance_id);
        let meaning = self.driver.incoming(&self.plan.wire, frame, &who);
        match meaning {
            Meaning::Response { seq, code, repeat } => self.on_response(ctx, seq, code, repeat),
            Meaning::Ready => {
                if self.phase == Phase::AwaitReady {
                    self.on_ready(ctx);
                } else {
                    metrics::count(Counter::ProtocolErrors);
                    self.observe(Observed::Ready {
                        slot: self.slot,
                        at: Instant::now(),
                    });
                    // Ready after a kick: does the kicked session act again (a zombie)?
                    if self.last_kicked && !self.stopping {
                        self.maybe_probe(ProbeKind::AfterKick, self.plan.checks.probe_after_kick);
                    }
                }
            }
            Meaning::Kicked(kind) => self.on_kicked(ctx, kind),
            Meaning::NotReady => self.observe(Observed::NotReady {
                slot: self.slot,
                at: Instant::now(),
            }),
            Meaning::MessageReceived => metrics::count(Counter::MessagesReceived),
            Meaning::Reply(reply) => {
                if !self.send_frame(reply) {
                    self.lost(ctx);
                }
            }
            Meaning::Ignored => {}
            Meaning::Unmatched(_) => {
                let shown = match frame {
                    Incoming::Text(t) => t.to_string(),
                    Incoming::Binary(b) => match std::str::from_utf8(b) {
                        Ok(t) => t.to_string(),
                        Err(_) => format!("<binary frame of {} bytes, not UTF-8>", b.len()),
                    },
                };
                self.unmatched(ctx, &shown)
            }
        }
    }

    /// The connection ended under the instance: the server closed it, or a write failed (a
    /// close or drop of the instance's own does not come here).
    pub(super) fn link_ended(&mut self, ctx: &mut Context<Self>) {
        if self.link.take().is_some() {
            self.lost(ctx);
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
        if self.phase != Phase::Idle || self.stopping {
            return;
        }
        let now = Instant::now();
        if let Some(due) = m.due {
            let late = now.saturating_duration_since(due);
            let early = due.saturating_duration_since(now);
            clock::paced_start(late.as_nanos() as i64 - early.as_nanos() as i64);
            // Lateness only: a start the pacer sent a few microseconds early was not late.
            metrics::record(Metric::ScheduleLag, super::micros(late));
        }
        self.owed = match self.plan.model {
            LoadModel::Open => now.saturating_duration_since(m.intended),
            LoadModel::Closed => Duration::ZERO,
        };
        self.barrier = m.barrier;
        self.start_cycle(ctx);
    }
}

/// Wind down: log out if logged in, close, and stop the actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop;

impl Handler<Stop> for Instance {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        self.stopping = true;
        match self.phase {
            Phase::Ready => self.logout(ctx),
            Phase::LoggingOut | Phase::LoggingIn | Phase::AwaitReady => {}
            Phase::Idle | Phase::Connecting | Phase::Arrived => {
                self.set_phase(ctx, Phase::Idle);
                self.close(ctx);
                ctx.stop();
            }
        }
    }
}

/// The account wants a probe (settle or due): answered through `Observed::Probe`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Probe(pub ProbeKind);

impl Handler<Probe> for Instance {
    type Result = ();

    fn handle(&mut self, Probe(kind): Probe, _: &mut Context<Self>) {
        if self.phase == Phase::Ready && self.probe(kind) {
            return;
        }
        self.observe(Observed::Probe {
            slot: self.slot,
            kind,
            code: None,
            at: Instant::now(),
        });
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
        if self.phase != Phase::Arrived || self.stopping {
            return;
        }
        if m.delay.is_zero() {
            self.login(ctx);
        } else {
            self.after(ctx, m.delay, |act, ctx| act.login(ctx));
        }
    }
}

/// The account judged the wave this instance holds for: end the cycle now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Proceed;

impl Handler<Proceed> for Instance {
    type Result = ();

    fn handle(&mut self, _: Proceed, ctx: &mut Context<Self>) {
        self.proceed(ctx);
    }
}
