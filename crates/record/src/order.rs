//! The order of records: keys resolved for a format, GNU sort's comparison rules, and
//! the encoding of records whose keys are extracted once (CSV, JSON lines).
//!
//! For TSV and blank-separated text an *item* is the record itself and keys are found in
//! place on every comparison (no copy). For CSV and JSON lines, finding a key means
//! parsing, so each record is turned once into an item `raw_len:u32le raw (key_len:u32le
//! key)*` and comparisons read the keys from there.

use crate::compare::KeyOpts;
use crate::fields::{extract_from_fields, FieldSplit, Span};
use crate::json;
use crate::keyspec::{FieldRef, KeySpec};
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

    #[inline]
    fn key<'a>(&self, item: &'a [u8], i: usize) -> &'a [u8] {
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

    /// An order-preserving summary of the item's first key (or of the record).
    #[inline]
    pub fn prefix(&self, item: &[u8]) -> u64 {
        match self.keys.first() {
            Some(k) => k.opts.prefix(self.key(item, 0)),
            None => {
                let p = crate::compare::bytes_prefix(self.record(item));
                if self.last_resort_reverse {
                    !p
                } else {
                    p
                }
            }
        }
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

fn push_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n.min(u32::MAX as usize) as u32).to_le_bytes());
}

/// Reusable buffers for decoding one CSV record.
#[derive(Default)]
pub struct CsvScratch {
    out: Vec<u8>,
    ends: Vec<usize>,
    n: usize,
}

impl CsvScratch {
    /// Decode `rec` (one whole CSV record, quotes and all) into fields.
    pub fn parse(&mut self, rec: &[u8], delim: u8) -> Result<(), KeyReadError> {
        let mut rdr = csv_core::ReaderBuilder::new().delimiter(delim).build();
        if self.out.len() < rec.len() + 1 {
            self.out.resize(rec.len() + 1, 0);
        }
        if self.ends.len() < 16 {
            self.ends.resize(16, 0);
        }
        let mut input = rec;
        let (mut nout, mut nends) = (0, 0);
        loop {
            let (res, nin, o, e) =
                rdr.read_record(input, &mut self.out[nout..], &mut self.ends[nends..]);
            input = &input[nin..];
            nout += o;
            nends += e;
            match res {
                csv_core::ReadRecordResult::InputEmpty => {
                    if input.is_empty() {
                        // Signal the end of input to finish the record.
                        let (res, _, o, e) =
                            rdr.read_record(&[], &mut self.out[nout..], &mut self.ends[nends..]);
                        nout += o;
                        nends += e;
                        match res {
                            csv_core::ReadRecordResult::Record
                            | csv_core::ReadRecordResult::End => break,
                            csv_core::ReadRecordResult::OutputEndsFull => {
                                let l = self.ends.len();
                                self.ends.resize(l * 2, 0);
                                continue;
                            }
                            _ => return Err(KeyReadError::Csv),
                        }
                    }
                }
                csv_core::ReadRecordResult::OutputFull => {
                    let l = self.out.len();
                    self.out.resize(l * 2, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let l = self.ends.len();
                    self.ends.resize(l * 2, 0);
                }
                csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => break,
            }
        }
        let _ = nout;
        self.n = nends;
        Ok(())
    }

    /// The fields of the last record parsed.
    pub fn fields(&self) -> Vec<&[u8]> {
        let mut start = 0;
        let mut v = Vec::with_capacity(self.n);
        for &e in &self.ends[..self.n] {
            v.push(self.out.get(start..e).unwrap_or(&[]));
            start = e;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_decode() {
        let mut s = CsvScratch::default();
        s.parse(b"a,\"b,\"\"c\"\"\",,d", b',')
            .unwrap_or_else(|e| panic!("{e}"));
        let f: Vec<&[u8]> = s.fields();
        assert_eq!(f, vec![&b"a"[..], b"b,\"c\"", b"", b"d"]);
        s.parse(b"", b',').unwrap_or_else(|e| panic!("{e}"));
        assert!(s.fields().len() <= 1);
    }

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
