//! An instance's WebSocket as one item of its actor's context: frames are read and handed to
//! the instance in that item's poll, and a frame the instance sends is written at once, in the
//! handler that sends it.
//!
//! Why not actix's `add_stream` for the read half and `SinkWrite` for the write half: the
//! split puts a lock between the halves, the context polls two items on every wake-up, and
//! `SinkWrite::write` only queues the frame and wakes the actor's task to write it — a task
//! that is already running, so it is polled once more for nothing after each handler that
//! sends (a login, a logout: two idle passes over the context a cycle, measured with uprobes
//! on tokio's scheduler). Here the handler writes with the waker of the item's last poll, so a
//! frame leaves before the handler returns and a blocked socket wakes the same task.

use actix::prelude::*;
use futures_util::{Sink, Stream};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll, Waker};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::Instance;
use crate::engine::conn::Conn;

/// Frames handled in one poll before the item yields to the actor's other work (as actix's
/// own stream item does).
const FRAMES_PER_POLL: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading and writing.
    Open,
    /// The instance closed it: the close frame goes out, nothing more is read.
    Closing,
    /// Closed, broken or abandoned: the socket is dropped.
    Done,
    /// Gone silent (a `[[chaos]]` silent drop): the socket stays open, nothing is read or
    /// written any more — a dead network, as the server sees it.
    Silent,
}

struct Shared {
    ws: Option<Conn>,
    state: State,
    /// The actor task's waker, from the item's last poll.
    waker: Option<Waker>,
    /// Frames the socket could not take yet (or sent before the item's first poll).
    queued: VecDeque<Message>,
    /// A write failed: the item reports the connection lost on its next poll.
    broken: bool,
    /// Frames given to [`Link::send`] so far: the last one's number.
    frames: u32,
    /// The last frame known written out, and the connection's write count just after it
    /// (engine/nagle.rs: what an answer to that frame acknowledges).
    written: (u32, u32),
}

impl Shared {
    /// The connection is over: drop the socket.
    fn end(&mut self) {
        self.state = State::Done;
        self.ws = None;
    }

    /// Write what is queued and flush. `false`: the connection is broken.
    fn write_out(&mut self, cx: &mut TaskContext<'_>) -> bool {
        let Some(ws) = self.ws.as_mut() else {
            return false;
        };
        let mut ws = Pin::new(ws);
        while !self.queued.is_empty() {
            match ws.as_mut().poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let m = self.queued.pop_front().expect("not empty");
                    if ws.as_mut().start_send(m).is_err() {
                        return false;
                    }
                }
                Poll::Ready(Err(_)) => return false,
                // The socket wakes this task when it can take more.
                Poll::Pending => return true,
            }
        }
        match ws.as_mut().poll_flush(cx) {
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                // Everything given to `send` is out: the last frame ended at this count.
                self.written = (self.frames, ws.writes());
                true
            }
            Poll::Pending => true,
        }
    }

    /// Send the close frame. `true` when it is done (or cannot be done): drop the socket.
    fn close_out(&mut self, cx: &mut TaskContext<'_>) -> bool {
        if !self.write_out(cx) {
            return true;
        }
        if !self.queued.is_empty() {
            return false;
        }
        match self.ws.as_mut() {
            Some(ws) => Pin::new(ws).poll_close(cx).is_ready(),
            None => true,
        }
    }

    /// Run `f` with a task context whose waker is the actor's (none before the first poll).
    fn with_cx<R>(&mut self, f: impl FnOnce(&mut Shared, Option<&mut TaskContext<'_>>) -> R) -> R {
        match self.waker.clone() {
            Some(w) => f(self, Some(&mut TaskContext::from_waker(&w))),
            None => f(self, None),
        }
    }
}

/// The instance's handle on its connection.
pub(super) struct Link {
    shared: Rc<RefCell<Shared>>,
    handle: SpawnHandle,
}

impl Link {
    /// Take over `ws`: its frames go to [`Instance::frame`], its end to [`Instance::link_ended`].
    pub fn new(ws: Conn, ctx: &mut Context<Instance>) -> Link {
        let shared = Rc::new(RefCell::new(Shared {
            ws: Some(ws),
            state: State::Open,
            waker: None,
            queued: VecDeque::new(),
            broken: false,
            frames: 0,
            written: (0, 0),
        }));
        let handle = ctx.spawn(Reader {
            shared: shared.clone(),
        });
        Link { shared, handle }
    }

    /// Send a frame now (or, if the socket is full, as soon as it takes it). `false`: the
    /// connection is broken or closing.
    pub fn send(&self, m: Message) -> bool {
        let mut s = self.shared.borrow_mut();
        if s.state != State::Open || s.broken {
            return false;
        }
        s.queued.push_back(m);
        s.frames = s.frames.wrapping_add(1);
        let ok = s.with_cx(|s, cx| match cx {
            Some(cx) => s.write_out(cx),
            // Not polled yet: the item's first poll (this pass of the context) writes it.
            None => true,
        });
        s.broken = !ok;
        ok
    }

    /// The number of the last frame given to [`Link::send`].
    pub fn frames(&self) -> u32 {
        self.shared.borrow().frames
    }

    /// The server answered frame number `frame`: if it is the last frame written out, every
    /// byte written up to its end is acknowledged (engine/nagle.rs). If more was written after
    /// it (or it is still waiting for the socket), nothing is said.
    pub fn answered(&self, frame: u32) {
        let mut s = self.shared.borrow_mut();
        let (last, through) = s.written;
        if last == frame {
            if let Some(ws) = s.ws.as_mut() {
                ws.answered(through);
            }
        }
    }

    /// Close: the close frame goes out (now, or from the item when the socket takes it) and
    /// the socket is dropped; no frame is handed to the instance any more.
    pub fn close(self, ctx: &mut Context<Instance>) {
        let mut s = self.shared.borrow_mut();
        if s.state != State::Open {
            return;
        }
        s.state = State::Closing;
        let done = s.with_cx(|s, cx| cx.is_some_and(|cx| s.close_out(cx)));
        if done {
            s.end();
            drop(s);
            ctx.cancel_future(self.handle);
        }
    }

    /// Drop the connection with a TCP reset.
    pub fn reset(self, ctx: &mut Context<Instance>) {
        if let Some(ws) = self.shared.borrow().ws.as_ref() {
            ws.reset_on_drop();
        }
        self.abandon(ctx);
    }

    /// Go silent: keep the socket open and never touch it again. The returned ghost holds it
    /// until it is dropped.
    pub fn silence(self, ctx: &mut Context<Instance>) -> Ghost {
        let mut s = self.shared.borrow_mut();
        s.state = State::Silent;
        s.queued.clear();
        let ws = s.ws.take();
        drop(s);
        ctx.cancel_future(self.handle);
        Ghost(ws)
    }

    /// Drop the connection at once (it is broken, or the instance gives up on it).
    pub fn abandon(self, ctx: &mut Context<Instance>) {
        let mut s = self.shared.borrow_mut();
        s.end();
        s.queued.clear();
        drop(s);
        ctx.cancel_future(self.handle);
    }
}

/// A connection gone silent: its socket, held open, never read or written.
pub(super) struct Ghost(#[allow(dead_code)] Option<Conn>);

/// The context's item: reads frames while open, finishes a close, reports the end.
struct Reader {
    shared: Rc<RefCell<Shared>>,
}

impl ActorFuture<Instance> for Reader {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut Instance,
        ctx: &mut Context<Instance>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<()> {
        let shared = self.shared.clone();
        {
            let mut s = shared.borrow_mut();
            if s.waker.as_ref().is_none_or(|w| !w.will_wake(cx.waker())) {
                s.waker = Some(cx.waker().clone());
            }
            match s.state {
                State::Done | State::Silent => return Poll::Ready(()),
                State::Closing => {
                    if s.close_out(cx) {
                        s.end();
                        return Poll::Ready(());
                    }
                    return Poll::Pending;
                }
                State::Open => {
                    if s.broken || !s.write_out(cx) {
                        s.end();
                        drop(s);
                        act.link_ended(ctx);
                        return Poll::Ready(());
                    }
                }
            }
        }
        for _ in 0..FRAMES_PER_POLL {
            // The borrow ends before the instance handles the frame: it may send, or close.
            let next = {
                let mut s = shared.borrow_mut();
                match (s.state, s.ws.as_mut()) {
                    (State::Open, Some(ws)) => Some(Pin::new(ws).poll_next(cx)),
                    _ => None,
                }
            };
            let Some(next) = next else {
                return after_close(&shared, cx);
            };
            match next {
                Poll::Ready(Some(item)) => {
                    act.frame(item, ctx);
                    if ctx.waiting() {
                        return Poll::Pending;
                    }
                }
                Poll::Ready(None) => {
                    shared.borrow_mut().end();
                    act.link_ended(ctx);
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        // Many frames at once: let the actor's other work run, and come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A handler closed or dropped the link: finish its close here, or end.
fn after_close(shared: &RefCell<Shared>, cx: &mut TaskContext<'_>) -> Poll<()> {
    let mut s = shared.borrow_mut();
    if s.state == State::Closing && !s.close_out(cx) {
        return Poll::Pending;
    }
    s.end();
    Poll::Ready(())
}

/// What the read half yields.
pub(super) type Frame = Result<Message, WsError>;
