//! Integration tests: every binary run as a user runs it, compared with independent oracles
//! (GNU sort in the C locale, naive in-memory models).

mod util;

mod bjoin;
mod bmap;
mod bmap_combine;
mod breduce;
mod bshuffle;
mod bsort_deep;
mod bsort_features;
mod bsort_oracle;
mod bsplit;
mod csv_cut;
mod csv_input;
mod daily_job;
mod docs;
mod engines;
mod examples;
mod faults;
mod fd_limits;
mod fsum_partials;
mod gnu_habits;
mod heavy_hitters;
mod install;
mod join_strategies;
mod json_keys;
mod man;
mod outputs;
mod parquet;
mod progress;
mod regressions;
