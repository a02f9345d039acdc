//! bmap: the map phase. Built-in mapping (`--where`, `--emit`, `--words`) over TSV, CSV or
//! JSON lines, or any command run without a shell once per chunk of input, `-j` at a
//! time, outputs in input order. Orchestration only: the engines are in `crates/map`.

use crate::combine::Combine;
use clap::{Arg, ArgAction, ArgMatches, Command};
use cli::bad::BadRecords;
use cli::input;
use cli::setup;
use cli::At;
use cli::{args, Error, Output, Progress, Result, Stats};
use map::expr::Program;
use map::fields::{Extractor, Fmt};
use record::Format;
use std::io::{IsTerminal, Write};
use std::time::Instant;

mod blocks;
mod external;
mod words;
use blocks::{parallel, Job};
use external::external;
use words::{words_only, words_specs};

const ABOUT: &str =
    "Map records: filter, project and tokenise (built-in), or run a command over chunks in parallel";

const AFTER_HELP: &str = "\
Built-in mapping (output is TSV):
  --where 'FIELD OP VALUE'   keep records where it holds; repeatable, all must hold. OP is one
                       of == != < <= > >= ~ !~. When the field's value and VALUE both read as
                       decimal numbers they compare as numbers, exactly (0.10 == 0.1, 10 > 9;
                       with an exponent, as 64-bit floats); otherwise bytewise (the C locale).
                       ~ and !~ search for a regex (Rust's regex crate syntax) anywhere in the
                       value. VALUE may be quoted ('...' or \"...\"), and quoting does not
                       make a number text. A missing field is the empty string.
  --emit 'ITEM,ITEM'   write these values TAB-separated. ITEM is a field number (1-based),
                       a span N-M (fields N to M with their separators; over TSV
                       its TABs stay TABs, so it writes several fields), a column name
                       (--header), or a dotted JSON path (user.id, items.0.sku) for JSON
                       lines, followed by transforms |lower |upper (ASCII) |trim |len
                       (characters) |day |month |year |hour; or a literal in quotes.
                       The date transforms cut an ISO-8601 timestamp's text to YYYY-MM-DD,
                       YYYY-MM, YYYY or YYYY-MM-DDTHH (no time-zone arithmetic); an empty value
                       stays empty and anything else is a bad record.
                       Values are written as they stand: a JSON number keeps its text (0.10
                       stays 0.10), JSON strings are decoded, null is null; a TAB or newline
                       inside a value is written as \\t or \\n.
  --words              write TOKEN<TAB>1 for every token separated by spaces, TABs and
                       newlines (awk's default splitting); --lower folds ASCII case.
  With neither --emit nor --words, matching records are written unchanged.
  A .parquet input decodes only the columns --where and --emit read (projection) when
  --emit is given without --bad-records; else every column.
  --combine AGG        in-mapper combining: aggregate what would be written (breduce's AGG,
                       repeatable; key: its first field) and write one partial line per
                       key instead, for `breduce --merge AGG` to finish: the lines of
                       `breduce --partial` and `bshuffle --combine`. The table lives in half
                       of -S; when full it writes its lines and starts again, so a key may
                       have several partial lines (merged exactly). Counts, sums, means and
                       sets combine on -j threads, other aggregates in input order on one.
                       The partial lines are the same bytes on every run for a given -j and
                       -S; what breduce --merge makes of them, for any. median and q<P>
                       cannot be combined.
  TSV and JSON lines are mapped on -j threads, blocks of records in turn, the output (and
  bad records, and the first error) in input order: the same bytes as -j 1.
  --header: the first record of each input names the columns; it is written once (whole
  records) or replaced by the --emit items as written (--emit).

Bad records (a malformed JSON line, a date transform on a non-date) stop bmap with
`bmap: FILE:LINE: what`, status 1, and no -o file; --skip-bad skips and counts them (the
count goes to stderr), --bad-records FILE also writes them there unchanged. A JSON line is
checked whole, not only up to the fields asked for.

External mapping: `bmap [OPTIONS] [FILE...] -- CMD [ARG...]` runs CMD without a shell (use
sh -c '...' for one) once per chunk of input, with the chunk on its stdin and BMAP_CHUNK
(0, 1, ...) and BMAP_CHUNK_OFFSET (the chunk's first byte in the concatenated input) in its
environment. Chunks are about --chunk-size bytes (default 16M, less when -S is small) and end
on record boundaries (CSV: outside quoted fields); -j commands run at a time (default: the number of cores). Outputs are
written in input order: waiting output is held in memory within -S and spilled to temporary
files under -T beyond it. --unordered writes each chunk's output whole as it finishes. A
chunk whose output lacks a final terminator gets one, unless it is the last output. A failed
chunk (non-zero status or a signal) is re-run from its input up to --retries times (with
retries, a chunk's output is held until it succeeds); then bmap stops every command, exits
with status 1 and names the chunk, its input byte range and the end of the command's stderr
(which also passes through to bmap's stderr as it comes). Empty input runs no command. On
SIGINT/SIGTERM the commands' process groups get SIGTERM and temporary files are removed.

Standard input is always read to the end (the Hadoop Streaming contract), even when the
output closes early; a closed output is a quiet exit 0.

Examples:
  bmap --words --combine count corpus.txt | breduce --merge --hash count
  bmap --from jsonl --where 'status == completed' --emit 'created_at|day,amount' \\
    --combine sum:2 --combine count orders.jsonl | breduce --merge --hash sum:2 count
  bmap --words corpus.txt | bshuffle | breduce count
  bmap --words --lower corpus.txt | breduce --hash count
  bmap --from jsonl --where 'status == completed' --emit 'created_at|day,amount' orders.jsonl \\
    | breduce --hash sum:2 count | bsort
  bmap --header --where 'price >= 100' --where 'name ~ ^[A-M]' --emit 'name|upper,price' items.tsv
  bmap --from csv --emit '1,\"fixed\",3-5' data.csv
  bmap -j 4 --retries 2 big.log -- sh -c 'grep -c ERROR'
  bmap -j 2 --chunk-size 64M access.log.gz -- python3 parse.py";

/// The clap definition: the one source of `--help` and `man/bmap.1`.
pub fn command() -> Command {
    Command::new("bmap")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .after_help(AFTER_HELP)
        .override_usage(
            "bmap [--from FMT] [--where EXPR]... [--emit LIST | --words] [--combine AGG]... [FILE...]\n       \
             bmap [-j N] [--chunk-size SIZE] [--retries R] [--unordered] [FILE...] -- CMD [ARG...]",
        )
        .arg(
            Arg::new(args::FORMAT)
                .long("from")
                .visible_alias("format")
                .value_name("FMT")
                .value_parser(["tsv", "csv", "jsonl", "parquet"])
                .help("Input format (default: from the first file's extension .csv/.jsonl/.ndjson/.parquet, else tsv); parquet reads every FILE as Parquet"),
        )
        .arg(
            Arg::new("where")
                .long("where")
                .value_name("EXPR")
                .action(ArgAction::Append)
                .help("Keep records where 'FIELD OP VALUE' holds (== != < <= > >= ~ !~); repeatable, ANDed"),
        )
        .arg(
            Arg::new("emit")
                .long("emit")
                .value_name("LIST")
                .conflicts_with("words")
                .help("Write these items as TSV: fields, spans N-M, names, JSON paths, |transforms, 'literals'"),
        )
        .arg(
            Arg::new("words")
                .long("words")
                .action(ArgAction::SetTrue)
                .help("Write TOKEN<TAB>1 for each token separated by spaces and TABs"),
        )
        .arg(
            Arg::new("lower")
                .long("lower")
                .action(ArgAction::SetTrue)
                .requires("words")
                .help("With --words: fold tokens to lower case (ASCII)"),
        )
        .arg(
            Arg::new("combine")
                .long("combine")
                .value_name("AGG")
                .action(ArgAction::Append)
                .help("Aggregate what is emitted by its first field (breduce's AGG; repeatable) and write partial lines for breduce --merge"),
        )
        .arg(args::delimiter())
        .arg(args::header())
        .arg(args::zero())
        .args(cli::bad::args())
        .arg(args::output())
        .arg(
            Arg::new("chunk-size")
                .long("chunk-size")
                .value_name("SIZE")
                .help("External mode: bytes per chunk (64M, 512K; a bare number is KiB) [default: 16M]"),
        )
        .arg(
            Arg::new("retries")
                .long("retries")
                .value_name("R")
                .value_parser(clap::value_parser!(u32))
                .help("External mode: re-run a failed chunk up to R times [default: 0]"),
        )
        .arg(
            Arg::new("unordered")
                .long("unordered")
                .action(ArgAction::SetTrue)
                .help("External mode: write chunk outputs as they finish, not in input order"),
        )
        .args(args::resources())
        .args(args::observe())
        .arg(args::files())
        .arg(
            Arg::new("command")
                .value_name("CMD")
                .num_args(1..)
                .last(true)
                .allow_hyphen_values(true)
                .help("External mode: the command (and its arguments) run once per chunk"),
        )
}

/// The binary's entry point.
pub fn main() -> ! {
    cli::main("bmap", command(), run)
}

fn run(m: &ArgMatches) -> Result<()> {
    let names = args::inputs(m);
    let r = if m.contains_id("command") {
        external(m, &names)
    } else {
        builtin(m, &names)
    };
    if r.is_err() {
        drain_stdin(&names);
    }
    r
}

/// Read standard input to its end when it is one of the inputs (and not a terminal).
fn drain_stdin(names: &[String]) {
    if names.iter().any(|n| n == "-") && !std::io::stdin().is_terminal() {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
    }
}

/// A bad record at `at`: an error, or (with --skip-bad) counted and kept.
fn bad_record(
    bad: &mut BadRecords,
    rec: &[u8],
    at: &At,
    what: &dyn std::fmt::Display,
) -> Result<()> {
    bad.check(Err(Error::Runtime(format!("{at}: {what}"))), rec)
        .map(drop)
}

/// Output records gathered in blocks (one write per block, not per record).
struct Out {
    out: Output,
    block: Vec<u8>,
    records: u64,
}

impl Out {
    #[inline]
    fn maybe_flush(&mut self) -> Result<()> {
        if self.block.len() >= 1 << 18 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.out
            .write_all(&self.block)
            .map_err(|e| Error::io("write error", e))?;
        self.block.clear();
        Ok(())
    }
}

/// The built-in mapping's options, read once.
struct Opts<'m> {
    eol: u8,
    format: Format,
    fmt: Fmt,
    words: bool,
    lower: bool,
    /// `--header`, for formats that have one.
    header: bool,
    budget: usize,
    stats_dest: Option<String>,
    wheres: Vec<&'m String>,
    emit: Option<&'m String>,
    out_path: Option<std::path::PathBuf>,
    /// `-j`, 1 for order-sensitive `--combine` aggregates.
    threads: usize,
    /// `--combine`.
    specs: Option<Vec<agg::Spec>>,
}

impl<'m> Opts<'m> {
    fn of(m: &'m ArgMatches, names: &[String]) -> Result<Opts<'m>> {
        let format = setup::format_of(m, names, false)?;
        let fmt = match format {
            Format::Csv(d) => Fmt::Csv(d),
            Format::Jsonl => Fmt::Json,
            Format::Text(record::FieldSplit::Char(t)) => Fmt::Tsv(t),
            Format::Text(record::FieldSplit::Blank) => Fmt::Tsv(b'\t'),
        };
        let words = m.get_flag("words");
        // Read in the order the checks always ran: -t, -S, then --combine.
        let budget = args::budget_of(m)?;
        let specs = m
            .get_many::<String>("combine")
            .map(crate::combine::specs)
            .transpose()?;
        if let (true, Some(specs)) = (words, &specs) {
            words_specs(specs)?;
        }
        // Order-sensitive aggregates (first, last, collect, ...) combine on one thread, in
        // input order; the others on each worker's own blocks.
        let threads = match &specs {
            Some(s) if !crate::combine::order_free(s) => 1,
            _ => args::threads_of(m),
        };
        Ok(Opts {
            eol: args::eol_of(m),
            format,
            fmt,
            words,
            lower: m.get_flag("lower"),
            header: args::header_of(m) && format != Format::Jsonl,
            budget,
            stats_dest: args::stats_of(m),
            wheres: m
                .get_many::<String>("where")
                .into_iter()
                .flatten()
                .collect(),
            emit: m.get_one::<String>("emit"),
            out_path: args::output_of(m),
            threads,
            specs,
        })
    }
}

fn builtin(m: &ArgMatches, names: &[String]) -> Result<()> {
    let started = Instant::now();
    let o = Opts::of(m, names)?;
    // --words alone: tokenise blocks of raw input, records need not be framed.
    if o.words && o.wheres.is_empty() && (o.specs.is_none() || o.threads == 1) {
        return words_only(o, names, started);
    }
    framed(m, o, names, started)
}

/// `--where` and `--emit` resolved against the header's columns (`--header`).
fn program_of(o: &Opts, columns: Option<&[Vec<u8>]>) -> Result<Program> {
    let is_json = o.format == Format::Jsonl;
    let resolve = |s: &str| map::fields::resolve(s, is_json, columns);
    let mut prog = Program {
        tsv: matches!(o.fmt, Fmt::Tsv(b'\t')),
        ..Program::default()
    };
    for w in &o.wheres {
        prog.add_where(w, &resolve).map_err(Error::Usage)?;
    }
    if let Some(e) = o.emit {
        prog.add_emit(e, &resolve).map_err(Error::Usage)?;
    }
    Ok(prog)
}

/// The header line written first: the partial lines' (`--combine`), the `--emit` items', or
/// the input's (whole records).
fn write_header(
    o: &Opts,
    prog: &Program,
    header: Option<&[u8]>,
    comb: Option<&Combine>,
    emitted: Option<&[Vec<u8>]>,
    out: &mut Vec<u8>,
) {
    if let (Some(c), Some(names)) = (comb, emitted) {
        out.extend_from_slice(&c.header(names));
    } else if let Some(h) = header {
        if o.emit.is_some() {
            out.extend_from_slice(prog.item_texts.join("\t").as_bytes());
            out.push(o.eol);
        } else if !o.words {
            out.extend_from_slice(h);
            out.push(o.eol);
        }
    }
}

/// The mapping over framed records: on -j threads block by block (see [`parallel`]), or on
/// this one.
fn framed(m: &ArgMatches, o: Opts, names: &[String], started: Instant) -> Result<()> {
    let (eol, format, budget, threads) = (o.eol, o.format, o.budget, o.threads);
    let mut stats = Stats {
        threads: 1,
        ..Stats::default()
    };
    let mut inputs = input::Inputs::open(names, eol, budget.max(extsort::RECORD_ALLOWANCE))?;
    inputs.set_csv(matches!(format, Format::Csv(_)));
    let header = if o.header {
        inputs.read_headers(format)?
    } else {
        None
    };
    let columns = header.as_ref().map(|h| record::split_header(h, format));
    let prog = program_of(&o, columns.as_deref())?;
    // Parquet inputs decode only what --where and --emit read; whole records (written, or
    // kept by --bad-records) need every column.
    if o.emit.is_some() && !o.words && m.get_one::<String>("bad-records").is_none() {
        record::input::project(prog.columns());
    }
    let mut x = Extractor::new(o.fmt, prog.refs.clone());
    let mut bad = BadRecords::new("bmap", m, eol)?;
    // The emitted columns' names, for aggregates naming them and the partial lines' header.
    let emitted_names: Option<Vec<Vec<u8>>> = match (&header, o.emit, o.words) {
        (None, _, _) | (_, None, true) => None,
        (Some(_), Some(_), _) => Some(
            prog.item_texts
                .iter()
                .map(|t| t.as_bytes().to_vec())
                .collect(),
        ),
        (Some(h), None, false) => Some(record::split_header(
            h,
            Format::Text(record::FieldSplit::Char(b'\t')),
        )),
    };
    let mut comb = match o.specs.clone() {
        Some(s) => Some(Combine::new(
            s,
            emitted_names.as_deref(),
            budget / 2 / threads.max(1),
            eol,
        )?),
        None => None,
    };
    let mut out = Out {
        out: Output::open("bmap", o.out_path.as_deref())?,
        block: Vec::with_capacity(1 << 19),
        records: 0,
    };
    write_header(
        &o,
        &prog,
        header.as_deref(),
        comb.as_ref(),
        emitted_names.as_deref(),
        &mut out.block,
    );
    let (words, lower, stats_dest) = (o.words, o.lower, &o.stats_dest);
    let has_items = !prog.items.is_empty();
    let skipping = bad.skipping();
    // Records are mapped on -j threads, block by block, and written in input order; CSV
    // records may span lines, so CSV keeps one thread.
    if threads > 1 && !matches!(format, Format::Csv(_)) {
        let job = Job {
            prog: &prog,
            fmt: o.fmt,
            words,
            lower,
            has_items,
            eol,
            skip: skipping,
            combine: comb.as_ref(),
        };
        let read = parallel(
            &job,
            inputs.take_all(),
            threads,
            budget,
            &mut out,
            &mut bad,
            &mut stats,
        )?;
        stats.threads = threads;
        stats.bytes_in = read;
        return finish(out, bad, stats, stats_dest, started);
    }
    let progress = Progress::new(args::progress_of(m), inputs.total_size());
    let mut scratch = Vec::new();
    // With --combine, one record's output goes here first, to be checked and fed.
    let mut emitted = Vec::new();
    inputs.for_each(&progress, |rec, at| {
        stats.records_in += 1;
        if !x.is_empty() {
            if let Err(e) = x.extract(rec) {
                return bad_record(&mut bad, rec, &at, &e);
            }
            if !prog.matches(&x, rec) {
                return Ok(());
            }
        }
        let dest = if comb.is_some() {
            emitted.clear();
            &mut emitted
        } else {
            &mut out.block
        };
        let n = if words {
            map::words::tokens(rec, lower, eol, dest)
        } else if has_items {
            let at_len = dest.len();
            if let Err(e) = prog.emit(&x, rec, eol, dest, &mut scratch) {
                dest.truncate(at_len);
                return bad_record(&mut bad, rec, &at, &e);
            }
            dest.push(eol);
            1
        } else {
            dest.extend_from_slice(rec);
            dest.push(eol);
            1
        };
        match &mut comb {
            None => out.records += n,
            Some(c) => {
                // --skip-bad: a record is checked whole before any state sees it.
                let fed = match skipping {
                    true => c.check(&emitted, &at),
                    false => Ok(()),
                }
                .and_then(|()| c.feed(&emitted, &at, &mut out.block));
                match fed {
                    Ok(w) => out.records += w,
                    Err(e) => return bad.check(Err(e), rec).map(drop),
                }
            }
        }
        out.maybe_flush()
    })?;
    if let Some(c) = &mut comb {
        out.records += c.flush(&mut out.block)?;
    }
    stats.bytes_in = inputs.bytes;
    progress.finish();
    finish(out, bad, stats, stats_dest, started)
}

/// Flush and commit the output and the bad records, report, write --stats.
fn finish(
    mut out: Out,
    bad: BadRecords,
    mut stats: Stats,
    stats_dest: &Option<String>,
    started: Instant,
) -> Result<()> {
    out.flush()?;
    stats.records_out = out.records;
    stats.bytes_out = out.out.commit()?;
    stats.bad_records = bad.finish()?;
    setup::emit_stats("bmap", &stats, stats_dest, started)
}
