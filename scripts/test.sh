#!/usr/bin/env bash
# The test command of the README: every crate's unit tests and the integration tests
# (oracle tests against GNU sort in the C locale, faults, man pages).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
cargo test --workspace "$@"
