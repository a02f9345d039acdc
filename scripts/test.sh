#!/usr/bin/env bash
# The test command of the README: every crate's unit tests and the integration tests
# (oracle tests against GNU sort in the C locale, faults, man pages).
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
# The Parquet oracle (tests/parquet.rs): pyarrow from PyPI, wheels only, into target/pyenv,
# once (kept while its pin matches). BATCHKIT_PYTHON overrides it.
PYARROW=pyarrow==26.0.1
if [ -z "${BATCHKIT_PYTHON:-}" ] && [ "$(cat target/pyenv/.pin 2>/dev/null)" != "$PYARROW" ]; then
    rm -rf target/pyenv
    if python3 -m venv target/pyenv &&
        target/pyenv/bin/pip install -q --disable-pip-version-check --only-binary :all: "$PYARROW"; then
        echo "$PYARROW" >target/pyenv/.pin
    else
        echo "test.sh: could not install $PYARROW; the Parquet oracle tests will say SKIPPED" >&2
    fi
fi
cargo test --workspace "$@"
