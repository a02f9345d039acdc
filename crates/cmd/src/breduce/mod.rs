//! breduce: group-by aggregation. Streaming mode over key-grouped input in constant memory
//! per group; `--hash` over unsorted input, groups emitted sorted by key.

use agg::engine::aggs::{self, Aggs};
use agg::engine::hash;
use agg::Spec;
use clap::{Arg, ArgAction, ArgMatches, Command};
use cli::bad::BadRecords;
use cli::input;
use cli::setup::{self, Setup};
use cli::{args, Error, Output, Progress, Result, Stats};
use record::{CsvScratch, Format, KeyOpts, RecordOrder};
use std::io::Write;
use std::time::Instant;

mod general;
use general::GroupWriter;

const ABOUT: &str = "Group records by key and aggregate: streaming over sorted input, or --hash";

const AFTER_HELP: &str = "\
AGG := count | OP:FIELD, OP one of sum min max mean first last countdistinct distinct collect
median q<P> (q90: 90th percentile) var stddev pvar pstdev; GNU datamash's names work too
(countunique unique collapse svar sstdev). FIELD is a field number, a column name with
--header, or a JSON path for JSON lines. Arguments that are not AGGs are input files (write
./count for a file named like an aggregate).

Output: one record per group: the key field(s), then one column per AGG (TSV).
Integers and plain decimals are summed exactly at the group's largest scale (0.10 + 0.20 =
0.30), up to 38 digits at any scale (beyond, for a value or a total: an error, never a
wrong total, never a float). A group with other numbers
(exponents, inf, nan) sums every value's double exactly rounded, as Python's math.fsum: the
same bytes for any -j, -S and spill order (inf + -inf is nan; a running sum past 1.8e308 is
an error), printed in shortest round-trip form; mean is that sum over the count. min/max compare numerically
and print the value as it stands; median of an even count is the mean of the two middle
values; q<P> interpolates linearly between closest ranks; var/stddev are the sample forms
(nan for one value), pvar/pstdev the population ones; distinct lists unique values sorted
bytewise and collect all values in input order, both joined by ','.

Default mode streams key-grouped input (as bsort or bshuffle write it) and stops at a key
that goes backwards: `breduce: FILE:LINE: input is not sorted by key; sort it with bsort or
use --hash`. --hash accepts unsorted input and emits groups sorted by key.

The default key is field 1, the text up to the first TAB (Hadoop Streaming): a line with no
TAB is a key with an empty value, and so is `key<TAB>`. Empty input gives empty output and
status 0; standard input is always read to the end. A value that is not a number where one
is needed stops breduce with `breduce: FILE:LINE: field N is \"...\": not a number`, status 1,
and no -o file; with --skip-bad such records are left out whole (no aggregate sees them),
counted on stderr and in --stats, and --bad-records FILE keeps them untouched.

A directory input (a bshuffle -o or bsplit output; it must be the only input) is read part
by part as its _SUCCESS manifest lists them; without _SUCCESS it is refused. When the
manifest says the parts are hash-partitioned and sorted by the same -k (bshuffle -o),
streaming mode takes each part's keys as its own: the output is in part order, each part's
groups in key order. Other directories need --hash. Parts holding partial states (bshuffle
--combine) need --merge with the same AGGs.

Two-phase aggregation: --partial writes one partial line per group, the key(s) then one
state per AGG (a count, an exact sum such as 100.00, `=value` for first/last/min/max, lists
with their values' TABs, newlines, commas and backslashes escaped), and --merge reads such
lines (from several mappers, or bshuffle --combine) and finishes them: `breduce --partial A
| breduce --merge A` equals `breduce A`. Give --merge the same -k and AGGs (the AGGs' fields
are not read again); --merge input is always TSV and is sorted by key unless --hash.
median and quantiles need every value and cannot be partial (a usage error).

Examples:
  bmap --words corpus.txt | bshuffle | breduce count
  breduce --hash sum:2 count orders.tsv
  bsort -t $'\\t' -k1,1 sales.tsv | breduce sum:3 mean:3 max:3
  breduce --header -k region --hash sum:amount q90:amount sales.tsv
  breduce --hash --partial sum:2 count day1.tsv > p1; breduce --hash --partial sum:2 count day2.tsv > p2
  cat p1 p2 | breduce --hash --merge sum:2 count
  bshuffle --combine sum:2 --combine count in.tsv | breduce --merge sum:2 count
  bshuffle -n 8 -o shuffled/ in.tsv && breduce sum:2 count shuffled/";

/// The clap definition: the one source of `--help` and `man/breduce.1`.
pub fn command() -> Command {
    Command::new("breduce")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .after_help(AFTER_HELP)
        .arg(args::key(
            "Group by this key (default: field 1); repeatable",
        ))
        .arg(
            Arg::new("hash")
                .long("hash")
                .action(ArgAction::SetTrue)
                .help(
                    "Accept unsorted input: aggregate in a hash table, emit groups sorted by key",
                ),
        )
        .arg(
            Arg::new("partial")
                .long("partial")
                .action(ArgAction::SetTrue)
                .conflicts_with("merge")
                .help("Write partial states (for breduce --merge) instead of results"),
        )
        .arg(
            Arg::new("merge")
                .long("merge")
                .action(ArgAction::SetTrue)
                .help("Read partial states (from --partial or bshuffle --combine) and finish them"),
        )
        .args(args::record_options())
        .arg(args::output())
        .args(cli::bad::args())
        .args(args::resources())
        .args(args::observe())
        .arg(
            Arg::new("aggs")
                .value_name("AGG|FILE")
                .num_args(1..)
                .required(true)
                .action(ArgAction::Append)
                .help("Aggregates (count, sum:2, q90:price, ...) then input files"),
        )
}

/// The binary's entry point.
pub fn main() -> ! {
    cli::main("breduce", command(), run)
}

/// A directory input: a bsplit/bshuffle output, read part by part as its `_SUCCESS`
/// manifest lists them.
struct PartsDir {
    name: String,
    parts: Vec<String>,
    /// Hash-partitioned by these keys (each key's records in one part).
    hashed_by: Option<Vec<String>>,
    /// Each part sorted by these keys.
    sorted_by: Option<Vec<String>>,
    /// The parts hold partial states of these aggregates (bshuffle --combine).
    combine: Option<Vec<String>>,
}

fn read_parts_dir(dir: &str) -> Result<PartsDir> {
    let path = std::path::Path::new(dir);
    if !path.join("_SUCCESS").is_file() {
        return Err(Error::Usage(format!(
            "{dir}: a directory without _SUCCESS (an unfinished or foreign output); give its files instead"
        )));
    }
    let m = partition::Manifest::read(path).map_err(|e| match e.is_damage() {
        true => Error::Runtime(e.to_string()),
        false => Error::Usage(e.to_string()),
    })?;
    Ok(PartsDir {
        name: dir.to_string(),
        parts: m
            .part_paths()
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect(),
        hashed_by: m.partitioning.hashed_by().map(<[String]>::to_vec),
        sorted_by: m.sorted_by,
        combine: m.combine,
    })
}

fn run(m: &ArgMatches) -> Result<()> {
    let started = Instant::now();
    let (specs, mut files) = aggs_and_files(m)?;
    let merge = m.get_flag("merge");
    let dir = dir_input(&mut files, &specs, merge)?;
    let what = if m.get_flag("partial") {
        aggs::require_combinable(&specs, "--partial")?;
        aggs::Output::Partial
    } else {
        aggs::Output::Final
    };
    if merge {
        aggs::require_combinable(&specs, "--merge")?;
    }
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
    } = setup::setup_with_files(m, &files, KeyOpts::default(), Some("1"), merge)?;
    let fresh_parts = fresh_parts(dir.as_ref(), &key_texts, m.get_flag("hash"))?;
    let header_fields = header.as_ref().map(|h| {
        let read_as = if merge {
            Format::Text(record::FieldSplit::Char(b'\t'))
        } else {
            format
        };
        record::split_header(h, read_as)
    });
    // --merge reads partial lines: items built from their key columns, compared as the
    // keys were (same -k flags), whatever the original format.
    let order = if merge {
        RecordOrder::new(Format::Jsonl, keys, KeyOpts::default(), true)
    } else {
        RecordOrder::new(format, keys, KeyOpts::default(), true)
    };
    let mut aggs = Aggs::new(specs, format, header_fields.as_deref(), merge)?;
    let mut bad = BadRecords::new("breduce", m, eol)?;
    let skipping = bad.skipping();
    let out_path = args::output_of(m);
    let mut stats = Stats {
        threads,
        ..Stats::default()
    };
    let progress = Progress::new(args::progress_of(m), inputs.total_size());
    let mut out = GroupWriter {
        out: Output::open("breduce", out_path.as_deref())?,
        line: Vec::new(),
        groups: 0,
        what,
        eol,
    };
    if let (Some(h), Some(fields)) = (&header, &header_fields) {
        let line = if merge {
            // The partial lines' header already names the output columns.
            let mut l = h.clone();
            l.push(eol);
            l
        } else {
            aggs.header(&order, fields, eol)
        };
        out.out
            .write_all(&line)
            .map_err(|e| Error::io("write error", e))?;
    }
    // The Hadoop Streaming key (one whole field, plain bytes) is found with the values'
    // fields in one scan of the record, and compared as bytes.
    let plain = if merge { None } else { order.plain_field() };
    if let Some((_, f)) = plain {
        aggs.also_scan(f);
    }
    // The usual case — delimited text, one plain key field, no --header or --skip-bad —
    // reads in blocks on a thread of its own and aggregates on -j threads, with the same
    // bytes for any -j (see agg::engine::hash); everything else takes the general path below.
    let block_path = match plain {
        Some((_, f)) if !skipping && header.is_none() => Some(hash::Plan {
            order: &order,
            aggs: &aggs,
            field: f,
            eol,
            threads,
            budget,
            cfg: setup::sort_config(m, budget / 2, threads, (true, false), Default::default()),
        }),
        _ => None,
    };
    if let Some(plan) = &block_path {
        let how = (m.get_flag("hash"), threads, fresh_parts);
        blocks(plan, &mut inputs, how, &mut out, &mut stats, eol, budget)?;
    } else {
        let progress = &progress;
        let r = general::Run {
            order: &order,
            plain,
            records: general::Records {
                order: &order,
                merge,
                skipping,
                scratch: CsvScratch::default(),
            },
            progress,
            bad: &mut bad,
            out: &mut out,
            stats: &mut stats,
        };
        if m.get_flag("hash") {
            let cfg = setup::sort_config(m, budget / 2, threads, (true, false), Default::default());
            general::hash(r, &mut inputs, &mut aggs, budget, cfg)?;
        } else {
            general::stream(r, &mut inputs, &mut aggs, fresh_parts)?;
        }
    }
    stats.bytes_in = inputs.bytes;
    stats.records_out = out.groups;
    stats.bad_records = bad.finish()?;
    stats.bytes_out = out.out.commit()?;
    progress.finish();
    setup::emit_stats("breduce", &stats, &stats_dest, started)
}

/// The positionals: AGGs, then files.
fn aggs_and_files(m: &ArgMatches) -> Result<(Vec<Spec>, Vec<String>)> {
    let mut specs = Vec::new();
    let mut files: Vec<String> = Vec::new();
    for a in m.get_many::<String>("aggs").into_iter().flatten() {
        match Spec::parse(a) {
            Some(s) if files.is_empty() => specs.push(s),
            _ => files.push(a.clone()),
        }
    }
    if specs.is_empty() {
        // Say what the first positional is not, rather than that nothing was given
        // (`q101:2` is an aggregate's shape with a bad percentile).
        let first = files.first().map_or("", String::as_str);
        return Err(Error::Usage(if std::path::Path::new(first).exists() {
            format!("no aggregate before the file '{first}' (count, sum:FIELD, ...)")
        } else {
            format!(
                "'{first}' is not an aggregate (count, or OP:FIELD with OP one of sum min max \
                 mean first last countdistinct distinct collect median q<P> var stddev, \
                 P from 0 to 100) nor a file"
            )
        }));
    }
    Ok((specs, files))
}

/// A directory input (bsplit/bshuffle output) is read part by part, as its manifest says:
/// `files` become its parts. Its partial states must be those of `specs`, read by --merge.
fn dir_input(files: &mut Vec<String>, specs: &[Spec], merge: bool) -> Result<Option<PartsDir>> {
    let dir = match files.iter().position(|f| std::path::Path::new(f).is_dir()) {
        Some(i) if files.len() > 1 => {
            return Err(Error::Usage(format!(
                "{}: a directory must be the only input",
                files[i]
            )))
        }
        Some(_) => Some(read_parts_dir(&files[0])?),
        None => None,
    };
    if let Some(d) = &dir {
        *files = d.parts.clone();
        let texts: Vec<&str> = specs.iter().map(|s| s.text.as_str()).collect();
        match &d.combine {
            Some(c) if !merge => {
                return Err(Error::Usage(format!(
                "{}: its parts hold partial states of {} (bshuffle --combine): use breduce --merge",
                d.name,
                c.join(" ")
            )))
            }
            Some(c) if *c != texts => {
                return Err(Error::Usage(format!(
                    "{}: its parts hold partial states of {}, not of {}",
                    d.name,
                    c.join(" "),
                    texts.join(" ")
                )))
            }
            _ => {}
        }
    }
    Ok(dir)
}

/// Whether the parts of a directory are hash-partitioned and sorted by our key, so hold
/// disjoint key ranges: streaming restarts its order check at each part (the output is in
/// part order). Streaming other parts is an error; `--hash` takes any.
fn fresh_parts(dir: Option<&PartsDir>, key_texts: &[String], hash: bool) -> Result<bool> {
    let mut fresh_parts = false;
    if let Some(d) = dir {
        let ours = if key_texts.is_empty() {
            vec!["1".to_string()]
        } else {
            key_texts.to_vec()
        };
        let trusted = d.hashed_by.as_ref() == Some(&ours) && d.sorted_by.as_ref() == Some(&ours);
        if !hash && !trusted {
            return Err(Error::Usage(format!(
                "{}: its _SUCCESS does not say its parts are hash-partitioned and sorted by -k {}; use --hash",
                d.name,
                ours.join(" -k ")
            )));
        }
        fresh_parts = trusted;
    }
    Ok(fresh_parts)
}

/// The block engine (`agg::engine::hash`): `--hash` (`by_hash`), or streaming on `threads`.
fn blocks(
    plan: &hash::Plan,
    inputs: &mut cli::Inputs,
    (by_hash, threads, fresh_parts): (bool, usize, bool),
    out: &mut GroupWriter,
    stats: &mut Stats,
    eol: u8,
    budget: usize,
) -> Result<()> {
    let list = inputs.take_all();
    let names: Vec<String> = list.iter().map(|i| i.name.clone()).collect();
    let max_record = budget.max(extsort::RECORD_ALLOWANCE);
    // The engine's threads take blocks cut by our input layer.
    let read = move |give: &mut dyn FnMut(std::sync::Arc<input::Block>)| {
        input::read_blocks(list, eol, max_record, give).map_err(engine_error)
    };
    let mut counts = agg::engine::Counts::default();
    inputs.bytes += if by_hash {
        hash::run(plan, names, read, out, &mut counts)?
    } else if threads > 1 {
        hash::stream_parallel(plan, names, read, out, &mut counts, fresh_parts)?
    } else {
        hash::stream(plan, names, read, out, &mut counts, fresh_parts)?
    };
    stats.records_in += counts.records_in;
    if let Some(s) = &counts.sort {
        stats.add_sort(s);
    }
    Ok(())
}

/// Our input layer's error as the engine's (read errors name their file already).
fn engine_error(e: Error) -> agg::engine::Error {
    match e {
        Error::Usage(m) => agg::engine::Error::Usage(m),
        Error::Runtime(m) => agg::engine::Error::Data(m),
        Error::Io(context, e) => agg::engine::Error::Io(context, e),
        Error::Exit(c) => agg::engine::Error::Exit(c),
    }
}
