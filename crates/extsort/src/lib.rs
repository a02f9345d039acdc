//! The external merge sort under bsort, bshuffle, breduce `--hash` and bjoin.
//!
//! Items are opaque byte strings ordered by an [`Order`]: an 8-byte prefix that settles most
//! comparisons, and a full comparison for the rest. [`Sorter`] fills one buffer up to the
//! memory budget, sorts (prefix, offset) entries on all cores, spills sorted runs to
//! temporary files when the budget is reached, and merges the runs with a loser tree whose
//! fan-in is bounded (several passes when there are more runs than that). [`merge`] merges
//! already-sorted sources (`sort -m`).
//!
//! Stable mode keeps equal items in input order; unique mode keeps the first item of each
//! run of equal items. Output is the same for any thread count and budget.
//!
//! This crate never prints, parses flags or exits; errors are values.

mod merge;
mod run;

pub use merge::{merge, Source};
use merge::{merge_into, MemSource};
use run::{RunReader, RunWriter};

use rayon::prelude::*;
use std::cmp::Ordering;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;

/// A 16-byte summary of an item, compared as (first, second).
pub type Prefix = [u64; 2];

/// How items are ordered.
pub trait Order: Send + Sync {
    /// A summary with `prefix(a) < prefix(b)` only when `a < b`: most comparisons end here,
    /// without touching the items.
    fn prefix(&self, item: &[u8]) -> Prefix;
    /// The full order (ties here are broken by input order in stable and unique modes).
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering;
    /// Whether items sharing this prefix are certainly equal (the prefix holds the whole
    /// comparison), so that they need no comparison at all.
    fn is_total(&self, _prefix: &Prefix) -> bool {
        false
    }
    /// Append a byte string whose bytewise order is this order (a normalized key); return
    /// false when the order has none.
    fn normalized(&self, _item: &[u8], _out: &mut Vec<u8>) -> bool {
        false
    }
}

/// What can go wrong while sorting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("a record of {len} bytes does not fit the memory budget of {budget} bytes (raise -S)")]
    TooLarge { len: usize, budget: usize },
    #[error("interrupted")]
    Interrupted,
    /// A source could not be read (its message says where and why).
    #[error("{0}")]
    Input(String),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Called with the path of every temporary directory created and, later, removed, so that a
/// signal handler can remove it.
pub type TempHook = fn(&Path, bool);

/// Settings of one sort.
#[derive(Clone)]
pub struct Config {
    /// Memory budget in bytes for items plus their index.
    pub budget: usize,
    /// Where temporary runs go.
    pub tmp_parent: PathBuf,
    /// Threads for in-memory sorting.
    pub threads: usize,
    /// Largest number of runs merged at once (at least 2).
    pub fan_in: usize,
    /// Compress temporary runs (zstd).
    pub compress: bool,
    /// Keep equal items in input order.
    pub stable: bool,
    /// Keep only the first of each run of equal items.
    pub unique: bool,
    /// Set when the process is asked to stop.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Told about temporary directories.
    pub temp_hook: Option<TempHook>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            budget: 256 << 20,
            tmp_parent: std::env::temp_dir(),
            threads: 1,
            fan_in: 64,
            compress: false,
            stable: false,
            unique: false,
            cancel: None,
            temp_hook: None,
        }
    }
}

impl Config {
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(AtomicOrdering::Relaxed))
    }

    fn check(&self) -> Result<()> {
        if self.cancelled() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }
}

/// What a sort did, for `--stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub records_in: u64,
    pub records_out: u64,
    pub spill_runs: u64,
    pub spill_bytes: u64,
    pub merge_passes: u64,
}

/// One item in the buffer: its prefix and where it is.
#[derive(Clone, Copy, Debug)]
struct Entry {
    prefix: Prefix,
    off: u32,
    len: u32,
}

const ENTRY: usize = std::mem::size_of::<Entry>();

/// A record larger than the budget is still accepted up to this size (it then makes a run
/// of its own), so that a tiny `-S` never refuses ordinary lines.
pub const RECORD_ALLOWANCE: usize = 1 << 20;
/// Items live at u32 offsets in a chunk.
const MAX_CHUNK: usize = u32::MAX as usize;

/// A temporary directory for runs, created on first use and removed when dropped.
pub(crate) struct TempSpace {
    parent: PathBuf,
    dir: Option<tempfile::TempDir>,
    hook: Option<TempHook>,
    next: u64,
    compress: bool,
}

impl TempSpace {
    fn new(cfg: &Config) -> Self {
        TempSpace {
            parent: cfg.tmp_parent.clone(),
            dir: None,
            hook: cfg.temp_hook,
            next: 0,
            compress: cfg.compress,
        }
    }

    fn create_run(&mut self) -> Result<RunWriter> {
        if self.dir.is_none() {
            // batchkit-PID-STARTTIME-: a later run can tell a killed owner's leftovers.
            let d = tempfile::Builder::new()
                .prefix(&format!("batchkit-{}-", owner_tag()))
                .tempdir_in(&self.parent)
                .map_err(|e| {
                    Error::io(
                        format!(
                            "cannot create a temporary directory in {}",
                            self.parent.display()
                        ),
                        e,
                    )
                })?;
            if let Some(h) = self.hook {
                h(d.path(), true);
            }
            self.dir = Some(d);
        }
        let dir = self
            .dir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_default();
        let path = dir.join(format!("run-{:06}", self.next));
        self.next += 1;
        RunWriter::create(path, self.compress)
    }
}

/// `PID-STARTTIME` (field 22 of /proc/PID/stat) of this process.
fn owner_tag() -> String {
    let pid = std::process::id();
    let start = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().nth(19)?.parse::<u64>().ok()
        })
        .unwrap_or(0);
    format!("{pid}-{start}")
}

impl Drop for TempSpace {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            let p = d.path().to_path_buf();
            drop(d);
            if let Some(h) = self.hook {
                h(&p, false);
            }
        }
    }
}

/// Sorts items pushed into it within the memory budget.
pub struct Sorter<O: Order + 'static> {
    order: Arc<O>,
    cfg: Config,
    pool: Arc<rayon::ThreadPool>,
    inflight: Option<std::thread::JoinHandle<Result<Spilled>>>,
    halved: bool,
    /// Declared before the buffers it touches, so that it is stopped before they are freed.
    prefault: Option<Prefault>,
    buf: Vec<u8>,
    entries: Vec<Entry>,
    chunk_budget: usize,
    runs: Vec<run::Run>,
    temp: TempSpace,
    stats: Stats,
}

/// What a background spill hands back: its buffers, for reuse, and the run it wrote.
struct Spilled {
    buf: Vec<u8>,
    entries: Vec<Entry>,
    run: run::Run,
}

/// Write sorted entries as a run (keeping the first of equal items in unique mode).
fn write_run<O: Order + ?Sized>(
    mut w: RunWriter,
    order: &O,
    buf: &[u8],
    entries: &[Entry],
    unique: bool,
) -> Result<run::Run> {
    let mut last: Option<&[u8]> = None;
    for item in MemSource::new(buf, entries).iter() {
        if unique {
            if let Some(l) = last {
                if order.compare(l, item) == Ordering::Equal {
                    continue;
                }
            }
            last = Some(item);
        }
        w.write(item)?;
    }
    w.finish()
}

impl<O: Order + 'static> Sorter<O> {
    pub fn new(order: O, mut cfg: Config) -> Result<Self> {
        cfg.fan_in = cfg.fan_in.max(2);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cfg.threads.max(1))
            .build()
            .map_err(|e| Error::io("cannot start sorting threads", io::Error::other(e)))?;
        let chunk_budget = cfg.budget.clamp(1, MAX_CHUNK);
        Ok(Sorter {
            order: Arc::new(order),
            temp: TempSpace::new(&cfg),
            cfg,
            pool: Arc::new(pool),
            inflight: None,
            halved: false,
            prefault: None,
            buf: Vec::new(),
            entries: Vec::new(),
            chunk_budget,
            runs: Vec::new(),
            stats: Stats::default(),
        })
    }

    /// The order items are sorted by.
    pub fn order(&self) -> Arc<O> {
        Arc::clone(&self.order)
    }

    #[inline]
    fn used(&self) -> usize {
        self.buf.len() + self.entries.len() * ENTRY
    }

    /// Add one item (copied into the buffer); spills a run when the budget is reached.
    #[inline]
    pub fn push(&mut self, item: &[u8]) -> Result<()> {
        self.push_with(item.len(), |buf| {
            buf.extend_from_slice(item);
            Ok::<(), std::convert::Infallible>(())
        })
        .map_err(|e| match e {
            PushError::Sort(e) => e,
            PushError::Build(never) => match never {},
        })
    }

    /// Add one item written by `build` into the buffer (at most `hint` bytes expected;
    /// more is allowed). An error from `build` leaves the sorter as it was.
    pub fn push_with<E>(
        &mut self,
        hint: usize,
        build: impl FnOnce(&mut Vec<u8>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), PushError<E>> {
        if self.used() + hint + 1 + ENTRY > self.chunk_budget && !self.entries.is_empty() {
            self.spill().map_err(PushError::Sort)?;
        }
        if self.entries.len().is_multiple_of(4096) {
            self.cfg.check().map_err(PushError::Sort)?;
            if let Some(p) = &self.prefault {
                p.report(self.buf.len(), self.entries.len() * ENTRY);
            }
        }
        if self.buf.capacity() == 0 {
            self.reserve_all();
        }
        let off = self.buf.len();
        if self.buf.capacity() - off < hint {
            let want = (self.buf.capacity() * 2)
                .max(off + hint)
                .max(1 << 16)
                .min(self.chunk_budget.max(off + hint));
            self.prefault = None;
            self.buf.reserve_exact(want - off);
            advise_huge(self.buf.as_ptr(), self.buf.capacity());
        }
        if let Err(e) = build(&mut self.buf) {
            self.buf.truncate(off);
            return Err(PushError::Build(e));
        }
        let len = self.buf.len() - off;
        // Measured against the whole budget, not the half chunk that alternates after the
        // first spill: a record that fits -S is accepted (in a chunk of its own), so that
        // "does not fit the memory budget of B bytes" is only said of records over B.
        if len + ENTRY > self.cfg.budget.max(RECORD_ALLOWANCE) {
            self.buf.truncate(off);
            return Err(PushError::Sort(Error::TooLarge {
                len,
                budget: self.cfg.budget,
            }));
        }
        // One byte after each item keeps offsets strictly increasing (empty items too), so
        // that the offset is the input order the stable tiebreak relies on.
        self.buf.push(0);
        if self.entries.len() == self.entries.capacity() {
            self.prefault = None;
            self.entries.reserve(self.entries.len().max(1 << 12));
            advise_huge(
                self.entries.as_ptr() as *const u8,
                self.entries.capacity() * ENTRY,
            );
        }
        self.entries.push(Entry {
            prefix: [0, 0],
            off: off as u32,
            len: len as u32,
        });
        self.stats.records_in += 1;
        Ok(())
    }

    /// Reserve (virtual, not yet resident) room for a whole chunk up front, with huge pages
    /// advised before anything is touched. Falls back to growing step by step when the
    /// address space is short.
    fn reserve_all(&mut self) {
        let b = self.chunk_budget;
        let whole = self.buf.try_reserve_exact(b).is_ok()
            && self.entries.try_reserve_exact(b / ENTRY).is_ok();
        advise_huge(self.buf.as_ptr(), self.buf.capacity());
        advise_huge(
            self.entries.as_ptr() as *const u8,
            self.entries.capacity() * ENTRY,
        );
        if whole && !self.halved {
            // Both buffers stay where they are until the first sort, which stops this.
            self.prefault = Prefault::start(
                [
                    (self.buf.as_ptr() as usize, self.buf.capacity()),
                    (
                        self.entries.as_ptr() as usize,
                        self.entries.capacity() * ENTRY,
                    ),
                ],
                b,
            );
        }
    }

    /// Sort the buffered entries on the pool.
    fn sort_chunk(&mut self) {
        self.prefault = None;
        sort_entries(
            &self.pool,
            &*self.order,
            &self.buf,
            &mut self.entries,
            self.cfg.stable || self.cfg.unique,
        );
    }

    /// Sort the buffer and write it as a run.
    ///
    /// The first spill happens with the whole budget in use, so it sorts and writes here.
    /// From then on two half-budget chunks alternate: one fills while the other is sorted
    /// and written by a background thread, overlapping reading with sorting.
    fn spill(&mut self) -> Result<()> {
        self.cfg.check()?;
        let w = self.temp.create_run()?;
        if !self.halved {
            self.sort_chunk();
            let run = write_run(w, &*self.order, &self.buf, &self.entries, self.cfg.unique)?;
            self.add_run(run);
            // New buffers, not shrunk ones: a shrunk buffer keeps every page the whole-budget
            // chunk touched resident (the buffer's and the index's, each up to the budget),
            // which put peak RSS at 1.5 × -S (issue 14).
            self.buf = Vec::new();
            self.entries = Vec::new();
            self.chunk_budget = (self.chunk_budget / 2).max(1);
            self.halved = true;
            return Ok(());
        }
        let (mut next_buf, mut next_entries) = self.wait()?.unwrap_or_default();
        next_buf.clear();
        next_entries.clear();
        let buf = std::mem::replace(&mut self.buf, next_buf);
        let mut entries = std::mem::replace(&mut self.entries, next_entries);
        let order = Arc::clone(&self.order);
        let pool = Arc::clone(&self.pool);
        let tiebreak = self.cfg.stable || self.cfg.unique;
        let unique = self.cfg.unique;
        let handle = std::thread::Builder::new()
            .name("spill".into())
            .spawn(move || {
                sort_entries(&pool, &*order, &buf, &mut entries, tiebreak);
                let run = write_run(w, &*order, &buf, &entries, unique)?;
                Ok(Spilled { buf, entries, run })
            })
            .map_err(|e| Error::io("cannot start a spill thread", e))?;
        self.inflight = Some(handle);
        Ok(())
    }

    /// Wait for the spill in flight, if any; its run joins the list and its buffers return.
    fn wait(&mut self) -> Result<Option<(Vec<u8>, Vec<Entry>)>> {
        match self.inflight.take() {
            None => Ok(None),
            Some(h) => {
                let spilled = h.join().map_err(|_| {
                    Error::io("the spill thread failed", io::Error::other("panic"))
                })??;
                self.add_run(spilled.run);
                Ok(Some((spilled.buf, spilled.entries)))
            }
        }
    }

    fn add_run(&mut self, run: run::Run) {
        self.stats.spill_runs += 1;
        self.stats.spill_bytes += run.bytes;
        self.runs.push(run);
    }

    /// Sort everything pushed and write it out: `emit` appends an item's output form to a
    /// buffer, `sink` receives the filled buffers in order.
    pub fn finish(
        mut self,
        emit: &dyn Emit,
        sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<Stats> {
        self.cfg.check()?;
        self.wait()?;
        if self.runs.is_empty() {
            self.sort_chunk();
            self.stats.records_out = self.write_sorted(emit, sink)?;
            return Ok(self.stats);
        }
        // Runs exist: the last chunk joins the final merge from memory when fan-in allows.
        if !self.entries.is_empty() && self.runs.len() + 1 > self.cfg.fan_in {
            self.spill()?;
            self.wait()?;
        }
        self.reduce_runs(self.cfg.fan_in - usize::from(!self.entries.is_empty()))?;
        self.sort_chunk();
        let order = &*self.order;
        let cfg = &self.cfg;
        let (runs, buf, entries) = (&self.runs, &self.buf, &self.entries);
        let mut stage = Stage::new(emit, sink);
        // Each run is read, parsed and summarised by a thread of its own, so that the
        // merging thread only compares and copies.
        let count = std::thread::scope(|scope| -> Result<u64> {
            let mut sources: Vec<Box<dyn Source + '_>> = Vec::with_capacity(runs.len() + 1);
            for r in runs {
                sources.push(Box::new(run::AsyncRun::start(
                    scope,
                    RunReader::open(r)?,
                    order,
                )?));
            }
            if !entries.is_empty() {
                sources.push(Box::new(MemSource::new(buf, entries)));
            }
            let mut push = |item: &[u8]| stage.item(item);
            let mut out = Dedup::new(order, cfg.unique, "write error", &mut push);
            merge_into(order, sources, cfg, &mut |item| out.emit(item))?;
            Ok(out.count)
        })?;
        stage.flush().map_err(|e| Error::io("write error", e))?;
        self.stats.merge_passes += 1;
        self.stats.records_out = count;
        Ok(self.stats)
    }

    /// Write the sorted in-memory chunk: slices of entries are formatted on all threads
    /// (each reading its records with prefetch, as they lie at random in the buffer) and
    /// written in order.
    fn write_sorted(
        &self,
        emit: &dyn Emit,
        sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<u64> {
        const SLICE: usize = 1 << 15;
        let n = self.entries.len();
        let threads = self.pool.current_num_threads().max(1);
        let buf = &self.buf[..];
        let entries = &self.entries[..];
        let order = &*self.order;
        let unique = self.cfg.unique;
        let item = |i: usize| {
            let e = &entries[i];
            &buf[e.off as usize..(e.off + e.len) as usize]
        };
        let mut count = 0u64;
        let mut start = 0;
        while start < n {
            self.cfg.check()?;
            let wave: Vec<(usize, usize)> = (0..threads * 2)
                .map(|k| (start + k * SLICE, (start + (k + 1) * SLICE).min(n)))
                .filter(|(a, b)| a < b)
                .collect();
            start = wave.last().map_or(n, |w| w.1);
            let parts: Vec<(Vec<u8>, u64)> = self.pool.install(|| {
                wave.par_iter()
                    .map(|&(a, b)| {
                        let mut out = Vec::with_capacity((b - a) * 32);
                        let mut kept = 0u64;
                        for i in a..b {
                            if let Some(e) = entries.get(i + 16) {
                                prefetch(buf, e.off as usize);
                            }
                            let it = item(i);
                            if unique && i > 0 && order.compare(item(i - 1), it) == Ordering::Equal
                            {
                                continue;
                            }
                            emit.emit(it, &mut out);
                            kept += 1;
                        }
                        (out, kept)
                    })
                    .collect()
            });
            for (bytes, kept) in parts {
                sink(&bytes).map_err(|e| Error::io("write error", e))?;
                count += kept;
            }
        }
        Ok(count)
    }

    /// Merge groups of runs until at most `limit` remain.
    fn reduce_runs(&mut self, limit: usize) -> Result<()> {
        let limit = limit.max(1);
        reduce(
            &mut self.runs,
            limit,
            &*self.order,
            &self.cfg,
            &mut self.temp,
            &mut self.stats,
        )
    }
}

/// An entry's prefix as one u128: one wide comparison instead of two in a row.
#[inline]
fn wide(e: &Entry) -> u128 {
    (u128::from(e.prefix[0]) << 64) | u128::from(e.prefix[1])
}

/// Sort a chunk's entries on the pool: by prefix, then equal-prefix groups by the full
/// order.
fn sort_entries<O: Order + ?Sized>(
    pool: &rayon::ThreadPool,
    order: &O,
    buf: &[u8],
    entries: &mut [Entry],
    tiebreak: bool,
) {
    let t0 = std::time::Instant::now();
    let n = entries.len();
    pool.install(|| {
        entries.par_iter_mut().with_min_len(4096).for_each(|e| {
            e.prefix = order.prefix(&buf[e.off as usize..(e.off + e.len) as usize]);
        });
        // Two phases: the prefixes alone (no record is touched, so no cache miss), then
        // each group of equal prefixes by the full order. Most groups have one entry.
        let t0 = std::time::Instant::now();
        if entries.len() < 1 << 14 {
            entries.sort_unstable_by_key(wide);
        } else {
            entries.par_sort_unstable_by_key(wide);
        }
        trace(format_args!("prefix sort {:?}", t0.elapsed()));
        let t0 = std::time::Instant::now();
        entries
            .par_chunk_by_mut(|a, b| a.prefix == b.prefix)
            .for_each_init(GroupScratch::default, |scratch, group| {
                if group.len() > 1 {
                    sort_group(group, order, buf, tiebreak, scratch);
                }
            });
        trace(format_args!("group fix-up {:?}", t0.elapsed()));
    });
    trace(format_args!("sorted {n} entries in {:?}", t0.elapsed()));
}

/// Sort entries whose prefixes are all equal by the full order. Comparing records here
/// means reading them at random places in the buffer, so: nothing to do when the prefix is
/// total; otherwise each record's normalized key is gathered once (with prefetch) into a
/// local buffer and the group is sorted there, where every comparison hits the cache.
fn sort_group<O: Order + ?Sized>(
    group: &mut [Entry],
    order: &O,
    buf: &[u8],
    tiebreak: bool,
    scratch: &mut GroupScratch,
) {
    let item = |e: &Entry| &buf[e.off as usize..(e.off + e.len) as usize];
    let by_input = |x: &Entry, y: &Entry| x.off.cmp(&y.off);
    // Identical records are equal in any order; Zipf-like data is full of them.
    if order.is_total(&group[0].prefix) || group.iter().all(|e| item(e) == item(&group[0])) {
        if tiebreak {
            group.sort_unstable_by(by_input);
        }
        return;
    }
    // A group too large to gather (a Zipf key's million records) goes deep at once; one
    // that fits is gathered, which normalizes each record once instead of once per level.
    let large = group.len() > DEEP_MIN
        && group.iter().map(|e| e.len as usize + 4).sum::<usize>() > GATHER_LIMIT;
    if large && sort_deep(group, order, buf, tiebreak, scratch) {
        return;
    }
    let GroupScratch { local, keyed } = scratch;
    local.clear();
    keyed.clear();
    let mut ok = true;
    for (i, e) in group.iter().enumerate() {
        if let Some(next) = group.get(i + 8) {
            prefetch(buf, next.off as usize);
        }
        let s = local.len();
        if !order.normalized(item(e), local) || local.len() > GATHER_LIMIT {
            ok = false;
            break;
        }
        keyed.push((s as u32, (local.len() - s) as u32, *e));
    }
    if ok {
        let key = |k: &(u32, u32, Entry)| &local[k.0 as usize..(k.0 + k.1) as usize];
        keyed.sort_unstable_by(|x, y| {
            key(x).cmp(key(y)).then_with(|| {
                if tiebreak {
                    by_input(&x.2, &y.2)
                } else {
                    Ordering::Equal
                }
            })
        });
        for (slot, k) in group.iter_mut().zip(keyed.iter()) {
            *slot = k.2;
        }
        return;
    }
    if !large && group.len() > DEEP_MIN && sort_deep(group, order, buf, tiebreak, scratch) {
        return;
    }
    group.sort_unstable_by(|x, y| {
        order.compare(item(x), item(y)).then_with(|| {
            if tiebreak {
                by_input(x, y)
            } else {
                Ordering::Equal
            }
        })
    });
}

/// Groups larger than this are sorted by [`sort_deep`].
const DEEP_MIN: usize = 64;

/// Sort a large group of equal prefixes by the next bytes of each item's normalized key, 15
/// at a time (MSD), as the prefix sort did with the first ones: a Zipf-like key makes groups
/// of a million items (the key is longer than the prefix), whose comparison sort read
/// records at random and found their keys again on every comparison (a third of `-k1,1`'s
/// time). Each level normalizes every item of a group once, sorts (summary, offset) entries
/// in place, and goes on only into the sub-groups still tied. The group's prefix is put
/// back at the end (the merge reads it). False, with the group unchanged in order, when the
/// order has no normalized key.
fn sort_deep<O: Order + ?Sized>(
    group: &mut [Entry],
    order: &O,
    buf: &[u8],
    tiebreak: bool,
    scratch: &mut GroupScratch,
) -> bool {
    let saved = group[0].prefix;
    let ok = deep_level(group, order, buf, tiebreak, &mut scratch.local, 0);
    for e in group.iter_mut() {
        e.prefix = saved;
    }
    ok
}

/// One level of [`sort_deep`]: summarise bytes `depth..depth + 15` of each normalized key.
fn deep_level<O: Order + ?Sized>(
    group: &mut [Entry],
    order: &O,
    buf: &[u8],
    tiebreak: bool,
    local: &mut Vec<u8>,
    mut depth: usize,
) -> bool {
    let by_input = |x: &Entry, y: &Entry| x.off.cmp(&y.off);
    let mut reference = Vec::new();
    loop {
        // The bytes every key of the group shares from `depth` on, measured against the
        // first key while summarising: a group that still ties skips them all at once.
        let mut common = usize::MAX;
        for i in 0..group.len() {
            if let Some(next) = group.get(i + 8) {
                prefetch(buf, next.off as usize);
            }
            let e = &mut group[i];
            local.clear();
            if !order.normalized(&buf[e.off as usize..(e.off + e.len) as usize], local) {
                return false;
            }
            let rest = local.get(depth..).unwrap_or(&[]);
            e.prefix = counted_chunk(rest);
            if i == 0 {
                reference.clear();
                reference.extend_from_slice(rest);
            } else if common >= 15 {
                let n = rest.len().min(reference.len()).min(common);
                common = rest[..n]
                    .iter()
                    .zip(&reference[..n])
                    .position(|(a, b)| a != b)
                    .unwrap_or(n);
            }
        }
        // All still tied (common near the top: the group shares its first bytes): deeper
        // by every whole 15 bytes they share, without sorting.
        let first = group[0].prefix;
        if group.iter().all(|e| e.prefix == first) {
            if first[1] & 0xFF != 0xFF {
                if tiebreak {
                    group.sort_unstable_by(by_input);
                }
                return true;
            }
            depth += (common.min(reference.len()) / 15).max(1) * 15;
            continue;
        }
        if tiebreak {
            group.sort_unstable_by(|x, y| x.prefix.cmp(&y.prefix).then_with(|| by_input(x, y)));
        } else {
            group.sort_unstable_by_key(wide);
        }
        for sub in group.chunk_by_mut(|a, b| a.prefix == b.prefix) {
            // A length byte under 0xFF: the rest of the key is in the summary, so equal
            // summaries are equal items, already in input order when that matters.
            if sub.len() > 1 && sub[0].prefix[1] & 0xFF == 0xFF {
                if sub.len() > DEEP_MIN {
                    if !deep_level(sub, order, buf, tiebreak, local, depth + 15) {
                        return false;
                    }
                } else {
                    small_sort_normalized(sub, order, buf, tiebreak, local);
                }
            }
        }
        return true;
    }
}

/// Sort a few entries by their whole normalized keys (gathered into `local`).
fn small_sort_normalized<O: Order + ?Sized>(
    group: &mut [Entry],
    order: &O,
    buf: &[u8],
    tiebreak: bool,
    local: &mut Vec<u8>,
) {
    local.clear();
    let mut keyed: Vec<(u32, u32, Entry)> = Vec::with_capacity(group.len());
    for e in group.iter() {
        let s = local.len();
        // The order gave normalized keys at the level above, so it gives them here too.
        order.normalized(&buf[e.off as usize..(e.off + e.len) as usize], local);
        keyed.push((s as u32, (local.len() - s) as u32, *e));
    }
    let key = |k: &(u32, u32, Entry)| &local[k.0 as usize..(k.0 + k.1) as usize];
    keyed.sort_unstable_by(|x, y| {
        key(x).cmp(key(y)).then_with(|| {
            if tiebreak {
                x.2.off.cmp(&y.2.off)
            } else {
                Ordering::Equal
            }
        })
    });
    for (slot, k) in group.iter_mut().zip(keyed.iter()) {
        *slot = k.2;
    }
}

/// The first 15 bytes of `bytes` (zero padded) and a length byte: the length when it is at
/// most 15, so that equal summaries are equal strings, 0xFF when longer. Order-preserving:
/// among strings equal in their first 15 bytes the shorter is a prefix of the longer.
fn counted_chunk(bytes: &[u8]) -> Prefix {
    let mut b = [0u8; 16];
    let n = bytes.len().min(15);
    b[..n].copy_from_slice(&bytes[..n]);
    b[15] = if bytes.len() <= 15 {
        bytes.len() as u8
    } else {
        0xFF
    };
    let (hi, lo) = b.split_at(8);
    [
        u64::from_be_bytes(hi.try_into().unwrap_or([0; 8])),
        u64::from_be_bytes(lo.try_into().unwrap_or([0; 8])),
    ]
}

/// Buffers reused across the groups one thread sorts.
#[derive(Default)]
struct GroupScratch {
    local: Vec<u8>,
    /// (start in `local`, length, the entry)
    keyed: Vec<(u32, u32, Entry)>,
}

/// Groups up to this many bytes are sorted from a local copy (larger ones by
/// [`sort_deep`]; small in unit tests, so that both ways are tried).
const GATHER_LIMIT: usize = if cfg!(test) { 4 << 10 } else { 16 << 20 };

/// Merge consecutive groups of runs (order kept, for stability) until `limit` remain.
pub(crate) fn reduce<O: Order + ?Sized>(
    runs: &mut Vec<run::Run>,
    limit: usize,
    order: &O,
    cfg: &Config,
    temp: &mut TempSpace,
    stats: &mut Stats,
) -> Result<()> {
    while runs.len() > limit {
        let fan = cfg.fan_in;
        let old = std::mem::take(runs);
        // Merge only as many groups as needed to come down to `limit` this pass.
        let mut it = old.into_iter().peekable();
        let mut remaining = it.len();
        while it.peek().is_some() {
            let excess = (runs.len() + remaining).saturating_sub(limit);
            if excess == 0 {
                runs.extend(it.by_ref());
                break;
            }
            let take = (excess + 1).min(fan).min(remaining);
            let group: Vec<run::Run> = it.by_ref().take(take).collect();
            remaining -= group.len();
            if group.len() == 1 {
                runs.extend(group);
                continue;
            }
            let mut w = temp.create_run()?;
            {
                let mut sources: Vec<Box<dyn Source + '_>> = Vec::with_capacity(group.len());
                for r in &group {
                    sources.push(Box::new(RunReader::open(r)?));
                }
                let mut write = |item: &[u8]| w.write_io(item);
                let mut out = Dedup::new(
                    order,
                    cfg.unique,
                    "cannot write a temporary file",
                    &mut write,
                );
                merge_into(order, sources, cfg, &mut |item| out.emit(item))?;
            }
            let run = w.finish()?;
            stats.spill_bytes += run.bytes;
            for r in group {
                r.remove();
            }
            runs.push(run);
        }
        stats.merge_passes += 1;
    }
    Ok(())
}

/// How an item is written out.
pub trait Emit: Sync {
    /// Append the output form of `item` to `out`.
    fn emit(&self, item: &[u8], out: &mut Vec<u8>);
}

impl<F: Fn(&[u8], &mut Vec<u8>) + Sync> Emit for F {
    fn emit(&self, item: &[u8], out: &mut Vec<u8>) {
        self(item, out)
    }
}

/// Formats items into a staging buffer and hands it on in large blocks.
pub(crate) struct Stage<'a> {
    emit: &'a dyn Emit,
    sink: &'a mut dyn FnMut(&[u8]) -> io::Result<()>,
    buf: Vec<u8>,
}

impl<'a> Stage<'a> {
    pub fn new(emit: &'a dyn Emit, sink: &'a mut dyn FnMut(&[u8]) -> io::Result<()>) -> Self {
        Stage {
            emit,
            sink,
            buf: Vec::with_capacity(STAGE + (64 << 10)),
        }
    }

    #[inline]
    pub fn item(&mut self, item: &[u8]) -> io::Result<()> {
        self.emit.emit(item, &mut self.buf);
        if self.buf.len() >= STAGE {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            (self.sink)(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

const STAGE: usize = 1 << 20;

/// Ask for transparent huge pages on a large buffer: 512 times fewer page faults while it
/// fills, and far fewer TLB misses when records are read in sorted (random) order.
fn advise_huge(ptr: *const u8, len: usize) {
    const HUGE: usize = 2 << 20;
    if len < 4 * HUGE || std::env::var_os("BATCHKIT_NO_THP").is_some() {
        return;
    }
    let start = (ptr as usize).div_ceil(HUGE) * HUGE;
    let end = (ptr as usize + len) / HUGE * HUGE;
    if end > start {
        // SAFETY: the range lies inside an allocation we own; madvise only changes how the
        // kernel backs it and fails harmlessly where huge pages are not available.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

/// Phase timings on stderr when `BATCHKIT_TRACE` is set (for profiling; not a stable
/// interface).
pub fn trace(args: std::fmt::Arguments) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("BATCHKIT_TRACE").is_some()) {
        eprintln!("trace: {args}");
    }
}

/// Faults pages of the first chunk's buffers in on another thread, a little ahead of the
/// reader. With huge pages the kernel may compact memory at each fault; that stall is then
/// taken on the core the single-threaded read leaves idle. MADV_POPULATE_WRITE never changes
/// the contents, so it may run beside the writer; it runs only while the buffers cannot
/// move (the guard is dropped, and the thread joined, before any sort or reallocation).
struct Prefault {
    used: Arc<[std::sync::atomic::AtomicUsize; 2]>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Prefault {
    /// Populate `regions` (the buffer and the index, each reserved at the whole budget)
    /// ahead of use, never beyond `budget` resident in both together: each may grow to the
    /// whole budget, but not both at once (issue 14: that overshot -S by half).
    fn start(regions: [(usize, usize); 2], budget: usize) -> Option<Prefault> {
        use std::sync::atomic::AtomicUsize;
        let used = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let stop = Arc::new(AtomicBool::new(false));
        let (u, st) = (Arc::clone(&used), Arc::clone(&stop));
        let handle = std::thread::Builder::new()
            .name("prefault".into())
            .spawn(move || {
                const STEP: usize = 2 << 20;
                let regions = regions.map(|(base, cap)| page_aligned(base, cap));
                let mut done = [0usize; 2];
                while !st.load(AtomicOrdering::Relaxed) {
                    let mut worked = false;
                    for (r, &(base, cap)) in regions.iter().enumerate() {
                        let used = u[r].load(AtomicOrdering::Relaxed);
                        let both =
                            u[0].load(AtomicOrdering::Relaxed) + u[1].load(AtomicOrdering::Relaxed);
                        let ahead = (used / 2)
                            .clamp(4 << 20, 32 << 20)
                            .min(budget.saturating_sub(both) / 2);
                        let target = (used + ahead).min(cap);
                        if done[r] < used {
                            done[r] = used - used % STEP;
                        }
                        if done[r] + STEP <= target {
                            // Failure (old kernels) only means no help.
                            if !populate(base + done[r], STEP) {
                                return;
                            }
                            done[r] += STEP;
                            worked = true;
                        }
                    }
                    if !worked {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
            })
            .ok()?;
        Some(Prefault {
            used,
            stop,
            handle: Some(handle),
        })
    }

    #[inline]
    fn report(&self, buf: usize, entries: usize) {
        self.used[0].store(buf, AtomicOrdering::Relaxed);
        self.used[1].store(entries, AtomicOrdering::Relaxed);
    }
}

/// The part of `[base, base + len)` that starts on a page boundary. madvise wants an aligned
/// start, and a Vec's pointer is not one (malloc puts its header first): the unaligned start
/// failed with EINVAL, which stopped the prefault thread at once and left every page fault
/// (and the kernel's zeroing of each huge page) to the reader.
fn page_aligned(base: usize, len: usize) -> (usize, usize) {
    const PAGE: usize = 4096;
    let aligned = base.div_ceil(PAGE) * PAGE;
    (aligned, len.saturating_sub(aligned - base))
}

/// Fault in `[addr, addr + len)` for writing (MADV_POPULATE_WRITE); false when the kernel
/// refuses. The range must lie inside a live allocation that does not move meanwhile.
fn populate(addr: usize, len: usize) -> bool {
    // SAFETY: the caller keeps the range inside a live allocation; populating never changes
    // its contents.
    unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) == 0 }
}

impl Drop for Prefault {
    fn drop(&mut self) {
        self.stop.store(true, AtomicOrdering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Hint the CPU to load the record at `off` soon.
#[inline]
fn prefetch(buf: &[u8], off: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(p) = buf.get(off) {
        // SAFETY: prefetching is only a hint; the pointer is in bounds and never dereferenced.
        unsafe {
            std::arch::x86_64::_mm_prefetch(
                p as *const u8 as *const i8,
                std::arch::x86_64::_MM_HINT_T0,
            )
        };
    }
}

/// Error of [`Sorter::push_with`]: the sort's own, or the item builder's.
#[derive(Debug)]
pub enum PushError<E> {
    Sort(Error),
    Build(E),
}

/// Hands items on, dropping those equal to the previous one in unique mode.
pub(crate) struct Dedup<'a, O: Order + ?Sized> {
    order: &'a O,
    unique: bool,
    last: Vec<u8>,
    have_last: bool,
    context: &'static str,
    sink: &'a mut dyn FnMut(&[u8]) -> io::Result<()>,
    pub count: u64,
}

impl<'a, O: Order + ?Sized> Dedup<'a, O> {
    pub fn new(
        order: &'a O,
        unique: bool,
        context: &'static str,
        sink: &'a mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> Self {
        Dedup {
            order,
            unique,
            context,
            last: Vec::new(),
            have_last: false,
            sink,
            count: 0,
        }
    }

    #[inline]
    pub fn emit(&mut self, item: &[u8]) -> Result<()> {
        if self.unique {
            if self.have_last && self.order.compare(&self.last, item) == Ordering::Equal {
                return Ok(());
            }
            self.last.clear();
            self.last.extend_from_slice(item);
            self.have_last = true;
        }
        self.count += 1;
        (self.sink)(item).map_err(|e| Error::io(self.context, e))
    }
}

#[cfg(test)]
mod tests;
