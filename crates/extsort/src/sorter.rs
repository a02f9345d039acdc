//! [`Sorter`]: fill a buffer up to the budget, sort it, spill runs, merge them at the end.

use crate::mem::{advise_huge, prefetch, Prefault};
use crate::merge::{merge_into, reduce};
use crate::output::{Dedup, Emit, Stage};
use crate::run::{self, RunReader, RunWriter};
use crate::sort::sort_entries;
use crate::source::{MemSource, Source};
use crate::temp::TempSpace;
use crate::{Config, Entry, Error, Event, Order, PushError, Result, Stats, ENTRY, MAX_CHUNK};
use rayon::prelude::*;
use std::cmp::Ordering;
use std::io;
use std::sync::Arc;

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
        if len > crate::max_item(self.cfg.budget) {
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
        self.cfg.tell(Event::Sorting {
            entries: self.entries.len(),
            background: false,
        });
        sort_entries(
            &self.pool,
            &*self.order,
            &self.buf,
            &mut self.entries,
            self.cfg.stable || self.cfg.unique,
            self.cfg.event_hook,
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
            self.cfg.tell(Event::Spilling { background: false });
            let run = write_run(w, &*self.order, &self.buf, &self.entries, self.cfg.unique)?;
            self.add_run(run);
            self.cfg.tell(Event::Filling);
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
        let hook = self.cfg.event_hook;
        let tell = move |e: Event| {
            if let Some(h) = hook {
                h(e);
            }
        };
        let handle = std::thread::Builder::new()
            .name("spill".into())
            .spawn(move || {
                tell(Event::Sorting {
                    entries: entries.len(),
                    background: true,
                });
                sort_entries(&pool, &*order, &buf, &mut entries, tiebreak, hook);
                tell(Event::Spilling { background: true });
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
        self.cfg.tell(Event::Spilled { bytes: run.bytes });
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
            self.cfg.tell(Event::Writing);
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
        self.cfg.tell(Event::Merging {
            runs: runs.len() + usize::from(!entries.is_empty()),
            last: true,
        });
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
