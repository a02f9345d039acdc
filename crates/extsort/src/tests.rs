//! The sort against a naive in-memory sort, at budgets that force spills and several passes.

use super::*;
use crate::mem::{page_aligned, populate};
use proptest::prelude::*;

/// Orders by the first byte only, so that stability and uniqueness are visible.
struct FirstByte;

impl Order for FirstByte {
    fn prefix(&self, item: &[u8]) -> Prefix {
        [
            u64::from(item.first().copied().unwrap_or(0)) << 8 | u64::from(!item.is_empty()),
            0,
        ]
    }
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        a.first().cmp(&b.first())
    }
}

fn run(
    items: &[Vec<u8>],
    budget: usize,
    fan_in: usize,
    stable: bool,
    unique: bool,
    compress: bool,
) -> (Vec<Vec<u8>>, Stats) {
    run_with(FirstByte, items, budget, fan_in, stable, unique, compress)
}

#[allow(clippy::too_many_arguments)]
fn run_with<O: Order + 'static>(
    order: O,
    items: &[Vec<u8>],
    budget: usize,
    fan_in: usize,
    stable: bool,
    unique: bool,
    compress: bool,
) -> (Vec<Vec<u8>>, Stats) {
    let cfg = Config {
        budget,
        fan_in,
        stable,
        unique,
        compress,
        threads: 2,
        ..Config::default()
    };
    let mut s = Sorter::new(order, cfg).unwrap_or_else(|e| panic!("{e}"));
    for i in items {
        s.push(i).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut out = Vec::new();
    let emit = |item: &[u8], buf: &mut Vec<u8>| {
        buf.extend_from_slice(&(item.len() as u32).to_le_bytes());
        buf.extend_from_slice(item);
    };
    let mut bytes = Vec::new();
    let stats = s
        .finish(&emit, &mut |block| {
            bytes.extend_from_slice(block);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let mut at = 0;
    while at < bytes.len() {
        let n =
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        out.push(bytes[at + 4..at + 4 + n].to_vec());
        at += 4 + n;
    }
    (out, stats)
}

fn naive(items: &[Vec<u8>], unique: bool) -> Vec<Vec<u8>> {
    let mut v = items.to_vec();
    v.sort_by(|a, b| a.first().cmp(&b.first()));
    if unique {
        v.dedup_by(|a, b| a.first() == b.first());
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn stable_and_unique_match_naive(
        items in proptest::collection::vec(proptest::collection::vec(0u8..6, 0..12), 0..300),
        budget in 40usize..2000,
        fan_in in 2usize..5,
        unique: bool,
        compress: bool,
    ) {
        let (out, _) = run(&items, budget, fan_in, true, unique, compress);
        prop_assert_eq!(out, naive(&items, unique));
    }
}

#[test]
fn spills_and_passes_are_counted() {
    let items: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| (i * 7919 % 2000).to_be_bytes().to_vec())
        .collect();
    let (out, stats) = run(&items, 1000, 2, true, false, false);
    assert_eq!(out.len(), 2000);
    assert!(stats.spill_runs > 10, "{stats:?}");
    assert!(stats.merge_passes > 2, "{stats:?}");
    let (mem, stats) = run(&items, 1 << 20, 2, true, false, false);
    assert_eq!(stats.spill_runs, 0);
    assert_eq!(mem, out);
}

#[test]
fn too_large_item_is_an_error() {
    let cfg = Config {
        budget: 100,
        ..Config::default()
    };
    let mut s = Sorter::new(FirstByte, cfg).unwrap_or_else(|e| panic!("{e}"));
    // Records beyond the budget are accepted up to the allowance, refused past it.
    assert!(s.push(&[1u8; 200]).is_ok());
    assert!(matches!(
        s.push(&vec![1u8; RECORD_ALLOWANCE + 1]),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn merge_many_sources() {
    struct V(Vec<Vec<u8>>, usize);
    impl Source for V {
        fn advance(&mut self) -> Result<bool> {
            self.1 += 1;
            Ok(self.1 <= self.0.len())
        }
        fn current(&self) -> &[u8] {
            &self.0[self.1 - 1]
        }
    }
    let mut all = Vec::new();
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    for s in 0..9u8 {
        let v: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i / 3, s]).collect();
        all.extend(v.clone());
        sources.push(Box::new(V(v, 0)));
    }
    let cfg = Config {
        fan_in: 2,
        ..Config::default()
    };
    let mut out = Vec::new();
    let emit = |item: &[u8], buf: &mut Vec<u8>| {
        buf.push(item.len() as u8);
        buf.extend_from_slice(item);
    };
    let mut bytes = Vec::new();
    let stats = merge(&FirstByte, sources, &cfg, &emit, &mut |b| {
        bytes.extend_from_slice(b);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mut at = 0;
    while at < bytes.len() {
        let n = bytes[at] as usize;
        out.push(bytes[at + 1..at + 1 + n].to_vec());
        at += 1 + n;
    }
    assert_eq!(out, naive(&all, false));
    assert!(stats.merge_passes >= 3);
}

/// The prefault thread's first madvise went to a Vec's unaligned pointer and failed with
/// EINVAL, so it never populated anything: the aligned range must be accepted.
#[test]
fn prefault_range_is_page_aligned_and_accepted() {
    let v: Vec<u8> = Vec::with_capacity(16 << 20);
    let (base, len) = page_aligned(v.as_ptr() as usize, v.capacity());
    assert_eq!(base % 4096, 0);
    assert!(base >= v.as_ptr() as usize && base + len <= v.as_ptr() as usize + v.capacity());
    assert!(
        populate(base, 2 << 20),
        "MADV_POPULATE_WRITE refused an aligned range"
    );
    drop(v);
}

/// Orders by the first `HEAD` bytes, with a summary of two bytes only (never total) and a
/// normalized key: groups of tied summaries are large, so they take the deep sort, and
/// items equal in order but not in bytes show stability.
struct Head;

const HEAD: usize = 40;

impl Order for Head {
    fn prefix(&self, item: &[u8]) -> Prefix {
        let b = |i: usize| u64::from(item.get(i).copied().unwrap_or(0));
        [b(0) << 16 | b(1) << 8 | item.len().min(2) as u64, 0]
    }
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        a[..a.len().min(HEAD)].cmp(&b[..b.len().min(HEAD)])
    }
    fn normalized(&self, item: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in &item[..item.len().min(HEAD)] {
            out.push(b);
            if b == 0 {
                out.push(1);
            }
        }
        out.extend_from_slice(&[0, 0]);
        true
    }
}

fn naive_head(items: &[Vec<u8>], unique: bool) -> Vec<Vec<u8>> {
    let mut v = items.to_vec();
    v.sort_by(|a, b| Head.compare(a, b));
    if unique {
        v.dedup_by(|a, b| Head.compare(a, b) == Ordering::Equal);
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Groups of hundreds of tied summaries, keys longer than several deep levels, NUL
    /// bytes (escaped in the normalized key) and ties beyond the compared head.
    #[test]
    fn deep_group_sort_matches_naive(
        seed in proptest::collection::vec((0u8..3, 0usize..70, 0u8..3), 200..1500),
        budget in prop_oneof![Just(1usize << 20), 2000usize..20000],
        unique: bool,
        stable: bool,
    ) {
        // Long shared runs of one byte make the first levels tie for the whole group.
        let items: Vec<Vec<u8>> = seed
            .iter()
            .map(|&(fill, len, last)| {
                // A stem of 17 bytes shared by most items: a tied group skips it at once.
                let stem = if len % 7 == 0 { 0 } else { 17 };
                let mut v = vec![1u8; stem + len.saturating_sub(1)];
                if let Some(x) = v.get_mut(stem + len / 2) {
                    *x = fill;
                }
                if stem == 0 && len > 1 {
                    // Apart from the stemmed ones (their own group of summaries).
                    v[0] = 2;
                }
                v.push(last);
                v
            })
            .collect();
        let (out, _) = run_with(Head, &items, budget, 4, stable || unique, unique, false);
        let want = naive_head(&items, unique);
        if stable || unique {
            prop_assert_eq!(out, want);
        } else {
            // Without a tiebreak only the order of the heads is defined.
            let heads = |v: &[Vec<u8>]| v.iter().map(|x| x[..x.len().min(HEAD)].to_vec()).collect::<Vec<_>>();
            prop_assert_eq!(heads(&out), heads(&want));
        }
    }
}

/// What the event hook was told (one test uses it: the hook is a plain function).
static EVENTS: std::sync::Mutex<Vec<Event>> = std::sync::Mutex::new(Vec::new());

fn record_event(e: Event) {
    if !matches!(e, Event::Timed { .. }) {
        if let Ok(mut v) = EVENTS.lock() {
            v.push(e);
        }
    }
}

#[test]
fn the_event_hook_is_told_each_step() {
    let sort = |budget: usize| {
        if let Ok(mut v) = EVENTS.lock() {
            v.clear();
        }
        let cfg = Config {
            budget,
            fan_in: 2,
            event_hook: Some(record_event),
            ..Config::default()
        };
        let mut s = Sorter::new(FirstByte, cfg).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..3000u32 {
            s.push(&(i * 7919 % 3000).to_be_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let emit = |item: &[u8], buf: &mut Vec<u8>| buf.extend_from_slice(item);
        s.finish(&emit, &mut |_| Ok(()))
            .unwrap_or_else(|e| panic!("{e}"));
        EVENTS.lock().map(|v| v.clone()).unwrap_or_default()
    };
    // In memory: one sort of everything, written straight out.
    let mem = sort(1 << 20);
    assert_eq!(
        mem,
        vec![
            Event::Sorting {
                entries: 3000,
                background: false
            },
            Event::Writing
        ]
    );
    // Spilling: the first spill stops the reader (sort, spill, read on), later ones sort in
    // the background; intermediate merges come before the last.
    let ext = sort(2000);
    assert_eq!(
        &ext[..4],
        &[
            Event::Sorting {
                entries: ext
                    .iter()
                    .find_map(|e| match e {
                        Event::Sorting { entries, .. } => Some(*entries),
                        _ => None,
                    })
                    .unwrap_or(0),
                background: false
            },
            Event::Spilling { background: false },
            ext[2],
            Event::Filling
        ]
    );
    assert!(
        matches!(ext[2], Event::Spilled { bytes } if bytes > 0),
        "{ext:?}"
    );
    assert!(ext.iter().any(|e| matches!(
        e,
        Event::Sorting {
            background: true,
            ..
        }
    )));
    assert!(ext
        .iter()
        .any(|e| matches!(e, Event::Merging { last: false, .. })));
    let lasts: Vec<_> = ext
        .iter()
        .filter(|e| matches!(e, Event::Merging { last: true, .. }))
        .collect();
    assert_eq!(lasts.len(), 1, "{ext:?}");
    assert!(
        matches!(ext.last(), Some(Event::Merging { last: true, .. })),
        "{ext:?}"
    );
}
