//! K-way merging with a loser tree.
//!
//! Ties go to the source with the lower index, so merging sources given in input order is
//! stable. Memory is one current item per source plus each source's read buffer.

use crate::output::{Dedup, Emit, Stage};
use crate::run::{self, RunReader};
use crate::source::Source;
use crate::temp::TempSpace;
use crate::{Config, Error, Event, Order, Result, Stats};
use std::cmp::Ordering;
use std::io;

struct Tree<'s, 'o, O: Order + ?Sized> {
    sources: Vec<Box<dyn Source + 's>>,
    prefix: Vec<crate::Prefix>,
    live: Vec<bool>,
    /// `tree[0]` is the winner; `tree[1..k]` hold the losers of internal nodes.
    tree: Vec<usize>,
    order: &'o O,
    /// Normalized keys of the current items, made when first needed: an item that ties on
    /// its prefix meets several others on its way up the tree.
    norm: Vec<Vec<u8>>,
    /// 0: not made yet, 1: made, 2: the order has none.
    norm_state: Vec<u8>,
}

impl<'s, 'o, O: Order + ?Sized> Tree<'s, 'o, O> {
    /// Whether source `a` comes before source `b`.
    #[inline]
    fn beats(&mut self, a: usize, b: usize) -> bool {
        match (self.live[a], self.live[b]) {
            (false, _) => false,
            (true, false) => true,
            (true, true) => {
                let o = match self.prefix[a].cmp(&self.prefix[b]) {
                    Ordering::Equal if self.order.is_total(&self.prefix[a]) => Ordering::Equal,
                    Ordering::Equal => self.tie(a, b),
                    o => o,
                };
                match o {
                    Ordering::Less => true,
                    Ordering::Greater => false,
                    Ordering::Equal => a < b,
                }
            }
        }
    }

    /// Compare two current items whose prefixes tie.
    #[cold]
    fn tie(&mut self, a: usize, b: usize) -> Ordering {
        for i in [a, b] {
            if self.norm_state[i] == 0 {
                self.norm[i].clear();
                let ok = self
                    .order
                    .normalized(self.sources[i].current(), &mut self.norm[i]);
                self.norm_state[i] = if ok { 1 } else { 2 };
            }
        }
        if self.norm_state[a] == 1 && self.norm_state[b] == 1 {
            self.norm[a].cmp(&self.norm[b])
        } else {
            self.order
                .compare(self.sources[a].current(), self.sources[b].current())
        }
    }

    fn load(&mut self, i: usize) -> Result<()> {
        self.norm_state[i] = 0;
        self.live[i] = self.sources[i].advance()?;
        if self.live[i] {
            let src = &self.sources[i];
            self.prefix[i] = match src.prefix() {
                Some(p) => p,
                None => self.order.prefix(src.current()),
            };
        }
        Ok(())
    }

    fn build(&mut self, n: usize) -> usize {
        let k = self.sources.len();
        if n >= k {
            return n - k;
        }
        let a = self.build(2 * n);
        let b = self.build(2 * n + 1);
        if self.beats(a, b) {
            self.tree[n] = b;
            a
        } else {
            self.tree[n] = a;
            b
        }
    }

    fn replay(&mut self, mut winner: usize) {
        let k = self.sources.len();
        let mut n = (winner + k) / 2;
        while n >= 1 {
            if self.beats(self.tree[n], winner) {
                std::mem::swap(&mut self.tree[n], &mut winner);
            }
            n /= 2;
        }
        self.tree[0] = winner;
    }
}

/// Merge `sources` (at most the fan-in) into `sink`.
pub(crate) fn merge_into<O: Order + ?Sized>(
    order: &O,
    sources: Vec<Box<dyn Source + '_>>,
    cfg: &Config,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let k = sources.len();
    if k == 0 {
        return Ok(());
    }
    let mut t = Tree {
        sources,
        prefix: vec![[0, 0]; k],
        live: vec![false; k],
        tree: vec![0; k],
        order,
        norm: vec![Vec::new(); k],
        norm_state: vec![0; k],
    };
    for i in 0..k {
        t.load(i)?;
    }
    t.tree[0] = if k == 1 { 0 } else { t.build(1) };
    let mut n: u64 = 0;
    loop {
        let w = t.tree[0];
        if !t.live[w] {
            return Ok(());
        }
        sink(t.sources[w].current())?;
        n += 1;
        if n.is_multiple_of(65536) {
            cfg.check()?;
        }
        t.load(w)?;
        if k > 1 {
            t.replay(w);
        }
    }
}

/// Merge already-sorted sources (given in input order) into `sink`, in several passes
/// through temporary runs when there are more sources than the fan-in.
pub fn merge<O: Order>(
    order: &O,
    sources: Vec<Box<dyn Source + '_>>,
    cfg: &Config,
    emit: &dyn Emit,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<Stats> {
    let mut stats = Stats::default();
    let mut temp = TempSpace::new(cfg);
    let mut stage = Stage::new(emit, sink);
    let count = merge_all(order, sources, cfg, &mut stage, &mut temp, &mut stats)?;
    stats.merge_passes += 1;
    stats.records_out = count;
    stage.flush().map_err(|e| Error::io("write error", e))?;
    Ok(stats)
}

/// The body of [`merge`]: returns the number of items written.
fn merge_all<O: Order>(
    order: &O,
    sources: Vec<Box<dyn Source + '_>>,
    cfg: &Config,
    stage: &mut Stage,
    temp: &mut TempSpace,
    stats: &mut Stats,
) -> Result<u64> {
    let fan = cfg.fan_in.max(2);
    let mut push = |item: &[u8]| stage.item(item);
    let mut out = Dedup::new(order, cfg.unique, "write error", &mut push);
    cfg.tell(Event::Merging {
        runs: sources.len(),
        last: sources.len() <= fan,
    });
    if sources.len() <= fan {
        merge_into(order, sources, cfg, &mut |item| out.emit(item))?;
    } else {
        // First pass: groups of inputs into runs, in order.
        let mut runs = Vec::new();
        let mut sources = sources.into_iter().peekable();
        while sources.peek().is_some() {
            let group: Vec<_> = sources.by_ref().take(fan).collect();
            let mut w = temp.create_run()?;
            {
                let mut write = |item: &[u8]| w.write_io(item);
                let mut dd = Dedup::new(
                    order,
                    cfg.unique,
                    "cannot write a temporary file",
                    &mut write,
                );
                merge_into(order, group, cfg, &mut |item| dd.emit(item))?;
            }
            let run = w.finish()?;
            stats.spill_runs += 1;
            stats.spill_bytes += run.bytes;
            runs.push(run);
        }
        stats.merge_passes += 1;
        reduce(&mut runs, fan, order, cfg, temp, stats)?;
        cfg.tell(Event::Merging {
            runs: runs.len(),
            last: true,
        });
        let mut readers: Vec<Box<dyn Source + '_>> = Vec::with_capacity(runs.len());
        for r in &runs {
            readers.push(Box::new(RunReader::open(r)?));
        }
        merge_into(order, readers, cfg, &mut |item| out.emit(item))?;
    }
    Ok(out.count)
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
        cfg.tell(Event::Merging {
            runs: runs.len(),
            last: false,
        });
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
