//! bmap's external mapping: `bmap [FILE...] -- CMD [ARG...]` runs CMD per chunk of input
//! (the engine is `map::external`); this reads its flags and reports.

use clap::ArgMatches;
use cli::{args, input, setup, Error, Output, Progress, Result, Stats};
use std::time::Instant;

/// Run `-- CMD` over the inputs `names`.
pub(super) fn external(m: &ArgMatches, names: &[String]) -> Result<()> {
    let started = Instant::now();
    for f in ["where", "emit", cli::bad::BAD_RECORDS, "combine"] {
        if m.contains_id(f) {
            return Err(Error::Usage(format!(
                "--{f} does not go with a command after --"
            )));
        }
    }
    for f in ["words", cli::bad::SKIP_BAD, args::HEADER] {
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
    if !map::external::findable(&program) {
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
        eol: args::eol_of(m),
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
        inputs.push((n.clone(), input::counted(r)));
    }
    let total = names
        .iter()
        .try_fold(0u64, |t, n| Some(t + record::input::known_size(n)?));
    let progress = Progress::new(args::progress_of(m), total);
    progress.phase("map", total);
    let out_path = args::output_of(m);
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
    setup::emit_stats("bmap", &stats, &args::stats_of(m), started)
}
