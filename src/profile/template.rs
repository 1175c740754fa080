//! Templates of a protocol profile: text with `{placeholder}`s, compiled once when the profile is
//! read (an unknown placeholder is an error then, never a surprise mid-run) and rendered with
//! the escaping of where the text goes: inside a JSON string, in a URL, or in a header.

use std::fmt::Write as _;

/// Where a rendered template goes, which decides how values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// JSON frame text: values are JSON-escaped (the template writes the quotes); numbers are
    /// plain; `{echo:/ptr}` inserts the received value as JSON.
    Json,
    /// A URL path or query: values are percent-encoded.
    Url,
    /// An HTTP header value: inserted as is (CR, LF and NUL refused when the value is set).
    Header,
}

/// Every placeholder a template may use. Which ones a given template may use is listed with the
/// template (see [`super::Field`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    /// The request's id, unique per instance: a number (quote it for a string id).
    Seq,
    UserId,
    UserSig,
    SdkAppId,
    /// The platform, spelled by the profile's `[values.platform]` table.
    Platform,
    /// The instance's own id: `<userID>#<slot>`.
    Instance,
    /// The recipient of a message.
    To,
    /// The text of a message.
    Text,
    /// Milliseconds since the Unix epoch.
    NowMs,
    /// Admin REST API: the admin identifier, its UserSig, a random number.
    Admin,
    AdminSig,
    Random,
    /// The value at a JSON Pointer in the frame being answered, as JSON.
    Echo(String),
}

impl Var {
    pub fn name(&self) -> String {
        match self {
            Var::Seq => "seq".into(),
            Var::UserId => "userID".into(),
            Var::UserSig => "userSig".into(),
            Var::SdkAppId => "sdkAppID".into(),
            Var::Platform => "platform".into(),
            Var::Instance => "instance".into(),
            Var::To => "to".into(),
            Var::Text => "text".into(),
            Var::NowMs => "now_ms".into(),
            Var::Admin => "admin".into(),
            Var::AdminSig => "adminSig".into(),
            Var::Random => "random".into(),
            Var::Echo(p) => format!("echo:{p}"),
        }
    }

    fn parse(s: &str) -> Option<Var> {
        Some(match s {
            "seq" => Var::Seq,
            "userID" => Var::UserId,
            "userSig" => Var::UserSig,
            "sdkAppID" => Var::SdkAppId,
            "platform" => Var::Platform,
            "instance" => Var::Instance,
            "to" => Var::To,
            "text" => Var::Text,
            "now_ms" => Var::NowMs,
            "admin" => Var::Admin,
            "adminSig" => Var::AdminSig,
            "random" => Var::Random,
            _ => return s.strip_prefix("echo:").map(|p| Var::Echo(p.to_string())),
        })
    }

    /// The kind of placeholder, for the list of what a template may use.
    pub fn kind(&self) -> &'static str {
        match self {
            Var::Echo(_) => "echo:/pointer",
            Var::Seq => "seq",
            Var::UserId => "userID",
            Var::UserSig => "userSig",
            Var::SdkAppId => "sdkAppID",
            Var::Platform => "platform",
            Var::Instance => "instance",
            Var::To => "to",
            Var::Text => "text",
            Var::NowMs => "now_ms",
            Var::Admin => "admin",
            Var::AdminSig => "adminSig",
            Var::Random => "random",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Var(Var),
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
    escape: Escape,
    /// Length of the literal text, to size the output once.
    lit_len: usize,
}

/// Values for one rendering; a template only reads the ones it uses.
#[derive(Default)]
pub struct Values<'a> {
    pub seq: u64,
    pub user_id: &'a str,
    pub user_sig: &'a str,
    pub sdkappid: u64,
    pub platform: &'a str,
    pub instance: &'a str,
    pub to: &'a str,
    pub text: &'a str,
    pub admin: &'a str,
    pub admin_sig: &'a str,
    pub random: u32,
    /// The frame being answered, as read through the profile's paths (for `{echo:/ptr}`).
    pub frame: Option<(&'a super::extract::Paths, &'a super::extract::Slots)>,
}

impl Template {
    /// Compile `text`. A placeholder is `{name}` with a name of letters, digits and `_` (or
    /// `{echo:/pointer}`); any other brace is literal, so JSON templates need no escaping.
    /// Every placeholder must be in `allowed` (by [`Var::kind`]).
    pub fn compile(
        text: &str,
        escape: Escape,
        allowed: &[&str],
    ) -> Result<Template, super::problem::Problem> {
        use super::problem::Problem;
        let allowed_list = || {
            allowed
                .iter()
                .map(|a| format!("{{{a}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' => {
                    let rest = &text[i + 1..];
                    let Some(end) = rest.find('}') else {
                        let named = rest.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
                        if named {
                            return Err(Problem::Unclosed {
                                at: i,
                                text: text.to_string(),
                            });
                        }
                        lit.push('{');
                        continue;
                    };
                    let name = &rest[..end];
                    // JSON in a JSON template: `{"a":1}` is not a placeholder. A placeholder
                    // name is letters, digits, `_` and (for echo) a pointer.
                    let looks_like_name = !name.is_empty()
                        && (name.starts_with("echo:")
                            || name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                    if !looks_like_name {
                        lit.push('{');
                        continue;
                    }
                    let var = Var::parse(name).ok_or_else(|| Problem::UnknownPlaceholder {
                        name: name.to_string(),
                        allowed: allowed_list(),
                    })?;
                    if !allowed.contains(&var.kind()) {
                        return Err(Problem::PlaceholderHere {
                            name: name.to_string(),
                            allowed: allowed_list(),
                        });
                    }
                    if let Var::Echo(p) = &var {
                        super::matcher::check_pointer(p)?;
                    }
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    pieces.push(Piece::Var(var));
                    // Past the closing brace (byte offsets: a pointer may hold any character).
                    while chars.peek().is_some_and(|(j, _)| *j <= i + 1 + end) {
                        chars.next();
                    }
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        let lit_len = pieces
            .iter()
            .map(|p| match p {
                Piece::Lit(l) => l.len(),
                Piece::Var(_) => 0,
            })
            .sum();
        Ok(Template {
            pieces,
            escape,
            lit_len,
        })
    }

    /// The JSON Pointers its `{echo:…}` placeholders read.
    pub fn echo_pointers(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(Var::Echo(ptr)) => Some(ptr.as_str()),
            _ => None,
        })
    }

    /// Whether the template uses this placeholder.
    pub fn uses(&self, kind: &str) -> bool {
        self.pieces
            .iter()
            .any(|p| matches!(p, Piece::Var(v) if v.kind() == kind))
    }

    pub fn render(&self, v: &Values) -> String {
        // Room for the values too (a UserSig is ~200 bytes), so the text grows once.
        let values: usize = self
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Var(Var::UserSig) => v.user_sig.len() + 8,
                Piece::Var(Var::Text) => v.text.len() + 8,
                Piece::Var(_) => 24,
                Piece::Lit(_) => 0,
            })
            .sum();
        let mut out = String::with_capacity(self.lit_len + values);
        for p in &self.pieces {
            match p {
                Piece::Lit(l) => out.push_str(l),
                Piece::Var(var) => self.put(&mut out, var, v),
            }
        }
        out
    }

    fn put(&self, out: &mut String, var: &Var, v: &Values) {
        let text = |out: &mut String, s: &str| match self.escape {
            Escape::Json => json_escape(out, s),
            Escape::Url => percent_encode(out, s),
            Escape::Header => out.push_str(s),
        };
        match var {
            Var::Seq => {
                let _ = write!(out, "{}", v.seq);
            }
            Var::SdkAppId => {
                let _ = write!(out, "{}", v.sdkappid);
            }
            Var::Random => {
                let _ = write!(out, "{}", v.random);
            }
            Var::NowMs => {
                let _ = write!(out, "{}", chrono::Utc::now().timestamp_millis());
            }
            Var::UserId => text(out, v.user_id),
            Var::UserSig => text(out, v.user_sig),
            Var::Platform => text(out, v.platform),
            Var::Instance => text(out, v.instance),
            Var::To => text(out, v.to),
            Var::Text => text(out, v.text),
            Var::Admin => text(out, v.admin),
            Var::AdminSig => text(out, v.admin_sig),
            Var::Echo(p) => match v
                .frame
                .and_then(|(paths, slots)| paths.get(p).and_then(|i| slots[i].as_ref()))
            {
                Some(x) => out.push_str(&x.to_string()),
                None => out.push_str("null"),
            },
        }
    }
}

/// JSON string content (RFC 8259 §7), without the quotes.
fn json_escape(out: &mut String, s: &str) {
    // Most values (userIDs, UserSigs, ids) need no escaping: copy them whole.
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// RFC 3986 unreserved characters stay; everything else is `%XX`.
pub fn percent_encode(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[&str] = &["seq", "userID", "userSig", "text", "echo:/pointer"];

    #[test]
    fn renders_with_the_escaping_of_its_place() {
        let t = Template::compile(
            r#"{"seq":{seq},"u":"{userID}","t":"{text}","n":{echo:/hb/n},"lit":{"a":1}}"#,
            Escape::Json,
            ALL,
        )
        .unwrap();
        let mut paths = super::super::extract::Paths::default();
        for p in t.echo_pointers() {
            paths.slot(p);
        }
        let slots = paths.extract(r#"{"hb":{"n":7}}"#).unwrap();
        let out = t.render(&Values {
            seq: 12,
            user_id: "a\"b",
            text: "line\nnext\u{1}",
            frame: Some((&paths, &slots)),
            ..Default::default()
        });
        assert_eq!(
            out,
            r#"{"seq":12,"u":"a\"b","t":"line\nnext\u0001","n":7,"lit":{"a":1}}"#
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["u"], "a\"b");
        let u = Template::compile("/ws?u={userID}&s={seq}", Escape::Url, ALL).unwrap();
        assert_eq!(
            u.render(&Values {
                user_id: "a b/c",
                seq: 3,
                ..Default::default()
            }),
            "/ws?u=a%20b%2Fc&s=3"
        );
    }

    #[test]
    fn unknown_or_unavailable_placeholders_are_named() {
        use crate::profile::Problem;
        let e = Template::compile("{\"x\":\"{userName}\"}", Escape::Json, ALL).unwrap_err();
        assert!(matches!(&e, Problem::UnknownPlaceholder { name, .. } if name == "userName"));
        assert!(e.to_string().contains("{userName}") && e.to_string().contains("{userID}"));
        let e = Template::compile("{sdkAppID}", Escape::Json, ALL).unwrap_err();
        assert!(matches!(&e, Problem::PlaceholderHere { name, .. } if name == "sdkAppID"));
        assert!(e.to_string().contains("not available"), "{e}");
        let e = Template::compile("{echo:hb}", Escape::Json, ALL).unwrap_err();
        assert_eq!(e, Problem::PointerStart("hb".into()));
        let e = Template::compile("{seq", Escape::Json, ALL).unwrap_err();
        assert!(matches!(e, Problem::Unclosed { at: 0, .. }), "{e}");
        // Braces of JSON are literal, however they nest.
        let t = Template::compile(r#"{"a":{"b":{seq}}}"#, Escape::Json, ALL).unwrap();
        assert_eq!(
            t.render(&Values {
                seq: 5,
                ..Default::default()
            }),
            r#"{"a":{"b":5}}"#
        );
    }
}
