//! Reading only what a profile looks at: the JSON Pointers of all its rules are interned into
//! one tree when the profile is compiled, and each received frame is read once, keeping the
//! values at those pointers (one slot each) and skipping everything else without building it.
//! Decoding a frame thus costs about what a typed parse of the same frame costs, not the
//! allocations of a whole `serde_json::Value` tree.

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Default)]
struct Node {
    children: Vec<(String, Node)>,
    slot: Option<usize>,
}

/// Every pointer a profile reads, as a tree of path segments.
#[derive(Debug, Default)]
pub struct Paths {
    root: Node,
    slots: HashMap<String, usize>,
}

/// The values of one frame at each interned pointer (`None`: nothing there).
pub type Slots = Vec<Option<Value>>;

fn segments(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
}

impl Paths {
    /// The slot of `pointer` (a valid JSON Pointer), interned on first use.
    pub fn slot(&mut self, pointer: &str) -> usize {
        if let Some(s) = self.slots.get(pointer) {
            return *s;
        }
        let slot = self.slots.len();
        let mut node = &mut self.root;
        for seg in segments(pointer) {
            let i = match node.children.iter().position(|(s, _)| *s == seg) {
                Some(i) => i,
                None => {
                    node.children.push((seg, Node::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[i].1;
        }
        node.slot = Some(slot);
        self.slots.insert(pointer.to_string(), slot);
        slot
    }

    /// The slot of an interned pointer.
    pub fn get(&self, pointer: &str) -> Option<usize> {
        self.slots.get(pointer).copied()
    }

    /// Read `text` (one JSON value), keeping the values at the interned pointers.
    pub fn extract(&self, text: &str) -> Result<Slots, serde_json::Error> {
        let mut out = vec![None; self.slots.len()];
        let mut de = serde_json::Deserializer::from_str(text);
        Seed {
            node: &self.root,
            out: &mut out,
        }
        .deserialize(&mut de)?;
        de.end()?;
        Ok(out)
    }
}

/// Fill `node`'s subtree from an already built value.
fn fill(node: &Node, v: &Value, out: &mut Slots) {
    for (seg, child) in &node.children {
        let found = match v {
            Value::Object(m) => m.get(seg),
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        if let Some(x) = found {
            if let Some(s) = child.slot {
                out[s] = Some(x.clone());
            }
            fill(child, x, out);
        }
    }
}

struct Seed<'a> {
    node: &'a Node,
    out: &'a mut Slots,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if let Some(slot) = self.node.slot {
            // The whole value is wanted here (its children, if any, come from it).
            let v = Value::deserialize(d)?;
            fill(self.node, &v, self.out);
            self.out[slot] = Some(v);
            return Ok(());
        }
        if self.node.children.is_empty() {
            IgnoredAny::deserialize(d)?;
            return Ok(());
        }
        d.deserialize_any(Walk {
            node: self.node,
            out: self.out,
        })
    }
}

/// Walks a map or array whose members may hold wanted values.
struct Walk<'a> {
    node: &'a Node,
    out: &'a mut Slots,
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(child) = map.next_key_seed(Key(self.node))? {
            match child {
                Some(i) => map.next_value_seed(Seed {
                    node: &self.node.children[i].1,
                    out: self.out,
                })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let child = self
                .node
                .children
                .iter()
                .find(|(s, _)| s.parse::<usize>().ok() == Some(i));
            let more = match child {
                Some((_, node)) => seq
                    .next_element_seed(Seed {
                        node,
                        out: self.out,
                    })?
                    .is_some(),
                None => seq.next_element::<IgnoredAny>()?.is_some(),
            };
            if !more {
                return Ok(());
            }
            i += 1;
        }
    }

    // Scalars hold no members: nothing below them is wanted.
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A map key, read as the index of the matching child (None: not wanted).
struct Key<'a>(&'a Node);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, k: &str) -> Result<Option<usize>, E> {
        Ok(self.0.children.iter().position(|(s, _)| s == k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extracts_exactly_the_interned_pointers() {
        let mut p = Paths::default();
        let seq = p.slot("/seq");
        let kind = p.slot("/data/type");
        let data = p.slot("/data");
        let first = p.slot("/list/1/x");
        let odd = p.slot("/a~1b");
        let whole = p.slot("");
        assert_eq!(p.slot("/seq"), seq);
        let text = r#"{"seq":7,"data":{"type":"multipleAccount","n":[1,2]},"list":[{"x":0},{"x":"y"}],"a/b":true,"big":{"deep":[1,2,3]}}"#;
        let s = p.extract(text).unwrap();
        assert_eq!(s[seq], Some(json!(7)));
        assert_eq!(s[kind], Some(json!("multipleAccount")));
        assert_eq!(s[data], Some(json!({"type":"multipleAccount","n":[1,2]})));
        assert_eq!(s[first], Some(json!("y")));
        assert_eq!(s[odd], Some(json!(true)));
        assert_eq!(s[whole].as_ref().unwrap()["seq"], 7);
        let s = p.extract(r#"{"other":1}"#).unwrap();
        assert_eq!(s[seq], None);
        assert!(p.extract("{\"seq\":").is_err());
        assert!(p.extract("{} trailing").is_err());
        // A scalar where a map was expected: nothing below it.
        let s = p.extract(r#"{"data":5,"list":"no"}"#).unwrap();
        assert_eq!((s[kind].clone(), s[first].clone()), (None, None));
    }
}
