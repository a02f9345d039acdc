//! `--stats[=FILE]`: one JSON object per run, the batch job's SLIs.

use serde_json::{json, Map, Value};
use std::io::Write;
use std::time::Instant;

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
        let mut line = self.to_json(tool, started).to_string();
        line.push('\n');
        if dest == "-" {
            std::io::stderr().write_all(line.as_bytes())
        } else {
            std::fs::write(dest, line)
        }
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
