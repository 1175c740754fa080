//! Before the load: the target reached once, so an unreachable one is a clear error, and the
//! first of its addresses that answers chosen for every instance.

use std::sync::Arc;

use super::connect;
use super::plan::Plan;

/// The first of the target's addresses that answers becomes the one every instance uses
/// (`localhost` may resolve to `::1` first while the server listens on 127.0.0.1 only); none
/// answering is the first address's error.
pub(super) fn reach(plan: &mut Arc<Plan>) -> anyhow::Result<()> {
    let mut first_err = None;
    for addr in plan.target.addrs.clone() {
        if let Some(p) = Arc::get_mut(plan) {
            p.target.addr = addr;
        }
        match preflight(plan) {
            Ok(()) => return Ok(()),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or_else(|| anyhow::anyhow!("the target resolved to no address")))
}

/// One connection before the load starts, so an unreachable target is a clear error.
fn preflight(plan: &Plan) -> anyhow::Result<()> {
    // As the shard's first instance would connect (its URL and headers may name it).
    let user = plan.user_id(plan.shard.index);
    let instance = format!("{user}#0");
    let who = crate::profile::template::Values {
        user_id: &user,
        instance: &instance,
        sdkappid: plan.sdkappid,
        platform: plan.profile.platform_name(plan.platforms[0]),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match tokio::time::timeout(
            plan.connect_timeout,
            connect::connect(plan, None, &who, false, None),
        )
        .await
        {
            Ok(Ok(mut conn)) => {
                let _ = futures_util::SinkExt::close(&mut conn).await;
                Ok(())
            }
            Ok(Err(e)) => Err(anyhow::anyhow!(
                "cannot reach target {}: {e}",
                plan.target.url
            )),
            Err(_) => Err(anyhow::anyhow!(
                "cannot reach target {}: no WebSocket within {:?}",
                plan.target.url,
                plan.connect_timeout
            )),
        }
    })
}

#[cfg(test)]
mod reach_tests {
    use super::*;

    /// A host whose first address does not answer (nothing listens there) is reached through
    /// the next one, and every instance then uses that one.
    #[test]
    fn the_first_address_that_answers_is_used() {
        let server = crate::server::start(crate::server::ServerConfig {
            workers: 1,
            ..Default::default()
        })
        .unwrap();
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead_addr = dead.local_addr().unwrap();
        drop(dead);
        let r = crate::scenario::load_text(
            "[accounts]\ncount = 1\n",
            std::path::Path::new("."),
            &Default::default(),
        )
        .unwrap();
        let mut plan = Plan::new(&r, &server.url()).unwrap();
        let live = plan.target.addr;
        Arc::get_mut(&mut plan).unwrap().target.addrs = vec![dead_addr, live];
        reach(&mut plan).unwrap();
        assert_eq!(plan.target.addr, live);
        // None answering: the first address's error.
        Arc::get_mut(&mut plan).unwrap().target.addrs = vec![dead_addr];
        let e = reach(&mut plan).unwrap_err().to_string();
        assert!(e.contains("cannot reach target"), "{e}");
    }
}
