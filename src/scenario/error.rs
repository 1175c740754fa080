//! What can be wrong with a scenario, said where it was given (the file's line, or the
//! `--set` that broke a good file) and in the user's words.

use std::path::Path;

/// A scenario that cannot be run, naming the file, the key or the `--set` at fault.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", plain(&.0.to_string()))]
    Toml(#[from] toml::de::Error),
    #[error("--set {0:?}: expected key=value, e.g. accounts.count=100")]
    OverrideSyntax(String),
    #[error("--set {key}: {part} is not a table")]
    OverrideNotATable { key: String, part: String },
    /// A value in one of the small languages (limits, instances, stages, thresholds…).
    #[error("{key}: {source}")]
    Parse {
        key: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A value out of its range, or settings that do not go together.
    #[error("{key} {problem}")]
    Invalid { key: String, problem: String },
    /// What a `--set` override made wrong (the file alone was fine).
    #[error("--set {set}: {source}")]
    InOverride {
        set: String,
        #[source]
        source: Box<ScenarioError>,
    },
    #[error("{path}: {source}")]
    InFile {
        path: String,
        #[source]
        source: Box<ScenarioError>,
    },
}

impl ScenarioError {
    pub(super) fn parse(
        key: impl Into<String>,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ScenarioError::Parse {
            key: key.into(),
            source: Box::new(e),
        }
    }

    pub(super) fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ScenarioError::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }

    pub(super) fn in_file(path: &Path, e: ScenarioError) -> Self {
        if matches!(e, ScenarioError::InOverride { .. }) {
            return e;
        }
        ScenarioError::InFile {
            path: path.display().to_string(),
            source: Box::new(e),
        }
    }
}

/// A TOML error in a user's words: serde names Rust types (`expected u32`); a scenario's
/// author wants to know what to write.
fn plain(msg: &str) -> String {
    let mut m = msg.to_string();
    for (rust, words) in [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected true or false"),
        ("floating point `", "the number `"),
        ("integer `", "the number `"),
        ("invalid type: ", "wrong type: "),
        ("invalid value: ", "out of range: "),
    ] {
        m = m.replace(rust, words);
    }
    m
}
