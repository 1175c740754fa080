//! The MQTT floor: the leanest client of loginstorm's MQTT cycle — a bare tokio socket on one
//! current-thread runtime, the WebSocket upgrade and frames written by hand (`bare_ws.rs`, no
//! tungstenite), MQTT packets as fixed bytes, nothing of loginstorm's. `benches/mqtt.sh` runs it
//! beside `loginstorm run` against the same Mosquitto so the generator's own cost can be read
//! off as a ratio. Not part of the product.
//!
//!   mqtt_floor URL RATE SECONDS     # fresh connection per arrival, open loop
//!
//! Cycle: WebSocket connect (subprotocol `mqtt`) → CONNECT (ClientId `floor-<n>`, MQTT 3.1.1,
//! clean session, no keep-alive) → CONNACK → DISCONNECT → the broker's close. Latency is
//! CONNECT sent → CONNACK received. Arrivals are evenly spaced. Prints one line of `key=value`:
//! cycles, errors, process CPU per cycle, CONNACK p50/p99.

use std::time::{Duration, Instant};

#[path = "bare_ws.rs"]
mod bare_ws;
use bare_ws::{open_loop, quantile, Conn};

/// MQTT 3.1.1 CONNECT: clean session, no keep-alive, the given ClientId (§3.1).
fn connect_packet(client_id: &str) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0b0000_0010, 0, 0];
    body.extend((client_id.len() as u16).to_be_bytes());
    body.extend(client_id.as_bytes());
    let mut p = vec![0x10];
    let mut len = body.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        p.push(b);
        if len == 0 {
            break;
        }
    }
    p.extend(body);
    p
}

async fn cycle(url: String, n: u64) -> Result<Duration, String> {
    let rest = url.strip_prefix("ws://").ok_or("a ws:// URL")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut ws = Conn::open(host, host, path, "mqtt").await?;
    let sent = Instant::now();
    ws.send(2, &connect_packet(&format!("floor-{n}"))).await?;
    let took = loop {
        let (op, b) = ws.frame().await?;
        if op == 8 {
            return Err("closed before CONNACK".into());
        }
        if b.len() >= 4 && b[0] == 0x20 {
            if b[3] != 0 {
                return Err(format!("CONNACK refused: {}", b[3]));
            }
            break sent.elapsed();
        }
    };
    ws.send(2, &[0xe0, 0]).await?;
    // The broker closes: read to the end.
    while ws.frame().await.is_ok() {}
    Ok(took)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, rate, secs] = &args[..] else {
        eprintln!("usage: mqtt_floor URL RATE SECONDS");
        std::process::exit(2);
    };
    let rate: f64 = rate.parse().expect("RATE");
    let secs: f64 = secs.parse().expect("SECONDS");
    let o = open_loop(rate, secs, |n| {
        let url = url.clone();
        async move { Ok(vec![cycle(url, n).await?.as_micros() as u64]) }
    });
    let cycles = o.done.len();
    println!(
        "cycles={cycles} errors={} cpu_us_per_cycle={:.1} connack_p50_us={} connack_p99_us={}",
        o.errors,
        o.cpu * 1e6 / cycles.max(1) as f64,
        quantile(&o.done, 0, 0.5),
        quantile(&o.done, 0, 0.99)
    );
}
