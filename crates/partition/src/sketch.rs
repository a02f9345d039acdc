//! Heavy hitters in one pass with bounded memory: the SpaceSaving sketch (Metwally,
//! Agrawal, El Abbadi 2005).
//!
//! [`HeavyHitters`] keeps at most `capacity` keys, each with a count. A key in the sketch
//! is counted exactly from the moment it entered; its `error` is the count it inherited
//! when it entered (the smallest count then, which is at most `records / capacity`). A
//! key that is there from its first record has error 0 and an exact count: with
//! `capacity` well above the number reported, the top keys of a skewed stream are exact.
//!
//! Admission is randomized (RAP, Ben Basat et al., "Randomized admission policy for
//! efficient top-k and frequency estimation", INFOCOM 2017): when the sketch is full, an
//! unknown key replaces the smallest one only with probability 1/(min+1), so that the
//! many rare keys of a long tail cost one table probe each instead of an eviction. A key
//! seen f times gets in after about min+1 of its records, the same error as plain
//! SpaceSaving in expectation; the pseudo-random sequence is fixed, so a report is
//! reproducible.
//!
//! Cost per record: one xxh3 hash of the key, one probe of a small table by that hash,
//! and, on a hit, a sift down a min-heap of counts (usually no step for a heavy key).
//! Two keys with the same 64-bit hash count as one (probability about 2^-64 per pair).

use serde_json::{json, Value};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The default number of keys kept: top-10 reports with counts exact on skewed data.
pub const CAPACITY: usize = 1024;
/// Keys longer than this are kept (and reported) cut to this many bytes.
pub const KEY_LIMIT: usize = 256;

/// The key is a hash already: use it as it is.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used for u64 keys; fold anything else in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

struct Slot {
    hash: u64,
    key: Vec<u8>,
    count: u64,
    error: u64,
    /// Bytes of the records counted while the key was in the sketch (a lower bound).
    bytes: u64,
}

/// One reported key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hitter {
    pub key: Vec<u8>,
    /// At least the true count, at most `error` more.
    pub records: u64,
    pub error: u64,
    /// At most the true bytes (the records before the key entered are not counted).
    pub bytes: u64,
}

/// A SpaceSaving sketch over keys with their record bytes.
pub struct HeavyHitters {
    capacity: usize,
    slots: Vec<Slot>,
    /// Slot numbers, a min-heap by count.
    heap: Vec<u32>,
    /// Where each slot is in `heap`.
    pos: Vec<u32>,
    index: HashMap<u64, u32, BuildHasherDefault<Identity>>,
    records: u64,
    bytes: u64,
    /// xorshift64 state: deterministic, so the same input gives the same report.
    rng: u64,
    /// A miss is admitted when `rng <= admit_below` = u64::MAX / (`admit_for` + 1).
    admit_for: u64,
    admit_below: u64,
}

impl Default for HeavyHitters {
    fn default() -> Self {
        HeavyHitters::new(CAPACITY)
    }
}

impl HeavyHitters {
    pub fn new(capacity: usize) -> HeavyHitters {
        let capacity = capacity.clamp(1, u32::MAX as usize);
        HeavyHitters {
            capacity,
            slots: Vec::new(),
            heap: Vec::new(),
            pos: Vec::new(),
            index: HashMap::default(),
            records: 0,
            bytes: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
            admit_for: 0,
            admit_below: u64::MAX,
        }
    }

    /// Records and bytes seen.
    pub fn totals(&self) -> (u64, u64) {
        (self.records, self.bytes)
    }

    /// Count one record of `bytes` bytes with key `key`.
    #[inline]
    pub fn add(&mut self, key: &[u8], bytes: u64) {
        self.add_hashed(crate::hash(key), key, bytes);
    }

    /// The same, with `hash` = [`crate::hash`]`(key)` computed by the caller.
    #[inline]
    pub fn add_hashed(&mut self, hash: u64, key: &[u8], bytes: u64) {
        self.records += 1;
        self.bytes += bytes;
        if let Some(&s) = self.index.get(&hash) {
            let slot = &mut self.slots[s as usize];
            slot.count += 1;
            slot.bytes += bytes;
            self.sift_down(self.pos[s as usize] as usize);
            return;
        }
        self.insert(hash, key, bytes);
    }

    fn insert(&mut self, hash: u64, key: &[u8], bytes: u64) {
        let key = &key[..key.len().min(KEY_LIMIT)];
        if self.slots.len() < self.capacity {
            let key = key.to_vec();
            let s = self.slots.len() as u32;
            self.slots.push(Slot {
                hash,
                key,
                count: 1,
                error: 0,
                bytes,
            });
            self.pos.push(self.heap.len() as u32);
            self.heap.push(s);
            self.index.insert(hash, s);
            self.sift_up(self.heap.len() - 1);
            return;
        }
        // Full: the key with the smallest count gives its place (and its count, as the
        // new key's error) to this one, with probability 1/(min+1) (RAP, below).
        let s = self.heap[0];
        let min = self.slots[s as usize].count;
        if min != self.admit_for {
            self.admit_for = min;
            self.admit_below = u64::MAX / (min + 1);
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        if self.rng > self.admit_below {
            return;
        }
        let slot = &mut self.slots[s as usize];
        self.index.remove(&slot.hash);
        slot.hash = hash;
        slot.key.clear();
        slot.key.extend_from_slice(key);
        slot.error = slot.count;
        slot.count += 1;
        slot.bytes = bytes;
        self.index.insert(hash, s);
        self.sift_down(0);
    }

    fn count_at(&self, i: usize) -> u64 {
        self.slots[self.heap[i] as usize].count
    }

    fn swap(&mut self, i: usize, j: usize) {
        self.heap.swap(i, j);
        self.pos[self.heap[i] as usize] = i as u32;
        self.pos[self.heap[j] as usize] = j as u32;
    }

    #[inline]
    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let l = 2 * i + 1;
            if l >= n {
                return;
            }
            let r = l + 1;
            let c = if r < n && self.count_at(r) < self.count_at(l) {
                r
            } else {
                l
            };
            if self.count_at(c) >= self.count_at(i) {
                return;
            }
            self.swap(i, c);
            i = c;
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let p = (i - 1) / 2;
            if self.count_at(p) <= self.count_at(i) {
                return;
            }
            self.swap(i, p);
            i = p;
        }
    }

    /// The `n` keys with the largest counts, largest first (ties by key bytes).
    pub fn top(&self, n: usize) -> Vec<Hitter> {
        let mut all: Vec<&Slot> = self.slots.iter().collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        all.into_iter()
            .take(n)
            .map(|s| Hitter {
                key: s.key.clone(),
                records: s.count,
                error: s.error,
                bytes: s.bytes,
            })
            .collect()
    }

    /// The report in `--stats` and `_SUCCESS`: the top `n` keys with their share of the
    /// records and bytes, and what the counts guarantee.
    pub fn to_json(&self, n: usize) -> Value {
        let records = self.records.max(1) as f64;
        let bytes = self.bytes.max(1) as f64;
        let top: Vec<Value> = self
            .top(n)
            .into_iter()
            .map(|h| {
                json!({
                    "key": String::from_utf8_lossy(&h.key),
                    "records": h.records,
                    "error": h.error,
                    "records_share": round(h.records as f64 / records),
                    "bytes": h.bytes,
                    "bytes_share": round(h.bytes as f64 / bytes),
                })
            })
            .collect();
        json!({
            "method": "SpaceSaving",
            "capacity": self.capacity,
            "records": self.records,
            "bytes": self.bytes,
            "max_error": self.records / self.capacity as u64,
            "top": top,
        })
    }
}

fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic Zipf(1.1) stream over `keys` keys.
    fn zipf(n: usize, keys: usize, seed: u64) -> Vec<u64> {
        let weights: Vec<f64> = (1..=keys).map(|r| 1.0 / (r as f64).powf(1.1)).collect();
        let total: f64 = weights.iter().sum();
        let mut cdf = Vec::with_capacity(keys);
        let mut acc = 0.0;
        for w in &weights {
            acc += w / total;
            cdf.push(acc);
        }
        let mut x = seed;
        (0..n)
            .map(|_| {
                // splitmix64
                x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                let u = (z >> 11) as f64 / (1u64 << 53) as f64;
                cdf.partition_point(|&c| c < u).min(keys - 1) as u64
            })
            .collect()
    }

    #[test]
    fn top_keys_of_zipf_match_an_exact_count() {
        let stream = zipf(200_000, 50_000, 7);
        let mut hh = HeavyHitters::new(CAPACITY);
        let mut exact: HashMap<Vec<u8>, (u64, u64)> = HashMap::new();
        for k in &stream {
            let key = format!("user{k}").into_bytes();
            let len = key.len() as u64 + 1;
            hh.add(&key, len);
            let e = exact.entry(key).or_default();
            e.0 += 1;
            e.1 += len;
        }
        let mut truth: Vec<(Vec<u8>, (u64, u64))> = exact.into_iter().collect();
        truth.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(&b.0)));
        let top = hh.top(10);
        assert_eq!(top.len(), 10);
        for (h, (k, (count, bytes))) in top.iter().zip(&truth) {
            assert_eq!(&h.key, k);
            assert!(h.records >= *count && h.records - h.error <= *count);
            assert!(h.bytes <= *bytes);
            // Heavy keys enter early and stay: exact.
            assert_eq!((h.records, h.error, h.bytes), (*count, 0, *bytes));
        }
        assert_eq!(hh.totals().0, 200_000);
    }

    #[test]
    fn error_is_bounded_on_uniform_keys() {
        // More distinct keys than slots: counted exactly since entry, the inherited part
        // within records/capacity.
        let mut hh = HeavyHitters::new(16);
        let mut exact: HashMap<Vec<u8>, u64> = HashMap::new();
        for i in 0..10_000u64 {
            let key = format!("{}", (i * 7919) % 1000).into_bytes();
            hh.add(&key, 1);
            *exact.entry(key).or_default() += 1;
        }
        for h in hh.top(16) {
            let truth = exact.get(&h.key).copied().unwrap_or(0);
            assert!(h.records - h.error <= truth, "{h:?} truth {truth}");
            assert!(h.error <= 10_000 / 16);
        }
        let counts: u64 = hh.top(16).iter().map(|h| h.records).sum();
        assert!(counts <= 10_000);
    }

    #[test]
    fn a_heavy_key_arriving_late_gets_in() {
        // The sketch fills with a tail of rare keys, then one key takes half the records.
        let mut hh = HeavyHitters::new(32);
        for i in 0..5_000u64 {
            hh.add(format!("rare{i}").as_bytes(), 1);
        }
        for i in 0..10_000u64 {
            if i % 2 == 0 {
                hh.add(b"late", 1);
            } else {
                hh.add(format!("tail{i}").as_bytes(), 1);
            }
        }
        let top = hh.top(1);
        assert_eq!(top[0].key, b"late");
        let (records, error) = (top[0].records, top[0].error);
        assert!(
            records - error <= 5_000 && records + 15_000 / 32 >= 5_000,
            "{top:?}"
        );
        assert!(error <= 15_000 / 32, "{top:?}");
    }

    #[test]
    fn one_dominant_key_and_long_keys() {
        let mut hh = HeavyHitters::new(4);
        let long = vec![b'x'; 1000];
        for i in 0..1000u64 {
            if i % 5 == 0 {
                hh.add(format!("k{i}").as_bytes(), 10);
            } else {
                hh.add(&long, 2);
            }
        }
        let top = hh.top(1);
        assert_eq!(top[0].key.len(), KEY_LIMIT);
        assert_eq!((top[0].records, top[0].error, top[0].bytes), (800, 0, 1600));
        let j = hh.to_json(10);
        assert_eq!(j["top"][0]["records_share"], json!(0.8));
        assert_eq!(j["records"], json!(1000));
        assert!(j["top"].as_array().map_or(0, |a| a.len()) <= 4);
    }

    #[test]
    fn empty_sketch_reports_nothing() {
        let hh = HeavyHitters::default();
        assert!(hh.top(10).is_empty());
        assert_eq!(hh.to_json(10)["top"], json!([]));
    }
}
