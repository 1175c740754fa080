//! How the server closes a connection on its own: the close frame a read error earns, and how
//! long the close may take to leave.

use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// The close frame a read error earns, where RFC 6455 names one: a message over the hard limit
/// 1009 (§7.4.1), text that is not UTF-8 1007 (§8.1), a frame that breaks the framing rules
/// 1002. A dropped connection gets none.
pub(super) fn error_close(e: WsError) -> Option<Message> {
    match e {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => Some(close_frame(
            CloseCode::Size,
            format!("message of {size} bytes over the {max_size}-byte hard limit"),
        )),
        WsError::Utf8(_) => Some(close_frame(
            CloseCode::Invalid,
            "a text frame that is not UTF-8".into(),
        )),
        WsError::Protocol(p) => Some(close_frame(CloseCode::Protocol, p.to_string())),
        _ => None,
    }
}

/// Why the server closes a connection on its own.
pub(super) fn close_frame(code: CloseCode, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// How long the close reply may take to leave: a peer that reads nothing does not hold the
/// connection past it.
pub(super) const CLOSE_FLUSH: std::time::Duration = std::time::Duration::from_secs(1);
