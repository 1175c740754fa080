//! HTTP on the server's one port (hyper): `GET /ws` upgrades to the WebSocket protocol,
//! `POST /v4/{service}/{command}` is the admin REST API, anything else is 404.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use super::{budget, conn, rest, ConnToken, Shared};

/// Largest REST request body accepted.
const MAX_REST_BODY: usize = 1 << 20;
/// Largest WebSocket message the server will buffer at all; frames between
/// [`crate::protocol::MAX_FRAME_BYTES`] and this get a 70402, larger ones close the connection (1009).
pub(crate) const MAX_WS_MESSAGE: usize = 1 << 20;

pub(crate) fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(2048)
        .write_buffer_size(0)
        .max_write_buffer_size(4 << 20)
        .max_message_size(Some(MAX_WS_MESSAGE))
        .max_frame_size(Some(MAX_WS_MESSAGE))
}

pub(super) async fn serve_connection(
    stream: tokio::net::TcpStream,
    shared: Arc<Shared>,
    token: Arc<ConnToken>,
) {
    let Some(tls) = shared.config.tls.clone() else {
        return serve_http(stream, shared, token).await;
    };
    // The TLS handshake is part of the request and shares its deadline; a failed one has
    // nobody to answer.
    let timeout = shared.config.limits.request_timeout;
    let accept = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
    if let Ok(Ok(stream)) = tokio::time::timeout(timeout, accept).await {
        serve_http(stream, shared, token).await;
    }
}

async fn serve_http<S>(stream: S, shared: Arc<Shared>, token: Arc<ConnToken>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let timeout = shared.config.limits.request_timeout;
    let service = hyper::service::service_fn(move |req| {
        let (shared, token) = (shared.clone(), token.clone());
        async move { Ok::<_, Infallible>(route(req, shared, token).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .max_buf_size(64 * 1024);
    // Errors here are a client's broken HTTP; there is nobody to tell but the client.
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
}

/// The answer to a connection over `--max-connections`: 503 before any upgrade, then close.
/// The request is read (briefly) first, so the close does not reset the answer away.
pub(super) async fn refuse_busy(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const BODY: &str = "the server is at its connection limit; retry later\n";
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(head.as_bytes()).await?;
        stream.shutdown().await?;
        while stream.read(&mut buf).await? > 0 {}
        std::io::Result::Ok(())
    })
    .await;
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn route(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    token: Arc<ConnToken>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if path == "/ws" {
        if req.method() != Method::GET {
            return plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "GET /ws upgrades to a WebSocket\n",
            );
        }
        return upgrade(req, shared, token);
    }
    let webim = shared.config.dialect == super::Dialect::Webim;
    if webim && path == crate::protocol::webim::ADMIN_KICK_PATH {
        if req.method() != Method::POST {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "the admin API takes POST\n");
        }
        let headers = req.headers().clone();
        let Some(body) = read_body(req, &shared).await else {
            return timed_out(&shared);
        };
        return rest::webim_kick(&headers, body.as_deref(), &shared).await;
    }
    if let Some(rest_path) = path.strip_prefix("/v4/").filter(|_| !webim) {
        if req.method() != Method::POST {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "the REST API takes POST\n");
        }
        let rest_path = rest_path.to_string();
        let query = req.uri().query().unwrap_or("").to_string();
        let Some(body) = read_body(req, &shared).await else {
            return timed_out(&shared);
        };
        let Some(body) = body else {
            return rest::json_response(rest::fail(
                crate::protocol::code::INVALID_PARAMS,
                "request body unreadable or over 1 MiB",
            ));
        };
        return rest::json_response(rest::handle(&rest_path, &query, &body, &shared).await);
    }
    plain(
        StatusCode::NOT_FOUND,
        if webim {
            "not found: this server speaks the webim dialect: GET /ws (subprotocol webim.v2) and POST /admin/v2/kick\n"
        } else {
            "not found: the protocol is on GET /ws and the admin API on POST /v4/...\n"
        },
    )
}

/// A request body within the request deadline: None when it did not arrive in time;
/// Some(None) when it was unreadable or over 1 MiB.
async fn read_body(req: Request<Incoming>, shared: &Shared) -> Option<Option<Bytes>> {
    let limit = shared.config.limits.request_timeout;
    let collect = Limited::new(req.into_body(), MAX_REST_BODY).collect();
    let body = tokio::time::timeout(limit, collect).await.ok()?;
    Some(body.ok().map(|b| b.to_bytes()))
}

fn timed_out(shared: &Shared) -> Response<Full<Bytes>> {
    let limit = shared.config.limits.request_timeout;
    let mut r = plain(
        StatusCode::REQUEST_TIMEOUT,
        &format!("the request body did not arrive within {limit:?}\n"),
    );
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn header_has(req: &Request<Incoming>, name: header::HeaderName, token: &str) -> bool {
    req.headers().get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

fn upgrade(
    mut req: Request<Incoming>,
    shared: Arc<Shared>,
    token: Arc<ConnToken>,
) -> Response<Full<Bytes>> {
    let key = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned();
    let is_ws = header_has(&req, header::CONNECTION, "upgrade")
        && header_has(&req, header::UPGRADE, "websocket")
        && req
            .headers()
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v == "13");
    let Some(key) = key.filter(|_| is_ws) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "expected a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket, Sec-WebSocket-Version: 13, Sec-WebSocket-Key)\n",
        );
    };
    // The webim dialect wants its subprotocol and to know the client.
    let webim = shared.config.dialect == super::Dialect::Webim;
    if webim {
        use crate::protocol::webim::{CLIENT_HEADER, SUBPROTOCOL};
        if !header_has(&req, header::SEC_WEBSOCKET_PROTOCOL, SUBPROTOCOL) {
            return plain(
                StatusCode::BAD_REQUEST,
                &format!("this server speaks the webim dialect: offer the subprotocol {SUBPROTOCOL} (Sec-WebSocket-Protocol)\n"),
            );
        }
        if req
            .headers()
            .get(CLIENT_HEADER)
            .is_none_or(|v| v.as_bytes().is_empty())
        {
            return plain(
                StatusCode::BAD_REQUEST,
                "this server speaks the webim dialect: say who you are in an X-Client header\n",
            );
        }
    }
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let _token = token;
            let conn_id = shared
                .next_conn
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let (push_tx, push_rx) = tokio::sync::mpsc::unbounded_channel();
            let hold = shared.frames.hold(conn_id, push_tx.clone());
            let ws = WebSocketStream::from_raw_socket(
                budget::Metered::new(TokioIo::new(upgraded), hold.clone()),
                Role::Server,
                Some(ws_config()),
            )
            .await;
            conn::run(
                ws,
                shared,
                conn::Channels {
                    conn_id,
                    push_tx,
                    push_rx,
                    hold,
                },
            )
            .await;
        }
    });
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if webim {
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(crate::protocol::webim::SUBPROTOCOL),
        );
    }
    r
}
