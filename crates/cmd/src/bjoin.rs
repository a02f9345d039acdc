//! bjoin: joins of two inputs by key. Orchestration only: the merge join, hash join and
//! partition-wise driver live in `join`, the external sort in `extsort`, records and keys in
//! `record`. This module picks the strategy, wires inputs and sorts to the engine and
//! formats joined records (the GNU join layout).

use clap::{Arg, ArgAction, ArgMatches, Command};
use cli::bad::SharedBad;
use cli::input;
use cli::setup;
use cli::{args, Error, Output, Result, Stats};
use join::{JoinKeys, JoinType, Layout, PairStats, Side, Strategy};
use record::{Format, Key, KeyOpts, KeySpec, RecordOrder};
use serde_json::{json, Value};
use std::io::{self, Write};
use std::path::Path;
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
            Arg::new(cli::bad::SKIP_BAD)
                .long("skip-bad")
                .action(ArgAction::SetTrue)
                .help("Skip records whose key cannot be read (malformed CSV or JSON); report how many on stderr"),
        )
        .arg(
            Arg::new(cli::bad::BAD_RECORDS)
                .long("bad-records")
                .value_name("FILE")
                .help("With --skip-bad (implied): write skipped records to FILE, unchanged"),
        )
        .args(args::record_options())
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
    bad: std::sync::Arc<SharedBad>,
    /// Workers of the parallel probe; 0: probe on the calling thread (part pairs, which
    /// run in parallel already).
    threads: usize,
}

fn specs(m: &ArgMatches, id: &str) -> Result<Vec<KeySpec>> {
    m.get_many::<String>(id)
        .map(|v| v.map(|s| KeySpec::parse(s).map_err(Error::from)).collect())
        .unwrap_or_else(|| Ok(Vec::new()))
}

/// The options of one join from the command line (`partitioned`: the inputs are
/// directories, so their names say nothing of the format).
fn ctx_of(m: &ArgMatches, names: &[String], partitioned: bool) -> Result<Ctx> {
    let jt = m
        .get_one::<String>("type")
        .and_then(|s| JoinType::parse(s))
        .unwrap_or(JoinType::Inner);
    let strategy = match m.get_one::<String>("strategy").map(String::as_str) {
        Some("hash") => Strategy::Hash,
        Some("merge") => Strategy::Merge,
        _ => Strategy::Auto,
    };
    let sorted = m.get_flag("sorted");
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
    let (left_specs, right_specs) = join::pair_specs(
        &specs(m, args::KEY)?,
        specs(m, "left-key")?,
        specs(m, "right-key")?,
    )
    .map_err(Error::Usage)?;
    let eol = args::eol_of(m);
    let format_names: Vec<String> = if partitioned {
        Vec::new()
    } else {
        names.to_vec()
    };
    let format = setup::format_of(m, &format_names, false)?;
    let budget = args::budget_of(m)?;
    let threads = args::threads_of(m);
    let tmp = args::tmp_of(m);
    let bad = std::sync::Arc::new(SharedBad::new("bjoin", m, eol)?);
    Ok(Ctx {
        jt,
        strategy,
        build,
        sorted,
        format,
        eol,
        header: args::header_of(m) && format != Format::Jsonl,
        fill: m
            .get_one::<String>("fill")
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default(),
        left_specs,
        right_specs,
        budget,
        sort_cfg: setup::sort_config(m, budget, threads, (true, false), Default::default()),
        join_cfg: join::Config {
            budget,
            tmp_parent: tmp.clone(),
            cancel: Some(cli::cleanup::cancel_flag()),
        },
        bad,
        threads,
    })
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
    let partitioned = m.get_flag("partitioned");
    if !partitioned && left_name == "-" && right_name == "-" {
        return Err(Error::Usage(
            "only one of LEFT and RIGHT can be standard input".into(),
        ));
    }
    let ctx = ctx_of(m, &names, partitioned)?;
    let (jt, eol, format, budget, threads) = (ctx.jt, ctx.eol, ctx.format, ctx.budget, ctx.threads);
    let stats_dest = args::stats_of(m);
    let tmp = args::tmp_of(m);
    let bad = std::sync::Arc::clone(&ctx.bad);
    let out_path = args::output_of(m);
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
    let progress = cli::Progress::new(args::progress_of(m), total);
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
        let left = open_input(left_name, eol, max_record, format)?;
        let right = open_input(right_name, eol, max_record, format)?;
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
    stats.bad_records = bad.finish()?;
    stats.extra.insert("strategy".into(), json!(extra.strategy));
    stats
        .extra
        .insert("build_side".into(), json!(extra.build.map(|s| s.name())));
    stats.extra.insert("type".into(), json!(jt.name()));
    stats.extra.insert("fallback".into(), json!(extra.fallback));
    stats.extra.insert("parts".into(), parts);
    setup::emit_stats("bjoin", &stats, &stats_dest, started)
}

fn add_pair(stats: &mut Stats, p: &PairStats) {
    stats.records_in += p.join.left_records + p.join.right_records;
    stats.records_out += p.join.records_out;
    stats.bytes_in += p.bytes_in;
    stats.add_sort(&p.sort);
    stats.spill_runs += p.join.spill_runs;
    stats.spill_bytes += p.join.spill_bytes;
}

/// Join one pair of inputs into `out`, with the header first when `write_header`.
fn join_pair<W: Write + Send + ?Sized>(
    ctx: &Ctx,
    mut left: input::Input,
    mut right: input::Input,
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
                .map(|h| record::split_header(h, ctx.format))
                .unwrap_or_default()
        })
        .collect();
    let resolve = |specs: &[KeySpec], hf: &[Vec<u8>]| -> Result<Vec<Key>> {
        let header = ctx.header.then_some(hf);
        record::resolve_keys(specs, &KeyOpts::default(), ctx.format, header).map_err(Error::Usage)
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
    let phase = |name: &'static str, total: Option<u64>, done: u64| {
        cli::progress::set_phase(name, total, done);
    };
    let plan = join::Plan {
        jt: ctx.jt,
        strategy: ctx.strategy,
        build: ctx.build,
        sorted: ctx.sorted,
        format: ctx.format,
        eol: ctx.eol,
        budget: ctx.budget,
        sort_cfg: ctx.sort_cfg.clone(),
        join_cfg: ctx.join_cfg.clone(),
        bad: &*ctx.bad,
        threads: ctx.threads,
        phase: &phase,
    };
    plan.join(&keys, left, right, sizes, &mut layout)
        .map_err(Error::from)
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
        Ok(partition::Manifest::read(d)?)
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
        let part = |m: &partition::Manifest| m.part_path(i as u64).map_err(Error::from);
        let (lp, rp) = (part(&lm)?, part(&rm)?);
        let names = [lp.display().to_string(), rp.display().to_string()];
        let left = open_input(&names[0], eol, max_record, ctx.format)?;
        let right = open_input(&names[1], eol, max_record, ctx.format)?;
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

/// Open one input framed for `format` (an unreadable one is a usage error).
fn open_input(name: &str, eol: u8, max_record: usize, format: Format) -> Result<input::Input> {
    input::Input::open_one(name, eol, max_record, matches!(format, Format::Csv(_)))
}
