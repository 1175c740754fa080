//! The admin REST API: kick with invalidation, online status, admin auth.

use crate::util::*;
use loginstorm::policy::KickType;
use loginstorm::policy::Platform::*;
use loginstorm::protocol::{Event, ServerFrame};
use loginstorm::server::DEV_SDKAPPID;
use serde_json::json;

#[tokio::test]
async fn rest_kick_kicks_every_instance_and_invalidates_older_sigs() {
    let h = start(|c| c.policy.limits = "Web=2".parse().unwrap());
    let old_sig = sig("alice");
    let mut a = Client::connect(&h).await;
    let mut b = Client::connect(&h).await;
    let mut c = Client::connect(&h).await;
    for cl in [&mut a, &mut b] {
        assert_eq!(cl.login_as("alice", Web, &old_sig).await.code, 0);
        assert_eq!(cl.next_event().await, ServerFrame::Event(Event::Ready));
    }
    assert_eq!(c.login_as("alice", IPhone, &old_sig).await.code, 0);
    assert_eq!(c.next_event().await, ServerFrame::Event(Event::Ready));

    let r = rest(
        &h,
        "im_open_login_svc/kick",
        &admin_query(),
        &json!({"UserID":"alice"}),
    )
    .await;
    assert_eq!(r["ActionStatus"], "OK", "{r}");
    assert_eq!(r["ErrorCode"], 0);
    for cl in [&mut a, &mut b, &mut c] {
        assert_eq!(
            cl.next_event().await,
            ServerFrame::kicked(KickType::RestApiKick)
        );
        assert_eq!(cl.next_event().await, ServerFrame::Event(Event::NotReady));
        assert_eq!(cl.send_message("alice", "x").await.code, 3006);
    }
    // The sig in use before the kick is dead; a fresh one works.
    assert_eq!(a.login_as("alice", Web, &old_sig).await.code, 70052);
    let fresh = sig_at("alice", loginstorm::unix_now() + 1, 600);
    assert_eq!(a.login_as("alice", Web, &fresh).await.code, 0);
    // Older clients send Identifier instead of UserID.
    let r = rest(
        &h,
        "im_open_login_svc/kick",
        &admin_query(),
        &json!({"Identifier":"alice"}),
    )
    .await;
    assert_eq!(r["ActionStatus"], "OK");
    assert_eq!(a.next_event().await, ServerFrame::Event(Event::Ready));
    assert_eq!(
        a.next_event().await,
        ServerFrame::kicked(KickType::RestApiKick)
    );
}

#[tokio::test]
async fn a_sig_minted_after_a_kick_in_the_same_second_still_works() {
    let h = start(|_| {});
    let mut a = Client::connect(&h).await;
    a.login_ready("alice", Web).await;
    let r = rest(
        &h,
        "im_open_login_svc/kick",
        &admin_query(),
        &json!({"UserID":"alice"}),
    )
    .await;
    assert_eq!(r["ErrorCode"], 0);
    let fresh = sig_at("alice", loginstorm::unix_now(), 600);
    let code = a.login_as("alice", Web, &fresh).await.code;
    assert_eq!(code, 0);
}

#[tokio::test]
async fn rest_kick_of_an_unknown_account_is_70107() {
    let h = start(|_| {});
    let r = rest(
        &h,
        "im_open_login_svc/kick",
        &admin_query(),
        &json!({"UserID":"nobody"}),
    )
    .await;
    assert_eq!(r["ActionStatus"], "FAIL");
    assert_eq!(r["ErrorCode"], 70107);
    let r = rest(
        &h,
        "im_open_login_svc/kick",
        &admin_query(),
        &json!({"Nope":"x"}),
    )
    .await;
    assert_eq!(r["ErrorCode"], 70402);
}

#[tokio::test]
async fn query_online_status_reports_status_detail_and_unknown_accounts() {
    let h = start(|c| c.policy.limits = "Web=2".parse().unwrap());
    let mut a = Client::connect(&h).await;
    let mut b = Client::connect(&h).await;
    let mut c = Client::connect(&h).await;
    a.login_ready("alice", Web).await;
    b.login_ready("alice", Android).await;
    c.login_ready("carol", Web).await;
    assert_eq!(c.logout().await.code, 0);
    let body = json!({"To_Account":["alice","carol","nobody"],"IsNeedDetail":1});
    let r = rest(&h, "openim/query_online_status", &admin_query(), &body).await;
    assert_eq!(r["ActionStatus"], "OK", "{r}");
    let q = r["QueryResult"].as_array().unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q[0]["To_Account"], "alice");
    assert_eq!(q[0]["Status"], "Online");
    let mut platforms: Vec<&str> = q[0]["Detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["Status"], "Online");
            d["Platform"].as_str().unwrap()
        })
        .collect();
    platforms.sort();
    assert_eq!(platforms, ["Android", "Web"]);
    assert_eq!(q[1]["To_Account"], "carol");
    assert_eq!(q[1]["Status"], "Offline");
    assert_eq!(r["ErrorList"][0]["To_Account"], "nobody");
    assert_eq!(r["ErrorList"][0]["ErrorCode"], 70107);
    let r = rest(
        &h,
        "openim/query_online_status",
        &admin_query(),
        &json!({"To_Account":["alice"]}),
    )
    .await;
    assert!(r["QueryResult"][0].get("Detail").is_none());
    let many: Vec<String> = (0..501).map(|i| format!("u{i}")).collect();
    let r = rest(
        &h,
        "openim/query_online_status",
        &admin_query(),
        &json!({"To_Account": many}),
    )
    .await;
    assert_eq!(r["ErrorCode"], 70402);
}

#[tokio::test]
async fn only_the_admin_with_a_valid_sig_may_call() {
    let h = start(|_| {});
    let not_admin = format!(
        "sdkappid={DEV_SDKAPPID}&identifier=alice&usersig={}&random=1&contenttype=json",
        sig("alice")
    );
    let r = rest(
        &h,
        "im_open_login_svc/kick",
        &not_admin,
        &json!({"UserID":"x"}),
    )
    .await;
    assert_eq!(
        (r["ActionStatus"].as_str(), r["ErrorCode"].as_u64()),
        (Some("FAIL"), Some(70403))
    );
    let bad_sig = format!(
        "sdkappid={DEV_SDKAPPID}&identifier=administrator&usersig={}&random=1",
        loginstorm::usersig::generate(
            DEV_SDKAPPID,
            "wrong-key",
            "administrator",
            loginstorm::unix_now(),
            60,
            None
        )
    );
    let r = rest(
        &h,
        "openim/query_online_status",
        &bad_sig,
        &json!({"To_Account":[]}),
    )
    .await;
    assert_eq!(r["ErrorCode"], 70009);
    let r = rest(
        &h,
        "openim/query_online_status",
        "identifier=administrator",
        &json!({}),
    )
    .await;
    assert_eq!(r["ErrorCode"], 70402);
    let r = rest(&h, "openim/no_such_thing", &admin_query(), &json!({})).await;
    assert_eq!(r["ErrorCode"], 70402);
}
