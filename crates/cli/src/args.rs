//! Clap definitions of the options every tool shares, and their parsing.
//!
//! One source of truth: each tool's `command()` adds these args, so `--help`, the man page
//! and the behaviour agree across all six binaries.

use crate::error::{Error, Result};
use crate::size::parse_size;
use clap::{Arg, ArgAction, ArgMatches};
use record::KeySpec;
use std::path::PathBuf;

pub const FILES: &str = "files";

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
    Arg::new("output")
        .short('o')
        .long("output")
        .value_name("PATH")
        .help("Write to PATH: a regular or new file atomically (temporary file + rename; PATH may be an input); a symlink's target, atomically in the target's directory; a FIFO or device directly. PATH ending in .gz or .zst is compressed")
}

/// `-k/--key SPEC`, repeatable.
pub fn key(help: &'static str) -> Arg {
    Arg::new("key")
        .short('k')
        .long("key")
        .value_name("SPEC")
        .action(ArgAction::Append)
        .allow_hyphen_values(false)
        .help(help)
}

/// `-t/--delimiter CHAR`.
pub fn delimiter() -> Arg {
    Arg::new("delimiter")
        .short('t')
        .long("delimiter")
        .value_name("CHAR")
        .allow_hyphen_values(true)
        .help("Field separator (one byte; '\\t' and '\\0' are understood)")
}

/// `--format tsv|csv|jsonl`.
pub fn format() -> Arg {
    Arg::new("format")
        .long("format")
        .value_name("FMT")
        .value_parser(["tsv", "csv", "jsonl"])
        .help("Record format (default: from the first file's extension .csv/.jsonl/.ndjson, else tsv)")
}

/// `--header`.
pub fn header() -> Arg {
    Arg::new("header")
        .long("header")
        .action(ArgAction::SetTrue)
        .help("The first record of each TSV/CSV input names the columns; it is written once, first")
}

/// `-z/--zero-terminated`.
pub fn zero() -> Arg {
    Arg::new("zero")
        .short('z')
        .long("zero-terminated")
        .action(ArgAction::SetTrue)
        .help("Records end with NUL, not newline")
}

/// `-S`, `-T`, `-j`.
pub fn resources() -> [Arg; 3] {
    [
        Arg::new("buffer-size")
            .short('S')
            .long("buffer-size")
            .value_name("SIZE")
            .help("Memory budget: 64M, 2G, 25% of RAM; a bare number is KiB [default: 25% of RAM, at most 4G]"),
        Arg::new("temporary-directory")
            .short('T')
            .long("temporary-directory")
            .value_name("DIR")
            .action(ArgAction::Append)
            .help("Directory for spill files [default: $TMPDIR, then /tmp]"),
        Arg::new("threads")
            .short('j')
            .long("threads")
            .visible_alias("parallel")
            .value_name("N")
            .value_parser(clap::value_parser!(u32).range(1..=1024))
            .help("Worker threads [default: the number of cores]"),
    ]
}

/// `--stats[=FILE]`, `--progress`.
pub fn observe() -> [Arg; 2] {
    [
        Arg::new("stats")
            .long("stats")
            .value_name("FILE")
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("-")
            .help("On exit, write one JSON object of counters (records, bytes, spills, peak RSS) to stderr or FILE"),
        Arg::new("progress")
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
    m.get_one::<String>("delimiter")
        .map(|s| parse_delimiter(s))
        .transpose()
}

/// The record format asked for: `--format`, else the first file's extension.
pub fn format_of(m: &ArgMatches, inputs: &[String]) -> Option<&'static str> {
    if let Some(f) = m.get_one::<String>("format") {
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
    m.get_many::<String>("key")
        .map(|v| {
            v.map(|s| KeySpec::parse(s).map_err(|e| Error::Usage(e.to_string())))
                .collect()
        })
        .unwrap_or_else(|| Ok(Vec::new()))
}

/// The memory budget in bytes.
pub fn budget_of(m: &ArgMatches) -> Result<usize> {
    match m.get_one::<String>("buffer-size") {
        Some(s) => parse_size(s)
            .map(|v| v.min(usize::MAX as u64) as usize)
            .ok_or_else(|| Error::Usage(format!("invalid buffer size '{s}'"))),
        None => Ok((crate::size::physical_memory() / 4).clamp(64 << 20, 4 << 30) as usize),
    }
}

/// The spill directory: the last `-T`, else `$TMPDIR`, else `/tmp`.
pub fn tmp_of(m: &ArgMatches) -> PathBuf {
    if let Some(t) = m
        .get_many::<String>("temporary-directory")
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
    m.get_one::<u32>("threads")
        .map(|&n| n as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `--stats` destination, if any.
pub fn stats_of(m: &ArgMatches) -> Option<String> {
    m.get_one::<String>("stats").cloned()
}
