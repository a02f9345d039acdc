//! How joined pairs are written: GNU join's layout for TSV and CSV (the key, then the other
//! fields of the left and of the right record, fills for a missing side), and
//! `{"left":L,"right":R}` for JSON lines.

use crate::keys::JoinKeys;
use crate::parallel::BlockSink;
use crate::{JoinType, Side, Sink};
use record::{CsvScratch, FieldSplit, Format, KeySource, RecordOrder};
use std::io::{self, Write};

/// Formats joined pairs: GNU join's layout for TSV/CSV, `{"left":L,"right":R}` for JSON.
pub struct Layout<'a, W> {
    pub out: W,
    keys: &'a JoinKeys,
    jt: JoinType,
    format: Format,
    eol: u8,
    fill: &'a [u8],
    /// Per side: which fields are key fields (0-based), and how many other fields the side
    /// has (for filling), once known.
    key_fields: [Vec<(usize, Option<usize>)>; 2],
    width: [Option<usize>; 2],
    line: Vec<u8>,
    scratch: CsvScratch,
    fields: Vec<Vec<u8>>,
    /// TSV with one plain key field a side: the separator and the fields (the fast path).
    plain: Option<[usize; 2]>,
    delim: u8,
    /// Lines stay in `line` (a worker's block buffer) instead of going to `out`.
    pub accumulate: bool,
}

fn key_fields(order: &RecordOrder) -> Vec<(usize, Option<usize>)> {
    order
        .keys
        .iter()
        .filter_map(|k| match &k.source {
            KeySource::Span(s) => Some((s.sword, s.eword)),
            KeySource::Path(_) => None,
        })
        .collect()
}

fn is_key_field(kf: &[(usize, Option<usize>)], i: usize) -> bool {
    kf.iter().any(|&(s, e)| i >= s && e.is_none_or(|e| i <= e))
}

/// Write a CSV field, quoted when it must be.
fn csv_field(out: &mut Vec<u8>, f: &[u8], delim: u8) {
    if f.iter()
        .any(|&c| c == delim || c == b'"' || c == b'\n' || c == b'\r')
    {
        out.push(b'"');
        for &c in f {
            if c == b'"' {
                out.push(b'"');
            }
            out.push(c);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(f);
    }
}

/// Append the fields of a TSV record that are not key fields, each run of consecutive ones
/// copied at once (they are separated by the delimiter already).
#[inline]
fn push_tsv_others(
    line: &mut Vec<u8>,
    rec: &[u8],
    t: u8,
    kf: &[(usize, Option<usize>)],
    first: &mut bool,
) {
    let mut flush = |line: &mut Vec<u8>, run: &mut Option<(usize, usize)>| {
        if let Some((a, b)) = run.take() {
            if !*first {
                line.push(t);
            }
            *first = false;
            line.extend_from_slice(&rec[a..b]);
        }
    };
    let mut run: Option<(usize, usize)> = None;
    let mut start = 0;
    let mut i = 0;
    loop {
        let end = record::fields::find_byte(t, &rec[start..]).map_or(rec.len(), |p| start + p);
        if is_key_field(kf, i) {
            flush(line, &mut run);
        } else {
            run = Some((run.map_or(start, |r| r.0), end));
        }
        if end == rec.len() {
            break;
        }
        start = end + 1;
        i += 1;
        // Past the last key field, the rest of the record is one run.
        if kf.iter().all(|&(_, e)| e.is_some_and(|e| e < i)) {
            run = Some((run.map_or(start, |r| r.0), rec.len()));
            break;
        }
    }
    flush(line, &mut run);
}

/// Append one output field (quoted for CSV) after a separator unless it is the first.
fn push_field(line: &mut Vec<u8>, format: Format, first: &mut bool, f: &[u8]) {
    let d = match format {
        Format::Csv(d) => d,
        Format::Text(FieldSplit::Char(t)) => t,
        _ => b'\t',
    };
    if !*first {
        line.push(d);
    }
    *first = false;
    if let Format::Csv(d) = format {
        csv_field(line, f, d);
    } else {
        line.extend_from_slice(f);
    }
}

impl<'a, W> Layout<'a, W> {
    /// The layout of `keys`' join of type `jt` into `out`; `fill` stands for a missing
    /// side's fields in outer joins.
    pub fn new(
        out: W,
        keys: &'a JoinKeys,
        jt: JoinType,
        format: Format,
        eol: u8,
        fill: &'a [u8],
    ) -> Layout<'a, W> {
        Layout {
            out,
            keys,
            jt,
            format,
            eol,
            fill,
            key_fields: [key_fields(&keys.left), key_fields(&keys.right)],
            width: [None, None],
            line: Vec::new(),
            scratch: CsvScratch::default(),
            fields: Vec::new(),
            plain: match (keys.left.plain_field(), keys.right.plain_field()) {
                (Some((_, l)), Some((_, r))) => Some([l, r]),
                _ => None,
            },
            delim: match format {
                Format::Text(FieldSplit::Char(t)) => t,
                _ => b'\t',
            },
            accumulate: false,
        }
    }

    /// The width of side `i` (its fields that are not key fields), from its header.
    pub fn header_width(&mut self, i: usize, header: &[Vec<u8>]) {
        let kf = &self.key_fields[i];
        self.width[i] = Some((0..header.len()).filter(|&j| !is_key_field(kf, j)).count());
    }

    /// The same layout writing to `out` (a worker's buffer), with what it learnt so far.
    pub fn with_out<V>(&self, out: V) -> Layout<'a, V> {
        Layout {
            out,
            keys: self.keys,
            jt: self.jt,
            format: self.format,
            eol: self.eol,
            fill: self.fill,
            key_fields: self.key_fields.clone(),
            width: self.width,
            line: Vec::new(),
            scratch: CsvScratch::default(),
            fields: Vec::new(),
            plain: self.plain,
            delim: self.delim,
            accumulate: false,
        }
    }
}

impl BlockSink for Layout<'_, io::Sink> {
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.line
    }
}

impl<W: Write> Layout<'_, W> {
    fn side_index(side: Side) -> usize {
        match side {
            Side::Left => 0,
            Side::Right => 1,
        }
    }

    /// The fields of a record (decoded for CSV) into `self.fields`.
    fn split(&mut self, rec: &[u8]) {
        self.fields.clear();
        match self.format {
            // Items were encoded (and so parsed) already: a CSV record here parses.
            Format::Csv(d) if self.scratch.parse(rec, d).is_ok() => {
                for f in self.scratch.fields() {
                    self.fields.push(f.to_vec());
                }
            }
            Format::Text(FieldSplit::Char(t)) => {
                for f in rec.split(|&c| c == t) {
                    self.fields.push(f.to_vec());
                }
            }
            _ => {}
        }
    }

    fn other_count(&mut self, side: Side, rec: &[u8]) -> usize {
        self.split(rec);
        let kf = &self.key_fields[Self::side_index(side)];
        (0..self.fields.len())
            .filter(|&i| !is_key_field(kf, i))
            .count()
    }

    /// The other fields of one side's record, or fills.
    fn push_side(&mut self, side: Side, item: Option<&[u8]>, first: &mut bool) {
        let si = Self::side_index(side);
        let format = self.format;
        match item {
            Some(it) => {
                let rec = self.keys.order(side).record(it);
                if let Format::Text(FieldSplit::Char(t)) = format {
                    push_tsv_others(&mut self.line, rec, t, &self.key_fields[si], first);
                } else {
                    self.split(rec);
                    for (i, f) in self.fields.iter().enumerate() {
                        if !is_key_field(&self.key_fields[si], i) {
                            push_field(&mut self.line, format, first, f);
                        }
                    }
                }
            }
            None => {
                for _ in 0..self.width[si].unwrap_or(0) {
                    push_field(&mut self.line, format, first, self.fill);
                }
            }
        }
    }

    /// The header line, from both sides' headers (split into fields).
    pub fn header(&mut self, lh: &[Vec<u8>], rh: &[Vec<u8>], raw_left: &[u8]) -> io::Result<()> {
        self.line.clear();
        if !self.jt.pairs() {
            self.line.extend_from_slice(raw_left);
        } else {
            let mut first = true;
            let names: Vec<Vec<u8>> = self.key_fields[0]
                .iter()
                .map(|&(s, _)| lh.get(s).cloned().unwrap_or_default())
                .collect();
            for n in &names {
                push_field(&mut self.line, self.format, &mut first, n);
            }
            for (side, h) in [(0usize, lh), (1, rh)] {
                let kf = self.key_fields[side].clone();
                for (i, f) in h.iter().enumerate() {
                    if !is_key_field(&kf, i) {
                        push_field(&mut self.line, self.format, &mut first, f);
                    }
                }
            }
        }
        self.line.push(self.eol);
        self.out.write_all(&self.line)
    }
}

impl<W: Write> Sink for Layout<'_, W> {
    fn seen(&mut self, side: Side, item: &[u8]) {
        let si = Self::side_index(side);
        if self.width[si].is_none() && !matches!(self.format, Format::Jsonl) {
            let rec = self.keys.order(side).record(item);
            self.width[si] = Some(self.other_count(side, rec));
        }
    }

    fn emit(&mut self, l: Option<&[u8]>, r: Option<&[u8]>) -> io::Result<()> {
        if !self.accumulate {
            self.line.clear();
        }
        if let (Some([kl, kr]), true) = (self.plain, self.jt.pairs()) {
            // TSV, one plain key field a side: each record split once around its key.
            let t = self.delim;
            let (lk, lo) = l.map_or((&b""[..], [None; 2]), |l| split_around(l, t, kl));
            let (rk, ro) = r.map_or((&b""[..], [None; 2]), |r| split_around(r, t, kr));
            self.line
                .extend_from_slice(if l.is_some() { lk } else { rk });
            for (present, others, w) in [
                (l.is_some(), lo, self.width[0]),
                (r.is_some(), ro, self.width[1]),
            ] {
                if present {
                    for o in others.into_iter().flatten() {
                        self.line.push(t);
                        self.line.extend_from_slice(o);
                    }
                } else {
                    for _ in 0..w.unwrap_or(0) {
                        self.line.push(t);
                        self.line.extend_from_slice(self.fill);
                    }
                }
            }
        } else if !self.jt.pairs() {
            if let Some(l) = l {
                self.line.extend_from_slice(self.keys.left.record(l));
            }
        } else if self.format == Format::Jsonl {
            self.line.extend_from_slice(b"{\"left\":");
            match l {
                Some(l) => self
                    .line
                    .extend_from_slice(self.keys.left.record(l).trim_ascii()),
                None => self.line.extend_from_slice(b"null"),
            }
            self.line.extend_from_slice(b",\"right\":");
            match r {
                Some(r) => self
                    .line
                    .extend_from_slice(self.keys.right.record(r).trim_ascii()),
                None => self.line.extend_from_slice(b"null"),
            }
            self.line.push(b'}');
        } else {
            let mut first = true;
            let (side, it) = match (l, r) {
                (Some(l), _) => (Side::Left, l),
                (None, Some(r)) => (Side::Right, r),
                (None, None) => return Ok(()),
            };
            let order = self.keys.order(side);
            for i in 0..order.keys.len() {
                let k = order.key(it, i);
                push_field(&mut self.line, self.format, &mut first, k);
            }
            self.push_side(Side::Left, l, &mut first);
            self.push_side(Side::Right, r, &mut first);
        }
        self.line.push(self.eol);
        if self.accumulate {
            return Ok(());
        }
        self.out.write_all(&self.line)
    }
}

/// A TSV record's field `k` and the runs of other fields before and after it (`None`: no
/// such run; `Some("")`: one empty field): `a\tK\tb\tc` with `k = 1` is `K`, `a`, `b\tc`.
/// A record with no field `k` has an empty key and is one run of other fields.
#[inline]
fn split_around(rec: &[u8], t: u8, k: usize) -> (&[u8], [Option<&[u8]>; 2]) {
    let mut start = 0;
    for _ in 0..k {
        match record::fields::find_byte(t, &rec[start..]) {
            Some(p) => start += p + 1,
            None => return (&[], [Some(rec), None]),
        }
    }
    let end = record::fields::find_byte(t, &rec[start..]).map_or(rec.len(), |p| start + p);
    let before = (k > 0).then(|| &rec[..start - 1]);
    let after = (end < rec.len()).then(|| &rec[end + 1..]);
    (&rec[start..end], [before, after])
}

#[cfg(test)]
mod tests {
    use super::*;
    use record::{Key, KeyOpts, KeySpec};

    fn keys(format: Format, spec: &str) -> JoinKeys {
        let order = || {
            let k = KeySpec::parse(spec).expect("key spec");
            let k = Key::resolve(&k, format, None).expect("key");
            RecordOrder::new(format, vec![k], KeyOpts::default(), true)
        };
        JoinKeys::new(order(), order())
    }

    /// Items of `format` for `rec` (CSV and JSON records are encoded, text is the record).
    fn item(k: &JoinKeys, rec: &[u8]) -> Vec<u8> {
        if !k.left.format.extracts() {
            return rec.to_vec();
        }
        let mut out = Vec::new();
        k.left
            .encode(rec, &mut out, &mut CsvScratch::default())
            .expect("encode");
        out
    }

    /// The lines `pairs` make, each side seen first (as the engine does).
    fn lines(
        format: Format,
        spec: &str,
        jt: JoinType,
        pairs: &[(Option<&str>, Option<&str>)],
    ) -> String {
        let k = keys(format, spec);
        let mut out = Vec::new();
        let mut l = Layout::new(&mut out, &k, jt, format, b'\n', b"-");
        for (a, b) in pairs {
            let a = a.map(|a| item(&k, a.as_bytes()));
            let b = b.map(|b| item(&k, b.as_bytes()));
            if let Some(a) = &a {
                l.seen(Side::Left, a);
            }
            if let Some(b) = &b {
                l.seen(Side::Right, b);
            }
            l.emit(a.as_deref(), b.as_deref()).expect("emit");
        }
        String::from_utf8(out).expect("utf-8")
    }

    const TSV: Format = Format::Text(FieldSplit::Char(b'\t'));

    #[test]
    fn tsv_pairs_put_the_key_first_then_the_other_fields() {
        let got = lines(
            TSV,
            "2",
            JoinType::Inner,
            &[(Some("a\tk\tb"), Some("x\tk\ty"))],
        );
        assert_eq!(got, "k\ta\tb\tx\ty\n");
    }

    #[test]
    fn a_missing_side_is_filled_as_wide_as_that_side() {
        let pairs = [
            (Some("k1\ta\tb"), Some("k1\tx")),
            (Some("k2\tc\td"), None),
            (None, Some("k3\tz")),
        ];
        let got = lines(TSV, "1", JoinType::Full, &pairs);
        assert_eq!(got, "k1\ta\tb\tx\nk2\tc\td\t-\nk3\t-\t-\tz\n");
    }

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        let csv = Format::Csv(b',');
        let got = lines(
            csv,
            "1",
            JoinType::Inner,
            &[(Some("k,\"a,b\""), Some("k,\"say \"\"hi\"\"\""))],
        );
        assert_eq!(got, "k,\"a,b\",\"say \"\"hi\"\"\"\n");
    }

    #[test]
    fn json_pairs_are_objects_of_both_records() {
        let got = lines(
            Format::Jsonl,
            "id",
            JoinType::Left,
            &[
                (Some(" {\"id\":1} "), Some("{\"id\":1,\"v\":2}")),
                (Some("{\"id\":3}"), None),
            ],
        );
        assert_eq!(
            got,
            "{\"left\":{\"id\":1},\"right\":{\"id\":1,\"v\":2}}\n{\"left\":{\"id\":3},\"right\":null}\n"
        );
    }

    #[test]
    fn semi_joins_write_the_left_record_whole() {
        let got = lines(TSV, "2", JoinType::Semi, &[(Some("a\tk\tb"), Some("x\tk"))]);
        assert_eq!(got, "a\tk\tb\n");
    }

    #[test]
    fn split_around_finds_the_runs_beside_a_field() {
        assert_eq!(
            split_around(b"a\tK\tb\tc", b'\t', 1),
            (&b"K"[..], [Some(&b"a"[..]), Some(&b"b\tc"[..])])
        );
        assert_eq!(split_around(b"K", b'\t', 0), (&b"K"[..], [None, None]));
        assert_eq!(
            split_around(b"a", b'\t', 2),
            (&b""[..], [Some(&b"a"[..]), None])
        );
    }
}
