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

/// How items are ordered.
pub trait Order: Send + Sync {
    /// A summary with `prefix(a) < prefix(b)` only when `a < b`.
    fn prefix(&self, item: &[u8]) -> u64;
    /// The full order (ties here are broken by input order in stable and unique modes).
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering;
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
    prefix: u64,
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
            let d = tempfile::Builder::new()
                .prefix("batchkit-")
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
pub struct Sorter<O: Order> {
    order: Arc<O>,
    cfg: Config,
    pool: rayon::ThreadPool,
    buf: Vec<u8>,
    entries: Vec<Entry>,
    chunk_budget: usize,
    runs: Vec<run::Run>,
    temp: TempSpace,
    stats: Stats,
}

impl<O: Order> Sorter<O> {
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
            pool,
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
        if self.used() + hint + ENTRY > self.chunk_budget && !self.entries.is_empty() {
            self.spill().map_err(PushError::Sort)?;
        }
        if self.entries.len() % 4096 == 0 {
            self.cfg.check().map_err(PushError::Sort)?;
        }
        let off = self.buf.len();
        if self.buf.capacity() - off < hint {
            let want = (self.buf.capacity() * 2)
                .max(off + hint)
                .max(1 << 16)
                .min(self.chunk_budget.max(off + hint));
            self.buf.reserve_exact(want - off);
        }
        if let Err(e) = build(&mut self.buf) {
            self.buf.truncate(off);
            return Err(PushError::Build(e));
        }
        let len = self.buf.len() - off;
        if len + ENTRY > self.chunk_budget.max(RECORD_ALLOWANCE) {
            self.buf.truncate(off);
            return Err(PushError::Sort(Error::TooLarge {
                len,
                budget: self.cfg.budget,
            }));
        }
        self.entries.push(Entry {
            prefix: 0,
            off: off as u32,
            len: len as u32,
        });
        self.stats.records_in += 1;
        Ok(())
    }

    /// Sort the buffered entries on the pool.
    fn sort_chunk(&mut self) {
        let order = &*self.order;
        let buf = &self.buf[..];
        let tiebreak = self.cfg.stable || self.cfg.unique;
        let entries = &mut self.entries;
        self.pool.install(|| {
            entries.par_iter_mut().with_min_len(4096).for_each(|e| {
                e.prefix = order.prefix(&buf[e.off as usize..(e.off + e.len) as usize]);
            });
            let item = |e: &Entry| &buf[e.off as usize..(e.off + e.len) as usize];
            let cmp = |x: &Entry, y: &Entry| {
                x.prefix
                    .cmp(&y.prefix)
                    .then_with(|| order.compare(item(x), item(y)))
                    .then_with(|| {
                        if tiebreak {
                            x.off.cmp(&y.off)
                        } else {
                            Ordering::Equal
                        }
                    })
            };
            if entries.len() < 1 << 14 {
                entries.sort_unstable_by(cmp);
            } else {
                entries.par_sort_unstable_by(cmp);
            }
        });
    }

    /// Sort the buffer and write it as a run.
    fn spill(&mut self) -> Result<()> {
        self.cfg.check()?;
        self.sort_chunk();
        let mut w = self.temp.create_run()?;
        {
            let src = MemSource::new(&self.buf, &self.entries);
            let order = &*self.order;
            let mut last: Option<&[u8]> = None;
            for item in src.iter() {
                if self.cfg.unique {
                    if let Some(l) = last {
                        if order.compare(l, item) == Ordering::Equal {
                            continue;
                        }
                    }
                    last = Some(item);
                }
                w.write(item)?;
            }
        }
        let run = w.finish()?;
        self.stats.spill_runs += 1;
        self.stats.spill_bytes += run.bytes;
        self.runs.push(run);
        self.buf.clear();
        self.entries.clear();
        Ok(())
    }

    /// Sort everything pushed and hand the items to `sink` in order.
    pub fn finish(mut self, sink: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> Result<Stats> {
        self.cfg.check()?;
        if self.runs.is_empty() {
            self.sort_chunk();
            let src = MemSource::new(&self.buf, &self.entries);
            let mut out = Dedup::new(&*self.order, self.cfg.unique, "write error", sink);
            for (i, item) in src.iter().enumerate() {
                if i % 65536 == 0 {
                    self.cfg.check()?;
                }
                out.emit(item)?;
            }
            self.stats.records_out = out.count;
            return Ok(self.stats);
        }
        // Runs exist: the last chunk joins the final merge from memory when fan-in allows.
        if !self.entries.is_empty() && self.runs.len() + 1 > self.cfg.fan_in {
            self.spill()?;
        }
        self.reduce_runs(self.cfg.fan_in - usize::from(!self.entries.is_empty()))?;
        self.sort_chunk();
        let order = Arc::clone(&self.order);
        let mut sources: Vec<Box<dyn Source + '_>> = Vec::with_capacity(self.runs.len() + 1);
        for r in &self.runs {
            sources.push(Box::new(RunReader::open(r)?));
        }
        if !self.entries.is_empty() {
            sources.push(Box::new(MemSource::new(&self.buf, &self.entries)));
        }
        let mut out = Dedup::new(&*order, self.cfg.unique, "write error", sink);
        merge_into(&*order, sources, &self.cfg, &mut |item| out.emit(item))?;
        self.stats.merge_passes += 1;
        self.stats.records_out = out.count;
        Ok(self.stats)
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
