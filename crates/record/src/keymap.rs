//! Key bytes → a small value (a group's number, a chain's ends), for hash aggregation and
//! hash joins. Keys of up to 16 bytes live in the slot itself, so that a probe touches one
//! cache line and no pointer's target; longer keys keep their tail in one arena. Hashed with
//! hashbrown's default (foldhash) hasher; no allocation per key.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

/// Hint the CPU to load `r`'s cache line soon, for a probe a few records ahead (a no-op
/// off x86-64).
#[inline]
pub fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint to the cache; it reads nothing and cannot fault, and the
    // address is a live reference anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (r as *const T).cast::<i8>(),
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// The keys' hash function (hashbrown's default, foldhash, seeded per instance), for
/// tables of their own.
#[derive(Default, Clone)]
pub struct KeyHasher(DefaultHashBuilder);

impl KeyHasher {
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.0.hash_one(key)
    }
}

#[derive(Clone, Copy)]
struct Slot<V> {
    inline: [u8; 16],
    len: u32,
    /// Where bytes 16.. of a longer key are in `long`.
    off: usize,
    /// The key's hash, for growing the table without the key.
    hash: u64,
    value: V,
}

/// Distinct keys and their values.
pub struct KeyMap<V> {
    table: HashTable<Slot<V>>,
    long: Vec<u8>,
    hasher: DefaultHashBuilder,
}

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap {
            table: HashTable::new(),
            long: Vec::new(),
            hasher: DefaultHashBuilder::default(),
        }
    }
}

#[inline]
fn inline_of(key: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    let n = key.len().min(16);
    a[..n].copy_from_slice(&key[..n]);
    a
}

impl<V: Copy> KeyMap<V> {
    #[inline]
    fn matches(long: &[u8], slot: &Slot<V>, key: &[u8], inline: &[u8; 16]) -> bool {
        slot.len as usize == key.len()
            && slot.inline == *inline
            && (key.len() <= 16
                || long.get(slot.off..slot.off + key.len() - 16) == Some(&key[16..]))
    }

    /// The value of `key`.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        let h = self.hasher.hash_one(key);
        let inline = inline_of(key);
        let long = &self.long;
        self.table
            .find(h, |s| Self::matches(long, s, key, &inline))
            .map(|s| &s.value)
    }

    /// The value of `key`, to change.
    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let h = self.hasher.hash_one(key);
        let inline = inline_of(key);
        let long = &self.long;
        self.table
            .find_mut(h, |s| Self::matches(long, s, key, &inline))
            .map(|s| &mut s.value)
    }

    /// The value of `key`, inserting `make()` for a new key (one hash either way); the flag
    /// says whether it was new.
    #[inline]
    pub fn entry(&mut self, key: &[u8], make: impl FnOnce() -> V) -> (&mut V, bool) {
        let hash = self.hasher.hash_one(key);
        let inline = inline_of(key);
        let long = &mut self.long;
        match self
            .table
            .entry(hash, |s| Self::matches(long, s, key, &inline), |s| s.hash)
        {
            hashbrown::hash_table::Entry::Occupied(o) => (&mut o.into_mut().value, false),
            hashbrown::hash_table::Entry::Vacant(v) => {
                let off = long.len();
                if key.len() > 16 {
                    long.extend_from_slice(&key[16..]);
                }
                let slot = Slot {
                    inline,
                    len: key.len().min(u32::MAX as usize) as u32,
                    off,
                    hash,
                    value: make(),
                };
                (&mut v.insert(slot).into_mut().value, true)
            }
        }
    }

    /// Insert `key`, known to be absent.
    pub fn insert_new(&mut self, key: &[u8], value: V) {
        let off = self.long.len();
        if key.len() > 16 {
            self.long.extend_from_slice(&key[16..]);
        }
        let slot = Slot {
            inline: inline_of(key),
            len: key.len().min(u32::MAX as usize) as u32,
            off,
            hash: self.hasher.hash_one(key),
            value,
        };
        self.table.insert_unique(slot.hash, slot, |s| s.hash);
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// About the bytes held: slots and long keys' tails.
    pub fn heap_bytes(&self) -> usize {
        self.table.capacity() * (std::mem::size_of::<Slot<V>>() + 1) + self.long.capacity()
    }

    /// Forget every key (keeping the allocations).
    pub fn clear(&mut self) {
        self.table.clear();
        self.long.clear();
    }

    /// Every value, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.table.iter().map(|s| &s.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    proptest::proptest! {
        /// The same as a std HashMap, for short, 16-byte and long keys sharing prefixes.
        #[test]
        fn behaves_like_a_hashmap(
            keys in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec![b'a', b'b', 0u8]), 0..40),
                0..200,
            )
        ) {
            let mut ours = KeyMap::default();
            let mut model: HashMap<Vec<u8>, u32> = HashMap::new();
            for (i, k) in keys.iter().enumerate() {
                let (v, new) = ours.entry(k, || i as u32);
                let m = model.entry(k.clone()).or_insert(i as u32);
                proptest::prop_assert_eq!(*v, *m);
                proptest::prop_assert_eq!(new, *m == i as u32);
            }
            proptest::prop_assert_eq!(ours.len(), model.len());
            for (k, v) in &model {
                proptest::prop_assert_eq!(ours.get(k), Some(v));
            }
            proptest::prop_assert_eq!(ours.get(b"zzzzzzzzzzzzzzzzzzzzzzzz"), None);
        }
    }
}
