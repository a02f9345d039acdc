//! The JSON scanners: `record::json::lookup` (keys of bsort/bshuffle/breduce/bjoin) and
//! `map::json::Paths::extract` (bmap's paths), against serde_json as the reference.
//!
//! Input: `PATH \n LINE` (PATH dotted; the line's own member paths are tried too).
//! Properties: no panic; a line serde_json accepts as an object is never an error to
//! either scanner; a value found is the value serde_json has at that path (a string
//! decoded, anything else as JSON text that parses to the same value), unless the line
//! repeats a member name (which scanner takes which duplicate is a documented choice).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::HashSet;

/// Whether some object in the document repeats a member name.
struct Dups(bool);

impl<'de> Visitor<'de> for &mut Dups {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
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
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        while a.next_element_seed(&mut *self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(k) = a.next_key::<String>()? {
            if !seen.insert(k) {
                self.0 = true;
            }
            a.next_value_seed(&mut *self)?;
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for &mut Dups {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

fn has_dups(line: &[u8]) -> bool {
    let mut d = Dups(false);
    let mut de = serde_json::Deserializer::from_slice(line);
    let _ = serde::de::DeserializeSeed::deserialize(&mut d, &mut de);
    d.0
}

/// serde_json's value at `path` (objects by member, arrays by index).
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut v = v;
    for seg in path {
        v = match v {
            Value::Object(m) => m.get(*seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Member paths of `v`, up to a few, whose names can be written dotted.
fn paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if out.len() >= 16 || prefix.len() > 6 {
        return;
    }
    let kids: Vec<(String, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return,
    };
    for (k, c) in kids {
        if k.contains('.') || k.is_empty() {
            continue;
        }
        prefix.push(k);
        out.push(prefix.clone());
        paths(c, prefix, out);
        prefix.pop();
    }
}

/// The value found, as serde_json sees it: a string's decoded bytes, else parsed text.
fn agrees(found: &[u8], is_string: bool, want: &Value) -> bool {
    match want {
        Value::String(s) if is_string => found == s.as_bytes(),
        _ if is_string => false,
        _ => serde_json::from_slice::<Value>(found).ok().as_ref() == Some(want),
    }
}

fuzz_target!(|data: &[u8]| {
    let (path, line) = match data.iter().position(|&c| c == b'\n') {
        Some(p) => (&data[..p], &data[p + 1..]),
        None => (&b""[..], data),
    };
    let reference: Option<Value> = serde_json::from_slice(line).ok().filter(Value::is_object);
    let mut all: Vec<Vec<String>> = Vec::new();
    if let Ok(p) = std::str::from_utf8(path) {
        all.push(p.split('.').map(str::to_string).collect());
    }
    if let Some(v) = &reference {
        paths(v, &mut Vec::new(), &mut all);
    }
    let dups = reference.is_some() && has_dups(line);

    // record::json::lookup, one path at a time.
    for p in &all {
        let segs: Vec<&str> = p.iter().map(String::as_str).collect();
        let got = record::json::lookup(line, &segs);
        let Some(v) = &reference else { continue };
        let got = match got {
            Ok(g) => g,
            Err(e) => panic!("lookup {segs:?}: {e} on a valid line"),
        };
        if dups {
            continue;
        }
        match (at(v, &segs), got) {
            (None, None) => {}
            (Some(want), Some(found)) => {
                // lookup decodes strings; other values are their text.
                assert!(
                    agrees(&found, want.is_string(), want),
                    "lookup {segs:?}: {:?} vs {want}",
                    String::from_utf8_lossy(&found)
                );
            }
            (w, g) => panic!("lookup {segs:?}: serde_json {w:?}, scanner {g:?}"),
        }
    }

    // map::json::Paths, every path in one pass.
    let bytes: Vec<Vec<Vec<u8>>> = all
        .iter()
        .map(|p| p.iter().map(|s| s.as_bytes().to_vec()).collect())
        .collect();
    let mut ps = map::json::Paths::new(bytes);
    let mut found = vec![None; ps.len()];
    let r = ps.extract(line, &mut found);
    let Some(v) = &reference else { return };
    if let Err(e) = r {
        panic!("extract: {e} on a valid line");
    }
    if dups {
        return;
    }
    for (p, f) in all.iter().zip(&found) {
        let segs: Vec<&str> = p.iter().map(String::as_str).collect();
        match (at(v, &segs), f) {
            (None, None) => {}
            (Some(want), Some(f)) => {
                let raw = &line[f.start..f.end];
                let is_string = want.is_string();
                let mut dec = Vec::new();
                let val: &[u8] = if f.escaped {
                    map::json::unescape_into(raw, &mut dec).expect("a valid string decodes");
                    &dec
                } else {
                    raw
                };
                assert!(
                    agrees(val, is_string, want),
                    "extract {segs:?}: {:?} vs {want}",
                    String::from_utf8_lossy(val)
                );
            }
            (w, g) => panic!("extract {segs:?}: serde_json {w:?}, scanner {g:?}"),
        }
    }
});
