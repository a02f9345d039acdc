#!/usr/bin/env bash
# Build and run every cargo-fuzz target for SECONDS each (default 60; 0 replays the committed
# seeds only, deterministically, as CI does), one after another,
# from its committed seed corpus (fuzz/corpus/TARGET). Fails on the first crash, leaving the
# input in fuzz/artifacts/TARGET/ (reproduce: cargo +nightly fuzz run TARGET FILE).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz --locked). New inputs
# libFuzzer finds go to a scratch corpus, so the committed seeds stay as they are; set
# FUZZ_KEEP=DIR to keep it. One fuzz process at a time (-jobs=1 -workers=1), niced.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
[[ $secs =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2; }
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(keyspec json csv partial manifest expr)
fi
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
cargo +nightly fuzz --help >/dev/null 2>&1 || {
  echo "fuzz.sh: needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
  exit 1
}
scratch=${FUZZ_KEEP:-$(mktemp -d)}
[ -n "${FUZZ_KEEP:-}" ] || trap 'rm -rf "$scratch"' EXIT
nice -n 19 cargo +nightly fuzz build --fuzz-dir fuzz
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "fuzz/artifacts/$t"
  start=$(date +%s)
  # SECONDS 0: replay the committed seeds only (deterministic, for CI), no new inputs.
  if ((secs == 0)); then limit=(-runs=0); else limit=(-max_total_time="$secs"); fi
  if ! (cd "$scratch" && nice -n 19 "$OLDPWD/fuzz/target/x86_64-unknown-linux-gnu/release/$t" \
        -jobs=1 -workers=1 "${limit[@]}" -max_len=4096 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$OLDPWD/fuzz/artifacts/$t/" "$scratch/$t" "$OLDPWD/fuzz/corpus/$t" \
        >/dev/null 2>&1); then
    echo "fuzz.sh: $t: crash (input in fuzz/artifacts/$t/):" >&2
    tail -n 40 "$scratch/fuzz-0.log" >&2 || true
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/fuzz-0.log" | grep -o '[0-9]*$' || true)
  echo "fuzz.sh: $t: ok, $(( $(date +%s) - start ))s, ${runs:-?} runs, $(find "$scratch/$t" -type f | wc -l) new inputs"
  mv "$scratch/fuzz-0.log" "$scratch/$t.log"
done
