//! The admin REST kick as a profile describes it (the reference server's is the default), or
//! ejabberd's HTTP API for XMPP; whether a reply says the kick was done.

use super::extract::Paths;
use super::matcher::{self, Matcher};
use super::template::Template;
use super::{schema, Problem};

/// The admin REST kick, as the profile describes it.
#[derive(Debug)]
pub struct Admin {
    pub method: String,
    pub path: Template,
    pub body: Template,
    pub headers: Vec<(String, Template)>,
    /// What the reply's rules read.
    pub(super) paths: Paths,
    pub(super) success: Matcher,
    /// The slot of the backend's error text, for the failure message.
    pub(super) message: Option<usize>,
}

/// Why an admin kick's reply is not a success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminRefusal {
    #[error("admin reply is not UTF-8")]
    NotUtf8,
    #[error("admin reply is not JSON: {0}")]
    NotJson(String),
    /// The backend's error text (its message field, or the start of the reply).
    #[error("{0}")]
    Refused(String),
}

impl Admin {
    /// ejabberd's HTTP API (`mod_http_api`) kicking every session of an account:
    /// `POST /api/kick_user {"user": …, "host": DOMAIN}`, done when the answer counts the
    /// sessions (`{"num_resources": N}`), refused when it is an error object (its `message`).
    /// The kicked sessions get a `<policy-violation/>` stream error, read as `REST_API_Kick`.
    pub fn ejabberd(domain: &str) -> Result<Admin, Problem> {
        let host = serde_json::to_string(domain).expect("a string serializes");
        schema::AdminFile {
            method: "POST".into(),
            path: "/api/kick_user".into(),
            body: format!(r#"{{"user":"{{userID}}","host":{host}}}"#),
            headers: std::collections::BTreeMap::from([(
                "Content-Type".to_string(),
                "application/json".to_string(),
            )]),
            success: matcher::Match::One(matcher::Condition {
                path: "/num_resources".into(),
                equals: None,
                one_of: None,
                prefix: None,
                exists: Some(true),
            }),
            message: Some("/message".into()),
        }
        .compile()
    }

    /// Whether a reply says the kick was done; else why not.
    pub fn judge(&self, body: &[u8]) -> Result<(), AdminRefusal> {
        let text = std::str::from_utf8(body).map_err(|_| AdminRefusal::NotUtf8)?;
        let v = self
            .paths
            .extract(text)
            .map_err(|e| AdminRefusal::NotJson(e.to_string()))?;
        if self.success.holds(&v) {
            return Ok(());
        }
        Err(AdminRefusal::Refused(
            self.message
                .and_then(|i| v[i].as_ref())
                .map(|m| m.to_string())
                .unwrap_or_else(|| crate::protocol::truncate(text, 300).to_string()),
        ))
    }
}
