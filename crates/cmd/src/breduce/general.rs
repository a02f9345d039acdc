//! breduce's general paths, for what the block engine (`agg::engine::hash`) does not take
//! (a `--header`, `--skip-bad`, keys other than one plain field, `--merge`): `--hash` over a
//! table of groups spilled through the sort, and streaming over key-sorted input.

use agg::engine::aggs::{self, Aggs};
use agg::engine::spill::{check_spillable, finish_spilled, spill_groups, SpillOrder};
use agg::engine::Sink;
use agg::table::Groups;
use agg::State;
use cli::bad::BadRecords;
use cli::{input, At, Error, Inputs, Output, Progress, Result, Stats};
use extsort::Sorter;
use record::{CsvScratch, RecordOrder};
use std::cmp::Ordering;
use std::io::Write;

/// Writes groups' lines to the (buffered) output and counts them.
pub(crate) struct GroupWriter {
    pub out: Output,
    pub line: Vec<u8>,
    pub groups: u64,
    pub what: aggs::Output,
    pub eol: u8,
}

impl GroupWriter {
    pub(crate) fn group(
        &mut self,
        aggs: &Aggs,
        order: &RecordOrder,
        item: &[u8],
        states: &mut [State],
    ) -> Result<()> {
        Ok(Sink::group(self, aggs, order, item, states)?)
    }
}

impl Sink for GroupWriter {
    fn what(&self) -> aggs::Output {
        self.what
    }

    fn lines(&mut self, bytes: &[u8], groups: u64) -> agg::engine::Result<()> {
        self.groups += groups;
        self.out
            .write_all(bytes)
            .map_err(|e| agg::engine::Error::Io("write error".into(), e))
    }

    fn group(
        &mut self,
        aggs: &Aggs,
        order: &RecordOrder,
        item: &[u8],
        states: &mut [State],
    ) -> agg::engine::Result<()> {
        self.line.clear();
        aggs.write(order, item, states, self.what, self.eol, &mut self.line)?;
        self.groups += 1;
        self.out
            .write_all(&self.line)
            .map_err(|e| agg::engine::Error::Io("write error".into(), e))
    }
}

/// Reads one record's item and, for --merge, its states; a bad record is an error here.
pub(super) struct Records<'a> {
    pub order: &'a RecordOrder,
    pub merge: bool,
    pub skipping: bool,
    pub scratch: CsvScratch,
}

impl Records<'_> {
    pub fn read(
        &mut self,
        rec: &[u8],
        at: &At,
        item: &mut Vec<u8>,
        aggs: &mut Aggs,
    ) -> Result<Option<Vec<State>>> {
        let order = self.order;
        if self.merge {
            aggs.partial_item(order, rec, item, at)?;
            return Ok(aggs.partial_states(rec, at).map(Some)?);
        }
        aggs.prepare(rec, at)?;
        let it = input::item_of(order, rec, item, &mut self.scratch, at)?;
        if !order.format.extracts() {
            // A TSV record is its own item (nothing copied); an empty `item` says so.
            debug_assert!(std::ptr::eq(it, rec));
            item.clear();
        }
        if self.skipping {
            aggs.check(rec, at)?;
        }
        Ok(None)
    }
}

/// A record's item and states (see [`Records::read`]); `None` when it is bad and skipped
/// (`--skip-bad`), an error when bad records are fatal.
fn read_or_skip(
    records: &mut Records,
    bad: &mut BadRecords,
    rec: &[u8],
    at: &At,
    item: &mut Vec<u8>,
    aggs: &mut Aggs,
) -> Result<Option<Option<Vec<State>>>> {
    match records.read(rec, at, item, aggs) {
        Ok(p) => Ok(Some(p)),
        Err(e) => bad.check(Err(e), rec).map(|_| None),
    }
}

/// Feed a record (or a partial line's states) to a group.
pub(super) fn feed(
    aggs: &Aggs,
    states: &mut [State],
    rec: &[u8],
    partial: Option<Vec<State>>,
    at: &At,
) -> Result<usize> {
    match partial {
        Some(p) => {
            let mut grew = 0;
            for (a, b) in states.iter_mut().zip(p) {
                if matches!(b, State::Set(_) | State::Collect(..)) {
                    grew += 64;
                }
                a.merge(b);
            }
            Ok(grew)
        }
        None => Ok(aggs.update(states, rec, at)?),
    }
}

/// What both general paths work with.
pub(super) struct Run<'a> {
    pub order: &'a RecordOrder,
    /// The Hadoop Streaming key: one whole field, plain bytes.
    pub plain: Option<(u8, usize)>,
    pub records: Records<'a>,
    pub progress: &'a Progress,
    pub bad: &'a mut BadRecords,
    pub out: &'a mut GroupWriter,
    pub stats: &'a mut Stats,
}

/// `--hash`: groups live in a hash table within half the budget; when it fills, their
/// partial states are spilled, sorted by key, through extsort (`cfg`, the other half) and
/// merged back at the end, so any number of groups fits.
pub(super) fn hash(
    mut r: Run,
    inputs: &mut Inputs,
    aggs: &mut Aggs,
    budget: usize,
    cfg: extsort::Config,
) -> Result<()> {
    let plain = r.plain;
    let mut item = Vec::new();
    let mut key = Vec::new();
    // Without items when the key says all (the first field, plain bytes): the key is
    // then the item the writer and the orders need.
    let keep_items = !matches!(plain, Some((_, 0)));
    let mut groups = Groups::new(aggs.specs.iter().map(|s| s.op).collect(), keep_items);
    let mut grown = 0usize;
    let limit = (budget / 2).max(1);
    let mut sorter: Option<Sorter<SpillOrder>> = None;
    let spill = |groups: &mut Groups, sorter: &mut Option<Sorter<SpillOrder>>| -> Result<()> {
        if sorter.is_none() {
            *sorter = Some(Sorter::new(SpillOrder(r.order.clone()), cfg.clone())?);
        }
        match sorter {
            Some(s) => Ok(spill_groups(groups, s)?),
            None => Ok(()),
        }
    };
    inputs.for_each(r.progress, |rec, at| {
        r.stats.records_in += 1;
        let Some(partial) = read_or_skip(&mut r.records, r.bad, rec, &at, &mut item, aggs)? else {
            return Ok(());
        };
        let it: &[u8] = if item.is_empty() { rec } else { &item };
        let k: &[u8] = match plain {
            Some((_, f)) => aggs.field(rec, f),
            None => {
                key.clear();
                r.order.key_bytes(it, &mut key);
                &key
            }
        };
        // One hash per record; the key (and item) copied only for a new group.
        let (states, new) = groups.states_for(k, it);
        if new {
            check_spillable(&cfg, budget, &at, it, k, keep_items)?;
        }
        grown += feed(aggs, states, rec, partial, &at)?;
        if grown + groups.bytes() > limit {
            spill(&mut groups, &mut sorter)?;
            grown = 0;
        }
        Ok(())
    })?;
    if sorter.is_some() {
        spill(&mut groups, &mut sorter)?;
    }
    if let Some(s) = sorter.take() {
        r.stats.add_sort(&finish_spilled(s, aggs, r.order, r.out)?);
    }
    // Whatever never spilled, sorted by key: by normalized keys (bytes whose order is
    // the key order, made once per group), so that the sort never re-reads records.
    let mut norms: Vec<u8> = Vec::new();
    let mut sorted: Vec<(usize, u32, usize)> = Vec::with_capacity(groups.len());
    let mut exact = true;
    for g in 0..groups.len() {
        let start = norms.len();
        if keep_items {
            exact &= r.order.normalized(groups.item(g), &mut norms);
        } else {
            // A plain first-field key: its bytes are its order.
            norms.extend_from_slice(groups.key(g));
        }
        sorted.push((start, (norms.len() - start) as u32, g));
    }
    let norm = |e: &(usize, u32, usize)| &norms[e.0..e.0 + e.1 as usize];
    sorted.sort_unstable_by(|a, b| {
        let by_keys = if exact {
            // Equal normalized keys may still differ in the order (-g compares a prefix).
            norm(a)
                .cmp(norm(b))
                .then_with(|| r.order.compare_keys(groups.item(a.2), groups.item(b.2)))
        } else {
            r.order.compare_keys(groups.item(a.2), groups.item(b.2))
        };
        by_keys.then_with(|| groups.key(a.2).cmp(groups.key(b.2)))
    });
    for &(_, _, g) in &sorted {
        let (it, states) = groups.item_and_states(g);
        r.out.group(aggs, r.order, it, states)?;
    }
    Ok(())
}

/// Streaming over key-sorted input: one group at a time, finished when the key changes; a
/// key that sorts before the previous one stops it. `fresh_parts`: the inputs are parts of a
/// directory hash-partitioned and sorted by the key, so the order check restarts at each.
pub(super) fn stream(
    mut r: Run,
    inputs: &mut Inputs,
    aggs: &mut Aggs,
    fresh_parts: bool,
) -> Result<()> {
    let plain = r.plain;
    let mut item = Vec::new();
    // The current group: its first record's item (for key comparisons) and states.
    // The current group: its first record's item (for key comparisons and output), its
    // key bytes (with a plain key) and its states.
    let mut group: Option<(Vec<u8>, Vec<u8>, Vec<State>)> = None;
    let mut failed = None;
    let mut part_name: *const str = "";
    inputs.for_each(r.progress, |rec, at| {
        r.stats.records_in += 1;
        if failed.is_some() {
            // Keep reading to the end (the Hadoop Streaming contract), ignoring the rest.
            return Ok(());
        }
        let Some(partial) = read_or_skip(&mut r.records, r.bad, rec, &at, &mut item, aggs)? else {
            return Ok(());
        };
        let it: &[u8] = if item.is_empty() { rec } else { &item };
        if fresh_parts && !std::ptr::eq(at.name, part_name) {
            // A new part: its keys are none of the previous parts'.
            part_name = at.name;
            if let Some((first, _, mut states)) = group.take() {
                r.out.group(aggs, r.order, &first, &mut states)?;
            }
        }
        let same = match &group {
            Some((first, gk, _)) => match match plain {
                Some((_, f)) => gk.as_slice().cmp(aggs.field(rec, f)),
                None => r.order.compare_keys(first, it),
            } {
                Ordering::Equal => true,
                Ordering::Less => false,
                Ordering::Greater => {
                    failed = Some(Error::Runtime(format!(
                        "{at}: input is not sorted by key; sort it with bsort or use --hash"
                    )));
                    return Ok(());
                }
            },
            None => false,
        };
        if !same {
            if let Some((first, _, mut states)) = group.take() {
                r.out.group(aggs, r.order, &first, &mut states)?;
            }
            let gk = match plain {
                Some((_, f)) => aggs.field(rec, f).to_vec(),
                None => Vec::new(),
            };
            group = Some((it.to_vec(), gk, aggs.new_states()));
        }
        if let Some((_, _, states)) = &mut group {
            feed(aggs, states, rec, partial, &at)?;
        }
        Ok(())
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    if let Some((first, _, mut states)) = group.take() {
        r.out.group(aggs, r.order, &first, &mut states)?;
    }
    Ok(())
}
