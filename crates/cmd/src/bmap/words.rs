//! bmap `--words`: tokens of raw input, with `--combine` counted in place (see
//! `map::words`).

use super::{Opts, Out};
use crate::combine::Combine;
use cli::{setup, At, Error, Output, Result, Stats};
use std::io::Read;
use std::time::Instant;

/// `--words` without `--where`: raw blocks, no framing.
pub(super) fn words_only(o: Opts, names: &[String], started: Instant) -> Result<()> {
    let mut stats = Stats {
        threads: 1,
        ..Stats::default()
    };
    let mut comb = match o.specs {
        Some(s) => Some(Combine::new(s, None, o.budget / 2, o.eol)?),
        None => None,
    };
    let mut readers = Vec::with_capacity(names.len());
    for n in names {
        let r = record::input::open(n)
            .map_err(|e| Error::Usage(format!("cannot read {n}: {}", cli::error::describe(&e))))?;
        readers.push((n.clone(), r));
    }
    let mut out = Out {
        out: Output::open("bmap", o.out_path.as_deref())?,
        block: Vec::with_capacity(3 << 20),
        records: 0,
    };
    for (name, r) in readers {
        let how = (o.header, o.lower, o.eol, o.stats_dest.is_some());
        let (records, bytes) = words_stream(r, &name, how, &mut out, comb.as_mut())?;
        stats.records_in += records;
        stats.bytes_in += bytes;
    }
    if let Some(c) = &mut comb {
        out.records += c.flush(&mut out.block)?;
    }
    out.flush()?;
    stats.records_out = out.records;
    stats.bytes_out = out.out.commit()?;
    setup::emit_stats("bmap", &stats, &o.stats_dest, started)
}

/// `--words` over one raw input (see [`map::words::stream`]). Returns (records, bytes)
/// read.
fn words_stream(
    mut r: Box<dyn Read + Send>,
    name: &str,
    (skip_header, lower, eol, count): (bool, bool, u8, bool),
    out: &mut Out,
    mut comb: Option<&mut Combine>,
) -> Result<(u64, u64)> {
    let mut tokens = Vec::new();
    let feed = |text: &[u8]| -> Result<()> {
        match comb.as_deref_mut() {
            None => out.records += map::words::tokens(text, lower, eol, &mut out.block),
            Some(c) => {
                // No error can be met (see words_specs): no line number is needed.
                out.records += if c.counts_only() {
                    c.words(text, lower, &mut out.block)?
                } else {
                    let at = At { name, line: 0 };
                    tokens.clear();
                    map::words::tokens(text, lower, eol, &mut tokens);
                    c.feed(&tokens, &at, &mut out.block)?
                };
            }
        }
        if out.block.len() >= 1 << 20 {
            out.flush()?;
        }
        Ok(())
    };
    map::words::stream(&mut r, skip_header, eol, count, feed).map_err(|e| match e {
        map::words::StreamError::Read(e) => Error::io(format!("{name}: read error"), e),
        map::words::StreamError::Sink(e) => e,
    })
}

/// `--words --combine`: the emitted records are TOKEN<TAB>1, so an aggregate reads field 1
/// (the token, not for numbers) or 2 (the 1); anything else would fail on every record.
pub(super) fn words_specs(specs: &[agg::Spec]) -> Result<()> {
    for s in specs {
        let ok = match s.field.as_deref() {
            None | Some("2") => true,
            Some("1") => !s.op.numeric(),
            Some(_) => false,
        };
        if !ok {
            return Err(Error::Usage(format!(
                "--combine {}: with --words the records are TOKEN<TAB>1 (field 1 the token, field 2 the number 1)",
                s.text
            )));
        }
    }
    Ok(())
}
