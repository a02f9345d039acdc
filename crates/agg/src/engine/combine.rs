//! A combiner: a table of groups fed records, flushed as partial lines when it outgrows
//! its share of the memory budget (and at the end). `bshuffle --combine` runs one per
//! thread; an in-mapper combiner (`bmap --combine`) can do the same. Partial lines are
//! what `breduce --merge` finishes (see [`super::aggs`]): which records a flush held
//! changes no byte of the result for order-free aggregates (count, sum, mean, distinct,
//! countdistinct; see [`crate::Op`]).
//!
//! ```text
//! let mut c = Combiner::new(&aggs, limit);
//! for each record rec at `at`:
//!     c.prepare(rec, &at)?;                 // its fields, once
//!     let key = c.field(rec, 0);            // or any key bytes the caller builds
//!     if c.add(key, rec, &at)? {            // past the limit:
//!         c.flush(&order, |key, item, line| { /* route the partial line */ Ok(()) })?;
//!     }
//! c.flush(&order, ...)?;                    // what is left
//! ```

use super::{Aggs, At, Output, Result};
use crate::table::Groups;
use record::RecordOrder;

/// A table of groups, each with its first record (its item) and its states.
pub struct Combiner {
    aggs: Aggs,
    groups: Groups,
    /// Bytes the states grew by since the last flush (sets, lists).
    grown: usize,
    limit: usize,
    line: Vec<u8>,
}

impl Combiner {
    /// A combiner for `aggs` (it takes its own copy) flushing past about `limit` bytes.
    pub fn new(aggs: &Aggs, limit: usize) -> Combiner {
        let aggs = aggs.fresh();
        let ops = aggs.specs.iter().map(|s| s.op).collect();
        Combiner {
            aggs,
            groups: Groups::new(ops, true),
            grown: 0,
            limit: limit.max(1),
            line: Vec::new(),
        }
    }

    /// Read `rec`'s fields once (see [`Aggs::prepare`]): before [`Combiner::field`] and
    /// [`Combiner::add`].
    #[inline]
    pub fn prepare(&mut self, rec: &[u8], at: &At) -> Result<()> {
        self.aggs.prepare(rec, at)
    }

    /// Also find field `n` (0-based) of each delimited record, for [`Combiner::field`].
    pub fn also_scan(&mut self, n: usize) {
        self.aggs.also_scan(n);
    }

    /// Field `n` (0-based) of the delimited record last prepared.
    #[inline]
    pub fn field<'a>(&self, rec: &'a [u8], n: usize) -> &'a [u8] {
        self.aggs.field(rec, n)
    }

    /// Feed the prepared record `rec` to `key`'s group; whether the table is now past its
    /// limit (then [`Combiner::flush`] it). On an error (a bad value) the group may hold
    /// part of the record: stop, or check records first ([`Aggs::check`]).
    #[inline]
    pub fn add(&mut self, key: &[u8], rec: &[u8], at: &At) -> Result<bool> {
        let (states, _) = self.groups.states_for(key, rec);
        self.grown += self.aggs.update(states, rec, at)?;
        Ok(self.grown + self.groups.bytes() > self.limit)
    }

    /// How many groups the table holds.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Give every group's partial line (no line terminator) to `emit(key, item, line)`,
    /// in the order the groups were made, and empty the table. `order` reads the keys out
    /// of items for the line (the order the records were read with).
    pub fn flush(
        &mut self,
        order: &RecordOrder,
        mut emit: impl FnMut(&[u8], &[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        for g in 0..self.groups.len() {
            let (item, states) = self.groups.item_and_states(g);
            self.line.clear();
            self.aggs
                .write(order, item, states, Output::Partial, b'\n', &mut self.line)?;
            self.line.pop();
            emit(self.groups.key(g), self.groups.item(g), &self.line)?;
        }
        self.groups.clear();
        self.grown = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::aggs::parse_specs;
    use record::{FieldSplit, Format, Key, KeyOpts, KeySpec};

    const TSV: Format = Format::Text(FieldSplit::Char(b'\t'));

    #[test]
    fn a_combiner_flushes_partial_lines_past_its_limit() {
        let texts = ["count".to_string(), "sum:2".to_string()];
        let specs = parse_specs(texts.iter()).unwrap_or_else(|e| panic!("{e}"));
        let aggs = Aggs::new(specs, TSV, None, false).unwrap_or_else(|e| panic!("{e}"));
        let spec = KeySpec::parse("1").unwrap_or_else(|e| panic!("{e}"));
        let key = Key::resolve(&spec, TSV, None).unwrap_or_else(|e| panic!("{e}"));
        let order = RecordOrder::new(TSV, vec![key], KeyOpts::default(), true);
        // A limit of one byte: every record fills the table.
        for (limit, want) in [(1, "a 1 1|b 1 2|a 1 3|"), (1 << 20, "a 2 4|b 1 2|")] {
            let mut c = Combiner::new(&aggs, limit);
            let mut lines = String::new();
            let mut emit = |key: &[u8], item: &[u8], line: &[u8]| {
                assert!(item.starts_with(key));
                lines.push_str(&String::from_utf8_lossy(line).replace('\t', " "));
                lines.push('|');
                Ok(())
            };
            for (i, rec) in ["a\t1", "b\t2", "a\t3"].iter().enumerate() {
                let (rec, at) = (
                    rec.as_bytes(),
                    At {
                        name: "-",
                        line: i as u64 + 1,
                    },
                );
                c.prepare(rec, &at).unwrap_or_else(|e| panic!("{e}"));
                let k = c.field(rec, 0);
                if c.add(k, rec, &at).unwrap_or_else(|e| panic!("{e}")) {
                    c.flush(&order, &mut emit).unwrap_or_else(|e| panic!("{e}"));
                    assert!(c.is_empty());
                }
            }
            c.flush(&order, &mut emit).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(lines, want);
        }
        let mut c = Combiner::new(&aggs, 1 << 20);
        let at = At { name: "f", line: 9 };
        c.prepare(b"a\tx", &at).unwrap_or_else(|e| panic!("{e}"));
        let e = c.add(b"a", b"a\tx", &at).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("f:9: field 2 is \"x\": not a number"));
    }
}
