//! bsplit: cut input into parts — byte chunks found by seeking, runs of lines or bytes,
//! round-robin, hash (the one partition function), key ranges, or Hive-style directories by
//! value. Orchestration only: framing and keys from `record`, part files and the directory
//! commit from `partition`.

use crate::common::{self, At, Setup};
use clap::{Arg, ArgAction, ArgMatches, Command};
use cli::{args, Error, Progress, Result, Stats};
use partition::{
    part_name, partition_of, percent_encode, Compress, Cut, DirCommit, PartInfo, Parts,
};
use record::cut::Ends;
use record::{CsvScratch, KeyOpts, RecordOrder};
use serde_json::json;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

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
            Arg::new("output")
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
        .arg(args::delimiter())
        .arg(args::format())
        .arg(args::header())
        .arg(args::zero())
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
        return run_chunks(m, n, compress, started);
    }
    if m.get_flag("index") {
        return Err(Error::Usage(
            "--index goes with -n N alone (byte chunks)".into(),
        ));
    }
    let dir = m
        .get_one::<String>("output")
        .map(PathBuf::from)
        .ok_or_else(|| Error::Usage("-o DIR is required".into()))?;
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
    if by_key.is_some() && m.contains_id("key") {
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
    } = common::setup(m, false, KeyOpts::default(), key_default)?;
    let order = RecordOrder::new(format, keys, KeyOpts::default(), true);
    let overwrite = m.get_flag("overwrite-partitions");
    let commit = common::begin_dir(&dir, m.get_flag("force") || overwrite)?;
    let stage = commit.path().to_path_buf();
    let header_line = header.as_ref().map(|h| {
        let mut v = h.clone();
        v.push(eol);
        v
    });
    let mut parts = Parts::new(budget.min(64 << 20), compress, header_line.clone());
    let ext = compress.ext();
    let mut stats = Stats {
        threads,
        ..Stats::default()
    };
    let progress = Progress::new(m.get_flag("progress"), inputs.total_size());
    progress.phase("split", inputs.total_size());
    let mut scratch = CsvScratch::default();
    let mut item = Vec::new();
    let mut key = Vec::new();
    let mut line = Vec::new();
    // `ended`: whether to write the terminator; -l and -b keep an unterminated last record
    // as it is (the parts concatenate to the input, as with GNU split).
    let mut write_rec = |parts: &mut Parts, i: usize, rec: &[u8], ended: bool| -> Result<()> {
        line.clear();
        line.extend_from_slice(rec);
        if ended {
            line.push(eol);
        }
        parts
            .write(i, &line)
            .map_err(|e| Error::io("cannot write a part", e))
    };
    // Names of the by-value directories, in order of first appearance.
    let mut dirs: Vec<String> = Vec::new();
    let by_name = by_key.map(|k| match by_transforms.last() {
        // A date transform names what the value now is: day=2024-01-05.
        Some(t) if matches!(t.as_str(), "day" | "month" | "year" | "hour") => {
            t.as_str().to_string()
        }
        _ => by_dir_name(k, header.as_deref(), format),
    });
    // The heaviest keys of --hash and --by (docs/heavy-hitters.md), only with --stats.
    let mut hitters = (stats_dest.is_some() && matches!(mode, Mode::Hash(_) | Mode::By(_)))
        .then(partition::HeavyHitters::default);
    let method;
    let n_parts;
    match mode {
        Mode::Lines(l) | Mode::Bytes(l) => {
            let by_lines = matches!(mode, Mode::Lines(_));
            method = if by_lines { "lines" } else { "bytes" };
            let (mut count, mut size) = (0u64, 0u64);
            let header_len = header_line.as_ref().map_or(0, |h| h.len() as u64);
            inputs.for_each_ended(&progress, |rec, ended, _| {
                let len = rec.len() as u64 + u64::from(ended);
                let full = if by_lines {
                    count == l
                } else {
                    count > 0 && size + len > l
                };
                if parts.is_empty() || full {
                    parts.add(stage.join(part_name(parts.len() as u64, ext)));
                    count = 0;
                    size = header_len;
                }
                count += 1;
                size += len;
                let i = parts.len() - 1;
                write_rec(&mut parts, i, rec, ended)
            })?;
            n_parts = parts.len() as u64;
        }
        Mode::RoundRobin(n) | Mode::Hash(n) => {
            let hash = matches!(mode, Mode::Hash(_));
            method = if hash { "hash" } else { "round-robin" };
            for i in 0..n {
                parts.add(stage.join(part_name(i, ext)));
            }
            let mut r = 0u64;
            inputs.for_each(&progress, |rec, at| {
                let p = if hash {
                    key_of(&order, rec, &mut item, &mut key, &mut scratch, &at)?;
                    if let Some(h) = hitters.as_mut() {
                        h.add(&key, rec.len() as u64 + 1);
                    }
                    partition_of(&key, n)
                } else {
                    r % n
                };
                r += 1;
                write_rec(&mut parts, p as usize, rec, true)
            })?;
            n_parts = n;
        }
        Mode::Range(n) => {
            method = "range";
            for i in 0..n {
                parts.add(stage.join(part_name(i, ext)));
            }
            // Two passes: a sample of keys for the split points, then the records.
            let names = args::inputs(m);
            let splits = range_splits(&order, &names, eol, format, header.is_some(), n, budget)?;
            inputs.for_each(&progress, |rec, at| {
                let it = common::item_of(&order, rec, &mut item, &mut scratch, &at)?;
                // Part = how many split points are <= the key: equal keys stay together.
                let p = splits.partition_point(|s| order.compare_keys(s, it) != Ordering::Greater);
                write_rec(&mut parts, p, rec, true)
            })?;
            n_parts = n;
        }
        Mode::By(_) => {
            method = "by";
            let name = by_name.clone().unwrap_or_default();
            let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
            let mut raw = Vec::new();
            inputs.for_each(&progress, |rec, at| {
                key_of(&order, rec, &mut item, &mut key, &mut scratch, &at)?;
                if !by_transforms.is_empty() {
                    std::mem::swap(&mut raw, &mut key);
                    map::expr::transform_into(&raw, &by_transforms, &mut key).map_err(|t| {
                        Error::Runtime(format!(
                            "{at}: key \"{}\" is not an ISO-8601 date for |{t}",
                            String::from_utf8_lossy(&raw)
                        ))
                    })?;
                }
                if let Some(h) = hitters.as_mut() {
                    h.add(&key, rec.len() as u64 + 1);
                }
                let i = match index.get(key.as_slice()) {
                    Some(&i) => i,
                    None => {
                        let d = format!("{name}={}", percent_encode(&key));
                        // Not create_dir_all: a staging directory removed on a signal
                        // must not be made again.
                        std::fs::create_dir(stage.join(&d))
                            .map_err(|e| Error::io(format!("cannot create {d}"), e))?;
                        let i = parts.add(stage.join(&d).join(part_name(0, ext)));
                        dirs.push(d);
                        index.insert(key.clone(), i);
                        i
                    }
                };
                write_rec(&mut parts, i, rec, true)
            })?;
            n_parts = dirs.len() as u64;
        }
        Mode::Chunks(_) => return unreachable_chunks(),
    }
    stats.bytes_in = inputs.bytes;
    let sizes = parts
        .finish()
        .map_err(|e| Error::io("cannot write a part", e))?;
    let infos: Vec<PartInfo> = sizes
        .iter()
        .enumerate()
        .map(|(i, &(records, bytes))| PartInfo {
            name: match dirs.get(i) {
                Some(d) => format!("{d}/{}", part_name(0, ext)),
                None => part_name(i as u64, ext),
            },
            records,
            bytes,
        })
        .collect();
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
    let mut extra = json!({ "parts_in_key_order": method == "range" });
    if let (Some(h), Some(x)) = (&hitters, extra.as_object_mut()) {
        let h = h.to_json(10);
        stats.extra.insert("heavy_hitters".into(), h.clone());
        x.insert("heavy_hitters".into(), h);
    }
    let manifest = partition::manifest("bsplit", &cut, None, &infos, extra);
    progress.finish();
    if overwrite {
        cli::cleanup::critical(|| commit_partitions(commit, &dir, &dirs, &manifest))?;
    } else {
        common::commit_dir(commit, &manifest)?;
    }
    stats.extra.insert("parts".into(), json!(n_parts));
    common::emit_stats("bsplit", &stats, &stats_dest, started)
}

fn unreachable_chunks() -> Result<()> {
    Err(Error::Runtime(
        "internal error: byte chunks take another path".into(),
    ))
}

/// The key bytes of a record (the partition function's input) into `key`.
fn key_of(
    order: &RecordOrder,
    rec: &[u8],
    item: &mut Vec<u8>,
    key: &mut Vec<u8>,
    scratch: &mut CsvScratch,
    at: &At,
) -> Result<()> {
    let it = common::item_of(order, rec, item, scratch, at)?;
    key.clear();
    order.key_bytes(it, key);
    Ok(())
}

/// The NAME of `--by` directories: the column name with a header, else `fN`.
fn by_dir_name(spec: &str, header: Option<&[u8]>, format: record::Format) -> String {
    let plain = spec.split(':').next().unwrap_or(spec);
    if plain.starts_with(|c: char| c.is_ascii_digit()) {
        let n = plain.split(',').next().unwrap_or(plain);
        if let (Some(h), Ok(i)) = (header, n.parse::<usize>()) {
            if let Some(name) = common::split_header(h, format).get(i.saturating_sub(1)) {
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
    let mut inputs = common::Inputs::open(names, eol, budget.max(extsort::RECORD_ALLOWANCE))?;
    inputs.set_csv(matches!(format, record::Format::Csv(_)));
    if header {
        inputs.read_headers(format)?;
    }
    let mut sample: Vec<Vec<u8>> = Vec::new();
    let mut seen = 0u64;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut scratch = CsvScratch::default();
    inputs.for_each(&Progress::new(false, None), |rec, at| {
        seen += 1;
        let slot = if sample.len() < SAMPLE {
            sample.push(Vec::new());
            Some(sample.len() - 1)
        } else {
            // xorshift: deterministic, so the same input always gets the same split points.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let j = rng % seen;
            (j < SAMPLE as u64).then_some(j as usize)
        };
        if let Some(s) = slot {
            let item = &mut sample[s];
            item.clear();
            order
                .encode(rec, item, &mut scratch)
                .map_err(|e| Error::Runtime(format!("{at}: {e}")))?;
        }
        Ok(())
    })?;
    sample.sort_by(|a, b| order.compare_keys(a, b));
    let len = sample.len() as u64;
    Ok((1..n)
        .filter_map(|i| sample.get((i * len / n) as usize).cloned())
        .collect())
}

/// `--overwrite-partitions`: move each written NAME=VALUE directory into DIR in place of the
/// old one, leave the others, and write the manifest last.
fn commit_partitions(
    commit: DirCommit,
    dir: &Path,
    written: &[String],
    manifest: &serde_json::Value,
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let stage = commit.path().to_path_buf();
    for d in written {
        let new = stage.join(d);
        let old = dir.join(d);
        let aside = stage.join(format!("{d}.old"));
        if old.exists() {
            std::fs::rename(&old, &aside)
                .map_err(|e| Error::io(format!("cannot replace {}", old.display()), e))?;
        }
        std::fs::rename(&new, &old)
            .map_err(|e| Error::io(format!("cannot write {}", old.display()), e))?;
    }
    let mut text = serde_json::to_string_pretty(manifest).unwrap_or_default();
    text.push('\n');
    let tmp = stage.join("_SUCCESS");
    std::fs::write(&tmp, text).map_err(|e| Error::io("cannot write _SUCCESS", e))?;
    std::fs::rename(&tmp, dir.join("_SUCCESS"))
        .map_err(|e| Error::io("cannot write _SUCCESS", e))?;
    // The staging directory (with the old partitions) goes with the commit guard.
    drop(commit);
    Ok(())
}

/// `-n N` alone: byte ranges cut at record boundaries found by seeking.
fn run_chunks(m: &ArgMatches, n: u64, compress: Compress, started: Instant) -> Result<()> {
    let names = args::inputs(m);
    let [name] = names.as_slice() else {
        return Err(Error::Usage(
            "-n N alone cuts one file by seeking: give exactly one file".into(),
        ));
    };
    if name == "-" || name.ends_with(".gz") || name.ends_with(".zst") {
        return Err(Error::Usage(
            "-n N alone seeks in a plain file; for a stream use -l or -b, or --round-robin -n N"
                .into(),
        ));
    }
    if m.get_flag("header") && m.get_flag("index") {
        return Err(Error::Usage(
            "--index prints byte ranges; --header does not apply".into(),
        ));
    }
    let eol = if m.get_flag("zero") { 0 } else { b'\n' };
    // Look before opening: open() of a FIFO blocks until a writer comes, and a pipe such as
    // `<(cmd)` cannot seek. Both, like a directory, are the same usage error as stdin.
    let meta = std::fs::metadata(name)
        .map_err(|e| Error::Usage(format!("cannot read {name}: {}", cli::error::describe(&e))))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a plain file"
        };
        return Err(Error::Usage(format!(
            "{name} is {what}: -n N alone seeks in a plain file; for a stream use -l or -b, or --round-robin -n N"
        )));
    }
    let mut f = File::open(name)
        .map_err(|e| Error::Usage(format!("cannot read {name}: {}", cli::error::describe(&e))))?;
    let size = f
        .metadata()
        .map_err(|e| Error::io(format!("{name}: read error"), e))?
        .len();
    let csv = args::format_of(m, &names) == Some("csv");
    let bounds = chunk_bounds(&mut f, size, n, eol, csv)
        .map_err(|e| Error::io(format!("{name}: read error"), e))?;
    if m.get_flag("index") {
        let mut out = cli::Output::open("bsplit", None)?;
        for w in bounds.windows(2) {
            writeln!(out, "{}\t{}", w[0], w[1] - w[0]).map_err(|e| Error::io("write error", e))?;
        }
        out.commit()?;
        return Ok(());
    }
    let dir = m
        .get_one::<String>("output")
        .map(PathBuf::from)
        .ok_or_else(|| Error::Usage("-o DIR is required (or --index)".into()))?;
    let commit = common::begin_dir(&dir, m.get_flag("force"))?;
    // The header is the first record; later parts get a copy of it.
    let header = if m.get_flag("header") {
        let mut h = Vec::new();
        let mut rd =
            std::io::BufReader::new(File::open(name).map_err(|e| Error::io(name.clone(), e))?);
        // The header ends at the first record end (in CSV, outside quotes).
        let mut ends = Ends::new(eol, csv);
        loop {
            let at = h.len();
            let got = std::io::BufRead::read_until(&mut rd, eol, &mut h)
                .map_err(|e| Error::io(name.clone(), e))?;
            if got == 0 || ends.count(&h[at..]) > 0 {
                break;
            }
        }
        if h.last() != Some(&eol) {
            h.push(eol);
        }
        Some(h)
    } else {
        None
    };
    // Parts are copied on all threads, each with a file handle of its own.
    let ranges: Vec<(u64, u64)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<CopyResult>>> =
        ranges.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let stage = commit.path().to_path_buf();
    let workers = args::threads_of(m).clamp(1, ranges.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&(from, to)) = ranges.get(i) else {
                    break;
                };
                let path = stage.join(part_name(i as u64, compress.ext()));
                let head = if i > 0 { header.as_deref() } else { None };
                let r = copy_range(name, from, to, &path, head, compress, Ends::new(eol, csv));
                let failed = r.is_err();
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(r);
                }
                if failed {
                    break;
                }
            });
        }
    });
    let mut infos = Vec::new();
    for (i, slot) in results.into_iter().enumerate() {
        let pname = part_name(i as u64, compress.ext());
        let r = slot.into_inner().ok().flatten();
        let (records, bytes) = match r {
            Some(r) => r.map_err(|e| Error::io(format!("cannot write {pname}"), e))?,
            None => return Err(Error::Runtime(format!("cannot write {pname}"))),
        };
        infos.push(PartInfo {
            name: pname,
            records,
            bytes,
        });
    }
    let cut = Cut {
        method: "chunks".into(),
        n,
        keys: vec![],
        hashed: false,
    };
    let manifest = partition::manifest("bsplit", &cut, None, &infos, json!({}));
    common::commit_dir(commit, &manifest)?;
    let stats = Stats {
        records_in: infos.iter().map(|p| p.records).sum(),
        records_out: infos.iter().map(|p| p.records).sum(),
        bytes_in: size,
        bytes_out: infos.iter().map(|p| p.bytes).sum(),
        threads: 1,
        ..Stats::default()
    };
    common::emit_stats("bsplit", &stats, &args::stats_of(m), started)
}

/// N + 1 offsets: 0, then for each i the first record boundary at or after i*size/N.
/// CSV (a quoted field may hold the terminator) is scanned from the start, because only
/// the quotes before a point tell whether it is inside a field; other text is cut by seeking.
fn chunk_bounds(f: &mut File, size: u64, n: u64, eol: u8, csv: bool) -> std::io::Result<Vec<u64>> {
    if csv {
        return csv_chunk_bounds(f, size, n, eol);
    }
    let mut bounds = vec![0u64];
    let mut buf = vec![0u8; 64 << 10];
    for i in 1..n {
        let target = (size as u128 * i as u128 / n as u128) as u64;
        let prev = *bounds.last().unwrap_or(&0);
        let mut b = target.max(prev);
        if b > 0 && b < size {
            // The boundary is just after the terminator at or after b - 1.
            f.seek(SeekFrom::Start(b - 1))?;
            let mut pos = b - 1;
            b = size;
            loop {
                let got = f.read(&mut buf)?;
                if got == 0 {
                    break;
                }
                if let Some(j) = memchr::memchr(eol, &buf[..got]) {
                    b = pos + j as u64 + 1;
                    break;
                }
                pos += got as u64;
            }
        }
        bounds.push(b.min(size));
    }
    bounds.push(size);
    Ok(bounds)
}

fn csv_chunk_bounds(f: &mut File, size: u64, n: u64, eol: u8) -> std::io::Result<Vec<u64>> {
    let target = |i: u64| (size as u128 * i as u128 / n as u128) as u64;
    let mut bounds = vec![0u64];
    let mut ends = Ends::new(eol, true);
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0u64;
    f.seek(SeekFrom::Start(0))?;
    while (bounds.len() as u64) < n {
        let got = f.read(&mut buf)?;
        if got == 0 {
            break;
        }
        ends.feed(&buf[..got], |e| {
            let e = pos + e as u64;
            // One record end may serve several targets (a long record).
            while (bounds.len() as u64) < n && e >= target(bounds.len() as u64) {
                bounds.push(e);
            }
            (bounds.len() as u64) < n
        });
        pos += got as u64;
    }
    while (bounds.len() as u64) < n {
        bounds.push(size);
    }
    bounds.push(size);
    Ok(bounds)
}

/// What copying one part gives: (records, bytes).
type CopyResult = std::io::Result<(u64, u64)>;

/// Copy bytes [from, to) of file `name` to a new part file; returns (records, bytes).
fn copy_range(
    name: &str,
    from: u64,
    to: u64,
    path: &Path,
    header: Option<&[u8]>,
    compress: Compress,
    // Where records end (a fresh scanner: a part starts at a record start).
    mut ends: Ends,
) -> CopyResult {
    let eol = ends.eol();
    let mut f = File::open(name)?;
    f.seek(SeekFrom::Start(from))?;
    let out = File::create(path)?;
    let mut w: Box<dyn Write> = match compress {
        Compress::None => Box::new(out),
        Compress::Gzip => Box::new(flate2::write::GzEncoder::new(
            out,
            flate2::Compression::fast(),
        )),
        Compress::Zstd => Box::new(zstd::stream::write::Encoder::new(out, 3)?.auto_finish()),
    };
    let mut records = 0u64;
    let mut bytes = 0u64;
    if let Some(h) = header {
        w.write_all(h)?;
        bytes += h.len() as u64;
    }
    let mut left = to - from;
    let mut buf = vec![0u8; 1 << 20];
    let mut last = eol;
    while left > 0 {
        let want = (buf.len() as u64).min(left) as usize;
        let got = f.read(&mut buf[..want])?;
        if got == 0 {
            break;
        }
        records += ends.count(&buf[..got]);
        last = buf[got - 1];
        w.write_all(&buf[..got])?;
        bytes += got as u64;
        left -= got as u64;
    }
    if to > from && (last != eol || ends.in_quotes()) {
        records += 1;
    }
    w.flush()?;
    Ok((records, bytes))
}
