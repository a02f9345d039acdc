//! bsort: GNU sort in the C locale, external and parallel. Orchestration only: records and
//! keys come from `record`, the sort and merge from `extsort`, options and output from `cli`.

use clap::{Arg, ArgAction, ArgMatches, Command};
use cli::input;
use cli::setup;
use cli::Inputs;
use cli::{args, Error, Output, Progress, Result, Stats};
use extsort::Sorter;
use record::{CsvScratch, KeyOpts, RecordOrder};
use std::cmp::Ordering;
use std::io::Write;
use std::path::Path;
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
-m with more inputs than the open-file limit leaves room for merges them in batches into
temporary files under -T first, as GNU sort does.

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
        .arg(flag(
            "numeric",
            'n',
            "numeric-sort",
            "Compare keys as decimal numbers",
        ))
        .arg(flag(
            "general",
            'g',
            "general-numeric-sort",
            "Compare keys as floating-point numbers",
        ))
        .arg(flag(
            "human",
            'h',
            "human-numeric-sort",
            "Compare human-readable sizes (2K, 1G)",
        ))
        .arg(flag("reverse", 'r', "reverse", "Reverse the order"))
        .arg(flag(
            "fold",
            'f',
            "ignore-case",
            "Fold lower case to upper case",
        ))
        .arg(flag(
            "blanks",
            'b',
            "ignore-leading-blanks",
            "Ignore leading blanks of keys",
        ))
        .arg(flag(
            "dictionary",
            'd',
            "dictionary-order",
            "Consider only blanks and alphanumerics",
        ))
        .arg(flag(
            "nonprinting",
            'i',
            "ignore-nonprinting",
            "Consider only printable characters",
        ))
        .arg(flag(
            "stable",
            's',
            "stable",
            "Keep records with equal keys in input order (no last-resort comparison)",
        ))
        .arg(flag(
            "unique",
            'u',
            "unique",
            "Output only the first of each run of records with equal keys",
        ))
        .arg(args::zero())
        .arg(flag(
            "merge",
            'm',
            "merge",
            "Merge already-sorted inputs; do not sort",
        ))
        .arg(flag(
            "check",
            'c',
            "check",
            "Check that the input is sorted; report the first disorder",
        ))
        .arg(
            Arg::new("check-quiet")
                .short('C')
                .long("check-quiet")
                .action(ArgAction::SetTrue)
                .help("Like -c, but report nothing (exit status only)"),
        )
        .arg(args::output())
        .args(args::resources())
        .args(args::sort_tuning())
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
    if check && m.contains_id(args::OUTPUT) {
        return Err(Error::Usage("options -c and -o are incompatible".into()));
    }
    // More inputs to merge than descriptors allow: merge them in batches first (GNU's way).
    let premerged = if m.get_flag("merge") && !check {
        premerge(m, names, global)?
    } else {
        Premerged::default()
    };
    let setup = match &premerged.names {
        Some(n) => setup::setup_names(m, n.clone(), true, global, None, false)?,
        None => setup::setup(m, true, global, None)?,
    };
    let setup::Setup {
        format,
        eol,
        mut inputs,
        header: header_rec,
        keys,
        budget,
        threads,
        stats_dest,
        key_texts: _,
    } = setup;
    let order = RecordOrder::new(format, keys, global, stable || unique);
    let mut stats = Stats {
        threads,
        ..Stats::default()
    };
    let progress = Progress::new(args::progress_of(m), inputs.total_size());

    if check {
        let quiet = m.get_flag("check-quiet");
        let res = check_sorted(&order, &mut inputs, unique, quiet, eol, &mut stats);
        progress.finish();
        setup::emit_stats("bsort", &stats, &stats_dest, started)?;
        return res;
    }

    let mut cfg = setup::sort_config(
        m,
        budget,
        threads,
        (stable, unique),
        args::sort_tuning_of(m),
    );
    // A merge opens its inputs at once, within the descriptors counted for the batches.
    cfg.fan_in = cfg.fan_in.max(premerged.batch);
    let out_path = args::output_of(m);
    let sort_stats;
    if m.get_flag("merge") {
        // The inputs are open already; the output is only opened once they all opened.
        let mut out = Output::open("bsort", out_path.as_deref())?;
        write_header(&mut out, header_rec.as_deref(), eol)?;
        let (merged, read) = input::merge_inputs(&order, &mut inputs, &cfg, eol, &mut |block| {
            out.write_all(block)
        })?;
        sort_stats = merged;
        stats.bytes_out = out.commit()?;
        stats.records_in = sort_stats.records_out;
        stats.bytes_in = read;
        if premerged.names.is_some() {
            stats.merge_passes += premerged.passes;
            stats.spill_bytes += premerged.bytes;
        }
        drop(premerged);
    } else {
        let mut sorter = Sorter::new(order, cfg)?;
        progress.phase("read", inputs.total_size());
        let mut scratch = CsvScratch::default();
        let extracts = format.extracts();
        let ord = sorter.order();
        let ord = &*ord;
        inputs.for_each(&progress, |rec, at| {
            if extracts {
                sorter
                    .push_with(rec.len() + 16, |buf| ord.encode(rec, buf, &mut scratch))
                    .map_err(|e| match e {
                        extsort::PushError::Sort(e) => Error::from(e),
                        extsort::PushError::Build(e) => Error::Runtime(format!("{at}: {e}")),
                    })
            } else {
                sorter.push(rec).map_err(|e| input::sort_error(e, &at))
            }
        })?;
        stats.bytes_in = inputs.bytes;
        cli::progress::trace(format_args!("read done at {:?}", started.elapsed()));
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
    cli::progress::trace(format_args!("all done at {:?}", started.elapsed()));
    stats.records_out = sort_stats.records_out;
    stats.add_sort(&sort_stats);
    setup::emit_stats("bsort", &stats, &stats_dest, started)
}

/// Inputs merged ahead in batches: the names to merge now (`None`: the inputs as given),
/// and the temporary directory holding the batches (removed when this is dropped).
#[derive(Default)]
struct Premerged {
    names: Option<Vec<String>>,
    dir: Option<Scratch>,
    /// How many inputs one merge may open at once.
    batch: usize,
    passes: u64,
    bytes: u64,
}

/// A temporary directory registered for removal on a signal, removed when dropped.
struct Scratch(tempfile::TempDir);

impl Drop for Scratch {
    fn drop(&mut self) {
        cli::cleanup::temp_hook(self.0.path(), false);
    }
}

/// Descriptors free for the inputs of one merge: the soft limit less those open now (the
/// listing's own descriptor aside), less one for the merge's output. bsort holds five of
/// its own: standard input, output and error, and the signal thread's socket pair.
fn free_descriptors() -> usize {
    let open = std::fs::read_dir("/proc/self/fd").map_or(5, |d| d.count() as u64 - 1);
    cli::open_file_limit().saturating_sub(open + 1) as usize
}

/// Merge consecutive batches of the inputs (order kept, so ties keep their input order)
/// into temporary files under -T until one last merge can open them all at once.
fn premerge(m: &ArgMatches, names: Vec<String>, global: KeyOpts) -> Result<Premerged> {
    let free = free_descriptors();
    let batch = args::sort_tuning_of(m)
        .batch_size
        .map_or(64, |b| b as usize)
        .min(free)
        .max(2);
    if names.len() <= batch {
        return Ok(Premerged {
            batch,
            ..Premerged::default()
        });
    }
    if free < 2 {
        return Err(Error::Runtime(format!(
            "cannot merge {} inputs: the open-file limit ({}) leaves fewer than 2 descriptors for them (raise ulimit -n)",
            names.len(),
            cli::open_file_limit()
        )));
    }
    let parent = args::tmp_of(m);
    let dir = tempfile::Builder::new()
        .prefix("batchkit-")
        .tempdir_in(&parent)
        .map_err(|e| {
            Error::io(
                format!(
                    "cannot create a temporary directory in {}",
                    parent.display()
                ),
                e,
            )
        })?;
    cli::cleanup::temp_hook(dir.path(), true);
    let mut pre = Premerged {
        names: None,
        dir: Some(Scratch(dir)),
        batch,
        passes: 0,
        bytes: 0,
    };
    let base = pre
        .dir
        .as_ref()
        .map(|d| d.0.path().to_path_buf())
        .unwrap_or_default();
    let mut names = names;
    let mut made = 0u64;
    while names.len() > batch {
        let mut next = Vec::with_capacity(names.len() / batch + 1);
        for group in names.chunks(batch) {
            if group.len() == 1 {
                next.push(group[0].clone());
                continue;
            }
            let path = base.join(format!("merge-{made:06}"));
            made += 1;
            pre.bytes += merge_batch(m, group, global, batch, &path)?;
            next.push(path.to_string_lossy().into_owned());
        }
        // Batches written in this pass are inputs of the next; the originals are left alone.
        names = next;
        pre.passes += 1;
    }
    pre.names = Some(names);
    Ok(pre)
}

/// Merge `group` into the plain file `path` (header first, as an input has it).
fn merge_batch(
    m: &ArgMatches,
    group: &[String],
    global: KeyOpts,
    batch: usize,
    path: &Path,
) -> Result<u64> {
    let setup::Setup {
        format,
        eol,
        mut inputs,
        header,
        keys,
        budget,
        threads,
        ..
    } = setup::setup_names(m, group.to_vec(), true, global, None, false)?;
    let stable = m.get_flag("stable");
    let unique = m.get_flag("unique");
    let order = RecordOrder::new(format, keys, global, stable || unique);
    let mut cfg = setup::sort_config(
        m,
        budget,
        threads,
        (stable, unique),
        args::sort_tuning_of(m),
    );
    // The whole batch at once: its descriptors were counted (no temporary runs).
    cfg.fan_in = batch;
    let ctx = || format!("cannot write a temporary file {}", path.display());
    let file = std::fs::File::create(path).map_err(|e| Error::io(ctx(), e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut written = 0u64;
    if let Some(h) = &header {
        w.write_all(h)
            .and_then(|_| w.write_all(&[eol]))
            .map_err(|e| Error::io(ctx(), e))?;
        written += h.len() as u64 + 1;
    }
    input::merge_inputs(&order, &mut inputs, &cfg, eol, &mut |block| {
        written += block.len() as u64;
        w.write_all(block)
    })?;
    w.flush().map_err(|e| Error::io(ctx(), e))?;
    Ok(written)
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
    order: &RecordOrder,
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
    let ord = order;
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
