#!/usr/bin/env bash
# Regenerate man/*.1 and the shell completions completions/* (bash, zsh, fish) from the
# tools' clap definitions (the one source of truth for flags).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p man
BATCHKIT_UPDATE_MAN=1 cargo test --quiet --test tests man::man_pages_are_current
BATCHKIT_UPDATE_MAN=1 cargo test --quiet --test tests man::completions_are_current
ls -l man/ completions/
