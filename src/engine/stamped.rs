//! When a connection's bytes were received.
//!
//! A latency ends when its response was received, not when the instance got round to it. On
//! Linux, over plain TCP, that is the kernel's own receive time (`SO_TIMESTAMPNS`: the instant
//! the last segment a read returns entered the host), so a generator busy with other
//! connections — or its core taken by another task for a few ms — does not add its own delay
//! to the backend's figures. Elsewhere, and over TLS, it is when the read returned the bytes.
//! Either way the frame being handled gets the instant of the read that completed it: when a
//! login's answer and `sdkStateReady` come in one read, the second is not late by the time the
//! first took to handle.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use super::endpoint::Stream;
use super::nagle::Nagle;

/// A kernel timestamp older than this is not believed (the wall clock was stepped).
#[cfg(target_os = "linux")]
const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(5);

/// A connection noting when its last read's bytes were received.
pub struct Stamped {
    io: Stream,
    read_at: Rc<Cell<Instant>>,
    /// The kernel timestamps this socket's segments (plain TCP on Linux).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    kernel: bool,
    /// When to turn Nagle off (engine/nagle.rs): plain TCP keeps it on while each write
    /// follows the answer to the last; TLS and shaped networks turned it off as they opened.
    nagle: Nagle,
}

impl Stamped {
    pub fn new(io: Stream) -> Stamped {
        #[cfg(target_os = "linux")]
        let kernel = match &io {
            Stream::Plain(tcp) => kernel::enable(tcp),
            // Through a shaped network the receipt is the bytes' release (engine/shaped.rs).
            Stream::Tls(_) | Stream::Shaped(_) => false,
        };
        #[cfg(not(target_os = "linux"))]
        let kernel = false;
        let nagle = match &io {
            Stream::Plain(_) => Nagle::lazy(),
            Stream::Tls(_) | Stream::Shaped(_) => Nagle::off(),
        };
        Stamped {
            io,
            read_at: Rc::new(Cell::new(Instant::now())),
            kernel,
            nagle,
        }
    }

    /// Writes so far (engine/nagle.rs): what an answer to the last of them covers.
    pub fn writes(&self) -> u32 {
        self.nagle.writes()
    }

    /// The peer answered the write numbered `through` and every one before it.
    pub fn answered(&mut self, through: u32) {
        self.nagle.answered(through);
    }

    /// The TCP socket underneath.
    pub fn tcp(&self) -> Option<&tokio::net::TcpStream> {
        self.io.tcp()
    }

    /// When the last read's bytes were received (shared: it goes on being updated).
    pub fn read_at(&self) -> Rc<Cell<Instant>> {
        self.read_at.clone()
    }
}

impl AsyncRead for Stamped {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        #[cfg(target_os = "linux")]
        if let (true, Stream::Plain(tcp)) = (this.kernel, &this.io) {
            return kernel::poll_read(tcp, cx, buf, &this.read_at);
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.read_at.set(Instant::now());
        }
        r
    }
}

impl AsyncWrite for Stamped {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.nagle.turn_off_before_write() {
            if let Some(tcp) = this.io.tcp() {
                let _ = tcp.set_nodelay(true);
            }
        }
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.nagle.wrote();
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(target_os = "linux")]
mod kernel {
    use super::MAX_AGE;
    use std::cell::Cell;
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::fd::AsRawFd;
    use std::task::{ready, Context, Poll};
    use std::time::Duration;
    use tokio::io::{Interest, ReadBuf};
    use tokio::net::TcpStream;
    use tokio::time::Instant;

    /// Ask the kernel to timestamp what this socket receives.
    pub fn enable(tcp: &TcpStream) -> bool {
        let on: libc::c_int = 1;
        // SAFETY: a plain setsockopt on an open socket with a c_int option value.
        unsafe {
            libc::setsockopt(
                tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) == 0
        }
    }

    /// Read as `TcpStream::poll_read` does, with `recvmsg`, and stamp `read_at` with the
    /// receive time of the last segment read.
    pub fn poll_read(
        tcp: &TcpStream,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        read_at: &Cell<Instant>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(tcp.poll_read_ready(cx))?;
            // SAFETY: recvmsg only writes into the buffer; `assume_init` below covers exactly
            // the bytes it reported.
            let unfilled = unsafe { buf.unfilled_mut() };
            let room = unfilled.len();
            let mut short = None;
            let read = tcp.try_io(Interest::READABLE, || {
                let (n, age) = recv(tcp.as_raw_fd(), unfilled)?;
                if n > 0 && n < room {
                    // A short read emptied the socket: its readiness is cleared (a
                    // WouldBlock to `try_io`, which clears it only if no event came since),
                    // as tokio's own `poll_read` does — the next read waits for the next
                    // segment instead of trying first and getting EAGAIN.
                    short = Some((n, age));
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok((n, age))
            });
            match short.map_or(read, Ok) {
                Ok((n, age)) => {
                    // SAFETY: recvmsg initialized `n` bytes of the unfilled part.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    if n > 0 {
                        let now = Instant::now();
                        let at = age
                            .filter(|a| *a <= MAX_AGE)
                            .and_then(|a| now.checked_sub(a))
                            .unwrap_or(now);
                        read_at.set(at);
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// One `recvmsg`: the bytes read, and how long ago the kernel received the last of them.
    pub(super) fn recv(
        fd: i32,
        buf: &mut [MaybeUninit<u8>],
    ) -> io::Result<(usize, Option<Duration>)> {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // Room for one SCM_TIMESTAMPNS (a cmsghdr and a timespec), u64-aligned.
        let mut control = [0u64; 8];
        // SAFETY: an all-zero msghdr is valid; the pointers set below outlive the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: `msg` describes one writable buffer and a control buffer, both live.
        let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut received = None;
        // SAFETY: the CMSG_* walk stays within `msg_controllen` of `control`, as the kernel
        // filled it; the timestamp is read unaligned from its cmsg's data.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let t: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    received = Some(t);
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok((n as usize, received.and_then(age)))
    }

    /// How long ago the wall-clock instant `t` was.
    fn age(t: libc::timespec) -> Option<Duration> {
        let then = Duration::new(
            u64::try_from(t.tv_sec).ok()?,
            u32::try_from(t.tv_nsec).ok()?,
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(now.saturating_sub(then))
    }
}

/// Run `f` on a current-thread runtime with a connected loopback pair (client, server): the
/// engine's tests of what a connection does over a real socket.
#[cfg(test)]
pub(crate) fn on_loopback<F: std::future::Future<Output = ()>>(
    f: impl FnOnce(tokio::net::TcpStream, tokio::net::TcpStream) -> F,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        f(client, server).await
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stamp moves with every read that returns bytes — to when they were received, no
    /// earlier than they were sent and no later than the read returned; on Linux, to before
    /// the bytes were seen waiting in the socket — and a read that returns nothing (the peer
    /// closed) leaves it.
    #[test]
    fn reads_are_stamped_when_their_bytes_were_received() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        on_loopback(|client, mut server| async move {
            #[cfg(target_os = "linux")]
            let fd = std::os::fd::AsRawFd::as_raw_fd(&client);
            let mut s = Stamped::new(Stream::Plain(client));
            let stamp = s.read_at();
            let mut buf = [0u8; 8];
            // Linux turns receive timestamps on for the whole stack lazily, from a work queue,
            // when the first socket asks: segments that arrive before that carry no stamp (the
            // read's time stands in; a run's first responses may meet this too). Wait until
            // they do — bounded in count, not in time — so the rounds below test the stamp.
            #[cfg(target_os = "linux")]
            {
                let mut stamped = false;
                for _ in 0..2_000 {
                    server.write_all(&[9]).await.unwrap();
                    client_ready(fd).await;
                    let mut one = [std::mem::MaybeUninit::<u8>::uninit(); 1];
                    let (n, age) = kernel::recv(fd, &mut one).unwrap();
                    assert_eq!(n, 1);
                    if age.is_some() {
                        stamped = true;
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
                assert!(stamped, "the kernel never stamped a received segment");
            }
            for round in 0..3u8 {
                let sent = Instant::now();
                server.write_all(&[round; 4]).await.unwrap();
                // Wait until the bytes sit in the client's socket (bounded), then read later.
                #[cfg(target_os = "linux")]
                let queued_seen = {
                    assert_eq!(
                        client_ready(fd).await,
                        4,
                        "round {round}: the bytes never arrived"
                    );
                    Instant::now()
                };
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                s.read_exact(&mut buf[..4]).await.unwrap();
                let after = Instant::now();
                assert_eq!(buf[..4], [round; 4]);
                let at = stamp.get();
                assert!(sent <= at && at <= after, "round {round}");
                // The kernel's receipt, not the read (which began at least 5 ms later); the
                // millisecond allows for the wall clock the kernel stamps with being slewed.
                #[cfg(target_os = "linux")]
                assert!(
                    at <= queued_seen + std::time::Duration::from_millis(1),
                    "round {round}: stamped at the read, not the receipt"
                );
            }
            let last = stamp.get();
            drop(server);
            assert_eq!(s.read(&mut buf).await.unwrap(), 0);
            assert_eq!(stamp.get(), last);
        });
    }

    /// Bytes waiting in the socket `fd`, once there are any (bounded: 5,000 looks a
    /// millisecond apart).
    #[cfg(target_os = "linux")]
    async fn client_ready(fd: i32) -> libc::c_int {
        let mut waiting: libc::c_int = 0;
        for _ in 0..5_000 {
            // SAFETY: FIONREAD writes one c_int.
            unsafe { libc::ioctl(fd, libc::FIONREAD, &mut waiting) };
            if waiting > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        waiting
    }
}
