//! In-mapper combining (`bmap --combine AGG`): what bmap emits is aggregated in a hash
//! table instead of written, and the table is written as partial lines — the format of
//! `breduce --partial` and `bshuffle --combine` ([`crate::aggs`]) — for
//! `breduce --merge` to finish. The key is the emitted record's first field.
//!
//! When the table outgrows its share of `-S` its groups are written as partial lines (in
//! the order they were first seen) and it starts empty again, so memory stays bounded and
//! the merged result exact: a key may then have several partial lines, which
//! `breduce --merge` merges in the order it reads them.
//!
//! A thin wrapper over the aggregation engine's public types ([`Aggs`], [`Groups`]), so that
//! bmap needs nothing else from it.

use agg::engine::aggs::{self, Aggs};
use agg::table::Groups;
use agg::{Op, Spec};
use cli::At;
use cli::{Error, Result};
use record::keymap::KeyMap;
use record::{FieldSplit, Format, Key, KeyOpts, KeySpec, RecordOrder};

/// Parse `--combine` values, refusing what is not an aggregate or cannot be partial.
pub fn specs<'a>(texts: impl Iterator<Item = &'a String>) -> Result<Vec<Spec>> {
    let specs = aggs::parse_specs(texts)?;
    aggs::require_combinable(&specs, "--combine")?;
    Ok(specs)
}

/// Whether every aggregate's state is the same whatever order its values come in, so that
/// each thread may combine its own blocks (counts, exact sums and means, sets).
pub fn order_free(specs: &[Spec]) -> bool {
    specs.iter().all(|s| {
        matches!(
            s.op,
            Op::Count | Op::Sum | Op::Mean | Op::CountDistinct | Op::Distinct
        )
    })
}

/// Counts alone (`--words --combine count`): each key's first-seen number and count in its
/// slot, so that a token touches one slot; the keys, by number, for the flush.
#[derive(Default)]
struct Counts {
    map: KeyMap<(u32, u64)>,
    keys: Vec<u8>,
    key_at: Vec<(usize, u32)>,
}

/// One combining table.
pub struct Combine {
    aggs: Aggs,
    order: RecordOrder,
    groups: Groups,
    counts: Counts,
    /// What the states grew by since the last flush.
    grown: usize,
    limit: usize,
    eol: u8,
}

impl Combine {
    /// A table for `specs` over emitted TSV records (`header`: the emitted columns' names,
    /// for aggregates naming them), flushed when it holds about `limit` bytes.
    pub fn new(
        specs: Vec<Spec>,
        header: Option<&[Vec<u8>]>,
        limit: usize,
        eol: u8,
    ) -> Result<Combine> {
        let format = Format::Text(FieldSplit::Char(b'\t'));
        let mut aggs = Aggs::new(specs, format, header, false)?;
        aggs.also_scan(0);
        let spec = KeySpec::parse("1").map_err(|e| Error::Usage(e.to_string()))?;
        let key = Key::resolve(&spec, format, None).map_err(Error::Usage)?;
        let order = RecordOrder::new(format, vec![key], KeyOpts::default(), true);
        let groups = Groups::new(aggs.specs.iter().map(|s| s.op).collect(), false);
        Ok(Combine {
            aggs,
            order,
            groups,
            counts: Counts::default(),
            grown: 0,
            limit: limit.max(1),
            eol,
        })
    }

    /// An empty table for the same aggregates, for another thread.
    pub fn fresh(&self, limit: usize) -> Combine {
        Combine {
            aggs: self.aggs.fresh(),
            order: self.order.clone(),
            groups: Groups::new(self.aggs.specs.iter().map(|s| s.op).collect(), false),
            counts: Counts::default(),
            grown: 0,
            limit: limit.max(1),
            eol: self.eol,
        }
    }

    /// The partial lines' header: the key's column name, then each aggregate's.
    pub fn header(&self, fields: &[Vec<u8>]) -> Vec<u8> {
        self.aggs.header(&self.order, fields, self.eol)
    }

    /// Whether every record in `lines` (records each ended by the terminator, as bmap
    /// emits them) could be fed without an error; nothing is fed.
    pub fn check(&mut self, lines: &[u8], at: &At) -> Result<()> {
        for rec in split(lines, self.eol) {
            self.aggs.prepare(rec, at)?;
            self.aggs.check(rec, at)?;
        }
        Ok(())
    }

    /// Feed every record of `lines` to its group; when the table is full, append its
    /// groups to `out` as partial lines and empty it. Returns how many lines were written.
    pub fn feed(&mut self, lines: &[u8], at: &At, out: &mut Vec<u8>) -> Result<u64> {
        let mut written = 0;
        for rec in split(lines, self.eol) {
            self.aggs.prepare(rec, at)?;
            let key = self.aggs.field(rec, 0);
            let (states, _) = self.groups.states_for(key, key);
            self.grown += self.aggs.update(states, rec, at)?;
            if self.grown + self.groups.bytes() > self.limit {
                written += self.flush(out)?;
            }
        }
        Ok(written)
    }

    /// Whether every aggregate is `count`: then [`Combine::words`] counts tokens directly.
    pub fn counts_only(&self) -> bool {
        self.aggs.specs.iter().all(|s| s.op == Op::Count)
    }

    /// `--words` with only counts ([`Combine::counts_only`]): count each token of `text`
    /// (as [`map::words::tokens`] cuts them) without writing and reading back its
    /// `TOKEN<TAB>1` line; `lower` folds ASCII case. Returns how many lines were written.
    pub fn words(&mut self, text: &[u8], lower: bool, out: &mut Vec<u8>) -> Result<u64> {
        let mut written = 0;
        let mut folded = Vec::new();
        let mut failed = None;
        map::words::each_token(text, self.eol, |tok| {
            let key = if lower {
                folded.clear();
                folded.extend_from_slice(tok);
                folded.make_ascii_lowercase();
                &folded[..]
            } else {
                tok
            };
            let c = &mut self.counts;
            let next = c.key_at.len() as u32;
            let (slot, new) = c.map.entry(key, || (next, 0));
            slot.1 += 1;
            if new {
                c.key_at.push((c.keys.len(), key.len() as u32));
                c.keys.extend_from_slice(key);
            }
            let used = c.map.len() * 64 + c.keys.len() + c.key_at.len() * 16;
            if used > self.limit && failed.is_none() {
                match self.flush(out) {
                    Ok(n) => written += n,
                    Err(e) => failed = Some(e),
                }
            }
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }

    /// Append every group to `out` as a partial line, in the order the keys came, and
    /// empty the table. Returns how many lines.
    pub fn flush(&mut self, out: &mut Vec<u8>) -> Result<u64> {
        let n = self.groups.len();
        for g in 0..n {
            let (key, states) = self.groups.item_and_states(g);
            self.aggs.write(
                &self.order,
                key,
                states,
                aggs::Output::Partial,
                self.eol,
                out,
            )?;
        }
        self.groups.clear();
        // The counts, in first-seen order.
        let c = &mut self.counts;
        let mut by_number = vec![0u64; c.key_at.len()];
        for &(g, k) in c.map.values() {
            by_number[g as usize] = k;
        }
        let width = self.aggs.specs.len();
        for (g, &k) in by_number.iter().enumerate() {
            let (at, len) = c.key_at[g];
            let mut states: Vec<agg::State> = (0..width).map(|_| agg::State::Count(k)).collect();
            self.aggs.write(
                &self.order,
                &c.keys[at..at + len as usize],
                &mut states,
                aggs::Output::Partial,
                self.eol,
                out,
            )?;
        }
        let n = n + by_number.len();
        c.map.clear();
        c.keys.clear();
        c.key_at.clear();
        self.grown = 0;
        Ok(n as u64)
    }
}

/// The records of `lines`, each ended by `eol` (a last one without it too).
fn split(lines: &[u8], eol: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = lines;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (rec, next) = match memchr::memchr(eol, rest) {
            Some(p) => (&rest[..p], &rest[p + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        Some(rec)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn combine(specs: &[&str], limit: usize) -> Combine {
        let texts: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        Combine::new(
            super::specs(texts.iter()).unwrap_or_else(|e| panic!("{e:?}")),
            None,
            limit,
            b'\n',
        )
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    const AT: At = At { name: "t", line: 1 };

    #[test]
    fn groups_by_the_first_field_in_first_seen_order() {
        let mut c = combine(&["count", "sum:2"], 1 << 20);
        let mut out = Vec::new();
        assert_eq!(
            c.feed(b"b\t2\na\t1\nb\t3\n", &AT, &mut out)
                .unwrap_or_else(|e| panic!("{e:?}")),
            0
        );
        assert_eq!(c.flush(&mut out).unwrap_or_else(|e| panic!("{e:?}")), 2);
        let text = String::from_utf8(out).unwrap_or_else(|e| panic!("{e:?}"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("b\t") && lines[1].starts_with("a\t"),
            "{text}"
        );
    }

    #[test]
    fn a_full_table_flushes_and_goes_on() {
        let mut c = combine(&["count"], 1);
        let mut out = Vec::new();
        assert_eq!(
            c.feed(b"a\t1\na\t1\n", &AT, &mut out)
                .unwrap_or_else(|e| panic!("{e:?}")),
            2
        );
        assert_eq!(c.flush(&mut out).unwrap_or_else(|e| panic!("{e:?}")), 0);
    }

    #[test]
    fn a_non_number_is_an_error_at_the_record_and_check_feeds_nothing() {
        let mut c = combine(&["sum:2"], 1 << 20);
        let e = c
            .check(b"a\t1\na\tx\n", &AT)
            .err()
            .and_then(|e| e.message())
            .unwrap_or_default();
        assert!(e.contains("t:1") && e.contains("not a number"), "{e}");
        let mut out = Vec::new();
        assert_eq!(c.flush(&mut out).unwrap_or_else(|e| panic!("{e:?}")), 0);
        assert!(c.feed(b"a\tx", &AT, &mut out).is_err());
    }

    #[test]
    fn median_cannot_be_combined() {
        let texts = ["median:2".to_string()];
        assert!(specs(texts.iter()).is_err());
    }

    #[test]
    fn split_keeps_a_last_record_without_terminator() {
        let v: Vec<&[u8]> = split(b"a\nb", b'\n').collect();
        assert_eq!(v, vec![&b"a"[..], &b"b"[..]]);
        assert_eq!(split(b"", b'\n').count(), 0);
    }
}
