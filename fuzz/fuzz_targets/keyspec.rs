//! The `-k` grammar and key resolution: `KeySpec::parse`, `resolve` against a header,
//! `Key::resolve` for each format, then ordering records by the key.
//!
//! Input: `SPEC \n HEADER \n RECORD \n RECORD...` (header and records TAB-separated).
//! Properties: no panic; parsing is deterministic; a key compares a record equal to
//! itself, and `compare(a, b)` is the reverse of `compare(b, a)`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use record::order::KeySource;
use record::{CsvScratch, FieldSplit, Format, Key, KeyOpts, KeySpec, RecordOrder};
use std::cmp::Ordering;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&c| c == b'\n');
    let Some(spec) = lines.next() else { return };
    let Ok(spec) = std::str::from_utf8(spec) else {
        return;
    };
    let header: Vec<&[u8]> = lines.next().unwrap_or(b"").split(|&c| c == b'\t').collect();
    let records: Vec<&[u8]> = lines.take(8).collect();

    let Ok(parsed) = KeySpec::parse(spec) else {
        return;
    };
    assert_eq!(KeySpec::parse(&parsed.text).ok().as_ref(), Some(&parsed));
    let mut named = parsed.clone();
    let _ = named.resolve(&header);
    let mut inherited = parsed.clone();
    inherited.inherit(&KeyOpts::default());

    for format in [
        Format::Text(FieldSplit::Char(b'\t')),
        Format::Text(FieldSplit::Blank),
        Format::Csv(b','),
        Format::Jsonl,
    ] {
        for h in [None, Some(header.as_slice())] {
            let Ok(key) = Key::resolve(&parsed, format, h) else {
                continue;
            };
            if let KeySource::Path(p) = &key.source {
                assert!(!p.is_empty());
            }
            for stable in [false, true] {
                let order = RecordOrder::new(format, vec![key.clone()], KeyOpts::default(), stable);
                let mut items = Vec::new();
                let mut scratch = CsvScratch::default();
                for r in &records {
                    let mut item = Vec::new();
                    if order.encode(r, &mut item, &mut scratch).is_ok() {
                        items.push(item);
                    }
                }
                let norm: Vec<Option<Vec<u8>>> = items
                    .iter()
                    .map(|a| {
                        let mut n = Vec::new();
                        order.normalized(a, &mut n).then_some(n)
                    })
                    .collect();
                for (a, na) in items.iter().zip(&norm) {
                    let _ = order.record(a);
                    let _ = order.prefix(a);
                    assert_eq!(order.compare(a, a), Ordering::Equal, "{spec:?} {a:?}");
                    for (b, nb) in items.iter().zip(&norm) {
                        let o = order.compare(a, b);
                        assert_eq!(o, order.compare(b, a).reverse(), "{spec:?} {a:?} {b:?}");
                        // The normalized key orders bytewise as the comparison does.
                        if let (Some(na), Some(nb)) = (na, nb) {
                            assert_eq!(na.cmp(nb), o, "normalized {spec:?} {a:?} {b:?}");
                        }
                    }
                }
            }
        }
    }
});
