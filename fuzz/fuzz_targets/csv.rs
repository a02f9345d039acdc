//! CSV framing and field decoding, and the byte cutter against the framer.
//!
//! `Framer::next_csv_record` joins lines while a quoted field is open; `cut::Ends` finds
//! record ends for bsplit `-n` and bmap's chunks; `cut::last_end_within` picks a cut.
//! Properties: no panic; the framer's record boundaries are exactly the cutter's record
//! ends (fed whole or in pieces), plus the end of an unterminated last record; every cut
//! is one of those ends; a record whose fields decode re-encodes (quoting every field)
//! to a record that decodes to the same fields.
//!
//! Input: byte 0 picks the piece size and cut size, the rest is the CSV text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use record::cut::{last_end_within, Ends};
use record::{CsvScratch, Framer};

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, text)) = data.split_first() else {
        return;
    };
    let piece = (ctl & 0x0f) as usize + 1;
    let size = (ctl >> 4) as usize * 3 + 1;
    for (eol, csv) in [(b'\n', true), (b'\n', false), (0u8, true)] {
        // The framer's boundaries (offsets just after each record's terminator).
        let mut f = Framer::with_limit(text, eol, 1 << 20);
        let mut framed = Vec::new();
        let mut joined = Vec::new();
        let mut records: Vec<Vec<u8>> = Vec::new();
        loop {
            let r = if csv {
                match f.next_csv_record(&mut joined) {
                    Ok(None) => break,
                    Ok(Some(true)) => joined.clone(),
                    Ok(Some(false)) => f.last().to_vec(),
                    Err(e) => panic!("in-memory framing failed: {e}"),
                }
            } else {
                match f.next_record() {
                    Ok(None) => break,
                    Ok(Some(r)) => r.to_vec(),
                    Err(e) => panic!("in-memory framing failed: {e}"),
                }
            };
            framed.push(f.bytes as usize);
            records.push(r);
        }
        assert_eq!(framed.last().copied().unwrap_or(0), text.len());
        // The records concatenate back to the input (terminators between them).
        let mut again = Vec::new();
        for (i, r) in records.iter().enumerate() {
            again.extend_from_slice(r);
            if i + 1 < records.len() || f.terminated {
                again.push(eol);
            }
        }
        assert_eq!(again, text);

        // The cutter's record ends, fed whole and in pieces.
        let mut whole = Vec::new();
        Ends::new(eol, csv).feed(text, |e| {
            whole.push(e);
            true
        });
        let mut pieces = Vec::new();
        let mut ends = Ends::new(eol, csv);
        let mut base = 0;
        for chunk in text.chunks(piece) {
            ends.feed(chunk, |e| {
                pieces.push(base + e);
                true
            });
            base += chunk.len();
        }
        assert_eq!(whole, pieces);
        let mut want = whole.clone();
        if want.last().copied().unwrap_or(0) != text.len() {
            want.push(text.len());
        }
        assert_eq!(framed, want, "framer vs cutter (csv {csv}, eol {eol})");
        assert_eq!(Ends::new(eol, csv).count(text) as usize, whole.len());

        // Cuts land on record ends.
        match last_end_within(text, size, eol, csv) {
            None => assert!(whole.is_empty()),
            Some(c) => {
                assert!(whole.contains(&c), "cut {c} not a record end");
                let before = whole.iter().rev().find(|&&e| e <= size);
                assert_eq!(Some(c), before.or(whole.first()).copied());
            }
        }

        // Field decoding, and a round trip through fully quoted fields.
        if csv && eol == b'\n' {
            let mut s = CsvScratch::default();
            let mut s2 = CsvScratch::default();
            for r in &records {
                if s.parse(r, b',').is_err() {
                    continue;
                }
                let fields: Vec<Vec<u8>> = s.fields().iter().map(|f| f.to_vec()).collect();
                for i in 0..fields.len() + 2 {
                    let _ = s.field(i);
                }
                let mut enc = Vec::new();
                for (i, fld) in fields.iter().enumerate() {
                    if i > 0 {
                        enc.push(b',');
                    }
                    enc.push(b'"');
                    for &c in fld {
                        if c == b'"' {
                            enc.push(b'"');
                        }
                        enc.push(c);
                    }
                    enc.push(b'"');
                }
                if s2.parse(&enc, b',').is_ok() {
                    let back: Vec<Vec<u8>> = s2.fields().iter().map(|f| f.to_vec()).collect();
                    if !(fields.is_empty() && back == vec![Vec::<u8>::new()]) {
                        assert_eq!(back, fields, "{r:?} -> {enc:?}");
                    }
                } else {
                    panic!("re-encoded record does not decode: {enc:?}");
                }
            }
        }
    }
});
