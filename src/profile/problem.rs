//! What is wrong with a protocol profile, as a type: each problem says what and, through
//! [`Problem::At`], the key where it is.

use crate::policy::PolicyError;

/// One problem of a profile; [`super::ProfileError`] adds the profile's name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    /// The problem is in this key (`event[2].match`, `requests.login`).
    #[error("{at}: {problem}")]
    At { at: String, problem: Box<Problem> },
    #[error("cannot read it ({error}); the shipped profiles are {shipped}")]
    Unreadable { error: String, shipped: String },
    /// The file is not TOML of the profile's schema (toml's own message: line, column, key).
    #[error("{0}")]
    Toml(String),
    #[error("{0:?} is not a JSON Pointer: it must start with / (e.g. \"/data/type\"), or be \"\" for the whole frame")]
    PointerStart(String),
    #[error("{0:?} is not a JSON Pointer: `~` must be followed by 0 or 1")]
    PointerEscape(String),
    #[error("{0} is not a string, number or boolean")]
    NotScalar(String),
    #[error("condition on {0:?} needs exactly one of equals, one_of, prefix, exists")]
    ConditionArity(String),
    #[error("an empty match list matches every frame; give a condition")]
    EmptyMatch,
    #[error("a match whose only condition is {{ path = \"\", exists = true }} matches every frame; give a condition on a field")]
    MatchesEverything,
    #[error("unclosed placeholder at byte {at}: {text:?}")]
    Unclosed { at: usize, text: String },
    #[error("unknown placeholder {{{name}}}; this template may use {allowed}")]
    UnknownPlaceholder { name: String, allowed: String },
    #[error("placeholder {{{name}}} is not available here; this template may use {allowed}")]
    PlaceholderHere { name: String, allowed: String },
    #[error(
        "{n} {kind} rules, over the {max} a profile may hold (each frame is tried against them)"
    )]
    TooManyRules {
        n: usize,
        kind: &'static str,
        max: usize,
    },
    #[error("{name} does not render to JSON ({error}): {sample}")]
    NotJson {
        name: String,
        error: String,
        sample: String,
    },
    #[error("{0:?} is not an HTTP header name")]
    HeaderName(String),
    #[error("a header value cannot hold a control character (CR, LF, NUL, DEL, C1)")]
    HeaderControl,
    #[error("{0} has no {{seq}}, but responses are matched by response.id: the request must carry its id")]
    NoSeq(&'static str),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("response needs `code` (a JSON Pointer to the backend's code) or `success` (a match for success), or both")]
    NoCodeOrSuccess,
    #[error("response.codes maps no code to \"ok\" and there is no response.success: no login could succeed")]
    NoOkCode,
    #[error("a kicked event needs kick_type (the JSON Pointer to the kick's type)")]
    NoKickType,
    #[error("a kicked event needs kick_types (the backend's names → multipleAccount, multipleDevice, userSigExpired, REST_API_Kick)")]
    NoKickTypes,
    #[error("kick_type and kick_types belong to a kicked event only")]
    KickFieldsElsewhere,
    #[error("no [[event]] has meaning = \"ready\": an instance could never be ready")]
    NoReady,
    #[error("connection.subprotocols: {0:?} is not a subprotocol token")]
    Subprotocol(String),
    #[error("admin.path {0:?} must start with /")]
    AdminPath(String),
    #[error("admin.method {0:?}: one of POST, PUT, GET, DELETE, PATCH")]
    AdminMethod(String),
    #[error("the checks judge {0} kicks, but no [[event]] with meaning = \"kicked\" maps a kick type to {0:?} (kick_types)")]
    UnmappedKick(&'static str),
    #[error("the checks probe ended sessions, but [response.codes] maps no code to kicked_multiple_account, kicked_multiple_device, kicked_user_sig_expired, kicked_rest_api or logged_out: a refusal because of a kick could not be told from any failure")]
    NoEndedCode,
    #[error("the scenario's UserSigs expire during the run (target.sig_lifetime), but no kick type maps to \"userSigExpired\"")]
    NoExpiryKick,
    #[error("the scenario kicks through the admin API (admin_kick.interval), but no kick type maps to \"REST_API_Kick\"")]
    NoRestKick,
    #[error("the scenario kicks through the admin API, but [response.codes] maps no code to sig_invalidated (a login refused with a UserSig the kick voided)")]
    NoInvalidatedCode,
}

impl Problem {
    /// This problem, at key `at`.
    pub fn at(self, at: impl Into<String>) -> Problem {
        Problem::At {
            at: at.into(),
            problem: Box::new(self),
        }
    }
}

/// `.at(key)` on a result: its problem, at that key.
pub trait AtKey<T> {
    fn at(self, key: impl Into<String>) -> Result<T, Problem>;
}

impl<T, E: Into<Problem>> AtKey<T> for Result<T, E> {
    fn at(self, key: impl Into<String>) -> Result<T, Problem> {
        self.map_err(|e| e.into().at(key))
    }
}
