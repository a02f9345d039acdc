#!/usr/bin/env bash
# The README's "run the main job": build the release binaries, generate data
# deterministically, and run batchkit on it, printing the top results and each stage's
# --stats. Work files go under .demo/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/.demo
LINES=${DEMO_LINES:-1000000}
mkdir -p "$OUT"

echo "== build"
cargo build --release --quiet
BIN=$ROOT/target/release
export PATH="$BIN:$PATH"

echo "== data: $LINES key/value lines (Zipf keys), deterministic"
KV=$OUT/kv-$LINES.tsv
[[ -s $KV ]] || python3 scripts/gen-data.py kv --lines "$LINES" "$KV"
ls -l "$KV"

echo "== sort by key (bsort -t TAB -k1,1), external within -S 16M, checked against GNU sort"
bsort -t $'\t' -k1,1 -S 16M -T "$OUT" --stats="$OUT/sort.stats" -o "$OUT/by-key.tsv" "$KV"
LC_ALL=C sort -t $'\t' -k1,1 -S 16M "$KV" | cmp - "$OUT/by-key.tsv"
echo "   identical to LC_ALL=C sort"
cat "$OUT/sort.stats"

echo "== the ten largest values (bsort -t TAB -k2,2nr -k1,1)"
bsort -t $'\t' -k2,2nr -k1,1 --stats "$KV" | head -10

echo "== group by key: bshuffle -n 4 -o DIR, then breduce sum:2 count on each part"
rm -rf "$OUT/shuffled"
bshuffle -n 4 -o "$OUT/shuffled" --stats="$OUT/shuffle.stats" "$KV"
for part in "$OUT"/shuffled/part-*; do breduce sum:2 count "$part"; done > "$OUT/by-key-totals.tsv"
breduce --hash sum:2 count "$KV" | bsort -t $'\t' -k1,1 | cmp - <(bsort -t $'\t' -k1,1 "$OUT/by-key-totals.tsv")
echo "   shuffle + streaming reduce == hash reduce; skew:"
grep -o '"skew":[0-9.]*' "$OUT/shuffle.stats"
echo "   the five largest totals:"
bsort -t $'\t' -k2,2nr -k1,1 "$OUT/by-key-totals.tsv" | head -5

echo "== demo done"
