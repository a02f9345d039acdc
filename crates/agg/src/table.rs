//! The groups of a hash aggregation, packed: an open-addressing index of 32-byte slots
//! (the key's hash, its group number, its length and first 16 bytes) gives each key a group
//! number; keys, first items and states live in flat arrays indexed by it. No allocation
//! per group beyond the arrays' growth.
//!
//! A probe is split in steps a caller can pipeline over a batch of records: [`Groups::hash`]
//! and [`Groups::prefetch`] first, then [`Groups::group`] and [`Groups::prefetch_states`],
//! then [`Groups::states`]. On a table larger than the caches each step waits for memory;
//! doing each step for several records before the next overlaps those waits.

use crate::{Op, State};
use record::keymap::{prefetch, KeyHasher};

/// One key of the index. `hash == 0`: empty (real hashes have their low bit set).
#[derive(Clone, Copy, Default)]
#[repr(C, align(32))]
struct Slot {
    hash: u64,
    group: u32,
    len: u32,
    head: [u8; 16],
}

#[inline]
fn head_of(key: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    let n = key.len().min(16);
    a[..n].copy_from_slice(&key[..n]);
    a
}

/// `key`'s hash by `h` as the tables use it (never 0, which marks an empty slot).
#[inline]
pub fn key_hash(h: &KeyHasher, key: &[u8]) -> u64 {
    h.hash(key) | 1
}

/// Distinct keys and their aggregates' states.
pub struct Groups {
    slots: Vec<Slot>,
    hasher: KeyHasher,
    ops: Vec<Op>,
    keys: Vec<u8>,
    key_at: Vec<(usize, u32)>,
    /// The first item of each group, when the caller needs more than the key.
    keep_items: bool,
    items: Vec<u8>,
    item_at: Vec<(usize, u32)>,
    /// `ops.len()` states per group.
    states: Vec<State>,
}

/// Slots of a new or cleared table.
const FIRST_SLOTS: usize = 64;

impl Groups {
    /// Groups for these aggregates; `keep_items`: also keep each group's first item.
    pub fn new(ops: Vec<Op>, keep_items: bool) -> Groups {
        Groups::with_hasher(ops, keep_items, KeyHasher::default())
    }

    /// The same with this hash function: tables whose groups are merged, or split by
    /// [`Groups::part_of`], share one.
    pub fn with_hasher(ops: Vec<Op>, keep_items: bool, hasher: KeyHasher) -> Groups {
        Groups {
            slots: vec![Slot::default(); FIRST_SLOTS],
            hasher,
            ops,
            keys: Vec::new(),
            key_at: Vec::new(),
            keep_items,
            items: Vec::new(),
            item_at: Vec::new(),
            states: Vec::new(),
        }
    }

    /// `key`'s hash, for [`Groups::prefetch`] and [`Groups::group`].
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        key_hash(&self.hasher, key)
    }

    /// Which of `parts` partitions a key of this hash is in: by its high bits, which the
    /// slots (indexed by the low bits) leave alone.
    #[inline]
    pub fn part_of(hash: u64, parts: usize) -> usize {
        (((hash >> 32) * parts as u64) >> 32) as usize
    }

    /// This table's hash function.
    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    /// Fold `other`'s groups (hashed by the same function) into these: a key new here takes
    /// its states, an existing one merges them (states whose order does not matter).
    pub fn absorb(&mut self, mut other: Groups) {
        let width = self.ops.len();
        let mut states = other.take_states().into_iter();
        for g in 0..other.len() {
            let key = other.key(g);
            let hash = self.hash(key);
            let (mine, new) = self.group(hash, key, other.item(g));
            for (a, b) in self
                .states(mine)
                .iter_mut()
                .zip(states.by_ref().take(width))
            {
                if new {
                    *a = b;
                } else {
                    a.merge(b);
                }
            }
        }
    }

    /// Start loading the slot where a probe for `hash` begins.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        let mask = self.slots.len() - 1;
        prefetch(&self.slots[hash as usize & mask]);
    }

    /// Start loading group `g`'s states.
    #[inline]
    pub fn prefetch_states(&self, g: u32) {
        let n = self.ops.len();
        let at = g as usize * n;
        if let Some(s) = self.states.get(at) {
            prefetch(s);
        }
        // The last state may be on the next cache line.
        if let Some(s) = self
            .states
            .get((at + n).saturating_sub(1))
            .filter(|_| n > 1)
        {
            prefetch(s);
        }
    }

    /// The group number of `key` (whose hash is `hash`), made (with `item`) when the key
    /// is new; the flag says whether it was.
    #[inline]
    pub fn group(&mut self, hash: u64, key: &[u8], item: &[u8]) -> (u32, bool) {
        let head = head_of(key);
        let len = key.len() as u32;
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let s = &self.slots[i];
            if s.hash == 0 {
                break;
            }
            if s.hash == hash
                && s.len == len
                && s.head == head
                && (key.len() <= 16 || self.key(s.group as usize)[16..] == key[16..])
            {
                return (s.group, false);
            }
            i = (i + 1) & mask;
        }
        let g = self.key_at.len() as u32;
        self.slots[i] = Slot {
            hash,
            group: g,
            len,
            head,
        };
        self.key_at.push((self.keys.len(), len));
        self.keys.extend_from_slice(key);
        if self.keep_items {
            self.item_at.push((self.items.len(), item.len() as u32));
            self.items.extend_from_slice(item);
        }
        self.states
            .extend(self.ops.iter().map(|&op| State::new(op)));
        // At most 3/4 full: linear probes stay short.
        if self.key_at.len() * 4 > self.slots.len() * 3 {
            self.grow();
        }
        (g, true)
    }

    /// Twice the slots, each key moved by its hash; room for the states of as many groups
    /// as they hold. Large arrays are backed by huge pages where the kernel allows (a
    /// probe's and its states' TLB misses are much of their cost on large tables).
    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        let mut slots: Vec<Slot> = Vec::with_capacity(n);
        extsort::advise_huge(slots.as_ptr().cast(), n * std::mem::size_of::<Slot>());
        slots.resize(n, Slot::default());
        let old = std::mem::replace(&mut self.slots, slots);
        let want = n / 4 * 3 * self.ops.len();
        if want > self.states.capacity() {
            self.states.reserve_exact(want - self.states.len());
            extsort::advise_huge(
                self.states.as_ptr().cast(),
                self.states.capacity() * std::mem::size_of::<State>(),
            );
        }
        let mask = n - 1;
        for s in old.into_iter().filter(|s| s.hash != 0) {
            let mut i = s.hash as usize & mask;
            while self.slots[i].hash != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// Group `g`'s states.
    #[inline]
    pub fn states(&mut self, g: u32) -> &mut [State] {
        let n = self.ops.len();
        let at = g as usize * n;
        &mut self.states[at..at + n]
    }

    /// The states of `key`'s group, made (with `item`) when the key is new; the flag says
    /// whether it was.
    #[inline]
    pub fn states_for(&mut self, key: &[u8], item: &[u8]) -> (&mut [State], bool) {
        let h = self.hash(key);
        let (g, new) = self.group(h, key, item);
        (self.states(g), new)
    }

    /// How many groups.
    pub fn len(&self) -> usize {
        self.key_at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.key_at.is_empty()
    }

    /// Group `g`'s key.
    pub fn key(&self, g: usize) -> &[u8] {
        let (at, n) = self.key_at[g];
        &self.keys[at..at + n as usize]
    }

    /// Group `g`'s first item (its key when items are not kept).
    pub fn item(&self, g: usize) -> &[u8] {
        if !self.keep_items {
            return self.key(g);
        }
        let (at, n) = self.item_at[g];
        &self.items[at..at + n as usize]
    }

    /// Group `g`'s item and states.
    pub fn item_and_states(&mut self, g: usize) -> (&[u8], &mut [State]) {
        let n = self.ops.len();
        let states = &mut self.states[g * n..(g + 1) * n];
        let item = if self.keep_items {
            let (at, len) = self.item_at[g];
            &self.items[at..at + len as usize]
        } else {
            let (at, len) = self.key_at[g];
            &self.keys[at..at + len as usize]
        };
        (item, states)
    }

    /// About the bytes in use, not counting what states grew by (callers count that). By
    /// lengths, not capacities: after [`Groups::clear`] the arrays keep their memory.
    pub fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
            + self.keys.len()
            + self.items.len()
            + (self.key_at.len() + self.item_at.len()) * 16
            + self.states.len() * std::mem::size_of::<State>()
    }

    /// Take every group's states out (`ops.len()` per group, in group order), leaving
    /// the groups without states: only [`Groups::key`] and [`Groups::item`] stay usable.
    pub fn take_states(&mut self) -> Vec<State> {
        std::mem::take(&mut self.states)
    }

    /// How many states each group has.
    pub fn width(&self) -> usize {
        self.ops.len()
    }

    /// Forget every group, keeping the arrays' memory for the next ones (but not a large
    /// index: its size counts in [`Groups::bytes`]).
    pub fn clear(&mut self) {
        self.slots.clear();
        self.slots.shrink_to(FIRST_SLOTS);
        self.slots.resize(FIRST_SLOTS, Slot::default());
        self.keys.clear();
        self.key_at.clear();
        self.items.clear();
        self.item_at.clear();
        self.states.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_keys_items_and_states_apart() {
        let mut g = Groups::new(vec![Op::Count, Op::Sum], true);
        for (k, v) in [
            ("a", "1"),
            ("bbbbbbbbbbbbbbbbbbbbbb", "2"),
            ("a", "3"),
            ("", "4"),
        ] {
            let item = format!("{k}\t{v}");
            let (st, _) = g.states_for(k.as_bytes(), item.as_bytes());
            for s in st.iter_mut() {
                s.update(v.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        assert_eq!(g.len(), 3);
        let mut seen = Vec::new();
        for i in 0..g.len() {
            let key = g.key(i).to_vec();
            let (item, st) = g.item_and_states(i);
            let mut out = Vec::new();
            for (s, op) in st.iter_mut().zip([Op::Count, Op::Sum]) {
                s.finish(op, &mut out).unwrap_or_else(|e| panic!("{e}"));
                out.push(b' ');
            }
            seen.push((
                key,
                item.to_vec(),
                String::from_utf8_lossy(&out).into_owned(),
            ));
        }
        assert_eq!(
            seen,
            vec![
                (b"a".to_vec(), b"a\t1".to_vec(), "2 4 ".to_string()),
                (
                    b"bbbbbbbbbbbbbbbbbbbbbb".to_vec(),
                    b"bbbbbbbbbbbbbbbbbbbbbb\t2".to_vec(),
                    "1 2 ".to_string()
                ),
                (b"".to_vec(), b"\t4".to_vec(), "1 4 ".to_string()),
            ]
        );
        g.clear();
        assert!(g.is_empty());
        assert!(g.states_for(b"a", b"").1);
    }
}
