//! The admin REST API: `v4/im_open_login_svc/kick` and `v4/openim/query_online_status`.
//!
//! Every call carries `sdkappid`, `identifier` (must be the admin), `usersig` (the admin's) in the
//! query string. HTTP status is always 200; the JSON body says `ActionStatus` and `ErrorCode`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::Response;
use serde_json::Value;

use super::{now_unix, shard, Shared};
use crate::protocol::rest::{AccountError, OnlineStatus, PlatformStatus, RestReply};
use crate::protocol::{check_user_id, code};
use crate::usersig;

/// Most accounts one `query_online_status` may name.
const MAX_QUERY_ACCOUNTS: usize = 500;

pub(super) fn json_response(body: RestReply) -> Response<Full<Bytes>> {
    let text = serde_json::to_string(&body).expect("REST replies serialize");
    let mut r = Response::new(Full::new(Bytes::from(text)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub(super) fn fail(code: u32, info: &str) -> RestReply {
    RestReply::fail(code, info)
}

/// Decode `%XX` and `+` in a query-string value.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
}

/// Check the admin credentials in the query string.
fn authorize(query: &str, shared: &Shared) -> Result<(), RestReply> {
    let get = |n: &str| {
        query_param(query, n).ok_or_else(|| {
            fail(
                code::INVALID_PARAMS,
                &format!("missing query parameter `{n}`"),
            )
        })
    };
    admit(
        &get("sdkappid")?,
        &get("identifier")?,
        &get("usersig")?,
        shared,
    )
}

/// The admin's credentials, wherever the dialect carries them: the app, the admin identifier
/// and its UserSig.
fn admit(app: &str, identifier: &str, sig: &str, shared: &Shared) -> Result<(), RestReply> {
    let cfg = &shared.config;
    let app: u64 = app.parse().map_err(|_| {
        fail(
            code::INVALID_PARAMS,
            "the SDKAppID (`sdkappid`) is not a number",
        )
    })?;
    if app != cfg.sdkappid {
        return Err(fail(
            code::SIG_APP_MISMATCH,
            &format!("sdkappid {app} is not this server's ({})", cfg.sdkappid),
        ));
    }
    if identifier != cfg.admin {
        return Err(fail(
            code::ADMIN_REQUIRED,
            &format!("{identifier:?} is not the admin; admin rights required"),
        ));
    }
    usersig::verify(sig, app, &cfg.key, identifier, now_unix())
        .map_err(|e| fail(e.code(), &e.to_string()))?;
    Ok(())
}

pub(super) async fn handle(path: &str, query: &str, body: &[u8], shared: &Shared) -> RestReply {
    if let Err(e) = authorize(query, shared) {
        return e;
    }
    let body: Value = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Value::Object(m),
        Ok(_) => return fail(code::INVALID_PARAMS, "request body is not a JSON object"),
        Err(e) => {
            return fail(
                code::INVALID_PARAMS,
                &format!("request body is not JSON: {e}"),
            )
        }
    };
    match path {
        "im_open_login_svc/kick" => kick(&body, shared).await,
        "openim/query_online_status" => query_online(&body, shared).await,
        other => fail(
            code::INVALID_PARAMS,
            &format!(
                "unknown REST command v4/{} (this server has im_open_login_svc/kick and openim/query_online_status)",
                other.chars().take(100).collect::<String>()
            ),
        ),
    }
}

/// The webim dialect's admin kick: `POST /admin/v2/kick` with `X-Admin` and `X-Admin-Sig`
/// headers and `{"appId":"…","userIds":["…"]}`; answers `{"ok":true}` or
/// `{"ok":false,"error":"ERR_…: …"}`. The same authorization and kick as v1's.
pub(super) async fn webim_kick(
    headers: &hyper::HeaderMap,
    body: Option<&[u8]>,
    shared: &Shared,
) -> Response<Full<Bytes>> {
    use crate::protocol::webim::code_name;
    let reply = |r: RestReply| {
        let v = if r.action_status == "OK" {
            serde_json::json!({"ok": true})
        } else {
            serde_json::json!({"ok": false, "error": format!("{}: {}", code_name(r.error_code), r.error_info)})
        };
        let mut resp = Response::new(Full::new(Bytes::from(v.to_string())));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    };
    let Some(body) = body else {
        return reply(fail(
            code::INVALID_PARAMS,
            "request body unreadable or over 1 MiB",
        ));
    };
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return reply(fail(
                code::INVALID_PARAMS,
                &format!("body is not JSON: {e}"),
            ))
        }
    };
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let app = v.get("appId").and_then(Value::as_str).unwrap_or("");
    if let Err(e) = admit(app, &header("x-admin"), &header("x-admin-sig"), shared) {
        return reply(e);
    }
    let users = match v.get("userIds").and_then(Value::as_array) {
        Some(u) if !u.is_empty() => u.clone(),
        _ => {
            return reply(fail(
                code::INVALID_PARAMS,
                "`userIds` must be a non-empty array",
            ))
        }
    };
    for u in users {
        let r = kick(&serde_json::json!({ "UserID": u }), shared).await;
        if r.action_status != "OK" {
            return reply(r);
        }
    }
    reply(RestReply::ok())
}

async fn kick(body: &Value, shared: &Shared) -> RestReply {
    let user = match body.get("UserID").or_else(|| body.get("Identifier")) {
        Some(Value::String(u)) => u.clone(),
        Some(_) => return fail(code::INVALID_PARAMS, "`UserID` must be a string"),
        None => return fail(code::INVALID_PARAMS, "missing `UserID`"),
    };
    if let Err(e) = check_user_id(&user) {
        return fail(code::INVALID_PARAMS, &e.to_string());
    }
    let r = shared
        .shard_for(&user)
        .send(shard::AdminKick {
            user: user.clone(),
            now_unix: now_unix(),
        })
        .await;
    match r {
        Ok(Some(_)) => RestReply::ok(),
        Ok(None) => fail(
            code::ACCOUNT_NOT_FOUND,
            &format!("account {user:?} does not exist (it never logged in)"),
        ),
        Err(_) => fail(code::INVALID_PARAMS, "server is shutting down"),
    }
}

async fn query_online(body: &Value, shared: &Shared) -> RestReply {
    let Some(list) = body.get("To_Account").and_then(Value::as_array) else {
        return fail(
            code::INVALID_PARAMS,
            "`To_Account` must be an array of userIDs",
        );
    };
    if list.len() > MAX_QUERY_ACCOUNTS {
        return fail(
            code::INVALID_PARAMS,
            &format!(
                "`To_Account` names {} accounts; at most {MAX_QUERY_ACCOUNTS}",
                list.len()
            ),
        );
    }
    let detail = match body.get("IsNeedDetail") {
        None => false,
        Some(v) => match v.as_u64() {
            Some(0) => false,
            Some(1) => true,
            _ => return fail(code::INVALID_PARAMS, "`IsNeedDetail` must be 0 or 1"),
        },
    };
    let mut users = Vec::with_capacity(list.len());
    for v in list {
        match v.as_str() {
            Some(u) if check_user_id(u).is_ok() => users.push(u.to_string()),
            _ => {
                return fail(
                    code::INVALID_PARAMS,
                    "`To_Account` holds a non-string or invalid userID",
                )
            }
        }
    }
    // Group by shard, ask each once, then answer in the request's order.
    let mut by_shard: Vec<Vec<usize>> = vec![Vec::new(); shared.shards.len()];
    for (i, u) in users.iter().enumerate() {
        by_shard[shared.shard_index(u)].push(i);
    }
    let mut answers: Vec<Option<Vec<crate::policy::Platform>>> = vec![None; users.len()];
    for (s, idxs) in by_shard.iter().enumerate() {
        if idxs.is_empty() {
            continue;
        }
        let q = shard::QueryOnline {
            users: idxs.iter().map(|&i| users[i].clone()).collect(),
        };
        match shared.shards[s].send(q).await {
            Ok(res) => {
                for (&i, a) in idxs.iter().zip(res) {
                    answers[i] = a;
                }
            }
            Err(_) => return fail(code::INVALID_PARAMS, "server is shutting down"),
        }
    }
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for (u, a) in users.into_iter().zip(answers) {
        match a {
            None => errors.push(AccountError {
                account: u,
                code: code::ACCOUNT_NOT_FOUND,
            }),
            Some(platforms) => results.push(OnlineStatus {
                account: u,
                status: if platforms.is_empty() {
                    "Offline"
                } else {
                    "Online"
                }
                .into(),
                detail: detail.then(|| {
                    platforms
                        .iter()
                        .map(|p| PlatformStatus {
                            platform: p.name().into(),
                            status: "Online".into(),
                        })
                        .collect()
                }),
            }),
        }
    }
    RestReply {
        query_result: Some(results),
        error_list: (!errors.is_empty()).then_some(errors),
        ..RestReply::ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_decode() {
        assert_eq!(
            query_param("a=1&usersig=x%2Ay_&b", "usersig").as_deref(),
            Some("x*y_")
        );
        assert_eq!(query_param("a=1", "b"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
