//! Aggregates over records, shared by breduce and `bshuffle --combine`: where each
//! aggregate's value comes from in a record (field, column name, JSON path), feeding groups'
//! states, and reading and writing partial lines.
//!
//! A partial line is TSV: the group's key(s), escaped (`\\`, `\t`, `\n`, `\r`), then one
//! text state per aggregate ([`crate::text`]). breduce `--partial` and `bshuffle --combine`
//! write them; `breduce --merge` reads them.

use super::{At, Error, Result};
use crate::{AggError, Op, Spec, State};
use record::{CsvScratch, FieldSplit, Format, RecordOrder};
use std::borrow::Cow;

/// Where an aggregate's value comes from.
#[derive(Clone)]
enum Source {
    None,
    Field(usize),
    Path(Vec<String>),
}

/// What a group's line holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Finished results (the default).
    Final,
    /// Partial states, for `breduce --merge`.
    Partial,
}

/// The aggregates of one run and how to read their values.
pub struct Aggs {
    pub specs: Vec<Spec>,
    /// Output column names (`count`, `sum_amount`, ...), for `--header`.
    pub names: Vec<String>,
    sources: Vec<Source>,
    format: Format,
    scratch: CsvScratch,
    /// Column ranges of the partial line being merged.
    cols: Vec<(usize, usize)>,
    /// Whether each aggregate's state grows with its values (sets, lists, value arrays).
    grows: Vec<bool>,
    /// Field ends of the current delimited record, and how many fields to find.
    cuts: record::Cuts,
    scan: usize,
}

/// Parse `AGG`s given as option values (bshuffle's `--combine`), refusing what is not one.
pub fn parse_specs<'a>(texts: impl Iterator<Item = &'a String>) -> Result<Vec<Spec>> {
    texts
        .map(|t| {
            Spec::parse(t).ok_or_else(|| {
                Error::Usage(format!(
                    "'{t}' is not an aggregate (count, sum:FIELD, mean:FIELD, ...)"
                ))
            })
        })
        .collect()
}

/// Partial states exist for every aggregate but median and quantiles.
pub fn require_combinable(specs: &[Spec], flag: &str) -> Result<()> {
    match specs.iter().find(|s| !crate::text::combinable(s.op)) {
        Some(s) => Err(Error::Usage(format!(
            "{} cannot be combined ({flag}): median and quantiles need every value in one place",
            s.text
        ))),
        None => Ok(()),
    }
}

impl Aggs {
    /// Resolve each aggregate's field for `format` (numbers, names with a header, JSON
    /// paths). `partial_input`: values come from partial lines by position instead.
    pub fn new(
        specs: Vec<Spec>,
        format: Format,
        header: Option<&[Vec<u8>]>,
        partial_input: bool,
    ) -> Result<Aggs> {
        let mut sources = Vec::with_capacity(specs.len());
        let mut names = Vec::with_capacity(specs.len());
        for s in &specs {
            let (src, name) = match &s.field {
                None => (Source::None, String::new()),
                Some(f) if partial_input => (Source::None, f.clone()),
                Some(f) if format == Format::Jsonl => (
                    Source::Path(f.split('.').map(str::to_string).collect()),
                    f.clone(),
                ),
                Some(f) => match f.parse::<usize>() {
                    Ok(0) => {
                        return Err(Error::Usage(format!(
                            "{}: field numbers start at 1",
                            s.text
                        )))
                    }
                    Ok(n) => {
                        let name = header
                            .and_then(|h| h.get(n - 1))
                            .map_or_else(|| f.clone(), |b| String::from_utf8_lossy(b).into_owned());
                        (Source::Field(n - 1), name)
                    }
                    Err(_) => {
                        let idx = header
                            .and_then(|h| h.iter().position(|c| c == f.as_bytes()))
                            .ok_or_else(|| {
                                Error::Usage(format!(
                                    "{}: no column named '{f}' (names need --header)",
                                    s.text
                                ))
                            })?;
                        (Source::Field(idx), f.clone())
                    }
                },
            };
            sources.push(src);
            names.push(s.column_name(&name));
        }
        let grows = specs
            .iter()
            .map(|s| {
                matches!(
                    s.op,
                    Op::Distinct | Op::CountDistinct | Op::Collect | Op::Median | Op::Quantile(_)
                )
            })
            .collect();
        let scan = sources
            .iter()
            .map(|s| match s {
                Source::Field(n) => n + 1,
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        Ok(Aggs {
            cuts: record::Cuts::default(),
            scan,
            grows,
            specs,
            names,
            sources,
            format,
            scratch: CsvScratch::default(),
            cols: Vec::new(),
        })
    }

    /// About what a new group costs in a hash table: the table's slot, the key (and the
    /// first record's item) on the heap, and the states.
    pub fn group_cost(&self, key_len: usize, item_len: usize) -> usize {
        key_len + item_len + self.specs.len() * std::mem::size_of::<State>() + 128
    }

    /// The same aggregates with buffers of their own, for another thread.
    pub fn fresh(&self) -> Aggs {
        Aggs {
            specs: self.specs.clone(),
            names: self.names.clone(),
            sources: self.sources.clone(),
            format: self.format,
            scratch: CsvScratch::default(),
            cols: Vec::new(),
            grows: self.grows.clone(),
            cuts: record::Cuts::default(),
            scan: self.scan,
        }
    }

    pub fn new_states(&self) -> Vec<State> {
        self.specs.iter().map(|s| State::new(s.op)).collect()
    }

    /// Aggregate `i`'s value in `rec` (after [`Aggs::parse_csv`] for CSV).
    #[inline]
    fn value<'a>(&'a self, i: usize, rec: &'a [u8], at: &At) -> Result<Cow<'a, [u8]>> {
        Ok(match &self.sources[i] {
            Source::None => Cow::Borrowed(&[]),
            Source::Field(n) => Cow::Borrowed(match self.format {
                Format::Text(FieldSplit::Char(_)) => self.cuts.field(rec, *n),
                Format::Csv(_) => self.scratch.field(*n),
                _ => record::Span::field(*n).extract(rec, FieldSplit::Blank),
            }),
            Source::Path(p) => record::json::lookup(rec, p)
                .map_err(|e| Error::Data(format!("{at}: {e}")))?
                .unwrap_or(Cow::Borrowed(&[])),
        })
    }

    /// Also find field `n` (0-based) of each delimited record, for [`Aggs::field`].
    pub fn also_scan(&mut self, n: usize) {
        self.scan = self.scan.max(n + 1);
    }

    /// Read `rec`'s fields once for all aggregates (and the key): find the fields of a
    /// delimited record, decode a CSV one. Before [`Aggs::update`] and [`Aggs::check`].
    #[inline]
    pub fn prepare(&mut self, rec: &[u8], at: &At) -> Result<()> {
        match self.format {
            Format::Text(FieldSplit::Char(t)) => self.cuts.scan(rec, t, self.scan),
            Format::Csv(d) => self
                .scratch
                .parse(rec, d)
                .map_err(|e| Error::Data(format!("{at}: {e}")))?,
            _ => {}
        }
        Ok(())
    }

    /// Swap the fields [`Aggs::prepare`] found with `other`: a caller that prepares several
    /// records before updating their groups keeps each record's fields, and swaps them back
    /// in before [`Aggs::update`], instead of finding them twice.
    #[inline]
    pub fn swap_cuts(&mut self, other: &mut record::Cuts) {
        std::mem::swap(&mut self.cuts, other);
    }

    /// Field `n` of the delimited record last given to [`Aggs::prepare`] (see
    /// [`Aggs::also_scan`]).
    #[inline]
    pub fn field<'a>(&self, rec: &'a [u8], n: usize) -> &'a [u8] {
        self.cuts.field(rec, n)
    }

    fn value_error(&self, i: usize, value: &[u8], e: AggError, at: &At) -> Error {
        match e {
            AggError::NotNumber => Error::Data(format!(
                "{at}: field {} is \"{}\": {}",
                self.specs[i].field.as_deref().unwrap_or("?"),
                String::from_utf8_lossy(value),
                // A number, but longer than exact decimals go: say so (issue 14: 3).
                if crate::decimal::too_long(value) {
                    "more than 38 significant digits (exact decimals stop there)"
                } else {
                    "not a number"
                }
            )),
            e => Error::Data(format!("{at}: {e}")),
        }
    }

    /// Whether `rec` can be fed without an error, so that a record skipped as bad
    /// (`--skip-bad`) leaves no trace in any state.
    pub fn check(&self, rec: &[u8], at: &At) -> Result<()> {
        for i in 0..self.specs.len() {
            let v = self.value(i, rec, at)?;
            if self.specs[i].op.numeric() && crate::decimal::parse(&v).is_none() {
                return Err(self.value_error(i, &v, AggError::NotNumber, at));
            }
        }
        Ok(())
    }

    /// Feed one record to a group's states; returns about how many bytes the states grew.
    #[inline]
    pub fn update(&self, states: &mut [State], rec: &[u8], at: &At) -> Result<usize> {
        let mut grew = 0;
        let delimited = matches!(self.format, Format::Text(FieldSplit::Char(_)));
        for (i, st) in states.iter_mut().enumerate() {
            // The usual cases without the general path's Cow: count, a delimited field.
            match (&self.sources[i], &mut *st) {
                (Source::None, State::Count(n)) => {
                    *n += 1;
                    continue;
                }
                (Source::Field(n), st) if delimited => {
                    let v = self.cuts.field(rec, *n);
                    if self.grows[i] {
                        grew += v.len() + 32;
                    }
                    if let Err(e) = st.update(v) {
                        return Err(self.value_error(i, v, e, at));
                    }
                    continue;
                }
                _ => {}
            }
            let v = self.value(i, rec, at)?;
            if self.grows[i] {
                grew += v.len() + 32;
            }
            if let Err(e) = st.update(&v) {
                return Err(self.value_error(i, &v, e, at));
            }
        }
        Ok(grew)
    }

    /// A partial line as an item of `order` (an order whose format extracts): the line, then
    /// its first `order.keys.len()` columns unescaped as the keys. Checks the column count.
    pub fn partial_item(
        &mut self,
        order: &RecordOrder,
        line: &[u8],
        item: &mut Vec<u8>,
        at: &At,
    ) -> Result<()> {
        self.cols.clear();
        let mut start = 0;
        for t in memchr::memchr_iter(b'\t', line) {
            self.cols.push((start, t));
            start = t + 1;
        }
        self.cols.push((start, line.len()));
        let (k, a) = (order.keys.len(), self.specs.len());
        if self.cols.len() != k + a {
            return Err(Error::Data(format!(
                "{at}: a partial line has {} columns, not {k} key{} and {a} state{} (written by --partial or bshuffle --combine with the same -k and aggregates?)",
                self.cols.len(),
                if k == 1 { "" } else { "s" },
                if a == 1 { "" } else { "s" },
            )));
        }
        item.clear();
        record::order::push_item_part(item, |b| b.extend_from_slice(line));
        for &(s, e) in &self.cols[..k] {
            record::order::push_item_part(item, |b| {
                crate::text::unescape(&line[s..e], false, b);
            });
        }
        Ok(())
    }

    /// Decode the states of the partial line last given to [`Aggs::partial_item`].
    pub fn partial_states(&self, line: &[u8], at: &At) -> Result<Vec<State>> {
        let k = self.cols.len() - self.specs.len();
        self.specs
            .iter()
            .zip(&self.cols[k..])
            .map(|(s, &(a, b))| {
                State::decode_text(s.op, &line[a..b]).map_err(|e| Error::Data(format!("{at}: {e}")))
            })
            .collect()
    }

    /// Append a group's line: its key(s), then each aggregate, finished or partial.
    pub fn write(
        &self,
        order: &RecordOrder,
        item: &[u8],
        states: &mut [State],
        what: Output,
        eol: u8,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        for i in 0..order.keys.len() {
            if i > 0 {
                out.push(b'\t');
            }
            match what {
                Output::Final => out.extend_from_slice(order.key(item, i)),
                Output::Partial => crate::text::escape(order.key(item, i), false, out),
            }
        }
        for (i, st) in states.iter_mut().enumerate() {
            out.push(b'\t');
            match what {
                Output::Partial => st.encode_text(out),
                Output::Final => st.finish(self.specs[i].op, out).map_err(|e| {
                    let mut key = Vec::new();
                    order.key_bytes(item, &mut key);
                    Error::Data(format!(
                        "group '{}': {}: {e}",
                        String::from_utf8_lossy(&key),
                        self.specs[i].text
                    ))
                })?,
            }
        }
        out.push(eol);
        Ok(())
    }

    /// The header line: key column names, then each aggregate's column name.
    pub fn header(&self, order: &RecordOrder, fields: &[Vec<u8>], eol: u8) -> Vec<u8> {
        let mut line = Vec::new();
        for (i, k) in order.keys.iter().enumerate() {
            if i > 0 {
                line.push(b'\t');
            }
            match &k.source {
                record::KeySource::Span(s) => line
                    .extend_from_slice(fields.get(s.sword).map_or(&b"key"[..], |v| v.as_slice())),
                record::KeySource::Path(p) => line.extend_from_slice(p.join(".").as_bytes()),
            }
        }
        for n in &self.names {
            line.push(b'\t');
            line.extend_from_slice(n.as_bytes());
        }
        line.push(eol);
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use record::{FieldSplit, Key, KeyOpts, KeySpec};

    const TSV: Format = Format::Text(FieldSplit::Char(b'\t'));

    fn specs(texts: &[&str]) -> Vec<Spec> {
        let owned: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        parse_specs(owned.iter()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn order() -> RecordOrder {
        let spec = KeySpec::parse("1").unwrap_or_else(|e| panic!("{e}"));
        let key = Key::resolve(&spec, TSV, None).unwrap_or_else(|e| panic!("{e}"));
        RecordOrder::new(TSV, vec![key], KeyOpts::default(), true)
    }

    const AT: At = At {
        name: "in.tsv",
        line: 7,
    };

    /// Feed `records` to one group's states and write its line.
    fn reduce(aggs: &mut Aggs, records: &[&str], what: Output) -> Result<String> {
        let mut states = aggs.new_states();
        for r in records {
            aggs.prepare(r.as_bytes(), &AT)?;
            aggs.update(&mut states, r.as_bytes(), &AT)?;
        }
        let mut out = Vec::new();
        let item = records.first().map_or(&b""[..], |r| r.as_bytes());
        aggs.write(&order(), item, &mut states, what, b'\n', &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn records_feed_states_and_lines_come_out() {
        let mut aggs = Aggs::new(specs(&["count", "sum:2", "max:3"]), TSV, None, false)
            .unwrap_or_else(|e| panic!("{e}"));
        let recs = ["k\t0.10\t5", "k\t0.20\t-3", "k\t7\t12"];
        let line = reduce(&mut aggs, &recs, Output::Final).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(line, "k\t3\t7.30\t12\n");
        let partial = reduce(&mut aggs, &recs, Output::Partial).unwrap_or_else(|e| panic!("{e}"));
        // 7.30, then what 0.10, 0.20 and 7 as doubles sum to beyond 7.30's double.
        assert_eq!(partial, "k\t3\t7.30~0x1.cp-53\t=12\n");
    }

    #[test]
    fn bad_values_and_specs_are_errors_that_say_where() {
        let mut aggs =
            Aggs::new(specs(&["sum:2"]), TSV, None, false).unwrap_or_else(|e| panic!("{e}"));
        match reduce(&mut aggs, &["k\t1", "k\tx1"], Output::Final) {
            Err(Error::Data(m)) => assert_eq!(m, "in.tsv:7: field 2 is \"x1\": not a number"),
            other => panic!("{other:?}"),
        }
        let mut check = |rec: &[u8]| {
            aggs.prepare(rec, &AT)?;
            aggs.check(rec, &AT)
        };
        assert!(check(b"k\tx").is_err());
        assert!(check(b"k\t2.5").is_ok());
        let long = format!("k\t{}", "1".repeat(39));
        match check(long.as_bytes()) {
            Err(Error::Data(m)) => assert!(m.contains("more than 38 significant digits"), "{m}"),
            other => panic!("{other:?}"),
        }
        for bad in [&["sum:0"][..], &["sum:amount"][..]] {
            assert!(matches!(
                Aggs::new(specs(bad), TSV, None, false),
                Err(Error::Usage(_))
            ));
        }
        let header = [b"key".to_vec(), b"amount".to_vec()];
        let named = Aggs::new(specs(&["sum:amount"]), TSV, Some(&header), false)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(named.names, ["sum_amount"]);
        let texts = ["count".to_string(), "nope:2".to_string()];
        assert!(matches!(parse_specs(texts.iter()), Err(Error::Usage(_))));
        assert!(matches!(
            require_combinable(&specs(&["median:2"]), "--combine"),
            Err(Error::Usage(_))
        ));
    }

    /// A partial line read back with --merge's order and merged with another equals the
    /// line of all records at once.
    #[test]
    fn partial_lines_read_back_and_merge() {
        let all = specs(&["count", "sum:2", "mean:2", "distinct:3", "first:3"]);
        let mut aggs = Aggs::new(all.clone(), TSV, None, false).unwrap_or_else(|e| panic!("{e}"));
        let recs = ["k\t1e16\ta", "k\t1.5\tb,c", "k\t-1e16\ta", "k\t0.25\t\\"];
        let want = reduce(&mut aggs, &recs, Output::Final).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(want, "k\t4\t1.75\t0.4375\t\\,a,b,c\ta\n");
        let (a, b) = recs.split_at(1);
        let pa = reduce(&mut aggs, a, Output::Partial).unwrap_or_else(|e| panic!("{e}"));
        let pb = reduce(&mut aggs, b, Output::Partial).unwrap_or_else(|e| panic!("{e}"));
        let mut merge = Aggs::new(all, TSV, None, true).unwrap_or_else(|e| panic!("{e}"));
        let spec = KeySpec::parse("1").unwrap_or_else(|e| panic!("{e}"));
        let key = Key::resolve(&spec, TSV, None).unwrap_or_else(|e| panic!("{e}"));
        let morder = RecordOrder::new(Format::Jsonl, vec![key], KeyOpts::default(), true);
        let mut item = Vec::new();
        let mut states: Option<Vec<State>> = None;
        for p in [&pa, &pb] {
            let line = p.trim_end_matches('\n').as_bytes();
            merge
                .partial_item(&morder, line, &mut item, &AT)
                .unwrap_or_else(|e| panic!("{e}"));
            let st = merge
                .partial_states(line, &AT)
                .unwrap_or_else(|e| panic!("{e}"));
            match &mut states {
                None => states = Some(st),
                Some(s) => s.iter_mut().zip(st).for_each(|(x, y)| x.merge(y)),
            }
        }
        let mut states = states.unwrap_or_default();
        let mut out = Vec::new();
        merge
            .write(&morder, &item, &mut states, Output::Final, b'\n', &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(String::from_utf8_lossy(&out), want);
        // A line with the wrong number of columns says what it should have.
        match merge.partial_item(&morder, b"k\t1", &mut item, &AT) {
            Err(Error::Data(m)) => assert!(m.contains("not 1 key and 5 states"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
