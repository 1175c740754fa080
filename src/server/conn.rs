//! One WebSocket connection = one SDK instance on the server side.
//!
//! The connection owns the instance's session state and its timers (ready delay, UserSig expiry);
//! the account's [`Shard`](super::shard::Shard) owns the decisions. A login waits for the shard's
//! answer without blocking the connection, so a second login sent meanwhile gets 2025.

use futures_util::{SinkExt, StreamExt};

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::shard::{self, ConnLink, Push};
use super::{now_unix, Shared};
use crate::policy::Platform;
use crate::protocol::{
    self, code, not_ready_code, Delivered, Event, Kicked, ReplyData, Request, ServerFrame,
};
use crate::usersig;

/// Expiry timers further out than this are not armed (the session outlives any test).
const MAX_TIMER: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

enum Session {
    /// Not logged in; the code is the not-ready reason for authenticated calls.
    Idle { reason: u32 },
    /// A login is with the shard.
    Pending { user: String },
    LoggedIn {
        user: String,
        instance: u64,
        ready: bool,
        /// Fault: the shard kicked it but it still acts.
        zombie: bool,
    },
}

type LoginReply = Pin<Box<dyn Future<Output = (u64, Result<u64, u32>)> + Send>>;

struct Conn {
    shared: Arc<Shared>,
    conn_id: u64,
    session: Session,
    push_tx: mpsc::UnboundedSender<Push>,
    queued: Arc<AtomicUsize>,
    ready_at: Option<Instant>,
    expire_at: Option<Instant>,
    /// Pending login's shard answer, with the login's seq.
    pending: Option<LoginReply>,
    /// The pending login's UserSig expiry (unix second).
    pending_expiry: Option<u64>,
    /// Kicks that arrived while a login was pending (at most one per pending login).
    deferred: Vec<Push>,
    rng: fastrand::Rng,
    out: Vec<String>,
    next_message: u64,
}

struct OpenGuard<'a>(&'a AtomicUsize);
impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(super) async fn run<S>(ws: WebSocketStream<S>, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    shared.open_conns.fetch_add(1, Ordering::Relaxed);
    let _guard = OpenGuard(&shared.open_conns);
    let conn_id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let (push_tx, mut push_rx) = mpsc::unbounded_channel();
    let seed = shared.config.fault_seed ^ conn_id.wrapping_mul(0xA24B_AED4_963E_E407);
    let mut c = Conn {
        shared: shared.clone(),
        conn_id,
        session: Session::Idle {
            reason: code::NOT_LOGGED_IN,
        },
        push_tx,
        queued: Arc::new(AtomicUsize::new(0)),
        ready_at: None,
        expire_at: None,
        pending: None,
        pending_expiry: None,
        deferred: Vec::new(),
        rng: fastrand::Rng::with_seed(seed),
        out: Vec::new(),
        next_message: 0,
    };
    let (mut sink, mut stream) = ws.split();
    loop {
        let far = Instant::now() + MAX_TIMER;
        tokio::select! {
            biased;
            (seq, reply) = async { c.pending.as_mut().expect("guarded").await }, if c.pending.is_some() => {
                c.pending = None;
                c.login_answered(seq, reply);
            }
            Some(push) = push_rx.recv() => c.on_push(push),
            _ = tokio::time::sleep_until(c.ready_at.unwrap_or(far)), if c.ready_at.is_some() => {
                c.ready_at = None;
                if let Session::LoggedIn { ready, .. } = &mut c.session {
                    *ready = true;
                    c.out.push(ServerFrame::event(Event::Ready));
                }
            }
            _ = tokio::time::sleep_until(c.expire_at.unwrap_or(far)), if c.expire_at.is_some() => {
                c.expire_at = None;
                if let Session::LoggedIn { user, instance, zombie: false, .. } = &c.session {
                    shared.shard_for(user).do_send(shard::Expire { user: user.clone(), instance: *instance });
                }
            }
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if t.len() > protocol::MAX_FRAME_BYTES {
                        c.out.push(ServerFrame::error(0, code::INVALID_PARAMS, &format!(
                            "frame is {} bytes, over the {}-byte limit", t.len(), protocol::MAX_FRAME_BYTES)));
                    } else {
                        c.on_text(t.as_str()).await;
                    }
                }
                Some(Ok(Message::Binary(_))) => c.out.push(ServerFrame::error(0, code::INVALID_PARAMS,
                    "binary frames are not accepted; send JSON text frames")),
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {} // ping/pong are answered by tungstenite
                Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                    let _ = sink.send(Message::Close(Some(CloseFrame {
                        code: CloseCode::Size,
                        reason: format!("message of {size} bytes over the {max_size}-byte hard limit").into(),
                    }))).await;
                    break;
                }
                Some(Err(_)) => break,
            },
        }
        if !c.out.is_empty() {
            let mut failed = false;
            for frame in c.out.drain(..) {
                if sink.feed(Message::text(frame)).await.is_err() {
                    failed = true;
                    break;
                }
            }
            if failed || sink.flush().await.is_err() {
                break;
            }
        }
    }
    c.leave();
}

impl Conn {
    async fn on_text(&mut self, text: &str) {
        let req = match Request::parse(text) {
            Ok(r) => r,
            Err(e) => {
                self.out
                    .push(ServerFrame::error(e.seq, code::INVALID_PARAMS, &e.message));
                return;
            }
        };
        match req {
            Request::Ping { seq } => self.out.push(ServerFrame::ok(seq, ReplyData::default())),
            Request::Login {
                seq,
                sdk_app_id,
                user_id,
                user_sig,
                platform,
            } => self.login(seq, sdk_app_id, user_id, user_sig, platform),
            Request::Logout { seq } => self.logout(seq).await,
            Request::SendMessage { seq, to, text } => self.send_message(seq, to, text),
        }
    }

    fn login(&mut self, seq: u64, app: u64, user: String, sig: String, platform: Platform) {
        match &self.session {
            Session::Pending { .. } => {
                return self.out.push(ServerFrame::error(
                    seq,
                    code::LOGIN_IN_PROGRESS,
                    "a login is already in progress on this instance",
                ))
            }
            Session::LoggedIn { user: u, .. } if *u == user => {
                return self.out.push(ServerFrame::ok(
                    seq,
                    ReplyData {
                        repeat_login: Some(true),
                        error_info: Some(
                            "already logged in as this user; no new login was made".into(),
                        ),
                        ..ReplyData::default()
                    },
                ))
            }
            Session::LoggedIn { .. } => {
                return self.out.push(ServerFrame::error(
                    seq,
                    code::LOGIN_IN_PROGRESS,
                    "logged in as another user on this instance; log out first",
                ))
            }
            Session::Idle { .. } => {}
        }
        let cfg = &self.shared.config;
        let now = now_unix();
        let verified = usersig::verify(&sig, app, &cfg.key, &user, now).and_then(|f| {
            if app != cfg.sdkappid {
                Err(usersig::SigError::AppMismatch {
                    requested: app,
                    in_sig: f.sdkappid,
                })
            } else {
                Ok(f)
            }
        });
        let fields = match verified {
            Ok(f) => f,
            Err(e) => {
                let msg = if let usersig::SigError::AppMismatch { .. } = e {
                    format!("{e}; this server's SDKAppID is {}", cfg.sdkappid)
                } else {
                    e.to_string()
                };
                self.session = Session::Idle {
                    reason: code::NOT_READY_LOGIN_FAILED,
                };
                return self.out.push(ServerFrame::error(seq, e.code(), &msg));
            }
        };
        let msg = shard::Login {
            user: user.clone(),
            platform,
            sig_time: fields.time,
            sig_hash: hash_str(&sig),
            now_unix: now,
            link: ConnLink {
                conn: self.conn_id,
                push: self.push_tx.clone(),
                queued: self.queued.clone(),
            },
        };
        let fut = self.shared.shard_for(&user).send(msg);
        self.pending = Some(Box::pin(async move {
            (seq, fut.await.unwrap_or(Err(code::INVALID_PARAMS)))
        }));
        self.pending_expiry = Some(fields.expires_at());
        self.session = Session::Pending { user };
    }

    fn login_answered(&mut self, seq: u64, reply: Result<u64, u32>) {
        let Session::Pending { user } = std::mem::replace(
            &mut self.session,
            Session::Idle {
                reason: code::NOT_READY_LOGIN_FAILED,
            },
        ) else {
            return;
        };
        let expires_at = self.pending_expiry.take().unwrap_or(u64::MAX);
        match reply {
            Ok(instance) => {
                self.out.push(ServerFrame::ok(
                    seq,
                    ReplyData {
                        repeat_login: Some(false),
                        instance_id: Some(format!("{instance:x}")),
                        ..ReplyData::default()
                    },
                ));
                self.session = Session::LoggedIn {
                    user,
                    instance,
                    ready: false,
                    zombie: false,
                };
                // A kick of this new instance may have been read before its answer (the two
                // come over different channels): apply it now, after the response.
                for push in std::mem::take(&mut self.deferred) {
                    self.on_push(push);
                }
                if !matches!(self.session, Session::LoggedIn { .. }) {
                    return;
                }
                let cfg = &self.shared.config;
                if self.rng.f64() >= cfg.faults.no_ready || cfg.faults.no_ready == 0.0 {
                    let delay = cfg.ready_delay.sample(self.rng.f64());
                    if delay.is_zero() {
                        self.set_ready();
                    } else {
                        self.ready_at = Some(Instant::now() + delay);
                    }
                }
                self.expire_at = expiry_instant(expires_at);
            }
            Err(c) => {
                self.deferred.clear();
                let msg = if c == code::SIG_INVALIDATED {
                    "UserSig was invalidated by an admin kick; mint a new one"
                } else {
                    "login failed"
                };
                self.out.push(ServerFrame::error(seq, c, msg));
            }
        }
    }

    fn set_ready(&mut self) {
        if let Session::LoggedIn { ready, .. } = &mut self.session {
            *ready = true;
            self.out.push(ServerFrame::event(Event::Ready));
        }
    }

    async fn logout(&mut self, seq: u64) {
        let (user, zombie) = match &self.session {
            Session::Idle { .. } => {
                return self.out.push(ServerFrame::error(
                    seq,
                    code::NOT_LOGGED_IN,
                    "not logged in",
                ))
            }
            Session::Pending { .. } => {
                return self.out.push(ServerFrame::error(
                    seq,
                    code::LOGIN_IN_PROGRESS,
                    "a login is in progress on this instance; wait for its response",
                ))
            }
            Session::LoggedIn { user, zombie, .. } => (user.clone(), *zombie),
        };
        let was_live = zombie
            || self
                .shared
                .shard_for(&user)
                .send(shard::Leave {
                    user,
                    conn: self.conn_id,
                })
                .await
                .unwrap_or(false);
        if was_live {
            self.ready_at = None;
            self.expire_at = None;
            self.session = Session::Idle {
                reason: code::NOT_READY_LOGGED_OUT,
            };
            self.out.push(ServerFrame::ok(seq, ReplyData::default()));
            self.out.push(ServerFrame::event(Event::NotReady));
        } else {
            // Kicked while the logout was on its way: the kick's push is queued; it is handled
            // next, and the logout finds nobody logged in.
            self.out.push(ServerFrame::error(
                seq,
                code::NOT_LOGGED_IN,
                "not logged in (kicked)",
            ));
        }
    }

    fn send_message(&mut self, seq: u64, to: String, text: String) {
        let (from, ok) = match &self.session {
            Session::Idle { reason } => {
                return self
                    .out
                    .push(ServerFrame::error(seq, *reason, not_ready_text(*reason)))
            }
            Session::Pending { .. } => (String::new(), false),
            Session::LoggedIn { user, ready, .. } => (user.clone(), *ready),
        };
        if !ok {
            return self.out.push(ServerFrame::error(
                seq,
                code::NOT_READY_LOGGING_IN,
                not_ready_text(code::NOT_READY_LOGGING_IN),
            ));
        }
        self.next_message += 1;
        let message_id = format!("{:x}-{}", self.conn_id, self.next_message);
        self.out.push(ServerFrame::ok(
            seq,
            ReplyData {
                message_id: Some(message_id.clone()),
                ..ReplyData::default()
            },
        ));
        self.shared.shard_for(&to).do_send(shard::Deliver {
            to,
            delivery: Arc::new(shard::Delivery {
                from,
                text,
                message_id,
            }),
        });
    }

    fn on_push(&mut self, push: Push) {
        match push {
            Push::Message(d) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                if let Session::LoggedIn { ready: true, .. } = self.session {
                    self.out
                        .push(ServerFrame::event(Event::MessageReceived(Delivered {
                            from: d.from.clone(),
                            text: d.text.clone(),
                            message_id: d.message_id.clone(),
                        })));
                }
            }
            Push::Kicked {
                instance,
                kick,
                silent,
                zombie,
            } => {
                if let Session::Pending { .. } = self.session {
                    // The shard decided this login and then kicked it before its answer reached
                    // us: keep the kick for when the answer arrives.
                    self.deferred.push(Push::Kicked {
                        instance,
                        kick,
                        silent,
                        zombie,
                    });
                    return;
                }
                let Session::LoggedIn {
                    instance: mine,
                    zombie: already,
                    ..
                } = &mut self.session
                else {
                    return;
                };
                if *mine != instance || *already {
                    return;
                }
                self.expire_at = None;
                if zombie {
                    *already = true;
                } else {
                    self.ready_at = None;
                    self.session = Session::Idle {
                        reason: not_ready_code(kick),
                    };
                }
                if !silent {
                    self.out
                        .push(ServerFrame::event(Event::KickedOut(Kicked { kind: kick })));
                    self.out.push(ServerFrame::event(Event::NotReady));
                }
            }
        }
    }

    /// The connection is gone: forget its instance (a pending login is forgotten once decided,
    /// since the shard handles this connection's messages in order).
    fn leave(&mut self) {
        let user = match &self.session {
            Session::Pending { user } => user,
            Session::LoggedIn {
                user,
                zombie: false,
                ..
            } => user,
            _ => return,
        };
        self.shared.shard_for(user).do_send(shard::Leave {
            user: user.clone(),
            conn: self.conn_id,
        });
    }
}

fn not_ready_text(reason: u32) -> &'static str {
    match reason {
        code::NOT_LOGGED_IN => "not logged in",
        code::NOT_READY_LOGGING_IN => "not ready: login in progress",
        code::NOT_READY_LOGIN_FAILED => "not ready: the last login failed",
        code::NOT_READY_KICKED_DEVICE => "not ready: kicked (multipleDevice)",
        code::NOT_READY_KICKED_ACCOUNT => "not ready: kicked (multipleAccount)",
        code::NOT_READY_KICKED_EXPIRED => "not ready: kicked (userSigExpired)",
        code::NOT_READY_LOGGED_OUT => "not ready: logged out",
        code::NOT_READY_KICKED_REST => "not ready: kicked (REST_API_Kick)",
        _ => "not ready",
    }
}

/// When a sig that expires after unix second `expires_at` must be kicked (`now > expires_at`).
fn expiry_instant(expires_at: u64) -> Option<Instant> {
    let deadline = UNIX_EPOCH.checked_add(Duration::from_secs(expires_at.checked_add(1)?))?;
    let wait = deadline
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    (wait < MAX_TIMER).then(|| Instant::now() + wait)
}

fn hash_str(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}
