//! bmap's engines: the values a record holds ([`fields`], [`json`]), `--where` and `--emit`
//! ([`expr`], with numbers compared by [`num`]), `--words` ([`words`]), and the chunked
//! external-command runner ([`external`]).
//!
//! Engines never parse flags or exit, and print nothing (but for the external commands'
//! own stderr, which passes through).

pub mod expr;
pub mod external;
pub mod fields;
pub mod json;
pub mod num;
pub mod words;
