//! A connection through a bad network (`[network]`): each way, bytes reach the other end after
//! the added delay (± jitter, order kept), no faster than the bandwidth, and not during a
//! stall. The generator does this itself, per connection, in user space: no root, no `tc`, no
//! change to the machine — and the backend sees the same bytes, only later.
//!
//! Reads: what the socket has is taken in at once and released to the reader when due, so the
//! frame's receipt (engine/stamped.rs) is its arrival through the network, and the backend's
//! figures include the network's delay as a user's would. Writes: taken in at once (up to a
//! buffer's worth, then the writer waits) and written to the socket when due. It sits above
//! TLS: the TCP and TLS handshakes are not delayed (docs/scenarios.md).

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::endpoint::Stream;
use crate::scenario::Network;

/// Bytes held each way at most before the sender (or the socket's reader) waits.
const MAX_HELD: usize = 256 * 1024;
const CHUNK: usize = 8 * 1024;
/// Bytes go through up to this much before they are due. The runtime's timers fire on the
/// first millisecond tick at or after their deadline — on average half a tick late, a round
/// trip through two lines a whole millisecond late — so a line wakes half a tick early and
/// lets through what is due within it: each hop is then off by at most half a tick either
/// way, on average not at all.
const EARLY: Duration = Duration::from_micros(500);

/// One direction: when bytes put on it now come out of it.
#[derive(Debug)]
pub struct Line {
    delay: Duration,
    jitter: Duration,
    bandwidth: u64,
    stall_every: Duration,
    stall_for: Duration,
    /// Stalls recur from here (a random phase before the connection's start).
    origin: Instant,
    /// Until when the bandwidth is taken by bytes already sent.
    busy_until: Instant,
    /// The last bytes' arrival: later bytes never overtake them.
    last_due: Instant,
}

impl Line {
    pub fn new(n: &Network, origin: Instant) -> Line {
        Line {
            delay: n.delay.0,
            jitter: n.jitter.0,
            bandwidth: n.bandwidth,
            stall_every: n.stall_every.0,
            stall_for: n.stall_for.0,
            origin,
            busy_until: origin,
            last_due: origin,
        }
    }

    /// When `bytes` put on the line at `now` come out; `draw` is uniform in [0, 1).
    pub fn due(&mut self, now: Instant, bytes: usize, draw: f64) -> Instant {
        let start = now.max(self.busy_until);
        let sent = if self.bandwidth > 0 {
            start + Duration::from_secs_f64(bytes as f64 / self.bandwidth as f64)
        } else {
            start
        };
        self.busy_until = sent;
        let d = (self.delay.saturating_sub(self.jitter)).as_secs_f64()
            + 2.0 * self.jitter.as_secs_f64() * draw;
        let due = self.after_stall((sent + Duration::from_secs_f64(d)).max(self.last_due));
        self.last_due = due;
        due
    }

    /// `t`, or the end of the stall it falls in (stalls begin at every `stall_every` after
    /// the origin, the first one `stall_every` in).
    fn after_stall(&self, t: Instant) -> Instant {
        if self.stall_for.is_zero() {
            return t;
        }
        let since = t.saturating_duration_since(self.origin).as_nanos();
        let every = self.stall_every.as_nanos().max(1);
        let (k, phase) = (since / every, since % every);
        if k >= 1 && phase < self.stall_for.as_nanos() {
            let end = every * k + self.stall_for.as_nanos();
            self.origin + Duration::from_nanos(u64::try_from(end).unwrap_or(u64::MAX))
        } else {
            t
        }
    }
}

/// A stream whose bytes go through a [`Line`] each way.
pub struct Shaped {
    inner: Stream,
    rng: fastrand::Rng,
    up: Line,
    down: Line,
    /// Received, not yet arrived.
    rx: VecDeque<(Instant, Vec<u8>)>,
    rx_held: usize,
    /// The socket's end (EOF, or its error), and when it arrives.
    rx_end: Option<(Instant, Option<io::Error>)>,
    /// Written, not yet sent on the socket.
    tx: VecDeque<(Instant, Vec<u8>)>,
    tx_held: usize,
    rsleep: Pin<Box<Sleep>>,
    wsleep: Pin<Box<Sleep>>,
}

impl Shaped {
    pub fn new(inner: Stream, n: &Network, seed: u64) -> Shaped {
        // Its writes reach the socket when the line releases them, unseen by the connection's
        // write count: Nagle off from the start (engine/nagle.rs).
        if let Some(tcp) = inner.tcp() {
            let _ = tcp.set_nodelay(true);
        }
        let now = Instant::now();
        let mut rng = fastrand::Rng::with_seed(seed);
        // Each connection's stalls at a phase of its own: a network's stalls do not line up
        // with the connection's start (and so with its cycles).
        let origin = now
            .checked_sub(n.stall_every.0.mul_f64(rng.f64()))
            .unwrap_or(now);
        Shaped {
            inner,
            rng,
            up: Line::new(n, origin),
            down: Line::new(n, origin),
            rx: VecDeque::new(),
            rx_held: 0,
            rx_end: None,
            tx: VecDeque::new(),
            tx_held: 0,
            rsleep: Box::pin(tokio::time::sleep_until(now)),
            wsleep: Box::pin(tokio::time::sleep_until(now)),
        }
    }

    /// The stream underneath.
    pub fn inner(&self) -> &Stream {
        &self.inner
    }

    /// Wake this task at `at` (now, if it has passed).
    fn wake_at(sleep: &mut Pin<Box<Sleep>>, at: Instant, cx: &mut Context<'_>) {
        sleep.as_mut().reset(at);
        if sleep.as_mut().poll(cx).is_ready() {
            cx.waker().wake_by_ref();
        }
    }

    /// Take in what the socket has now.
    fn take_in(&mut self, cx: &mut Context<'_>) {
        while self.rx_end.is_none() && self.rx_held < MAX_HELD {
            let mut chunk = [0u8; CHUNK];
            let mut rb = ReadBuf::new(&mut chunk);
            let polled = Pin::new(&mut self.inner).poll_read(cx, &mut rb);
            let now = Instant::now();
            match polled {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                    self.rx_end = Some((self.down.due(now, 0, self.rng.f64()), None));
                }
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    let due = self.down.due(now, n, self.rng.f64());
                    self.rx.push_back((due, rb.filled().to_vec()));
                    self.rx_held += n;
                }
                Poll::Ready(Err(e)) => {
                    self.rx_end = Some((self.down.due(now, 0, self.rng.f64()), Some(e)));
                }
                Poll::Pending => return,
            }
        }
    }

    /// Write to the socket what is due. `Err`: the socket is broken.
    fn send_due(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        while let Some((due, data)) = self.tx.front_mut() {
            if *due > Instant::now() + EARLY {
                let at = *due - EARLY;
                Self::wake_at(&mut self.wsleep, at, cx);
                return Ok(());
            }
            match Pin::new(&mut self.inner).poll_write(cx, data) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => {
                    self.tx_held -= n;
                    if n == data.len() {
                        self.tx.pop_front();
                    } else {
                        data.drain(..n);
                    }
                }
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(()),
            }
        }
        Ok(())
    }
}

impl AsyncRead for Shaped {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Bytes go out when due whether or not the writer flushes (as on a network): a
        // request written without a flush before a read (the upgrade) still leaves. A broken
        // socket shows on the next write.
        let _ = this.send_due(cx);
        this.take_in(cx);
        let now = Instant::now() + EARLY;
        if let Some((due, data)) = this.rx.front_mut() {
            if *due > now {
                let at = *due - EARLY;
                Self::wake_at(&mut this.rsleep, at, cx);
                return Poll::Pending;
            }
            let k = buf.remaining().min(data.len());
            buf.put_slice(&data[..k]);
            this.rx_held -= k;
            if k == data.len() {
                this.rx.pop_front();
            } else {
                data.drain(..k);
            }
            return Poll::Ready(Ok(()));
        }
        match &mut this.rx_end {
            Some((due, _)) if *due > now => {
                let at = *due - EARLY;
                Self::wake_at(&mut this.rsleep, at, cx);
                Poll::Pending
            }
            Some((_, e)) => Poll::Ready(e.take().map_or(Ok(()), Err)),
            None => Poll::Pending,
        }
    }
}

impl AsyncWrite for Shaped {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.send_due(cx)?;
        if this.tx_held >= MAX_HELD {
            // The socket or the clock wakes this task (send_due registered both).
            return Poll::Pending;
        }
        let due = this.up.due(Instant::now(), buf.len(), this.rng.f64());
        this.tx.push_back((due, buf.to_vec()));
        this.tx_held += buf.len();
        this.send_due(cx)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.send_due(cx)?;
        if this.tx.is_empty() {
            Pin::new(&mut this.inner).poll_flush(cx)
        } else {
            Poll::Pending
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.send_due(cx)?;
        if this.tx.is_empty() {
            Pin::new(&mut this.inner).poll_shutdown(cx)
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Dur;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn line(f: impl FnOnce(&mut Network)) -> (Line, Instant) {
        let mut n = Network::default();
        f(&mut n);
        let t0 = Instant::now();
        (Line::new(&n, t0), t0)
    }

    #[test]
    fn bytes_arrive_after_the_delay_within_the_jitter_in_order() {
        let (mut l, t0) = line(|n| {
            n.delay = Dur(ms(50));
            n.jitter = Dur(ms(10));
        });
        assert_eq!(l.due(t0, 10, 0.5), t0 + ms(50));
        assert_eq!(
            l.due(t0, 10, 0.0),
            t0 + ms(50),
            "never before the bytes ahead of it"
        );
        assert_eq!(l.due(t0 + ms(20), 10, 0.0), t0 + ms(60));
        let late = l.due(t0 + ms(20), 10, 0.999_999_9);
        assert!(late - (t0 + ms(80)) < ms(1), "up to delay + jitter");
    }

    #[test]
    fn the_bandwidth_queues_bytes_behind_each_other() {
        let (mut l, t0) = line(|n| n.bandwidth = 1000);
        assert_eq!(l.due(t0, 500, 0.0), t0 + ms(500));
        assert_eq!(
            l.due(t0, 500, 0.0),
            t0 + ms(1000),
            "behind the first 500 bytes"
        );
        assert_eq!(
            l.due(t0 + ms(3000), 100, 0.0),
            t0 + ms(3100),
            "an idle line is free"
        );
    }

    #[test]
    fn nothing_arrives_during_a_stall() {
        let (mut l, t0) = line(|n| {
            n.stall_every = Dur(ms(1000));
            n.stall_for = Dur(ms(200));
        });
        assert_eq!(
            l.due(t0 + ms(100), 1, 0.0),
            t0 + ms(100),
            "no stall at the start"
        );
        assert_eq!(
            l.due(t0 + ms(1050), 1, 0.0),
            t0 + ms(1200),
            "held to the stall's end"
        );
        assert_eq!(l.due(t0 + ms(1300), 1, 0.0), t0 + ms(1300));
        assert_eq!(l.due(t0 + ms(2199), 1, 0.0), t0 + ms(2200));
    }
}
