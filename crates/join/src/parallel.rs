//! The hash join's probe on several threads.
//!
//! A reader thread cuts the streamed side into [`Block`]s; `threads` workers take blocks in
//! turn and probe their records against the shared, read-only [`HashTable`], each formatting
//! its block's output into a buffer of its own; the calling thread writes the buffers in
//! block order. So the output is the serial [`crate::hash_join`]'s, byte for byte, for any
//! number of threads. Build records matched by any worker are marked in one atomic bitmap;
//! what the build side still owes (outer joins, semi/anti with the left side built) is
//! written at the end by [`finish`], in the build side's order, as the serial join does.
//!
//! Memory is bounded: at most `in_flight` blocks are read and not yet written (their input
//! and their output); a worker whose output passes `out_cap` waits until its block is the
//! next to be written and writes it directly, so one probe record with very many matches
//! cannot fill memory either. Errors (a bad record, a read error) travel with their block
//! and are reported in input order: the first one in the input is the one returned,
//! whatever the threads did.

use crate::blocks::Block;
use crate::{Config, Error, HashTable, JoinType, Keys, Marks, Result, Side, Sink, Stats};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};

/// A sink that formats into a buffer of its own, which the driver takes.
pub trait BlockSink: Sink {
    fn buf(&mut self) -> &mut Vec<u8>;
}

/// The caller's part of a parallel probe: turning a block's records into items (and
/// handling bad records), and formatting joined pairs.
pub trait Probe: Sync {
    /// Per worker: what parsing needs, and what a block leaves besides output (its bad
    /// records, say).
    type Parser: Send;
    /// Per worker: the formatter.
    type Out: BlockSink + Send;
    /// What a block leaves besides output, handed on in block order.
    type Note: Send;
    fn parser(&self) -> Self::Parser;
    fn out(&self) -> Self::Out;
    /// Call `each` on the item of every record of `block`, in order. A bad record either
    /// stops the block with an error (which then is the join's error, in input order) or is
    /// kept in the parser and skipped.
    fn items(
        &self,
        parser: &mut Self::Parser,
        block: &Block,
        each: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()>;
    /// Take what the last block left in the parser.
    fn note(&self, parser: &mut Self::Parser) -> Self::Note;
}

/// Bounds of the pipeline.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Blocks read and not yet written, at most.
    pub in_flight: usize,
    /// Output bytes a worker holds before it waits for its turn to write.
    pub out_cap: usize,
}

impl Limits {
    /// Limits for `threads` workers whose blocks and outputs together stay within about
    /// `bytes`, and the block size to cut.
    pub fn within(bytes: usize, threads: usize) -> (Limits, usize) {
        let in_flight = 2 * threads.max(1) + 2;
        let slot = (bytes / (in_flight + threads.max(1))).max(64 << 10);
        let block = (slot / 4).min(1 << 20);
        (
            Limits {
                in_flight,
                out_cap: slot - block,
            },
            block,
        )
    }
}

/// What probing did: counters, the marks of matched build records, and the first item of
/// the streamed side (for the final sink's width).
pub struct Probed {
    pub stats: Stats,
    pub marks: Marks,
    pub first: Option<Vec<u8>>,
}

/// Items looked up and not yet written: (in the block, or else in `arena`; offset there,
/// length, chain head).
#[derive(Default)]
struct Batch {
    arena: Vec<u8>,
    items: Vec<(bool, usize, usize, u32)>,
}

const BATCH: usize = 32;

enum Msg<N> {
    Done {
        seq: u64,
        data: Vec<u8>,
        note: N,
        items: u64,
        out: u64,
        first: Option<Vec<u8>>,
        err: Option<Error>,
    },
    /// The reader stopped before block `seq`: at the end (`None`), or failing.
    End(u64, Option<Error>),
}

/// Probe `table` with every block `next_block` cuts (on a thread of its own), on `threads`
/// workers, writing the output to `out` in block order and handing each block's note to
/// `on_note`, in block order too. Call [`finish`] after it for what the build side owes.
#[allow(clippy::too_many_arguments)]
pub fn probe_blocks<K, P, W>(
    keys: &K,
    jt: JoinType,
    table: &HashTable,
    probe: &P,
    next_block: &mut (dyn FnMut() -> Result<Option<Block>> + Send),
    threads: usize,
    limits: Limits,
    out: &mut W,
    on_note: &mut dyn FnMut(P::Note) -> Result<()>,
    cfg: &Config,
) -> Result<Probed>
where
    K: Keys + ?Sized,
    P: Probe,
    W: Write + Send + ?Sized,
{
    let marks = Marks::new(table.len());
    let build = table.side;
    let in_flight = limits.in_flight.max(1);
    let threads = threads.max(1);
    let stop = AtomicBool::new(false);
    // The block next to be written; workers past their output cap wait for it.
    let head = (Mutex::new(0u64), Condvar::new());
    let out = Mutex::new(out);
    let mut stats = Stats::default();
    let mut first: Option<Vec<u8>> = None;
    let mut failed: Option<Error> = None;
    let (work_tx, work_rx) = mpsc::sync_channel::<(u64, Block)>(threads);
    let work_rx = Mutex::new(work_rx);
    let (token_tx, token_rx) = mpsc::sync_channel::<()>(in_flight);
    let (done_tx, done_rx) = mpsc::channel::<Msg<P::Note>>();
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    let free_rx = Mutex::new(free_rx);
    std::thread::scope(|scope| {
        {
            let done_tx = done_tx.clone();
            let stop = &stop;
            scope.spawn(move || {
                let mut seq = 0u64;
                loop {
                    if stop.load(AtomicOrdering::Relaxed) {
                        break;
                    }
                    match next_block() {
                        Ok(Some(b)) => {
                            if token_tx.send(()).is_err() || work_tx.send((seq, b)).is_err() {
                                break;
                            }
                            seq += 1;
                        }
                        Ok(None) => {
                            let _ = done_tx.send(Msg::End(seq, None));
                            break;
                        }
                        Err(e) => {
                            let _ = done_tx.send(Msg::End(seq, Some(e)));
                            break;
                        }
                    }
                }
            });
        }
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let (work_rx, free_rx, stop, head_of_line, out, marks) =
                (&work_rx, &free_rx, &stop, &head, &out, &marks);
            scope.spawn(move || {
                let mut parser = probe.parser();
                let mut sink = probe.out();
                if let Some(f) = table.items().next() {
                    sink.seen(build, f);
                }
                let mut hk = Vec::new();
                let mut batch = Batch::default();
                loop {
                    let job = match work_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, block)) = job else { return };
                    if stop.load(AtomicOrdering::Relaxed) {
                        continue;
                    }
                    if let Some(b) = free_rx.lock().ok().and_then(|rx| rx.try_recv().ok()) {
                        *sink.buf() = b;
                    }
                    let mut items = 0u64;
                    let mut n_out = 0u64;
                    let mut first: Option<Vec<u8>> = None;
                    let mut res = cfg.check();
                    if res.is_ok() {
                        // Items are looked up in batches and written after: the lookups
                        // (mostly cache misses in a large table) then overlap.
                        let flush = |batch: &mut Batch, sink: &mut P::Out| -> Result<u64> {
                            let mut n = 0;
                            for &(_, _, _, head) in &batch.items {
                                table.prefetch(head);
                            }
                            for &(in_block, o, len, head) in &batch.items {
                                let from = if in_block { &block.data } else { &batch.arena };
                                let item = &from[o..o + len];
                                n += crate::hash::emit_matches(jt, table, item, head, sink, marks)?;
                                if sink.buf().len() > limits.out_cap {
                                    wait_turn(head_of_line, seq, stop)?;
                                    let mut o = out.lock().map_err(|_| Error::Interrupted)?;
                                    o.write_all(sink.buf()).map_err(crate::write_err)?;
                                    sink.buf().clear();
                                }
                            }
                            batch.items.clear();
                            batch.arena.clear();
                            Ok(n)
                        };
                        res = probe.items(&mut parser, &block, &mut |item| {
                            items += 1;
                            if first.is_none() {
                                first = Some(item.to_vec());
                                sink.seen(build.other(), item);
                            }
                            let head = crate::hash::lookup(keys, table, item, &mut hk);
                            // An item that is a slice of the block (TSV) is not copied.
                            let (base, at) = (block.data.as_ptr() as usize, item.as_ptr() as usize);
                            if at >= base && at + item.len() <= base + block.data.len() {
                                batch.items.push((true, at - base, item.len(), head));
                            } else {
                                batch
                                    .items
                                    .push((false, batch.arena.len(), item.len(), head));
                                batch.arena.extend_from_slice(item);
                            }
                            if batch.items.len() == BATCH {
                                n_out += flush(&mut batch, &mut sink)?;
                            }
                            Ok(())
                        });
                        if res.is_ok() || !batch.items.is_empty() {
                            // What came before an error is written too, as the serial join
                            // does.
                            match flush(&mut batch, &mut sink) {
                                Ok(n) => n_out += n,
                                Err(e) => res = res.and(Err(e)),
                            }
                        }
                        batch.items.clear();
                        batch.arena.clear();
                    }
                    let note = probe.note(&mut parser);
                    let data = std::mem::take(sink.buf());
                    let msg = Msg::Done {
                        seq,
                        data,
                        note,
                        items,
                        out: n_out,
                        first,
                        err: res.err(),
                    };
                    if done_tx.send(msg).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        // Write blocks in order.
        let mut waiting: BTreeMap<u64, Msg<P::Note>> = BTreeMap::new();
        let mut next = 0u64;
        let mut token_rx = Some(token_rx);
        let fail = |failed: &mut Option<Error>, e: Error, token_rx: &mut Option<_>| {
            if failed.is_none() {
                *failed = Some(e);
            }
            stop.store(true, AtomicOrdering::Relaxed);
            // Unblock the reader and any worker waiting for its turn (under the lock, so
            // that a worker between its check of `stop` and its wait cannot miss it).
            *token_rx = None;
            let _guard = head.0.lock();
            head.1.notify_all();
        };
        for msg in done_rx {
            if failed.is_some() {
                continue;
            }
            match msg {
                Msg::End(seq, err) => {
                    if let Some(e) = err {
                        waiting.insert(seq, Msg::End(seq, Some(e)));
                    }
                }
                Msg::Done { seq, .. } => {
                    waiting.insert(seq, msg);
                }
            }
            while let Some(m) = waiting.remove(&next) {
                match m {
                    Msg::End(_, Some(e)) => {
                        fail(&mut failed, e, &mut token_rx);
                        break;
                    }
                    Msg::End(_, None) => {}
                    Msg::Done {
                        data,
                        note,
                        items,
                        out: n_out,
                        first: f,
                        err,
                        ..
                    } => {
                        stats.records_out += n_out;
                        match build {
                            Side::Left => stats.right_records += items,
                            Side::Right => stats.left_records += items,
                        }
                        if first.is_none() {
                            first = f;
                        }
                        let written = match out.lock() {
                            Ok(mut o) => o.write_all(&data).map_err(crate::write_err),
                            Err(_) => Err(Error::Interrupted),
                        };
                        let mut data = data;
                        data.clear();
                        let _ = free_tx.send(data);
                        if let Err(e) = written
                            .and_then(|_| on_note(note))
                            .and_then(|_| err.map_or(Ok(()), Err))
                            .and_then(|_| cfg.check())
                        {
                            fail(&mut failed, e, &mut token_rx);
                            break;
                        }
                        if let Some(t) = &token_rx {
                            let _ = t.recv();
                        }
                        next += 1;
                        if let Ok(mut h) = head.0.lock() {
                            *h = next;
                        }
                        head.1.notify_all();
                    }
                }
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(Probed {
        stats,
        marks,
        first,
    })
}

/// Wait until block `seq` is the next to be written (or the join stops).
fn wait_turn(head: &(Mutex<u64>, Condvar), seq: u64, stop: &AtomicBool) -> Result<()> {
    let mut h = head.0.lock().map_err(|_| Error::Interrupted)?;
    while *h != seq {
        if stop.load(AtomicOrdering::Relaxed) {
            return Err(Error::Interrupted);
        }
        h = head.1.wait(h).map_err(|_| Error::Interrupted)?;
    }
    Ok(())
}

/// Write what the build side owes after probing (see [`crate::hash_join`]), and count it
/// into `probed.stats`.
pub fn finish(
    jt: JoinType,
    table: &HashTable,
    probed: &mut Probed,
    sink: &mut dyn Sink,
) -> Result<()> {
    if let Some(f) = table.items().next() {
        sink.seen(table.side, f);
    }
    if let Some(f) = &probed.first {
        sink.seen(table.side.other(), f);
    }
    probed.stats.records_out += crate::hash::emit_owed(jt, table, &probed.marks, sink)?;
    match table.side {
        Side::Left => probed.stats.left_records = table.len() as u64,
        Side::Right => probed.stats.right_records = table.len() as u64,
    }
    Ok(())
}
