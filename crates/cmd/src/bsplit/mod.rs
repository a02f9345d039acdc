//! bsplit: cut input into parts — byte chunks found by seeking, runs of lines or bytes,
//! round-robin, hash (the one partition function), key ranges, or Hive-style directories by
//! value. Orchestration only: framing and keys from `record`, part files and the directory
//! commit from `partition`.

use clap::{Arg, ArgAction, ArgMatches, Command};
use cli::input;
use cli::setup::{self, Setup};
use cli::{args, Error, Progress, Result, Stats};
use partition::{percent_encode, Compress, Cut, PartInfo, Parts};
use record::{KeyOpts, RecordOrder};
use serde_json::json;
use std::time::Instant;

mod chunks;
mod cut;
use cut::Cutter;

const ABOUT: &str =
    "Cut input into parts: chunks, lines, bytes, round-robin, hash, key ranges or by value";

const AFTER_HELP: &str = "\
Ways to cut (records are never split; part files are part-00000, part-00001, ...):
  -n N                 exactly N parts of near-equal bytes, cut at record boundaries found
                       by seeking (the input is not read through); their concatenation is
                       the input byte for byte. Needs one plain file. CSV (--format csv
                       or a .csv file) is read through once instead, because only the
                       quotes before a point say whether a newline there is inside a field.
  -l LINES             parts of LINES records
  -b SIZE              parts of at most SIZE bytes, filled greedily (like split -C); a record
                       larger than SIZE gets a part of its own
                       (-l and -b keep an unterminated last record unterminated, as split)
  --round-robin -n N   record i goes to part i mod N
  --hash -n N          record goes to part xxh3_64(key) mod N: the partition function of
                       bshuffle and bjoin --partitioned (default key: field 1)
  --range -n N         N parts in key order: every key of part i sorts before every key of
                       part i+1 (split points from a sample of 100000 keys), so sorting each
                       part sorts the whole (TeraSort's trick)
  --by KEY             Hive-style directories DIR/NAME=VALUE/part-00000, NAME the column name
                       (--header) or fN; VALUE percent-encoded (bytes outside A-Za-z0-9_.-),
                       so that no value names a path outside DIR
Records keep their input order within each part, and are written unchanged.

DIR is staged beside itself and appears whole, _SUCCESS (a JSON manifest: how the parts were
cut, the key, the partition function, records and bytes per part, each part's size on disk)
written last; a signal during the commit is acted on after it, so DIR is absent or whole.
Without --force the final move never replaces a DIR that is not empty then (a file written
into it meanwhile, another run's output): status 1. An existing
non-empty DIR is an error unless --force (replace it) or, with --by, --overwrite-partitions
(replace only the NAME=VALUE directories this run writes; a rerun of one day's job is
idempotent). --header repeats the header at the top of every part. --compress gz|zst
compresses the parts (.gz/.zst). --index prints the -n byte ranges as OFFSET<TAB>LENGTH
instead of writing parts.

Examples:
  bsplit -n 4 -o chunks/ big.tsv
  bsplit --index -n 8 big.tsv
  bsplit --hash -n 16 -k 2 -o by-user/ events.tsv
  bsplit --range -n 4 -o ranges/ data.tsv && for f in ranges/part-*; do bsort -o $f $f; done
  bsplit --by day --header -o lake/ --overwrite-partitions events.tsv
  bsplit -l 1000000 --compress zst -o pieces/ log.txt";

/// The clap definition: the one source of `--help` and `man/bsplit.1`.
pub fn command() -> Command {
    let mode = |id: &'static str, long: &'static str, help: &'static str| {
        Arg::new(id)
            .long(long)
            .action(ArgAction::SetTrue)
            .help(help)
    };
    Command::new("bsplit")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .after_help(AFTER_HELP)
        .arg(
            Arg::new("number")
                .short('n')
                .long("number")
                .value_name("N")
                .value_parser(clap::value_parser!(u64).range(1..=1_000_000))
                .help("Number of parts"),
        )
        .arg(
            Arg::new("lines")
                .short('l')
                .long("lines")
                .value_name("LINES")
                .value_parser(clap::value_parser!(u64).range(1..))
                .conflicts_with_all(["number", "bytes"])
                .help("Records per part"),
        )
        .arg(
            Arg::new("bytes")
                .short('b')
                .long("bytes")
                .value_name("SIZE")
                .conflicts_with("number")
                .help("At most SIZE bytes per part (64M, 1G; a bare number is bytes)"),
        )
        .arg(mode(
            "round-robin",
            "round-robin",
            "Record i to part i mod N",
        ))
        .arg(mode("hash", "hash", "Record to part xxh3_64(key) mod N"))
        .arg(mode(
            "range",
            "range",
            "N parts in key order (split points from a sample)",
        ))
        .arg(
            Arg::new("by")
                .long("by")
                .value_name("KEY")
                .help("Hive-style directories NAME=VALUE by this key's value; KEY|day (|month |year |hour |lower |upper |trim) transforms it first"),
        )
        .group(
            clap::ArgGroup::new("distribution")
                .args(["round-robin", "hash", "range", "by"])
                .multiple(false),
        )
        .arg(args::key(
            "Key for --hash and --range (default: field 1); repeatable",
        ))
        .arg(
            Arg::new(args::OUTPUT)
                .short('o')
                .long("output")
                .value_name("DIR")
                .help("Output directory (staged, moved into place whole)"),
        )
        .arg(
            Arg::new("force")
                .long("force")
                .action(ArgAction::SetTrue)
                .help("Replace an existing non-empty DIR"),
        )
        .arg(
            Arg::new("overwrite-partitions")
                .long("overwrite-partitions")
                .action(ArgAction::SetTrue)
                .requires("by")
                .help("With --by: DIR may exist; replace only the NAME=VALUE directories written"),
        )
        .arg(
            Arg::new("index")
                .long("index")
                .action(ArgAction::SetTrue)
                .help("Print the -n byte ranges as OFFSET<TAB>LENGTH instead of writing parts"),
        )
        .arg(
            Arg::new("compress")
                .long("compress")
                .value_name("FMT")
                .value_parser(["gz", "zst"])
                .help("Compress the parts"),
        )
        .args(args::record_options())
        .args(args::resources())
        .args(args::observe())
        .arg(args::files())
}

/// The binary's entry point.
pub fn main() -> ! {
    cli::main("bsplit", command(), run)
}

/// What the command line asks for.
enum Mode {
    Chunks(u64),
    Lines(u64),
    Bytes(u64),
    RoundRobin(u64),
    Hash(u64),
    Range(u64),
    By(String),
}

fn mode_of(m: &ArgMatches) -> Result<Mode> {
    let n = m.get_one::<u64>("number").copied();
    let need_n = |what: &str| n.ok_or_else(|| Error::Usage(format!("{what} needs -n N")));
    Ok(if m.get_flag("round-robin") {
        Mode::RoundRobin(need_n("--round-robin")?)
    } else if m.get_flag("hash") {
        Mode::Hash(need_n("--hash")?)
    } else if m.get_flag("range") {
        Mode::Range(need_n("--range")?)
    } else if let Some(k) = m.get_one::<String>("by") {
        Mode::By(k.clone())
    } else if let Some(l) = m.get_one::<u64>("lines") {
        Mode::Lines(*l)
    } else if let Some(b) = m.get_one::<String>("bytes") {
        let v = parse_bytes(b).ok_or_else(|| Error::Usage(format!("invalid size '{b}'")))?;
        Mode::Bytes(v)
    } else if let Some(n) = n {
        Mode::Chunks(n)
    } else {
        return Err(Error::Usage(
            "say how to cut: -n N, -l LINES, -b SIZE or --by KEY".into(),
        ));
    })
}

/// `-b` sizes: a bare number is bytes (as split -C), suffixes K M G T are binary.
fn parse_bytes(s: &str) -> Option<u64> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || s[digits..].is_empty() {
        return s.parse().ok().filter(|&v| v > 0);
    }
    cli::size::parse_size(s).filter(|&v| v > 0)
}
fn run(m: &ArgMatches) -> Result<()> {
    let started = Instant::now();
    let mode = mode_of(m)?;
    let compress = match m.get_one::<String>("compress").map(String::as_str) {
        Some("gz") => Compress::Gzip,
        Some("zst") => Compress::Zstd,
        _ => Compress::None,
    };
    if let Mode::Chunks(n) = mode {
        return chunks::run_chunks(m, n, compress, started);
    }
    if m.get_flag("index") {
        return Err(Error::Usage(
            "--index goes with -n N alone (byte chunks)".into(),
        ));
    }
    let dir = args::output_of(m).ok_or_else(|| Error::Usage("-o DIR is required".into()))?;
    // `--by 'KEY|day'`: the key, then bmap's transforms of its value.
    let (by_key, by_transforms) = match &mode {
        Mode::By(k) => {
            let mut it = k.split('|');
            let key = it.next().unwrap_or_default();
            let ts = map::expr::parse_transforms(it).map_err(Error::Usage)?;
            (Some(key), ts)
        }
        _ => (None, Vec::new()),
    };
    let key_default = by_key.or(Some("1"));
    if by_key.is_some() && m.contains_id(args::KEY) {
        return Err(Error::Usage("--by takes its key itself; drop -k".into()));
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
    } = setup::setup(m, false, KeyOpts::default(), key_default)?;
    let order = RecordOrder::new(format, keys, KeyOpts::default(), true);
    let overwrite = m.get_flag("overwrite-partitions");
    let commit = setup::begin_dir(&dir, m.get_flag("force") || overwrite)?;
    let header_line = header.as_ref().map(|h| {
        let mut v = h.clone();
        v.push(eol);
        v
    });
    let ext = compress.ext();
    let mut stats = Stats {
        threads,
        ..Stats::default()
    };
    let progress = Progress::new(args::progress_of(m), inputs.total_size());
    progress.phase("split", inputs.total_size());
    // The heaviest keys of --hash and --by (docs/heavy-hitters.md), only with --stats.
    let hitters = (stats_dest.is_some() && matches!(mode, Mode::Hash(_) | Mode::By(_)))
        .then(partition::HeavyHitters::default);
    let mut c = Cutter::new(
        Parts::new(budget.min(64 << 20), compress, header_line.clone()),
        commit.path().to_path_buf(),
        ext,
        eol,
        &order,
        hitters,
    );
    let ins = (&mut inputs, &progress);
    let (method, n_parts) = match mode {
        Mode::Lines(l) => ("lines", c.runs(ins, l, true, header_line.as_deref())?),
        Mode::Bytes(l) => ("bytes", c.runs(ins, l, false, header_line.as_deref())?),
        Mode::RoundRobin(n) => ("round-robin", c.spread(ins, n, false)?),
        Mode::Hash(n) => ("hash", c.spread(ins, n, true)?),
        Mode::Range(n) => {
            // Two passes: a sample of keys for the split points, then the records.
            let names = args::inputs(m);
            let splits = range_splits(&order, &names, eol, format, header.is_some(), n, budget)?;
            ("range", c.ranges(ins, n, &splits)?)
        }
        Mode::By(_) => {
            let name = by_key.map(|k| match by_transforms.last() {
                // A date transform names what the value now is: day=2024-01-05.
                Some(t) if matches!(t.as_str(), "day" | "month" | "year" | "hour") => {
                    t.as_str().to_string()
                }
                _ => by_dir_name(k, header.as_deref(), format),
            });
            let name = name.unwrap_or_default();
            ("by", c.by_value(ins, &name, &by_transforms)?)
        }
        Mode::Chunks(_) => return unreachable_chunks(),
    };
    stats.bytes_in = inputs.bytes;
    let (infos, dirs, hitters) = c.finish()?;
    stats.records_in = infos.iter().map(|p| p.records).sum();
    stats.records_out = stats.records_in;
    stats.bytes_out = infos.iter().map(|p| p.bytes).sum();
    let cut = Cut {
        method: method.into(),
        n: n_parts,
        keys: match (&by_key, method) {
            // As given, transforms and all (`created_at|day`).
            (Some(_), _) => vec![m.get_one::<String>("by").cloned().unwrap_or_default()],
            (None, "hash" | "range") if key_texts.is_empty() => vec!["1".into()],
            (None, "hash" | "range") => key_texts.clone(),
            _ => vec![],
        },
        hashed: method == "hash",
    };
    let hitters = hitters.map(|h| h.to_json(10));
    if let Some(h) = &hitters {
        stats.extra.insert("heavy_hitters".into(), h.clone());
    }
    let manifest = manifest(&cut, &infos, Some(method == "range"), hitters);
    progress.finish();
    if overwrite {
        cli::cleanup::critical(|| commit.commit_partitions(&dirs, &manifest))?;
    } else {
        setup::commit_dir(commit, &manifest)?;
    }
    stats.extra.insert("parts".into(), json!(n_parts));
    setup::emit_stats("bsplit", &stats, &stats_dest, started)
}

/// bsplit's `_SUCCESS`: how the parts were cut, and the parts.
fn manifest(
    cut: &Cut,
    parts: &[PartInfo],
    parts_in_key_order: Option<bool>,
    heavy_hitters: Option<serde_json::Value>,
) -> serde_json::Value {
    partition::NewManifest {
        tool: "bsplit",
        cut,
        sorted_by: None,
        parts,
        combine: None,
        parts_in_key_order,
        heavy_hitters,
    }
    .to_json()
}

fn unreachable_chunks() -> Result<()> {
    Err(Error::Runtime(
        "internal error: byte chunks take another path".into(),
    ))
}

/// The NAME of `--by` directories: the column name with a header, else `fN`.
fn by_dir_name(spec: &str, header: Option<&[u8]>, format: record::Format) -> String {
    let plain = spec.split(':').next().unwrap_or(spec);
    if plain.starts_with(|c: char| c.is_ascii_digit()) {
        let n = plain.split(',').next().unwrap_or(plain);
        if let (Some(h), Ok(i)) = (header, n.parse::<usize>()) {
            if let Some(name) = record::split_header(h, format).get(i.saturating_sub(1)) {
                return percent_encode(name);
            }
        }
        format!("f{n}")
    } else {
        percent_encode(plain.as_bytes())
    }
}

/// Split points for `--range`: a reservoir sample of keys (as items), sorted, cut at N-1
/// quantiles.
fn range_splits(
    order: &RecordOrder,
    names: &[String],
    eol: u8,
    format: record::Format,
    header: bool,
    n: u64,
    budget: usize,
) -> Result<Vec<Vec<u8>>> {
    const SAMPLE: usize = 100_000;
    if names.iter().any(|f| f == "-") {
        return Err(Error::Usage(
            "--range reads its input twice: give files, not standard input".into(),
        ));
    }
    let mut inputs = input::Inputs::open(names, eol, budget.max(extsort::RECORD_ALLOWANCE))?;
    inputs.set_csv(matches!(format, record::Format::Csv(_)));
    if header {
        inputs.read_headers(format)?;
    }
    let mut sample = record::sample::KeySample::new(SAMPLE);
    inputs.for_each(&Progress::new(false, None), |rec, at| {
        sample
            .add(order, rec)
            .map_err(|e| Error::Runtime(format!("{at}: {e}")))
    })?;
    Ok(sample.splits(order, n))
}
