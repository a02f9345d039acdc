//! The values `--where` and `--emit` read from a record: TSV fields and spans, decoded CSV
//! fields, JSON paths. Every value a run needs is found once per record, into buffers that
//! are reused from record to record (no allocation per record on the hot path).

use crate::json::{self, Found, JsonError, Paths};

/// The record format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fmt {
    /// Fields separated by this byte.
    Tsv(u8),
    /// RFC 4180 CSV with this delimiter.
    Csv(u8),
    /// One JSON object per line.
    Json,
}

/// A value's place in a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldRef {
    /// Field i (0-based).
    Index(usize),
    /// Fields i through j (0-based), separators included.
    Span(usize, usize),
    /// A JSON path, split on '.'.
    Path(Vec<Vec<u8>>),
}

/// What an `--emit`/`--where` field names: a field number (1-based), a span `N-M`, a column
/// name (`columns`: the header's, with `--header`), or for JSON lines (`json`) a dotted path.
pub fn resolve(s: &str, json: bool, columns: Option<&[Vec<u8>]>) -> Result<FieldRef, String> {
    if json {
        return Ok(FieldRef::Path(
            s.split('.').map(|p| p.as_bytes().to_vec()).collect(),
        ));
    }
    let number = |t: &str| -> Option<Result<usize, String>> {
        let n = t.parse::<usize>().ok()?;
        Some(if n == 0 {
            Err(format!("field {s}: field numbers start at 1"))
        } else {
            Ok(n - 1)
        })
    };
    if let Some(n) = number(s) {
        return n.map(FieldRef::Index);
    }
    if let Some((a, b)) = s.split_once('-') {
        if let (Some(a), Some(b)) = (number(a), number(b)) {
            let (a, b) = (a?, b?);
            if a > b {
                return Err(format!("span {s}: the first field comes after the last"));
            }
            return Ok(FieldRef::Span(a, b));
        }
    }
    match columns.and_then(|c| c.iter().position(|c| c == s.as_bytes())) {
        Some(i) => Ok(FieldRef::Index(i)),
        None if columns.is_some() => Err(format!("no column named '{s}'")),
        None => Err(format!(
            "no field '{s}': name fields by number, or by column name with --header"
        )),
    }
}

/// Why a record's values could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadRecord {
    Json(JsonError),
    Csv,
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadRecord::Json(e) => e.fmt(f),
            BadRecord::Csv => f.write_str("malformed CSV record"),
        }
    }
}

#[derive(Clone, Copy)]
enum Val {
    Empty,
    /// A span of the record.
    Rec(usize, usize),
    /// A span of the decoded CSV fields.
    Csv(usize, usize),
    /// The slot's own buffer.
    Buf,
}

/// Finds a fixed set of values in each record.
pub struct Extractor {
    fmt: Fmt,
    refs: Vec<FieldRef>,
    /// Fields to find in a TSV/CSV record (the largest index asked for, plus one).
    want: usize,
    starts: Vec<usize>,
    ends: Vec<usize>,
    vals: Vec<Val>,
    bufs: Vec<Vec<u8>>,
    csv: CsvDecoder,
    paths: Paths,
    found: Vec<Option<Found>>,
}

impl Extractor {
    /// `refs` must be paths for JSON and indexes or spans otherwise.
    pub fn new(fmt: Fmt, refs: Vec<FieldRef>) -> Extractor {
        let want = refs
            .iter()
            .map(|r| match r {
                FieldRef::Index(i) => i + 1,
                FieldRef::Span(_, j) => j + 1,
                FieldRef::Path(_) => 0,
            })
            .max()
            .unwrap_or(0);
        let paths = refs
            .iter()
            .map(|r| match r {
                FieldRef::Path(p) => p.clone(),
                _ => Vec::new(),
            })
            .filter(|p| !p.is_empty())
            .collect();
        let n = refs.len();
        Extractor {
            fmt,
            refs,
            want,
            // Not `want`: a field number is the user's (`--emit 99999999999999`); the
            // vectors grow with the fields a record really has (fuzz find).
            starts: Vec::with_capacity(want.min(64)),
            ends: Vec::with_capacity(want.min(64)),
            vals: vec![Val::Empty; n],
            bufs: vec![Vec::new(); n],
            csv: CsvDecoder::default(),
            paths: Paths::new(paths),
            found: vec![None; n],
        }
    }

    /// Whether there is anything to find.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// Find every value in `rec`.
    pub fn extract(&mut self, rec: &[u8]) -> Result<(), BadRecord> {
        match self.fmt {
            Fmt::Tsv(t) => {
                self.starts.clear();
                self.ends.clear();
                let mut p = 0;
                while self.starts.len() < self.want {
                    self.starts.push(p);
                    match record::fields::find_byte(t, &rec[p..]) {
                        Some(q) => {
                            self.ends.push(p + q);
                            p += q + 1;
                        }
                        None => {
                            self.ends.push(rec.len());
                            break;
                        }
                    }
                }
                let n = self.starts.len();
                for (k, r) in self.refs.iter().enumerate() {
                    self.vals[k] = match *r {
                        FieldRef::Index(i) if i < n => Val::Rec(self.starts[i], self.ends[i]),
                        FieldRef::Span(i, j) if i < n => {
                            Val::Rec(self.starts[i], self.ends[j.min(n - 1)])
                        }
                        _ => Val::Empty,
                    };
                }
            }
            Fmt::Csv(d) => {
                self.csv.parse(rec, d)?;
                let n = self.csv.ends.len();
                let start = |i: usize, ends: &[usize]| if i == 0 { 0 } else { ends[i - 1] };
                for (k, r) in self.refs.iter().enumerate() {
                    self.vals[k] = match *r {
                        FieldRef::Index(i) if i < n => {
                            Val::Csv(start(i, &self.csv.ends), self.csv.ends[i])
                        }
                        FieldRef::Span(i, j) if i < n => {
                            let b = &mut self.bufs[k];
                            b.clear();
                            for f in i..=j.min(n - 1) {
                                if f > i {
                                    b.push(d);
                                }
                                b.extend_from_slice(
                                    &self.csv.out[start(f, &self.csv.ends)..self.csv.ends[f]],
                                );
                            }
                            Val::Buf
                        }
                        _ => Val::Empty,
                    };
                }
            }
            Fmt::Json => {
                self.paths
                    .extract(rec, &mut self.found)
                    .map_err(BadRecord::Json)?;
                for k in 0..self.refs.len() {
                    self.vals[k] = match self.found[k] {
                        None => Val::Empty,
                        Some(f) if f.escaped => {
                            let b = &mut self.bufs[k];
                            b.clear();
                            json::unescape_into(&rec[f.start..f.end], b)
                                .map_err(BadRecord::Json)?;
                            Val::Buf
                        }
                        Some(f) => Val::Rec(f.start, f.end),
                    };
                }
            }
        }
        Ok(())
    }

    /// Value `k` of the record last extracted (which must be `rec`).
    #[inline]
    pub fn get<'a>(&'a self, rec: &'a [u8], k: usize) -> &'a [u8] {
        match self.vals[k] {
            Val::Empty => &[],
            Val::Rec(a, b) => &rec[a..b],
            Val::Csv(a, b) => &self.csv.out[a..b],
            Val::Buf => &self.bufs[k],
        }
    }
}

/// One CSV record decoded into reused buffers.
#[derive(Default)]
struct CsvDecoder {
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl CsvDecoder {
    fn parse(&mut self, rec: &[u8], delim: u8) -> Result<(), BadRecord> {
        let mut rdr = csv_core::ReaderBuilder::new().delimiter(delim).build();
        if self.out.len() < rec.len() + 1 {
            self.out.resize(rec.len() + 1, 0);
        }
        if self.ends.len() < 16 {
            self.ends.resize(16, 0);
        }
        let mut input = rec;
        let (mut nout, mut nends) = (0, 0);
        let mut finishing = false;
        loop {
            let (res, nin, o, e) =
                rdr.read_record(input, &mut self.out[nout..], &mut self.ends[nends..]);
            input = &input[nin..];
            nout += o;
            nends += e;
            use csv_core::ReadRecordResult as Res;
            match res {
                Res::InputEmpty if !finishing && input.is_empty() => finishing = true,
                Res::InputEmpty => return Err(BadRecord::Csv),
                Res::OutputFull => {
                    let l = self.out.len();
                    self.out.resize(l * 2, 0);
                }
                Res::OutputEndsFull => {
                    let l = self.ends.len();
                    self.ends.resize(l * 2, 0);
                }
                Res::Record | Res::End => break,
            }
        }
        // Only whole records reach here: a quote left open is malformed.
        if !input.is_empty() {
            return Err(BadRecord::Csv);
        }
        self.ends.truncate(nends);
        let _ = nout;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_numbers_spans_names_and_paths() {
        let cols = [b"id".to_vec(), b"price".to_vec()];
        assert_eq!(resolve("2", false, None), Ok(FieldRef::Index(1)));
        assert_eq!(resolve("2-3", false, None), Ok(FieldRef::Span(1, 2)));
        assert_eq!(resolve("price", false, Some(&cols)), Ok(FieldRef::Index(1)));
        assert_eq!(
            resolve("a.b", true, None),
            Ok(FieldRef::Path(vec![b"a".to_vec(), b"b".to_vec()]))
        );
        assert!(resolve("0", false, None).is_err());
        assert!(resolve("3-2", false, None).is_err());
        assert_eq!(
            resolve("x", false, Some(&cols)),
            Err("no column named 'x'".to_string())
        );
        assert!(resolve("x", false, None).is_err_and(|e| e.contains("--header")));
    }

    /// fuzz/ (expr target): a huge field number overflowed a preallocation and panicked.
    #[test]
    fn regression_fuzz_huge_field_number() {
        let refs = vec![
            FieldRef::Span(1, 44444444444444442),
            FieldRef::Index(usize::MAX - 1),
        ];
        assert_eq!(all(Fmt::Tsv(b'\t'), refs.clone(), "a\tb\tc"), ["b\tc", ""]);
        assert_eq!(all(Fmt::Csv(b','), refs, "a,b,c").len(), 2);
    }

    fn all(fmt: Fmt, refs: Vec<FieldRef>, rec: &str) -> Vec<String> {
        let mut x = Extractor::new(fmt, refs);
        x.extract(rec.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        (0..x.refs.len())
            .map(|k| String::from_utf8_lossy(x.get(rec.as_bytes(), k)).into_owned())
            .collect()
    }

    #[test]
    fn tsv() {
        use FieldRef::*;
        let got = all(
            Fmt::Tsv(b'\t'),
            vec![Index(0), Index(2), Span(1, 2), Span(1, 9), Index(5)],
            "a\tb\tc\td",
        );
        assert_eq!(got, ["a", "c", "b\tc", "b\tc\td", ""]);
        let got = all(Fmt::Tsv(b'\t'), vec![Index(0), Index(1)], "");
        assert_eq!(got, ["", ""]);
    }

    #[test]
    fn csv() {
        use FieldRef::*;
        let got = all(
            Fmt::Csv(b','),
            vec![Index(0), Index(1), Span(0, 1), Index(3)],
            "a,\"b,\"\"c\"\"\",d",
        );
        assert_eq!(got, ["a", "b,\"c\"", "a,b,\"c\"", ""]);
        let mut x = Extractor::new(Fmt::Csv(b','), vec![Index(0)]);
        // Decoding the same buffers many times stays correct (no state leaks between records).
        for rec in [
            "x,y",
            "\"p\"",
            "",
            "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18",
        ] {
            x.extract(rec.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(x.get(b"", 0), b"1");
    }
}
