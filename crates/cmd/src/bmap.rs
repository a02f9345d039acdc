//! bmap: the map phase. Built-in mapping (`--where`, `--emit`, `--words`) over TSV, CSV or
//! JSON lines, or any command run without a shell once per chunk of input, `-j` at a
//! time, outputs in input order. Orchestration only: the engines are in `crates/map`.

use crate::combine::Combine;
use crate::common::{self, At};
use clap::{Arg, ArgAction, ArgMatches, Command};
use cli::bad::BadRecords;
use cli::{args, Error, Output, Progress, Result, Stats};
use map::expr::Program;
use map::fields::{Extractor, FieldRef, Fmt};
use record::Format;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

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
            Arg::new("format")
                .long("from")
                .visible_alias("format")
                .value_name("FMT")
                .value_parser(["tsv", "csv", "jsonl"])
                .help("Input format (default: from the first file's extension .csv/.jsonl/.ndjson, else tsv)"),
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

fn eol_of(m: &ArgMatches) -> u8 {
    if m.get_flag("zero") {
        0
    } else {
        b'\n'
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

fn builtin(m: &ArgMatches, names: &[String]) -> Result<()> {
    let started = Instant::now();
    let eol = eol_of(m);
    let delim = args::delimiter_of(m)?;
    let format = match args::format_of(m, names) {
        Some("csv") => Format::Csv(delim.unwrap_or(b',')),
        Some("jsonl") => Format::Jsonl,
        _ => Format::Text(record::FieldSplit::Char(delim.unwrap_or(b'\t'))),
    };
    let fmt = match format {
        Format::Csv(d) => Fmt::Csv(d),
        Format::Jsonl => Fmt::Json,
        Format::Text(record::FieldSplit::Char(t)) => Fmt::Tsv(t),
        Format::Text(record::FieldSplit::Blank) => Fmt::Tsv(b'\t'),
    };
    let words = m.get_flag("words");
    let lower = m.get_flag("lower");
    let header_flag = m.get_flag("header") && format != Format::Jsonl;
    let budget = args::budget_of(m)?;
    let stats_dest = args::stats_of(m);
    let wheres: Vec<&String> = m
        .get_many::<String>("where")
        .into_iter()
        .flatten()
        .collect();
    let emit = m.get_one::<String>("emit");
    let mut stats = Stats {
        threads: 1,
        ..Stats::default()
    };
    let out_path = m.get_one::<String>("output").map(PathBuf::from);
    let threads = args::threads_of(m);
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
        _ => threads,
    };

    // --words alone: tokenise blocks of raw input, records need not be framed.
    if words && wheres.is_empty() && (specs.is_none() || threads == 1) {
        let mut comb = match specs {
            Some(s) => Some(Combine::new(s, None, budget / 2, eol)?),
            None => None,
        };
        let mut readers = Vec::with_capacity(names.len());
        for n in names {
            let r = record::input::open(n).map_err(|e| {
                Error::Usage(format!("cannot read {n}: {}", cli::error::describe(&e)))
            })?;
            readers.push((n.clone(), r));
        }
        let mut out = Out {
            out: Output::open("bmap", out_path.as_deref())?,
            block: Vec::with_capacity(3 << 20),
            records: 0,
        };
        for (name, r) in readers {
            let (records, bytes) = words_stream(
                r,
                &name,
                header_flag,
                lower,
                eol,
                stats_dest.is_some(),
                &mut out,
                comb.as_mut(),
            )?;
            stats.records_in += records;
            stats.bytes_in += bytes;
        }
        if let Some(c) = &mut comb {
            out.records += c.flush(&mut out.block)?;
        }
        out.flush()?;
        stats.records_out = out.records;
        stats.bytes_out = out.out.commit()?;
        return common::emit_stats("bmap", &stats, &stats_dest, started);
    }

    let mut inputs = common::Inputs::open(names, eol, budget.max(extsort::RECORD_ALLOWANCE))?;
    inputs.set_csv(matches!(format, Format::Csv(_)));
    let header = if header_flag {
        inputs.read_headers(format)?
    } else {
        None
    };
    let columns = header.as_ref().map(|h| common::split_header(h, format));
    let resolve = |s: &str| -> std::result::Result<FieldRef, String> {
        if format == Format::Jsonl {
            return Ok(FieldRef::Path(
                s.split('.').map(|p| p.as_bytes().to_vec()).collect(),
            ));
        }
        let number = |t: &str| -> Option<std::result::Result<usize, String>> {
            let n = t.parse::<usize>().ok()?;
            Some(if n == 0 {
                Err(format!("field {s}: field numbers start at 1"))
            } else {
                Ok(n - 1)
            })
        };
        if let Some(n) = number(s) {
            return n.map(FieldRef::Index);
        }
        if let Some((a, b)) = s.split_once('-') {
            if let (Some(a), Some(b)) = (number(a), number(b)) {
                let (a, b) = (a?, b?);
                if a > b {
                    return Err(format!("span {s}: the first field comes after the last"));
                }
                return Ok(FieldRef::Span(a, b));
            }
        }
        match columns
            .as_ref()
            .and_then(|c| c.iter().position(|c| c == s.as_bytes()))
        {
            Some(i) => Ok(FieldRef::Index(i)),
            None if columns.is_some() => Err(format!("no column named '{s}'")),
            None => Err(format!(
                "no field '{s}': name fields by number, or by column name with --header"
            )),
        }
    };
    let mut prog = Program {
        tsv: matches!(fmt, Fmt::Tsv(b'\t')),
        ..Program::default()
    };
    for w in &wheres {
        prog.add_where(w, &resolve).map_err(Error::Usage)?;
    }
    if let Some(e) = emit {
        prog.add_emit(e, &resolve).map_err(Error::Usage)?;
    }
    let mut x = Extractor::new(fmt, prog.refs.clone());
    let mut bad = BadRecords::new("bmap", m, eol)?;
    // The emitted columns' names, for aggregates naming them and the partial lines' header.
    let emitted_names: Option<Vec<Vec<u8>>> = match (&header, emit, words) {
        (None, _, _) | (_, None, true) => None,
        (Some(_), Some(_), _) => Some(
            prog.item_texts
                .iter()
                .map(|t| t.as_bytes().to_vec())
                .collect(),
        ),
        (Some(h), None, false) => Some(common::split_header(
            h,
            Format::Text(record::FieldSplit::Char(b'\t')),
        )),
    };
    let mut comb = match specs {
        Some(s) => Some(Combine::new(
            s,
            emitted_names.as_deref(),
            budget / 2 / threads.max(1),
            eol,
        )?),
        None => None,
    };
    let mut out = Out {
        out: Output::open("bmap", out_path.as_deref())?,
        block: Vec::with_capacity(1 << 19),
        records: 0,
    };
    if let (Some(c), Some(names)) = (&comb, &emitted_names) {
        out.block.extend_from_slice(&c.header(names));
    } else if let Some(h) = &header {
        if emit.is_some() {
            out.block
                .extend_from_slice(prog.item_texts.join("\t").as_bytes());
            out.block.push(eol);
        } else if !words {
            out.block.extend_from_slice(h);
            out.block.push(eol);
        }
    }
    let has_items = !prog.items.is_empty();
    let skipping = bad.skipping();
    // Records are mapped on -j threads, block by block, and written in input order; CSV
    // records may span lines, so CSV keeps one thread.
    if threads > 1 && !matches!(format, Format::Csv(_)) {
        let job = Job {
            prog: &prog,
            fmt,
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
        return finish(out, bad, stats, &stats_dest, started);
    }
    let progress = Progress::new(m.get_flag("progress"), inputs.total_size());
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
    finish(out, bad, stats, &stats_dest, started)
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
    common::emit_stats("bmap", &stats, stats_dest, started)
}

/// What every worker of [`parallel`] applies to each record.
struct Job<'a> {
    prog: &'a Program,
    fmt: Fmt,
    words: bool,
    lower: bool,
    has_items: bool,
    eol: u8,
    skip: bool,
    /// --combine: each worker combines its blocks in a table of its own like this one.
    combine: Option<&'a Combine>,
}

/// One block mapped.
struct Mapped {
    seq: u64,
    out: Vec<u8>,
    records_in: u64,
    records_out: u64,
    /// Bad records skipped, each with its terminator, and how many.
    bad: Vec<u8>,
    bad_count: u64,
    /// The first bad record when they are not skipped: `FILE:LINE: what`.
    error: Option<String>,
}

fn map_block(
    job: &Job,
    x: &mut Extractor,
    scratch: &mut Vec<u8>,
    mut comb: Option<&mut Combine>,
    emitted: &mut Vec<u8>,
    b: &common::Block,
    name: &str,
) -> Mapped {
    let eol = job.eol;
    let mut m = Mapped {
        seq: b.seq,
        out: Vec::with_capacity(b.data.len() / 2),
        records_in: 0,
        records_out: 0,
        bad: Vec::new(),
        bad_count: 0,
        error: None,
    };
    // --words --combine count over whole records: the block's tokens counted at once.
    if let Some(c) = comb.as_deref_mut() {
        if job.words && x.is_empty() && c.counts_only() {
            m.records_in =
                map::count_byte(&b.data, eol) + u64::from(b.data.last().is_some_and(|&l| l != eol));
            match c.words(&b.data, job.lower, &mut m.out) {
                Ok(n) => m.records_out = n,
                Err(e) => m.error = Some(e.message().unwrap_or_default()),
            }
            return m;
        }
    }
    for (_, line, rec) in common::records(&b.data, eol, b.first_line) {
        let at = At { name, line };
        m.records_in += 1;
        let mut problem: Option<String> = None;
        if !x.is_empty() {
            if let Err(e) = x.extract(rec) {
                problem = Some(e.to_string());
            } else if !job.prog.matches(x, rec) {
                continue;
            }
        }
        // A combining error names its record already.
        let mut located: Option<String> = None;
        if problem.is_none() {
            let dest = if comb.is_some() {
                emitted.clear();
                &mut *emitted
            } else {
                &mut m.out
            };
            let mut n = 0;
            if job.words {
                n = map::words::tokens(rec, job.lower, eol, dest);
            } else if job.has_items {
                let at_len = dest.len();
                match job.prog.emit(x, rec, eol, dest, scratch) {
                    Ok(()) => {
                        dest.push(eol);
                        n = 1;
                    }
                    Err(e) => {
                        dest.truncate(at_len);
                        problem = Some(e.to_string());
                    }
                }
            } else {
                dest.extend_from_slice(rec);
                dest.push(eol);
                n = 1;
            }
            match comb.as_deref_mut() {
                None => m.records_out += n,
                Some(_) if problem.is_some() => {}
                Some(c) => {
                    let fed = match job.skip {
                        true => c.check(emitted, &at),
                        false => Ok(()),
                    }
                    .and_then(|()| c.feed(emitted, &at, &mut m.out));
                    match fed {
                        Ok(w) => m.records_out += w,
                        Err(e) => located = Some(e.message().unwrap_or_default()),
                    }
                }
            }
        }
        if problem.is_some() || located.is_some() {
            if !job.skip {
                m.error = Some(match (located, problem) {
                    (Some(l), _) => l,
                    (None, p) => format!("{at}: {}", p.unwrap_or_default()),
                });
                break;
            }
            m.bad.extend_from_slice(rec);
            m.bad.push(eol);
            m.bad_count += 1;
        }
    }
    m
}

/// Map the inputs on `threads` workers, blocks in turn, and write the results in input
/// order (a worker's queue holds two blocks, so memory stays bounded). Returns bytes read.
#[allow(clippy::too_many_arguments)]
fn parallel(
    job: &Job,
    inputs: Vec<common::Input>,
    threads: usize,
    budget: usize,
    out: &mut Out,
    bad: &mut BadRecords,
    stats: &mut Stats,
) -> Result<u64> {
    use std::sync::{mpsc, Arc};
    let names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    let eol = job.eol;
    std::thread::scope(|scope| -> Result<u64> {
        let (done_tx, done_rx) = mpsc::channel::<Mapped>();
        let mut senders = Vec::with_capacity(threads);
        let mut handles = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (tx, rx) = mpsc::sync_channel::<Arc<common::Block>>(2);
            senders.push(tx);
            let done = done_tx.clone();
            let names = &names;
            let limit = budget / 2 / threads.max(1);
            handles.push(scope.spawn(move || -> Result<(Vec<u8>, u64)> {
                let mut x = Extractor::new(job.fmt, job.prog.refs.clone());
                let mut scratch = Vec::new();
                let mut comb = job.combine.map(|c| c.fresh(limit));
                let mut emitted = Vec::new();
                for b in rx {
                    let m = map_block(
                        job,
                        &mut x,
                        &mut scratch,
                        comb.as_mut(),
                        &mut emitted,
                        &b,
                        &names[b.input],
                    );
                    if done.send(m).is_err() {
                        break;
                    }
                }
                // What the table holds at the end, written after every block's output.
                let mut rest = Vec::new();
                let n = match &mut comb {
                    Some(c) => c.flush(&mut rest)?,
                    None => 0,
                };
                Ok((rest, n))
            }));
        }
        drop(done_tx);
        let reader = scope.spawn(move || {
            common::read_blocks(inputs, eol, budget.max(extsort::RECORD_ALLOWANCE), |b| {
                let w = (b.seq % senders.len() as u64) as usize;
                // A worker gone is not a reason to stop reading.
                let _ = senders[w].send(b);
            })
        });
        let mut waiting: std::collections::BTreeMap<u64, Mapped> = Default::default();
        let mut next = 0u64;
        let mut failed: Option<Error> = None;
        for m in done_rx {
            waiting.insert(m.seq, m);
            while let Some(m) = waiting.remove(&next) {
                next += 1;
                if failed.is_some() {
                    continue;
                }
                stats.records_in += m.records_in;
                out.records += m.records_out;
                out.block.extend_from_slice(&m.out);
                out.maybe_flush()?;
                bad.add(&m.bad, m.bad_count)?;
                if let Some(e) = m.error {
                    failed = Some(Error::Runtime(e));
                }
            }
        }
        let read = reader
            .join()
            .map_err(|_| Error::Runtime("the reading thread panicked".into()))??;
        // The workers' tables, in worker order (the same bytes on every run).
        for h in handles {
            let (rest, n) = h
                .join()
                .map_err(|_| Error::Runtime("a worker thread panicked".into()))??;
            if failed.is_none() {
                out.block.extend_from_slice(&rest);
                out.records += n;
                out.maybe_flush()?;
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(read),
        }
    })
}

/// `--words` over one raw input: blocks cut after their last separator, so that no token
/// is split. Returns (records, bytes) read.
#[allow(clippy::too_many_arguments)]
fn words_stream(
    mut r: Box<dyn Read + Send>,
    name: &str,
    skip_header: bool,
    lower: bool,
    eol: u8,
    count: bool,
    out: &mut Out,
    mut comb: Option<&mut Combine>,
) -> Result<(u64, u64)> {
    const READ: usize = 1 << 20;
    let mut buf: Vec<u8> = Vec::with_capacity(2 * READ);
    let mut bytes = 0u64;
    let mut records = 0u64;
    let mut in_header = skip_header;
    let mut last = eol;
    let mut tokens = Vec::new();
    loop {
        let at = buf.len();
        buf.resize(at + READ, 0);
        let n = loop {
            match r.read(&mut buf[at..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(format!("{name}: read error"), e)),
            }
        };
        buf.truncate(at + n);
        bytes += n as u64;
        let fresh = &buf[at..];
        if count {
            records += map::count_byte(fresh, eol);
        }
        if let Some(&l) = fresh.last() {
            last = l;
        }
        let mut start = 0;
        if in_header {
            match memchr::memchr(eol, &buf) {
                Some(p) => {
                    start = p + 1;
                    in_header = false;
                }
                None if n == 0 => break,
                None => continue,
            }
        }
        let cut = if n == 0 {
            buf.len()
        } else {
            match buf[start..]
                .iter()
                .rposition(|&c| map::words::is_sep(c, eol))
            {
                Some(p) => start + p + 1,
                None => start,
            }
        };
        match comb.as_deref_mut() {
            None => out.records += map::words::tokens(&buf[start..cut], lower, eol, &mut out.block),
            Some(c) => {
                // No error can be met (see words_specs): no line number is needed.
                let text = &buf[start..cut];
                out.records += if c.counts_only() {
                    c.words(text, lower, &mut out.block)?
                } else {
                    let at = At { name, line: 0 };
                    tokens.clear();
                    map::words::tokens(text, lower, eol, &mut tokens);
                    c.feed(&tokens, &at, &mut out.block)?
                };
            }
        }
        if out.block.len() >= 1 << 20 {
            out.flush()?;
        }
        buf.drain(..cut);
        if n == 0 {
            break;
        }
    }
    if count && bytes > 0 && last != eol {
        records += 1;
    }
    Ok((records, bytes))
}

/// `--words --combine`: the emitted records are TOKEN<TAB>1, so an aggregate reads field 1
/// (the token, not for numbers) or 2 (the 1); anything else would fail on every record.
fn words_specs(specs: &[agg::Spec]) -> Result<()> {
    for s in specs {
        let ok = match s.field.as_deref() {
            None | Some("2") => true,
            Some("1") => !s.op.numeric(),
            Some(_) => false,
        };
        if !ok {
            return Err(Error::Usage(format!(
                "--combine {}: with --words the records are TOKEN<TAB>1 (field 1 the token, field 2 the number 1)",
                s.text
            )));
        }
    }
    Ok(())
}

/// Whether `program` can be run: a path that exists, or a name found in PATH.
fn findable(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let ok = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|md| md.is_file() && md.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return ok(std::path::Path::new(program));
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| ok(&d.join(program))))
}

fn external(m: &ArgMatches, names: &[String]) -> Result<()> {
    let started = Instant::now();
    for f in ["where", "emit", "bad-records", "combine"] {
        if m.contains_id(f) {
            return Err(Error::Usage(format!(
                "--{f} does not go with a command after --"
            )));
        }
    }
    for f in ["words", "skip-bad", "header"] {
        if m.get_flag(f) {
            return Err(Error::Usage(format!(
                "--{f} does not go with a command after --"
            )));
        }
    }
    let mut cmdline = m
        .get_many::<String>("command")
        .into_iter()
        .flatten()
        .cloned();
    let program = cmdline.next().unwrap_or_default();
    if !findable(&program) {
        return Err(Error::Usage(format!(
            "cannot run '{program}': command not found"
        )));
    }
    let cmd = map::external::Cmd {
        program: program.into(),
        args: cmdline.map(Into::into).collect(),
    };
    let budget = args::budget_of(m)?;
    let jobs = args::threads_of(m);
    let chunk_size = match m.get_one::<String>("chunk-size") {
        Some(s) => match cli::size::parse_size(s) {
            Some(v) if v > 0 => v.min(1 << 40) as usize,
            _ => return Err(Error::Usage(format!("invalid chunk size '{s}'"))),
        },
        None => (16usize << 20).min(budget / (2 * (jobs + 2))).max(64 << 10),
    };
    let in_flight = chunk_size.saturating_mul(jobs + 2);
    let cfg = map::external::Config {
        jobs,
        chunk_size,
        retries: m.get_one::<u32>("retries").copied().unwrap_or(0),
        unordered: m.get_flag("unordered"),
        eol: eol_of(m),
        csv: args::format_of(m, names) == Some("csv"),
        count_records: args::stats_of(m).is_some(),
        buffer: budget.saturating_sub(in_flight).max(1 << 20),
        max_record: budget.max(extsort::RECORD_ALLOWANCE),
        tmp_dir: args::tmp_of(m),
        cancel: Some(cli::cleanup::cancel_flag()),
        temp_hook: Some(cli::cleanup::temp_hook),
        child_hook: Some(cli::cleanup::child_hook),
    };
    let mut inputs = Vec::with_capacity(names.len());
    for n in names {
        let r = record::input::open(n)
            .map_err(|e| Error::Usage(format!("cannot read {n}: {}", cli::error::describe(&e))))?;
        inputs.push((n.clone(), common::counted(r)));
    }
    let total = names
        .iter()
        .try_fold(0u64, |t, n| Some(t + record::input::known_size(n)?));
    let progress = Progress::new(m.get_flag("progress"), total);
    progress.phase("map", total);
    let out_path = m.get_one::<String>("output").map(PathBuf::from);
    let mut out = Output::open("bmap", out_path.as_deref())?;
    let st = map::external::run(&cfg, &cmd, inputs, &mut out).map_err(|e| match e {
        map::external::Error::Output(e) => Error::io("write error", e),
        map::external::Error::Input(c, e) => Error::io(c, e),
        map::external::Error::Interrupted => Error::Exit(130),
        e => Error::Runtime(e.to_string()),
    })?;
    let mut stats = Stats {
        threads: jobs,
        records_in: st.records_in,
        records_out: st.records_out,
        bytes_in: st.bytes_in,
        spill_runs: st.spill_files,
        spill_bytes: st.spill_bytes,
        ..Stats::default()
    };
    stats.extra.insert("chunks".into(), st.chunks.into());
    stats.extra.insert("retries".into(), st.retries.into());
    progress.finish();
    stats.bytes_out = out.commit()?;
    common::emit_stats("bmap", &stats, &args::stats_of(m), started)
}
