//! breduce: group-by aggregation. Streaming mode over key-grouped input in constant memory
//! per group; `--hash` over unsorted input, groups emitted sorted by key.

use crate::common::{self, At, Setup};
use agg::engine::aggs::{self, Aggs};
use agg::engine::spill::{check_spillable, finish_spilled, spill_groups, SpillOrder};
use agg::engine::{hash, Sink};
use agg::table::Groups;
use agg::{Spec, State};
use clap::{Arg, ArgAction, ArgMatches, Command};
use cli::bad::BadRecords;
use cli::{args, Error, Output, Progress, Result, Stats};
use extsort::Sorter;
use record::{CsvScratch, Format, KeyOpts, RecordOrder};
use std::cmp::Ordering;
use std::io::Write;
use std::time::Instant;

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
        .arg(args::delimiter())
        .arg(args::format())
        .arg(args::header())
        .arg(args::zero())
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

/// Writes groups' lines to the (buffered) output and counts them.
pub(crate) struct GroupWriter {
    out: Output,
    line: Vec<u8>,
    groups: u64,
    what: aggs::Output,
    eol: u8,
}

impl GroupWriter {
    pub(crate) fn group(
        &mut self,
        aggs: &Aggs,
        order: &RecordOrder,
        item: &[u8],
        states: &mut [State],
    ) -> Result<()> {
        Ok(Sink::group(self, aggs, order, item, states)?)
    }
}

impl Sink for GroupWriter {
    fn what(&self) -> aggs::Output {
        self.what
    }

    fn lines(&mut self, bytes: &[u8], groups: u64) -> agg::engine::Result<()> {
        self.groups += groups;
        self.out
            .write_all(bytes)
            .map_err(|e| agg::engine::Error::Io("write error".into(), e))
    }

    fn group(
        &mut self,
        aggs: &Aggs,
        order: &RecordOrder,
        item: &[u8],
        states: &mut [State],
    ) -> agg::engine::Result<()> {
        self.line.clear();
        aggs.write(order, item, states, self.what, self.eol, &mut self.line)?;
        self.groups += 1;
        self.out
            .write_all(&self.line)
            .map_err(|e| agg::engine::Error::Io("write error".into(), e))
    }
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
    // Positionals: AGGs, then files.
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
    let merge = m.get_flag("merge");
    // A directory (bsplit/bshuffle output) is read part by part, as its manifest says.
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
        files = d.parts.clone();
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
    } = common::setup_with_files(m, &files, KeyOpts::default(), Some("1"), merge)?;
    // Parts of a directory hash-partitioned and sorted by our key hold disjoint key ranges:
    // streaming restarts its order check at each part (the output is in part order).
    let mut fresh_parts = false;
    if let Some(d) = &dir {
        let ours = if key_texts.is_empty() {
            vec!["1".to_string()]
        } else {
            key_texts.clone()
        };
        let trusted = d.hashed_by.as_ref() == Some(&ours) && d.sorted_by.as_ref() == Some(&ours);
        if !m.get_flag("hash") && !trusted {
            return Err(Error::Usage(format!(
                "{}: its _SUCCESS does not say its parts are hash-partitioned and sorted by -k {}; use --hash",
                d.name,
                ours.join(" -k ")
            )));
        }
        fresh_parts = trusted;
    }
    let header_fields = header.as_ref().map(|h| {
        let read_as = if merge {
            Format::Text(record::FieldSplit::Char(b'\t'))
        } else {
            format
        };
        common::split_header(h, read_as)
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
    let out_path = m.get_one::<String>("output").map(std::path::PathBuf::from);
    let mut stats = Stats {
        threads,
        ..Stats::default()
    };
    let progress = Progress::new(m.get_flag("progress"), inputs.total_size());
    let mut item = Vec::new();
    let mut key = Vec::new();
    let mut scratch = CsvScratch::default();
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
    // One record's item and, for --merge, its states; a bad record is an error here.
    let mut read =
        |rec: &[u8], at: &At, item: &mut Vec<u8>, aggs: &mut Aggs| -> Result<Option<Vec<State>>> {
            if merge {
                aggs.partial_item(&order, rec, item, at)?;
                return Ok(aggs.partial_states(rec, at).map(Some)?);
            }
            aggs.prepare(rec, at)?;
            let it = common::item_of(&order, rec, item, &mut scratch, at)?;
            if !order.format.extracts() {
                // A TSV record is its own item (nothing copied); an empty `item` says so.
                debug_assert!(std::ptr::eq(it, rec));
                item.clear();
            }
            if skipping {
                aggs.check(rec, at)?;
            }
            Ok(None)
        };
    // The Hadoop Streaming key (one whole field, plain bytes) is found with the values'
    // fields in one scan of the record, and compared as bytes.
    let plain = if merge { None } else { order.plain_field() };
    if let Some((_, f)) = plain {
        aggs.also_scan(f);
    }
    // Feed a record (or a partial line's states) to a group.
    let feed = |aggs: &Aggs,
                states: &mut [State],
                rec: &[u8],
                partial: Option<Vec<State>>,
                at: &At|
     -> Result<usize> {
        match partial {
            Some(p) => {
                let mut grew = 0;
                for (a, b) in states.iter_mut().zip(p) {
                    if matches!(b, State::Set(_) | State::Collect(..)) {
                        grew += 64;
                    }
                    a.merge(b);
                }
                Ok(grew)
            }
            None => Ok(aggs.update(states, rec, at)?),
        }
    };
    // The usual case — delimited text, one plain key field, no --header or --skip-bad —
    // reads in blocks on a thread of its own and aggregates on -j threads, with the same
    // bytes for any -j (see hashagg); everything else takes the general path below.
    let block_path = match plain {
        Some((_, f)) if !skipping && header.is_none() => Some(hash::Plan {
            order: &order,
            aggs: &aggs,
            field: f,
            eol,
            threads,
            budget,
            cfg: common::sort_config(m, budget / 2, threads, true, false),
        }),
        _ => None,
    };
    if let Some(plan) = &block_path {
        let list = inputs.take_all();
        let names: Vec<String> = list.iter().map(|i| i.name.clone()).collect();
        let max_record = budget.max(extsort::RECORD_ALLOWANCE);
        // The engine's threads take blocks cut by our input layer.
        let read = move |give: &mut dyn FnMut(std::sync::Arc<common::Block>)| {
            common::read_blocks(list, eol, max_record, give).map_err(engine_error)
        };
        let mut counts = agg::engine::Counts::default();
        inputs.bytes += if m.get_flag("hash") {
            hash::run(plan, names, read, &mut out, &mut counts)?
        } else if threads > 1 {
            hash::stream_parallel(plan, names, read, &mut out, &mut counts, fresh_parts)?
        } else {
            hash::stream(plan, names, read, &mut out, &mut counts, fresh_parts)?
        };
        stats.records_in += counts.records_in;
        if let Some(s) = &counts.sort {
            stats.add_sort(s);
        }
    } else if m.get_flag("hash") {
        // Groups live in a hash table within half the budget; when it fills, their partial
        // states are spilled, sorted by key, through extsort (the other half) and merged back
        // at the end, so any number of groups fits.
        // Without items when the key says all (the first field, plain bytes): the key is
        // then the item the writer and the orders need.
        let keep_items = !matches!(plain, Some((_, 0)));
        let mut groups = Groups::new(aggs.specs.iter().map(|s| s.op).collect(), keep_items);
        let mut grown = 0usize;
        let limit = (budget / 2).max(1);
        let mut sorter: Option<Sorter<SpillOrder>> = None;
        let cfg = common::sort_config(m, budget / 2, threads, true, false);
        let spill = |groups: &mut Groups, sorter: &mut Option<Sorter<SpillOrder>>| -> Result<()> {
            if sorter.is_none() {
                *sorter = Some(Sorter::new(SpillOrder(order.clone()), cfg.clone())?);
            }
            match sorter {
                Some(s) => Ok(spill_groups(groups, s)?),
                None => Ok(()),
            }
        };
        inputs.for_each(&progress, |rec, at| {
            stats.records_in += 1;
            let partial = match read(rec, &at, &mut item, &mut aggs) {
                Ok(p) => p,
                Err(e) => {
                    bad.check(Err(e), rec)?;
                    return Ok(());
                }
            };
            let it: &[u8] = if item.is_empty() { rec } else { &item };
            let k: &[u8] = match plain {
                Some((_, f)) => aggs.field(rec, f),
                None => {
                    key.clear();
                    order.key_bytes(it, &mut key);
                    &key
                }
            };
            // One hash per record; the key (and item) copied only for a new group.
            let (states, new) = groups.states_for(k, it);
            if new {
                check_spillable(&cfg, budget, &at, it, k, keep_items)?;
            }
            grown += feed(&aggs, states, rec, partial, &at)?;
            if grown + groups.bytes() > limit {
                spill(&mut groups, &mut sorter)?;
                grown = 0;
            }
            Ok(())
        })?;
        if sorter.is_some() {
            spill(&mut groups, &mut sorter)?;
        }
        if let Some(s) = sorter.take() {
            stats.add_sort(&finish_spilled(s, &aggs, &order, &mut out)?);
        }
        // Whatever never spilled, sorted by key: by normalized keys (bytes whose order is
        // the key order, made once per group), so that the sort never re-reads records.
        let mut norms: Vec<u8> = Vec::new();
        let mut sorted: Vec<(usize, u32, usize)> = Vec::with_capacity(groups.len());
        let mut exact = true;
        for g in 0..groups.len() {
            let start = norms.len();
            if keep_items {
                exact &= order.normalized(groups.item(g), &mut norms);
            } else {
                // A plain first-field key: its bytes are its order.
                norms.extend_from_slice(groups.key(g));
            }
            sorted.push((start, (norms.len() - start) as u32, g));
        }
        let norm = |e: &(usize, u32, usize)| &norms[e.0..e.0 + e.1 as usize];
        sorted.sort_unstable_by(|a, b| {
            let by_keys = if exact {
                // Equal normalized keys may still differ in the order (-g compares a prefix).
                norm(a)
                    .cmp(norm(b))
                    .then_with(|| order.compare_keys(groups.item(a.2), groups.item(b.2)))
            } else {
                order.compare_keys(groups.item(a.2), groups.item(b.2))
            };
            by_keys.then_with(|| groups.key(a.2).cmp(groups.key(b.2)))
        });
        for &(_, _, g) in &sorted {
            let (it, states) = groups.item_and_states(g);
            out.group(&aggs, &order, it, states)?;
        }
    } else {
        // The current group: its first record's item (for key comparisons) and states.
        // The current group: its first record's item (for key comparisons and output), its
        // key bytes (with a plain key) and its states.
        let mut group: Option<(Vec<u8>, Vec<u8>, Vec<State>)> = None;
        let mut failed = None;
        let mut part_name: *const str = "";
        inputs.for_each(&progress, |rec, at| {
            stats.records_in += 1;
            if failed.is_some() {
                // Keep reading to the end (the Hadoop Streaming contract), ignoring the rest.
                return Ok(());
            }
            let partial = match read(rec, &at, &mut item, &mut aggs) {
                Ok(p) => p,
                Err(e) => {
                    bad.check(Err(e), rec)?;
                    return Ok(());
                }
            };
            let it: &[u8] = if item.is_empty() { rec } else { &item };
            if fresh_parts && !std::ptr::eq(at.name, part_name) {
                // A new part: its keys are none of the previous parts'.
                part_name = at.name;
                if let Some((first, _, mut states)) = group.take() {
                    out.group(&aggs, &order, &first, &mut states)?;
                }
            }
            let same = match &group {
                Some((first, gk, _)) => match match plain {
                    Some((_, f)) => gk.as_slice().cmp(aggs.field(rec, f)),
                    None => order.compare_keys(first, it),
                } {
                    Ordering::Equal => true,
                    Ordering::Less => false,
                    Ordering::Greater => {
                        failed = Some(Error::Runtime(format!(
                            "{at}: input is not sorted by key; sort it with bsort or use --hash"
                        )));
                        return Ok(());
                    }
                },
                None => false,
            };
            if !same {
                if let Some((first, _, mut states)) = group.take() {
                    out.group(&aggs, &order, &first, &mut states)?;
                }
                let gk = match plain {
                    Some((_, f)) => aggs.field(rec, f).to_vec(),
                    None => Vec::new(),
                };
                group = Some((it.to_vec(), gk, aggs.new_states()));
            }
            if let Some((_, _, states)) = &mut group {
                feed(&aggs, states, rec, partial, &at)?;
            }
            Ok(())
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        if let Some((first, _, mut states)) = group.take() {
            out.group(&aggs, &order, &first, &mut states)?;
        }
    }
    stats.bytes_in = inputs.bytes;
    stats.records_out = out.groups;
    stats.bad_records = bad.finish()?;
    stats.bytes_out = out.out.commit()?;
    progress.finish();
    common::emit_stats("breduce", &stats, &stats_dest, started)
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
