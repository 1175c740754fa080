//! Bodies of the admin REST API (login-semantics.md): the server serializes the replies, the
//! generator's admin kicker serializes the kick request and deserializes the reply. The server
//! reads request bodies by hand so that each malformed one gets a 70402 naming the field.

use serde::{Deserialize, Serialize};

/// `v4/im_open_login_svc/kick` request body. Older clients send `Identifier`; both are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KickRequest {
    #[serde(rename = "UserID", alias = "Identifier")]
    pub user_id: String,
}

/// One account's status in a `query_online_status` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineStatus {
    #[serde(rename = "To_Account")]
    pub account: String,
    /// `Online` or `Offline`.
    #[serde(rename = "Status")]
    pub status: String,
    /// With `IsNeedDetail: 1`: one entry per live instance.
    #[serde(rename = "Detail", default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Vec<PlatformStatus>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformStatus {
    #[serde(rename = "Platform")]
    pub platform: String,
    #[serde(rename = "Status")]
    pub status: String,
}

/// An account a query named that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountError {
    #[serde(rename = "To_Account")]
    pub account: String,
    #[serde(rename = "ErrorCode")]
    pub code: u32,
}

/// Every REST reply: HTTP 200 whatever happened, the outcome in the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestReply {
    /// `OK` or `FAIL`.
    #[serde(rename = "ActionStatus")]
    pub action_status: String,
    #[serde(rename = "ErrorCode")]
    pub error_code: u32,
    #[serde(rename = "ErrorInfo")]
    pub error_info: String,
    #[serde(
        rename = "QueryResult",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub query_result: Option<Vec<OnlineStatus>>,
    #[serde(rename = "ErrorList", default, skip_serializing_if = "Option::is_none")]
    pub error_list: Option<Vec<AccountError>>,
}

impl RestReply {
    pub fn ok() -> RestReply {
        RestReply {
            action_status: "OK".into(),
            error_code: 0,
            error_info: String::new(),
            query_result: None,
            error_list: None,
        }
    }

    pub fn fail(code: u32, info: &str) -> RestReply {
        RestReply {
            action_status: "FAIL".into(),
            error_code: code,
            error_info: info.to_string(),
            ..RestReply::ok()
        }
    }

    pub fn is_ok(&self) -> bool {
        self.action_status == "OK"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_have_the_vendor_shape() {
        assert_eq!(
            serde_json::to_string(&RestReply::fail(70403, "no")).unwrap(),
            r#"{"ActionStatus":"FAIL","ErrorCode":70403,"ErrorInfo":"no"}"#
        );
        let q = RestReply {
            query_result: Some(vec![OnlineStatus {
                account: "u".into(),
                status: "Online".into(),
                detail: Some(vec![PlatformStatus {
                    platform: "Web".into(),
                    status: "Online".into(),
                }]),
            }]),
            ..RestReply::ok()
        };
        let text = serde_json::to_string(&q).unwrap();
        assert_eq!(
            text,
            r#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","QueryResult":[{"To_Account":"u","Status":"Online","Detail":[{"Platform":"Web","Status":"Online"}]}]}"#
        );
        assert_eq!(serde_json::from_str::<RestReply>(&text).unwrap(), q);
        let k: KickRequest = serde_json::from_str(r#"{"Identifier":"old"}"#).unwrap();
        assert_eq!(k.user_id, "old");
        assert_eq!(
            serde_json::to_string(&KickRequest {
                user_id: "u".into()
            })
            .unwrap(),
            r#"{"UserID":"u"}"#
        );
    }
}
