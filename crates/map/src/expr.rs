//! `--where 'FIELD OP VALUE'` conditions and `--emit 'ITEM,ITEM'` lists: parsed once, then
//! evaluated per record over an [`Extractor`]'s values without allocating.
//!
//! Comparison: when the value and the literal both read as numbers ([`crate::num`]) they
//! compare numerically (exact for plain decimals), otherwise bytewise. `~` and `!~` search
//! for a regex (the `regex` crate, over bytes) anywhere in the value.

use crate::fields::{Extractor, FieldRef};
use crate::num;
use regex::bytes::Regex;
use std::cmp::Ordering;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Match,
    NoMatch,
}

/// One `--where` condition.
#[derive(Debug)]
pub struct Cond {
    slot: usize,
    op: Op,
    lit: Vec<u8>,
    lit_is_num: bool,
    re: Option<Regex>,
}

impl Cond {
    #[inline]
    fn holds(&self, v: &[u8]) -> bool {
        let ord = match self.op {
            Op::Match => return self.re.as_ref().is_some_and(|r| r.is_match(v)),
            Op::NoMatch => return !self.re.as_ref().is_some_and(|r| r.is_match(v)),
            _ => match (self.lit_is_num, num::parse(v)) {
                (true, Some(n)) => match num::parse(&self.lit) {
                    Some(l) => n.cmp_num(&l),
                    None => v.cmp(&self.lit),
                },
                _ => v.cmp(&self.lit),
            },
        };
        match self.op {
            Op::Eq => ord == Ordering::Equal,
            Op::Ne => ord != Ordering::Equal,
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
            Op::Match | Op::NoMatch => false,
        }
    }
}

/// A transform of an `--emit` item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    Lower,
    Upper,
    Trim,
    Len,
    Day,
    Month,
    Year,
    Hour,
}

impl Transform {
    fn parse(s: &str) -> Option<Transform> {
        Some(match s {
            "lower" => Transform::Lower,
            "upper" => Transform::Upper,
            "trim" => Transform::Trim,
            "len" => Transform::Len,
            "day" => Transform::Day,
            "month" => Transform::Month,
            "year" => Transform::Year,
            "hour" => Transform::Hour,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Transform::Lower => "lower",
            Transform::Upper => "upper",
            Transform::Trim => "trim",
            Transform::Len => "len",
            Transform::Day => "day",
            Transform::Month => "month",
            Transform::Year => "year",
            Transform::Hour => "hour",
        }
    }
}

/// One `--emit` item.
#[derive(Debug)]
pub enum Item {
    Field {
        slot: usize,
        /// The field as written, for messages.
        field: String,
        transforms: Vec<Transform>,
        /// A span `N-M` of TSV fields: its TABs separate output fields and stay TABs.
        tsv_span: bool,
    },
    Literal(Vec<u8>),
}

/// An item's value that a transform cannot read (a date transform on a non-date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformError {
    pub field: String,
    pub value: Vec<u8>,
    pub transform: &'static str,
}

impl std::fmt::Display for TransformError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "field {} is \"{}\": not an ISO-8601 date for |{}",
            self.field,
            String::from_utf8_lossy(&self.value),
            self.transform
        )
    }
}

/// Everything `--where` and `--emit` ask of each record.
#[derive(Debug, Default)]
pub struct Program {
    /// The values to find in each record (an [`Extractor`]'s refs).
    pub refs: Vec<FieldRef>,
    pub conds: Vec<Cond>,
    pub items: Vec<Item>,
    /// Each item as written, for a header line.
    pub item_texts: Vec<String>,
    /// The input is TAB-separated: spans keep their TABs (see [`Item::Field`]).
    pub tsv: bool,
}

impl Program {
    /// The fields (0-based, inclusive ranges) this program reads when it emits (`--where`
    /// and `--emit`): the projection of a Parquet input. `None` when a value is a JSON path.
    pub fn columns(&self) -> Option<Vec<(usize, usize)>> {
        let mut cols = Vec::new();
        for r in &self.refs {
            match *r {
                FieldRef::Index(i) => cols.push((i, i)),
                // A span may run far past the last field (`2-99999999`): kept as a range.
                FieldRef::Span(i, j) => cols.push((i, j)),
                FieldRef::Path(_) => return None,
            }
        }
        Some(cols)
    }

    fn slot(&mut self, r: FieldRef) -> usize {
        match self.refs.iter().position(|x| *x == r) {
            Some(i) => i,
            None => {
                self.refs.push(r);
                self.refs.len() - 1
            }
        }
    }

    /// Add a `--where` condition; `resolve` turns a field's text into its place.
    pub fn add_where(
        &mut self,
        text: &str,
        resolve: &dyn Fn(&str) -> Result<FieldRef, String>,
    ) -> Result<(), String> {
        let s = text.trim_start();
        let end = s
            .find(|c: char| c.is_whitespace() || "=!<>~".contains(c))
            .unwrap_or(s.len());
        let field = &s[..end];
        if field.is_empty() {
            return Err(format!("--where '{text}': no field before the operator"));
        }
        let rest = s[end..].trim_start();
        let ops: [(&str, Op); 9] = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("!~", Op::NoMatch),
            ("<", Op::Lt),
            (">", Op::Gt),
            ("~", Op::Match),
            ("=", Op::Eq),
        ];
        let Some((o, op)) = ops.iter().find(|(o, _)| rest.starts_with(o)) else {
            return Err(format!(
                "--where '{text}': expected FIELD OP VALUE, OP one of == != < <= > >= ~ !~"
            ));
        };
        let v = rest[o.len()..].trim();
        let lit = if v.starts_with(['"', '\'']) {
            let (lit, after) =
                quoted(v).ok_or_else(|| format!("--where '{text}': unterminated quote"))?;
            if !after.trim().is_empty() {
                return Err(format!("--where '{text}': text after the quoted value"));
            }
            lit
        } else {
            v.as_bytes().to_vec()
        };
        let re = match op {
            Op::Match | Op::NoMatch => {
                let pat = std::str::from_utf8(&lit)
                    .map_err(|_| format!("--where '{text}': the regex is not UTF-8"))?;
                Some(Regex::new(pat).map_err(|e| {
                    let first = e.to_string();
                    let last = first.lines().last().unwrap_or("").trim().to_string();
                    format!("--where '{text}': bad regex: {last}")
                })?)
            }
            _ => None,
        };
        let slot = self.slot(resolve(field)?);
        self.conds.push(Cond {
            slot,
            op: *op,
            lit_is_num: num::parse(&lit).is_some(),
            lit,
            re,
        });
        Ok(())
    }

    /// Add the items of an `--emit` list.
    pub fn add_emit(
        &mut self,
        list: &str,
        resolve: &dyn Fn(&str) -> Result<FieldRef, String>,
    ) -> Result<(), String> {
        let mut rest = list;
        loop {
            let t = rest.trim_start();
            let (item_text, after) = if t.starts_with(['"', '\'']) {
                let (lit, after) =
                    quoted(t).ok_or_else(|| format!("--emit '{list}': unterminated quote"))?;
                let after = after.trim_start();
                let text = &t[..t.len() - after.len()];
                self.items.push(Item::Literal(lit));
                self.item_texts.push(text.trim().to_string());
                (None, after)
            } else {
                let end = t.find(',').unwrap_or(t.len());
                (Some(t[..end].trim()), &t[end..])
            };
            if let Some(it) = item_text {
                let mut parts = it.split('|');
                let field = parts.next().unwrap_or("").trim();
                if field.is_empty() {
                    return Err(format!("--emit '{list}': an empty item"));
                }
                let mut transforms = Vec::new();
                for p in parts {
                    transforms.push(Transform::parse(p.trim()).ok_or_else(|| {
                        format!(
                            "--emit '{list}': unknown transform '{}' (lower upper trim len day month year hour)",
                            p.trim()
                        )
                    })?);
                }
                let fref = resolve(field)?;
                let span = matches!(fref, FieldRef::Span(..));
                let slot = self.slot(fref);
                self.items.push(Item::Field {
                    slot,
                    field: field.to_string(),
                    transforms,
                    tsv_span: span && self.tsv,
                });
                self.item_texts.push(it.to_string());
            }
            match after.strip_prefix(',') {
                Some(r) => rest = r,
                None if after.is_empty() => return Ok(()),
                None => {
                    return Err(format!(
                        "--emit '{list}': expected ',' after a quoted literal"
                    ))
                }
            }
        }
    }

    /// Whether every condition holds for the record last extracted.
    #[inline]
    pub fn matches(&self, x: &Extractor, rec: &[u8]) -> bool {
        self.conds.iter().all(|c| c.holds(x.get(rec, c.slot)))
    }

    /// Append the items, TAB-separated, to `out` (no terminator). TAB and newline inside a
    /// value are written as `\t` and `\n` (as are NUL when `eol` is NUL), so that each
    /// output record stays one TSV record.
    pub fn emit(
        &self,
        x: &Extractor,
        rec: &[u8],
        eol: u8,
        out: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> Result<(), TransformError> {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            match item {
                Item::Literal(l) => put_escaped(l, eol, out),
                Item::Field {
                    slot,
                    field,
                    transforms,
                    tsv_span,
                } => {
                    let v = x.get(rec, *slot);
                    if *tsv_span && transforms.is_empty() {
                        // The span's own TABs are the output's separators.
                        out.extend_from_slice(v);
                    } else if transforms.is_empty() {
                        put_escaped(v, eol, out);
                    } else {
                        let r = apply(v, transforms, scratch).map_err(|t| TransformError {
                            field: field.clone(),
                            value: v.to_vec(),
                            transform: t.name(),
                        })?;
                        let v = match r {
                            Place::Value(a, b) => &v[a..b],
                            Place::Scratch(a, b) => &scratch[a..b],
                        };
                        put_escaped(v, eol, out);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Where a transformed value is.
enum Place {
    Value(usize, usize),
    Scratch(usize, usize),
}

/// Apply `ts` in order; the result is a range of `v` or of `scratch`.
fn apply(v: &[u8], ts: &[Transform], scratch: &mut Vec<u8>) -> Result<Place, Transform> {
    let mut place = Place::Value(0, v.len());
    for &t in ts {
        let cur: &[u8] = match place {
            Place::Value(a, b) => &v[a..b],
            Place::Scratch(a, b) => &scratch[a..b],
        };
        let (off, len) = match t {
            Transform::Trim => {
                let s = cur
                    .iter()
                    .position(|c| !c.is_ascii_whitespace())
                    .unwrap_or(cur.len());
                let e = cur
                    .iter()
                    .rposition(|c| !c.is_ascii_whitespace())
                    .map_or(s, |e| e + 1);
                (s, e - s)
            }
            Transform::Day | Transform::Month | Transform::Year | Transform::Hour => {
                if cur.is_empty() {
                    (0, 0)
                } else {
                    (0, date_prefix(cur, t).ok_or(t)?)
                }
            }
            Transform::Lower | Transform::Upper => {
                let (a, b) = match place {
                    Place::Scratch(a, b) => (a, b),
                    Place::Value(a, b) => {
                        scratch.clear();
                        scratch.extend_from_slice(&v[a..b]);
                        (0, b - a)
                    }
                };
                if t == Transform::Lower {
                    scratch[a..b].make_ascii_lowercase();
                } else {
                    scratch[a..b].make_ascii_uppercase();
                }
                place = Place::Scratch(a, b);
                continue;
            }
            Transform::Len => {
                // Characters of UTF-8 text (bytes that do not continue a character).
                let n = cur.iter().filter(|&&c| (c as i8) >= -0x40).count();
                scratch.clear();
                let mut d = [0u8; 20];
                let mut i = d.len();
                let mut n = n;
                loop {
                    i -= 1;
                    d[i] = b'0' + (n % 10) as u8;
                    n /= 10;
                    if n == 0 {
                        break;
                    }
                }
                scratch.extend_from_slice(&d[i..]);
                place = Place::Scratch(0, scratch.len());
                continue;
            }
        };
        place = match place {
            Place::Value(a, _) => Place::Value(a + off, a + off + len),
            Place::Scratch(a, _) => Place::Scratch(a + off, a + off + len),
        };
    }
    Ok(place)
}

/// Parse transform names (`day`, `lower`, ...), for other tools' keys (`bsplit --by
/// 'created_at|day'`).
pub fn parse_transforms<'a>(
    names: impl Iterator<Item = &'a str>,
) -> std::result::Result<Vec<Transform>, String> {
    names
        .map(|n| {
            Transform::parse(n.trim()).ok_or_else(|| {
                format!("unknown transform '|{n}' (lower upper trim len day month year hour)")
            })
        })
        .collect()
}

impl Transform {
    /// The transform's name, as written after `|`.
    pub fn as_str(self) -> &'static str {
        self.name()
    }
}

/// `v` through `ts`, into `out` (cleared first); `Err` names a date transform that met a
/// value that is not an ISO-8601 date.
pub fn transform_into(
    v: &[u8],
    ts: &[Transform],
    out: &mut Vec<u8>,
) -> std::result::Result<(), &'static str> {
    let mut scratch = Vec::new();
    let place = apply(v, ts, &mut scratch).map_err(Transform::name)?;
    out.clear();
    match place {
        Place::Value(a, b) => out.extend_from_slice(&v[a..b]),
        Place::Scratch(a, b) => out.extend_from_slice(&scratch[a..b]),
    }
    Ok(())
}

/// The length of the ISO-8601 prefix a date transform keeps: `YYYY`, `YYYY-MM`,
/// `YYYY-MM-DD`, `YYYY-MM-DDTHH` (the separator as it stands: `T`, `t` or a space).
fn date_prefix(v: &[u8], t: Transform) -> Option<usize> {
    let digits = |a: usize, b: usize| v.len() >= b && v[a..b].iter().all(u8::is_ascii_digit);
    let two = |a: usize| u32::from(v[a] - b'0') * 10 + u32::from(v[a + 1] - b'0');
    if !digits(0, 4) {
        return None;
    }
    if t == Transform::Year {
        return Some(4);
    }
    if v.get(4) != Some(&b'-') || !digits(5, 7) || !(1..=12).contains(&two(5)) {
        return None;
    }
    if t == Transform::Month {
        return Some(7);
    }
    if v.get(7) != Some(&b'-') || !digits(8, 10) || !(1..=31).contains(&two(8)) {
        return None;
    }
    if t == Transform::Day {
        return Some(10);
    }
    if !matches!(v.get(10), Some(b'T' | b't' | b' ')) || !digits(11, 13) || two(11) > 23 {
        return None;
    }
    Some(13)
}

/// A quoted literal at the start of `s` (`"..."` or `'...'`; a backslash takes the next
/// character as it is, `\t` and `\n` aside); returns it and the text after the closing quote.
pub fn quoted(s: &str) -> Option<(Vec<u8>, &str)> {
    let q = s.chars().next()?;
    let mut out = Vec::new();
    let mut it = s.char_indices().skip(1);
    while let Some((i, c)) = it.next() {
        if c == q {
            return Some((out, &s[i + 1..]));
        }
        let c = if c == '\\' {
            match it.next()?.1 {
                't' => '\t',
                'n' => '\n',
                o => o,
            }
        } else {
            c
        };
        let mut b = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
    }
    None
}

/// Write `v` with TAB, newline (and NUL when it ends records) escaped.
#[inline]
pub fn put_escaped(v: &[u8], eol: u8, out: &mut Vec<u8>) {
    if memchr::memchr3(b'\t', b'\n', eol, v).is_none() {
        out.extend_from_slice(v);
        return;
    }
    for &c in v {
        match c {
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0 if eol == 0 => out.extend_from_slice(b"\\0"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::Fmt;

    fn tsv_resolve(s: &str) -> Result<FieldRef, String> {
        if let Some((a, b)) = s.split_once('-') {
            return Ok(FieldRef::Span(
                a.parse::<usize>().map_err(|e| e.to_string())? - 1,
                b.parse::<usize>().map_err(|e| e.to_string())? - 1,
            ));
        }
        s.parse::<usize>()
            .map(|n| FieldRef::Index(n - 1))
            .map_err(|e| e.to_string())
    }

    fn run(wheres: &[&str], emit: &str, rec: &str) -> Option<String> {
        let mut p = Program::default();
        for w in wheres {
            p.add_where(w, &tsv_resolve)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        if !emit.is_empty() {
            p.add_emit(emit, &tsv_resolve)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let mut x = Extractor::new(Fmt::Tsv(b'\t'), p.refs.clone());
        x.extract(rec.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        if !p.matches(&x, rec.as_bytes()) {
            return None;
        }
        let mut out = Vec::new();
        let mut s = Vec::new();
        p.emit(&x, rec.as_bytes(), b'\n', &mut out, &mut s)
            .unwrap_or_else(|e| panic!("{e}"));
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn conditions() {
        let r = "10\tabc\t0.10\t2024-03-05T07:08:09Z";
        assert!(run(&["1 == 10.0"], "", r).is_some());
        assert!(run(&["1 > 9"], "", r).is_some()); // numeric, though "10" < "9" bytewise
        assert!(run(&["2 > 9"], "", r).is_some()); // bytewise: "abc" > "9"
        assert!(run(&["3 == 0.1", "3<0.2", "3 >= '0.10'"], "", r).is_some());
        assert!(run(&["2 ~ ^a.c$"], "", r).is_some());
        assert!(run(&["2 !~ b"], "", r).is_none());
        assert!(run(&["5 == ''"], "", r).is_some());
        assert!(run(&["2 != abc"], "", r).is_none());
    }

    #[test]
    fn items() {
        let r = "10\t AbC \t0.10\t2024-03-05T07:08:09Z";
        assert_eq!(
            run(
                &[],
                "4|day,4|month,4|year,4|hour,2|trim|upper,2|lower|trim|len,\"x,y\",1-2,'q\\'s'",
                r
            )
            .as_deref(),
            Some("2024-03-05\t2024-03\t2024\t2024-03-05T07\tABC\t3\tx,y\t10\\t AbC \tq's")
        );
        assert_eq!(run(&[], "9|day", r).as_deref(), Some(""));
        let mut p = Program::default();
        p.add_emit("2|day", &tsv_resolve)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut x = Extractor::new(Fmt::Tsv(b'\t'), p.refs.clone());
        x.extract(r.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let e = p.emit(&x, r.as_bytes(), b'\n', &mut Vec::new(), &mut Vec::new());
        assert!(e.is_err());
    }

    #[test]
    fn bad_expressions() {
        let mut p = Program::default();
        for w in ["== 3", "a", "1 ~ (", "1 == 'x"] {
            assert!(p.add_where(w, &tsv_resolve).is_err(), "{w}");
        }
        for e in ["", "1,,2", "1|nope", "'x", "'x' 2"] {
            assert!(p.add_emit(e, &tsv_resolve).is_err(), "{e}");
        }
    }
}
