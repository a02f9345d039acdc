//! The order of records: keys resolved for a format, GNU sort's comparison rules, and
//! the encoding of records whose keys are extracted once (CSV, JSON lines).
//!
//! For TSV and blank-separated text an *item* is the record itself and keys are found in
//! place on every comparison (no copy). For CSV and JSON lines, finding a key means
//! parsing, so each record is turned once into an item `raw_len:u32le raw (key_len:u32le
//! key)*` and comparisons read the keys from there.

use crate::compare::KeyOpts;
pub use crate::csv::CsvScratch;
use crate::fields::{extract_from_fields, FieldSplit, Span};
use crate::json;
use crate::keyspec::{FieldRef, KeySpec};
use crate::packer::{complement, escape_into, flip, Packer};
use std::borrow::Cow;
use std::cmp::Ordering;

/// The record format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Delimited text: GNU blank-separated fields, or a one-byte separator.
    Text(FieldSplit),
    /// RFC 4180 CSV with this delimiter.
    Csv(u8),
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// Whether items are extracted records rather than the records themselves.
    pub fn extracts(&self) -> bool {
        !matches!(self, Format::Text(_))
    }
}

/// Where a resolved key is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    Span(Span),
    Path(Vec<String>),
}

/// A key ready for use: where it is and how it compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub source: KeySource,
    pub opts: KeyOpts,
}

/// Errors met while reading a record's keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyReadError {
    #[error("{0}")]
    Json(String),
    #[error("malformed CSV record")]
    Csv,
    /// A CR outside quotes that does not end the line (csv_core would end the record there
    /// and drop the rest; Python's csv reader refuses it too).
    #[error("malformed CSV record: a CR outside quotes (quote the field that holds it)")]
    CsvBareCr,
}

impl Key {
    /// Resolve a parsed `-k` for `format`, with `header` for column names.
    pub fn resolve(
        spec: &KeySpec,
        format: Format,
        header: Option<&[&[u8]]>,
    ) -> Result<Key, String> {
        let mut spec = spec.clone();
        if spec.has_names() {
            match (format, header) {
                (Format::Jsonl, _) => {
                    let FieldRef::Name(path) = &spec.start.field else {
                        return Err(format!("invalid key '{}'", spec.text));
                    };
                    if spec.end.is_some() {
                        return Err(format!(
                            "invalid key '{}': a JSON path cannot be a span",
                            spec.text
                        ));
                    }
                    return Ok(Key {
                        source: KeySource::Path(path.split('.').map(str::to_string).collect()),
                        opts: spec.opts,
                    });
                }
                (_, Some(h)) => spec.resolve(h).map_err(|e| e.to_string())?,
                (_, None) => {
                    return Err(format!(
                        "invalid key '{}': column names need --header (or a JSON lines input)",
                        spec.text
                    ))
                }
            }
        }
        let idx = |f: &FieldRef| match f {
            FieldRef::Index(i) => *i,
            FieldRef::Name(_) => 0,
        };
        if format == Format::Jsonl {
            // A numbered field of a JSON line: the member at that position is not a thing
            // users mean; refuse rather than guess.
            return Err(format!(
                "invalid key '{}': JSON lines keys are paths (user.id), not field numbers",
                spec.text
            ));
        }
        let sword = idx(&spec.start.field);
        let span = match &spec.end {
            None => Span {
                sword,
                schar: spec.start.chr.saturating_sub(1),
                skip_sblanks: spec.opts.skip_start_blanks,
                eword: Some(sword),
                echar: 0,
                skip_eblanks: spec.opts.skip_end_blanks,
            },
            Some(e) => Span {
                sword,
                schar: spec.start.chr.saturating_sub(1),
                skip_sblanks: spec.opts.skip_start_blanks,
                eword: Some(idx(&e.field)),
                echar: e.chr,
                skip_eblanks: spec.opts.skip_end_blanks,
            },
        };
        Ok(Key {
            source: KeySource::Span(span),
            opts: spec.opts,
        })
    }
}

/// How records are ordered: keys, then (unless stable or unique) the whole record.
#[derive(Clone, Debug)]
pub struct RecordOrder {
    pub format: Format,
    pub keys: Vec<Key>,
    /// Compare whole records bytewise when all keys tie.
    pub last_resort: bool,
    /// Reverse the last-resort comparison (GNU: the global `-r`).
    pub last_resort_reverse: bool,
}

/// Read a u32 length at `at`; items are built by [`RecordOrder::encode`], so a short item
/// can only come from a bug, and it reads as empty rather than panicking.
#[inline]
fn read_len(item: &[u8], at: usize) -> usize {
    match item.get(at..at + 4) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
        None => 0,
    }
}

impl RecordOrder {
    /// GNU sort's rules: `keys` already carry inherited options; with no keys, `global`
    /// (when it has any ordering option besides `r`) becomes a key over the whole record.
    pub fn new(
        format: Format,
        mut keys: Vec<Key>,
        global: KeyOpts,
        stable_or_unique: bool,
    ) -> Self {
        let mut non_reverse = global;
        non_reverse.reverse = false;
        if keys.is_empty() && non_reverse.any() {
            keys.push(Key {
                source: KeySource::Span(Span::whole(global.skip_start_blanks)),
                opts: global,
            });
        }
        let last_resort = keys.is_empty() || !stable_or_unique;
        RecordOrder {
            format,
            keys,
            last_resort,
            last_resort_reverse: global.reverse,
        }
    }

    /// The record an item stands for.
    #[inline]
    pub fn record<'a>(&self, item: &'a [u8]) -> &'a [u8] {
        if self.format.extracts() {
            let n = read_len(item, 0);
            item.get(4..4 + n).unwrap_or(&[])
        } else {
            item
        }
    }

    /// `(separator, field)` when the order is one whole field of delimited text compared as
    /// plain bytes (the Hadoop Streaming key, `-k1,1`): then comparing keys is comparing
    /// those fields' bytes, and callers may find the field themselves.
    pub fn plain_field(&self) -> Option<(u8, usize)> {
        match (self.format, &self.keys[..]) {
            (Format::Text(FieldSplit::Char(t)), [k]) if !k.opts.any() && !self.last_resort => {
                match &k.source {
                    KeySource::Span(s)
                        if s.eword == Some(s.sword)
                            && s.schar == 0
                            && s.echar == 0
                            && !s.skip_sblanks
                            && !s.skip_eblanks =>
                    {
                        Some((t, s.sword))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The `i`-th key of an item, as it compares (decoded for CSV and JSON strings).
    #[inline]
    pub fn key<'a>(&self, item: &'a [u8], i: usize) -> &'a [u8] {
        match self.format {
            Format::Text(split) => match &self.keys[i].source {
                KeySource::Span(s) => s.extract(item, split),
                KeySource::Path(_) => &[],
            },
            _ => {
                let mut at = 4 + read_len(item, 0);
                for _ in 0..i {
                    at += 4 + read_len(item, at);
                }
                let n = read_len(item, at);
                item.get(at + 4..at + 4 + n).unwrap_or(&[])
            }
        }
    }

    /// Append the key bytes the partition function hashes: every key's bytes as they stand
    /// (decoded for CSV and JSON strings), joined by one TAB.
    pub fn key_bytes(&self, item: &[u8], out: &mut Vec<u8>) {
        for i in 0..self.keys.len() {
            if i > 0 {
                out.push(b'\t');
            }
            out.extend_from_slice(self.key(item, i));
        }
    }

    /// Turn a CSV or JSON record into an item (appended to `out`). TSV records are items
    /// already and are appended unchanged.
    pub fn encode(
        &self,
        rec: &[u8],
        out: &mut Vec<u8>,
        scratch: &mut CsvScratch,
    ) -> Result<(), KeyReadError> {
        match self.format {
            Format::Text(_) => {
                out.extend_from_slice(rec);
                Ok(())
            }
            Format::Jsonl => {
                push_len(out, rec.len());
                out.extend_from_slice(rec);
                for k in &self.keys {
                    let v: Cow<[u8]> = match &k.source {
                        KeySource::Path(p) => json::lookup(rec, p)
                            .map_err(|e| KeyReadError::Json(e.to_string()))?
                            .unwrap_or(Cow::Borrowed(&[])),
                        KeySource::Span(s) => {
                            Cow::Borrowed(s.extract(rec, FieldSplit::Char(b'\t')))
                        }
                    };
                    push_len(out, v.len());
                    out.extend_from_slice(&v);
                }
                Ok(())
            }
            Format::Csv(d) => {
                push_len(out, rec.len());
                out.extend_from_slice(rec);
                scratch.parse(rec, d)?;
                let fields = scratch.fields();
                for k in &self.keys {
                    let v = match &k.source {
                        KeySource::Span(s) => extract_from_fields(&fields, s, d),
                        KeySource::Path(_) => Cow::Borrowed(&[][..]),
                    };
                    push_len(out, v.len());
                    out.extend_from_slice(&v);
                }
                Ok(())
            }
        }
    }

    /// Whether the first key is plain bytes starting at the record's first byte, so that
    /// when two such keys are equal, comparing whole records is comparing what follows them.
    fn key_at_start(&self) -> bool {
        match (self.format, self.keys.first()) {
            (Format::Text(_), Some(k)) => {
                matches!(&k.source, KeySource::Span(s) if s.sword == 0 && s.schar == 0 && !s.skip_sblanks)
                    && !k.opts.is_numeric()
                    && !k.opts.fold
                    && !k.opts.dictionary
                    && !k.opts.ignore_nonprinting
            }
            _ => false,
        }
    }

    /// A 16-byte order-preserving summary: `prefix(a) < prefix(b)` only when `a < b`.
    ///
    /// It summarises the first key and, when a single key is followed by the last-resort
    /// comparison in the same direction, the first bytes of that comparison too, so that
    /// equal keys (frequent: think of a Zipf-distributed key) rarely need the records.
    #[inline]
    pub fn prefix(&self, item: &[u8]) -> [u64; 2] {
        self.prefix_after(item, &[]).unwrap_or([0, 0])
    }

    /// The summary of `lead` followed by the item's summary bytes, for orders that sort by
    /// something first (bshuffle's partition number). `None` where the order's summary is not
    /// a byte string that can follow `lead` (numbers, reversed keys); never `None` for an
    /// empty `lead`.
    #[inline]
    pub fn prefix_after(&self, item: &[u8], lead: &[u8]) -> Option<[u64; 2]> {
        let rec = self.record(item);
        let Some(k0) = self.keys.first() else {
            if !lead.is_empty() {
                return None;
            }
            let mut p = Packer::default();
            p.extend(rec);
            return Some(p.finish(self.last_resort_reverse));
        };
        let o = &k0.opts;
        if !lead.is_empty() && (o.is_numeric() || o.reverse) {
            return None;
        }
        let key = self.key(item, 0);
        let tail: Option<&[u8]> =
            if self.keys.len() == 1 && self.last_resort && o.reverse == self.last_resort_reverse {
                Some(if self.key_at_start() {
                    rec.get(key.len()..).unwrap_or(&[])
                } else {
                    rec
                })
            } else {
                None
            };
        if o.numeric {
            let (scaled, exact) = crate::compare::numeric_fixed(key);
            let p1 = (scaled as u64) ^ (1 << 63);
            let p2 = if exact {
                tail.map_or(0, |t| crate::compare::bytes_prefix(t) >> 1)
            } else {
                1 << 63
            };
            return Some(flip([p1, p2], o.reverse));
        }
        if o.general {
            let p1 = crate::compare::general_prefix(key);
            let p2 = tail.map_or(0, crate::compare::bytes_prefix);
            return Some(flip([p1, p2], o.reverse));
        }
        if o.human {
            return Some([0, 0]);
        }
        // Text: V = lead ++ escape(key) ++ 00 00 ++ tail, where escape doubles NUL as 00 01 so
        // that the order of V is the order of (lead, key, tail). When V holds the whole
        // comparison, its summary carries V's length (see `counted`).
        let counted = self.counted();
        let finish = |p: &Packer| {
            if counted {
                flip(p.finish_counted(), o.reverse)
            } else {
                p.finish(o.reverse)
            }
        };
        let mut p = Packer::default();
        p.extend(lead);
        for &b in key {
            if o.is_ignored(b) {
                continue;
            }
            let b = o.translate(b);
            if !p.push(b) || (b == 0 && !p.push(1)) {
                return Some(finish(&p));
            }
        }
        if let Some(t) = tail {
            if p.push(0) && p.push(0) {
                p.extend(t);
            }
        }
        Some(finish(&p))
    }

    /// Whether text summaries end in a length byte: when the first key's bytes (and the
    /// last-resort tail after them, if any) are the whole comparison: one text key, followed
    /// by the last resort in the same direction or by nothing (stable, unique).
    fn counted(&self) -> bool {
        match self.keys.first() {
            Some(k0) if self.keys.len() == 1 && !k0.opts.is_numeric() => {
                !self.last_resort || k0.opts.reverse == self.last_resort_reverse
            }
            _ => false,
        }
    }

    /// Append a byte string whose bytewise order is this order (a normalized key, as
    /// databases call it): each key encoded so that no encoding is a prefix of another
    /// (complemented when reversed), then the escaped record for the last resort. Returns
    /// false for orders it cannot express (human numbers).
    pub fn normalized(&self, item: &[u8], out: &mut Vec<u8>) -> bool {
        for (i, k) in self.keys.iter().enumerate() {
            let o = &k.opts;
            let key = self.key(item, i);
            let start = out.len();
            if o.human {
                return false;
            } else if o.numeric {
                crate::compare::numeric_normalized(key, out);
            } else if o.general {
                out.extend_from_slice(&crate::compare::general_prefix(key).to_be_bytes());
            } else {
                for &b in key {
                    if o.is_ignored(b) {
                        continue;
                    }
                    let b = o.translate(b);
                    out.push(b);
                    if b == 0 {
                        out.push(1);
                    }
                }
                out.extend_from_slice(&[0, 0]);
            }
            if o.reverse {
                complement(&mut out[start..]);
            }
        }
        if self.last_resort {
            let start = out.len();
            escape_into(self.record(item), out);
            if self.last_resort_reverse {
                complement(&mut out[start..]);
            }
        }
        true
    }

    /// Whether two items with this same prefix are certainly equal in the order (the
    /// prefix holds all of what the order compares).
    #[inline]
    pub fn prefix_is_total(&self, p: &[u64; 2]) -> bool {
        if !self.counted() {
            return false;
        }
        let reverse = self.keys.first().is_some_and(|k| k.opts.reverse);
        let b = (p[1] & 0xFF) as u8;
        let b = if reverse { !b } else { b };
        b != 0xFF
    }

    /// Compare by keys only.
    #[inline]
    pub fn compare_keys(&self, a: &[u8], b: &[u8]) -> Ordering {
        for (i, k) in self.keys.iter().enumerate() {
            let o = k.opts.compare(self.key(a, i), self.key(b, i));
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }

    /// The full order: keys, then the last resort.
    #[inline]
    pub fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        let o = self.compare_keys(a, b);
        if o != Ordering::Equal || !self.last_resort {
            return o;
        }
        let o = self.record(a).cmp(self.record(b));
        if self.last_resort_reverse {
            o.reverse()
        } else {
            o
        }
    }
}

/// Append one part of an item built by the caller (for an order whose format extracts):
/// first the record, then each key, each written by `fill` (breduce --merge reads keys from
/// partial lines itself).
pub fn push_item_part(out: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    fill(out);
    let n = (out.len() - at - 4).min(u32::MAX as usize) as u32;
    out[at..at + 4].copy_from_slice(&n.to_le_bytes());
}

fn push_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n.min(u32::MAX as usize) as u32).to_le_bytes());
}

/// The external sort orders items by a record order directly (bsort, bjoin's sorts).
impl extsort::Order for RecordOrder {
    #[inline]
    fn prefix(&self, item: &[u8]) -> extsort::Prefix {
        RecordOrder::prefix(self, item)
    }
    #[inline]
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        RecordOrder::compare(self, a, b)
    }
    #[inline]
    fn is_total(&self, p: &extsort::Prefix) -> bool {
        self.prefix_is_total(p)
    }
    #[inline]
    fn normalized(&self, item: &[u8], out: &mut Vec<u8>) -> bool {
        RecordOrder::normalized(self, item, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_items() {
        let key = Key::resolve(
            &KeySpec::parse("2").unwrap_or_else(|e| panic!("{e}")),
            Format::Csv(b','),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let ord = RecordOrder::new(Format::Csv(b','), vec![key], KeyOpts::default(), false);
        let mut a = vec![];
        let mut b = vec![];
        let mut s = CsvScratch::default();
        ord.encode(b"x,\"b\"", &mut a, &mut s)
            .unwrap_or_else(|e| panic!("{e}"));
        ord.encode(b"y,a", &mut b, &mut s)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ord.record(&a), b"x,\"b\"");
        assert_eq!(ord.compare(&a, &b), Ordering::Greater);
    }
}
