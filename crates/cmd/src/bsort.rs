//! bsort: GNU sort in the C locale, external and parallel. Orchestration only: records and
//! keys come from `record`, the sort and merge from `extsort`, options and output from `cli`.

use crate::common::{self, Inputs};
use clap::{Arg, ArgAction, ArgMatches, Command};
use cli::{args, Error, Output, Progress, Result, Stats};
use extsort::{Order, Sorter, Source};
use record::{CsvScratch, KeyOpts, RecordOrder};
use std::cmp::Ordering;
use std::io::Write;
use std::time::Instant;

const ABOUT: &str = "Sort records by key: GNU sort in the C locale, external and parallel";

const AFTER_HELP: &str = "\
Keys (-k SPEC, repeatable; several make a composite key compared in order):
  N            field N only (unlike GNU sort, where -kN runs to the end of the line)
  N,M          fields N through M, separators included;  N.C / M.C character offsets
  NAME, a.b    a column name (with --header) or a JSON path (JSON lines); flags after ':'
  flags        n numeric, g general float, h human (2K, 1G), r reverse, f fold case,
               b skip blanks, d dictionary order, i ignore non-printing
Global -n -g -h -r -f -b -d -i apply to every key that has no flags of its own.

Without -t and --format, fields are separated as GNU sort separates them: a field starts
where a blank follows a non-blank and keeps its leading blanks. Ties between keys are broken
by comparing whole records bytewise unless -s or -u is given. Output is byte for byte the
output of `LC_ALL=C sort` with the same flags.

Inputs larger than -S are sorted in runs spilled under -T and merged (several passes when
there are more runs than --batch-size). A record larger than -S is an error: raise -S.

Exit status: 0 success (or a closed output pipe), 1 runtime error or disorder (-c/-C),
2 usage error or unreadable input; 130/143 after SIGINT/SIGTERM (no partial output left).

Examples:
  bsort -t $'\\t' -k1,1 data.tsv              sort a TSV by its first column
  bsort -t $'\\t' -k2,2nr -k1,1 data.tsv      by column 2 numerically descending, then column 1
  du -a | bsort -k1,1n                        GNU-style blank-separated fields
  bsort -S 1G -T /scratch -o out.tsv big.tsv  external sort within 1 GiB, atomic output
  bsort --header --format csv -k price:n items.csv
  bsort --format jsonl -k user.id events.jsonl
  bsort -m -t $'\\t' -k1,1 part-*             merge already-sorted files
  bsort -c -t $'\\t' -k1,1 data.tsv           check order; report the first disorder";

/// The clap definition: the one source of `--help` and `man/bsort.1`.
pub fn command() -> Command {
    let flag = |name: &'static str, short: char, long: &'static str, help: &'static str| {
        Arg::new(name)
            .short(short)
            .long(long)
            .action(ArgAction::SetTrue)
            .help(help)
    };
    Command::new("bsort")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .after_help(AFTER_HELP)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(args::key("Sort by this key (see KEYS below); repeatable"))
        .arg(args::delimiter())
        .arg(flag("numeric", 'n', "numeric-sort", "Compare keys as decimal numbers"))
        .arg(flag("general", 'g', "general-numeric-sort", "Compare keys as floating-point numbers"))
        .arg(flag("human", 'h', "human-numeric-sort", "Compare human-readable sizes (2K, 1G)"))
        .arg(flag("reverse", 'r', "reverse", "Reverse the order"))
        .arg(flag("fold", 'f', "ignore-case", "Fold lower case to upper case"))
        .arg(flag("blanks", 'b', "ignore-leading-blanks", "Ignore leading blanks of keys"))
        .arg(flag("dictionary", 'd', "dictionary-order", "Consider only blanks and alphanumerics"))
        .arg(flag("nonprinting", 'i', "ignore-nonprinting", "Consider only printable characters"))
        .arg(flag("stable", 's', "stable", "Keep records with equal keys in input order (no last-resort comparison)"))
        .arg(flag("unique", 'u', "unique", "Output only the first of each run of records with equal keys"))
        .arg(args::zero())
        .arg(flag("merge", 'm', "merge", "Merge already-sorted inputs; do not sort"))
        .arg(flag("check", 'c', "check", "Check that the input is sorted; report the first disorder"))
        .arg(
            Arg::new("check-quiet")
                .short('C')
                .long("check-quiet")
                .action(ArgAction::SetTrue)
                .help("Like -c, but report nothing (exit status only)"),
        )
        .arg(args::output())
        .args(args::resources())
        .arg(
            Arg::new("batch-size")
                .long("batch-size")
                .value_name("NMERGE")
                .value_parser(clap::value_parser!(u32).range(2..))
                .help("Merge at most NMERGE runs at once [default: 64, bounded by the open-file limit]"),
        )
        .arg(
            Arg::new("compress-temp")
                .long("compress-temp")
                .action(ArgAction::SetTrue)
                .help("Compress spilled runs (zstd): less disk, more CPU"),
        )
        .arg(args::format())
        .arg(args::header())
        .args(args::observe())
        .arg(
            Arg::new("help")
                .long("help")
                .action(ArgAction::Help)
                .help("Print help"),
        )
        .arg(
            Arg::new("version")
                .long("version")
                .action(ArgAction::Version)
                .help("Print version"),
        )
        .arg(args::files())
}

/// The binary's entry point.
pub fn main() -> ! {
    cli::main("bsort", command(), run)
}

/// extsort's view of the record order.
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

fn global_opts(m: &ArgMatches) -> KeyOpts {
    let f = |n: &str| m.get_flag(n);
    KeyOpts {
        numeric: f("numeric"),
        general: f("general"),
        human: f("human"),
        reverse: f("reverse"),
        fold: f("fold"),
        dictionary: f("dictionary"),
        ignore_nonprinting: f("nonprinting"),
        skip_start_blanks: f("blanks"),
        skip_end_blanks: f("blanks"),
    }
}

fn run(m: &ArgMatches) -> Result<()> {
    let started = Instant::now();
    let names = args::inputs(m);
    let global = global_opts(m);
    record::keyspec::check_opts("global options", &global)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let check = m.get_flag("check") || m.get_flag("check-quiet");
    let stable = m.get_flag("stable");
    let unique = m.get_flag("unique");
    if m.get_flag("check") && m.get_flag("check-quiet") {
        return Err(Error::Usage("options -c and -C are incompatible".into()));
    }
    if check && names.len() > 1 {
        return Err(Error::Usage(format!(
            "extra operand '{}' not allowed with -c",
            names[1]
        )));
    }
    if check && m.contains_id("output") {
        return Err(Error::Usage("options -c and -o are incompatible".into()));
    }
    let common::Setup {
        format,
        eol,
        mut inputs,
        header: header_rec,
        keys,
        budget,
        threads,
        stats_dest,
        key_texts: _,
    } = common::setup(m, true, global, None)?;
    let order = SortOrder(RecordOrder::new(format, keys, global, stable || unique));
    let mut stats = Stats {
        threads,
        ..Stats::default()
    };
    let progress = Progress::new(m.get_flag("progress"), inputs.total_size());

    if check {
        let quiet = m.get_flag("check-quiet");
        let res = check_sorted(&order, &mut inputs, unique, quiet, eol, &mut stats);
        progress.finish();
        common::emit_stats("bsort", &stats, &stats_dest, started)?;
        return res;
    }

    let cfg = common::sort_config(m, budget, threads, stable, unique);
    let out_path = m.get_one::<String>("output").map(std::path::PathBuf::from);
    let sort_stats;
    if m.get_flag("merge") {
        let merged_bytes = std::cell::Cell::new(0u64);
        // Sources read their inputs lazily; the output is only opened once they all opened.
        let mut sources: Vec<Box<dyn Source + '_>> = Vec::new();
        for input in inputs.take_all() {
            sources.push(Box::new(common::RecordSource::new(
                input,
                &order.0,
                &merged_bytes,
            )));
        }
        let mut out = Output::open("bsort", out_path.as_deref())?;
        write_header(&mut out, header_rec.as_deref(), eol)?;
        let ord = &order;
        let emit = |item: &[u8], buf: &mut Vec<u8>| {
            buf.extend_from_slice(ord.0.record(item));
            buf.push(eol);
        };
        sort_stats = extsort::merge(ord, sources, &cfg, &emit, &mut |block| out.write_all(block))?;
        stats.bytes_out = out.commit()?;
        stats.records_in = sort_stats.records_out;
        stats.bytes_in = merged_bytes.get();
    } else {
        let mut sorter = Sorter::new(order, cfg)?;
        progress.phase("read", inputs.total_size());
        let mut scratch = CsvScratch::default();
        let extracts = format.extracts();
        let ord = sorter.order();
        let ord = &ord.0;
        inputs.for_each(&progress, |rec, at| {
            if extracts {
                sorter
                    .push_with(rec.len() + 16, |buf| ord.encode(rec, buf, &mut scratch))
                    .map_err(|e| match e {
                        extsort::PushError::Sort(e) => Error::from(e),
                        extsort::PushError::Build(e) => Error::Runtime(format!("{at}: {e}")),
                    })
            } else {
                sorter.push(rec).map_err(|e| common::sort_error(e, &at))
            }
        })?;
        stats.bytes_in = inputs.bytes;
        extsort::trace(format_args!("read done at {:?}", started.elapsed()));
        progress.phase("merge", None);
        let mut out = Output::open("bsort", out_path.as_deref())?;
        write_header(&mut out, header_rec.as_deref(), eol)?;
        let emit = |item: &[u8], buf: &mut Vec<u8>| {
            buf.extend_from_slice(ord.record(item));
            buf.push(eol);
        };
        sort_stats = sorter.finish(&emit, &mut |block| out.write_all(block))?;
        stats.records_in = sort_stats.records_in;
        stats.bytes_out = out.commit()?;
    }
    progress.finish();
    extsort::trace(format_args!("all done at {:?}", started.elapsed()));
    stats.records_out = sort_stats.records_out;
    stats.add_sort(&sort_stats);
    common::emit_stats("bsort", &stats, &stats_dest, started)
}

fn write_header(out: &mut Output, header: Option<&[u8]>, eol: u8) -> Result<()> {
    if let Some(h) = header {
        out.write_all(h)
            .and_then(|_| out.write_all(&[eol]))
            .map_err(|e| Error::io("write error", e))?;
    }
    Ok(())
}

/// `-c`/`-C`: find the first record out of order (with `-u`, also the first repeated key).
fn check_sorted(
    order: &SortOrder,
    inputs: &mut Inputs,
    unique: bool,
    quiet: bool,
    eol: u8,
    stats: &mut Stats,
) -> Result<()> {
    let mut prev: Vec<u8> = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut have_prev = false;
    let mut scratch = CsvScratch::default();
    let mut disorder: Option<(String, Vec<u8>)> = None;
    let ord = &order.0;
    inputs.for_each_until(|rec, at| {
        cur.clear();
        ord.encode(rec, &mut cur, &mut scratch)
            .map_err(|e| Error::Runtime(format!("{at}: {e}")))?;
        stats.records_in += 1;
        if have_prev {
            let c = order.compare(&prev, &cur);
            if c == Ordering::Greater || (unique && c == Ordering::Equal) {
                disorder = Some((at.to_string(), rec.to_vec()));
                return Ok(false);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
        have_prev = true;
        Ok(true)
    })?;
    match disorder {
        None => Ok(()),
        Some((at, rec)) => {
            if !quiet {
                let mut msg = format!("bsort: {at}: disorder: ").into_bytes();
                msg.extend_from_slice(&rec);
                msg.push(eol);
                let _ = std::io::stderr().write_all(&msg);
            }
            Err(Error::Exit(1))
        }
    }
}
