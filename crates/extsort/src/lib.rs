//! The external merge sort under bsort, bshuffle, breduce `--hash` and bjoin.
//!
//! Items are opaque byte strings ordered by an [`Order`]: an 8-byte prefix that settles most
//! comparisons, and a full comparison for the rest. [`Sorter`] fills one buffer up to the
//! memory budget, sorts (prefix, offset) entries on all cores, spills sorted runs to
//! temporary files when the budget is reached, and merges the runs with a loser tree whose
//! fan-in is bounded (several passes when there are more runs than that). [`merge`] merges
//! already-sorted sources (`sort -m`).
//!
//! Stable mode keeps equal items in input order; unique mode keeps the first item of each
//! run of equal items. Output is the same for any thread count and budget.
//!
//! This crate never prints, parses flags or exits; errors are values.

mod mem;
mod merge;
mod output;
mod run;
mod sort;
mod sorter;
mod source;
mod temp;

pub use mem::advise_huge;
pub use merge::merge;
pub use output::Emit;
pub use sorter::Sorter;
pub use source::Source;

use std::cmp::Ordering;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;

/// A 16-byte summary of an item, compared as (first, second).
pub type Prefix = [u64; 2];

/// How items are ordered.
pub trait Order: Send + Sync {
    /// A summary with `prefix(a) < prefix(b)` only when `a < b`: most comparisons end here,
    /// without touching the items.
    fn prefix(&self, item: &[u8]) -> Prefix;
    /// The full order (ties here are broken by input order in stable and unique modes).
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering;
    /// Whether items sharing this prefix are certainly equal (the prefix holds the whole
    /// comparison), so that they need no comparison at all.
    fn is_total(&self, _prefix: &Prefix) -> bool {
        false
    }
    /// Append a byte string whose bytewise order is this order (a normalized key); return
    /// false when the order has none.
    fn normalized(&self, _item: &[u8], _out: &mut Vec<u8>) -> bool {
        false
    }
}

/// What can go wrong while sorting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("a record of {len} bytes does not fit the memory budget of {budget} bytes (raise -S)")]
    TooLarge { len: usize, budget: usize },
    #[error("interrupted")]
    Interrupted,
    /// A source could not be read (its message says where and why).
    #[error("{0}")]
    Input(String),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Called with the path of every temporary directory created and, later, removed, so that a
/// signal handler can remove it.
pub type TempHook = fn(&Path, bool);

/// What a sort is doing, told to [`Config::event_hook`] as it happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A chunk of `entries` items is being sorted in memory; `background`: while the caller
    /// goes on filling the next chunk.
    Sorting { entries: usize, background: bool },
    /// A sorted chunk is being written as a run.
    Spilling { background: bool },
    /// A run of `bytes` is written.
    Spilled { bytes: u64 },
    /// The caller may go on pushing (after a spill it had to wait for).
    Filling,
    /// The sorted items go to the output straight from memory.
    Writing,
    /// `runs` runs are being merged; `last`: the final merge, into the output.
    Merging { runs: usize, last: bool },
    /// A step of an in-memory sort took this long (for profiling).
    Timed {
        step: &'static str,
        elapsed: std::time::Duration,
    },
}

/// Receives [`Event`]s (a plain function: it runs on the sort's threads).
pub type EventHook = fn(Event);

/// Settings of one sort.
#[derive(Clone)]
pub struct Config {
    /// Memory budget in bytes for items plus their index.
    pub budget: usize,
    /// Where temporary runs go.
    pub tmp_parent: PathBuf,
    /// Threads for in-memory sorting.
    pub threads: usize,
    /// Largest number of runs merged at once (at least 2).
    pub fan_in: usize,
    /// Compress temporary runs (zstd).
    pub compress: bool,
    /// Keep equal items in input order.
    pub stable: bool,
    /// Keep only the first of each run of equal items.
    pub unique: bool,
    /// Set when the process is asked to stop.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Told about temporary directories.
    pub temp_hook: Option<TempHook>,
    /// Told what the sort is doing (for progress bars and profiling; the engine never
    /// prints).
    pub event_hook: Option<EventHook>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            budget: 256 << 20,
            tmp_parent: std::env::temp_dir(),
            threads: 1,
            fan_in: 64,
            compress: false,
            stable: false,
            unique: false,
            cancel: None,
            temp_hook: None,
            event_hook: None,
        }
    }
}

impl Config {
    /// Tell the event hook, if any.
    pub(crate) fn tell(&self, e: Event) {
        if let Some(h) = self.event_hook {
            h(e);
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(AtomicOrdering::Relaxed))
    }

    fn check(&self) -> Result<()> {
        if self.cancelled() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }
}

/// What a sort did, for `--stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub records_in: u64,
    pub records_out: u64,
    pub spill_runs: u64,
    pub spill_bytes: u64,
    pub merge_passes: u64,
}

/// One item in the buffer: its prefix and where it is.
#[derive(Clone, Copy, Debug)]
struct Entry {
    prefix: Prefix,
    off: u32,
    len: u32,
}

const ENTRY: usize = std::mem::size_of::<Entry>();

/// A record larger than the budget is still accepted up to this size (it then makes a run
/// of its own), so that a tiny `-S` never refuses ordinary lines.
pub const RECORD_ALLOWANCE: usize = 1 << 20;

/// The largest item a sort of this budget accepts (a larger one is [`Error::TooLarge`]).
pub fn max_item(budget: usize) -> usize {
    budget.max(RECORD_ALLOWANCE).saturating_sub(ENTRY)
}
/// Items live at u32 offsets in a chunk.
const MAX_CHUNK: usize = u32::MAX as usize;

/// Error of [`Sorter::push_with`]: the sort's own, or the item builder's.
#[derive(Debug)]
pub enum PushError<E> {
    Sort(Error),
    Build(E),
}

#[cfg(test)]
mod tests;
