//! One received XMPP element, read with `quick-xml` as namespace-aware XML: its name, the
//! attributes the driver needs, and its descendants' names and text. Bounded: a DOCTYPE is
//! refused, and so are elements nested deeper than [`MAX_DEPTH`] or more than [`MAX_ELEMENTS`].

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::{MAX_DEPTH, MAX_ELEMENTS};

/// One received element, as far as the driver reads it.
#[derive(Debug, Default)]
pub(super) struct Element {
    pub ns: String,
    pub name: String,
    pub kind: String,
    pub id: String,
    pub from: String,
    /// Descendants: (namespace, name, text).
    pub inner: Vec<(String, String, String)>,
    /// The element's own text (a SASL challenge's base64).
    pub text: String,
}

impl Element {
    pub fn has(&self, ns: &str, name: &str) -> bool {
        self.inner.iter().any(|(n, l, _)| n == ns && l == name)
    }

    pub fn text(&self, ns: &str, name: &str) -> Option<&str> {
        self.inner
            .iter()
            .find(|(n, l, _)| n == ns && l == name)
            .map(|(_, _, t)| t.as_str())
    }

    pub fn texts<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.inner
            .iter()
            .filter(move |(n, l, _)| n == ns && l == name)
            .map(|(_, _, t)| t.as_str())
    }
}

fn ns_of(r: &ResolveResult) -> String {
    match r {
        ResolveResult::Bound(ns) => ns.as_ref().to_string(),
        _ => String::new(),
    }
}

/// Parse one frame's element (RFC 7395: one per frame).
pub(super) fn parse(text: &str) -> Result<Element, &'static str> {
    let mut r = NsReader::from_str(text);
    let mut el = Element::default();
    let (mut depth, mut seen) = (0usize, 0usize);
    // The element whose text is being read (a descendant's index in `inner`).
    let mut open: Vec<Option<usize>> = Vec::new();
    loop {
        let (ns, ev) = r
            .read_resolved_event()
            .map_err(|_| "XML that does not parse")?;
        let ns = ns_of(&ns);
        match ev {
            Event::DocType(_) => return Err("a DOCTYPE (entity declarations are refused)"),
            Event::Start(ref e) | Event::Empty(ref e) => {
                seen += 1;
                if seen > MAX_ELEMENTS || depth >= MAX_DEPTH {
                    return Err("XML nested too deep or too many elements in one frame");
                }
                let name = e.local_name().as_ref().to_string();
                let idx = if depth == 0 {
                    el.ns = ns;
                    el.name = name;
                    for a in e.attributes().flatten() {
                        let v = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap_or(Cow::Borrowed(""))
                            .into_owned();
                        match a.key.local_name().as_ref() {
                            "type" => el.kind = v,
                            "id" => el.id = v,
                            "from" => el.from = v,
                            _ => {}
                        }
                    }
                    None
                } else {
                    el.inner.push((ns, name, String::new()));
                    Some(el.inner.len() - 1)
                };
                if matches!(ev, Event::Start(_)) {
                    depth += 1;
                    open.push(idx);
                } else if depth == 0 {
                    return Ok(el);
                }
            }
            Event::Text(t) => match open.last() {
                Some(Some(i)) => el.inner[*i].2.push_str(t.xml10_content().trim()),
                Some(None) => el.text.push_str(t.xml10_content().trim()),
                None => {}
            },
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                open.pop();
                if depth == 0 {
                    return Ok(el);
                }
            }
            Event::Eof => {
                return if el.name.is_empty() {
                    Err("a frame with no element")
                } else {
                    Ok(el)
                }
            }
            _ => {}
        }
    }
}
