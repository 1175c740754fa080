//! Reference wire protocol, version 1: the JSON frames both the server and the load generator speak.
//!
//! One JSON object per WebSocket text frame. Requests carry `seq` and `op`; responses echo `seq`
//! with `code` (0 = ok) and `data` or `message`; events carry `event` and optional `data` and no
//! `seq`. See `docs/protocol.md` for the user-facing description.

use crate::policy::KickType;

mod frame;
mod request;
pub mod rest;
pub mod webim;

pub use frame::{Delivered, Event, FrameError, Kicked, ReplyData, Response, ServerFrame};
pub use request::{Request, RequestError};

/// Largest text frame the server interprets; larger ones get a 70402 response.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Longest accepted `userID`, in bytes.
pub const MAX_USER_ID_BYTES: usize = 128;
/// Longest accepted `text` of a `sendMessage`, in bytes.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// Error codes of the protocol and the REST API.
/// The documented development defaults, shared by the server, the generator and `sig`.
pub mod defaults {
    /// The development SDKAppID used when none is given.
    pub const DEV_SDKAPPID: u64 = 1_400_000_000;
    /// The development secret key used when none is given (the key of the official test vectors).
    /// Never use it on a reachable address.
    pub const DEV_KEY: &str = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
    /// The default admin identifier for the REST API.
    pub const DEFAULT_ADMIN: &str = "administrator";
    /// Worker threads of the reference server at most (`serve --workers`, `server.workers`).
    pub const MAX_SERVER_WORKERS: usize = 1024;
}

pub mod code {
    pub const OK: u32 = 0;
    pub const NOT_LOGGED_IN: u32 = 2024;
    pub const LOGIN_IN_PROGRESS: u32 = 2025;
    pub const NOT_READY_LOGGING_IN: u32 = 3000;
    pub const NOT_READY_LOGIN_FAILED: u32 = 3001;
    pub const NOT_READY_KICKED_DEVICE: u32 = 3002;
    pub const NOT_READY_KICKED_ACCOUNT: u32 = 3003;
    pub const NOT_READY_KICKED_EXPIRED: u32 = 3004;
    pub const NOT_READY_LOGGED_OUT: u32 = 3005;
    pub const NOT_READY_KICKED_REST: u32 = 3006;
    pub const SIG_EXPIRED: u32 = 70001;
    pub const SIG_DECODE: u32 = 70003;
    pub const SIG_BAD_SIGNATURE: u32 = 70009;
    pub const SIG_USER_MISMATCH: u32 = 70013;
    pub const SIG_APP_MISMATCH: u32 = 70014;
    pub const SIG_INVALIDATED: u32 = 70052;
    pub const INVALID_PARAMS: u32 = 70402;
    pub const ADMIN_REQUIRED: u32 = 70403;
    pub const ACCOUNT_NOT_FOUND: u32 = 70107;

    /// A not-ready reason that says the session ended: kicked (any type) or logged out.
    pub fn ends_session(code: u32) -> bool {
        (NOT_READY_KICKED_DEVICE..=NOT_READY_KICKED_REST).contains(&code)
    }
}

/// Event names, exactly as the SDK spells them.
pub mod event {
    pub const SDK_READY: &str = "sdkStateReady";
    pub const SDK_NOT_READY: &str = "sdkStateNotReady";
    pub const KICKED_OUT: &str = "kickedOut";
    pub const MESSAGE_RECEIVED: &str = "messageReceived";
}

/// How a not-ready reason reads in an error response.
pub fn not_ready_text(reason: u32) -> &'static str {
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

/// The not-ready reason an instance reports after a kick of this type.
pub fn not_ready_code(kick: KickType) -> u32 {
    match kick {
        KickType::MultipleDevice => code::NOT_READY_KICKED_DEVICE,
        KickType::MultipleAccount => code::NOT_READY_KICKED_ACCOUNT,
        KickType::UserSigExpired => code::NOT_READY_KICKED_EXPIRED,
        KickType::RestApiKick => code::NOT_READY_KICKED_REST,
    }
}

/// A userID the protocol does not accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UserIdError {
    #[error("userID must not be empty")]
    Empty,
    #[error("userID is {0} bytes, over the {MAX_USER_ID_BYTES}-byte limit")]
    TooLong(usize),
    #[error("userID must not contain control characters")]
    ControlCharacter,
}

/// Validate a userID: 1..=128 bytes of UTF-8 with no control characters.
pub fn check_user_id(id: &str) -> Result<(), UserIdError> {
    if id.is_empty() {
        return Err(UserIdError::Empty);
    }
    if id.len() > MAX_USER_ID_BYTES {
        return Err(UserIdError::TooLong(id.len()));
    }
    if id.chars().any(char::is_control) {
        return Err(UserIdError::ControlCharacter);
    }
    Ok(())
}

pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
