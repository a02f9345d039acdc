//! The hash (broadcast) join: one side built in memory within a budget, the other
//! streamed past it; a build side that does not fit is handed back whole.

use crate::{write_err, Config, Input, JoinType, Keys, Result, Side, Sink, Stats};
use record::keymap::{prefetch, KeyMap};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

/// A build side in memory: its items in input order and, per distinct key, the chain of
/// its records.
pub struct HashTable {
    arena: Vec<u8>,
    /// (offset, length) of each item in `arena`, in input order.
    recs: Vec<(usize, u32)>,
    /// The next record of the same key (u32::MAX: none).
    next: Vec<u32>,
    map: Keyed,
    used: usize,
    pub side: Side,
}

/// A distinct key's chain of records: its first and last record.
#[derive(Clone, Copy)]
struct Chain {
    head: u32,
    tail: u32,
}

/// Distinct keys → chains (keys of up to 16 bytes inline in the slots).
type Keyed = KeyMap<Chain>;

/// The outcome of building.
pub enum Built {
    /// The whole side fits.
    Fits(HashTable),
    /// The side passed the budget; the table holds what was read (the input stands on the
    /// last record read, already in the table), in input order, for a fallback.
    Overflow(HashTable),
}

const NONE: u32 = u32::MAX;

impl HashTable {
    /// Items read so far, in input order.
    pub fn items(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.recs
            .iter()
            .map(|&(o, n)| &self.arena[o..o + n as usize])
    }

    pub fn len(&self) -> usize {
        self.recs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// Bytes of memory the table holds, about.
    pub fn bytes(&self) -> usize {
        self.used
    }

    /// Ask the cache for item `i`'s bytes, soon to be read (a batch of probes asks for all
    /// of its matches before writing any, so that their misses overlap).
    #[inline]
    pub(crate) fn prefetch(&self, i: u32) {
        if let Some(&(o, _)) = self.recs.get(i as usize) {
            if let Some(b) = self.arena.get(o) {
                prefetch(b);
            }
        }
    }

    fn item(&self, i: u32) -> &[u8] {
        let (o, n) = self.recs[i as usize];
        &self.arena[o..o + n as usize]
    }

    /// Read `input` (the `side` input) into a table within `budget` bytes.
    pub fn build<K: Keys + ?Sized>(
        keys: &K,
        side: Side,
        input: &mut dyn Input,
        budget: usize,
        cfg: &Config,
    ) -> Result<Built> {
        let mut t = HashTable {
            arena: Vec::new(),
            recs: Vec::new(),
            next: Vec::new(),
            map: Keyed::default(),
            used: 0,
            side,
        };
        let mut hk = Vec::new();
        while input.advance()? {
            if t.recs.len() % 4096 == 4095 {
                cfg.check()?;
            }
            let item = input.current();
            if t.recs.len() >= NONE as usize - 1 || item.len() > u32::MAX as usize {
                return Ok(Built::Overflow(t));
            }
            hk.clear();
            keys.hash_key(side, item, &mut hk);
            let i = t.recs.len() as u32;
            t.recs.push((t.arena.len(), item.len() as u32));
            t.arena.extend_from_slice(item);
            t.next.push(NONE);
            t.used += item.len() + 16;
            match t.map.get_mut(&hk) {
                Some(chain) => {
                    t.next[chain.tail as usize] = i;
                    chain.tail = i;
                }
                None => {
                    t.used += hk.len() + 48;
                    t.map.insert_new(&hk, Chain { head: i, tail: i });
                }
            }
            if t.used > budget {
                return Ok(Built::Overflow(t));
            }
        }
        Ok(Built::Fits(t))
    }
}

/// Which build records were matched: one bit each, set from any thread.
pub struct Marks(Vec<AtomicU64>);

impl Marks {
    pub fn new(n: usize) -> Marks {
        Marks((0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect())
    }

    #[inline]
    pub fn set(&self, i: u32) {
        let (w, b) = ((i / 64) as usize, 1u64 << (i % 64));
        if let Some(w) = self.0.get(w) {
            // Most marks are set already after a while: read before writing the line.
            if w.load(AtomicOrdering::Relaxed) & b == 0 {
                w.fetch_or(b, AtomicOrdering::Relaxed);
            }
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> bool {
        self.0
            .get(i / 64)
            .is_some_and(|w| w.load(AtomicOrdering::Relaxed) & (1u64 << (i % 64)) != 0)
    }
}

/// The chain of build records whose key is the streamed item `s`'s (`NONE`: no match).
#[inline]
pub(crate) fn lookup<K: Keys + ?Sized>(
    keys: &K,
    table: &HashTable,
    s: &[u8],
    hk: &mut Vec<u8>,
) -> u32 {
    hk.clear();
    keys.hash_key(table.side.other(), s, hk);
    table.map.get(hk).map_or(NONE, |chain| chain.head)
}

/// Probe the table with one streamed item: emit its pairs (or itself, for semi/anti and
/// unmatched outer records) and mark the build records it matched. Returns records written.
#[inline]
pub(crate) fn probe_one<K: Keys + ?Sized, S: Sink + ?Sized>(
    keys: &K,
    jt: JoinType,
    table: &HashTable,
    s: &[u8],
    sink: &mut S,
    marks: &Marks,
    hk: &mut Vec<u8>,
) -> Result<u64> {
    let head = lookup(keys, table, s, hk);
    emit_matches(jt, table, s, head, sink, marks)
}

/// What [`probe_one`] writes for item `s` whose chain starts at `head` (see [`lookup`]).
#[inline]
pub(crate) fn emit_matches<S: Sink + ?Sized>(
    jt: JoinType,
    table: &HashTable,
    s: &[u8],
    head: u32,
    sink: &mut S,
    marks: &Marks,
) -> Result<u64> {
    let build = table.side;
    let mark = match build {
        Side::Left => jt != JoinType::Inner && jt != JoinType::Right,
        Side::Right => jt.right_unmatched(),
    };
    let mut out = 0u64;
    match build {
        Side::Right => {
            match jt {
                JoinType::Semi => {
                    if head != NONE {
                        sink.emit(Some(s), None).map_err(write_err)?;
                        out += 1;
                    }
                    return Ok(out);
                }
                JoinType::Anti => {
                    if head == NONE {
                        sink.emit(Some(s), None).map_err(write_err)?;
                        out += 1;
                    }
                    return Ok(out);
                }
                _ => {}
            }
            let mut i = head;
            if i == NONE && jt.left_unmatched() {
                sink.emit(Some(s), None).map_err(write_err)?;
                out += 1;
            }
            while i != NONE {
                sink.emit(Some(s), Some(table.item(i))).map_err(write_err)?;
                out += 1;
                if mark {
                    marks.set(i);
                }
                i = table.next[i as usize];
            }
        }
        Side::Left => {
            let mut i = head;
            if i == NONE && jt.right_unmatched() {
                sink.emit(None, Some(s)).map_err(write_err)?;
                out += 1;
            }
            while i != NONE {
                if jt.pairs() {
                    sink.emit(Some(table.item(i)), Some(s)).map_err(write_err)?;
                    out += 1;
                }
                if mark {
                    marks.set(i);
                }
                i = table.next[i as usize];
            }
        }
    }
    Ok(out)
}

/// Write what the build side still owes after probing, in its input order. Returns
/// records written.
pub(crate) fn emit_owed(
    jt: JoinType,
    table: &HashTable,
    marks: &Marks,
    sink: &mut dyn Sink,
) -> Result<u64> {
    let build = table.side;
    let owed = |m: bool| match (build, jt) {
        (Side::Right, _) => jt.right_unmatched() && !m,
        (Side::Left, JoinType::Semi) => m,
        (Side::Left, _) => jt.left_unmatched() && !m,
    };
    let mut out = 0;
    for (i, item) in table.items().enumerate() {
        if owed(marks.get(i)) {
            match build {
                Side::Right => sink.emit(None, Some(item)),
                Side::Left => sink.emit(Some(item), None),
            }
            .map_err(write_err)?;
            out += 1;
        }
    }
    Ok(out)
}

/// A hash join: `table` holds one side; `stream` is the other, read once.
///
/// Output follows the streamed side's order, each streamed record with its matches in the
/// build side's input order; unmatched build records of outer joins come at the end in
/// the build side's input order. With the left side built, semi and anti joins write
/// their left records at the end, in the left input's order. [`parallel::probe_blocks`]
/// gives the same bytes on several threads.
pub fn hash_join<K: Keys + ?Sized>(
    keys: &K,
    jt: JoinType,
    table: &HashTable,
    stream: &mut dyn Input,
    sink: &mut dyn Sink,
    cfg: &Config,
) -> Result<Stats> {
    let build = table.side;
    let probe = build.other();
    let marks = Marks::new(table.len());
    if let Some(first) = table.items().next() {
        sink.seen(build, first);
    }
    let mut hk = Vec::new();
    let mut out = 0u64;
    let mut n = 0u64;
    let mut first = true;
    while stream.advance()? {
        n += 1;
        if n.is_multiple_of(4096) {
            cfg.check()?;
        }
        let s = stream.current();
        if first {
            sink.seen(probe, s);
            first = false;
        }
        out += probe_one(keys, jt, table, s, sink, &marks, &mut hk)?;
    }
    out += emit_owed(jt, table, &marks, sink)?;
    let mut stats = Stats {
        records_out: out,
        ..Stats::default()
    };
    match build {
        Side::Left => {
            stats.left_records = table.len() as u64;
            stats.right_records = n;
        }
        Side::Right => {
            stats.left_records = n;
            stats.right_records = table.len() as u64;
        }
    }
    Ok(stats)
}
