//! bjoin: joins of two inputs by key. Orchestration only: the merge join, hash join and
//! partition-wise driver live in `join`, the external sort in `extsort`, records and keys in
//! `record`. This module picks the strategy, wires inputs and sorts to the engine and
//! formats joined records (the GNU join layout).

use crate::common::{self, Inputs};
use clap::{Arg, ArgAction, ArgMatches, Command};
use cli::{args, Error, Output, Result, Stats};
use extsort::{Order, Sorter};
use join::{BlockProbe, Built, ChanInput, HashTable, JoinKeys, JoinType, Layout, Side};
use record::{CsvScratch, FieldSplit, Format, Key, KeyOpts, KeySpec, RecordOrder};
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

const ABOUT: &str =
    "Join two inputs by key: sort-merge, hash (broadcast) or partition-wise; every join type";

const AFTER_HELP: &str = "\
Output (TSV and CSV): the key field(s), then the left record's other fields, then the
right's: GNU join's layout (`join -t TAB`). A record without a match (left, right, full
joins) has --fill (default: empty) in each field of the missing side; a side's width is
its header's (--header), else its first record's; an empty side adds no fields. The key
of a matched pair is written as the left record holds it. semi and anti write left records
unchanged. JSON lines: each output line is {\"left\":L,\"right\":R}, L and R the input
objects as they stand, null for a missing side (jq '.left + .right' merges them);
semi and anti write left lines unchanged. With --header the output starts with one header:
key names, left's other names, right's other names (semi/anti: the left header).

Keys: -k applies to both sides; --left-key/--right-key name each side's (repeatable, same
count, same flags): field numbers, column names with --header, JSON paths for JSON lines.
Default: field 1. Empty or missing fields are empty keys, and empty keys match each other.

Strategies:
  hash   build one side in memory within -S (the smaller file, or --build), stream the
         other: a broadcast join, one pass over each input, no sort. Costs the build side's
         size in memory. Output follows the streamed side's order, each record with its
         matches in the build side's input order; unmatched build records (outer joins) come
         at the end in the build side's order (and so do semi/anti results with --build left).
  merge  sort both sides by key with the external sort (spilling beyond -S), then merge;
         with --sorted the inputs are taken as sorted and checked as they stream (constant
         memory, no sort): a key that goes backwards stops bjoin with `bjoin: FILE:LINE: ...`,
         status 1, never a silently lost pair. Output follows key order; within a key, each
         left record (input order) with each right record (input order). The right side's
         records of one key are buffered in memory within -S and spilled to a temporary
         file beyond it, so any number of pairs works.
  auto   (default) hash when the build side fits -S (known from file sizes, else found out
         while building: a build side that outgrows -S falls back to merge without reading
         anything twice); merge with --sorted. A forced --strategy hash whose build side
         outgrows -S stops with status 1.

--partitioned LEFT_DIR RIGHT_DIR joins part-NNNNN pairs of two directories written by
bsplit --hash or bshuffle -o (with the same N and the same partition function, each side
partitioned by its join key; their _SUCCESS manifests are checked, status 1 when they
disagree), on -j threads, each pair with the strategy chosen as above within -S/-j; the
output is the pairs' outputs concatenated in part order.

Threads: the hash join probes on -j threads: a reader thread cuts the streamed side into
blocks of whole records, workers probe the shared table, and blocks are written in input
order, so the output is the same bytes for any -j (beside -S, about 48 MiB of blocks and
output in flight). Bad records and errors come out in input order whatever -j is.

Input: a CR outside quotes that does not end the line makes a CSV record malformed (CRLF
line ends and CRs inside quotes are fine). A JSON member name given twice: the last one
wins (as in jq and Python); a bad escape or a lone surrogate (\\ud800) makes the record bad.

--stats adds strategy (hash, merge, merge-sorted), build_side (left, right or null), type,
fallback (true when auto fell back from hash to merge) and parts.

A CSV or JSON record whose key cannot be read stops bjoin with `bjoin: FILE:LINE: ...`,
status 1; --skip-bad skips such records and reports how many on stderr (and in --stats),
--bad-records FILE also keeps them there, unchanged.

Exit status: 0 success (or a closed output pipe), 1 runtime or data error, 2 usage error;
with -o no partial file is ever left.

Examples:
  bjoin orders.tsv users.tsv                      inner join on field 1 (users built in memory)
  bjoin --left-key 2 --right-key 1 --type left orders.tsv users.tsv
  bjoin --header -k user_id --format csv a.csv b.csv
  bjoin --strategy merge --sorted -S 256M big1.tsv big2.tsv
  bjoin --type anti -k 1 today.tsv yesterday.tsv  records new today
  bjoin --format jsonl -k user.id events.jsonl users.jsonl | jq '.left + .right'
  bjoin --partitioned -j 4 left_parts/ right_parts/";

/// The clap definition: the one source of `--help` and `man/bjoin.1`.
pub fn command() -> Command {
    Command::new("bjoin")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .after_help(AFTER_HELP)
        .arg(args::key("Join key of both sides (default: field 1); repeatable"))
        .arg(
            Arg::new("left-key")
                .long("left-key")
                .value_name("SPEC")
                .action(ArgAction::Append)
                .help("Join key of the left input; repeatable"),
        )
        .arg(
            Arg::new("right-key")
                .long("right-key")
                .value_name("SPEC")
                .action(ArgAction::Append)
                .help("Join key of the right input; repeatable"),
        )
        .arg(
            Arg::new("type")
                .long("type")
                .value_name("TYPE")
                .value_parser(["inner", "left", "right", "full", "semi", "anti"])
                .default_value("inner")
                .help("Join type"),
        )
        .arg(
            Arg::new("strategy")
                .long("strategy")
                .value_name("S")
                .value_parser(["auto", "hash", "merge"])
                .default_value("auto")
                .help("auto: hash when the build side fits -S, else merge"),
        )
        .arg(
            Arg::new("build")
                .long("build")
                .value_name("SIDE")
                .value_parser(["left", "right"])
                .help("Side to build in memory for hash [default: the smaller file, else right]"),
        )
        .arg(
            Arg::new("sorted")
                .long("sorted")
                .action(ArgAction::SetTrue)
                .help("Inputs are sorted by key: merge without sorting, verifying the order"),
        )
        .arg(
            Arg::new("fill")
                .long("fill")
                .value_name("TEXT")
                .default_value("")
                .hide_default_value(true)
                .help("Text of the missing side's fields in outer joins [default: empty]"),
        )
        .arg(
            Arg::new("partitioned")
                .long("partitioned")
                .action(ArgAction::SetTrue)
                .help("LEFT and RIGHT are directories of hash partitions (bsplit --hash, bshuffle -o)"),
        )
        .arg(
            Arg::new("skip-bad")
                .long("skip-bad")
                .action(ArgAction::SetTrue)
                .help("Skip records whose key cannot be read (malformed CSV or JSON); report how many on stderr"),
        )
        .arg(
            Arg::new("bad-records")
                .long("bad-records")
                .value_name("FILE")
                .help("With --skip-bad (implied): write skipped records to FILE, unchanged"),
        )
        .arg(args::delimiter())
        .arg(args::format())
        .arg(args::header())
        .arg(args::zero())
        .arg(args::output())
        .args(args::resources())
        .args(args::observe())
        .arg(
            Arg::new("inputs")
                .value_name("LEFT RIGHT")
                .num_args(2)
                .required(true)
                .help("The two inputs ('-': standard input, for one of them); directories with --partitioned"),
        )
}

/// The binary's entry point.
pub fn main() -> ! {
    cli::main("bjoin", command(), run)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Strategy {
    Auto,
    Hash,
    Merge,
}

/// Everything a join of one pair of inputs needs, from the command line.
struct Ctx {
    jt: JoinType,
    strategy: Strategy,
    build: Option<Side>,
    sorted: bool,
    format: Format,
    eol: u8,
    header: bool,
    fill: Vec<u8>,
    left_specs: Vec<KeySpec>,
    right_specs: Vec<KeySpec>,
    budget: usize,
    sort_cfg: extsort::Config,
    join_cfg: join::Config,
    bad: std::sync::Arc<Bad>,
    /// Workers of the parallel probe; 0: probe on the calling thread (part pairs, which
    /// run in parallel already).
    threads: usize,
}

/// What the join of one pair did.
#[derive(Default)]
struct PairStats {
    join: join::Stats,
    bytes_in: u64,
    sort: extsort::Stats,
    strategy: &'static str,
    build: Option<Side>,
    fallback: bool,
}

impl PairStats {
    /// Take the input counters from the two inputs.
    fn read(mut self, l: Option<&RecInput>, r: Option<&RecInput>) -> PairStats {
        self.bytes_in = l.map_or(0, |l| l.bytes) + r.map_or(0, |r| r.bytes);
        self.join.left_records = l.map_or(0, |l| l.count);
        self.join.right_records = r.map_or(0, |r| r.count);
        self
    }
}

fn join_error(e: join::Error) -> Error {
    match e {
        join::Error::Io { context, source } => Error::Io(context, source),
        join::Error::Interrupted => Error::Exit(130),
        e => Error::Runtime(e.to_string()),
    }
}

fn flag(m: &ArgMatches, id: &str) -> bool {
    m.get_one::<bool>(id).copied().unwrap_or(false)
}

fn specs(m: &ArgMatches, id: &str) -> Result<Vec<KeySpec>> {
    m.get_many::<String>(id)
        .map(|v| {
            v.map(|s| KeySpec::parse(s).map_err(|e| Error::Usage(e.to_string())))
                .collect()
        })
        .unwrap_or_else(|| Ok(Vec::new()))
}

fn run(m: &ArgMatches) -> Result<()> {
    let started = Instant::now();
    let names: Vec<String> = m
        .get_many::<String>("inputs")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let [left_name, right_name] = names.as_slice() else {
        return Err(Error::Usage("two inputs are needed: LEFT RIGHT".into()));
    };
    let partitioned = flag(m, "partitioned");
    if !partitioned && left_name == "-" && right_name == "-" {
        return Err(Error::Usage(
            "only one of LEFT and RIGHT can be standard input".into(),
        ));
    }
    let jt = m
        .get_one::<String>("type")
        .and_then(|s| JoinType::parse(s))
        .unwrap_or(JoinType::Inner);
    let strategy = match m.get_one::<String>("strategy").map(String::as_str) {
        Some("hash") => Strategy::Hash,
        Some("merge") => Strategy::Merge,
        _ => Strategy::Auto,
    };
    let sorted = flag(m, "sorted");
    if sorted && strategy == Strategy::Hash {
        return Err(Error::Usage(
            "--sorted asks for a merge join; it cannot go with --strategy hash".into(),
        ));
    }
    let build = m.get_one::<String>("build").map(|s| match s.as_str() {
        "left" => Side::Left,
        _ => Side::Right,
    });
    // Keys: -k for both sides, --left-key/--right-key for one; field 1 by default.
    let common_keys = specs(m, "key")?;
    let mut left_specs = specs(m, "left-key")?;
    let mut right_specs = specs(m, "right-key")?;
    let default = KeySpec::parse("1").map_err(|e| Error::Usage(e.to_string()))?;
    for s in [&mut left_specs, &mut right_specs] {
        if s.is_empty() {
            *s = if common_keys.is_empty() {
                vec![default.clone()]
            } else {
                common_keys.clone()
            };
        }
    }
    if left_specs.len() != right_specs.len() {
        return Err(Error::Usage(format!(
            "the left key has {} field(s) and the right key {}",
            left_specs.len(),
            right_specs.len()
        )));
    }
    for (l, r) in left_specs.iter().zip(&right_specs) {
        if l.opts != r.opts {
            return Err(Error::Usage(format!(
                "keys '{}' and '{}' compare differently (give both the same flags)",
                l.text, r.text
            )));
        }
    }
    let eol = if flag(m, "zero") { 0 } else { b'\n' };
    let delim = args::delimiter_of(m)?;
    let format_names: Vec<String> = if partitioned {
        Vec::new()
    } else {
        names.clone()
    };
    let format = match args::format_of(m, &format_names) {
        Some("csv") => Format::Csv(delim.unwrap_or(b',')),
        Some("jsonl") => Format::Jsonl,
        _ => Format::Text(FieldSplit::Char(delim.unwrap_or(b'\t'))),
    };
    let budget = args::budget_of(m)?;
    let threads = args::threads_of(m);
    let stats_dest = args::stats_of(m);
    let tmp = args::tmp_of(m);
    let bad_path = m.get_one::<String>("bad-records").map(PathBuf::from);
    let bad = std::sync::Arc::new(Bad {
        skip: flag(m, "skip-bad") || bad_path.is_some(),
        eol,
        count: std::sync::atomic::AtomicU64::new(0),
        out: match &bad_path {
            Some(p) => Some(std::sync::Mutex::new(Output::open("bjoin", Some(p))?)),
            None => None,
        },
    });
    let ctx = Ctx {
        jt,
        strategy,
        build,
        sorted,
        format,
        eol,
        header: flag(m, "header") && format != Format::Jsonl,
        fill: m
            .get_one::<String>("fill")
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default(),
        left_specs,
        right_specs,
        budget,
        sort_cfg: common::sort_config(m, budget, threads, true, false),
        join_cfg: join::Config {
            budget,
            tmp_parent: tmp.clone(),
            cancel: Some(cli::cleanup::cancel_flag()),
        },
        bad: std::sync::Arc::clone(&bad),
        threads,
    };
    let out_path = m.get_one::<String>("output").map(PathBuf::from);
    let mut stats = Stats {
        threads,
        ..Stats::default()
    };
    let mut extra = PairStats::default();
    let mut out = Output::open("bjoin", out_path.as_deref())?;
    let mut parts = Value::Null;
    // One bar over both inputs (part directories: a spinner), advanced as they are read.
    let total = match (
        partitioned,
        record::input::known_size(left_name),
        record::input::known_size(right_name),
    ) {
        (false, Some(l), Some(r)) => Some(l + r),
        _ => None,
    };
    let progress = cli::Progress::new(flag(m, "progress"), total);
    progress.phase("join", total);
    if partitioned {
        let n = run_partitioned(
            &ctx,
            Path::new(left_name),
            Path::new(right_name),
            threads,
            &tmp,
            &mut out,
            &mut stats,
            &mut extra,
        )?;
        parts = json!(n);
    } else {
        let max_record = budget.max(extsort::RECORD_ALLOWANCE);
        let left = open_one(left_name, eol, max_record, format)?;
        let right = open_one(right_name, eol, max_record, format)?;
        let sizes = [
            record::input::known_size(left_name),
            record::input::known_size(right_name),
        ];
        let p = join_pair(&ctx, left, right, sizes, &mut out, true)?;
        add_pair(&mut stats, &p);
        extra = p;
    }
    progress.finish();
    stats.bytes_out = out.commit()?;
    drop(ctx);
    let bad = std::sync::Arc::into_inner(bad)
        .ok_or_else(|| Error::Runtime("internal error: bad records still shared".into()))?;
    stats.bad_records = bad.count.load(std::sync::atomic::Ordering::Relaxed);
    if let Some(o) = bad.out {
        o.into_inner()
            .map_err(|_| Error::Runtime("the bad-records file is unusable".into()))?
            .commit()?;
    }
    if stats.bad_records > 0 {
        cli::progress::suspend(|| eprintln!("bjoin: skipped {} bad records", stats.bad_records));
    }
    stats.extra.insert("strategy".into(), json!(extra.strategy));
    stats
        .extra
        .insert("build_side".into(), json!(extra.build.map(|s| s.name())));
    stats.extra.insert("type".into(), json!(jt.name()));
    stats.extra.insert("fallback".into(), json!(extra.fallback));
    stats.extra.insert("parts".into(), parts);
    common::emit_stats("bjoin", &stats, &stats_dest, started)
}

fn add_pair(stats: &mut Stats, p: &PairStats) {
    stats.records_in += p.join.left_records + p.join.right_records;
    stats.records_out += p.join.records_out;
    stats.bytes_in += p.bytes_in;
    stats.add_sort(&p.sort);
    stats.spill_runs += p.join.spill_runs;
    stats.spill_bytes += p.join.spill_bytes;
}

// ---------------------------------------------------------------------------------------
// Keys

/// extsort's view of one side's key order (stable: equal keys keep input order).
struct SortOrder(RecordOrder);

impl Order for SortOrder {
    #[inline]
    fn prefix(&self, item: &[u8]) -> extsort::Prefix {
        self.0.prefix(item)
    }
    #[inline]
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        self.0.compare(a, b)
    }
    #[inline]
    fn is_total(&self, p: &extsort::Prefix) -> bool {
        self.0.prefix_is_total(p)
    }
    #[inline]
    fn normalized(&self, item: &[u8], out: &mut Vec<u8>) -> bool {
        self.0.normalized(item, out)
    }
}

// ---------------------------------------------------------------------------------------
// Inputs

/// Open one input (an unreadable one is a usage error) framed for `format`.
fn open_one(name: &str, eol: u8, max_record: usize, format: Format) -> Result<common::Input> {
    let mut ins = Inputs::open(&[name.to_string()], eol, max_record)?;
    ins.set_csv(matches!(format, Format::Csv(_)));
    ins.take_all()
        .pop()
        .ok_or_else(|| Error::Runtime(format!("cannot open {name}")))
}

/// One input read record by record, as items of its side's order.
struct RecInput<'o> {
    input: common::Input,
    order: &'o RecordOrder,
    bad: &'o Bad,
    item: Vec<u8>,
    scratch: CsvScratch,
    line: u64,
    bytes: u64,
    count: u64,
}

impl<'o> RecInput<'o> {
    fn new(input: common::Input, order: &'o RecordOrder, bad: &'o Bad) -> Self {
        RecInput {
            input,
            order,
            bad,
            item: Vec::new(),
            scratch: CsvScratch::default(),
            line: 0,
            bytes: 0,
            count: 0,
        }
    }
}

impl join::Input for RecInput<'_> {
    fn advance(&mut self) -> join::Result<bool> {
        loop {
            self.line = self.input.line() + 1;
            let RecInput {
                input,
                order,
                bad,
                item,
                scratch,
                line,
                bytes,
                count,
            } = self;
            let rec = input
                .next_record()
                .map_err(|e| join::Error::Input(e.message().unwrap_or_default()))?;
            let Some(rec) = rec else {
                return Ok(false);
            };
            *bytes += rec.len() as u64 + 1;
            if order.format.extracts() {
                item.clear();
                if let Err(e) = order.encode(rec, item, scratch) {
                    if !bad.skip {
                        return Err(join::Error::Input(format!("{}:{line}: {e}", input.name)));
                    }
                    bad.record(rec)?;
                    continue;
                }
            }
            *count += 1;
            return Ok(true);
        }
    }

    fn current(&self) -> &[u8] {
        if self.order.format.extracts() {
            &self.item
        } else {
            self.input.last()
        }
    }

    fn at(&self) -> String {
        format!("{}:{}", self.input.name, self.line)
    }
}

/// `--skip-bad` and `--bad-records`: bad records (a CSV or JSON record whose key cannot be
/// read) are counted and, with a file, written there unchanged; shared by all part pairs.
struct Bad {
    skip: bool,
    eol: u8,
    count: std::sync::atomic::AtomicU64,
    out: Option<std::sync::Mutex<Output>>,
}

impl Bad {
    /// Bad records of a block (each with its terminator), `n` of them.
    fn records(&self, recs: &[u8], n: u64) -> join::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.count
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        if let Some(out) = &self.out {
            let mut o = out
                .lock()
                .map_err(|_| join::Error::Input("the bad-records file is unusable".into()))?;
            o.write_all(recs).map_err(|e| join::Error::Io {
                context: "cannot write the bad-records file".into(),
                source: e,
            })?;
        }
        Ok(())
    }

    fn record(&self, rec: &[u8]) -> join::Result<()> {
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(out) = &self.out {
            let mut o = out
                .lock()
                .map_err(|_| join::Error::Input("the bad-records file is unusable".into()))?;
            let werr = |e| join::Error::Io {
                context: "cannot write the bad-records file".into(),
                source: e,
            };
            o.write_all(rec).map_err(werr)?;
            o.write_all(&[self.eol]).map_err(werr)?;
        }
        Ok(())
    }
}

/// Push every remaining record of `input` into a sorter.
fn fill_sorter(sorter: &mut Sorter<SortOrder>, input: &mut dyn join::Input) -> Result<()> {
    while input.advance().map_err(join_error)? {
        sorter
            .push(input.current())
            .map_err(|e| match e {
                extsort::Error::TooLarge { len, budget } => Error::Runtime(format!(
                    "{}: a record of {len} bytes does not fit the memory budget of {budget} bytes (raise -S)",
                    input.at()
                )),
                e => Error::from(e),
            })?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The parallel probe

/// Probe `table` with `stream` on `ctx.threads` workers, output in input order, then write
/// what the build side owes. Returns the join's counters and the bytes of `stream` read.
fn probe_parallel<W: Write + Send>(
    ctx: &Ctx,
    keys: &JoinKeys,
    table: &HashTable,
    stream: common::Input,
    layout: &mut Layout<'_, W>,
) -> Result<(join::Stats, u64)> {
    use join::blocks::{CutError, Cutter, Framing};
    let side = table.side.other();
    let name = stream.name.clone();
    let line = stream.line() + 1;
    let (carry, reader, eof) = stream.into_parts();
    let framing = match ctx.format {
        Format::Csv(_) => Framing::Csv(ctx.eol),
        _ => Framing::Lines(ctx.eol),
    };
    // Blocks and outputs in flight within 48 MiB (the budget is the build side's);
    // BATCHKIT_BLOCK_BYTES: smaller blocks, for tests.
    let (mut limits, mut block_size) = join::parallel::Limits::within(48 << 20, ctx.threads);
    if let Some(b) = std::env::var("BATCHKIT_BLOCK_BYTES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&b| b >= 2)
    {
        block_size = b;
        limits.out_cap = 4 * b;
    }
    let max_record = ctx.budget.max(extsort::RECORD_ALLOWANCE);
    let mut cutter = Cutter::new(carry, reader, eof, framing, block_size, max_record, line);
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let mut next_block = || -> join::Result<Option<join::blocks::Block>> {
        let b = cutter.next_block().map_err(|e| match e {
            CutError::Io(e) => join::Error::Io {
                context: format!("{name}: read error"),
                source: e,
            },
            CutError::TooLong { line, limit } => join::Error::Input(format!(
                "{name}:{line}: record is longer than the memory budget of {limit} bytes (raise -S)"
            )),
        });
        bytes.store(cutter.bytes, std::sync::atomic::Ordering::Relaxed);
        b
    };
    let probe = BlockProbe {
        order: keys.order(side),
        framing,
        name: &name,
        skip: ctx.bad.skip,
        eol: ctx.bad.eol,
        layout: layout.with_out(()),
    };
    let mut on_note = |(recs, n): (Vec<u8>, u64)| ctx.bad.records(&recs, n);
    let mut probed = join::parallel::probe_blocks(
        keys,
        ctx.jt,
        table,
        &probe,
        &mut next_block,
        ctx.threads,
        limits,
        &mut layout.out,
        &mut on_note,
        &ctx.join_cfg,
    )
    .map_err(join_error)?;
    join::parallel::finish(ctx.jt, table, &mut probed, layout).map_err(join_error)?;
    Ok((
        probed.stats,
        bytes.load(std::sync::atomic::Ordering::Relaxed),
    ))
}

// ---------------------------------------------------------------------------------------
// Output layout

// ---------------------------------------------------------------------------------------
// One join

/// Sort `input` (with what `first` already read) and stream the result through a channel
/// from a thread of `scope`.
fn sort_side<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    sorter: Sorter<SortOrder>,
) -> (
    ChanInput,
    std::thread::ScopedJoinHandle<'scope, extsort::Result<extsort::Stats>>,
) {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(1);
    let handle = scope.spawn(move || {
        let emit = |item: &[u8], out: &mut Vec<u8>| {
            out.extend_from_slice(&(item.len() as u32).to_le_bytes());
            out.extend_from_slice(item);
        };
        let mut sink = |block: &[u8]| -> io::Result<()> {
            tx.send(block.to_vec())
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "join stopped"))
        };
        sorter.finish(&emit, &mut sink)
    });
    (ChanInput::new(rx), handle)
}

/// Join one pair of inputs into `out`, with the header first when `write_header`.
fn join_pair<W: Write + Send + ?Sized>(
    ctx: &Ctx,
    mut left: common::Input,
    mut right: common::Input,
    sizes: [Option<u64>; 2],
    out: &mut W,
    write_header: bool,
) -> Result<PairStats> {
    let mut headers: [Option<Vec<u8>>; 2] = [None, None];
    if ctx.header {
        headers[0] = left.next_record()?.map(<[u8]>::to_vec);
        headers[1] = right.next_record()?.map(<[u8]>::to_vec);
    }
    let hfields: Vec<Vec<Vec<u8>>> = headers
        .iter()
        .map(|h| {
            h.as_ref()
                .map(|h| common::split_header(h, ctx.format))
                .unwrap_or_default()
        })
        .collect();
    let resolve = |specs: &[KeySpec], hf: &[Vec<u8>]| -> Result<Vec<Key>> {
        let refs: Vec<&[u8]> = hf.iter().map(Vec::as_slice).collect();
        specs
            .iter()
            .map(|s| {
                Key::resolve(s, ctx.format, ctx.header.then_some(refs.as_slice()))
                    .map_err(Error::Usage)
            })
            .collect()
    };
    let lkeys = resolve(&ctx.left_specs, &hfields[0])?;
    let rkeys = resolve(&ctx.right_specs, &hfields[1])?;
    let keys = JoinKeys::new(
        RecordOrder::new(ctx.format, lkeys, KeyOpts::default(), true),
        RecordOrder::new(ctx.format, rkeys, KeyOpts::default(), true),
    );
    let mut layout = Layout::new(out, &keys, ctx.jt, ctx.format, ctx.eol, &ctx.fill);
    if ctx.header {
        for (i, h) in hfields.iter().enumerate() {
            if headers[i].is_some() {
                layout.header_width(i, h);
            }
        }
        if write_header {
            layout
                .header(
                    &hfields[0],
                    &hfields[1],
                    headers[0].as_deref().unwrap_or_default(),
                )
                .map_err(|e| Error::io("write error", e))?;
        }
    }
    let mut ps = PairStats::default();
    let hashable = keys.hashable();
    if ctx.strategy == Strategy::Hash && !hashable {
        return Err(Error::Usage(
            "human-numeric keys (h) cannot be hashed; use --strategy merge".into(),
        ));
    }
    let use_hash = match ctx.strategy {
        Strategy::Hash => true,
        Strategy::Merge => false,
        Strategy::Auto => !ctx.sorted && hashable,
    };
    let mut fallback_table = None;
    // The inputs, raw until a strategy reads them (the parallel probe cuts its input in
    // blocks itself).
    let mut raw = [Some(left), Some(right)];
    let mut recs: [Option<RecInput>; 2] = [None, None];
    if use_hash {
        let build = ctx.build.unwrap_or(match sizes {
            [Some(l), Some(r)] if l < r => Side::Left,
            _ => Side::Right,
        });
        let (bi, si) = match build {
            Side::Left => (0, 1),
            Side::Right => (1, 0),
        };
        let too_big =
            ctx.strategy == Strategy::Auto && sizes[bi].is_some_and(|s| s as usize > ctx.budget);
        if let Some(b_raw) = raw[bi].take_if(|_| !too_big) {
            let b_in = recs[bi].insert(RecInput::new(b_raw, keys.order(build), &ctx.bad));
            cli::progress::set_phase("build", sizes[bi], 0);
            let built = HashTable::build(&keys, build, b_in, ctx.budget, &ctx.join_cfg)
                .map_err(join_error)?;
            match built {
                Built::Fits(table) => {
                    let Some(s_raw) = raw[si].take() else {
                        return Err(Error::Runtime("internal error: input missing".into()));
                    };
                    ps.strategy = "hash";
                    ps.build = Some(build);
                    cli::progress::set_phase("probe", sizes[si], 0);
                    if ctx.threads == 0 {
                        let mut s_in = RecInput::new(s_raw, keys.order(build.other()), &ctx.bad);
                        ps.join = join::hash_join(
                            &keys,
                            ctx.jt,
                            &table,
                            &mut s_in,
                            &mut layout,
                            &ctx.join_cfg,
                        )
                        .map_err(join_error)?;
                        recs[si] = Some(s_in);
                    } else {
                        let (stats, bytes) =
                            probe_parallel(ctx, &keys, &table, s_raw, &mut layout)?;
                        ps.join = stats;
                        ps.bytes_in = bytes + recs[bi].as_ref().map_or(0, |r| r.bytes);
                        return Ok(ps);
                    }
                    return Ok(ps.read(recs[0].as_ref(), recs[1].as_ref()));
                }
                Built::Overflow(table) => {
                    if ctx.strategy == Strategy::Hash {
                        return Err(Error::Runtime(format!(
                            "the {} input ({}) does not fit the memory budget of {} bytes for a hash join (raise -S, or use --strategy merge or auto)",
                            build.name(),
                            b_in.input.name,
                            ctx.budget
                        )));
                    }
                    ps.fallback = true;
                    fallback_table = Some(table);
                }
            }
        }
    }
    let mut take = |i: usize, side: Side| -> Result<RecInput> {
        match (recs[i].take(), raw[i].take()) {
            (Some(r), _) => Ok(r),
            (None, Some(input)) => Ok(RecInput::new(input, keys.order(side), &ctx.bad)),
            (None, None) => Err(Error::Runtime("internal error: input missing".into())),
        }
    };
    let mut li = take(0, Side::Left)?;
    let mut ri = take(1, Side::Right)?;
    let both = match sizes {
        [Some(l), Some(r)] => Some(l + r),
        _ => None,
    };
    // Merge join.
    if ctx.sorted {
        cli::progress::set_phase("merge", both, 0);
        ps.join = join::merge_join(
            &keys,
            ctx.jt,
            &mut li,
            &mut ri,
            &mut layout,
            &ctx.join_cfg,
            true,
        )
        .map_err(join_error)?;
        ps.strategy = "merge-sorted";
        return Ok(ps.read(Some(&li), Some(&ri)));
    }
    // Both sides through the external sort (stable: equal keys keep their input order);
    // the sorts get 4/5 of the budget, the buffered group of equal keys the rest.
    let mut scfg = ctx.sort_cfg.clone();
    scfg.budget = (ctx.budget / 5 * 2).max(1);
    // A hash join that overflowed has read part of its build side already.
    cli::progress::set_phase("sort", both, li.bytes + ri.bytes);
    let mut sorters = Vec::with_capacity(2);
    for (side, input) in [
        (Side::Left, &mut li as &mut dyn join::Input),
        (Side::Right, &mut ri),
    ] {
        let mut s = Sorter::new(SortOrder(keys.order(side).clone()), scfg.clone())?;
        // What the hash join had built goes first (it was read first), then is freed.
        if let Some(t) = fallback_table.take_if(|t| t.side == side) {
            for item in t.items() {
                s.push(item)?;
            }
        }
        fill_sorter(&mut s, input)?;
        sorters.push(s);
    }
    let mut jcfg = ctx.join_cfg.clone();
    jcfg.budget = (ctx.budget / 5).max(1);
    let right_sorter = sorters.pop();
    let left_sorter = sorters.pop();
    let (Some(ls), Some(rs)) = (left_sorter, right_sorter) else {
        return Err(Error::Runtime("internal error: sorters missing".into()));
    };
    cli::progress::set_phase("merge", None, 0);
    let (joined, lstats, rstats) = std::thread::scope(|scope| {
        let (mut lc, lh) = sort_side(scope, ls);
        let (mut rc, rh) = sort_side(scope, rs);
        let joined = join::merge_join(&keys, ctx.jt, &mut lc, &mut rc, &mut layout, &jcfg, false);
        // Stop the sorts if the join stopped early.
        drop(lc);
        drop(rc);
        let lstats = lh.join();
        let rstats = rh.join();
        (joined, lstats, rstats)
    });
    let joined = joined.map_err(join_error)?;
    for s in [lstats, rstats] {
        match s {
            Ok(Ok(s)) => {
                ps.sort.spill_runs += s.spill_runs;
                ps.sort.spill_bytes += s.spill_bytes;
                ps.sort.merge_passes += s.merge_passes;
            }
            Ok(Err(e)) => return Err(Error::from(e)),
            Err(_) => return Err(Error::Runtime("a sort thread failed".into())),
        }
    }
    ps.join = joined;
    ps.strategy = "merge";
    Ok(ps.read(Some(&li), Some(&ri)))
}

// ---------------------------------------------------------------------------------------
// Partition-wise

#[allow(clippy::too_many_arguments)]
fn run_partitioned(
    ctx: &Ctx,
    ldir: &Path,
    rdir: &Path,
    threads: usize,
    tmp: &Path,
    out: &mut Output,
    stats: &mut Stats,
    extra: &mut PairStats,
) -> Result<u64> {
    let read = |d: &Path| {
        if !d.is_dir() {
            return Err(Error::Usage(format!(
                "{}: not a directory (--partitioned takes two directories)",
                d.display()
            )));
        }
        partition::Manifest::read(d).map_err(|e| Error::Runtime(e.to_string()))
    };
    let (lm, rm) = (read(ldir)?, read(rdir)?);
    let n = partition::copartitioned(&lm, &rm).map_err(Error::Runtime)?;
    let texts = |s: &[KeySpec]| s.iter().map(|k| k.text.clone()).collect::<Vec<_>>();
    for (m, want) in [
        (&lm, texts(&ctx.left_specs)),
        (&rm, texts(&ctx.right_specs)),
    ] {
        let got = m.partitioning.key_or_default();
        if got != want {
            return Err(Error::Runtime(format!(
                "{} is partitioned by key {got:?}, but the join key of that side is {want:?}",
                m.dir.display()
            )));
        }
    }
    let eol = ctx.eol;
    let max_record = ctx.budget.max(extsort::RECORD_ALLOWANCE);
    let threads = threads.clamp(1, n.max(1) as usize);
    // Each pair gets its share of the memory budget and one sort thread.
    let pctx_budget = (ctx.budget / threads).max(1);
    let pctx = Ctx {
        jt: ctx.jt,
        strategy: ctx.strategy,
        build: ctx.build,
        sorted: ctx.sorted,
        format: ctx.format,
        eol,
        header: ctx.header,
        fill: ctx.fill.clone(),
        left_specs: ctx.left_specs.clone(),
        right_specs: ctx.right_specs.clone(),
        budget: pctx_budget,
        sort_cfg: extsort::Config {
            budget: pctx_budget,
            threads: 1,
            ..ctx.sort_cfg.clone()
        },
        join_cfg: join::Config {
            budget: pctx_budget,
            ..ctx.join_cfg.clone()
        },
        bad: std::sync::Arc::clone(&ctx.bad),
        threads: 0,
    };
    let job = |i: usize| -> Result<(std::fs::File, PairStats)> {
        let part = |m: &partition::Manifest| {
            m.part_path(i as u64)
                .map_err(|e| Error::Runtime(e.to_string()))
        };
        let (lp, rp) = (part(&lm)?, part(&rm)?);
        let names = [lp.display().to_string(), rp.display().to_string()];
        let left = open_one(&names[0], eol, max_record, ctx.format)?;
        let right = open_one(&names[1], eol, max_record, ctx.format)?;
        let sizes = [
            record::input::known_size(&names[0]),
            record::input::known_size(&names[1]),
        ];
        let file = tempfile::tempfile_in(tmp).map_err(|e| {
            Error::io(
                format!("cannot create a temporary file in {}", tmp.display()),
                e,
            )
        })?;
        let mut w = io::BufWriter::with_capacity(1 << 20, file);
        let ps = join_pair(&pctx, left, right, sizes, &mut w, i == 0)?;
        let file = w
            .into_inner()
            .map_err(|e| Error::io("cannot write a temporary file", e.into_error()))?;
        Ok((file, ps))
    };
    let mut consume = |_i: usize, (mut file, ps): (std::fs::File, PairStats)| -> Result<()> {
        use std::io::Seek;
        file.seek(io::SeekFrom::Start(0))
            .map_err(|e| Error::io("cannot read a temporary file", e))?;
        io::copy(&mut file, out).map_err(|e| Error::io("write error", e))?;
        add_pair(stats, &ps);
        if extra.strategy.is_empty() || extra.strategy == ps.strategy {
            extra.strategy = ps.strategy;
        } else {
            extra.strategy = "mixed";
        }
        extra.build = extra.build.or(ps.build);
        extra.fallback |= ps.fallback;
        Ok(())
    };
    join::run_ordered(n as usize, threads, &job, &mut consume)?;
    if extra.strategy.is_empty() {
        extra.strategy = "none";
    }
    Ok(n)
}
