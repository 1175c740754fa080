//! `TCP_NODELAY` when Nagle's algorithm could hold a frame back, and only then.
//!
//! Nagle holds a small segment while an earlier small segment of the connection is
//! unacknowledged (Linux: Minshall's variant), until the peer's ACK — which a peer delaying its
//! ACKs may send up to 40 ms later. A generator must never add that to a backend's figures, so
//! every connection used to turn Nagle off as it opened: one `setsockopt` a connection, 1 in 19
//! of a fresh cycle's system calls. But a request sent when everything written before it has
//! been acknowledged is never held, and in a request–answer protocol that is every request: the
//! answer to a request is sent after the peer read it, so the segment carrying it acknowledges
//! every byte up to the request's end (the kernel takes the ACK in before the answer can be
//! read). So a connection keeps Nagle on while each write follows the answer to the last one,
//! and turns it off, for good, before the first write that may follow unacknowledged bytes — a
//! second request in flight, a pong (answered by nothing), the rest of a partial write, a
//! login's second exchange — before that write is made, so it cannot be held.
//!
//! What counts as an answer is the caller's to say ([`Nagle::answered`] with the count of
//! writes the answer covers): the WebSocket upgrade's `101`, and a [`Meaning::Response`] to the
//! connection's last request (engine/instance/handlers.rs). A connection over TLS or a shaped
//! network writes bytes this count does not see (a TLS handshake's, a delayed release), so it
//! turns Nagle off as it opens, as before.
//!
//! [`Meaning::Response`]: crate::driver::Meaning::Response

/// A connection's writes and what has been answered of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nagle {
    /// Writes that put bytes on the socket (u32: a session holds thousands of connections'
    /// worth of these; past u32::MAX writes every write counts as following unanswered ones).
    writes: u32,
    /// Writes the peer has answered (acknowledged) through.
    answered: u32,
    /// `TCP_NODELAY` is on (or was asked for).
    off: bool,
}

impl Nagle {
    /// Nagle on, turned off by the first write that needs it.
    pub fn lazy() -> Nagle {
        Nagle {
            writes: 0,
            answered: 0,
            off: false,
        }
    }

    /// Nagle already off (set as the connection opened).
    pub fn off() -> Nagle {
        Nagle {
            off: true,
            ..Nagle::lazy()
        }
    }

    /// Before a write: `true` when Nagle must be turned off first (bytes written earlier may
    /// be unacknowledged). Said once; the caller turns it off.
    pub fn turn_off_before_write(&mut self) -> bool {
        if self.off || (self.writes <= self.answered && self.writes < u32::MAX) {
            return false;
        }
        self.off = true;
        true
    }

    /// A write put bytes on the socket.
    pub fn wrote(&mut self) {
        self.writes = self.writes.saturating_add(1);
    }

    /// Writes so far: what an answer to the last of them will cover.
    pub fn writes(&self) -> u32 {
        self.writes
    }

    /// The peer answered the write numbered `through` (a count from [`Nagle::writes`]): it and
    /// every write before it are acknowledged.
    pub fn answered(&mut self, through: u32) {
        self.answered = self.answered.max(through.min(self.writes));
    }

    /// Whether `TCP_NODELAY` is on (or was asked for).
    #[cfg(test)]
    pub fn is_off(&self) -> bool {
        self.off
    }
}

#[cfg(test)]
mod tests {
    use super::Nagle;

    #[test]
    fn writes_that_each_follow_an_answer_keep_nagle_on() {
        let mut n = Nagle::lazy();
        for _ in 0..5 {
            assert!(!n.turn_off_before_write(), "everything earlier is answered");
            n.wrote();
            let w = n.writes();
            n.answered(w);
        }
        assert!(!n.is_off());
    }

    #[test]
    fn the_first_write_after_an_unanswered_one_turns_nagle_off_for_good() {
        let mut n = Nagle::lazy();
        assert!(!n.turn_off_before_write(), "a connection's first write");
        n.wrote();
        assert!(n.turn_off_before_write(), "a second request in flight");
        n.wrote();
        assert!(n.is_off());
        n.answered(n.writes());
        assert!(!n.turn_off_before_write(), "said once");
        assert!(n.is_off(), "and it stays off");
    }

    #[test]
    fn an_answer_covers_only_the_writes_before_it() {
        let mut n = Nagle::lazy();
        n.wrote(); // a request
        let request = n.writes();
        n.wrote(); // a pong after it, answered by nothing
        n.answered(request);
        assert!(
            n.turn_off_before_write(),
            "the pong may be unacknowledged though the request was answered"
        );
    }

    #[test]
    fn an_answer_to_a_count_not_yet_written_covers_only_what_was() {
        let mut n = Nagle::lazy();
        n.wrote();
        n.answered(7);
        n.wrote();
        assert!(n.turn_off_before_write());
    }

    #[test]
    fn a_count_past_its_end_asks_to_turn_nagle_off() {
        let mut n = Nagle::lazy();
        n.writes = u32::MAX - 1;
        n.answered = u32::MAX - 1;
        assert!(!n.turn_off_before_write());
        n.wrote();
        n.wrote();
        n.answered(u32::MAX);
        assert!(n.turn_off_before_write(), "a count that stopped cannot say");
    }

    /// Over a real socket: Nagle stays on through writes that each follow an answer, and is
    /// off before the write that follows an unanswered one goes out.
    #[test]
    fn a_plain_connection_turns_nagle_off_before_the_first_write_that_could_be_held() {
        use crate::engine::endpoint::Stream;
        use crate::engine::stamped::Stamped;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        crate::engine::stamped::on_loopback(|client, mut server| async move {
            let mut s = Stamped::new(Stream::Plain(client));
            let nodelay = |s: &Stamped| s.tcp().unwrap().nodelay().unwrap();
            let mut buf = [0u8; 16];
            for round in 0..3 {
                s.write_all(b"request").await.unwrap();
                assert!(!nodelay(&s), "round {round}: each write followed an answer");
                server.read_exact(&mut buf[..7]).await.unwrap();
                server.write_all(b"answer").await.unwrap();
                s.read_exact(&mut buf[..6]).await.unwrap();
                let w = s.writes();
                s.answered(w);
            }
            s.write_all(b"request").await.unwrap();
            assert!(!nodelay(&s));
            s.write_all(b"second").await.unwrap();
            assert!(nodelay(&s), "a second request in flight: Nagle is off");
        });
    }

    #[test]
    fn a_connection_that_opened_with_nagle_off_never_asks() {
        let mut n = Nagle::off();
        n.wrote();
        assert!(!n.turn_off_before_write());
    }
}
