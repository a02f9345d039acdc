//! One module per tool (xsv's `src/cmd/` habit): each exposes `command() -> clap::Command`
//! (the one source of `--help` and the man page) and `main()`. Orchestration only: the
//! algorithms live in the engine crates.

pub mod bjoin;
pub mod bmap;
pub mod breduce;
pub mod bshuffle;
pub mod bsort;
pub mod bsplit;
pub mod combine;
