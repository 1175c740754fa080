//! One SDK instance's session on the server, as a plain state machine: it takes a request, the
//! shard's answer, a push (kick, message) or a timer, and answers with the frames to send and the
//! commands for the connection to carry out (ask the shard, arm or disarm a timer). No sockets,
//! clocks or actors: `conn.rs` moves the bytes and messages, and the tests here drive it alone.

use std::sync::Arc;
use std::time::Duration;

use super::Faults;
use crate::policy::{KickType, Platform};
use crate::protocol::{
    code, not_ready_code, not_ready_text, Delivered, Event, Kicked, ReplyData, Request, ServerFrame,
};
use crate::units::DelayRange;
use crate::usersig;

/// What the server is configured with, as far as a session cares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub sdkappid: u64,
    pub key: String,
    pub ready_delay: DelayRange,
    pub faults: Faults,
}

/// What the connection must do for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Ask the shard to decide this login; its answer goes to [`Session::login_answered`].
    Login {
        seq: u64,
        user: String,
        platform: Platform,
        sig_time: u64,
        sig_hash: u64,
    },
    /// Ask the shard to drop this instance; whether it was live goes to
    /// [`Session::logout_answered`].
    Logout { seq: u64, user: String },
    /// Deliver a message to every ready instance of `to`.
    Deliver {
        to: String,
        from: String,
        text: String,
        message_id: String,
    },
    /// The session's UserSig expired: ask the shard to kick it.
    Expire { user: String, instance: u64 },
    /// `sdkStateReady` after this delay (`ReadyTimer` then); `None` disarms.
    ReadyIn(Option<Duration>),
    /// Kick for expiry once the wall clock passes this unix second; `None` disarms.
    ExpireAfter(Option<u64>),
}

/// A kick the shard pushed to this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KickPush {
    pub instance: u64,
    pub kick: KickType,
    /// Fault: no `kickedOut`/`sdkStateNotReady` is sent.
    pub silent: bool,
    /// Fault: the session stays authenticated.
    pub zombie: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Not logged in; the code is the not-ready reason for authenticated calls.
    Idle { reason: u32 },
    /// A login is with the shard.
    Pending { user: String, expires_at: u64 },
    LoggedIn {
        user: String,
        instance: u64,
        ready: bool,
        /// Fault: the shard kicked it but it still acts.
        zombie: bool,
    },
}

/// One connection's session.
pub struct Session {
    settings: Arc<Settings>,
    conn_id: u64,
    state: State,
    /// Kicks that arrived while a login was pending (applied after its answer).
    deferred: Vec<KickPush>,
    rng: fastrand::Rng,
    next_message: u64,
    /// Frames to send, in order.
    pub out: Vec<String>,
    /// Commands to carry out, in order.
    pub commands: Vec<Command>,
}

impl Session {
    pub fn new(settings: Arc<Settings>, conn_id: u64, seed: u64) -> Session {
        Session {
            settings,
            conn_id,
            state: State::Idle {
                reason: code::NOT_LOGGED_IN,
            },
            deferred: Vec::new(),
            rng: fastrand::Rng::with_seed(seed),
            next_message: 0,
            out: Vec::new(),
            commands: Vec::new(),
        }
    }

    fn error(&mut self, seq: u64, c: u32, message: &str) {
        self.out.push(ServerFrame::error(seq, c, message));
    }

    /// Whether a login of this connection has succeeded (the session is, or was until a
    /// kick or logout, authenticated): what lifts the first-login deadline.
    pub fn logged_in(&self) -> bool {
        matches!(self.state, State::LoggedIn { .. })
    }

    /// The user whose instance this is (logged in or logging in), for forgetting it on close.
    pub fn user_to_forget(&self) -> Option<&str> {
        match &self.state {
            State::Pending { user, .. } => Some(user),
            State::LoggedIn {
                user,
                zombie: false,
                ..
            } => Some(user),
            _ => None,
        }
    }

    /// A request arrived (`now_unix` is the wall clock, for UserSig checks).
    pub fn request(&mut self, req: Request, now_unix: u64) {
        match req {
            Request::Ping { seq } => self.out.push(ServerFrame::ok(seq, ReplyData::default())),
            Request::Login {
                seq,
                sdk_app_id,
                user_id,
                user_sig,
                platform,
            } => self.login(seq, sdk_app_id, user_id, user_sig, platform, now_unix),
            Request::Logout { seq } => self.logout(seq),
            Request::SendMessage { seq, to, text } => self.send_message(seq, to, text),
        }
    }

    fn login(&mut self, seq: u64, app: u64, user: String, sig: String, p: Platform, now: u64) {
        match &self.state {
            State::Pending { .. } => {
                return self.error(
                    seq,
                    code::LOGIN_IN_PROGRESS,
                    "a login is already in progress on this instance",
                )
            }
            State::LoggedIn { user: u, .. } if *u == user => {
                let data = ReplyData {
                    repeat_login: Some(true),
                    error_info: Some(
                        "already logged in as this user; no new login was made".into(),
                    ),
                    ..ReplyData::default()
                };
                return self.out.push(ServerFrame::ok(seq, data));
            }
            State::LoggedIn { .. } => {
                return self.error(
                    seq,
                    code::LOGIN_IN_PROGRESS,
                    "logged in as another user on this instance; log out first",
                )
            }
            State::Idle { .. } => {}
        }
        let s = &self.settings;
        let verified = usersig::verify(&sig, app, &s.key, &user, now).and_then(|f| {
            if app != s.sdkappid {
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
                    format!("{e}; this server's SDKAppID is {}", s.sdkappid)
                } else {
                    e.to_string()
                };
                self.state = State::Idle {
                    reason: code::NOT_READY_LOGIN_FAILED,
                };
                return self.error(seq, e.code(), &msg);
            }
        };
        self.commands.push(Command::Login {
            seq,
            user: user.clone(),
            platform: p,
            sig_time: fields.time,
            sig_hash: hash_str(&sig),
        });
        self.state = State::Pending {
            user,
            expires_at: fields.expires_at(),
        };
    }

    /// The shard decided the pending login: its instance, or a refusal code.
    pub fn login_answered(&mut self, seq: u64, reply: Result<u64, u32>) {
        let failed = State::Idle {
            reason: code::NOT_READY_LOGIN_FAILED,
        };
        let State::Pending { user, expires_at } = std::mem::replace(&mut self.state, failed) else {
            return;
        };
        let instance = match reply {
            Ok(instance) => instance,
            Err(c) => {
                self.deferred.clear();
                let msg = if c == code::SIG_INVALIDATED {
                    "UserSig was invalidated by an admin kick; mint a new one"
                } else {
                    "login failed"
                };
                return self.error(seq, c, msg);
            }
        };
        let data = ReplyData {
            repeat_login: Some(false),
            instance_id: Some(format!("{instance:x}")),
            ..ReplyData::default()
        };
        self.out.push(ServerFrame::ok(seq, data));
        self.state = State::LoggedIn {
            user,
            instance,
            ready: false,
            zombie: false,
        };
        // A kick of this new instance may have been read before its answer (the two come
        // over different channels): apply it now, after the response.
        for push in std::mem::take(&mut self.deferred) {
            self.kicked(push);
        }
        if !matches!(self.state, State::LoggedIn { .. }) {
            return;
        }
        let f = &self.settings.faults;
        if f.no_ready == 0.0 || self.rng.f64() >= f.no_ready {
            let delay = self.settings.ready_delay.sample(self.rng.f64());
            if delay.is_zero() {
                self.ready_timer();
            } else {
                self.commands.push(Command::ReadyIn(Some(delay)));
            }
        }
        self.commands.push(Command::ExpireAfter(Some(expires_at)));
    }

    /// The ready delay passed.
    pub fn ready_timer(&mut self) {
        if let State::LoggedIn { ready, .. } = &mut self.state {
            *ready = true;
            self.out.push(ServerFrame::event(Event::Ready));
        }
    }

    /// The UserSig expired.
    pub fn expiry_timer(&mut self) {
        if let State::LoggedIn {
            user,
            instance,
            zombie: false,
            ..
        } = &self.state
        {
            self.commands.push(Command::Expire {
                user: user.clone(),
                instance: *instance,
            });
        }
    }

    fn logout(&mut self, seq: u64) {
        match &self.state {
            State::Idle { .. } => self.error(seq, code::NOT_LOGGED_IN, "not logged in"),
            State::Pending { .. } => self.error(
                seq,
                code::LOGIN_IN_PROGRESS,
                "a login is in progress on this instance; wait for its response",
            ),
            // A zombie is no longer in the shard: nothing to ask.
            State::LoggedIn { zombie: true, .. } => self.logout_answered(seq, true),
            State::LoggedIn { user, .. } => {
                let user = user.clone();
                self.commands.push(Command::Logout { seq, user });
            }
        }
    }

    /// The shard dropped (or did not find) this instance.
    pub fn logout_answered(&mut self, seq: u64, was_live: bool) {
        if was_live {
            self.commands.push(Command::ReadyIn(None));
            self.commands.push(Command::ExpireAfter(None));
            self.state = State::Idle {
                reason: code::NOT_READY_LOGGED_OUT,
            };
            self.out.push(ServerFrame::ok(seq, ReplyData::default()));
            self.out.push(ServerFrame::event(Event::NotReady));
        } else {
            // Kicked while the logout was on its way: the kick's push is queued and handled
            // next; the logout found nobody logged in.
            self.error(seq, code::NOT_LOGGED_IN, "not logged in (kicked)");
        }
    }
}

fn hash_str(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests;
mod traffic;
