//! bshuffle `--combine AGG`: a map-side combiner in front of the shuffle's sort. Records
//! are grouped by key in a table of aggregate states (half of `-S`); each group leaves as
//! one partial line, behind its partition, when the table fills and at the end. On `-j`
//! threads when every aggregate is order-free (see [`combine_blocks`]).

use super::Route;
use agg::engine::aggs::{self, Aggs};
use agg::engine::Combiner as Table;
use agg::State;
use cli::bad::BadRecords;
use cli::input;
use cli::{Error, Progress, Result};
use extsort::Sorter;
use hashbrown::HashMap;
use partition::partition_of;
use record::order::push_item_part;
use record::shuffle::{ShuffleOrder, PART};
use record::{CsvScratch, RecordOrder};

/// Combine the records of `inputs` on this thread, in input order (any aggregate, bad
/// records skipped with `--skip-bad`), within `limit` bytes of states. Returns records
/// read.
pub(super) fn combine_serial(
    inputs: &mut cli::Inputs,
    (progress, bad, sorter): (&Progress, &mut BadRecords, &mut Sorter<ShuffleOrder>),
    aggs: &mut Aggs,
    input_order: &RecordOrder,
    route: Route,
    limit: usize,
    eol: u8,
) -> Result<u64> {
    let mut table = Combiner::default();
    let mut item = Vec::new();
    let mut key = Vec::new();
    let mut scratch = CsvScratch::default();
    let skipping = bad.skipping();
    let mut records = 0;
    inputs.for_each(progress, |rec, at| {
        records += 1;
        let outcome = (|| {
            let it = input::item_of(input_order, rec, &mut item, &mut scratch, &at)?;
            key.clear();
            input_order.key_bytes(it, &mut key);
            let p = partition_of(&key, route.n) as u32;
            if route.skips(p) {
                return Ok(());
            }
            aggs.prepare(rec, &at)?;
            if skipping {
                aggs.check(rec, &at)?;
            }
            let entry = table.groups.entry_ref(key.as_slice()).or_insert_with(|| {
                table.used += aggs.group_cost(key.len(), it.len());
                (p, it.to_vec(), aggs.new_states())
            });
            table.used += aggs.update(&mut entry.2, rec, &at)?;
            Ok(())
        })();
        bad.check(outcome, rec)?;
        if table.used > limit {
            table.flush(sorter, aggs, input_order, eol)?;
        }
        Ok(())
    })?;
    table.flush(sorter, aggs, input_order, eol)?;
    Ok(records)
}

/// A map-side combiner (`--combine`): groups by key bytes, each with its partition, its
/// first record's item and its states, flushed into the sort as partial lines when the
/// table outgrows its half of the budget (and at the end).
#[derive(Default)]
struct Combiner {
    groups: HashMap<Vec<u8>, (u32, Vec<u8>, Vec<State>)>,
    used: usize,
}

impl Combiner {
    fn flush(
        &mut self,
        sorter: &mut Sorter<ShuffleOrder>,
        aggs: &Aggs,
        input_order: &RecordOrder,
        eol: u8,
    ) -> Result<()> {
        let mut line = Vec::new();
        for (_, (p, it, mut states)) in self.groups.drain() {
            line.clear();
            aggs.write(
                input_order,
                &it,
                &mut states,
                aggs::Output::Partial,
                eol,
                &mut line,
            )?;
            line.pop();
            sorter
                .push_with(line.len() + it.len() + PART + 16, |buf| {
                    buf.extend_from_slice(&p.to_be_bytes());
                    push_item_part(buf, |b| b.extend_from_slice(&line));
                    for i in 0..input_order.keys.len() {
                        push_item_part(buf, |b| b.extend_from_slice(input_order.key(&it, i)));
                    }
                    Ok::<(), std::convert::Infallible>(())
                })
                .map_err(|e| match e {
                    extsort::PushError::Sort(e) => Error::from(e),
                    extsort::PushError::Build(never) => match never {},
                })?;
        }
        self.used = 0;
        Ok(())
    }
}

/// What the combiner's threads share.
pub(super) struct ParallelCombine<'a> {
    pub aggs: &'a Aggs,
    pub order: &'a RecordOrder,
    /// The key field (0-based).
    pub field: usize,
    pub eol: u8,
    pub threads: usize,
    /// Each thread's share of the table budget.
    pub limit: usize,
    pub max_record: usize,
    /// Partitions, and ours alone with --partition.
    pub route: Route,
}

/// `--combine` on `c.threads` threads: the reading thread cuts blocks of whole records,
/// each worker takes the next block and aggregates all of it into a table of its own,
/// flushed as partial lines into the shared sort when it outgrows its share (and at the
/// end). Every aggregate is order-free, so which thread folds which records changes no
/// byte of `breduce --merge`'s result. The first bad record in input order stops it.
/// Returns bytes and records read.
pub(super) fn combine_blocks(
    c: &ParallelCombine,
    inputs: Vec<input::Input>,
    sorter: &mut Sorter<ShuffleOrder>,
) -> Result<(u64, u64)> {
    use std::sync::{mpsc, Arc, Mutex};
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let sorter = Mutex::new(sorter);
    let (tx, rx) = mpsc::sync_channel::<Arc<input::Block>>(2 * c.threads);
    let rx = Mutex::new(rx);
    type Bad = Option<(usize, u64, Error)>;
    let (done, read) = std::thread::scope(|scope| -> Result<(Vec<(Bad, u64)>, u64)> {
        let mut handles = Vec::with_capacity(c.threads);
        for _ in 0..c.threads {
            let (names, rx, sorter) = (&names, &rx, &sorter);
            handles.push(scope.spawn(move || -> Result<(Bad, u64)> {
                let mut comb = Table::new(c.aggs, c.limit);
                let (mut records, mut error): (u64, Bad) = (0, None);
                let flush = |comb: &mut Table| -> Result<()> {
                    let mut s = sorter
                        .lock()
                        .map_err(|_| Error::Runtime("the shuffle sort is unusable".into()))?;
                    flush_groups(comb, c, &mut s)
                };
                loop {
                    let block = {
                        let r = rx
                            .lock()
                            .map_err(|_| Error::Runtime("the block queue is unusable".into()))?;
                        r.recv()
                    };
                    let Ok(block) = block else { break };
                    if error.is_some() {
                        continue; // keep receiving: the reader must not block on us
                    }
                    for (_, line, rec) in input::records(&block.data, c.eol, block.first_line) {
                        let at = input::At {
                            name: &names[block.input],
                            line,
                        };
                        records += 1;
                        comb.prepare(rec, &at)?;
                        let key = comb.field(rec, c.field);
                        if let Some(i) = c.route.share {
                            if partition_of(key, c.route.n) != i {
                                continue;
                            }
                        }
                        match comb.add(key, rec, &at) {
                            Ok(true) => flush(&mut comb)?,
                            Ok(false) => {}
                            Err(e) => {
                                error = Some((block.input, line, e.into()));
                                break;
                            }
                        }
                    }
                }
                if error.is_none() {
                    flush(&mut comb)?;
                }
                Ok((error, records))
            }));
        }
        let read = input::read_blocks(inputs, c.eol, c.max_record, |b| {
            let _ = tx.send(b);
        });
        drop(tx);
        let mut done = Vec::with_capacity(c.threads);
        for h in handles {
            done.push(
                h.join()
                    .map_err(|_| Error::Runtime("a worker thread panicked".into()))??,
            );
        }
        Ok((done, read?))
    })?;
    let records = done.iter().map(|d| d.1).sum();
    let mut done = done;
    let first = done
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.0.as_ref().map(|(inp, l, _)| ((*inp, *l), i)))
        .min();
    if let Some((_, i)) = first {
        if let Some((_, _, e)) = done[i].0.take() {
            return Err(e);
        }
    }
    Ok((read, records))
}

/// Push every group of the combiner into the sort as a partial line, and clear them.
fn flush_groups(
    comb: &mut Table,
    c: &ParallelCombine,
    sorter: &mut Sorter<ShuffleOrder>,
) -> Result<()> {
    comb.flush(c.order, |key, it, line| {
        let p = partition_of(key, c.route.n) as u32;
        sorter
            .push_with(line.len() + it.len() + PART + 16, |buf| {
                buf.extend_from_slice(&p.to_be_bytes());
                push_item_part(buf, |b| b.extend_from_slice(line));
                for i in 0..c.order.keys.len() {
                    push_item_part(buf, |b| b.extend_from_slice(c.order.key(it, i)));
                }
                Ok::<(), std::convert::Infallible>(())
            })
            .map_err(|e| match e {
                extsort::PushError::Sort(e) => agg::engine::Error::Sort(e),
                extsort::PushError::Build(never) => match never {},
            })
    })?;
    Ok(())
}
