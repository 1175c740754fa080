//! A protocol profile file as written (TOML; unknown keys refused). `mod.rs` compiles it.

use serde::Deserialize;
use std::collections::BTreeMap;

use super::matcher::Match;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ProfileFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub connection: ConnectionFile,
    pub requests: RequestsFile,
    #[serde(default)]
    pub values: ValuesFile,
    pub response: ResponseFile,
    #[serde(default, rename = "event")]
    pub events: Vec<EventFile>,
    #[serde(default, rename = "answer")]
    pub answers: Vec<AnswerFile>,
    #[serde(default)]
    pub ignore: Vec<IgnoreFile>,
    #[serde(default)]
    pub admin: AdminFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectionFile {
    /// `Sec-WebSocket-Protocol` values offered, in order.
    #[serde(default)]
    pub subprotocols: Vec<String>,
    /// Extra headers of the upgrade request (templates: {userID}, {sdkAppID}, {platform},
    /// {instance}).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RequestsFile {
    pub login: String,
    pub logout: String,
    pub send_message: String,
    #[serde(default)]
    pub ping: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ValuesFile {
    /// The SDK's platform names → this backend's spelling.
    #[serde(default)]
    pub platform: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResponseFile {
    /// What makes a frame a response.
    #[serde(rename = "match")]
    pub matcher: Match,
    /// JSON Pointer to the echoed request id; absent: responses answer requests in order.
    #[serde(default)]
    pub id: Option<String>,
    /// JSON Pointer to the backend's code.
    #[serde(default)]
    pub code: Option<String>,
    /// A match that means success whatever the code.
    #[serde(default)]
    pub success: Option<Match>,
    /// A match that means "already logged in on this connection" (a repeat login).
    #[serde(default)]
    pub repeat_login: Option<Match>,
    /// The backend's codes → their meanings.
    #[serde(default)]
    pub codes: BTreeMap<String, CodeMeaning>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeMeaning {
    Ok,
    NotLoggedIn,
    LoginInProgress,
    NotReadyLoggingIn,
    NotReadyLoginFailed,
    KickedMultipleDevice,
    KickedMultipleAccount,
    KickedUserSigExpired,
    LoggedOut,
    KickedRestApi,
    SigExpired,
    SigInvalid,
    SigInvalidated,
    InvalidParams,
    Failure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum EventMeaning {
    Ready,
    NotReady,
    Kicked,
    MessageReceived,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventFile {
    #[serde(rename = "match")]
    pub matcher: Match,
    pub meaning: EventMeaning,
    /// Kicked: JSON Pointer to the kick's type.
    #[serde(default)]
    pub kick_type: Option<String>,
    /// Kicked: the backend's type names → multipleAccount, multipleDevice, userSigExpired,
    /// REST_API_Kick.
    #[serde(default)]
    pub kick_types: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AnswerFile {
    #[serde(rename = "match")]
    pub matcher: Match,
    /// The reply, sent at once (templates: {echo:/pointer}, {userID}, {instance}, {now_ms}).
    pub reply: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IgnoreFile {
    #[serde(rename = "match")]
    pub matcher: Match,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct AdminFile {
    pub method: String,
    /// Path and query (templates: {sdkAppID}, {admin}, {adminSig}, {random}, {userID};
    /// percent-encoded).
    pub path: String,
    pub body: String,
    pub headers: BTreeMap<String, String>,
    /// What a successful reply looks like.
    pub success: Match,
    /// JSON Pointer to the error text of a failed reply.
    pub message: Option<String>,
}

impl Default for AdminFile {
    /// The admin REST API of login-semantics.md.
    fn default() -> Self {
        AdminFile {
            method: "POST".into(),
            path: "/v4/im_open_login_svc/kick?sdkappid={sdkAppID}&identifier={admin}&usersig={adminSig}&random={random}&contenttype=json".into(),
            body: r#"{"UserID":"{userID}"}"#.into(),
            headers: BTreeMap::from([("Content-Type".to_string(), "application/json".to_string())]),
            success: Match::One(super::matcher::Condition {
                path: "/ActionStatus".into(),
                equals: Some(toml::Value::String("OK".into())),
                one_of: None,
                prefix: None,
                exists: None,
            }),
            message: Some("/ErrorInfo".into()),
        }
    }
}
