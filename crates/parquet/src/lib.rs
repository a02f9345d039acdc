//! Parquet at both ends of a pipeline.
//!
//! Reading: [`open`] turns a `.parquet` file into the TSV records every tool reads, row
//! group by row group, a batch of rows at a time (memory is one batch, not the file). With
//! `--header` the first record names the columns. Values become text by one mapping:
//! integers as digits, decimals exactly at their scale (`DECIMAL(10,2)` 0.1 is `0.10`),
//! floats in shortest round-trip form, booleans `true`/`false`, dates `YYYY-MM-DD`, times
//! `HH:MM:SS[.fraction]`, timestamps `YYYY-MM-DDTHH:MM:SS[.fraction]` with `Z` when the
//! column is adjusted to UTC (the fraction only when not zero, trailing zeros dropped),
//! strings and binary as their bytes with TAB and newline escaped (`\t`, `\n`) as bmap does,
//! null as an empty field. Nested columns (lists, maps, structs) are refused with a clear
//! error for now.
//!
//! Writing: [`convert_tsv`] turns the TSV text a tool wrote into a Parquet file (zstd, row
//! groups bounded by the memory budget); the column types are inferred from the whole text
//! first (see [`infer`]).

mod infer;
mod read;
mod text;
mod write;

pub use infer::{infer_value, Inferred};
pub use read::open;
pub use write::convert_tsv;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

static HEADER: AtomicBool = AtomicBool::new(false);
static BUDGET: AtomicUsize = AtomicUsize::new(256 << 20);

/// Set once by the tool's start: whether `--header` was given (Parquet inputs then start with
/// a record of column names, and the first line written to `-o X.parquet` names its
/// columns) and the memory budget `-S` (row groups are sized from it).
pub fn configure(header: bool, budget: usize) {
    HEADER.store(header, Ordering::Relaxed);
    BUDGET.store(budget, Ordering::Relaxed);
}

static PROJECTION: Mutex<Option<Vec<(usize, usize)>>> = Mutex::new(None);

/// Projection: the fields (0-based columns, inclusive ranges) the running tool reads from its records, set
/// once it has resolved its field numbers and names, before the first row is read. Only
/// these columns of a Parquet input are decoded; the others read as empty fields. `None`
/// (the default) decodes every column: a tool that passes whole records through, or
/// hands them to a command, must leave it so.
pub fn project(fields: Option<Vec<(usize, usize)>>) {
    let mut p = PROJECTION.lock().unwrap_or_else(|e| e.into_inner());
    *p = fields;
}

fn projection() -> Option<Vec<(usize, usize)>> {
    PROJECTION.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn header() -> bool {
    HEADER.load(Ordering::Relaxed)
}

fn budget() -> usize {
    BUDGET.load(Ordering::Relaxed)
}

static FORCED: AtomicBool = AtomicBool::new(false);

/// `--format parquet`: every input is read as Parquet, whatever its name.
pub fn set_forced(forced: bool) {
    FORCED.store(forced, Ordering::Relaxed);
}

/// Whether inputs are Parquet whatever their names (`--format parquet`).
pub fn forced() -> bool {
    FORCED.load(Ordering::Relaxed)
}

/// Whether the input `name` is read as Parquet (by its extension, or `--format parquet`).
pub fn is_parquet(name: &str) -> bool {
    name.ends_with(".parquet") || (forced() && name != "-")
}
