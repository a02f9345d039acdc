//! `breduce --hash` on several threads, for delimited text keyed by one plain field (the
//! Hadoop Streaming key, and the usual case).
//!
//! Two-phase aggregation, as DuckDB and ClickHouse do it, when every aggregate's state is
//! the same whatever order its values came in (count, sum, mean, countdistinct, distinct:
//! exact decimals, and float sums kept as exact accumulators, see [`crate::fsum`]): the
//! reading thread cuts the input into blocks of whole records; each of the `-j` workers
//! takes the next block and aggregates all of it, once, into tables of its own, 16 per
//! worker, split by the high bits of the key's hash (one hash function for all). At the
//! end partition p of every worker is absorbed into worker 1's on one thread per
//! partition, sorted and formatted there, and the partitions' lines are merged by key.
//! The bytes are the same for any `-j`, `-S` and block size.
//!
//! Records are fed a batch at a time so that the table's cache misses overlap (see
//! [`Groups`] and [`BATCH`]).
//!
//! Order-sensitive aggregates (first, last, collect, min/max ties, float variances) keep
//! the one-owner scheme: every block goes to every worker, worker `w` owns the keys with
//! `xxh3(key) mod W == w` and aggregates them in input order.
//!
//! Past the budget, workers spill partial states into one shared external sort and the
//! groups come back through breduce's spill merge.

use super::aggs::{Aggs, Output};
use super::blocks::{records, Block};
use super::spill::{check_spillable, finish_spilled, spill_groups, SpillOrder};
use super::{At, Counts, Error, Result, Sink};
use crate::table::{key_hash, Groups};
use crate::{Op, State};
use extsort::Sorter;
use record::keymap::KeyHasher;
use record::RecordOrder;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{mpsc, Arc, Mutex};

/// A block reduced by a streaming worker. Its head run (its first records, as long as they
/// share the first key) may continue the previous block's last group, so it is left to
/// the main thread, which feeds it in order; the groups after it are finished here, except
/// the last one (the tail), which the next block may continue.
struct Reduced {
    block: Arc<Block>,
    /// Bytes of the head run in `block.data` and how many records it has.
    head_end: usize,
    head_records: u64,
    /// Whether a later key closed the head run's group (not an error at that record).
    head_closed: bool,
    /// Finished groups' lines, and how many.
    out: Vec<u8>,
    groups: u64,
    /// The last group after the head run: key, first record, states.
    tail: Option<OpenGroup>,
    records: u64,
    /// A key going backwards or a bad value after the head run.
    error: Option<Error>,
}

/// What a worker hands back.
struct Done {
    groups: Groups,
    /// Its groups' order: (start, length) of each normalized key in `norms`, and the group.
    sorted: Vec<(usize, u32, usize)>,
    norms: Vec<u8>,
    /// The first bad record it met: (input, line, error).
    error: Option<(usize, u64, Error)>,
    records: u64,
}

/// Everything the workers share.
pub struct Plan<'a> {
    pub order: &'a RecordOrder,
    pub aggs: &'a Aggs,
    /// The key field (0-based).
    pub field: usize,
    pub eol: u8,
    pub threads: usize,
    pub budget: usize,
    pub cfg: extsort::Config,
}

/// Aggregate the blocks `read` gives (of the inputs `names`) and write the groups sorted by key. Returns bytes read.
pub fn run(
    plan: &Plan,
    names: Vec<String>,
    read: impl FnOnce(&mut dyn FnMut(Arc<Block>)) -> Result<u64> + Send,
    out: &mut dyn Sink,
    stats: &mut Counts,
) -> Result<u64> {
    if plan.threads > 1 && order_free(plan.aggs) {
        return two_phase(plan, names, read, out, stats);
    }
    let w = plan.threads.max(1);
    let keep_items = plan.field != 0;
    let limit = (plan.budget / 2 / w).max(1);
    let sorter: Mutex<Option<Sorter<SpillOrder>>> = Mutex::new(None);
    let (results, read) = std::thread::scope(|scope| -> Result<(Vec<Done>, u64)> {
        let mut senders = Vec::with_capacity(w);
        let mut handles = Vec::with_capacity(w);
        for me in 0..w {
            let (tx, rx) = mpsc::sync_channel::<Arc<Block>>(4);
            senders.push(tx);
            let names = &names;
            let sorter = &sorter;
            let mut aggs = plan.aggs.fresh();
            handles.push(scope.spawn(move || {
                worker(
                    plan, me as u64, w as u64, rx, names, &mut aggs, keep_items, limit, sorter,
                )
            }));
        }
        let read = read(&mut |b| {
            for tx in &senders {
                // A worker gone (it failed) is not a reason to stop reading.
                let _ = tx.send(Arc::clone(&b));
            }
        });
        drop(senders);
        let mut done = Vec::with_capacity(w);
        for h in handles {
            done.push(
                h.join()
                    .map_err(|_| Error::Data("a worker thread panicked".into()))??,
            );
        }
        Ok((done, read?))
    })?;
    stats.records_in = results.first().map_or(0, |d| d.records);
    // The first bad record in input order, whichever worker met it.
    let mut results = results;
    let first_bad = results
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.error.as_ref().map(|(inp, l, _)| ((*inp, *l), i)))
        .min();
    if let Some((_, i)) = first_bad {
        if let Some((_, _, e)) = results[i].error.take() {
            return Err(e);
        }
    }
    let spilled = sorter
        .into_inner()
        .map_err(|_| Error::Data("the spill sort is unusable".into()))?;
    if let Some(mut s) = spilled {
        for d in &mut results {
            spill_groups(&mut d.groups, &mut s)?;
        }
        stats.sort = Some(finish_spilled(s, plan.aggs, plan.order, out)?);
        return Ok(read);
    }
    // Merge the workers' sorted groups (their keys are disjoint).
    let mut heads = vec![0usize; results.len()];
    loop {
        let mut best: Option<usize> = None;
        for (i, d) in results.iter().enumerate() {
            let Some(e) = d.sorted.get(heads[i]) else {
                continue;
            };
            let norm = &d.norms[e.0..e.0 + e.1 as usize];
            best = match best {
                Some(b) => {
                    let be = &results[b].sorted[heads[b]];
                    let bn = &results[b].norms[be.0..be.0 + be.1 as usize];
                    if norm < bn {
                        Some(i)
                    } else {
                        Some(b)
                    }
                }
                None => Some(i),
            };
        }
        let Some(b) = best else { break };
        let g = results[b].sorted[heads[b]].2;
        heads[b] += 1;
        let (it, states) = results[b].groups.item_and_states(g);
        out.group(plan.aggs, plan.order, it, states)?;
    }
    Ok(read)
}

/// Streaming mode over key-grouped delimited text with one plain key field: the reading
/// thread cuts blocks of whole records, this thread groups and writes. `fresh_parts`: each
/// input holds keys of its own (a bshuffle directory's parts), so the order check restarts
/// at each. Returns bytes read.
pub fn stream(
    plan: &Plan,
    names: Vec<String>,
    read: impl FnOnce(&mut dyn FnMut(Arc<Block>)) -> Result<u64> + Send,
    out: &mut dyn Sink,
    stats: &mut Counts,
    fresh_parts: bool,
) -> Result<u64> {
    let mut aggs = plan.aggs.fresh();
    let mut states = aggs.new_states();
    // The current group's key, first record (its item) and whether there is one.
    let mut key: Vec<u8> = Vec::new();
    let mut first: Vec<u8> = Vec::new();
    let mut open = false;
    let mut input = usize::MAX;
    let mut failed: Option<Error> = None;
    let eol = plan.eol;
    std::thread::scope(|scope| -> Result<u64> {
        let (tx, rx) = mpsc::sync_channel::<Arc<Block>>(4);
        let reader = scope.spawn(move || {
            read(&mut |b| {
                let _ = tx.send(b);
            })
        });
        for block in rx {
            if failed.is_some() {
                continue; // read to the end (the Hadoop Streaming contract)
            }
            for (_, line, rec) in super::blocks::records(&block.data, eol, block.first_line) {
                let at = At {
                    name: &names[block.input],
                    line,
                };
                stats.records_in += 1;
                aggs.prepare(rec, &at)?;
                let k = aggs.field(rec, plan.field);
                let fresh = fresh_parts && block.input != input;
                input = block.input;
                let same = open
                    && !fresh
                    && match key.as_slice().cmp(k) {
                        std::cmp::Ordering::Equal => true,
                        std::cmp::Ordering::Less => false,
                        std::cmp::Ordering::Greater => {
                            failed = Some(Error::Data(format!(
                                "{at}: input is not sorted by key; sort it with bsort or use --hash"
                            )));
                            break;
                        }
                    };
                if !same {
                    if open {
                        let it = if plan.field == 0 { &key } else { &first };
                        out.group(&aggs, plan.order, it, &mut states)?;
                        states = aggs.new_states();
                    }
                    key.clear();
                    key.extend_from_slice(k);
                    if plan.field != 0 {
                        first.clear();
                        first.extend_from_slice(rec);
                    }
                    open = true;
                }
                if let Err(e) = aggs.update(&mut states, rec, &at) {
                    failed = Some(e);
                    break;
                }
            }
        }
        let read = reader
            .join()
            .map_err(|_| Error::Data("the reading thread panicked".into()))??;
        if let Some(e) = failed.take() {
            return Err(e);
        }
        if open {
            let it = if plan.field == 0 { &key } else { &first };
            out.group(&aggs, plan.order, it, &mut states)?;
        }
        Ok(read)
    })
}

/// Streaming mode on several threads: blocks are reduced in turn by `plan.threads`
/// workers (see [`Reduced`]); this thread stitches them together in input order, feeding
/// head runs into the open group itself, so every group is aggregated by one thread in
/// input order: the same bytes as [`stream`].
pub fn stream_parallel(
    plan: &Plan,
    names: Vec<String>,
    read: impl FnOnce(&mut dyn FnMut(Arc<Block>)) -> Result<u64> + Send,
    out: &mut dyn Sink,
    stats: &mut Counts,
    fresh_parts: bool,
) -> Result<u64> {
    let what = out.what();
    let mut aggs = plan.aggs.fresh();
    // The open group: key, first record, states; and the input it is in.
    let mut open: Option<OpenGroup> = None;
    let mut input = usize::MAX;
    let mut failed: Option<Error> = None;
    std::thread::scope(|scope| -> Result<u64> {
        let (done_tx, done_rx) = mpsc::channel::<(u64, Reduced)>();
        let mut senders = Vec::with_capacity(plan.threads);
        for _ in 0..plan.threads {
            let (tx, rx) = mpsc::sync_channel::<Arc<Block>>(2);
            senders.push(tx);
            let done = done_tx.clone();
            let names = &names;
            let mut aggs = plan.aggs.fresh();
            scope.spawn(move || {
                for b in rx {
                    let seq = b.seq;
                    let r = reduce_block(plan, &mut aggs, b, names, what);
                    if done.send((seq, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let reader = scope.spawn(move || {
            read(&mut |b| {
                let w = (b.seq % senders.len() as u64) as usize;
                let _ = senders[w].send(b);
            })
        });
        let mut waiting: std::collections::BTreeMap<u64, Reduced> = Default::default();
        let mut next = 0u64;
        for (seq, r) in done_rx {
            waiting.insert(seq, r);
            while let Some(r) = waiting.remove(&next) {
                next += 1;
                if failed.is_some() {
                    continue; // read to the end (the Hadoop Streaming contract)
                }
                if let Err(e) = stitch(
                    plan,
                    &mut aggs,
                    &names,
                    r,
                    &mut open,
                    &mut input,
                    fresh_parts,
                    out,
                    stats,
                ) {
                    failed = Some(e);
                }
            }
        }
        let read = reader
            .join()
            .map_err(|_| Error::Data("the reading thread panicked".into()))??;
        if let Some(e) = failed.take() {
            return Err(e);
        }
        if let Some((k, first, mut states)) = open.take() {
            out.group(&aggs, plan.order, pick(plan.field, &k, &first), &mut states)?;
        }
        Ok(read)
    })
}

/// A group's item for the writer: its key when the key is the first field, else its first
/// record.
fn pick<'a>(field: usize, key: &'a [u8], first: &'a [u8]) -> &'a [u8] {
    if field == 0 {
        key
    } else {
        first
    }
}

/// An open group: its key, its first record and its states.
type OpenGroup = (Vec<u8>, Vec<u8>, Vec<State>);

/// Fold one reduced block into the output, in input order.
#[allow(clippy::too_many_arguments)]
fn stitch(
    plan: &Plan,
    aggs: &mut Aggs,
    names: &[String],
    r: Reduced,
    open: &mut Option<OpenGroup>,
    input: &mut usize,
    fresh_parts: bool,
    out: &mut dyn Sink,
    stats: &mut Counts,
) -> Result<()> {
    let b = &r.block;
    stats.records_in += r.records;
    if fresh_parts && b.input != *input {
        if let Some((k, first, mut states)) = open.take() {
            out.group(aggs, plan.order, pick(plan.field, &k, &first), &mut states)?;
        }
    }
    *input = b.input;
    // The head run, record by record, into the open group or a new one.
    let mut fed = 0u64;
    for (_, line, rec) in records(&b.data[..r.head_end], plan.eol, b.first_line) {
        fed += 1;
        let at = At {
            name: &names[b.input],
            line,
        };
        aggs.prepare(rec, &at)?;
        let k = aggs.field(rec, plan.field);
        let same = match open {
            Some((ok, _, _)) => match ok.as_slice().cmp(k) {
                std::cmp::Ordering::Equal => true,
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Greater => {
                    return Err(Error::Data(format!(
                        "{at}: input is not sorted by key; sort it with bsort or use --hash"
                    )))
                }
            },
            None => false,
        };
        if !same {
            if let Some((k0, first, mut states)) = open.take() {
                out.group(aggs, plan.order, pick(plan.field, &k0, &first), &mut states)?;
            }
            *open = Some((k.to_vec(), rec.to_vec(), aggs.new_states()));
        }
        if let Some((_, _, states)) = open.as_mut() {
            aggs.update(states, rec, &at)?;
        }
    }
    debug_assert!(r.head_records == fed);
    if r.head_closed {
        // The block went on past its head run: the head's group is finished.
        if let Some((k, first, mut states)) = open.take() {
            out.group(aggs, plan.order, pick(plan.field, &k, &first), &mut states)?;
        }
        out.lines(&r.out, r.groups)?;
        *open = r.tail;
    }
    match r.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Reduce one block: find its head run, finish every later group but the last.
fn reduce_block(
    plan: &Plan,
    aggs: &mut Aggs,
    block: Arc<Block>,
    names: &[String],
    what: Output,
) -> Reduced {
    let eol = plan.eol;
    let mut r = Reduced {
        block: Arc::clone(&block),
        head_end: block.data.len(),
        head_records: 0,
        head_closed: false,
        out: Vec::new(),
        groups: 0,
        tail: None,
        records: 0,
        error: None,
    };
    let mut head_key: Option<Vec<u8>> = None;
    let mut in_head = true;
    let mut cur: Option<OpenGroup> = None;
    for (start, line, rec) in records(&block.data, eol, block.first_line) {
        let at = At {
            name: &names[block.input],
            line,
        };
        r.records += 1;
        if let Err(e) = aggs.prepare(rec, &at) {
            r.error = Some(e);
            break;
        }
        let k = aggs.field(rec, plan.field);
        if in_head {
            match &head_key {
                None => {
                    head_key = Some(k.to_vec());
                    r.head_records += 1;
                    continue;
                }
                Some(h) if h.as_slice() == k => {
                    r.head_records += 1;
                    continue;
                }
                Some(h) => {
                    in_head = false;
                    r.head_end = start;
                    if h.as_slice() > k {
                        r.error = Some(Error::Data(format!(
                            "{at}: input is not sorted by key; sort it with bsort or use --hash"
                        )));
                        break;
                    }
                    r.head_closed = true;
                }
            }
        }
        let same = match &cur {
            Some((ck, _, _)) => match ck.as_slice().cmp(k) {
                std::cmp::Ordering::Equal => true,
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Greater => {
                    r.error = Some(Error::Data(format!(
                        "{at}: input is not sorted by key; sort it with bsort or use --hash"
                    )));
                    break;
                }
            },
            None => false,
        };
        if !same {
            if let Some((ck, first, mut states)) = cur.take() {
                let item = if plan.field == 0 { &ck } else { &first };
                if let Err(e) = aggs.write(plan.order, item, &mut states, what, eol, &mut r.out) {
                    r.error = Some(e);
                    break;
                }
                r.groups += 1;
            }
            cur = Some((k.to_vec(), rec.to_vec(), aggs.new_states()));
        }
        if let Some((_, _, states)) = cur.as_mut() {
            if let Err(e) = aggs.update(states, rec, &at) {
                r.error = Some(e);
                break;
            }
        }
    }
    r.tail = cur;
    r
}

#[allow(clippy::too_many_arguments)]
fn worker(
    plan: &Plan,
    me: u64,
    w: u64,
    rx: mpsc::Receiver<Arc<Block>>,
    names: &[String],
    aggs: &mut Aggs,
    keep_items: bool,
    limit: usize,
    sorter: &Mutex<Option<Sorter<SpillOrder>>>,
) -> Result<Done> {
    let owner = (w > 1).then_some((me, w));
    let (mut tables, error, records) = aggregate(
        plan,
        || Ok(rx.recv().ok()),
        owner,
        (1, &KeyHasher::default()),
        names,
        aggs,
        keep_items,
        limit,
        sorter,
    )?;
    let groups = tables
        .parts
        .pop()
        .ok_or_else(|| Error::Data("a worker has no table".into()))?;
    // This worker's groups in key order, by normalized keys made once per group.
    let mut norms = Vec::new();
    let mut sorted = Vec::with_capacity(groups.len());
    for g in 0..groups.len() {
        let start = norms.len();
        if keep_items {
            plan.order.normalized(groups.item(g), &mut norms);
        } else {
            norms.extend_from_slice(groups.key(g));
        }
        sorted.push((start, (norms.len() - start) as u32, g));
    }
    let order = key_order(sorted.len(), |i| {
        let (s, n, _) = sorted[i];
        &norms[s..s + n as usize]
    });
    let sorted = order.into_iter().map(|i| sorted[i as usize]).collect();
    Ok(Done {
        groups,
        sorted,
        norms,
        error,
        records,
    })
}

/// A key's first 8 bytes as a number, zero-padded: a smaller number is a smaller key.
#[inline]
fn prefix8(k: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let m = k.len().min(8);
    b[..m].copy_from_slice(&k[..m]);
    u64::from_be_bytes(b)
}

/// The numbers `0..n` in the bytewise order of their keys: sorted on each key's first 8
/// bytes as one number, which decides most comparisons without touching the keys (and
/// orders like the bytes: a shorter key is padded with zeros, the least byte), then on the
/// whole keys.
fn key_order<'a>(n: usize, key: impl Fn(usize) -> &'a [u8]) -> Vec<u32> {
    let mut v: Vec<(u64, u32)> = (0..n).map(|i| (prefix8(key(i)), i as u32)).collect();
    v.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| key(a.1 as usize).cmp(key(b.1 as usize)))
    });
    v.into_iter().map(|(_, i)| i).collect()
}

/// Whether every aggregate gives the same state whatever order its values and partial
/// states come in (exact decimal sums, exact float accumulators, counts, sets).
pub fn order_free(aggs: &Aggs) -> bool {
    aggs.specs.iter().all(|s| {
        matches!(
            s.op,
            Op::Count | Op::Sum | Op::Mean | Op::CountDistinct | Op::Distinct
        )
    })
}

/// What a two-phase worker hands back: its groups in partitions by key hash.
struct Parted {
    parts: Vec<Groups>,
    /// The first bad record it met: (input, line, error).
    error: Option<(usize, u64, Error)>,
    records: u64,
}

/// A partition merged, sorted and formatted: its lines in key order.
struct Lines {
    buf: Vec<u8>,
    /// (start of the sort key, its length, end of the line) in `buf`, the line following
    /// its key.
    at: Vec<(usize, u32, usize)>,
    /// A group that could not be finished (an overflowing sum), its key and error: after
    /// the lines in `at`.
    error: Option<(Vec<u8>, Error)>,
}

fn two_phase(
    plan: &Plan,
    names: Vec<String>,
    read: impl FnOnce(&mut dyn FnMut(Arc<Block>)) -> Result<u64> + Send,
    out: &mut dyn Sink,
    stats: &mut Counts,
) -> Result<u64> {
    let w = plan.threads.max(1);
    let nparts = 16 * w;
    let keep_items = plan.field != 0;
    let limit = (plan.budget / 2 / w).max(1);
    let sorter: Mutex<Option<Sorter<SpillOrder>>> = Mutex::new(None);
    let what = out.what();
    let (tx, rx) = mpsc::sync_channel::<Arc<Block>>(2 * w);
    let rx = Mutex::new(rx);
    // One hash function for every worker's tables: partition p of each holds the same keys.
    let hasher = KeyHasher::default();
    let (results, read) = std::thread::scope(|scope| -> Result<(Vec<Parted>, u64)> {
        let mut handles = Vec::with_capacity(w);
        for _ in 0..w {
            let names = &names;
            let sorter = &sorter;
            let rx = &rx;
            let hasher = &hasher;
            let mut aggs = plan.aggs.fresh();
            handles.push(scope.spawn(move || {
                let next = || {
                    let r = rx
                        .lock()
                        .map_err(|_| Error::Data("the block queue is unusable".into()))?;
                    Ok(r.recv().ok())
                };
                let (tables, error, records) = aggregate(
                    plan,
                    next,
                    None,
                    (nparts, hasher),
                    names,
                    &mut aggs,
                    keep_items,
                    limit,
                    sorter,
                )?;
                Ok::<Parted, Error>(Parted {
                    parts: tables.parts,
                    error,
                    records,
                })
            }));
        }
        let read = read(&mut |b| {
            // Workers gone (they failed) are not a reason to stop reading.
            let _ = tx.send(b);
        });
        drop(tx);
        let mut done = Vec::with_capacity(w);
        for h in handles {
            done.push(
                h.join()
                    .map_err(|_| Error::Data("a worker thread panicked".into()))??,
            );
        }
        Ok((done, read?))
    })?;
    stats.records_in = results.iter().map(|d| d.records).sum();
    let mut results = results;
    let first_bad = results
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.error.as_ref().map(|(inp, l, _)| ((*inp, *l), i)))
        .min();
    if let Some((_, i)) = first_bad {
        if let Some((_, _, e)) = results[i].error.take() {
            return Err(e);
        }
    }
    // Partition p of every worker, in worker order, for the merging threads.
    let mut by_part: Vec<Vec<Groups>> = (0..nparts).map(|_| Vec::with_capacity(w)).collect();
    for d in results {
        for (p, part) in d.parts.into_iter().enumerate() {
            by_part[p].push(part);
        }
    }
    let spilled = sorter
        .into_inner()
        .map_err(|_| Error::Data("the spill sort is unusable".into()))?;
    if let Some(mut s) = spilled {
        // Whatever stayed in the tables joins the spilled states; the spill merge folds
        // equal keys (in any order: every state here is order-free).
        for parts in by_part {
            for mut groups in parts {
                spill_groups(&mut groups, &mut s)?;
            }
        }
        stats.sort = Some(finish_spilled(s, plan.aggs, plan.order, out)?);
        return Ok(read);
    }
    let slots: Vec<Mutex<Option<Vec<Groups>>>> =
        by_part.into_iter().map(|v| Mutex::new(Some(v))).collect();
    let next = AtomicUsize::new(0);
    let lines: Vec<Mutex<Option<Lines>>> = (0..nparts).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..w.min(nparts) {
            scope.spawn(|| loop {
                let p = next.fetch_add(1, AtomicOrdering::Relaxed);
                if p >= nparts {
                    break;
                }
                let parts = slots[p].lock().ok().and_then(|mut s| s.take());
                let done = merge_part(plan, parts.unwrap_or_default(), what);
                if let Ok(mut l) = lines[p].lock() {
                    *l = Some(done);
                }
            });
        }
    });
    let lines: Vec<Lines> = lines
        .into_iter()
        .map(|l| {
            l.into_inner()
                .ok()
                .flatten()
                .ok_or_else(|| Error::Data("a merging thread failed".into()))
        })
        .collect::<Result<_>>()?;
    write_merged(lines, out)?;
    Ok(read)
}

/// Records aggregated a batch at a time: each step of the table's probe (see
/// [`Groups`]) is done for every record of the batch before the next step, so that their
/// waits for memory overlap. States are still updated in record order.
const BATCH: usize = 16;

/// A record of the batch: its line, where it and its key are in the block, its key's hash
/// and its group.
#[derive(Clone, Copy, Default)]
struct Queued {
    line: u64,
    rec: (usize, usize),
    key: (usize, usize),
    hash: u64,
    group: u32,
}

/// A worker's tables: its groups split in partitions by key hash.
struct Tables {
    parts: Vec<Groups>,
}

impl Tables {
    fn new(aggs: &Aggs, keep_items: bool, hasher: &KeyHasher, n: usize) -> Tables {
        let ops: Vec<Op> = aggs.specs.iter().map(|s| s.op).collect();
        Tables {
            parts: (0..n)
                .map(|_| Groups::with_hasher(ops.clone(), keep_items, hasher.clone()))
                .collect(),
        }
    }

    #[inline]
    fn of(&mut self, hash: u64) -> &mut Groups {
        let n = self.parts.len();
        let p = if n == 1 { 0 } else { Groups::part_of(hash, n) };
        &mut self.parts[p]
    }

    fn bytes(&self) -> usize {
        self.parts.iter().map(Groups::bytes).sum()
    }
}

/// A worker's loop: take the next block (`next`), aggregate its records (those whose key
/// `owner = (me, w)` says this worker owns: `xxh3(key) mod w == me`; all without one) into
/// tables of its own (`parts` of them, split by key hash, with this hash function),
/// spilling past `limit`. Returns the tables, the first bad record (input, line, error)
/// and how many records were read.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn aggregate(
    plan: &Plan,
    mut next: impl FnMut() -> Result<Option<Arc<Block>>>,
    owner: Option<(u64, u64)>,
    (parts, hasher): (usize, &KeyHasher),
    names: &[String],
    aggs: &mut Aggs,
    keep_items: bool,
    limit: usize,
    sorter: &Mutex<Option<Sorter<SpillOrder>>>,
) -> Result<(Tables, Option<(usize, u64, Error)>, u64)> {
    let mut tables = Tables::new(aggs, keep_items, hasher, parts);
    let mut grown = 0usize;
    let mut error = None;
    let mut records = 0u64;
    let eol = plan.eol;
    let mut batch = [Queued::default(); BATCH];
    // Each queued record's fields, found once.
    let mut cuts: [record::Cuts; BATCH] = Default::default();
    while let Some(block) = next()? {
        if error.is_some() {
            continue; // keep receiving: the reader must not block on us
        }
        let data = &block.data[..];
        let name = &names[block.input];
        let mut recs = super::blocks::records(data, eol, block.first_line);
        let base = data.as_ptr() as usize;
        // Where a key is in the block (a missing field is empty, maybe not in the block).
        let span = |s: &[u8]| match s.is_empty() {
            true => (0, 0),
            false => (s.as_ptr() as usize - base, s.len()),
        };
        loop {
            // Find each record's key and hash it; start loading its slot.
            let mut n = 0;
            for (off, line, rec) in recs.by_ref() {
                records += 1;
                // Cannot fail for delimited text; it finds the key's and values' fields.
                aggs.prepare(rec, &At { name, line })?;
                let key = aggs.field(rec, plan.field);
                if let Some((me, w)) = owner {
                    if partition::hash(key) % w != me {
                        continue;
                    }
                }
                let hash = key_hash(hasher, key);
                tables.of(hash).prefetch(hash);
                aggs.swap_cuts(&mut cuts[n]);
                batch[n] = Queued {
                    line,
                    rec: (off, rec.len()),
                    key: span(key),
                    hash,
                    group: 0,
                };
                n += 1;
                if n == BATCH {
                    break;
                }
            }
            if n == 0 {
                break;
            }
            // Find (or make) each record's group; start loading its states. A record too
            // large to spill stops the batch before it, the records ahead of it fed first.
            let mut refused = None;
            for (i, q) in batch[..n].iter_mut().enumerate() {
                let rec = &data[q.rec.0..q.rec.0 + q.rec.1];
                let key = &data[q.key.0..q.key.0 + q.key.1];
                let groups = tables.of(q.hash);
                let (g, new) = groups.group(q.hash, key, rec);
                if new {
                    let at = At { name, line: q.line };
                    if let Err(e) =
                        check_spillable(&plan.cfg, plan.budget, &at, rec, key, keep_items)
                    {
                        refused = Some((i, e));
                        break;
                    }
                }
                groups.prefetch_states(g);
                q.group = g;
            }
            let fed = refused.as_ref().map_or(n, |r| r.0);
            // Feed the states, in record order.
            for (q, c) in batch[..fed].iter().zip(&mut cuts) {
                let rec = &data[q.rec.0..q.rec.0 + q.rec.1];
                let at = At { name, line: q.line };
                aggs.swap_cuts(c);
                match aggs.update(tables.of(q.hash).states(q.group), rec, &at) {
                    Ok(g) => grown += g,
                    Err(e) => {
                        error = Some((block.input, q.line, e));
                        break;
                    }
                }
            }
            if error.is_none() {
                if let Some((i, e)) = refused {
                    error = Some((block.input, batch[i].line, e));
                }
            }
            if error.is_some() {
                break;
            }
            if grown + tables.bytes() > limit {
                let mut s = sorter
                    .lock()
                    .map_err(|_| Error::Data("the spill sort is unusable".into()))?;
                if s.is_none() {
                    *s = Some(Sorter::new(
                        SpillOrder(plan.order.clone()),
                        plan.cfg.clone(),
                    )?);
                }
                if let Some(s) = s.as_mut() {
                    for groups in &mut tables.parts {
                        spill_groups(groups, s)?;
                    }
                }
                grown = 0;
            }
        }
    }
    Ok((tables, error, records))
}

/// Merge partition p of every worker (in worker order), sort its groups by key and write
/// their lines.
fn merge_part(plan: &Plan, parts: Vec<Groups>, what: Output) -> Lines {
    let mut parts = parts.into_iter();
    let mut groups = match parts.next() {
        Some(g) => g,
        None => Groups::new(Vec::new(), false),
    };
    for other in parts {
        groups.absorb(other);
    }
    // A plain key field compares as bytes: the key is its own sort key.
    let order = key_order(groups.len(), |g| groups.key(g));
    let mut lines = Lines {
        buf: Vec::with_capacity(groups.len() * 24),
        at: Vec::with_capacity(groups.len()),
        error: None,
    };
    for g in order {
        let g = g as usize;
        let start = lines.buf.len();
        let klen = groups.key(g).len();
        lines.buf.extend_from_slice(groups.key(g));
        let (item, states) = groups.item_and_states(g);
        if let Err(e) = plan
            .aggs
            .write(plan.order, item, states, what, plan.eol, &mut lines.buf)
        {
            lines.buf.truncate(start);
            lines.error = Some((groups.key(g).to_vec(), e));
            break;
        }
        lines.at.push((start, klen as u32, lines.buf.len()));
    }
    lines
}

/// Write the partitions' lines merged by key; a partition's error stops the output where
/// its group would have been.
fn write_merged(parts: Vec<Lines>, out: &mut dyn Sink) -> Result<()> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut errors: Vec<Option<Error>> = Vec::with_capacity(parts.len());
    let mut failing: Vec<Option<Vec<u8>>> = Vec::with_capacity(parts.len());
    let mut parts = parts;
    for l in &mut parts {
        let (k, e) = l.error.take().unzip();
        failing.push(k);
        errors.push(e);
    }
    // The head of partition p: its next line's key, or its failing group's key.
    let head = |p: usize, i: usize| -> Option<&[u8]> {
        let l = &parts[p];
        match l.at.get(i) {
            Some(&(s, n, _)) => Some(&l.buf[s..s + n as usize]),
            None => failing[p].as_deref(),
        }
    };
    let mut heads = vec![0usize; parts.len()];
    // Keys with their first 8 bytes as a number, which decides most comparisons.
    let mut heap: BinaryHeap<Reverse<(u64, &[u8], usize)>> = BinaryHeap::new();
    for p in 0..parts.len() {
        if let Some(k) = head(p, 0) {
            heap.push(Reverse((prefix8(k), k, p)));
        }
    }
    let mut pending = Vec::with_capacity(1 << 16);
    let mut count = 0u64;
    while let Some(mut top) = heap.peek_mut() {
        let Reverse((_, _, p)) = *top;
        let l = &parts[p];
        let i = heads[p];
        let Some(&(s, n, e)) = l.at.get(i) else {
            out.lines(&pending, count)?;
            return Err(errors[p]
                .take()
                .unwrap_or_else(|| Error::Data("a group could not be written".into())));
        };
        pending.extend_from_slice(&l.buf[s + n as usize..e]);
        count += 1;
        if pending.len() >= 1 << 16 {
            out.lines(&pending, count)?;
            pending.clear();
            count = 0;
        }
        heads[p] += 1;
        // The partition's next key takes its place at the top: one sift, not two.
        match head(p, heads[p]) {
            Some(k) => *top = Reverse((prefix8(k), k, p)),
            None => {
                std::collections::binary_heap::PeekMut::pop(top);
            }
        }
    }
    out.lines(&pending, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::aggs::parse_specs;
    use record::{FieldSplit, Format, Key, KeyOpts, KeySpec};
    use std::collections::BTreeMap;

    const TSV: Format = Format::Text(FieldSplit::Char(b'\t'));

    struct Lines(Vec<u8>);

    impl Sink for Lines {
        fn what(&self) -> Output {
            Output::Final
        }

        fn lines(&mut self, bytes: &[u8], _: u64) -> Result<()> {
            self.0.extend_from_slice(bytes);
            Ok(())
        }

        fn group(
            &mut self,
            aggs: &Aggs,
            order: &RecordOrder,
            item: &[u8],
            states: &mut [State],
        ) -> Result<()> {
            aggs.write(order, item, states, Output::Final, b'\n', &mut self.0)
        }
    }

    /// Blocks of whole records, `per` records each, with their first line numbers.
    fn blocks(input: &[u8], per: usize) -> Vec<Block> {
        let lines: Vec<&[u8]> = input.split_inclusive(|&c| c == b'\n').collect();
        lines
            .chunks(per)
            .enumerate()
            .map(|(i, c)| Block {
                data: c.concat(),
                input: 0,
                first_line: (i * per) as u64 + 1,
                seq: i as u64,
            })
            .collect()
    }

    fn run_with(
        input: &[u8],
        threads: usize,
        budget: usize,
        per: usize,
        sorted: bool,
    ) -> Result<Vec<u8>> {
        let texts = ["count".to_string(), "sum:2".to_string()];
        let specs = parse_specs(texts.iter())?;
        let aggs = Aggs::new(specs, TSV, None, false)?;
        let spec = KeySpec::parse("1").unwrap_or_else(|e| panic!("{e}"));
        let key = Key::resolve(&spec, TSV, None).unwrap_or_else(|e| panic!("{e}"));
        let order = RecordOrder::new(TSV, vec![key], KeyOpts::default(), true);
        let plan = Plan {
            order: &order,
            aggs: &aggs,
            field: 0,
            eol: b'\n',
            threads,
            budget,
            cfg: extsort::Config {
                budget: budget / 2,
                ..extsort::Config::default()
            },
        };
        let all = blocks(input, per);
        let read = move |give: &mut dyn FnMut(Arc<Block>)| {
            let n = all.iter().map(|b| b.data.len() as u64).sum();
            for b in all {
                give(Arc::new(b));
            }
            Ok(n)
        };
        let mut out = Lines(Vec::new());
        let mut counts = Counts::default();
        let names = vec!["in".to_string()];
        if sorted {
            if threads > 1 {
                stream_parallel(&plan, names, read, &mut out, &mut counts, false)?;
            } else {
                stream(&plan, names, read, &mut out, &mut counts, false)?;
            }
        } else {
            run(&plan, names, read, &mut out, &mut counts)?;
        }
        assert_eq!(
            counts.records_in,
            input.iter().filter(|&&c| c == b'\n').count() as u64
        );
        Ok(out.0)
    }

    /// Oracle: counts and exact sums (in hundredths) in a BTreeMap, keys in byte order.
    #[test]
    fn hash_and_streaming_runs_equal_a_map_for_any_threads_budget_and_blocks() {
        let mut want: BTreeMap<String, (u64, i64)> = BTreeMap::new();
        let mut input = Vec::new();
        let mut x = 12345u64;
        for _ in 0..3000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let k = format!("k{}", (x >> 33) % 97);
            let v = ((x >> 20) % 20000) as i64 - 10000;
            let e = want.entry(k.clone()).or_default();
            e.0 += 1;
            e.1 += v;
            let (sign, a) = if v < 0 { ("-", -v) } else { ("", v) };
            let line = format!("{k}\t{sign}{}.{:02}\n", a / 100, a % 100);
            input.extend_from_slice(line.as_bytes());
        }
        let fmt = |c: u64, s: i64| {
            let sign = if s < 0 { "-" } else { "" };
            format!("{c}\t{sign}{}.{:02}", s.abs() / 100, s.abs() % 100)
        };
        let expect: String = want
            .iter()
            .map(|(k, &(c, s))| format!("{k}\t{}\n", fmt(c, s)))
            .collect();
        for (threads, budget, per) in [
            (1, 1 << 30, 1000),
            (2, 1 << 30, 7),
            (3, 1 << 30, 1),
            (2, 4096, 50),
            (3, 2048, 3),
        ] {
            let got =
                run_with(&input, threads, budget, per, false).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                String::from_utf8_lossy(&got),
                expect,
                "-j {threads} -S {budget} per {per}"
            );
        }
        // Streaming over key-sorted input gives the same lines.
        let mut lines: Vec<&[u8]> = input.split_inclusive(|&c| c == b'\n').collect();
        lines.sort_by_key(|l| l.split(|&c| c == b'\t').next().map(<[u8]>::to_vec));
        let sorted = lines.concat();
        for (threads, per) in [(1, 100), (2, 1), (3, 7)] {
            let got =
                run_with(&sorted, threads, 1 << 30, per, true).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                String::from_utf8_lossy(&got),
                expect,
                "streaming -j {threads} per {per}"
            );
        }
        // The first bad value in input order is the one reported, whatever -j.
        let mut bad = input.clone();
        bad.extend_from_slice(b"k1\tx1\n");
        bad.extend_from_slice(&input);
        bad.extend_from_slice(b"k2\tx2\n");
        for threads in [1, 2, 3] {
            match run_with(&bad, threads, 1 << 30, 5, false) {
                Err(Error::Data(m)) => assert_eq!(
                    m, "in:3001: field 2 is \"x1\": not a number",
                    "-j {threads}"
                ),
                other => panic!(
                    "{:?}",
                    other.map(|o| String::from_utf8_lossy(&o).into_owned())
                ),
            }
        }
    }
}
