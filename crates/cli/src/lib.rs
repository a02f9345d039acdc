//! What every batchkit tool shares: common options and flag ids ([`args`]), reading the
//! inputs ([`input`]) and what a tool works out before reading them ([`setup`]), atomic
//! output ([`output`]), the error type and exit codes ([`error`]), signal cleanup
//! ([`cleanup`]), `--stats` ([`stats`]) and `--progress` ([`progress`]). [`main`] runs a
//! tool from its clap command and its `run` function and turns the outcome into an exit
//! status.

pub mod args;
pub mod bad;
pub mod cleanup;
pub mod error;
pub mod input;
pub mod output;
pub mod progress;
pub mod setup;
pub mod size;
pub mod stats;

pub use error::{Error, Result};
pub use input::{At, Input, Inputs};
pub use output::Output;
pub use progress::Progress;
pub use setup::{emit_stats, setup, Setup};
pub use stats::Stats;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static TOOL: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The running tool's name (as given to [`main`]), for messages from shared code.
pub fn tool_name() -> &'static str {
    TOOL.get().map_or("batchkit", String::as_str)
}

/// Whether standard input is one of the tool's inputs (see [`reads_stdin`]).
static READS_STDIN: AtomicBool = AtomicBool::new(false);

/// Say that the tool reads standard input as one of its inputs: if it then stops early
/// because its downstream pipe closed, [`main`] reads standard input to the end before
/// exiting. Hadoop Streaming and Spark's `TRANSFORM` fail a task whose command exits
/// before draining its input ("Broken pipe"), even with status 0; and a shell producer
/// upstream is spared a SIGPIPE. Standard input that is not an input is never touched.
pub fn reads_stdin() {
    READS_STDIN.store(true, Ordering::Relaxed);
}

/// Run a tool: parse arguments (usage errors exit 2 with one line), run it, print
/// `TOOL: message` for a failure and exit with its status (a closed downstream pipe is a
/// quiet 0). Temporary files are removed on every path.
pub fn main(tool: &str, command: clap::Command, run: fn(&clap::ArgMatches) -> Result<()>) -> ! {
    let started = std::time::Instant::now();
    let _ = TOOL.set(tool.to_string());
    cleanup::install();
    let matches = match gnu_habits(command).try_get_matches() {
        Ok(m) => match same_output(&m) {
            Ok(()) => m,
            Err(msg) => {
                eprintln!("{tool}: {msg}");
                std::process::exit(2);
            }
        },
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    std::process::exit(0);
                }
                _ => {
                    let text = e.render().to_string();
                    let first = text.lines().next().unwrap_or("invalid arguments");
                    let first = first.strip_prefix("error: ").unwrap_or(first);
                    eprintln!("{tool}: {first} (try '{tool} --help')");
                    std::process::exit(2);
                }
            }
        }
    };
    let dest = matches
        .try_get_one::<String>("stats")
        .ok()
        .flatten()
        .cloned();
    stats::set_context(tool, dest, started);
    // Parquet inputs name their columns in a first record, and -o X.parquet takes its names
    // from the first line, only with --header; row groups are sized from -S.
    let header = matches.try_get_one::<bool>("header").ok().flatten() == Some(&true);
    let budget = match matches.try_contains_id("buffer-size") {
        Ok(_) => args::budget_of(&matches).unwrap_or(256 << 20),
        Err(_) => 256 << 20,
    };
    bkparquet::configure(header, budget);
    // --format parquet: every input is Parquet, whatever its name.
    let format = matches.try_get_one::<String>(args::FORMAT).ok().flatten();
    bkparquet::set_forced(format.is_some_and(|f| f == "parquet"));
    let code = match run(&matches) {
        Ok(()) => 0,
        // Stopped by a signal: whatever failed afterwards is a consequence, not news.
        Err(_) if cleanup::received().is_some() => 128 + cleanup::received().unwrap_or(15),
        Err(e) => {
            // --stats on every path that is not a crash: the tool's own record was not
            // written (it is written last), so say what is known and why it ended.
            let reason = if e.is_broken_pipe() {
                "the downstream pipe closed early".to_string()
            } else {
                e.message().unwrap_or_else(|| "error".into())
            };
            // The bar goes first: the message and the stats line start on a clean line.
            progress::clear();
            stats::on_exit(e.code(), &reason);
            if e.is_broken_pipe() && READS_STDIN.load(Ordering::Relaxed) {
                // Whatever fails here (a read error) changes nothing: the output is done.
                let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            }
            if let Some(msg) = e.message() {
                let _ = writeln!(std::io::stderr(), "{tool}: {msg}");
            }
            e.code()
        }
    };
    cleanup::remove_all();
    std::process::exit(code)
}

/// How many files this process may open (RLIMIT_NOFILE), for bounding merge fan-in.
pub fn open_file_limit() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and has no other effect.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0;
    if ok {
        r.rlim_cur
    } else {
        256
    }
}

/// The command-line habits of GNU tools, on every batchkit tool (issue 16): an option given
/// twice is accepted, the last value winning (`bsort -f -f`, `-S 1M -S 2M`); `-o` may be given
/// again with the same file, and its value may start with a dash (`-o -dash-file`).
fn gnu_habits(command: clap::Command) -> clap::Command {
    let command = command.args_override_self(true);
    if command.get_arguments().any(|a| a.get_id() == "output") {
        command.mut_arg("output", |a| {
            a.action(clap::ArgAction::Append).allow_hyphen_values(true)
        })
    } else {
        command
    }
}

/// Two `-o` naming different files is an error, as GNU sort says.
fn same_output(m: &clap::ArgMatches) -> std::result::Result<(), String> {
    let Ok(Some(outs)) = m.try_get_many::<String>("output") else {
        return Ok(());
    };
    let outs: Vec<&String> = outs.collect();
    match outs.iter().find(|o| **o != outs[0]) {
        Some(other) => Err(format!(
            "multiple output files specified: {} and {}",
            outs[0], other
        )),
        None => Ok(()),
    }
}
