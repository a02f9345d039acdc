//! Finding key bytes in a record: GNU sort's field positions over blank-separated or
//! delimiter-separated text, decoded CSV fields, and JSON paths.
//!
//! Positions follow GNU sort's KEYDEF exactly: a key starts at character `C` of field `F`
//! (after the field's leading blanks with `b`) and ends after character `C` of field `M`, or
//! at the end of field `M` when no character is given. Nothing here allocates for TSV or
//! blank-separated input.

use crate::compare::is_blank;
use std::borrow::Cow;

/// How a text record is cut into fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldSplit {
    /// GNU sort without `-t`: a field starts where a blank follows a non-blank and keeps its
    /// leading blanks.
    Blank,
    /// Fields separated by one byte (TAB by default).
    Char(u8),
}

/// A key's position, resolved to 0-based field numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First field (0-based).
    pub sword: usize,
    /// Characters to skip in the first field (0-based).
    pub schar: usize,
    pub skip_sblanks: bool,
    /// Last field (0-based); `None`: to the end of the record.
    pub eword: Option<usize>,
    /// Characters of the last field to keep; 0: all of it.
    pub echar: usize,
    pub skip_eblanks: bool,
}

impl Span {
    /// The whole record (with leading blanks skipped when `skip_blanks`).
    pub fn whole(skip_blanks: bool) -> Span {
        Span {
            sword: 0,
            schar: 0,
            skip_sblanks: skip_blanks,
            eword: None,
            echar: 0,
            skip_eblanks: false,
        }
    }

    /// One whole field.
    pub fn field(i: usize) -> Span {
        Span {
            sword: i,
            schar: 0,
            skip_sblanks: false,
            eword: Some(i),
            echar: 0,
            skip_eblanks: false,
        }
    }

    /// The key bytes of `rec` (the record without its terminator).
    #[inline]
    pub fn extract<'a>(&self, rec: &'a [u8], split: FieldSplit) -> &'a [u8] {
        // Fast path: one whole TSV field.
        if let (FieldSplit::Char(t), Some(e)) = (split, self.eword) {
            if e == self.sword && self.schar == 0 && self.echar == 0 && !self.skip_sblanks {
                return nth_field(rec, t, e);
            }
        }
        let beg = self.begin(rec, split);
        let lim = match self.eword {
            None => rec.len(),
            Some(e) => self.limit(rec, split, e),
        };
        if lim > beg {
            &rec[beg..lim]
        } else {
            &rec[beg..beg]
        }
    }

    fn begin(&self, rec: &[u8], split: FieldSplit) -> usize {
        let lim = rec.len();
        let mut p = skip_fields(rec, split, 0, self.sword, true);
        if self.skip_sblanks {
            while p < lim && is_blank(rec[p]) {
                p += 1;
            }
        }
        (p + self.schar).min(lim)
    }

    fn limit(&self, rec: &[u8], split: FieldSplit, eword: usize) -> usize {
        let lim = rec.len();
        let mut p;
        if self.echar == 0 {
            // Skip all of the end field: past eword + 1 fields, not past the last separator.
            p = skip_fields(rec, split, 0, eword + 1, false);
        } else {
            p = skip_fields(rec, split, 0, eword, true);
            if self.skip_eblanks {
                while p < lim && is_blank(rec[p]) {
                    p += 1;
                }
            }
            p = (p + self.echar).min(lim);
        }
        p
    }
}

/// Walk over `n` fields from `p`. With a separator byte, `past_last` says whether to step over
/// the separator that ends the last field walked (GNU's begfield does, limfield does not).
#[inline]
fn skip_fields(rec: &[u8], split: FieldSplit, mut p: usize, n: usize, past_last: bool) -> usize {
    let lim = rec.len();
    match split {
        FieldSplit::Char(t) => {
            for i in 0..n {
                if p >= lim {
                    break;
                }
                match find_byte(t, &rec[p..]) {
                    Some(q) => {
                        p += q;
                        if past_last || i + 1 < n {
                            p += 1;
                        }
                    }
                    None => p = lim,
                }
            }
        }
        FieldSplit::Blank => {
            for _ in 0..n {
                if p >= lim {
                    break;
                }
                while p < lim && is_blank(rec[p]) {
                    p += 1;
                }
                while p < lim && !is_blank(rec[p]) {
                    p += 1;
                }
            }
        }
    }
    p
}

/// The first `t` in `s`: eight bytes at a time over the first 32 bytes (fields and many
/// records are short, and memchr's setup costs more than it saves there), memchr beyond.
#[inline]
pub fn find_byte(t: u8, s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO.wrapping_mul(u64::from(t));
    let mut at = 0;
    while at < 32 {
        match s.get(at..at + 8) {
            Some(w) => {
                let mut b = [0u8; 8];
                b.copy_from_slice(w);
                let x = u64::from_le_bytes(b) ^ pattern;
                // A zero byte of x is a `t` in s; the lowest flagged byte is the first one.
                let found = x.wrapping_sub(LO) & !x & HI;
                if found != 0 {
                    return Some(at + (found.trailing_zeros() / 8) as usize);
                }
                at += 8;
            }
            None => return s[at..].iter().position(|&c| c == t).map(|p| p + at),
        }
    }
    memchr::memchr(t, &s[at..]).map(|p| p + at)
}

/// Where a record's first fields end, found in one pass, so that several fields of one
/// record (a key and some values) cost one scan.
#[derive(Default, Debug)]
pub struct Cuts {
    ends: Vec<usize>,
}

impl Cuts {
    /// Find the ends of the first `n` fields of `rec` split on `t`.
    #[inline]
    pub fn scan(&mut self, rec: &[u8], t: u8, n: usize) {
        self.ends.clear();
        let mut start = 0;
        for _ in 0..n {
            match find_byte(t, &rec[start..]) {
                Some(q) => {
                    self.ends.push(start + q);
                    start += q + 1;
                }
                None => {
                    self.ends.push(rec.len());
                    break;
                }
            }
        }
    }

    /// Field `i` (0-based, below the `n` scanned) of `rec`; empty when missing.
    #[inline]
    pub fn field<'a>(&self, rec: &'a [u8], i: usize) -> &'a [u8] {
        match self.ends.get(i) {
            Some(&e) => {
                let s = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
                rec.get(s..e).unwrap_or(&[])
            }
            None => &[],
        }
    }
}

/// Field `i` (0-based) of a record split on `t`; empty when missing.
#[inline]
pub fn nth_field(rec: &[u8], t: u8, i: usize) -> &[u8] {
    let mut start = 0;
    for _ in 0..i {
        match find_byte(t, &rec[start..]) {
            Some(q) => start += q + 1,
            None => return &rec[rec.len()..],
        }
    }
    let end = find_byte(t, &rec[start..]).map_or(rec.len(), |q| start + q);
    &rec[start..end]
}

/// The key text of a span over already-decoded fields (CSV): the fields from `sword` to
/// `eword` joined by `delim`, cut at the span's character offsets.
pub fn extract_from_fields<'a>(fields: &[&'a [u8]], span: &Span, delim: u8) -> Cow<'a, [u8]> {
    let n = fields.len();
    if span.sword >= n {
        return Cow::Borrowed(&[]);
    }
    let mut first = fields[span.sword];
    if span.skip_sblanks {
        let k = first.iter().take_while(|&&c| is_blank(c)).count();
        first = &first[k..];
    }
    let start_cut = span.schar.min(first.len());
    let last = span.eword.unwrap_or(n - 1).min(n - 1);
    if last < span.sword {
        return Cow::Borrowed(&[]);
    }
    // End offset within the last field.
    let end_keep = |f: &[u8]| -> usize {
        if span.echar == 0 || span.eword.is_some_and(|e| e >= n) {
            f.len()
        } else {
            let skip = if span.skip_eblanks {
                f.iter().take_while(|&&c| is_blank(c)).count()
            } else {
                0
            };
            (skip + span.echar).min(f.len())
        }
    };
    if last == span.sword {
        let full = fields[last];
        let off = full.len() - first.len() + start_cut;
        let end = end_keep(full);
        return Cow::Borrowed(if end > off {
            &full[off..end]
        } else {
            &full[off..off]
        });
    }
    let mut out = first[start_cut..].to_vec();
    for f in &fields[span.sword + 1..last] {
        out.push(delim);
        out.extend_from_slice(f);
    }
    out.push(delim);
    let lf = fields[last];
    out.extend_from_slice(&lf[..end_keep(lf)]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The word-at-a-time search finds the first separator, as a plain loop does,
        /// wherever it is (inside the first 32 bytes or beyond) and whatever surrounds it
        /// (bytes just above and below the separator, 0x80 and 0xff).
        #[test]
        fn find_byte_is_the_first_position(
            s in proptest::collection::vec(proptest::sample::select(vec![0u8, 8, 9, 10, 11, 0x80, 0x89, 0xff, b'a']), 0..80),
            t in proptest::sample::select(vec![0u8, 9, 10, 0xff]),
        ) {
            proptest::prop_assert_eq!(find_byte(t, &s), s.iter().position(|&c| c == t));
        }

        /// One scan finds the same fields as `nth_field`.
        #[test]
        fn cuts_agree_with_nth_field(
            s in proptest::collection::vec(proptest::sample::select(vec![9u8, b'a', b'b']), 0..40),
            n in 0usize..6,
        ) {
            let mut c = Cuts::default();
            c.scan(&s, 9, n);
            for i in 0..n {
                proptest::prop_assert_eq!(c.field(&s, i), nth_field(&s, 9, i));
            }
        }
    }

    fn span(sword: usize, schar: usize, eword: Option<usize>, echar: usize) -> Span {
        Span {
            sword,
            schar,
            skip_sblanks: false,
            eword,
            echar,
            skip_eblanks: false,
        }
    }

    #[test]
    fn tab_fields() {
        let t = FieldSplit::Char(b'\t');
        let r = b"a\tbb\t\tccc";
        assert_eq!(Span::field(0).extract(r, t), b"a");
        assert_eq!(Span::field(1).extract(r, t), b"bb");
        assert_eq!(Span::field(2).extract(r, t), b"");
        assert_eq!(Span::field(3).extract(r, t), b"ccc");
        assert_eq!(Span::field(4).extract(r, t), b"");
        assert_eq!(span(1, 0, Some(3), 0).extract(r, t), b"bb\t\tccc");
        assert_eq!(span(1, 1, Some(3), 2).extract(r, t), b"b\t\tcc");
        assert_eq!(span(1, 0, None, 0).extract(r, t), b"bb\t\tccc");
    }

    #[test]
    fn blank_fields() {
        let b = FieldSplit::Blank;
        let r = b"  a  bb c";
        assert_eq!(Span::field(0).extract(r, b), b"  a");
        assert_eq!(Span::field(1).extract(r, b), b"  bb");
        assert_eq!(Span::field(2).extract(r, b), b" c");
        assert_eq!(Span::field(3).extract(r, b), b"");
        let mut s = Span::field(1);
        s.skip_sblanks = true;
        assert_eq!(s.extract(r, b), b"bb");
    }

    #[test]
    fn csv_fields() {
        let f: Vec<&[u8]> = vec![b"a", b"b,c", b"d"];
        assert_eq!(&*extract_from_fields(&f, &Span::field(1), b','), b"b,c");
        assert_eq!(
            &*extract_from_fields(&f, &span(0, 0, Some(2), 0), b','),
            b"a,b,c,d"
        );
        assert_eq!(&*extract_from_fields(&f, &Span::field(5), b','), b"");
    }
}
