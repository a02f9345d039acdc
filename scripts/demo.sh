#!/usr/bin/env bash
# The README's "run the main job": build the release binaries, generate a text corpus and
# an orders log (JSON lines) deterministically, and run the two MapReduce pipelines of the
# SPEC on them — the word count and the daily revenue — printing the top results and each
# stage's --stats, and checking both results against independent computations (awk,
# Python's Decimal). Work files go under .demo/ (ignored by git).
#
#   scripts/demo.sh                     # about 20 MB of text, 200,000 orders
#   DEMO_TEXT_BYTES=500000000 DEMO_ORDERS=10000000 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/.demo
TEXT_BYTES=${DEMO_TEXT_BYTES:-20000000}
ORDERS=${DEMO_ORDERS:-200000}
mkdir -p "$OUT"
export LC_ALL=C

echo "== build"
cargo build --release --quiet
export PATH="$ROOT/target/release:$PATH"

echo "== data (deterministic): $TEXT_BYTES bytes of text, $ORDERS orders as JSON lines"
CORPUS=$OUT/corpus-$TEXT_BYTES.txt
LOG=$OUT/orders-$ORDERS.jsonl
[[ -s $CORPUS ]] || python3 scripts/gen-data.py text --bytes "$TEXT_BYTES" "$CORPUS"
[[ -s $LOG ]] || python3 scripts/gen-data.py orders --lines "$ORDERS" "$LOG"
head -n 1 "$LOG"

stats() { # stats NAME FILE: one line of the stage's --stats
  python3 - "$1" "$2" <<'EOF'
import json, sys
name, path = sys.argv[1:3]
s = json.load(open(path))
extra = ""
if s.get("spill_bytes"):
    extra = f", spilled {s['spill_bytes']:,} bytes in {s['spill_runs']} runs"
if "skew" in s:
    extra += f", skew {s['skew']:.2f}"
print(f"   {name:<9} {s['records_in']:>10,} records in -> {s['records_out']:>9,} out,"
      f" {s['elapsed_ms']:>6} ms, peak RSS {s['peak_rss_bytes'] / 2**20:.0f} MiB{extra}")
EOF
}

echo
echo "== word count: bmap --words --combine count | breduce --merge --hash count"
bmap --words --combine count --stats="$OUT/wc-map.stats" "$CORPUS" |
  breduce --merge --hash count --stats="$OUT/wc-reduce.stats" >"$OUT/wordcount.tsv"
stats bmap "$OUT/wc-map.stats"
stats breduce "$OUT/wc-reduce.stats"
echo "   bmap counted in the mapper and wrote one partial line per word, not one line per token"
echo "   the ten most frequent words:"
bsort -t $'\t' -k2,2nr -k1,1 "$OUT/wordcount.tsv" | head -n 10 | sed 's/^/     /'
awk '{ for (i = 1; i <= NF; i++) c[$i]++ } END { for (w in c) print w "\t" c[w] }' "$CORPUS" |
  sort -t $'\t' -k1,1 | cmp - "$OUT/wordcount.tsv"
echo "   identical to awk's word count"

echo
echo "== the same without combining: bmap --words | bshuffle | breduce count"
bmap --words --stats="$OUT/wc-plain-map.stats" "$CORPUS" |
  bshuffle --stats="$OUT/wc-shuffle.stats" |
  breduce count --stats="$OUT/wc-plain-reduce.stats" | cmp - "$OUT/wordcount.tsv"
stats bmap "$OUT/wc-plain-map.stats"
stats bshuffle "$OUT/wc-shuffle.stats"
stats breduce "$OUT/wc-plain-reduce.stats"
echo "   same counts"

echo
echo "== the same with map-side combining, 4 partitions: bshuffle --combine count -o DIR, breduce --merge DIR"
rm -rf "$OUT/words"
bmap --words "$CORPUS" | bshuffle -n 4 --combine count -o "$OUT/words" --stats="$OUT/wc-combine.stats"
breduce --merge count "$OUT/words" | sort -t $'\t' -k1,1 | cmp - "$OUT/wordcount.tsv"
stats bshuffle "$OUT/wc-combine.stats"
echo "   same counts; the shuffle wrote one partial line per word and part instead of one line per word"

echo
echo "== daily revenue: bmap --from jsonl --where 'status == completed' --emit 'created_at|day,amount' --combine sum:2 --combine count | breduce --merge --hash sum:2 count"
bmap --from jsonl --where 'status == completed' --emit 'created_at|day,amount' \
  --combine sum:2 --combine count --stats="$OUT/rev-map.stats" "$LOG" |
  breduce --merge --hash sum:2 count --stats="$OUT/rev-reduce.stats" >"$OUT/revenue.tsv"
stats bmap "$OUT/rev-map.stats"
stats breduce "$OUT/rev-reduce.stats"
bmap --from jsonl --where 'status == completed' --emit 'created_at|day,amount' --stats="$OUT/rev-plain-map.stats" "$LOG" |
  breduce --hash sum:2 count | bsort --stats="$OUT/rev-sort.stats" | cmp - "$OUT/revenue.tsv"
stats bmap "$OUT/rev-plain-map.stats"
echo "   the same as without combining (bmap | breduce --hash sum:2 count | bsort), one line per order there"
echo "   day, revenue, completed orders (first and last days):"
head -n 3 "$OUT/revenue.tsv" | sed 's/^/     /'
echo "     ..."
tail -n 2 "$OUT/revenue.tsv" | sed 's/^/     /'
echo "   the three best days:"
bsort -t $'\t' -k2,2nr "$OUT/revenue.tsv" | head -n 3 | sed 's/^/     /'
python3 - "$LOG" "$OUT/revenue.tsv" <<'EOF'
import json, sys
from decimal import Decimal
log, got = sys.argv[1:3]
days = {}
with open(log) as f:
    for line in f:
        o = json.loads(line, parse_float=Decimal)
        if o["status"] == "completed":
            s, n = days.get(o["created_at"][:10], (Decimal(0), 0))
            days[o["created_at"][:10]] = (s + o["amount"], n + 1)
want = "".join(f"{d}\t{s}\t{n}\n" for d, (s, n) in sorted(days.items()))
if open(got).read() != want:
    sys.exit("demo: daily revenue differs from Python's exact Decimal sums")
EOF
echo "   identical to Python's exact Decimal sums"

echo
echo "== demo done (outputs in .demo/)"
