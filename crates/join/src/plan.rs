//! One join of a pair of inputs, start to end: the strategy (a hash join when the build
//! side fits the budget, else both sides through the external sort and a merge join; a
//! merge join straight away for inputs declared sorted), the build side's choice, the
//! fallback from a hash table that overflowed (its records go to the sort, not read
//! twice), and the probe on one or several threads.

use crate::blocks::{Block, CutError, Cutter, Framing};
use crate::{
    hash_join, merge_join, parallel, BlockProbe, Built, ChanInput, Config, Error, HashTable, Input,
    JoinKeys, JoinType, Layout, Result, Side, Stats,
};
use extsort::Sorter;
use record::{CsvScratch, Format, RecordOrder};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::mpsc;

/// An input as the caller opened it: records framed for the format, or its raw bytes for
/// the parallel probe, which cuts blocks itself.
pub trait Source {
    fn name(&self) -> &str;
    /// The next record, without its terminator (a CSV record may span lines).
    fn next_record(&mut self) -> Result<Option<&[u8]>>;
    /// The record [`Source::next_record`] returned last.
    fn last(&self) -> &[u8];
    /// Records read so far.
    fn line(&self) -> u64;
    /// What was read ahead, the reader, and whether it reached its end.
    fn into_parts(self) -> (Vec<u8>, Box<dyn Read + Send>, bool);
}

/// `--skip-bad` and `--bad-records`: where records whose key cannot be read go.
pub trait BadRecords: Sync {
    /// Whether bad records are skipped (else the first stops the join).
    fn skip(&self) -> bool;
    fn eol(&self) -> u8;
    /// One bad record, without its terminator.
    fn record(&self, rec: &[u8]) -> Result<()>;
    /// `n` bad records, each with its terminator.
    fn records(&self, recs: &[u8], n: u64) -> Result<()>;
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Strategy {
    /// Hash when the build side fits the budget, else sort both sides and merge.
    Auto,
    /// Hash, or fail when the build side does not fit.
    Hash,
    /// Sort both sides (unless declared sorted) and merge.
    Merge,
}

/// How to join a pair.
pub struct Plan<'a> {
    pub jt: JoinType,
    pub strategy: Strategy,
    /// The side the hash table holds; by default the smaller (or the right).
    pub build: Option<Side>,
    /// Both inputs are sorted by key already: merge join, order checked as it goes.
    pub sorted: bool,
    pub format: Format,
    pub eol: u8,
    pub budget: usize,
    pub sort_cfg: extsort::Config,
    pub join_cfg: Config,
    pub bad: &'a dyn BadRecords,
    /// Workers of the parallel probe; 0: probe on the calling thread (part pairs, which
    /// run in parallel already).
    pub threads: usize,
    /// Told each phase as it starts (build, probe, sort, merge), with its size in bytes when
    /// known and what of it was read already.
    pub phase: &'a (dyn Fn(&'static str, Option<u64>, u64) + Sync),
}

/// What the join of one pair did.
#[derive(Default, Debug)]
pub struct PairStats {
    pub join: Stats,
    pub bytes_in: u64,
    pub sort: extsort::Stats,
    /// `hash`, `merge`, `merge-sorted`.
    pub strategy: &'static str,
    pub build: Option<Side>,
    /// A hash join overflowed its budget and fell back to sort and merge.
    pub fallback: bool,
}

impl PairStats {
    /// Take the input counters from the two inputs.
    fn read<S: Source>(
        mut self,
        l: Option<&RecInput<'_, S>>,
        r: Option<&RecInput<'_, S>>,
    ) -> PairStats {
        self.bytes_in = l.map_or(0, |l| l.bytes) + r.map_or(0, |r| r.bytes);
        self.join.left_records = l.map_or(0, |l| l.count);
        self.join.right_records = r.map_or(0, |r| r.count);
        self
    }
}

/// One input read record by record, as items of its side's order.
struct RecInput<'o, S> {
    input: S,
    order: &'o RecordOrder,
    bad: &'o dyn BadRecords,
    item: Vec<u8>,
    scratch: CsvScratch,
    line: u64,
    bytes: u64,
    count: u64,
}

impl<'o, S: Source> RecInput<'o, S> {
    fn new(input: S, order: &'o RecordOrder, bad: &'o dyn BadRecords) -> Self {
        RecInput {
            input,
            order,
            bad,
            item: Vec::new(),
            scratch: CsvScratch::default(),
            line: 0,
            bytes: 0,
            count: 0,
        }
    }
}

impl<S: Source> Input for RecInput<'_, S> {
    fn advance(&mut self) -> Result<bool> {
        loop {
            self.line = self.input.line() + 1;
            let RecInput {
                input,
                order,
                bad,
                item,
                scratch,
                line,
                bytes,
                count,
            } = self;
            let Some(rec) = input.next_record()? else {
                return Ok(false);
            };
            *bytes += rec.len() as u64 + 1;
            if order.format.extracts() {
                item.clear();
                if let Err(e) = order.encode(rec, item, scratch) {
                    if !bad.skip() {
                        return Err(Error::Input(format!("{}:{line}: {e}", input.name())));
                    }
                    bad.record(rec)?;
                    continue;
                }
            }
            *count += 1;
            return Ok(true);
        }
    }

    fn current(&self) -> &[u8] {
        if self.order.format.extracts() {
            &self.item
        } else {
            self.input.last()
        }
    }

    fn at(&self) -> String {
        format!("{}:{}", self.input.name(), self.line)
    }
}

/// Push every remaining record of `input` into a sorter.
fn fill_sorter(sorter: &mut Sorter<RecordOrder>, input: &mut dyn Input) -> Result<()> {
    while input.advance()? {
        sorter.push(input.current()).map_err(|e| match e {
            extsort::Error::TooLarge { len, budget } => Error::Input(format!(
                "{}: a record of {len} bytes does not fit the memory budget of {budget} bytes (raise -S)",
                input.at()
            )),
            e => Error::Sort(e),
        })?;
    }
    Ok(())
}

/// Sort on a thread of `scope` and stream the result back through a channel.
fn sort_side<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    sorter: Sorter<RecordOrder>,
) -> (
    ChanInput,
    std::thread::ScopedJoinHandle<'scope, extsort::Result<extsort::Stats>>,
) {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(1);
    let handle = scope.spawn(move || {
        let emit = |item: &[u8], out: &mut Vec<u8>| {
            out.extend_from_slice(&(item.len() as u32).to_le_bytes());
            out.extend_from_slice(item);
        };
        let mut sink = |block: &[u8]| -> io::Result<()> {
            tx.send(block.to_vec())
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "join stopped"))
        };
        sorter.finish(&emit, &mut sink)
    });
    (ChanInput::new(rx), handle)
}

impl Plan<'_> {
    /// Join `left` and `right` (of `sizes` bytes when known) by `keys` into `layout`.
    pub fn join<S: Source, W: Write + Send + ?Sized>(
        &self,
        keys: &JoinKeys,
        left: S,
        right: S,
        sizes: [Option<u64>; 2],
        layout: &mut Layout<'_, &mut W>,
    ) -> Result<PairStats> {
        let mut ps = PairStats::default();
        let hashable = keys.hashable();
        if self.strategy == Strategy::Hash && !hashable {
            return Err(Error::Usage(
                "human-numeric keys (h) cannot be hashed; use --strategy merge".into(),
            ));
        }
        let use_hash = match self.strategy {
            Strategy::Hash => true,
            Strategy::Merge => false,
            Strategy::Auto => !self.sorted && hashable,
        };
        let mut fallback_table = None;
        // The inputs, raw until a strategy reads them (the parallel probe cuts its input
        // in blocks itself).
        let mut raw = [Some(left), Some(right)];
        let mut recs: [Option<RecInput<'_, S>>; 2] = [None, None];
        if use_hash {
            let build = self.build.unwrap_or(match sizes {
                [Some(l), Some(r)] if l < r => Side::Left,
                _ => Side::Right,
            });
            let (bi, si) = match build {
                Side::Left => (0, 1),
                Side::Right => (1, 0),
            };
            let too_big = self.strategy == Strategy::Auto
                && sizes[bi].is_some_and(|s| s as usize > self.budget);
            if let Some(b_raw) = raw[bi].take_if(|_| !too_big) {
                let b_in = recs[bi].insert(RecInput::new(b_raw, keys.order(build), self.bad));
                (self.phase)("build", sizes[bi], 0);
                match HashTable::build(keys, build, b_in, self.budget, &self.join_cfg)? {
                    Built::Fits(table) => {
                        let s_raw = raw[si].take().ok_or(Error::Internal("input missing"))?;
                        ps.strategy = "hash";
                        ps.build = Some(build);
                        (self.phase)("probe", sizes[si], 0);
                        if self.threads == 0 {
                            let mut s_in =
                                RecInput::new(s_raw, keys.order(build.other()), self.bad);
                            ps.join = hash_join(
                                keys,
                                self.jt,
                                &table,
                                &mut s_in,
                                layout,
                                &self.join_cfg,
                            )?;
                            recs[si] = Some(s_in);
                        } else {
                            let (stats, bytes) =
                                self.probe_parallel(keys, &table, s_raw, layout)?;
                            ps.join = stats;
                            ps.bytes_in = bytes + recs[bi].as_ref().map_or(0, |r| r.bytes);
                            return Ok(ps);
                        }
                        return Ok(ps.read(recs[0].as_ref(), recs[1].as_ref()));
                    }
                    Built::Overflow(table) => {
                        if self.strategy == Strategy::Hash {
                            return Err(Error::Budget(format!(
                                "the {} input ({}) does not fit the memory budget of {} bytes for a hash join (raise -S, or use --strategy merge or auto)",
                                build.name(),
                                b_in.input.name(),
                                self.budget
                            )));
                        }
                        ps.fallback = true;
                        fallback_table = Some(table);
                    }
                }
            }
        }
        let mut take = |i: usize, side: Side| -> Result<RecInput<'_, S>> {
            match (recs[i].take(), raw[i].take()) {
                (Some(r), _) => Ok(r),
                (None, Some(input)) => Ok(RecInput::new(input, keys.order(side), self.bad)),
                (None, None) => Err(Error::Internal("input missing")),
            }
        };
        let mut li = take(0, Side::Left)?;
        let mut ri = take(1, Side::Right)?;
        let both = match sizes {
            [Some(l), Some(r)] => Some(l + r),
            _ => None,
        };
        if self.sorted {
            (self.phase)("merge", both, 0);
            ps.join = merge_join(
                keys,
                self.jt,
                &mut li,
                &mut ri,
                layout,
                &self.join_cfg,
                true,
            )?;
            ps.strategy = "merge-sorted";
            return Ok(ps.read(Some(&li), Some(&ri)));
        }
        // Both sides through the external sort (stable: equal keys keep their input
        // order); the sorts get 4/5 of the budget, the buffered group of equal keys the rest.
        let mut scfg = self.sort_cfg.clone();
        scfg.budget = (self.budget / 5 * 2).max(1);
        // A hash join that overflowed has read part of its build side already.
        (self.phase)("sort", both, li.bytes + ri.bytes);
        let mut sorters = Vec::with_capacity(2);
        for (side, input) in [
            (Side::Left, &mut li as &mut dyn Input),
            (Side::Right, &mut ri),
        ] {
            let mut s = Sorter::new(keys.order(side).clone(), scfg.clone())?;
            // What the hash join had built goes first (it was read first), then is freed.
            if let Some(t) = fallback_table.take_if(|t| t.side == side) {
                for item in t.items() {
                    s.push(item)?;
                }
            }
            fill_sorter(&mut s, input)?;
            sorters.push(s);
        }
        let mut jcfg = self.join_cfg.clone();
        jcfg.budget = (self.budget / 5).max(1);
        let (Some(rs), Some(ls)) = (sorters.pop(), sorters.pop()) else {
            return Err(Error::Internal("sorters missing"));
        };
        (self.phase)("merge", None, 0);
        let (joined, lstats, rstats) = std::thread::scope(|scope| {
            let (mut lc, lh) = sort_side(scope, ls);
            let (mut rc, rh) = sort_side(scope, rs);
            let joined = merge_join(keys, self.jt, &mut lc, &mut rc, layout, &jcfg, false);
            // Stop the sorts if the join stopped early.
            drop(lc);
            drop(rc);
            (joined, lh.join(), rh.join())
        });
        let joined = joined?;
        for s in [lstats, rstats] {
            let s = s.map_err(|_| Error::Internal("a sort thread failed"))??;
            ps.sort.spill_runs += s.spill_runs;
            ps.sort.spill_bytes += s.spill_bytes;
            ps.sort.merge_passes += s.merge_passes;
        }
        ps.join = joined;
        ps.strategy = "merge";
        Ok(ps.read(Some(&li), Some(&ri)))
    }

    /// Probe `table` with `stream` on `self.threads` workers, output in input order, then
    /// write what the build side owes. The join's counters and the bytes of `stream` read.
    fn probe_parallel<S: Source, W: Write + Send + ?Sized>(
        &self,
        keys: &JoinKeys,
        table: &HashTable,
        stream: S,
        layout: &mut Layout<'_, &mut W>,
    ) -> Result<(Stats, u64)> {
        let side = table.side.other();
        let name = stream.name().to_string();
        let line = stream.line() + 1;
        let (carry, reader, eof) = stream.into_parts();
        let framing = match self.format {
            Format::Csv(_) => Framing::Csv(self.eol),
            _ => Framing::Lines(self.eol),
        };
        // Blocks and outputs in flight within 48 MiB (the budget is the build side's);
        // BATCHKIT_BLOCK_BYTES: smaller blocks, for tests.
        let (mut limits, mut block_size) = parallel::Limits::within(48 << 20, self.threads);
        if let Some(b) = std::env::var("BATCHKIT_BLOCK_BYTES")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&b| b >= 2)
        {
            block_size = b;
            limits.out_cap = 4 * b;
        }
        let max_record = self.budget.max(extsort::RECORD_ALLOWANCE);
        let mut cutter = Cutter::new(carry, reader, eof, framing, block_size, max_record, line);
        let bytes = AtomicU64::new(0);
        let mut next_block = || -> Result<Option<Block>> {
            let b = cutter.next_block().map_err(|e| match e {
                CutError::Io(e) => Error::Io {
                    context: format!("{name}: read error"),
                    source: e,
                },
                CutError::TooLong { line, limit } => Error::Input(format!(
                    "{name}:{line}: record is longer than the memory budget of {limit} bytes (raise -S)"
                )),
            });
            bytes.store(cutter.bytes, AtomicOrdering::Relaxed);
            b
        };
        let probe = BlockProbe {
            order: keys.order(side),
            framing,
            name: &name,
            skip: self.bad.skip(),
            eol: self.bad.eol(),
            layout: layout.with_out(()),
        };
        let mut on_note = |(recs, n): (Vec<u8>, u64)| self.bad.records(&recs, n);
        let mut probed = parallel::probe_blocks(
            keys,
            self.jt,
            table,
            &probe,
            &mut next_block,
            self.threads,
            limits,
            &mut layout.out,
            &mut on_note,
            &self.join_cfg,
        )?;
        parallel::finish(self.jt, table, &mut probed, layout)?;
        Ok((probed.stats, bytes.load(AtomicOrdering::Relaxed)))
    }
}
