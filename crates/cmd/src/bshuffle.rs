//! bshuffle: the shuffle-and-sort phase of MapReduce. Records go to
//! `partition(key) = xxh3_64(key) mod N`, each partition sorted by key and stable, in one
//! external sort whose items carry their partition number in front.

use crate::common::{self, Setup};
use agg::engine::aggs::{self, Aggs};
use agg::engine::Combiner as Table;
use agg::State;
use clap::{Arg, ArgAction, ArgMatches, Command};
use cli::bad::BadRecords;
use cli::{args, Error, Output, Progress, Result, Stats};
use extsort::{Order, Prefix, Sorter};
use hashbrown::HashMap;
use partition::{part_name, partition_of, Cut, HeavyHitters, PartInfo};
use record::order::push_item_part;
use record::Format;
use record::{CsvScratch, KeyOpts, RecordOrder};
use serde_json::json;
use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

const ABOUT: &str = "Partition records by key hash and sort each partition (MapReduce's shuffle)";

const AFTER_HELP: &str = "\
Each record goes to partition xxh3_64(key) mod N, where the key is the bytes of the -k
fields as they stand in the record (decoded for CSV and JSON strings), several keys joined
by one TAB: the one partition function of every batchkit tool (bsplit --hash, bjoin
--partitioned) on every host. Within a partition records are sorted by key, stable: equal
keys keep their input order (inputs in the order given). The default key is field 1, the
text up to the first TAB (the Hadoop Streaming convention).

Outputs:
  -o DIR           part-00000 ... part-(N-1) and a _SUCCESS manifest (JSON: how the parts
                   were cut, the key, the partition function, sortedness, records and bytes
                   per part); DIR is staged beside itself and appears whole, even on a
                   signal. An existing non-empty DIR is an error unless --force; a DIR
                   filled during the run (another run's output) is never replaced without
                   --force: status 1. With --header, every part starts
                   with the header.
  --partition I/N  only partition I (0-based) of N, sorted, to stdout: a reducer's share of
                   many mappers' outputs
  (neither)        N must be 1: the whole stream sorted by key to stdout

--combine AGG (repeatable; breduce's AGG syntax) aggregates map-side before anything is
sorted or spilled: records are grouped by key in a hash table (half of -S), and each group
leaves as one partial line (the key, then one state per AGG, as breduce --partial writes)
when the table fills and at the end; the lines are partitioned and sorted like records.
Finish them with `breduce --merge AGG...` (same -k and AGGs). A key may have several
partial lines in a part (one per flush of the table); --merge folds them. median and
quantiles cannot be combined. The manifest names the AGGs.

Bad records (a malformed CSV or JSON record, a non-number under --combine) stop bshuffle
with FILE:LINE and status 1, or are left out with --skip-bad (--bad-records FILE keeps them).

Memory stays within -S (spilling sorted runs under -T). Standard input is always read to
the end. --stats adds per-partition records and bytes, the skew (the largest
partition's share of the bytes) and the ten heaviest keys, also in _SUCCESS.

Examples:
  bmap --words corpus.txt | bshuffle | breduce count
  bshuffle -n 8 -o shuffled/ mapper-*.tsv
  bshuffle --partition 3/8 mapper-*.tsv | breduce sum:2
  bshuffle -k user_id --header --format csv -n 4 -o by-user/ events.csv
  bshuffle -n 4 -o sums/ --combine sum:2 --combine count sales.tsv
  breduce --merge sum:2 count sums/part-00001";

/// The clap definition: the one source of `--help` and `man/bshuffle.1`.
pub fn command() -> Command {
    Command::new("bshuffle")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .after_help(AFTER_HELP)
        .arg(args::key(
            "Partition and sort by this key (default: field 1); repeatable",
        ))
        .arg(
            Arg::new("partitions")
                .short('n')
                .long("partitions")
                .value_name("N")
                .value_parser(clap::value_parser!(u64).range(1..=1_000_000))
                .help("Number of partitions [default: 1]"),
        )
        .arg(
            Arg::new("output")
                .short('o')
                .long("output")
                .value_name("DIR")
                .help("Write part files and _SUCCESS to DIR (staged, moved into place whole)"),
        )
        .arg(
            Arg::new("partition")
                .long("partition")
                .value_name("I/N")
                .conflicts_with("output")
                .help("Write only partition I of N (0-based) to stdout (-n, if given, must say the same N)"),
        )
        .arg(
            Arg::new("force")
                .long("force")
                .action(ArgAction::SetTrue)
                .help("Replace an existing non-empty output directory"),
        )
        .arg(
            Arg::new("combine")
                .long("combine")
                .value_name("AGG")
                .action(ArgAction::Append)
                .help("Aggregate map-side (breduce's AGG syntax; repeatable) and emit partial states for breduce --merge"),
        )
        .arg(args::delimiter())
        .arg(args::format())
        .arg(args::header())
        .arg(args::zero())
        .args(cli::bad::args())
        .args(args::resources())
        .arg(
            Arg::new("compress-temp")
                .long("compress-temp")
                .action(ArgAction::SetTrue)
                .help("Compress spilled runs (zstd)"),
        )
        .args(args::observe())
        .arg(args::files())
}

/// The binary's entry point.
pub fn main() -> ! {
    cli::main("bshuffle", command(), run)
}

/// Items are `partition:u32be` then the record's item; ordered by partition, then key.
struct ShuffleOrder {
    order: RecordOrder,
    /// Whether the record order's summary can follow the partition bytes (text keys).
    lead: bool,
}

impl ShuffleOrder {
    fn new(order: RecordOrder) -> Self {
        let lead = order.prefix_after(&[], &[0; PART]).is_some();
        ShuffleOrder { order, lead }
    }
}

const PART: usize = 4;

#[inline]
fn split(item: &[u8]) -> (u32, &[u8]) {
    match item.split_first_chunk::<PART>() {
        Some((p, rest)) => (u32::from_be_bytes(*p), rest),
        None => (0, item),
    }
}

impl Order for ShuffleOrder {
    #[inline]
    fn prefix(&self, item: &[u8]) -> Prefix {
        let (p, rest) = split(item);
        if self.lead {
            if let Some(s) = self.order.prefix_after(rest, &p.to_be_bytes()) {
                return s;
            }
        }
        let k = self.order.prefix(rest);
        // (partition, first 12 bytes of the key's summary): truncation keeps it monotone.
        [
            (u64::from(p) << 32) | (k[0] >> 32),
            (k[0] << 32) | (k[1] >> 32),
        ]
    }

    #[inline]
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        let (pa, ra) = split(a);
        let (pb, rb) = split(b);
        pa.cmp(&pb).then_with(|| self.order.compare(ra, rb))
    }

    #[inline]
    fn is_total(&self, p: &Prefix) -> bool {
        // Only summaries that follow the partition bytes carry a length byte.
        self.lead && self.order.prefix_is_total(p)
    }

    fn normalized(&self, item: &[u8], out: &mut Vec<u8>) -> bool {
        let (p, rest) = split(item);
        out.extend_from_slice(&p.to_be_bytes());
        self.order.normalized(rest, out)
    }
}

/// Parse `I/N`.
fn parse_share(s: &str) -> Result<(u64, u64)> {
    let bad = || {
        Error::Usage(format!(
            "invalid --partition '{s}': expected I/N with 0 <= I < N"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let i: u64 = i.trim().parse().map_err(|_| bad())?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Where the sorted stream goes.
enum Dest {
    /// Everything (or one partition's share) to stdout.
    Stdout,
    /// Part files in a staged directory.
    Dir(PathBuf, bool),
}

fn run(m: &ArgMatches) -> Result<()> {
    let started = Instant::now();
    let share = m
        .get_one::<String>("partition")
        .map(|s| parse_share(s))
        .transpose()?;
    let n = match (share, m.get_one::<u64>("partitions").copied()) {
        (Some((_, n)), Some(given)) if given != n => {
            return Err(Error::Usage(format!(
                "-n {given} and --partition {}/{n} give different N",
                share.map_or(0, |s| s.0)
            )))
        }
        (Some((_, n)), _) => n,
        (None, given) => given.unwrap_or(1),
    };
    let dest = match m.get_one::<String>("output") {
        Some(d) => Dest::Dir(PathBuf::from(d), m.get_flag("force")),
        None if share.is_some() || n == 1 => Dest::Stdout,
        None => {
            return Err(Error::Usage(format!(
                "-n {n} needs -o DIR (or --partition I/{n} for one partition on stdout)"
            )))
        }
    };
    let Setup {
        format,
        eol,
        mut inputs,
        header,
        keys,
        key_texts,
        budget,
        threads,
        stats_dest,
    } = common::setup(m, false, KeyOpts::default(), Some("1"))?;
    let combine = m
        .get_many::<String>("combine")
        .map(aggs::parse_specs)
        .transpose()?;
    // Stable: equal keys keep input order, no last-resort comparison.
    let input_order = RecordOrder::new(format, keys.clone(), KeyOpts::default(), true);
    let mut combiner = match combine {
        Some(specs) => {
            aggs::require_combinable(&specs, "--combine")?;
            let fields = header.as_ref().map(|h| common::split_header(h, format));
            Some(Aggs::new(specs, format, fields.as_deref(), false)?)
        }
        None => None,
    };
    // Combined items are partial lines whose keys were read already: the sort reads them
    // from the item (an extracting layout) and compares them as the records' keys.
    let order = if combiner.is_some() {
        RecordOrder::new(Format::Jsonl, keys, KeyOpts::default(), true)
    } else {
        input_order.clone()
    };
    let header = match (&combiner, &header) {
        (Some(a), Some(h)) => {
            let mut line = a.header(&input_order, &common::split_header(h, format), eol);
            line.pop();
            Some(line)
        }
        _ => header,
    };
    let routed = matches!(dest, Dest::Dir(..));
    // A combiner's table gets half the budget, the sort of its partial lines the rest.
    let sort_budget = if combiner.is_some() {
        budget / 2
    } else {
        budget
    };
    let cfg = common::sort_config(m, sort_budget, threads, true, false);
    // Stage the directory before any work: an existing non-empty DIR fails fast.
    let commit = match &dest {
        Dest::Dir(d, force) => Some(common::begin_dir(d, *force)?),
        Dest::Stdout => None,
    };
    let mut sorter = Sorter::new(ShuffleOrder::new(order), cfg)?;
    let progress = Progress::new(m.get_flag("progress"), inputs.total_size());
    progress.phase("read", inputs.total_size());
    let mut scratch = CsvScratch::default();
    let mut key = Vec::new();
    let mut stats = Stats {
        threads,
        ..Stats::default()
    };
    let mut bad = BadRecords::new("bshuffle", m, eol)?;
    // The heaviest keys (docs/heavy-hitters.md), only when asked for with --stats: the
    // sketch is not free. Not with --combine (its records are grouped already).
    let mut hitters = (stats_dest.is_some() && combiner.is_none()).then(HeavyHitters::default);
    // The combiner on -j threads (see `combine_blocks`): order-free aggregates over
    // delimited text with one plain key field, bad records not skipped.
    let parallel = match (&mut combiner, input_order.plain_field()) {
        (Some(aggs), Some((_, f)))
            if threads > 1 && agg::engine::hash::order_free(aggs) && !bad.skipping() =>
        {
            aggs.also_scan(f);
            Some(f)
        }
        _ => None,
    };
    if let (Some(aggs), Some(field)) = (&combiner, parallel) {
        let c = ParallelCombine {
            aggs,
            order: &input_order,
            field,
            eol,
            threads,
            limit: (budget / 2 / threads).max(1),
            max_record: budget.max(extsort::RECORD_ALLOWANCE),
            n,
            share: share.map(|(i, _)| i),
        };
        let (read, records) = combine_blocks(&c, inputs.take_all(), &mut sorter)?;
        inputs.bytes += read;
        stats.records_in = records;
    } else if let Some(aggs) = &mut combiner {
        let mut table = Combiner::default();
        let limit = (budget / 2).max(1);
        let mut item = Vec::new();
        let skipping = bad.skipping();
        inputs.for_each(&progress, |rec, at| {
            stats.records_in += 1;
            let outcome = (|| {
                let it = common::item_of(&input_order, rec, &mut item, &mut scratch, &at)?;
                key.clear();
                input_order.key_bytes(it, &mut key);
                let p = partition_of(&key, n) as u32;
                if matches!(share, Some((i, _)) if u64::from(p) != i) {
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
                table.flush(&mut sorter, aggs, &input_order, eol)?;
            }
            Ok(())
        })?;
        table.flush(&mut sorter, aggs, &input_order, eol)?;
    } else {
        let rec_order = &sorter.order().order.clone();
        let sketch = &mut hitters;
        inputs.for_each(&progress, |rec, at| {
            stats.records_in += 1;
            let mut item_start = 0;
            let res = sorter.push_with(rec.len() + PART + 16, |buf| {
                item_start = buf.len();
                buf.extend_from_slice(&[0; PART]);
                rec_order.encode(rec, buf, &mut scratch)?;
                // The partition is a function of the key bytes as they stand.
                key.clear();
                rec_order.key_bytes(&buf[item_start + PART..], &mut key);
                // One hash for the partition and the sketch.
                let h = partition::hash(&key);
                let p = partition::partition_of_hash(h, n) as u32;
                match share {
                    // Not ours: leave nothing in the buffer.
                    Some((i, _)) if u64::from(p) != i => Err(Skip::Other),
                    _ => {
                        buf[item_start..item_start + PART].copy_from_slice(&p.to_be_bytes());
                        if let Some(hh) = sketch.as_mut() {
                            hh.add_hashed(h, &key, rec.len() as u64 + 1);
                        }
                        Ok(())
                    }
                }
            });
            match res {
                Ok(()) | Err(extsort::PushError::Build(Skip::Other)) => Ok(()),
                Err(extsort::PushError::Build(Skip::Bad(e))) => bad
                    .check(Err(Error::Runtime(format!("{at}: {e}"))), rec)
                    .map(drop),
                Err(extsort::PushError::Sort(e)) => Err(common::sort_error(e, &at)),
            }
        })?;
    }
    stats.bad_records = bad.finish()?;
    let ord = sorter.order();
    let rec_order = &ord.order;
    stats.bytes_in = inputs.bytes;
    progress.phase("merge", None);

    let mut parts: Vec<PartInfo> = (0..n)
        .map(|i| PartInfo {
            name: part_name(i, ""),
            ..PartInfo::default()
        })
        .collect();
    let sort_stats = if let Some(commit) = &commit {
        let mut writer = PartWriter {
            dir: commit.path().to_path_buf(),
            header: header.as_deref(),
            eol,
            current: None,
            parts: &mut parts,
        };
        // Each emitted item is framed `partition:u32be len:u32le bytes` so that the sink
        // can route whole blocks to the part files in order.
        let emit = |item: &[u8], buf: &mut Vec<u8>| {
            let (p, rest) = split(item);
            let rec = rec_order.record(rest);
            buf.extend_from_slice(&p.to_be_bytes());
            buf.extend_from_slice(&(rec.len() as u32 + 1).to_le_bytes());
            buf.extend_from_slice(rec);
            buf.push(eol);
        };
        let s = sorter.finish(&emit, &mut |block| writer.write_block(block))?;
        writer
            .finish()
            .map_err(|e| Error::io("cannot write a part file", e))?;
        s
    } else {
        let mut out = Output::open("bshuffle", None)?;
        if let Some(h) = &header {
            out.write_all(h)
                .and_then(|_| out.write_all(&[eol]))
                .map_err(|e| Error::io("write error", e))?;
        }
        let emit = |item: &[u8], buf: &mut Vec<u8>| {
            buf.extend_from_slice(rec_order.record(split(item).1));
            buf.push(eol);
        };
        let s = sorter.finish(&emit, &mut |block| out.write_all(block))?;
        stats.bytes_out = out.commit()?;
        s
    };
    progress.finish();
    stats.records_out = sort_stats.records_out;
    stats.add_sort(&sort_stats);
    if routed {
        stats.bytes_out = parts.iter().map(|p| p.bytes).sum();
        let total = stats.bytes_out.max(1);
        let largest = parts.iter().map(|p| p.bytes).max().unwrap_or(0);
        stats.extra.insert(
            "partitions".into(),
            json!(parts
                .iter()
                .map(|p| json!({"records": p.records, "bytes": p.bytes}))
                .collect::<Vec<_>>()),
        );
        stats
            .extra
            .insert("skew".into(), json!(largest as f64 / total as f64));
    }
    let hitters = hitters.map(|h| h.to_json(10));
    if let Some(h) = &hitters {
        stats.extra.insert("heavy_hitters".into(), h.clone());
    }
    if let Some(commit) = commit {
        let keys = if key_texts.is_empty() {
            vec!["1".to_string()]
        } else {
            key_texts
        };
        let cut = Cut {
            method: "hash".into(),
            n,
            keys: keys.clone(),
            hashed: true,
        };
        let extra = match m.get_many::<String>("combine") {
            // The parts hold partial states: say which, for breduce --merge.
            Some(a) => json!({ "combine": a.collect::<Vec<_>>() }),
            None => json!({}),
        };
        let mut extra = extra;
        if let (Some(h), Some(x)) = (hitters, extra.as_object_mut()) {
            x.insert("heavy_hitters".into(), h);
        }
        let manifest = partition::manifest("bshuffle", &cut, Some(&keys), &parts, extra);
        common::commit_dir(commit, &manifest)?;
    }
    common::emit_stats("bshuffle", &stats, &stats_dest, started)
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
struct ParallelCombine<'a> {
    aggs: &'a Aggs,
    order: &'a RecordOrder,
    /// The key field (0-based).
    field: usize,
    eol: u8,
    threads: usize,
    /// Each thread's share of the table budget.
    limit: usize,
    max_record: usize,
    /// Partitions, and ours alone with --partition.
    n: u64,
    share: Option<u64>,
}

/// `--combine` on `c.threads` threads: the reading thread cuts blocks of whole records,
/// each worker takes the next block and aggregates all of it into a table of its own,
/// flushed as partial lines into the shared sort when it outgrows its share (and at the
/// end). Every aggregate is order-free, so which thread folds which records changes no
/// byte of `breduce --merge`'s result. The first bad record in input order stops it.
/// Returns bytes and records read.
fn combine_blocks(
    c: &ParallelCombine,
    inputs: Vec<common::Input>,
    sorter: &mut Sorter<ShuffleOrder>,
) -> Result<(u64, u64)> {
    use std::sync::{mpsc, Arc, Mutex};
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let sorter = Mutex::new(sorter);
    let (tx, rx) = mpsc::sync_channel::<Arc<common::Block>>(2 * c.threads);
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
                    for (_, line, rec) in common::records(&block.data, c.eol, block.first_line) {
                        let at = common::At {
                            name: &names[block.input],
                            line,
                        };
                        records += 1;
                        comb.prepare(rec, &at)?;
                        let key = comb.field(rec, c.field);
                        if let Some(i) = c.share {
                            if partition_of(key, c.n) != i {
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
        let read = common::read_blocks(inputs, c.eol, c.max_record, |b| {
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
        let p = partition_of(key, c.n) as u32;
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

/// Why a record was not pushed.
#[derive(Debug)]
enum Skip {
    /// It belongs to another partition (`--partition`).
    Other,
    /// Its key could not be read.
    Bad(record::KeyReadError),
}

impl From<record::KeyReadError> for Skip {
    fn from(e: record::KeyReadError) -> Skip {
        Skip::Bad(e)
    }
}

/// Routes framed items to part files: the stream is sorted by partition, so one file is
/// open at a time, and every partition gets a file, empty or not.
struct PartWriter<'a> {
    dir: PathBuf,
    header: Option<&'a [u8]>,
    eol: u8,
    current: Option<(u32, BufWriter<File>)>,
    parts: &'a mut [PartInfo],
}

impl PartWriter<'_> {
    fn open(&mut self, p: u32) -> std::io::Result<()> {
        let name = &self.parts[p as usize].name;
        let mut w = BufWriter::with_capacity(1 << 20, File::create(self.dir.join(name))?);
        if let Some(h) = self.header {
            w.write_all(h)?;
            w.write_all(&[self.eol])?;
            self.parts[p as usize].bytes += h.len() as u64 + 1;
        }
        self.current = Some((p, w));
        Ok(())
    }

    /// Close the current part and create every empty one up to `upto` (exclusive).
    fn advance_to(&mut self, upto: u32) -> std::io::Result<()> {
        let from = match self.current.take() {
            Some((p, mut w)) => {
                w.flush()?;
                p + 1
            }
            None => 0,
        };
        for q in from..upto {
            self.open(q)?;
            if let Some((_, mut w)) = self.current.take() {
                w.flush()?;
            }
        }
        Ok(())
    }

    fn write_block(&mut self, mut block: &[u8]) -> std::io::Result<()> {
        while block.len() >= 8 {
            let p = u32::from_be_bytes([block[0], block[1], block[2], block[3]]);
            let len = u32::from_le_bytes([block[4], block[5], block[6], block[7]]) as usize;
            let rec = block
                .get(8..8 + len)
                .ok_or_else(|| std::io::Error::other("truncated item"))?;
            if self.current.as_ref().map(|c| c.0) != Some(p) {
                self.advance_to(p)?;
                self.open(p)?;
            }
            if let Some((_, w)) = &mut self.current {
                w.write_all(rec)?;
            }
            let info = &mut self.parts[p as usize];
            info.records += 1;
            info.bytes += len as u64;
            block = &block[8 + len..];
        }
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let n = self.parts.len() as u32;
        self.advance_to(n)
    }
}
