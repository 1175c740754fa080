//! The admin kicker: during the load, kick one random account every interval through the
//! backend's REST API (`v4/im_open_login_svc/kick`), as an operator would.

use actix::Addr;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use super::account::{Account, AdminKickAnswered, AdminKickSent};
use super::metrics::{self, Counter};
use super::plan::Plan;
use crate::usersig;

/// Kick a random account every `every` until aborted. `accounts` are this process's (its
/// shard's): every shard draws the whole run's sequence and kicks the accounts it owns, so
/// shards together kick what the unsharded run would.
pub async fn kicker(plan: Arc<Plan>, accounts: Vec<Addr<Account>>, every: Duration, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xAD_0000);
    let mut iv = tokio::time::interval_at(Instant::now() + every, every);
    loop {
        iv.tick().await;
        let n = rng.u32(0..plan.accounts);
        if !plan.shard.owns(n) {
            continue;
        }
        let account = &accounts[plan.shard.local(n)];
        let sent = Instant::now();
        account.do_send(AdminKickSent { at: sent });
        metrics::count(Counter::AdminKicksSent);
        match kick(&plan, &plan.user_id(n)).await {
            Ok(()) => account.do_send(AdminKickAnswered { sent }),
            Err(_) => metrics::count(Counter::AdminKicksFailed),
        }
    }
}

/// POST one REST kick; Ok when the backend answers `ActionStatus: OK`.
pub async fn kick(plan: &Plan, user: &str) -> anyhow::Result<()> {
    let sig = usersig::generate(
        plan.sdkappid,
        &plan.key,
        &plan.admin,
        crate::unix_now(),
        3600,
        None,
    );
    let path = format!(
        "/v4/im_open_login_svc/kick?sdkappid={}&identifier={}&usersig={}&random={}&contenttype=json",
        plan.sdkappid,
        percent_encode(&plan.admin),
        percent_encode(&sig),
        fastrand::u32(..)
    );
    let body = serde_json::to_string(&crate::protocol::rest::KickRequest {
        user_id: user.to_string(),
    })?;
    let stream = tokio::net::TcpStream::connect(plan.addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::post(path)
        .header(hyper::header::HOST, plan.addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let resp = tokio::time::timeout(Duration::from_secs(5), sender.send_request(req)).await??;
    let bytes = resp.into_body().collect().await?.to_bytes();
    let reply: crate::protocol::rest::RestReply = serde_json::from_slice(&bytes)?;
    if reply.is_ok() {
        Ok(())
    } else {
        anyhow::bail!(
            "REST kick refused: {} {}",
            reply.error_code,
            reply.error_info
        )
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
