//! Partial-state tokens (`breduce --partial` / `--merge`, `bshuffle --combine`):
//! `agg::State::decode_text` for every combinable aggregate.
//!
//! Input: byte 0 picks the aggregate, the rest is the token (a TAB splits a second token).
//! Properties: no panic; a token that decodes encodes to a canonical token that decodes
//! and encodes to itself; merging two decoded states and finishing never panics.
#![no_main]

use agg::{text::combinable, Spec, State};
use libfuzzer_sys::fuzz_target;

const OPS: &[&str] = &[
    "count",
    "sum:1",
    "min:1",
    "max:1",
    "mean:1",
    "first:1",
    "last:1",
    "countdistinct:1",
    "distinct:1",
    "collect:1",
    "var:1",
    "stddev:1",
    "pvar:1",
    "pstddev:1",
    "median:1",
    "q50:1",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Some(spec) = Spec::parse(OPS[pick as usize % OPS.len()]) else {
        return;
    };
    let op = spec.op;
    let (ta, tb) = match rest.iter().position(|&c| c == b'\t') {
        Some(p) => (&rest[..p], &rest[p + 1..]),
        None => (rest, &b""[..]),
    };
    let Ok(a) = State::decode_text(op, ta) else {
        return;
    };
    if !combinable(op) {
        return;
    }
    let mut t1 = Vec::new();
    a.encode_text(&mut t1);
    let a2 = State::decode_text(op, &t1)
        .unwrap_or_else(|e| panic!("{op:?}: {ta:?} encodes to {t1:?}, which does not decode: {e}"));
    let mut t2 = Vec::new();
    a2.encode_text(&mut t2);
    if t1.contains(&b'~') {
        // A float sum's terms are its exact accumulator's partials: re-adding them may give
        // other partials with the same exact sum, so compare what the state finishes to.
        let (mut f1, mut f2) = (Vec::new(), Vec::new());
        let _ = a.clone().finish(op, &mut f1);
        let _ = a2.clone().finish(op, &mut f2);
        assert_eq!(f1, f2, "{op:?}: {ta:?} finishes differently after one round");
    } else {
        assert_eq!(t1, t2, "{op:?}: {ta:?} is not canonical after one round");
    }
    assert!(!t1.iter().any(|c| matches!(c, b'\t' | b'\n' | b'\r')));

    let mut out = Vec::new();
    let _ = a.clone().finish(op, &mut out);
    if let Ok(b) = State::decode_text(op, tb) {
        let mut m = a;
        m.merge(b);
        let mut t = Vec::new();
        m.encode_text(&mut t);
        let _ = State::decode_text(op, &t)
            .unwrap_or_else(|e| panic!("{op:?}: merged state {t:?} does not decode: {e}"));
        out.clear();
        let _ = m.finish(op, &mut out);
    }
});
