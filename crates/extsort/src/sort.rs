//! Sorting one chunk's entries: by prefix on all cores, then each group of equal prefixes.

use crate::mem::prefetch;
use crate::{Entry, Event, EventHook, Order, Prefix};
use rayon::prelude::*;
use std::cmp::Ordering;

/// An entry's prefix as one u128: one wide comparison instead of two in a row.
#[inline]
fn wide(e: &Entry) -> u128 {
    (u128::from(e.prefix[0]) << 64) | u128::from(e.prefix[1])
}

/// Sort a chunk's entries on the pool: by prefix, then equal-prefix groups by the full
/// order. `hook` is told the steps' times.
pub(crate) fn sort_entries<O: Order + ?Sized>(
    pool: &rayon::ThreadPool,
    order: &O,
    buf: &[u8],
    entries: &mut [Entry],
    tiebreak: bool,
    hook: Option<EventHook>,
) {
    let timed = |step: &'static str, t0: std::time::Instant| {
        if let Some(h) = hook {
            h(Event::Timed {
                step,
                elapsed: t0.elapsed(),
            });
        }
    };
    let t0 = std::time::Instant::now();
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
        timed("prefix sort", t0);
        let t0 = std::time::Instant::now();
        entries
            .par_chunk_by_mut(|a, b| a.prefix == b.prefix)
            .for_each_init(GroupScratch::default, |scratch, group| {
                if group.len() > 1 {
                    sort_group(group, order, buf, tiebreak, scratch);
                }
            });
        timed("group fix-up", t0);
    });
    timed("chunk sort", t0);
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
