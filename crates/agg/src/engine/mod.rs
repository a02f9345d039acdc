//! The hash aggregation engine shared by `breduce --hash`, `breduce --merge`,
//! `bshuffle --combine` and map-side combiners: where each aggregate's value comes from in
//! a record ([`aggs::Aggs`]), the groups' table ([`crate::table::Groups`]), the partial
//! lines groups are written as and read back from ([`aggs::Aggs::write`],
//! [`aggs::Aggs::partial_states`]), and the spill of partial states into an external sort
//! and its merge ([`spill`]).
//!
//! A combiner's loop, for one record `rec` at `at` whose key is `key`:
//!
//! ```text
//! aggs.prepare(rec, &at)?;                   // find its fields once
//! let (states, _) = groups.states_for(key, rec);
//! grown += aggs.update(states, rec, &at)?;   // bytes the states grew by
//! if grown + groups.bytes() > limit {        // past its share of -S:
//!     for g in 0..groups.len() {             // one partial line per group
//!         let (item, states) = groups.item_and_states(g);
//!         aggs.write(order, item, states, Output::Partial, b'\n', &mut line)?;
//!     }
//!     groups.clear();
//! }
//! ```
//!
//! Errors are this engine's own ([`Error`]): bad data says where (`FILE:LINE: ...`).

pub mod aggs;
pub mod blocks;
pub mod combine;
pub mod hash;
pub mod spill;

pub use aggs::{Aggs, Output};
pub use combine::Combiner;

use std::fmt;

/// Where a record is: `FILE:LINE`.
#[derive(Clone, Copy)]
pub struct At<'a> {
    pub name: &'a str,
    pub line: u64,
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.line)
    }
}

/// What went wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad data (a value that is not a number, a bad partial line, a sum past 38 digits):
    /// the message says where.
    #[error("{0}")]
    Data(String),
    /// A bad aggregate or field given by the user.
    #[error("{0}")]
    Usage(String),
    /// An I/O error while doing the operation named.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// The spill sort failed.
    #[error(transparent)]
    Sort(#[from] extsort::Error),
    /// The caller's input stopped with this exit status, its message already given.
    #[error("stopped (status {0})")]
    Exit(i32),
}

/// What a run counted, for `--stats`.
#[derive(Default)]
pub struct Counts {
    pub records_in: u64,
    /// The spill sort's, when groups were spilled.
    pub sort: Option<extsort::Stats>,
}

pub type Result<T> = std::result::Result<T, Error>;

/// Where finished groups go (breduce's output, a partition's lines).
pub trait Sink {
    /// What a group's line holds (results or partial states).
    fn what(&self) -> Output;

    /// Lines of `groups` groups written elsewhere (by [`Aggs::write`]).
    fn lines(&mut self, bytes: &[u8], groups: u64) -> Result<()>;

    /// Write one group: its item (its key, or its first record when the key is not its
    /// first field) and its states.
    fn group(
        &mut self,
        aggs: &Aggs,
        order: &record::RecordOrder,
        item: &[u8],
        states: &mut [crate::State],
    ) -> Result<()>;
}
