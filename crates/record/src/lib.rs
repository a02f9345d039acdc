//! Records and keys: the layer every batchkit tool stands on.
//!
//! - [`input`]: input sources (files, stdin, `.gz`/`.zst`) and memchr framing.
//! - [`keyspec`]: the `-k` grammar.
//! - [`fields`]: GNU sort field positions, CSV fields; [`json`]: JSON paths.
//! - [`compare`]: comparators equal to GNU sort's in the C locale.
//! - [`order`]: keys resolved for a format and the full record order.
//! - [`header`]: a header record's column names and `-k` specs resolved against them.
//!
//! This crate never prints, never exits and never parses command lines.

pub mod chunks;
pub mod compare;
pub mod csv;
pub mod cut;
pub mod fields;
pub mod header;
pub mod input;
pub mod json;
pub mod keymap;
pub mod keyspec;
pub mod order;
mod packer;
pub mod sample;
pub mod shuffle;

pub use compare::KeyOpts;
pub use fields::{Cuts, FieldSplit, Span};
pub use header::{resolve_keys, split_header};
pub use input::{FrameError, Framer};
pub use keyspec::{KeyError, KeySpec};
pub use order::{CsvScratch, Format, Key, KeyReadError, KeySource, RecordOrder};
