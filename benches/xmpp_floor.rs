//! The XMPP floor: the leanest client of loginstorm's XMPP cycle anyone could write — plain
//! tokio TCP on one current-thread runtime, the WebSocket upgrade and frames written by hand
//! (RFC 6455; no tungstenite), the XMPP elements as fixed strings and found by substring, no
//! XML parser, nothing of loginstorm's. `benches/xmpp.sh` runs it beside `loginstorm run`
//! against the same server so the generator's own cost can be read off as a ratio. Not part of
//! the product.
//!
//!   xmpp_floor URL DOMAIN CREDS RATE SECONDS     # fresh connection per arrival, open loop
//!
//! Cycle (RFC 7395): WebSocket upgrade (subprotocol `xmpp`) → `<open/>` → features → SASL
//! PLAIN → success → `<open/>` (restart) → features → bind (resource `floor-<n>`) → result →
//! `<presence/>` → its echo (ready) → `<close/>` → the server's `<close/>` → WebSocket close.
//! Arrival `n` logs in as record `n mod len(CREDS)` of the `userID,password` file. Latencies:
//! first `<open/>` sent → bind result (login) and → presence echo (ready). Prints one line of
//! `key=value`: cycles, errors, process CPU per cycle, login and ready p50/p99.

use std::rc::Rc;
use std::time::{Duration, Instant};

#[path = "bare_ws.rs"]
mod bare_ws;
use bare_ws::{base64, open_loop, quantile, Conn, Res};

const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";

async fn cycle(target: &Target, n: u64) -> Res<(Duration, Duration)> {
    let (user, password) = &target.creds[(n as usize) % target.creds.len()];
    let mut c = Conn::open(&target.addr, &target.host, &target.path, "xmpp").await?;
    let domain = &target.domain;
    let open = format!("<open xmlns=\"{FRAMING}\" to=\"{domain}\" version=\"1.0\"/>");
    let t0 = Instant::now();
    c.send(1, open.as_bytes()).await?;
    c.until("<stream:features").await?;
    let plain = base64(format!("\0{user}\0{password}").as_bytes());
    let auth = format!(
        "<auth xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\" mechanism=\"PLAIN\">{plain}</auth>"
    );
    c.send(1, auth.as_bytes()).await?;
    c.until("<success").await?;
    c.send(1, open.as_bytes()).await?;
    c.until("<stream:features").await?;
    let resource = format!("floor-{n}");
    let bind = format!(
        "<iq xmlns=\"jabber:client\" type=\"set\" id=\"bind\"><bind xmlns=\"urn:ietf:params:xml:ns:xmpp-bind\"><resource>{resource}</resource></bind></iq>"
    );
    c.send(1, bind.as_bytes()).await?;
    c.until("<jid>").await?;
    let login = t0.elapsed();
    c.send(1, b"<presence xmlns=\"jabber:client\"/>").await?;
    c.until(&format!("/{resource}'")).await?;
    let ready = t0.elapsed();
    c.send(1, format!("<close xmlns=\"{FRAMING}\"/>").as_bytes())
        .await?;
    c.until("<close").await?;
    c.send(8, &1000u16.to_be_bytes()).await?;
    // The server's close frame, or its end of the connection.
    let _ = c.frame().await;
    Ok((login, ready))
}

struct Target {
    addr: String,
    host: String,
    path: String,
    domain: String,
    creds: Vec<(String, String)>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, domain, creds, rate, secs] = &args[..] else {
        eprintln!("usage: xmpp_floor ws://HOST:PORT/PATH DOMAIN CREDS RATE SECONDS");
        std::process::exit(2);
    };
    let rest = url.strip_prefix("ws://").expect("a ws:// URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let creds: Vec<(String, String)> = std::fs::read_to_string(creds)
        .expect("CREDS")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("userID") && !l.is_empty())
        .map(|l| {
            let (u, p) = l.split_once(',').expect("userID,password");
            (u.to_string(), p.to_string())
        })
        .collect();
    let target = Rc::new(Target {
        addr: host.to_string(),
        host: host.to_string(),
        path: if path.is_empty() { "/" } else { path }.to_string(),
        domain: domain.clone(),
        creds,
    });
    let rate: f64 = rate.parse().expect("RATE");
    let secs: f64 = secs.parse().expect("SECONDS");
    let o = open_loop(rate, secs, |n| {
        let target = target.clone();
        async move {
            let (login, ready) = cycle(&target, n).await?;
            Ok(vec![login.as_micros() as u64, ready.as_micros() as u64])
        }
    });
    if let Some(e) = &o.first_error {
        eprintln!("first error: {e}");
    }
    let cycles = o.done.len();
    println!(
        "cycles={cycles} errors={} cpu_us_per_cycle={:.1} login_p50_us={} login_p99_us={} ready_p50_us={} ready_p99_us={}",
        o.errors,
        o.cpu * 1e6 / cycles.max(1) as f64,
        quantile(&o.done, 0, 0.5),
        quantile(&o.done, 0, 0.99),
        quantile(&o.done, 1, 0.5),
        quantile(&o.done, 1, 0.99)
    );
}
