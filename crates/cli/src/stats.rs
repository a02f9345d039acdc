//! `--stats[=FILE]`: one JSON object per run, the batch job's SLIs.

use serde_json::{json, Map, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// What [`crate::main`] knows of a run, for a `--stats` record on paths where the tool
/// itself could not write one (a closed pipe, an error, a signal).
struct ExitContext {
    tool: String,
    dest: String,
    started: Instant,
}

static CONTEXT: OnceLock<ExitContext> = OnceLock::new();
static EMITTED: AtomicBool = AtomicBool::new(false);
/// Bytes handed to the kernel by every [`crate::Output`] so far (compressed when the
/// output is).
static BYTES_WRITTEN: AtomicU64 = AtomicU64::new(0);

pub(crate) fn count_written(n: u64) {
    BYTES_WRITTEN.fetch_add(n, Ordering::Relaxed);
}

/// Remember where `--stats` goes (`dest`), for [`on_exit`] and [`on_signal`].
pub(crate) fn set_context(tool: &str, dest: Option<String>, started: Instant) {
    if let Some(dest) = dest {
        let _ = CONTEXT.set(ExitContext {
            tool: tool.to_string(),
            dest,
            started,
        });
    }
}

/// The record of a run that did not get to write its own: what is known (bytes written,
/// time, memory) and how it ended.
fn fallback(status: i32, outcome: Value) {
    let Some(c) = CONTEXT.get() else { return };
    if EMITTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let s = Stats {
        bytes_out: BYTES_WRITTEN.load(Ordering::Relaxed),
        ..Stats::default()
    };
    let mut v = s.to_json(&c.tool, c.started);
    if let Value::Object(m) = &mut v {
        // Counted by the tool, which did not get to say: unknown, not zero.
        for k in [
            "records_in",
            "records_out",
            "bytes_in",
            "bad_records",
            "spill_runs",
            "spill_bytes",
            "merge_passes",
            "threads",
        ] {
            m.insert(k.into(), Value::Null);
        }
        m.insert("complete".into(), Value::from(false));
        m.insert("exit_status".into(), Value::from(status));
        m.insert("outcome".into(), outcome);
    }
    let _ = write_line(&v, &c.dest);
}

/// A run that ends with `status` without having written its record: `reason` says why.
pub(crate) fn on_exit(status: i32, reason: &str) {
    fallback(status, json!({ "reason": reason }));
}

/// A run stopped by signal `sig`: `removed` temporaries and staged outputs were removed;
/// `committed`: an output commit had completed before.
pub(crate) fn on_signal(sig: i32, removed: usize, committed: bool) {
    fallback(
        128 + sig,
        json!({
            "reason": "signal",
            "signal": sig,
            "temporaries_removed": removed,
            "output_committed": committed,
        }),
    );
}

fn write_line(v: &Value, dest: &str) -> std::io::Result<()> {
    let mut line = v.to_string();
    line.push('\n');
    if dest == "-" {
        crate::progress::clear();
        std::io::stderr().write_all(line.as_bytes())
    } else {
        std::fs::write(dest, line)
    }
}

/// Counters every tool reports, plus tool-specific fields in `extra`.
#[derive(Debug, Default)]
pub struct Stats {
    pub records_in: u64,
    pub records_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub bad_records: u64,
    pub spill_runs: u64,
    pub spill_bytes: u64,
    pub merge_passes: u64,
    pub threads: usize,
    pub extra: Map<String, Value>,
}

impl Stats {
    /// Add what an external sort did.
    pub fn add_sort(&mut self, s: &extsort::Stats) {
        self.spill_runs += s.spill_runs;
        self.spill_bytes += s.spill_bytes;
        self.merge_passes += s.merge_passes;
    }

    /// The JSON object.
    pub fn to_json(&self, tool: &str, started: Instant) -> Value {
        let mut v = json!({
            "tool": tool,
            "version": env!("CARGO_PKG_VERSION"),
            "elapsed_ms": started.elapsed().as_millis() as u64,
            "records_in": self.records_in,
            "records_out": self.records_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "bad_records": self.bad_records,
            "spill_runs": self.spill_runs,
            "spill_bytes": self.spill_bytes,
            "merge_passes": self.merge_passes,
            "peak_rss_bytes": peak_rss(),
            "threads": self.threads,
        });
        if let Value::Object(m) = &mut v {
            for (k, x) in &self.extra {
                m.insert(k.clone(), x.clone());
            }
        }
        v
    }

    /// Write the object to stderr (`dest` of `-`) or to a file.
    pub fn emit(&self, tool: &str, started: Instant, dest: &str) -> std::io::Result<()> {
        EMITTED.store(true, Ordering::SeqCst);
        let mut v = self.to_json(tool, started);
        if let Value::Object(m) = &mut v {
            m.insert("complete".into(), Value::from(true));
        }
        write_line(&v, dest)
    }
}

/// Peak resident memory of this process (VmHWM), in bytes.
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
