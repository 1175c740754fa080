//! Hostile input is routine: each gets the documented error or a clean close, and never disturbs
//! other clients.

use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use loginstorm::policy::Platform::*;
use loginstorm::protocol::{Event, Response, ServerFrame};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

async fn error_for(c: &mut Client, frame: Message) -> (u64, u32) {
    c.send_raw(frame).await;
    match c.read_frame().await.expect("answered") {
        ServerFrame::Response(Response {
            seq, code, message, ..
        }) => {
            assert!(
                message.is_some_and(|m| !m.is_empty()),
                "an error names the problem"
            );
            (seq, code)
        }
        other => panic!("expected an error response, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_requests_get_70402_and_the_connection_stays_usable() {
    let h = start(|_| {});
    let mut c = Client::connect(&h).await;
    let cases: Vec<(Message, u64)> = vec![
        (Message::text("not json"), 0),
        (Message::text("[1,2,3]"), 0),
        (Message::text("\"a string\""), 0),
        (Message::text("{\"op\":\"ping\"}"), 0),
        (Message::text("{\"seq\":-4,\"op\":\"ping\"}"), 0),
        (Message::text("{\"seq\":\"7\",\"op\":\"ping\"}"), 0),
        (Message::text("{\"seq\":11,\"op\":\"teleport\"}"), 11),
        (Message::text("{\"seq\":12}"), 12),
        (Message::text("{\"seq\":13,\"op\":42}"), 13),
        (Message::text("{\"seq\":14,\"op\":\"login\",\"userID\":\"u\"}"), 14),
        (Message::text("{\"seq\":15,\"op\":\"login\",\"sdkAppID\":1400000000,\"userID\":7,\"userSig\":\"s\",\"platform\":\"Web\"}"), 15),
        (Message::text("{\"seq\":16,\"op\":\"login\",\"sdkAppID\":1400000000,\"userID\":\"u\",\"userSig\":\"s\",\"platform\":\"Amiga\"}"), 16),
        (Message::text("{\"seq\":17,\"op\":\"sendMessage\",\"to\":\"x\"}"), 17),
        (Message::text("{\"seq\":18,\"op\":\"login\",\"sdkAppID\":1400000000,\"userID\":\"\",\"userSig\":\"s\",\"platform\":\"Web\"}"), 18),
        (Message::binary(vec![0u8, 159, 146, 150]), 0),
        (Message::text(format!("{{\"seq\":19,\"op\":\"ping\",\"pad\":\"{}\"}}", "x".repeat(70 * 1024))), 0),
    ];
    for (frame, want_seq) in cases {
        let shown = format!("{frame:?}").chars().take(80).collect::<String>();
        assert_eq!(error_for(&mut c, frame).await, (want_seq, 70402), "{shown}");
    }
    // Still usable.
    c.login_ready("u", Web).await;
    assert_eq!(c.send_message("u", "ok").await.code, 0);
}

#[tokio::test]
async fn huge_and_non_ascii_user_ids() {
    let h = start(|_| {});
    let mut c = Client::connect(&h).await;
    let huge = "u".repeat(40_000);
    let r = c
        .request(json!({"op":"login","sdkAppID":1400000000u64,"userID":huge,"userSig":"x","platform":"Web"}))
        .await;
    assert_eq!(r.code, 70402);
    // Non-ASCII userIDs are accepted and signed like any other.
    c.login_ready("用户-ü-🚀", Web).await;
    let mut d = Client::connect(&h).await;
    d.login_ready("用户-ü-🚀", Web).await;
    assert_eq!(
        c.next_event().await,
        ServerFrame::kicked(loginstorm::policy::KickType::MultipleAccount)
    );
}

#[tokio::test]
async fn a_message_past_the_hard_limit_closes_only_that_connection() {
    let h = start(|_| {});
    let mut bystander = Client::connect(&h).await;
    bystander.login_ready("b", Web).await;
    let mut c = Client::connect(&h).await;
    // The server stops reading at the hard limit and closes with 1009; when the close races the
    // rest of our upload, the kernel may turn it into a reset instead. Either way it is closed.
    let _ = c.ws_mut().send(Message::text("x".repeat(2 << 20))).await;
    let mut saw = None;
    loop {
        match tokio::time::timeout(WAIT, c.ws_mut().next()).await {
            Err(_) => panic!("the connection was not closed within {WAIT:?}"),
            Ok(Some(Ok(Message::Close(f)))) => saw = f.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(None) | Ok(Some(Err(_))) => break,
        }
    }
    assert!(saw.is_none() || saw == Some(1009), "closed with {saw:?}");
    assert_eq!(bystander.send_message("b", "fine").await.code, 0);
}

#[tokio::test]
async fn silent_connections_do_not_disturb_others() {
    let h = start(|_| {});
    // Many TCP connections that never send a byte, and some that stop mid-request-head.
    let mut idle = Vec::new();
    for i in 0..1500 {
        let mut s = tokio::net::TcpStream::connect(h.addr).await.unwrap();
        if i % 4 == 0 {
            s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        idle.push(s);
    }
    let mut a = Client::connect(&h).await;
    let mut b = Client::connect(&h).await;
    a.login_ready("alice", Web).await;
    b.login_ready("bob", Web).await;
    assert_eq!(a.send_message("bob", "hi").await.code, 0);
    assert!(matches!(
        b.next_event().await,
        ServerFrame::Event(Event::MessageReceived(_))
    ));
    drop(idle);
}

#[tokio::test]
async fn plain_http_gets_clear_statuses() {
    let h = start(|_| {});
    for (req, status) in [
        (
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "404",
        ),
        (
            "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "400",
        ),
        (
            "GET /v4/openim/query_online_status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "405",
        ),
    ] {
        let mut s = tokio::net::TcpStream::connect(h.addr).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(
            out.starts_with(&format!("HTTP/1.1 {status}")),
            "{req}: {out}"
        );
    }
}
