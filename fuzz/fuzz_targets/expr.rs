//! bmap's `--where` and `--emit`: parsing (`Program::add_where`, `add_emit`), then field
//! extraction (`Extractor`) and evaluation (`matches`, `emit`) over records.
//!
//! Input: byte 0 picks the format; then `WHERE \n EMIT \n RECORD \n RECORD...` (an empty
//! WHERE or EMIT line is left out). Field names resolve as bmap resolves them without
//! `--header`: numbers, spans `A-B`, JSON paths.
//! Properties: no panic; an emitted record never holds the record terminator, and holds
//! exactly one TAB fewer than items, unless a span of a TSV input is emitted raw.
#![no_main]

use libfuzzer_sys::fuzz_target;
use map::expr::{Item, Program};
use map::fields::{Extractor, FieldRef, Fmt};

fn resolver(json: bool) -> impl Fn(&str) -> Result<FieldRef, String> {
    move |s: &str| {
        if json {
            return Ok(FieldRef::Path(
                s.split('.').map(|p| p.as_bytes().to_vec()).collect(),
            ));
        }
        let number = |t: &str| -> Option<Result<usize, String>> {
            let n = t.parse::<usize>().ok()?;
            Some(if n == 0 {
                Err("field numbers start at 1".into())
            } else {
                Ok(n - 1)
            })
        };
        if let Some(n) = number(s) {
            return n.map(FieldRef::Index);
        }
        if let Some((a, b)) = s.split_once('-') {
            if let (Some(a), Some(b)) = (number(a), number(b)) {
                let (a, b) = (a?, b?);
                if a > b {
                    return Err("span backwards".into());
                }
                return Ok(FieldRef::Span(a, b));
            }
        }
        Err(format!("no field '{s}'"))
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let fmt = match pick % 4 {
        0 => Fmt::Tsv(b'\t'),
        1 => Fmt::Tsv(b','),
        2 => Fmt::Csv(b','),
        _ => Fmt::Json,
    };
    let eol = if pick & 0x80 != 0 { 0 } else { b'\n' };
    let mut lines = rest.split(|&c| c == b'\n');
    let (Some(w), Some(e)) = (lines.next(), lines.next()) else {
        return;
    };
    let (Ok(w), Ok(e)) = (std::str::from_utf8(w), std::str::from_utf8(e)) else {
        return;
    };
    let resolve = resolver(fmt == Fmt::Json);
    let mut prog = Program {
        tsv: fmt == Fmt::Tsv(b'\t'),
        ..Program::default()
    };
    if !w.is_empty() {
        for cond in w.split('\u{1}') {
            if prog.add_where(cond, &resolve).is_err() {
                return;
            }
        }
    }
    if !e.is_empty() && prog.add_emit(e, &resolve).is_err() {
        return;
    }
    assert_eq!(prog.items.len(), prog.item_texts.len());
    let raw_spans = prog.items.iter().any(
        |i| matches!(i, Item::Field { tsv_span: true, transforms, .. } if transforms.is_empty()),
    );
    let mut x = Extractor::new(fmt, prog.refs.clone());
    let (mut out, mut scratch) = (Vec::new(), Vec::new());
    // Records are framed on the terminator: none holds it (with NUL-terminated input, a
    // line of this input may hold several records).
    for rec in lines.take(16).flat_map(|l| l.split(move |&c| c == eol)) {
        if x.extract(rec).is_err() {
            continue;
        }
        for k in 0..prog.refs.len() {
            let _ = x.get(rec, k);
        }
        let _ = prog.matches(&x, rec);
        out.clear();
        if prog.emit(&x, rec, eol, &mut out, &mut scratch).is_ok() && !prog.items.is_empty() {
            assert!(!out.contains(&eol), "{e:?} on {rec:?} emits {out:?}");
            if !raw_spans {
                let tabs = out.iter().filter(|&&c| c == b'\t').count();
                assert_eq!(tabs + 1, prog.items.len(), "{e:?} on {rec:?} emits {out:?}");
            }
        }
    }
});
