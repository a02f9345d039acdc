#!/usr/bin/env bash
# The join-strategy experiment, one command (see README.md and experiment.py):
#
#   scripts/examples/join-strategies/run.sh            # results/ : results.tsv chart.png REPORT.md
#   ORDERS=20000 USERS=2000 PRODUCTS=20000 OUT=/tmp/js run.sh   # a small version
#
# BIN: the batchkit binaries (default: this repository's target/release). The chart is drawn
# with matplotlib from a venv this script creates (.venv here, pinned below) unless
# PLOT_PYTHON names a python that has it, or NO_VENV=1 (then a plain PNG drawn with zlib).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
export BIN=${BIN:-$root/target/release}
export OUT=${OUT:-$here/results}
export LC_ALL=C
MATPLOTLIB=matplotlib==3.9.2
for t in bsplit bjoin; do
  [[ -x $BIN/$t ]] || { echo "run.sh: no $BIN/$t (cargo build --release first, or BIN=DIR)" >&2; exit 2; }
done
if [[ -z ${PLOT_PYTHON:-} && ${NO_VENV:-0} != 1 ]]; then
  venv=$here/.venv
  if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
    python3 -m venv "$venv" && "$venv/bin/pip" install --quiet "$MATPLOTLIB" \
      || echo "run.sh: could not install $MATPLOTLIB; the chart will be the plain one" >&2
  fi
  if "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then export PLOT_PYTHON=$venv/bin/python; fi
fi
mkdir -p "$OUT"
exec python3 "$here/experiment.py"
