//! The server's memory bound for WebSocket messages still being received. tungstenite buffers a
//! message until its last byte arrives (up to [`super::http::MAX_WS_MESSAGE`]), so a thousand
//! clients each sending most of a large message and then nothing would hold a gigabyte. Every
//! connection reads through a [`Metered`] stream that counts the bytes it received since its
//! last complete message; the counts add up in one [`FrameBudget`]. Past the budget, the
//! connections holding the most are told to close (1009) until the total is back under 90 % of
//! it — the clients sending normal, small frames are never the largest holders.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc::UnboundedSender;

use super::shard::Push;

/// Connections holding less than this are not candidates for shedding (the largest legal
/// request is 64 KiB; below this a connection is just reading normal frames).
const CANDIDATE: usize = 16 << 10;

pub(crate) struct FrameBudget {
    limit: usize,
    total: AtomicUsize,
    /// Connections holding at least [`CANDIDATE`] bytes.
    holders: Mutex<HashMap<u64, Weak<Hold>>>,
    /// Connections shed so far (for the log line and tests).
    pub(crate) shed: AtomicUsize,
}

impl FrameBudget {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(FrameBudget {
            limit,
            total: AtomicUsize::new(0),
            holders: Mutex::new(HashMap::new()),
            shed: AtomicUsize::new(0),
        })
    }

    /// Bytes of unfinished messages held now, over all connections.
    pub(crate) fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// A new connection's account in the budget; `close` reaches its connection task.
    pub(crate) fn hold(self: &Arc<Self>, conn: u64, close: UnboundedSender<Push>) -> Arc<Hold> {
        Arc::new(Hold {
            conn,
            held: AtomicUsize::new(0),
            condemned: AtomicBool::new(false),
            close,
            budget: self.clone(),
        })
    }

    /// Over the budget: condemn the largest holders until the total is under 90 % of it.
    fn shed_largest(&self) {
        let Ok(mut holders) = self.holders.lock() else {
            return;
        };
        if self.total() <= self.limit {
            return; // another connection shed first
        }
        let mut by_size: Vec<(usize, u64, Arc<Hold>)> = holders
            .iter()
            .filter_map(|(&c, w)| w.upgrade().map(|h| (h.held.load(Ordering::Relaxed), c, h)))
            .collect();
        by_size.sort_unstable_by_key(|h| std::cmp::Reverse(h.0));
        let target = self.limit / 10 * 9;
        for (_, conn, hold) in by_size {
            if self.total() <= target {
                break;
            }
            holders.remove(&conn);
            hold.condemn();
        }
    }
}

/// One connection's share of the budget.
pub(crate) struct Hold {
    conn: u64,
    held: AtomicUsize,
    condemned: AtomicBool,
    close: UnboundedSender<Push>,
    budget: Arc<FrameBudget>,
}

impl Hold {
    fn received(self: &Arc<Self>, n: usize) {
        if n == 0 || self.condemned.load(Ordering::Relaxed) {
            return;
        }
        let held = self.held.fetch_add(n, Ordering::Relaxed) + n;
        let total = self.budget.total.fetch_add(n, Ordering::Relaxed) + n;
        if held >= CANDIDATE && held - n < CANDIDATE {
            if let Ok(mut h) = self.budget.holders.lock() {
                h.insert(self.conn, Arc::downgrade(self));
            }
        }
        if total > self.budget.limit {
            self.budget.shed_largest();
        }
    }

    /// A complete message came out of the stream: what was held is released.
    pub(crate) fn message_done(&self) {
        let held = self.held.swap(0, Ordering::Relaxed);
        if held > 0 {
            self.budget.total.fetch_sub(held, Ordering::Relaxed);
            if held >= CANDIDATE {
                if let Ok(mut h) = self.budget.holders.lock() {
                    h.remove(&self.conn);
                }
            }
        }
    }

    /// Stop counting this connection and tell it to close with 1009.
    fn condemn(&self) {
        if self.condemned.swap(true, Ordering::Relaxed) {
            return;
        }
        let held = self.held.swap(0, Ordering::Relaxed);
        self.budget.total.fetch_sub(held, Ordering::Relaxed);
        self.budget.shed.fetch_add(1, Ordering::Relaxed);
        let _ = self.close.send(Push::Shed);
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.message_done();
    }
}

/// A connection's byte stream, counting what it reads into its [`Hold`].
pub(crate) struct Metered<S> {
    inner: S,
    hold: Arc<Hold>,
}

impl<S> Metered<S> {
    pub(crate) fn new(inner: S, hold: Arc<Hold>) -> Self {
        Metered { inner, hold }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let n = buf.filled().len() - before;
            self.hold.received(n);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_holders_are_shed_until_under_ninety_percent() {
        let budget = FrameBudget::new(100 << 10);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let small = budget.hold(1, tx.clone());
        let big = budget.hold(2, tx.clone());
        let bigger = budget.hold(3, tx.clone());
        small.received(4 << 10);
        big.received(40 << 10);
        bigger.received(50 << 10);
        assert_eq!(budget.total(), 94 << 10);
        assert!(rx.try_recv().is_err(), "under the budget: nobody shed");
        big.received(10 << 10); // 104 KiB > 100 KiB: shed `big` (50) first → 54 KiB < 90.
        assert!(matches!(rx.try_recv(), Ok(Push::Shed)));
        assert!(rx.try_recv().is_err(), "one was enough");
        assert_eq!(budget.shed.load(Ordering::Relaxed), 1);
        assert!(big.condemned.load(Ordering::Relaxed) || bigger.condemned.load(Ordering::Relaxed));
        assert_eq!(budget.total(), 54 << 10);
        // A condemned connection's further bytes are not counted; finished messages release.
        let condemned = if big.condemned.load(Ordering::Relaxed) {
            &big
        } else {
            &bigger
        };
        condemned.received(30 << 10);
        assert_eq!(budget.total(), 54 << 10);
        small.message_done();
        assert_eq!(budget.total(), 50 << 10);
        drop((small, big, bigger));
        assert_eq!(budget.total(), 0);
        assert!(budget.holders.lock().unwrap().is_empty());
    }

    #[test]
    fn small_holders_are_never_candidates() {
        let budget = FrameBudget::new(10 << 10);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let holds: Vec<_> = (0..4).map(|c| budget.hold(c, tx.clone())).collect();
        for h in &holds {
            h.received(4 << 10);
        }
        assert!(rx.try_recv().is_err());
        assert_eq!(budget.total(), 16 << 10);
    }
}
