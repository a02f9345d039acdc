//! What every record-reading tool works out from its command line before reading records
//! (format, inputs, header, keys, budget), the external sort's settings, `--stats`, and
//! directory outputs staged and committed under the signal cleanup.

use crate::input::Inputs;
use crate::{args, Error, Result};
use clap::ArgMatches;
use record::{FieldSplit, Format, Key, KeyOpts, KeySpec};

/// What every sorting tool works out from its command line before reading records.
pub struct Setup {
    pub format: Format,
    pub eol: u8,
    pub inputs: Inputs,
    /// The first input's header record (`--header`).
    pub header: Option<Vec<u8>>,
    pub keys: Vec<Key>,
    /// The `-k` texts as given, for manifests.
    pub key_texts: Vec<String>,
    pub budget: usize,
    pub threads: usize,
    pub stats_dest: Option<String>,
}

/// Resolve format, inputs, header and keys. `blank_default`: without `-t` and `--format`,
/// split fields on blanks as GNU sort does (bsort); otherwise TSV. `default_key`: the key
/// when no `-k` is given (`None`: the whole record).
pub fn setup(
    m: &ArgMatches,
    blank_default: bool,
    global: KeyOpts,
    default_key: Option<&str>,
) -> Result<Setup> {
    setup_names(
        m,
        args::inputs(m),
        blank_default,
        global,
        default_key,
        false,
    )
}

/// [`setup`] for TSV-by-default tools whose inputs are not `FILE...` (breduce's positionals
/// mix aggregates and files).
///
/// `partial_input`: the records are partial lines (breduce --merge), always TSV: keys are
/// still resolved for the declared format (JSON paths stay paths), names against the TSV
/// header.
pub fn setup_with_files(
    m: &ArgMatches,
    files: &[String],
    global: KeyOpts,
    default_key: Option<&str>,
    partial_input: bool,
) -> Result<Setup> {
    let names = if files.is_empty() {
        vec!["-".to_string()]
    } else {
        files.to_vec()
    };
    setup_names(m, names, false, global, default_key, partial_input)
}

/// [`setup`] over the inputs `names` instead of the command line's (bsort's batched merge).
pub fn setup_names(
    m: &ArgMatches,
    names: Vec<String>,
    blank_default: bool,
    global: KeyOpts,
    default_key: Option<&str>,
    partial_input: bool,
) -> Result<Setup> {
    let eol = args::eol_of(m);
    let format = format_of(m, &names, blank_default)?;
    let mut specs = args::keys_of(m)?;
    let key_texts: Vec<String> = specs.iter().map(|s| s.text.clone()).collect();
    if specs.is_empty() {
        if let Some(k) = default_key {
            specs.push(KeySpec::parse(k)?);
        }
    }
    let budget = args::budget_of(m)?;
    let threads = args::threads_of(m);
    let stats_dest = args::stats_of(m);
    let mut inputs = Inputs::open(&names, eol, budget.max(extsort::RECORD_ALLOWANCE))?;
    let read_as = if partial_input {
        Format::Text(FieldSplit::Char(b'\t'))
    } else {
        format
    };
    inputs.set_csv(matches!(read_as, Format::Csv(_)));
    let header = if args::header_of(m) && read_as != Format::Jsonl {
        inputs.read_headers(read_as)?
    } else {
        None
    };
    let fields = header.as_ref().map(|h| record::split_header(h, read_as));
    let keys =
        record::resolve_keys(&specs, &global, format, fields.as_deref()).map_err(Error::Usage)?;
    Ok(Setup {
        format,
        eol,
        inputs,
        header,
        keys,
        key_texts,
        budget,
        threads,
        stats_dest,
    })
}

/// The record format from `--format` (or the first input's extension) and `-t`: CSV with
/// `,`, JSON lines, or delimited text. Without either, `blank_default` splits fields on
/// blanks as GNU sort does (bsort); otherwise TSV.
pub fn format_of(m: &ArgMatches, names: &[String], blank_default: bool) -> Result<Format> {
    let delim = args::delimiter_of(m)?;
    Ok(match args::format_of(m, names) {
        Some("csv") => Format::Csv(delim.unwrap_or(b',')),
        Some("jsonl") => Format::Jsonl,
        Some(_) => Format::Text(FieldSplit::Char(delim.unwrap_or(b'\t'))),
        None => match (delim, blank_default) {
            (Some(d), _) => Format::Text(FieldSplit::Char(d)),
            (None, true) => Format::Text(FieldSplit::Blank),
            (None, false) => Format::Text(FieldSplit::Char(b'\t')),
        },
    })
}

/// The external sort's settings: `budget` and `threads` (from `-S -j`), `-T`, and `tuning`
/// (`--batch-size --compress-temp`, see [`args::sort_tuning_of`]).
pub fn sort_config(
    m: &ArgMatches,
    budget: usize,
    threads: usize,
    (stable, unique): (bool, bool),
    tuning: args::SortTuning,
) -> extsort::Config {
    let nofile = crate::open_file_limit().saturating_sub(16).max(2) as usize;
    // Spill directories of runs that were killed (SIGKILL leaves them) go first.
    let tmp_parent = args::tmp_of(m);
    crate::cleanup::sweep(&tmp_parent, "batchkit-", "");
    let fan_in = tuning.batch_size.map_or(64, |b| b as usize).min(nofile);
    extsort::Config {
        budget,
        tmp_parent,
        threads,
        fan_in,
        compress: tuning.compress,
        stable,
        unique,
        cancel: Some(crate::cleanup::cancel_flag()),
        temp_hook: Some(crate::cleanup::temp_hook),
        event_hook: Some(crate::progress::sort_event),
    }
}

/// Write `--stats` when asked.
pub fn emit_stats(
    tool: &str,
    stats: &crate::Stats,
    dest: &Option<String>,
    started: std::time::Instant,
) -> Result<()> {
    if let Some(d) = dest {
        stats
            .emit(tool, started, d)
            .map_err(|e| Error::io(format!("cannot write stats to {d}"), e))?;
    }
    Ok(())
}

/// Stage directory output `dir` (see [`partition::DirCommit`]), after removing the staging
/// directories that killed runs left beside it.
pub fn begin_dir(dir: &std::path::Path, force: bool) -> Result<partition::DirCommit> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    crate::cleanup::sweep(&parent, &partition::staging_prefix(dir), "");
    Ok(partition::DirCommit::begin(
        dir,
        force,
        Some(crate::cleanup::temp_hook),
    )?)
}

/// Commit a directory output as one critical section: a signal arriving meanwhile is acted
/// on after it, so DIR is either untouched or whole. An old DIR replaced by `--force` is
/// removed afterwards (and on a signal, by the cleanup).
pub fn commit_dir(commit: partition::DirCommit, manifest: &serde_json::Value) -> Result<()> {
    let aside = crate::cleanup::critical(|| {
        let r = commit.commit(manifest);
        if r.is_ok() {
            crate::cleanup::mark_committed();
        }
        r
    })?;
    drop(aside);
    Ok(())
}
