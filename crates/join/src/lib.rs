//! Joins of two record streams, the three strategies of the batch-processing literature:
//!
//! - [`merge_join`]: a streaming sort-merge join over two key-sorted inputs. Every pair of a
//!   many-to-many key is produced: the right side's group of equal keys is buffered (within
//!   a byte budget, in an unnamed temporary file beyond it) while the left side's records of
//!   that key stream past it. Order can be verified as it goes.
//! - [`HashTable`] and [`hash_join`]: a broadcast join that builds one side in memory within
//!   a budget and streams the other. A build side that does not fit is handed back whole
//!   ([`Built::Overflow`]) so that the caller can fall back to a merge join without reading
//!   the input twice.
//! - [`parallel::probe_blocks`]: the hash join's probe on several threads, blocks of the
//!   streamed side cut by [`blocks::Cutter`], output in input order (the same bytes as
//!   [`hash_join`] for any number of threads).
//! - [`run_ordered`]: the partition-wise driver, running the joins of part pairs on several
//!   threads and handing their results on in part order.
//!
//! Records are opaque *items*; how keys are found and compared is a [`Keys`] (for batchkit's
//! records, [`JoinKeys`]), and what a joined pair becomes is a [`Sink`] ([`Layout`]: GNU
//! join's layout, or JSON objects). This crate never prints, parses
//! flags or exits; errors are values.

pub mod blocks;
mod chan;
mod group;
mod hash;
mod keys;
mod layout;
pub mod parallel;
mod plan;
mod probe;

pub use chan::ChanInput;
pub use hash::{hash_join, Built, HashTable, Marks};
pub use keys::{pair_specs, JoinKeys};
pub use layout::Layout;
pub use plan::{BadRecords, PairStats, Plan, Source, Strategy};
pub use probe::BlockProbe;

use group::Group;
use std::cmp::Ordering;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;

/// The six join types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinType {
    Inner,
    Left,
    Right,
    Full,
    /// Left records that have a match, once each, unchanged.
    Semi,
    /// Left records that have no match, unchanged.
    Anti,
}

impl JoinType {
    pub fn parse(s: &str) -> Option<JoinType> {
        Some(match s {
            "inner" => JoinType::Inner,
            "left" => JoinType::Left,
            "right" => JoinType::Right,
            "full" | "outer" => JoinType::Full,
            "semi" => JoinType::Semi,
            "anti" => JoinType::Anti,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            JoinType::Inner => "inner",
            JoinType::Left => "left",
            JoinType::Right => "right",
            JoinType::Full => "full",
            JoinType::Semi => "semi",
            JoinType::Anti => "anti",
        }
    }

    /// Whether matching pairs are written (not semi/anti).
    pub fn pairs(&self) -> bool {
        !matches!(self, JoinType::Semi | JoinType::Anti)
    }

    /// Whether unmatched left records are written (with an empty right side).
    pub fn left_unmatched(&self) -> bool {
        matches!(self, JoinType::Left | JoinType::Full | JoinType::Anti)
    }

    /// Whether unmatched right records are written (with an empty left side).
    pub fn right_unmatched(&self) -> bool {
        matches!(self, JoinType::Right | JoinType::Full)
    }
}

/// One of the two inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

impl Side {
    pub fn name(&self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }

    pub fn other(&self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }
}

/// What can go wrong in a join.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input could not be read or holds a bad record (the message says where).
    #[error("{0}")]
    Input(String),
    /// A key went backwards in an input declared sorted.
    #[error("{at}: {side} input is not sorted by key (sort it with bsort, or drop --sorted)")]
    NotSorted { at: String, side: &'static str },
    /// The output (or a temporary file) could not be written.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("interrupted")]
    Interrupted,
    /// The flags ask for what cannot be done (a usage error).
    #[error("{0}")]
    Usage(String),
    /// A side does not fit the memory budget where it must.
    #[error("{0}")]
    Budget(String),
    /// The external sort of a side failed.
    #[error("{0}")]
    Sort(#[from] extsort::Error),
    /// A broken invariant, never bad input.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

pub type Result<T> = std::result::Result<T, Error>;

/// How keys are found and compared, on each side and across.
pub trait Keys: Sync {
    /// A left item's key against a right item's.
    fn cmp_lr(&self, l: &[u8], r: &[u8]) -> Ordering;
    /// Two items of the same side.
    fn cmp_side(&self, side: Side, a: &[u8], b: &[u8]) -> Ordering;
    /// Append bytes that are equal for two items exactly when their keys compare equal
    /// (across sides too), for hashing.
    fn hash_key(&self, side: Side, item: &[u8], out: &mut Vec<u8>);
    /// Append a byte string whose bytewise order is the key order (across sides too), so
    /// that a merge extracts each key once; `false` when there is none (then items are
    /// compared with the methods above).
    fn prepare(&self, _side: Side, _item: &[u8], _out: &mut Vec<u8>) -> bool {
        false
    }
}

/// A stream of items.
pub trait Input {
    /// Move to the next item; `false` at the end.
    fn advance(&mut self) -> Result<bool>;
    /// The current item, valid after `advance` returned `true`.
    fn current(&self) -> &[u8];
    /// Where the current item is (`FILE:LINE`), for messages.
    fn at(&self) -> String;
}

/// Where joined records go. `l` and `r` are items; `None` is the missing side of an
/// outer join's unmatched record. Semi and anti joins pass left items with `r = None`.
pub trait Sink {
    /// The first item seen on a side (before any output that involves that side), so that
    /// the sink can learn the side's width for filling.
    fn seen(&mut self, _side: Side, _item: &[u8]) {}
    fn emit(&mut self, l: Option<&[u8]>, r: Option<&[u8]>) -> io::Result<()>;
}

/// What a join did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub left_records: u64,
    pub right_records: u64,
    pub records_out: u64,
    /// Bytes of equal-key groups (merge) written to temporary files.
    pub spill_bytes: u64,
    pub spill_runs: u64,
}

/// Settings shared by the strategies.
#[derive(Clone, Debug)]
pub struct Config {
    /// Bytes for the buffered group of equal keys (merge) or the build side (hash).
    pub budget: usize,
    /// Where spilled groups go (as unnamed files: nothing is left behind on any exit).
    pub tmp_parent: PathBuf,
    /// Set when the process is asked to stop.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Config {
    fn check(&self) -> Result<()> {
        match &self.cancel {
            Some(c) if c.load(AtomicOrdering::Relaxed) => Err(Error::Interrupted),
            _ => Ok(()),
        }
    }
}

pub(crate) fn write_err(e: io::Error) -> Error {
    Error::Io {
        context: "write error".into(),
        source: e,
    }
}

/// An input whose order is checked as it is read (`verify`), whose records are counted, and
/// whose current key is prepared once (when the keys allow it).
struct Checked<'a, I: Input + ?Sized, K: Keys + ?Sized> {
    input: &'a mut I,
    keys: &'a K,
    side: Side,
    verify: bool,
    prepared: bool,
    prev: Vec<u8>,
    key: Vec<u8>,
    live: bool,
    count: u64,
}

impl<'a, I: Input + ?Sized, K: Keys + ?Sized> Checked<'a, I, K> {
    fn new(input: &'a mut I, keys: &'a K, side: Side, verify: bool) -> Self {
        Checked {
            input,
            keys,
            side,
            verify,
            prepared: true,
            prev: Vec::new(),
            key: Vec::new(),
            live: false,
            count: 0,
        }
    }

    fn advance(&mut self) -> Result<bool> {
        if self.verify && self.live {
            if self.prepared {
                std::mem::swap(&mut self.prev, &mut self.key);
            } else {
                self.prev.clear();
                self.prev.extend_from_slice(self.input.current());
            }
        }
        let had = self.live;
        self.live = self.input.advance()?;
        if self.live {
            self.count += 1;
            if self.prepared {
                self.key.clear();
                // Keys either always prepare or never: only the first record can say no.
                self.prepared = self
                    .keys
                    .prepare(self.side, self.input.current(), &mut self.key);
            }
            let backwards = self.verify
                && had
                && if self.prepared {
                    self.prev > self.key
                } else {
                    self.keys
                        .cmp_side(self.side, &self.prev, self.input.current())
                        == Ordering::Greater
                };
            if backwards {
                return Err(Error::NotSorted {
                    at: self.input.at(),
                    side: self.side.name(),
                });
            }
        }
        Ok(self.live)
    }

    fn current(&self) -> &[u8] {
        self.input.current()
    }
}

/// A streaming sort-merge join of two inputs sorted by key (`verify`: check that they are,
/// and stop with [`Error::NotSorted`] at the first key that goes backwards).
///
/// Output follows key order; within a key, every left record in input order with every
/// right record in input order (GNU join's order). Both inputs are read to the end.
pub fn merge_join<K: Keys + ?Sized>(
    keys: &K,
    jt: JoinType,
    left: &mut dyn Input,
    right: &mut dyn Input,
    sink: &mut dyn Sink,
    cfg: &Config,
    verify: bool,
) -> Result<Stats> {
    let mut l = Checked::new(left, keys, Side::Left, verify);
    let mut r = Checked::new(right, keys, Side::Right, verify);
    // The key of the buffered group, when keys are prepared.
    let mut group_key: Vec<u8> = Vec::new();
    let mut stats = Stats::default();
    let mut group = Group::new(cfg.budget.max(1), cfg.tmp_parent.clone());
    let mut lok = l.advance()?;
    let mut rok = r.advance()?;
    if lok {
        sink.seen(Side::Left, l.current());
    }
    if rok {
        sink.seen(Side::Right, r.current());
    }
    let mut out = 0u64;
    let mut ticks = 0u32;
    while lok || rok {
        ticks = ticks.wrapping_add(1);
        if ticks.is_multiple_of(4096) {
            cfg.check()?;
        }
        let ord = match (lok, rok) {
            (true, true) if l.prepared && r.prepared => l.key.as_slice().cmp(&r.key),
            (true, true) => keys.cmp_lr(l.current(), r.current()),
            (true, false) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                if jt.left_unmatched() {
                    sink.emit(Some(l.current()), None).map_err(write_err)?;
                    out += 1;
                }
                lok = l.advance()?;
            }
            Ordering::Greater => {
                if jt.right_unmatched() {
                    sink.emit(None, Some(r.current())).map_err(write_err)?;
                    out += 1;
                }
                rok = r.advance()?;
            }
            Ordering::Equal => {
                // Buffer the right group of this key.
                group.clear();
                group.push(r.current())?;
                let prepared = l.prepared && r.prepared;
                if prepared {
                    group_key.clear();
                    group_key.extend_from_slice(&r.key);
                }
                loop {
                    rok = r.advance()?;
                    let same = rok
                        && if prepared && r.prepared {
                            r.key == group_key
                        } else {
                            keys.cmp_side(Side::Right, group.first(), r.current())
                                == Ordering::Equal
                        };
                    if !same {
                        break;
                    }
                    group.push(r.current())?;
                }
                // Every left record of the key against the group.
                loop {
                    match jt {
                        JoinType::Semi => {
                            sink.emit(Some(l.current()), None).map_err(write_err)?;
                            out += 1;
                        }
                        JoinType::Anti => {}
                        _ => {
                            let lc = l.current();
                            out += group.for_each(|g| sink.emit(Some(lc), Some(g)))?;
                        }
                    }
                    lok = l.advance()?;
                    let same = lok
                        && if prepared && l.prepared {
                            l.key == group_key
                        } else {
                            keys.cmp_lr(l.current(), group.first()) == Ordering::Equal
                        };
                    if !same {
                        break;
                    }
                    cfg.check()?;
                }
                if group.spilled_bytes() > 0 {
                    stats.spill_runs += 1;
                    stats.spill_bytes += group.spilled_bytes();
                }
            }
        }
    }
    stats.left_records = l.count;
    stats.right_records = r.count;
    stats.records_out = out;
    Ok(stats)
}

/// Run `job(0) … job(n-1)` on `threads` threads and hand each result to `consume` in index
/// order (the partition-wise driver: part pairs joined in parallel, output concatenated in
/// part order). The first error stops the remaining jobs and is returned.
pub fn run_ordered<T: Send, E: Send>(
    n: usize,
    threads: usize,
    job: &(dyn Fn(usize) -> std::result::Result<T, E> + Sync),
    consume: &mut dyn FnMut(usize, T) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, std::result::Result<T, E>)>();
        for _ in 0..threads.clamp(1, n.max(1)) {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || loop {
                if stop.load(AtomicOrdering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, AtomicOrdering::Relaxed);
                if i >= n {
                    return;
                }
                if tx.send((i, job(i))).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        let mut waiting = std::collections::BTreeMap::new();
        let mut want = 0;
        let mut failed = None;
        for (i, res) in rx {
            match res {
                Ok(v) => {
                    waiting.insert(i, v);
                }
                Err(e) => {
                    stop.store(true, AtomicOrdering::Relaxed);
                    if failed.is_none() {
                        failed = Some((i, e));
                    }
                    continue;
                }
            }
            while let Some(v) = waiting.remove(&want) {
                if failed.is_none() {
                    if let Err(e) = consume(want, v) {
                        stop.store(true, AtomicOrdering::Relaxed);
                        failed = Some((want, e));
                    }
                }
                want += 1;
            }
        }
        match failed {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests;
