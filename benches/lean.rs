//! The leanest bare client of loginstorm's fresh-connection cycle: the yardstick for the
//! generator's own CPU cost (`benches/lean.sh`). It shares no code with loginstorm — no
//! timestamping reader, no histograms, no reports: tokio-tungstenite on one current-thread
//! runtime, with the fewest system calls the cycle needs.
//!
//!   lean open URL CREDS RATE SECONDS
//!   lean matched URL CREDS RATE SECONDS
//!   lean kept URL CREDS INSTANCES SECONDS
//!
//! CREDS is a file of `userID,userSig` lines (`floor credentials N PATTERN` writes one).
//! `open`: every 1/RATE s a new user (the next line, round robin) gets a fresh connection:
//! connect → login → `sdkStateReady` → logout → close — the cycle of `benches/open.toml`.
//! `paced`: `open` offering the load loginstorm offers — each arrival at its own instant (a
//! one-shot `timerfd` an arrival, where tokio's timer starts them a millisecond at a time, up
//! to 1 ms late) — and ending the WebSocket with a close frame; nothing else.
//! `matched`: `paced` with the socket options loginstorm set on every connection before
//! engine/nagle.rs — `TCP_NODELAY` and `SO_TIMESTAMPNS` (it times receipts from the kernel's
//! stamp). loginstorm now sets `SO_TIMESTAMPNS` alone on a plain connection, and `TCP_NODELAY`
//! only before a write Nagle could hold, so `matched` costs one `setsockopt` more than it.
//! The ratios to these say how much of loginstorm's cost over `open` each promise is.
//! The open modes print how late their arrivals started (`lag_p50_us`, `lag_p99_us`: when the
//! cycle began − its instant), the figure loginstorm reports as `schedule_lag`.
//! `kept`: INSTANCES users, each on one connection kept open, cycle login → `sdkStateReady` →
//! logout back to back until SECONDS have passed — the cycle of `benches/cycles.toml`.
//! At the end it prints `cycles=N errors=E` and exits; the whole process is timed from outside.

use futures_util::{SinkExt, StreamExt};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const SDKAPPID: u64 = 1_400_000_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, url, creds, n, secs] = &args[..] else {
        eprintln!(
            "usage: lean open|paced|matched URL CREDS RATE SECONDS | lean kept URL CREDS INSTANCES SECONDS"
        );
        std::process::exit(2);
    };
    let n: f64 = n.parse().expect("RATE or INSTANCES is a number");
    let secs: f64 = secs.parse().expect("SECONDS is a number");
    let text = std::fs::read_to_string(creds).expect("the credentials file reads");
    let users: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once(','))
        .map(|(u, s)| (u.to_string(), s.to_string()))
        .collect();
    assert!(!users.is_empty(), "no userID,userSig lines in {creds}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let done = Rc::new(Cell::new(0u64));
    let errors = Rc::new(Cell::new(0u64));
    let local = tokio::task::LocalSet::new();
    // (connections kept, arrivals at their instants and a close frame, socket options)
    let (kept, paced, options) = match mode.as_str() {
        "open" => (false, false, false),
        "paced" => (false, true, false),
        "matched" => (false, true, true),
        "kept" => (true, false, false),
        other => panic!("mode {other}: open, paced, matched or kept"),
    };
    let mut lags: Vec<u32> = Vec::new();
    local.block_on(&rt, async {
        if kept {
            let end = tokio::time::Instant::now() + Duration::from_secs_f64(secs);
            let tasks: Vec<_> = users
                .iter()
                .take(n as usize)
                .cloned()
                .map(|(user, sig)| {
                    let (url, done, errors) = (url.clone(), done.clone(), errors.clone());
                    tokio::task::spawn_local(async move {
                        if kept_cycles(&url, &user, &sig, end, &done).await.is_err() {
                            errors.set(errors.get() + 1);
                        }
                    })
                })
                .collect();
            for t in tasks {
                let _ = t.await;
            }
            return;
        }
        let rate = n;
        let every = Duration::from_secs_f64(1.0 / rate);
        let total = (rate * secs) as u64;
        let start = tokio::time::Instant::now();
        let timer = paced.then(exact::Timer::new);
        let mut tasks = Vec::with_capacity(total as usize);
        lags.reserve(total as usize);
        for n in 0..total {
            let at = start + every * n as u32;
            match &timer {
                Some(t) => t.sleep_until(at).await,
                None => tokio::time::sleep_until(at).await,
            }
            let late = tokio::time::Instant::now().saturating_duration_since(at);
            lags.push(late.as_micros().min(u32::MAX as u128) as u32);
            let (user, sig) = users[n as usize % users.len()].clone();
            let url = url.clone();
            let (done, errors) = (done.clone(), errors.clone());
            tasks.push(tokio::task::spawn_local(async move {
                let ended = if paced {
                    exact::cycle(&url, &user, &sig, options).await
                } else {
                    cycle(&url, &user, &sig).await
                };
                match ended {
                    Ok(()) => done.set(done.get() + 1),
                    Err(_) => errors.set(errors.get() + 1),
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    if lags.is_empty() {
        println!("cycles={} errors={}", done.get(), errors.get());
    } else {
        lags.sort_unstable();
        let at = |q: f64| lags[((lags.len() - 1) as f64 * q) as usize];
        println!(
            "cycles={} errors={} lag_p50_us={} lag_p99_us={}",
            done.get(),
            errors.get(),
            at(0.5),
            at(0.99)
        );
    }
}

/// Read text frames until one contains `needle`.
async fn until<S>(ws: &mut S, needle: &str) -> Result<(), ()>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.contains(needle) => return Ok(()),
            Some(Ok(_)) => {}
            _ => return Err(()),
        }
    }
}

async fn cycle(url: &str, user: &str, sig: &str) -> Result<(), ()> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|_| ())?;
    exchange(&mut ws, user, sig).await
}

/// Login → its answer → `sdkStateReady` → logout → its answer, on an open WebSocket.
async fn exchange<S>(ws: &mut S, user: &str, sig: &str) -> Result<(), ()>
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error>
        + StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    let login = format!(
        r#"{{"op":"login","seq":1,"sdkAppID":{SDKAPPID},"userID":"{user}","userSig":"{sig}","platform":"Web"}}"#
    );
    ws.send(Message::text(login)).await.map_err(|_| ())?;
    until(ws, r#""seq":1,"code":0"#).await?;
    until(ws, "sdkStateReady").await?;
    ws.send(Message::text(r#"{"op":"logout","seq":2}"#))
        .await
        .map_err(|_| ())?;
    until(ws, r#""seq":2,"code":0"#).await
}

/// Back-to-back login → ready → logout cycles on one connection until `end`.
async fn kept_cycles(
    url: &str,
    user: &str,
    sig: &str,
    end: tokio::time::Instant,
    done: &Cell<u64>,
) -> Result<(), ()> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|_| ())?;
    let mut seq = 0u64;
    while tokio::time::Instant::now() < end {
        seq += 1;
        let login = format!(
            r#"{{"op":"login","seq":{seq},"sdkAppID":{SDKAPPID},"userID":"{user}","userSig":"{sig}","platform":"Web"}}"#
        );
        ws.send(Message::text(login)).await.map_err(|_| ())?;
        until(&mut ws, &format!(r#""seq":{seq},"code":0"#)).await?;
        until(&mut ws, "sdkStateReady").await?;
        seq += 1;
        ws.send(Message::text(format!(r#"{{"op":"logout","seq":{seq}}}"#)))
            .await
            .map_err(|_| ())?;
        until(&mut ws, &format!(r#""seq":{seq},"code":0"#)).await?;
        done.set(done.get() + 1);
    }
    Ok(())
}

/// `paced` and `matched`: the same cycle at exact instants, ending with a close frame, and for
/// `matched` with loginstorm's socket options (see the top of the file).
mod exact {
    use super::{exchange, Message, SinkExt};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use tokio::io::unix::AsyncFd;
    use tokio::time::Instant;

    /// A one-shot timerfd armed for each instant, waited on edge-triggered without reading it.
    pub struct Timer {
        fd: AsyncFd<OwnedFd>,
        base: (Instant, libc::timespec),
    }

    impl Timer {
        pub fn new() -> Timer {
            // SAFETY: plain system calls on a descriptor this function owns.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            assert!(fd >= 0, "timerfd_create");
            let now = Instant::now();
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
            // SAFETY: `fd` is fresh and owned here; it stays open as long as the AsyncFd.
            let fd = unsafe { AsyncFd::register(OwnedFd::from_raw_fd(fd)) }
                .unwrap_or_else(|_| panic!("register timerfd"));
            Timer {
                fd,
                base: (now, ts),
            }
        }

        pub async fn sleep_until(&self, at: Instant) {
            if at <= Instant::now() {
                return;
            }
            let d = at - self.base.0;
            let ns = self.base.1.tv_nsec as u64 + u64::from(d.subsec_nanos());
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: self.base.1.tv_sec + (d.as_secs() + ns / 1_000_000_000) as libc::time_t,
                    tv_nsec: (ns % 1_000_000_000) as libc::c_long,
                },
            };
            let fd = self.fd.get_ref().as_raw_fd();
            // SAFETY: our timerfd, a valid itimerspec.
            unsafe {
                libc::timerfd_settime(fd, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut())
            };
            while Instant::now() < at {
                let Ok(mut g) = self.fd.readable().await else {
                    return;
                };
                g.clear_ready();
            }
        }
    }

    pub async fn cycle(url: &str, user: &str, sig: &str, options: bool) -> Result<(), ()> {
        let addr = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .ok_or(())?
            .to_string();
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|_| ())?;
        if options {
            tcp.set_nodelay(true).map_err(|_| ())?;
            let on: libc::c_int = 1;
            // SAFETY: setsockopt on our connected socket with an int option.
            unsafe {
                libc::setsockopt(
                    tcp.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_TIMESTAMPNS,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
        }
        let (mut ws, _) = tokio_tungstenite::client_async(url, tcp)
            .await
            .map_err(|_| ())?;
        exchange(&mut ws, user, sig).await?;
        // The close frame, then the socket goes without waiting for the server's.
        ws.send(Message::Close(None)).await.map_err(|_| ())?;
        Ok(())
    }
}
