//! The admin kicker: during the load, kick one random account every interval through the
//! backend's REST API (`v4/im_open_login_svc/kick`), as an operator would.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use super::account::{Accounts, Order};
use super::endpoint::Stream;
use super::plan::Plan;
use crate::usersig;

/// Kick a random account every `every` until aborted. `accounts` are this process's (its
/// shard's): every shard draws the whole run's sequence and kicks the accounts it owns, so
/// shards together kick what the unsharded run would.
pub async fn kicker(plan: Arc<Plan>, accounts: Accounts, every: Duration, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xAD_0000);
    let mut iv = tokio::time::interval_at(Instant::now() + every, every);
    let mut warned = false;
    loop {
        iv.tick().await;
        let n = rng.u32(0..plan.accounts);
        if !plan.shard.owns(n) {
            continue;
        }
        let sent = Instant::now();
        // Wait until the account has the kick on record: whatever the kick causes reaches the
        // account through its instances' queue, which may be taken ahead of a message still
        // waiting in the mailbox (account/inbox.rs). An account already gone is not kicked.
        let (reply, may) = tokio::sync::oneshot::channel();
        accounts.send(n, Order::AdminKickSent { n, at: sent, reply });
        if may.await != Ok(true) {
            continue;
        }
        // The account counts the kick (sent, and failed) on its worker, where the collector
        // takes its recorder.
        match kick(&plan, &plan.user_id(n)).await {
            Ok(()) => accounts.send(n, Order::AdminKickAnswered { n, sent }),
            Err(e) => {
                if !warned {
                    warned = true;
                    eprintln!(
                        "warning: admin kick of {} failed: {} (every failed admin kick fails the run)",
                        plan.user_id(n),
                        crate::error_message(&e)
                    );
                }
                accounts.send(n, Order::AdminKickFailed { n })
            }
        }
    }
}

/// One admin kick as the protocol profile describes it (method, path, body, headers), to the
/// admin endpoint (http or https); Ok when the reply matches the profile's `admin.success`.
pub async fn kick(plan: &Plan, user: &str) -> anyhow::Result<()> {
    // The whole exchange (connect, TLS, request, answer) has one deadline: an admin API that
    // accepts and never answers is a failed kick, not a kicker stuck for the rest of the run.
    tokio::time::timeout(KICK_DEADLINE, kick_once(plan, user))
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {KICK_DEADLINE:?}"))?
}

/// How long an admin kick may take from connect to the whole answer.
pub const KICK_DEADLINE: Duration = Duration::from_secs(5);

async fn kick_once(plan: &Plan, user: &str) -> anyhow::Result<()> {
    let endpoint = plan
        .admin_endpoint
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("no admin endpoint"))?;
    let admin = &plan.profile.admin;
    let sig = usersig::generate(
        plan.sdkappid,
        &plan.key,
        &plan.admin,
        crate::unix_now(),
        3600,
        None,
    );
    let values = crate::profile::template::Values {
        sdkappid: plan.sdkappid,
        admin: &plan.admin,
        admin_sig: &sig,
        random: fastrand::u32(..),
        user_id: user,
        ..Default::default()
    };
    // The admin URL's own path (a prefix), then the profile's path.
    let prefix = endpoint.path.render(&values);
    let path = format!(
        "{}{}",
        prefix.trim_end_matches('/'),
        admin.path.render(&values)
    );
    let tcp = tokio::net::TcpStream::connect(endpoint.addr).await?;
    let stream = Stream::over(tcp, endpoint.tls_name.as_ref(), plan.tls.as_ref()).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(admin.method.as_str())
        .uri(path)
        .header(hyper::header::HOST, endpoint.authority.as_str());
    for (name, value) in &admin.headers {
        req = req.header(name.as_str(), value.render(&values));
    }
    let req = req.body(Full::new(Bytes::from(admin.body.render(&values))))?;
    let resp = sender.send_request(req).await?;
    // An answer is a few hundred bytes; a body past 64 KiB is not one.
    let body = http_body_util::Limited::new(resp.into_body(), 64 << 10);
    let bytes = body
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading the answer: {e}"))?
        .to_bytes();
    admin
        .judge(&bytes)
        .map_err(|e| anyhow::anyhow!("admin kick refused: {e}"))
}
