//! bshuffle: the shuffle-and-sort phase of MapReduce. Records go to
//! `partition(key) = xxh3_64(key) mod N`, each partition sorted by key and stable, in one
//! external sort whose items carry their partition number in front.

use agg::engine::aggs::{self, Aggs};
use clap::{Arg, ArgAction, ArgMatches, Command};
use cli::bad::BadRecords;
use cli::input;
use cli::setup::{self, Setup};
use cli::{args, Error, Output, Progress, Result, Stats};
use extsort::Sorter;
use partition::{part_name, Cut, DirCommit, HeavyHitters, PartInfo, PartWriter};
use record::shuffle::{split, ShuffleOrder, PART};
use record::Format;
use record::{CsvScratch, KeyOpts, RecordOrder};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

mod combine;

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
            Arg::new(args::OUTPUT)
                .short('o')
                .long("output")
                .value_name("DIR")
                .help("Write part files and _SUCCESS to DIR (staged, moved into place whole)"),
        )
        .arg(
            Arg::new("partition")
                .long("partition")
                .value_name("I/N")
                .conflicts_with(args::OUTPUT)
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
        .args(args::record_options())
        .args(cli::bad::args())
        .args(args::resources())
        .arg(args::compress_temp())
        .args(args::observe())
        .arg(args::files())
}

/// The binary's entry point.
pub fn main() -> ! {
    cli::main("bshuffle", command(), run)
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

/// Which records a run keeps: partition `p` of `n` for each, only `share`'s with
/// `--partition I/N`.
#[derive(Clone, Copy)]
pub(crate) struct Route {
    pub n: u64,
    pub share: Option<u64>,
}

impl Route {
    /// Whether partition `p` is another run's (`--partition`).
    pub fn skips(&self, p: u32) -> bool {
        matches!(self.share, Some(i) if u64::from(p) != i)
    }
}

/// `-n`, `--partition` and `-o`: the route and where the stream goes.
fn dest_of(m: &ArgMatches) -> Result<(Route, Dest)> {
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
    let dest = match args::output_of(m) {
        Some(d) => Dest::Dir(d, m.get_flag("force")),
        None if share.is_some() || n == 1 => Dest::Stdout,
        None => {
            return Err(Error::Usage(format!(
                "-n {n} needs -o DIR (or --partition I/{n} for one partition on stdout)"
            )))
        }
    };
    let share = share.map(|(i, _)| i);
    Ok((Route { n, share }, dest))
}

fn run(m: &ArgMatches) -> Result<()> {
    let started = Instant::now();
    let (route, dest) = dest_of(m)?;
    let n = route.n;
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
    } = setup::setup(m, false, KeyOpts::default(), Some("1"))?;
    let combine = m
        .get_many::<String>("combine")
        .map(aggs::parse_specs)
        .transpose()?;
    // Stable: equal keys keep input order, no last-resort comparison.
    let input_order = RecordOrder::new(format, keys.clone(), KeyOpts::default(), true);
    let mut combiner = match combine {
        Some(specs) => {
            aggs::require_combinable(&specs, "--combine")?;
            let fields = header.as_ref().map(|h| record::split_header(h, format));
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
            let mut line = a.header(&input_order, &record::split_header(h, format), eol);
            line.pop();
            Some(line)
        }
        _ => header,
    };
    // A combiner's table gets half the budget, the sort of its partial lines the rest.
    let sort_budget = if combiner.is_some() {
        budget / 2
    } else {
        budget
    };
    let cfg = setup::sort_config(
        m,
        sort_budget,
        threads,
        (true, false),
        args::compress_temp_of(m),
    );
    // Stage the directory before any work: an existing non-empty DIR fails fast.
    let commit = match &dest {
        Dest::Dir(d, force) => Some(setup::begin_dir(d, *force)?),
        Dest::Stdout => None,
    };
    let mut sorter = Sorter::new(ShuffleOrder::new(order), cfg)?;
    let progress = Progress::new(args::progress_of(m), inputs.total_size());
    progress.phase("read", inputs.total_size());
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
        let c = combine::ParallelCombine {
            aggs,
            order: &input_order,
            field,
            eol,
            threads,
            limit: (budget / 2 / threads).max(1),
            max_record: budget.max(extsort::RECORD_ALLOWANCE),
            route,
        };
        let (read, records) = combine::combine_blocks(&c, inputs.take_all(), &mut sorter)?;
        inputs.bytes += read;
        stats.records_in = records;
    } else if let Some(aggs) = &mut combiner {
        let limit = (budget / 2).max(1);
        let c = (&progress, &mut bad, &mut sorter);
        stats.records_in =
            combine::combine_serial(&mut inputs, c, aggs, &input_order, route, limit, eol)?;
    } else {
        stats.records_in = push_records(
            &mut inputs,
            &progress,
            &mut sorter,
            route,
            &mut hitters,
            &mut bad,
        )?;
    }
    stats.bad_records = bad.finish()?;
    stats.bytes_in = inputs.bytes;
    progress.phase("merge", None);
    let mut parts: Vec<PartInfo> = (0..n)
        .map(|i| PartInfo {
            name: part_name(i, ""),
            ..PartInfo::default()
        })
        .collect();
    let (sort_stats, bytes_out) =
        write_sorted(sorter, commit.as_ref(), header.as_deref(), eol, &mut parts)?;
    progress.finish();
    stats.records_out = sort_stats.records_out;
    stats.add_sort(&sort_stats);
    stats.bytes_out = bytes_out;
    if commit.is_some() {
        partition_stats(&mut stats, &parts);
    }
    let hitters = hitters.map(|h| h.to_json(10));
    if let Some(h) = &hitters {
        stats.extra.insert("heavy_hitters".into(), h.clone());
    }
    if let Some(commit) = commit {
        let combine = m
            .get_many::<String>("combine")
            .map(|a| a.cloned().collect());
        commit_parts(commit, n, key_texts, &parts, combine, hitters)?;
    }
    setup::emit_stats("bshuffle", &stats, &stats_dest, started)
}

/// Commit the part directory with its manifest: hash-partitioned by `key_texts` (field 1
/// when none) into `n` parts, each sorted by it; `combine`: the aggregates whose partial
/// states the parts hold.
fn commit_parts(
    commit: DirCommit,
    n: u64,
    key_texts: Vec<String>,
    parts: &[PartInfo],
    combine: Option<Vec<String>>,
    hitters: Option<serde_json::Value>,
) -> Result<()> {
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
    let manifest = partition::NewManifest {
        tool: "bshuffle",
        cut: &cut,
        sorted_by: Some(&keys),
        parts,
        // The parts hold partial states: say which, for breduce --merge.
        combine,
        parts_in_key_order: None,
        heavy_hitters: hitters,
    }
    .to_json();
    setup::commit_dir(commit, &manifest)?;
    Ok(())
}

/// Push every record into the sort behind its partition (the plain shuffle, no
/// `--combine`), adding its key to the sketch when there is one. Returns records read.
fn push_records(
    inputs: &mut cli::Inputs,
    progress: &Progress,
    sorter: &mut Sorter<ShuffleOrder>,
    route: Route,
    sketch: &mut Option<HeavyHitters>,
    bad: &mut BadRecords,
) -> Result<u64> {
    let rec_order = &sorter.order().order.clone();
    let mut scratch = CsvScratch::default();
    let mut key = Vec::new();
    let mut records = 0;
    inputs.for_each(progress, |rec, at| {
        records += 1;
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
            let p = partition::partition_of_hash(h, route.n) as u32;
            if route.skips(p) {
                // Not ours: leave nothing in the buffer.
                return Err(Skip::Other);
            }
            buf[item_start..item_start + PART].copy_from_slice(&p.to_be_bytes());
            if let Some(hh) = sketch.as_mut() {
                hh.add_hashed(h, &key, rec.len() as u64 + 1);
            }
            Ok(())
        });
        match res {
            Ok(()) | Err(extsort::PushError::Build(Skip::Other)) => Ok(()),
            Err(extsort::PushError::Build(Skip::Bad(e))) => bad
                .check(Err(Error::Runtime(format!("{at}: {e}"))), rec)
                .map(drop),
            Err(extsort::PushError::Sort(e)) => Err(input::sort_error(e, &at)),
        }
    })?;
    Ok(records)
}

/// Finish the sort into the part files of `commit`'s directory (counted in `parts`), or to
/// stdout; the header first. Returns the sort's stats and the bytes written to stdout.
fn write_sorted(
    sorter: Sorter<ShuffleOrder>,
    commit: Option<&DirCommit>,
    header: Option<&[u8]>,
    eol: u8,
    parts: &mut [PartInfo],
) -> Result<(extsort::Stats, u64)> {
    let ord = sorter.order();
    let rec_order = &ord.order.clone();
    if let Some(commit) = commit {
        let mut writer = PartWriter {
            dir: commit.path().to_path_buf(),
            header,
            eol,
            current: None,
            parts,
        };
        // Each emitted item is framed `partition:u32be len:u32le bytes` so that the sink
        // can route whole blocks to the part files in order.
        let emit = |item: &[u8], buf: &mut Vec<u8>| {
            let (p, rest) = split(item);
            partition::routed::frame(p, rec_order.record(rest), eol, buf);
        };
        let s = sorter.finish(&emit, &mut |block| writer.write_block(block))?;
        writer
            .finish()
            .map_err(|e| Error::io("cannot write a part file", e))?;
        return Ok((s, 0));
    }
    let mut out = Output::open("bshuffle", None)?;
    if let Some(h) = header {
        out.write_all(h)
            .and_then(|_| out.write_all(&[eol]))
            .map_err(|e| Error::io("write error", e))?;
    }
    let emit = |item: &[u8], buf: &mut Vec<u8>| {
        buf.extend_from_slice(rec_order.record(split(item).1));
        buf.push(eol);
    };
    let s = sorter.finish(&emit, &mut |block| out.write_all(block))?;
    Ok((s, out.commit()?))
}

/// `--stats` of a directory output: bytes, each partition's counts, and the skew.
fn partition_stats(stats: &mut Stats, parts: &[PartInfo]) {
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
