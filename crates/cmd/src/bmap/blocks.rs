//! bmap's built-in mapping on -j threads: a reading thread cuts blocks of whole records,
//! each worker maps the blocks it is given (and combines them, with `--combine`), and the
//! results are written in input order, so the bytes are those of `-j 1`.

use super::Out;
use crate::combine::Combine;
use cli::bad::BadRecords;
use cli::{input, At, Error, Result, Stats};
use map::expr::Program;
use map::fields::{Extractor, Fmt};

/// What every worker of [`parallel`] applies to each record.
pub(super) struct Job<'a> {
    pub prog: &'a Program,
    pub fmt: Fmt,
    pub words: bool,
    pub lower: bool,
    pub has_items: bool,
    pub eol: u8,
    pub skip: bool,
    /// --combine: each worker combines its blocks in a table of its own like this one.
    pub combine: Option<&'a Combine>,
}

/// One block mapped.
struct Mapped {
    seq: u64,
    out: Vec<u8>,
    records_in: u64,
    records_out: u64,
    /// Bad records skipped, each with its terminator, and how many.
    bad: Vec<u8>,
    bad_count: u64,
    /// The first bad record when they are not skipped: `FILE:LINE: what`.
    error: Option<String>,
}

fn map_block(
    job: &Job,
    x: &mut Extractor,
    scratch: &mut Vec<u8>,
    mut comb: Option<&mut Combine>,
    emitted: &mut Vec<u8>,
    b: &input::Block,
    name: &str,
) -> Mapped {
    let eol = job.eol;
    let mut m = Mapped {
        seq: b.seq,
        out: Vec::with_capacity(b.data.len() / 2),
        records_in: 0,
        records_out: 0,
        bad: Vec::new(),
        bad_count: 0,
        error: None,
    };
    // --words --combine count over whole records: the block's tokens counted at once.
    if let Some(c) = comb.as_deref_mut() {
        if job.words && x.is_empty() && c.counts_only() {
            m.records_in =
                map::count_byte(&b.data, eol) + u64::from(b.data.last().is_some_and(|&l| l != eol));
            match c.words(&b.data, job.lower, &mut m.out) {
                Ok(n) => m.records_out = n,
                Err(e) => m.error = Some(e.message().unwrap_or_default()),
            }
            return m;
        }
    }
    for (_, line, rec) in input::records(&b.data, eol, b.first_line) {
        let at = At { name, line };
        m.records_in += 1;
        let mut problem: Option<String> = None;
        if !x.is_empty() {
            if let Err(e) = x.extract(rec) {
                problem = Some(e.to_string());
            } else if !job.prog.matches(x, rec) {
                continue;
            }
        }
        // A combining error names its record already.
        let mut located: Option<String> = None;
        if problem.is_none() {
            let dest = if comb.is_some() {
                emitted.clear();
                &mut *emitted
            } else {
                &mut m.out
            };
            let mut n = 0;
            if job.words {
                n = map::words::tokens(rec, job.lower, eol, dest);
            } else if job.has_items {
                let at_len = dest.len();
                match job.prog.emit(x, rec, eol, dest, scratch) {
                    Ok(()) => {
                        dest.push(eol);
                        n = 1;
                    }
                    Err(e) => {
                        dest.truncate(at_len);
                        problem = Some(e.to_string());
                    }
                }
            } else {
                dest.extend_from_slice(rec);
                dest.push(eol);
                n = 1;
            }
            match comb.as_deref_mut() {
                None => m.records_out += n,
                Some(_) if problem.is_some() => {}
                Some(c) => {
                    let fed = match job.skip {
                        true => c.check(emitted, &at),
                        false => Ok(()),
                    }
                    .and_then(|()| c.feed(emitted, &at, &mut m.out));
                    match fed {
                        Ok(w) => m.records_out += w,
                        Err(e) => located = Some(e.message().unwrap_or_default()),
                    }
                }
            }
        }
        if problem.is_some() || located.is_some() {
            if !job.skip {
                m.error = Some(match (located, problem) {
                    (Some(l), _) => l,
                    (None, p) => format!("{at}: {}", p.unwrap_or_default()),
                });
                break;
            }
            m.bad.extend_from_slice(rec);
            m.bad.push(eol);
            m.bad_count += 1;
        }
    }
    m
}

/// Map the inputs on `threads` workers, blocks in turn, and write the results in input
/// order (a worker's queue holds two blocks, so memory stays bounded). Returns bytes read.
#[allow(clippy::too_many_arguments)]
pub(super) fn parallel(
    job: &Job,
    inputs: Vec<input::Input>,
    threads: usize,
    budget: usize,
    out: &mut Out,
    bad: &mut BadRecords,
    stats: &mut Stats,
) -> Result<u64> {
    use std::sync::{mpsc, Arc};
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let eol = job.eol;
    std::thread::scope(|scope| -> Result<u64> {
        let (done_tx, done_rx) = mpsc::channel::<Mapped>();
        let mut senders = Vec::with_capacity(threads);
        let mut handles = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (tx, rx) = mpsc::sync_channel::<Arc<input::Block>>(2);
            senders.push(tx);
            let done = done_tx.clone();
            let names = &names;
            let limit = budget / 2 / threads.max(1);
            handles.push(scope.spawn(move || -> Result<(Vec<u8>, u64)> {
                let mut x = Extractor::new(job.fmt, job.prog.refs.clone());
                let mut scratch = Vec::new();
                let mut comb = job.combine.map(|c| c.fresh(limit));
                let mut emitted = Vec::new();
                for b in rx {
                    let m = map_block(
                        job,
                        &mut x,
                        &mut scratch,
                        comb.as_mut(),
                        &mut emitted,
                        &b,
                        &names[b.input],
                    );
                    if done.send(m).is_err() {
                        break;
                    }
                }
                // What the table holds at the end, written after every block's output.
                let mut rest = Vec::new();
                let n = match &mut comb {
                    Some(c) => c.flush(&mut rest)?,
                    None => 0,
                };
                Ok((rest, n))
            }));
        }
        drop(done_tx);
        let reader = scope.spawn(move || {
            input::read_blocks(inputs, eol, budget.max(extsort::RECORD_ALLOWANCE), |b| {
                let w = (b.seq % senders.len() as u64) as usize;
                // A worker gone is not a reason to stop reading.
                let _ = senders[w].send(b);
            })
        });
        let mut waiting: std::collections::BTreeMap<u64, Mapped> = Default::default();
        let mut next = 0u64;
        let mut failed: Option<Error> = None;
        for m in done_rx {
            waiting.insert(m.seq, m);
            while let Some(m) = waiting.remove(&next) {
                next += 1;
                if failed.is_some() {
                    continue;
                }
                stats.records_in += m.records_in;
                out.records += m.records_out;
                out.block.extend_from_slice(&m.out);
                out.maybe_flush()?;
                bad.add(&m.bad, m.bad_count)?;
                if let Some(e) = m.error {
                    failed = Some(Error::Runtime(e));
                }
            }
        }
        let read = reader
            .join()
            .map_err(|_| Error::Runtime("the reading thread panicked".into()))??;
        // The workers' tables, in worker order (the same bytes on every run).
        for h in handles {
            let (rest, n) = h
                .join()
                .map_err(|_| Error::Runtime("a worker thread panicked".into()))??;
            if failed.is_none() {
                out.block.extend_from_slice(&rest);
                out.records += n;
                out.maybe_flush()?;
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(read),
        }
    })
}
