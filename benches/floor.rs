//! The floor: a bare client doing loginstorm's cycle with nothing else — plain tokio-tungstenite
//! on one current-thread runtime, no actors, no checks, no reports. `benches/latency.sh` runs it
//! beside `loginstorm run` against the same server so the generator's own cost and latency can
//! be read off as a ratio. Not part of the product; built with `cargo build --profile dist --example floor`.
//!
//!   floor credentials N PATTERN > creds.csv      # userID,userSig lines for the dev key
//!   floor open  URL CREDS RATE SECONDS           # fresh connection per arrival, open loop
//!   floor kept  URL CREDS INSTANCES SECONDS      # back-to-back cycles on kept connections
//!   floor hold  URL CREDS SESSIONS SECONDS       # hold idle ready sessions; print the RSS
//!   floor sigs  N                                # µs to mint and to verify a UserSig here
//!
//! Cycle: connect → login → `sdkStateReady` → logout → (open: close). Latency is login sent →
//! `sdkStateReady` received. Arrivals are evenly spaced at their exact instants (timerfd), so the
//! floor's queueing at the server is no worse than loginstorm's. Prints one line of `key=value`.

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use loginstorm::engine::clock::Timer;
use loginstorm::engine::endpoint::Stream;
use loginstorm::engine::stamped::Stamped;
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<Stamped>;

/// Login sent → `sdkStateReady`: as this client saw it (after reading and scanning the frames
/// before it), and from the socket's receipt of it (the kernel's timestamp, as loginstorm's
/// `ready_service` measures: a cross-check that that figure is the backend's).
struct Ready {
    seen: Histogram<u64>,
    received: Histogram<u64>,
}

impl Ready {
    fn new() -> Ready {
        let h = || Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        Ready {
            seen: h(),
            received: h(),
        }
    }

    fn record(&mut self, (seen, received): (Duration, Duration)) {
        self.seen.saturating_record(seen.as_micros() as u64);
        self.received.saturating_record(received.as_micros() as u64);
    }
}

#[derive(Default)]
struct Tally {
    cycles: u64,
    errors: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: floor credentials N PATTERN | floor open URL CREDS RATE SECONDS | floor kept URL CREDS INSTANCES SECONDS | floor hold URL CREDS SESSIONS SECONDS | floor sigs N";
    match args.first().map(String::as_str) {
        Some("credentials") if args.len() == 3 => {
            let n: u64 = args[1].parse().expect("N");
            let now = loginstorm::unix_now();
            // One write per line would be 40,000 syscalls for the benches' credentials file.
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for i in 0..n {
                let user = args[2].replace("{n}", &i.to_string());
                let sig = loginstorm::usersig::generate(
                    loginstorm::protocol::defaults::DEV_SDKAPPID,
                    loginstorm::protocol::defaults::DEV_KEY,
                    &user,
                    now,
                    86_400,
                    None,
                );
                writeln!(out, "{user},{sig}").expect("stdout");
            }
            out.flush().expect("stdout");
        }
        // Without a credentials file the generator mints a UserSig for every login, and the
        // reference server verifies one for every login: what each costs on this machine.
        Some("sigs") if args.len() == 2 => {
            let n: usize = args[1].parse().expect("N");
            let (app, key) = (
                loginstorm::protocol::defaults::DEV_SDKAPPID,
                loginstorm::protocol::defaults::DEV_KEY,
            );
            let now = loginstorm::unix_now();
            let users: Vec<String> = (0..n).map(|i| format!("sig-{i}")).collect();
            let t = Instant::now();
            let sigs: Vec<String> = users
                .iter()
                .map(|u| loginstorm::usersig::generate(app, key, u, now, 86_400, None))
                .collect();
            let minted = t.elapsed();
            let t = Instant::now();
            let ok = sigs
                .iter()
                .zip(&users)
                .filter(|(s, u)| loginstorm::usersig::verify(s, app, key, u, now).is_ok())
                .count();
            let verified = t.elapsed();
            let each = |d: Duration| d.as_secs_f64() * 1e6 / n.max(1) as f64;
            println!(
                "sigs={n} verified_ok={ok} generate_us={:.1} verify_us={:.1}",
                each(minted),
                each(verified)
            );
        }
        Some(mode @ ("open" | "kept" | "hold")) if args.len() == 5 => {
            let creds: Vec<(String, String)> = std::fs::read_to_string(&args[2])
                .expect("credentials file")
                .lines()
                .filter_map(|l| l.split_once(','))
                .map(|(u, s)| (u.to_string(), s.to_string()))
                .collect();
            let n: f64 = args[3].parse().expect("RATE or INSTANCES");
            let secs: f64 = args[4].parse().expect("SECONDS");
            // As loginstorm does: no descriptor-table growth (an RCU wait) during the run.
            loginstorm::reserve_fds(loginstorm::raise_fd_limit().min(1 << 16));
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            let url = args[1].clone();
            local.block_on(&rt, async move {
                if mode == "open" {
                    open(url, creds, n, Duration::from_secs_f64(secs)).await
                } else if mode == "hold" {
                    hold(url, creds, n as usize, Duration::from_secs_f64(secs)).await
                } else {
                    kept(url, creds, n as usize, Duration::from_secs_f64(secs)).await
                }
            });
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}

fn cpu_time() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// One line of `key=value`: `ready_*` as this client saw it, `ready_received_*` from the
/// socket's receipt; open mode adds how late its own timer started the arrivals (`lag_p50_us`,
/// `lag_p99_us`: when the machine took its core away, the floor's latency figures are the
/// machine's too).
fn report(
    mode: &str,
    t: &Tally,
    cpu: Duration,
    wall: Duration,
    h: &Ready,
    lag: Option<&Histogram<u64>>,
) {
    let lag = lag.map_or(String::new(), |l| {
        format!(
            " lag_p50_us={} lag_p99_us={}",
            l.value_at_quantile(0.5),
            l.value_at_quantile(0.99)
        )
    });
    println!(
        "mode={mode} cycles={} errors={} cycles_per_sec={:.0} cpu_us_per_cycle={:.1} ready_p50_us={} ready_p99_us={} ready_received_p50_us={} ready_received_p99_us={}{lag}",
        t.cycles,
        t.errors,
        t.cycles as f64 / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / t.cycles.max(1) as f64,
        h.seen.value_at_quantile(0.5),
        h.seen.value_at_quantile(0.99),
        h.received.value_at_quantile(0.5),
        h.received.value_at_quantile(0.99),
    );
}

async fn connect(url: &str) -> Option<Ws> {
    let hostport = url.strip_prefix("ws://")?.split('/').next()?;
    let tcp = tokio::net::TcpStream::connect(hostport).await.ok()?;
    tcp.set_nodelay(true).ok()?;
    // The same buffer sizes loginstorm uses (the default read buffer is 128 KiB a connection).
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(512)
        .write_buffer_size(0);
    let tcp = Stamped::new(Stream::Plain(tcp));
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, tcp, Some(config))
        .await
        .ok()?;
    Some(ws)
}

async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return Some(t.to_string()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

fn login_frame(seq: u64, user: &str, sig: &str) -> String {
    format!(
        r#"{{"op":"login","seq":{seq},"sdkAppID":{},"userID":"{user}","userSig":"{sig}","platform":"Web"}}"#,
        loginstorm::protocol::defaults::DEV_SDKAPPID
    )
}

/// Log in, wait for ready, log out; the login → ready time, as seen and from its receipt.
async fn cycle(ws: &mut Ws, seq: &mut u64, user: &str, sig: &str) -> Option<(Duration, Duration)> {
    let read_at = ws.get_ref().read_at();
    *seq += 1;
    let sent = Instant::now();
    ws.send(Message::text(login_frame(*seq, user, sig)))
        .await
        .ok()?;
    let login_seq = format!(r#""seq":{},"code":0"#, *seq);
    let mut ok = false;
    let ready = loop {
        let t = next_text(ws).await?;
        if t.contains(&login_seq) {
            ok = true;
        } else if t.contains("\"seq\"") {
            return None;
        } else if ok && t.contains("sdkStateReady") {
            let received = tokio::time::Instant::into_std(read_at.get());
            break (sent.elapsed(), received.saturating_duration_since(sent));
        }
    };
    *seq += 1;
    ws.send(Message::text(format!(
        r#"{{"op":"logout","seq":{}}}"#,
        *seq
    )))
    .await
    .ok()?;
    let logout_seq = format!(r#""seq":{},"code":0"#, *seq);
    loop {
        let t = next_text(ws).await?;
        if t.contains(&logout_seq) {
            return Some(ready);
        } else if t.contains("\"seq\"") {
            return None;
        }
    }
}

async fn open(url: String, creds: Vec<(String, String)>, rate: f64, run: Duration) {
    let hist = Rc::new(RefCell::new(Ready::new()));
    let tally = Rc::new(RefCell::new(Tally::default()));
    let creds = Rc::new(creds);
    let timer = Timer::new().expect("timerfd");
    let (cpu0, start) = (cpu_time(), Instant::now());
    let total = (rate * run.as_secs_f64()) as u64;
    let mut lag = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for k in 0..total {
        let at = start + Duration::from_secs_f64(k as f64 / rate);
        timer.sleep_until(at.into()).await.expect("timer");
        lag.saturating_record(at.elapsed().as_micros() as u64);
        let (hist, tally, creds, url) = (hist.clone(), tally.clone(), creds.clone(), url.clone());
        tokio::task::spawn_local(async move {
            let (user, sig) = &creds[k as usize % creds.len()];
            let res = async {
                let mut ws = connect(&url).await?;
                let mut seq = 0;
                let r = cycle(&mut ws, &mut seq, user, sig).await;
                let _ = ws.close(None).await;
                r
            }
            .await;
            match res {
                Some(d) => {
                    hist.borrow_mut().record(d);
                    tally.borrow_mut().cycles += 1;
                }
                None => tally.borrow_mut().errors += 1,
            }
        });
    }
    // Let the last arrivals finish (bounded).
    let deadline = Instant::now() + Duration::from_secs(5);
    while {
        let t = tally.borrow();
        t.cycles + t.errors < total
    } && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (cpu, wall) = (cpu_time() - cpu0, start.elapsed());
    report(
        "open",
        &tally.borrow(),
        cpu,
        wall,
        &hist.borrow(),
        Some(&lag),
    );
}

async fn kept(url: String, creds: Vec<(String, String)>, instances: usize, run: Duration) {
    let hist = Rc::new(RefCell::new(Ready::new()));
    let tally = Rc::new(RefCell::new(Tally::default()));
    let mut conns = Vec::new();
    for (user, sig) in creds.iter().take(instances) {
        let ws = connect(&url).await.expect("connect");
        conns.push((ws, user.clone(), sig.clone()));
    }
    let (cpu0, start) = (cpu_time(), Instant::now());
    let end = start + run;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|(mut ws, user, sig)| {
            let (hist, tally) = (hist.clone(), tally.clone());
            tokio::task::spawn_local(async move {
                let mut seq = 0;
                while Instant::now() < end {
                    match cycle(&mut ws, &mut seq, &user, &sig).await {
                        Some(d) => {
                            hist.borrow_mut().record(d);
                            tally.borrow_mut().cycles += 1;
                        }
                        None => {
                            tally.borrow_mut().errors += 1;
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let (cpu, wall) = (cpu_time() - cpu0, start.elapsed());
    report("kept", &tally.borrow(), cpu, wall, &hist.borrow(), None);
}

/// Log `sessions` accounts in (each on its own connection, 64 at a time), keep them ready and
/// idle for `hold`, and print the resident set size then.
async fn hold(url: String, creds: Vec<(String, String)>, sessions: usize, hold: Duration) {
    let ready = Rc::new(RefCell::new(0usize));
    let gate = Rc::new(tokio::sync::Semaphore::new(64));
    let end = Instant::now() + hold;
    for (user, sig) in creds.into_iter().take(sessions) {
        let (ready, gate, url) = (ready.clone(), gate.clone(), url.clone());
        tokio::task::spawn_local(async move {
            let permit = gate.acquire().await.ok();
            let Some(mut ws) = connect(&url).await else {
                return;
            };
            ws.send(Message::text(login_frame(1, &user, &sig)))
                .await
                .ok();
            while let Some(t) = next_text(&mut ws).await {
                if t.contains("sdkStateReady") {
                    *ready.borrow_mut() += 1;
                    break;
                }
            }
            drop(permit);
            // Idle, but still reading (as a real client would: pings, kicks).
            let _ = tokio::time::timeout_at(end.into(), next_text(&mut ws)).await;
        });
    }
    tokio::time::sleep_until(end.into()).await;
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_default();
    println!("mode=hold ready={} rss_kib={rss}", ready.borrow());
}
