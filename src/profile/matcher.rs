//! Conditions on a received frame: a JSON Pointer (RFC 6901) and what the value there must be.

use serde::Deserialize;
use serde_json::Value;

use super::extract::{Paths, Slots};
use super::problem::Problem;

/// `"/a/b"`, `"/list/0"`, `""` (the whole frame); `~1` is `/`, `~0` is `~`.
pub fn check_pointer(p: &str) -> Result<(), Problem> {
    if !p.is_empty() && !p.starts_with('/') {
        return Err(Problem::PointerStart(p.to_string()));
    }
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(Problem::PointerEscape(p.to_string()));
        }
    }
    Ok(())
}

/// One condition, as written in a profile: `{ path = "/event", equals = "kickedOut" }`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub path: String,
    /// The value there equals this (a string, number or boolean).
    #[serde(default)]
    pub equals: Option<toml::Value>,
    /// The value there is one of these.
    #[serde(default)]
    pub one_of: Option<Vec<toml::Value>>,
    /// The value there is a string starting with this.
    #[serde(default)]
    pub prefix: Option<String>,
    /// There is (true) or is not (false) a value there.
    #[serde(default)]
    pub exists: Option<bool>,
}

/// A condition compiled: the slot of its pointer (see [`Paths`]), the expected values as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    slot: usize,
    check: Check,
}

#[derive(Debug, Clone, PartialEq)]
enum Check {
    Equals(Value),
    OneOf(Vec<Value>),
    Prefix(String),
    Exists(bool),
}

/// A TOML scalar as the JSON value it stands for.
pub fn json_of(v: &toml::Value) -> Result<Value, Problem> {
    Ok(match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        other => return Err(Problem::NotScalar(other.to_string())),
    })
}

/// Two JSON scalars are the same value (1 and 1.0 are; "1" and 1 are not).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

impl Test {
    pub fn compile(c: &Condition, paths: &mut Paths) -> Result<Test, Problem> {
        check_pointer(&c.path)?;
        let given = [
            c.equals.is_some(),
            c.one_of.is_some(),
            c.prefix.is_some(),
            c.exists.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given != 1 {
            return Err(Problem::ConditionArity(c.path.clone()));
        }
        let check = if let Some(v) = &c.equals {
            Check::Equals(json_of(v)?)
        } else if let Some(vs) = &c.one_of {
            Check::OneOf(vs.iter().map(json_of).collect::<Result<_, _>>()?)
        } else if let Some(p) = &c.prefix {
            Check::Prefix(p.clone())
        } else {
            Check::Exists(c.exists.unwrap_or(true))
        };
        Ok(Test {
            slot: paths.slot(&c.path),
            check,
        })
    }

    pub fn holds(&self, frame: &Slots) -> bool {
        let v = frame[self.slot].as_ref();
        match &self.check {
            Check::Exists(want) => v.is_some() == *want,
            Check::Equals(x) => v.is_some_and(|v| same(v, x)),
            Check::OneOf(xs) => v.is_some_and(|v| xs.iter().any(|x| same(v, x))),
            Check::Prefix(p) => v.and_then(Value::as_str).is_some_and(|s| s.starts_with(p)),
        }
    }
}

/// One condition or several (all must hold), as a profile writes `match`.
#[derive(Debug, Clone, PartialEq)]
pub enum Match {
    One(Condition),
    All(Vec<Condition>),
}

impl<'de> Deserialize<'de> for Match {
    // By hand rather than `untagged`, so a misspelt key is named instead of "did not match
    // any variant".
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Match, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(d)? {
            t @ toml::Value::Table(_) => Condition::deserialize(t)
                .map(Match::One)
                .map_err(|e| D::Error::custom(e.message())),
            toml::Value::Array(items) => items
                .into_iter()
                .map(|i| Condition::deserialize(i).map_err(|e| D::Error::custom(e.message())))
                .collect::<Result<_, _>>()
                .map(Match::All),
            other => Err(D::Error::custom(format!(
                "a match is a condition table ({{ path = \"/event\", equals = \"…\" }}) or a list of them, not {other}"
            ))),
        }
    }
}

/// A compiled `match`: every test holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Matcher(Vec<Test>);

impl Matcher {
    pub fn compile(m: &Match, paths: &mut Paths) -> Result<Matcher, Problem> {
        let conds: Vec<&Condition> = match m {
            Match::One(c) => vec![c],
            Match::All(cs) => cs.iter().collect(),
        };
        if conds.is_empty() {
            return Err(Problem::EmptyMatch);
        }
        // `{ path = "", exists = true }` holds for every frame (each is a JSON value): a list
        // of nothing else is the empty list in disguise.
        if conds
            .iter()
            .all(|c| c.path.is_empty() && c.exists == Some(true))
        {
            return Err(Problem::MatchesEverything);
        }
        Ok(Matcher(
            conds
                .into_iter()
                .map(|c| Test::compile(c, paths))
                .collect::<Result<_, _>>()?,
        ))
    }

    pub fn holds(&self, frame: &Slots) -> bool {
        self.0.iter().all(|t| t.holds(frame))
    }
}

/// A value at a pointer as the text a table is keyed by: strings as they are, numbers and
/// booleans in their JSON form.
pub fn key_of(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(std::borrow::Cow::Borrowed(if *b {
            "true"
        } else {
            "false"
        })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A condition, compiled, and the frame it is tested on read through its paths.
    #[derive(Debug)]
    struct Cond(Matcher, Paths);

    impl Cond {
        fn holds(&self, frame: &Value) -> bool {
            self.0.holds(&self.1.extract(&frame.to_string()).unwrap())
        }
    }

    fn cond(text: &str) -> Result<Cond, Problem> {
        #[derive(Deserialize)]
        struct W {
            m: Match,
        }
        let w: W =
            toml::from_str(&format!("m = {text}")).map_err(|e| Problem::Toml(e.to_string()))?;
        let mut paths = Paths::default();
        Ok(Cond(Matcher::compile(&w.m, &mut paths)?, paths))
    }

    #[test]
    fn conditions_test_the_value_at_their_pointer() {
        let f = json!({"event":"kickedOut","data":{"type":"multipleAccount","n":3},"a/b":1});
        assert!(cond(r#"{ path = "/event", equals = "kickedOut" }"#)
            .unwrap()
            .holds(&f));
        assert!(!cond(r#"{ path = "/event", equals = "sdkStateReady" }"#)
            .unwrap()
            .holds(&f));
        assert!(cond(r#"{ path = "/data/n", equals = 3 }"#)
            .unwrap()
            .holds(&f));
        assert!(!cond(r#"{ path = "/data/n", equals = "3" }"#)
            .unwrap()
            .holds(&f));
        assert!(
            cond(r#"{ path = "/data/type", one_of = ["x", "multipleAccount"] }"#)
                .unwrap()
                .holds(&f)
        );
        assert!(cond(r#"{ path = "/data/type", prefix = "multiple" }"#)
            .unwrap()
            .holds(&f));
        assert!(cond(r#"{ path = "/seq", exists = false }"#)
            .unwrap()
            .holds(&f));
        assert!(cond(r#"{ path = "/a~1b", exists = true }"#)
            .unwrap()
            .holds(&f));
        let both = r#"[{ path = "/event", exists = true }, { path = "/data/n", equals = 4 }]"#;
        assert!(!cond(both).unwrap().holds(&f));
    }

    #[test]
    fn bad_conditions_are_named() {
        let e = cond(r#"{ path = "event", equals = "x" }"#).unwrap_err();
        assert_eq!(e, Problem::PointerStart("event".into()));
        assert!(e.to_string().contains("JSON Pointer"), "{e}");
        let e = cond(r#"{ path = "/a~2", equals = "x" }"#).unwrap_err();
        assert_eq!(e, Problem::PointerEscape("/a~2".into()));
        let e = cond(r#"{ path = "/a", equals = "x", exists = true }"#).unwrap_err();
        assert_eq!(e, Problem::ConditionArity("/a".into()));
        let e = cond(r#"{ path = "/a" }"#).unwrap_err();
        assert!(e.to_string().contains("exactly one"), "{e}");
        assert_eq!(cond("[]").unwrap_err(), Problem::EmptyMatch);
        let e = cond(r#"{ path = "/a", equal = "x" }"#).unwrap_err();
        assert!(matches!(&e, Problem::Toml(t) if t.contains("equal")), "{e}");
    }
}
