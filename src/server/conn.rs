//! One WebSocket connection = one SDK instance on the server side: the I/O around a
//! [`Session`](super::session::Session). The connection reads frames, pushes and timers into
//! the session, carries out the commands it answers (asking the account's
//! [`Ledger`](super::shard::Ledger), arming timers), and writes the frames it produces. A login
//! waits for the shard's answer without blocking the connection, so a second login sent
//! meanwhile gets 2025.

use futures_util::{SinkExt, StreamExt};

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::budget::Hold;
use super::close::{close_frame, error_close, CLOSE_FLUSH};
use super::session::{Command, KickPush, Session};
use super::shard::{self, ConnLink, Push};
use super::{now_unix, Shared};
use crate::protocol::webim::{In, Webim};
use crate::protocol::{self, code, Delivered, Request, ServerFrame};

/// Expiry timers further out than this are not armed (the session outlives any test).
const MAX_TIMER: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

type LoginReply = Pin<Box<dyn Future<Output = (u64, Result<u64, u32>)> + Send>>;

mod commands;

struct Conn {
    shared: Arc<Shared>,
    conn_id: u64,
    session: Session,
    push_tx: mpsc::UnboundedSender<Push>,
    queued: Arc<AtomicUsize>,
    /// Set when a gateway restart dropped the connection and the session stays as a ghost.
    ghost: Arc<AtomicBool>,
    ready_at: Option<Instant>,
    expire_at: Option<Instant>,
    /// Pending login's shard answer, with the login's seq.
    pending: Option<LoginReply>,
    /// When the frame being handled was received.
    received: Instant,
    /// When the pending login's frame was received (its latency ends at the decision).
    login_received: Option<Instant>,
}

struct OpenGuard<'a>(&'a AtomicUsize);
impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the upgrade set up for the connection: its id, the channel the shard (and the frame
/// budget) reach it by, and its share of the frame budget.
pub(super) struct Channels {
    pub conn_id: u64,
    pub push_tx: mpsc::UnboundedSender<Push>,
    pub push_rx: mpsc::UnboundedReceiver<Push>,
    pub hold: Arc<Hold>,
}

pub(super) async fn run<S>(ws: WebSocketStream<S>, shared: Arc<Shared>, ch: Channels)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    shared.open_conns.fetch_add(1, Ordering::Relaxed);
    let _guard = OpenGuard(&shared.open_conns);
    let Channels {
        conn_id,
        push_tx,
        mut push_rx,
        hold,
    } = ch;
    let limits = shared.config.limits;
    let opened = Instant::now();
    // A login must *succeed* within `login_timeout` (a refused or garbage login does not stop
    // the clock, or one bad frame would hold a connection forever); and `idle_timeout` (if
    // set) from the last frame received. One timer follows whichever comes first.
    let mut logged_in_once = false;
    let mut last_frame = opened;
    let watch_due = |logged: bool, last: Instant| -> Option<Instant> {
        let login =
            (!logged && !limits.login_timeout.is_zero()).then(|| opened + limits.login_timeout);
        let idle = (!limits.idle_timeout.is_zero()).then(|| last + limits.idle_timeout);
        match (login, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    };
    let mut watch_at = watch_due(false, opened);
    let watch = tokio::time::sleep_until(watch_at.unwrap_or(opened + MAX_TIMER));
    tokio::pin!(watch);
    let seed = shared.config.fault_seed ^ conn_id.wrapping_mul(0xA24B_AED4_963E_E407);
    let settings = shared.session.clone();
    let mut c = Conn {
        shared: shared.clone(),
        conn_id,
        session: Session::new(settings, conn_id, seed),
        push_tx,
        queued: Arc::new(AtomicUsize::new(0)),
        ghost: Arc::new(AtomicBool::new(false)),
        ready_at: None,
        expire_at: None,
        pending: None,
        received: opened,
        login_received: None,
    };
    let (mut sink, mut stream) = ws.split();
    // The webim dialect: translated at this boundary; its own frames (refusals, heartbeats,
    // the welcome) go out as they are.
    let mut wire = (shared.config.dialect == super::Dialect::Webim).then(Webim::default);
    let mut raw_out: Vec<String> = Vec::new();
    let heartbeat = shared.config.heartbeat;
    let beats = wire.is_some() && !heartbeat.is_zero();
    // The heartbeat last sent and not yet answered: its number and when.
    let mut unanswered: Option<(u64, Instant)> = None;
    let mut next_beat = opened + heartbeat;
    if wire.is_some() {
        raw_out.push(Webim::welcome());
    }
    // A gateway restart that keeps the sessions: the connection goes, with no close frame, and
    // its session stays behind as a ghost (below).
    let gateway = shared.gateway.load(Ordering::Relaxed);
    let crashed = loop {
        if shared.gateway.load(Ordering::Relaxed) != gateway {
            break true;
        }
        let far = Instant::now() + MAX_TIMER;
        tokio::select! {
            biased;
            // An async block: a disabled branch's future is still built each pass, and a bare
            // `sleep_until` would make a timer entry every time.
            _ = async { tokio::time::sleep_until(next_beat).await }, if beats => {
                let now = Instant::now();
                if let Some((n, sent)) = unanswered {
                    if now >= sent + heartbeat * 2 {
                        let _ = sink.send(close_frame(CloseCode::Policy, format!(
                            "heartbeat {n} not answered within {:?}", heartbeat * 2))).await;
                        break false;
                    }
                } else if let Some(w) = wire.as_mut() {
                    let (n, text) = w.heartbeat();
                    unanswered = Some((n, now));
                    raw_out.push(text);
                }
                next_beat = now + heartbeat;
            }
            (seq, reply) = async { c.pending.as_mut().expect("guarded").await }, if c.pending.is_some() => {
                c.pending = None;
                let counter = if reply.is_ok() { &c.shared.stats.logins_admitted } else { &c.shared.stats.logins_refused_sig_invalidated };
                counter.fetch_add(1, Ordering::Relaxed);
                if let Some(at) = c.login_received.take() {
                    let us = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
                    c.shared.stats.login.observe(us);
                }
                c.session.login_answered(seq, reply);
            }
            Some(push) = push_rx.recv() => {
                if matches!(push, Push::Crash) {
                    break true;
                }
                if matches!(push, Push::Shed) {
                    let _ = sink.send(close_frame(CloseCode::Size, format!(
                        "the server's budget for partly received messages ({} bytes) is full and this connection held the most",
                        limits.frame_budget))).await;
                    break false;
                }
                c.on_push(push);
            }
            () = &mut watch, if watch_at.is_some() => {
                let now = Instant::now();
                if !logged_in_once && !limits.login_timeout.is_zero() && now >= opened + limits.login_timeout {
                    let _ = sink.send(close_frame(CloseCode::Policy, format!(
                        "no login within {:?} of the upgrade", limits.login_timeout))).await;
                    break false;
                }
                if !limits.idle_timeout.is_zero() && now >= last_frame + limits.idle_timeout {
                    let _ = sink.send(close_frame(CloseCode::Normal, format!(
                        "nothing received for {:?}", limits.idle_timeout))).await;
                    break false;
                }
                watch_at = watch_due(logged_in_once, last_frame);
                if let Some(at) = watch_at {
                    watch.as_mut().reset(at);
                }
            }
            _ = tokio::time::sleep_until(c.ready_at.unwrap_or(far)), if c.ready_at.is_some() => {
                c.ready_at = None;
                c.session.ready_timer();
            }
            _ = tokio::time::sleep_until(c.expire_at.unwrap_or(far)), if c.expire_at.is_some() => {
                c.expire_at = None;
                c.session.expiry_timer();
            }
            msg = stream.next() => {
                let m = match msg {
                    Some(Ok(m)) => m,
                    None => break false,
                    Some(Err(e)) => {
                        if let Some(close) = error_close(e) {
                            let _ = sink.send(close).await;
                        }
                        break false;
                    }
                };
                // A whole message is out of the stream: release what it held, note the client
                // is alive.
                hold.message_done();
                last_frame = Instant::now();
                c.received = last_frame;
                match m {
                    Message::Text(t) if t.len() > protocol::MAX_FRAME_BYTES => {
                        c.session.out.push(ServerFrame::error(0, code::INVALID_PARAMS, &format!(
                            "frame is {} bytes, over the {}-byte limit", t.len(), protocol::MAX_FRAME_BYTES)));
                    }
                    Message::Text(t) => {
                        // A request for the session, or nothing (a refusal or a heartbeat's
                        // answer was handled here).
                        let request = match wire.as_mut() {
                            None => match Request::parse(t.as_str()) {
                                Ok(r) => Some(r),
                                Err(e) => {
                                    c.session.out.push(ServerFrame::error(e.seq, code::INVALID_PARAMS, &e.message));
                                    None
                                }
                            },
                            Some(w) => match w.incoming(t.as_str()) {
                                In::Request(r) => Some(r),
                                In::Refused(reply) => {
                                    raw_out.push(reply);
                                    None
                                }
                                In::HeartbeatAck(n) => {
                                    if unanswered.is_some_and(|(u, _)| u == n) {
                                        unanswered = None;
                                    }
                                    None
                                }
                            },
                        };
                        if let Some(req) = request {
                            c.session.request(req, now_unix())
                        }
                    }
                    Message::Binary(_) => c.session.out.push(ServerFrame::error(0, code::INVALID_PARAMS,
                        "binary frames are not accepted; send JSON text frames")),
                    // The close reply tungstenite queued (the peer's code echoed, or 1002 for a
                    // code no endpoint may send, RFC 6455 §7.4) goes out before the socket ends.
                    Message::Close(_) => {
                        let _ = tokio::time::timeout(CLOSE_FLUSH, sink.flush()).await;
                        break false;
                    }
                    _ => {} // ping/pong are answered by tungstenite
                }
            }
        }
        c.carry_out().await;
        if !logged_in_once && c.session.logged_in() {
            logged_in_once = true;
            watch_at = watch_due(true, last_frame);
            if let Some(at) = watch_at {
                watch.as_mut().reset(at);
            }
        }
        if !c.session.out.is_empty() || !raw_out.is_empty() {
            let mut failed = false;
            // The dialect's own frames first (a refusal answers the frame just read), then the
            // session's, translated when the connection speaks a dialect.
            for frame in raw_out.drain(..) {
                if sink.feed(Message::text(frame)).await.is_err() {
                    failed = true;
                    break;
                }
            }
            for frame in c.session.out.drain(..) {
                if failed {
                    break;
                }
                let frame = match wire.as_mut() {
                    Some(w) => w.outgoing(&frame),
                    None => frame,
                };
                if sink.feed(Message::text(frame)).await.is_err() {
                    failed = true;
                }
            }
            if failed || sink.flush().await.is_err() {
                break false;
            }
        }
    };
    if crashed {
        drop((sink, stream));
        c.linger(last_frame, limits.idle_timeout, push_rx).await;
    }
    c.leave();
}

/// When a sig that expires after unix second `expires_at` must be kicked (`now > expires_at`).
fn expiry_instant(expires_at: u64) -> Option<Instant> {
    let deadline = UNIX_EPOCH.checked_add(Duration::from_secs(expires_at.checked_add(1)?))?;
    let wait = deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    (wait < MAX_TIMER).then(|| Instant::now() + wait)
}
