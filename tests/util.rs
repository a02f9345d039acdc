//! Shared test harness (owned by the oracle tests' author; see bsort_oracle.rs).
