//! Clap definitions of the options every tool shares, and their parsing.
//!
//! One source of truth: each tool's `command()` adds these args, so `--help`, the man page
//! and the behaviour agree across all six binaries.

use crate::error::{Error, Result};
use crate::size::parse_size;
use clap::{Arg, ArgAction, ArgMatches};
use record::KeySpec;
use std::path::PathBuf;

/// The ids of the shared flags: tools read them through the functions below, never by a
/// string of their own.
pub const FILES: &str = "files";
pub const OUTPUT: &str = "output";
pub const KEY: &str = "key";
pub const DELIMITER: &str = "delimiter";
pub const FORMAT: &str = "format";
pub const HEADER: &str = "header";
pub const ZERO: &str = "zero";
pub const BUFFER_SIZE: &str = "buffer-size";
pub const TMP_DIR: &str = "temporary-directory";
pub const THREADS: &str = "threads";
pub const BATCH_SIZE: &str = "batch-size";
pub const COMPRESS_TEMP: &str = "compress-temp";
pub const STATS: &str = "stats";
pub const PROGRESS: &str = "progress";

/// `FILE...` (none or `-`: standard input).
pub fn files() -> Arg {
    Arg::new(FILES)
        .value_name("FILE")
        .num_args(0..)
        .action(ArgAction::Append)
        .help("Input files, read in order; none or '-' is standard input; .gz and .zst are decompressed")
}

/// `-o/--output PATH`.
pub fn output() -> Arg {
    Arg::new(OUTPUT)
        .short('o')
        .long("output")
        .value_name("PATH")
        .help("Write to PATH: a regular or new file atomically (temporary file + rename; PATH may be an input); a symlink's target, atomically in the target's directory; a FIFO or device directly. PATH ending in .gz or .zst is compressed")
}

/// `-k/--key SPEC`, repeatable.
pub fn key(help: &'static str) -> Arg {
    Arg::new(KEY)
        .short('k')
        .long("key")
        .value_name("SPEC")
        .action(ArgAction::Append)
        .allow_hyphen_values(false)
        .help(help)
}

/// `-t/--delimiter CHAR`.
pub fn delimiter() -> Arg {
    Arg::new(DELIMITER)
        .short('t')
        .long("delimiter")
        .value_name("CHAR")
        .allow_hyphen_values(true)
        .help("Field separator (one byte; '\\t' and '\\0' are understood)")
}

/// `--format tsv|csv|jsonl|parquet`.
pub fn format() -> Arg {
    Arg::new(FORMAT)
        .long("format")
        .value_name("FMT")
        .value_parser(["tsv", "csv", "jsonl", "parquet"])
        .help("Record format (default: from the first file's extension .csv/.jsonl/.ndjson/.parquet, else tsv); parquet reads every FILE as Parquet")
}

/// `--header`.
pub fn header() -> Arg {
    Arg::new(HEADER)
        .long("header")
        .action(ArgAction::SetTrue)
        .help("The first record of each TSV/CSV input names the columns; it is written once, first")
}

/// `-z/--zero-terminated`.
pub fn zero() -> Arg {
    Arg::new(ZERO)
        .short('z')
        .long("zero-terminated")
        .action(ArgAction::SetTrue)
        .help("Records end with NUL, not newline")
}

/// The record options `-t`, `--format`, `--header`, `-z` (`-k` is [`key`], its help the
/// tool's).
pub fn record_options() -> [Arg; 4] {
    [delimiter(), format(), header(), zero()]
}

/// `-S`, `-T`, `-j`.
pub fn resources() -> [Arg; 3] {
    [
        Arg::new(BUFFER_SIZE)
            .short('S')
            .long("buffer-size")
            .value_name("SIZE")
            .help("Memory budget: 64M, 2G, 25% of RAM; a bare number is KiB [default: 25% of RAM, at most 4G]"),
        Arg::new(TMP_DIR)
            .short('T')
            .long("temporary-directory")
            .value_name("DIR")
            .action(ArgAction::Append)
            .help("Directory for spill files [default: $TMPDIR, then /tmp]"),
        Arg::new(THREADS)
            .short('j')
            .long("threads")
            .visible_alias("parallel")
            .value_name("N")
            .value_parser(clap::value_parser!(u32).range(1..=1024))
            .help("Worker threads [default: the number of cores]"),
    ]
}

/// `--batch-size NMERGE`: the merge fan-in.
pub fn batch_size() -> Arg {
    Arg::new(BATCH_SIZE)
        .long("batch-size")
        .value_name("NMERGE")
        .value_parser(clap::value_parser!(u32).range(2..))
        .help("Merge at most NMERGE runs at once [default: 64, bounded by the open-file limit]")
}

/// `--compress-temp`: zstd spill runs.
pub fn compress_temp() -> Arg {
    Arg::new(COMPRESS_TEMP)
        .long("compress-temp")
        .action(ArgAction::SetTrue)
        .help("Compress spilled runs (zstd): less disk, more CPU")
}

/// The external sort's tuning: [`batch_size`] and [`compress_temp`].
pub fn sort_tuning() -> [Arg; 2] {
    [batch_size(), compress_temp()]
}

/// What [`sort_tuning`] asks for; tools without those flags use the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SortTuning {
    /// `--batch-size`: the merge fan-in (default 64).
    pub batch_size: Option<u32>,
    /// `--compress-temp`.
    pub compress: bool,
}

/// The [`sort_tuning`] flags (of a command that defines both: an id a command never
/// defined panics in clap rather than reading as "off").
pub fn sort_tuning_of(m: &ArgMatches) -> SortTuning {
    SortTuning {
        batch_size: m.get_one::<u32>(BATCH_SIZE).copied(),
        compress: m.get_flag(COMPRESS_TEMP),
    }
}

/// The record terminator: NUL with `-z`, else newline.
pub fn eol_of(m: &ArgMatches) -> u8 {
    if m.get_flag(ZERO) {
        0
    } else {
        b'\n'
    }
}

/// Whether `--header` was given.
pub fn header_of(m: &ArgMatches) -> bool {
    m.get_flag(HEADER)
}

/// Whether `--progress` was given.
pub fn progress_of(m: &ArgMatches) -> bool {
    m.get_flag(PROGRESS)
}

/// The `-o` path, if given.
pub fn output_of(m: &ArgMatches) -> Option<PathBuf> {
    m.get_one::<String>(OUTPUT).map(PathBuf::from)
}

/// `--stats[=FILE]`, `--progress`.
pub fn observe() -> [Arg; 2] {
    [
        Arg::new(STATS)
            .long("stats")
            .value_name("FILE")
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("-")
            .help("On exit, write one JSON object of counters (records, bytes, spills, peak RSS) to stderr or FILE"),
        Arg::new(PROGRESS)
            .long("progress")
            .action(ArgAction::SetTrue)
            .help("Draw progress on stderr: a bar with bytes, rate and ETA when the input sizes are known, else a spinner (default when stderr is a terminal; cleared before any message)"),
    ]
}

/// The input names (`-` when none).
pub fn inputs(m: &ArgMatches) -> Vec<String> {
    let v: Vec<String> = m
        .get_many::<String>(FILES)
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    if v.is_empty() {
        vec!["-".to_string()]
    } else {
        v
    }
}

/// Parse a `-t` argument into one byte.
pub fn parse_delimiter(s: &str) -> Result<u8> {
    match s {
        "\\t" => Ok(b'\t'),
        "\\0" => Ok(0),
        _ if s.len() == 1 => Ok(s.as_bytes()[0]),
        "" => Err(Error::Usage("empty field separator".into())),
        _ => Err(Error::Usage(format!(
            "field separator '{s}' is more than one byte"
        ))),
    }
}

/// The `-t` byte, if given.
pub fn delimiter_of(m: &ArgMatches) -> Result<Option<u8>> {
    m.get_one::<String>(DELIMITER)
        .map(|s| parse_delimiter(s))
        .transpose()
}

/// The record format asked for: `--format`, else the first file's extension.
pub fn format_of(m: &ArgMatches, inputs: &[String]) -> Option<&'static str> {
    if let Some(f) = m.get_one::<String>(FORMAT) {
        return match f.as_str() {
            "csv" => Some("csv"),
            "jsonl" => Some("jsonl"),
            _ => Some("tsv"),
        };
    }
    let first = inputs.first()?;
    let base = first
        .strip_suffix(".gz")
        .or_else(|| first.strip_suffix(".zst"))
        .unwrap_or(first);
    if base.ends_with(".csv") {
        Some("csv")
    } else if base.ends_with(".jsonl") || base.ends_with(".ndjson") {
        Some("jsonl")
    } else {
        None
    }
}

/// The parsed `-k` arguments.
pub fn keys_of(m: &ArgMatches) -> Result<Vec<KeySpec>> {
    m.get_many::<String>(KEY)
        .map(|v| {
            v.map(|s| KeySpec::parse(s).map_err(|e| Error::Usage(e.to_string())))
                .collect()
        })
        .unwrap_or_else(|| Ok(Vec::new()))
}

/// The memory budget in bytes.
pub fn budget_of(m: &ArgMatches) -> Result<usize> {
    match m.get_one::<String>(BUFFER_SIZE) {
        Some(s) => parse_size(s)
            .map(|v| v.min(usize::MAX as u64) as usize)
            .ok_or_else(|| Error::Usage(format!("invalid buffer size '{s}'"))),
        None => Ok((crate::size::physical_memory() / 4).clamp(64 << 20, 4 << 30) as usize),
    }
}

/// The spill directory: the last `-T`, else `$TMPDIR`, else `/tmp`.
pub fn tmp_of(m: &ArgMatches) -> PathBuf {
    if let Some(t) = m
        .get_many::<String>(TMP_DIR)
        .and_then(|mut v| v.next_back())
    {
        return PathBuf::from(t);
    }
    match std::env::var_os("TMPDIR") {
        Some(t) if !t.is_empty() => PathBuf::from(t),
        _ => PathBuf::from("/tmp"),
    }
}

/// The thread count.
pub fn threads_of(m: &ArgMatches) -> usize {
    m.get_one::<u32>(THREADS)
        .map(|&n| n as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `--stats` destination, if any.
pub fn stats_of(m: &ArgMatches) -> Option<String> {
    m.get_one::<String>(STATS).cloned()
}

/// `--compress-temp` alone (a command with [`compress_temp`] but not [`batch_size`]).
pub fn compress_temp_of(m: &ArgMatches) -> SortTuning {
    SortTuning {
        batch_size: None,
        compress: m.get_flag(COMPRESS_TEMP),
    }
}
