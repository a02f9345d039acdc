#!/usr/bin/env bash
# Benchmarks for batchkit against reference tools ("anchors").
#
#   scripts/bench.sh                      # everything, 20M lines, 3 runs
#   BENCH_LINES=200000 BENCH_RUNS=1 scripts/bench.sh
#   BENCH_ONLY='sort-(key|num)' scripts/bench.sh
#   BENCH_ONLY='split|shuffle' scripts/bench.sh
#
# Cases: sort-key sort-num sort-ext (bsort, on kv), split-n4 (bsplit -n 4, on
# text), shuffle-n4 (bshuffle -n 4, on kv), reduce-stream reduce-hash (breduce,
# on kv), map-words (bmap --words | breduce --hash count, on text), map-revenue
# (bmap --from jsonl ... | breduce --hash sum:2 count | bsort, on orders),
# map-cat (bmap -j 2 -- cat, on text), join-hash join-merge (bjoin: orders-tsv with
# users, see gen-data.py).
#
# Environment:
#   BENCH_LINES    lines of the kv data set (default 20000000, about 310 MB)
#   BENCH_TEXT_BYTES  bytes of the text data set (default 500000000)
#   BENCH_JOIN_LINES  rows of the orders fact table of the join cases (default
#                  BENCH_LINES / 2: 10M rows, about 560 MB); the users dimension
#                  always has 100,000 rows
#   BENCH_ORDERS   lines of the JSON-lines orders log (default 10000000, about 1.2 GB)
#   BENCH_RUNS     timed runs per tool, alternating between tools (default 3)
#   BENCH_ONLY     extended regex on case ids; only matching cases run
#   BENCH_TIMEOUT  seconds before one run is killed (default 3600)
#   BENCH_KEEP=1   keep the outputs in .bench/out/ (default: removed per case)
#   BENCH_STRICT=1 exit 3 when a target is missed (default: exit 0 on misses)
#   BENCH_BUILD=0  skip `cargo build --release`
#   BSORT, BSPLIT, BSHUFFLE, BREDUCE, BJOIN, BMAP  the binaries (default target/release/NAME); the
#                  build is skipped when every binary the selected cases use
#                  is set
#
# Everything lives in .bench/ (gitignored): data/ (cached by size and the
# generator's checksum), venv/ (pinned DuckDB and Polars), out/ (outputs, logs,
# /usr/bin/time reports), tmp/ (spill directory), results-DATE.txt.
# Exit status: 0 all verified (targets may be missed), 1 a tool failed or an
# output did not verify, 3 with BENCH_STRICT=1 and a missed target.
# shellcheck disable=SC2317  # case functions are called indirectly
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH_DIR=$ROOT/.bench
BENCH_LINES=${BENCH_LINES:-20000000}
BENCH_TEXT_BYTES=${BENCH_TEXT_BYTES:-500000000}
BENCH_JOIN_LINES=${BENCH_JOIN_LINES:-$((BENCH_LINES / 2))}
BENCH_ORDERS=${BENCH_ORDERS:-10000000}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_ONLY=${BENCH_ONLY:-}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-3600}
BENCH_STRICT=${BENCH_STRICT:-0}
DUCKDB_PIN=duckdb==2.0.0
POLARS_PIN=polars==2.1.0

# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"

mkdir -p "$BENCH_DIR/out" "$BENCH_DIR/tmp" "$BENCH_DIR/data"
export LC_ALL=C # every tool compares bytes; GNU sort must not use a locale

# ---------------------------------------------------------------- selection

CASES=(sort-key sort-num sort-ext split-n4 shuffle-n4 reduce-stream reduce-hash join-hash join-merge map-words map-revenue map-cat)

selected=()
for c in "${CASES[@]}"; do
  if [[ -z $BENCH_ONLY || $c =~ $BENCH_ONLY ]]; then selected+=("$c"); fi
done
((${#selected[@]})) || { echo "bench: BENCH_ONLY='$BENCH_ONLY' matches no case (${CASES[*]})" >&2; exit 2; }

# the binaries the selected cases use (case sort-* uses bsort, split-* bsplit, ...)
BINS=()
for c in "${selected[@]}"; do
  case $c in sort-*) bs=(bsort) ;; split-*) bs=(bsplit) ;; shuffle-*) bs=(bshuffle) ;; reduce-*) bs=(breduce) ;; join-*) bs=(bjoin) ;;
    map-*) bs=(bmap breduce bsort) ;; *) continue ;; esac
  for b in "${bs[@]}"; do [[ " ${BINS[*]} " == *" $b "* ]] || BINS+=("$b"); done
done

# ---------------------------------------------------------------- setup

build=0
for b in "${BINS[@]}"; do
  var=${b^^}
  if [[ -n ${!var:-} ]]; then note "using $var=${!var}"; else build=1; fi
done
if ((build)) && [[ ${BENCH_BUILD:-1} != 0 ]]; then
  note "cargo build --release"
  cargo build --release
fi
BSORT=${BSORT:-$ROOT/target/release/bsort}
BSPLIT=${BSPLIT:-$ROOT/target/release/bsplit}
BREDUCE=${BREDUCE:-$ROOT/target/release/breduce}
BSHUFFLE=${BSHUFFLE:-$ROOT/target/release/bshuffle}
BJOIN=${BJOIN:-$ROOT/target/release/bjoin}
BMAP=${BMAP:-$ROOT/target/release/bmap}
for b in "${BINS[@]}"; do
  var=${b^^}
  [[ -x ${!var} ]] || { echo "bench: $var=${!var} is not an executable" >&2; exit 1; }
done

ensure_apt mawk:mawk datamash:datamash time:/usr/bin/time hyperfine:hyperfine
if [[ -x /usr/bin/time ]]; then HAVE_TIME=1; else warn "/usr/bin/time missing: no peak RSS"; fi
if [[ " ${selected[*]} " =~ \ (sort-key|sort-num|join-hash|reduce-hash|map-words|map-revenue)\  ]]; then
  ensure_venv "$DUCKDB_PIN" "$POLARS_PIN" # only those cases use DuckDB and Polars
fi
PY=$BENCH_DIR/venv/bin/python

# The DuckDB and Polars anchors, one small script so the commands stay short.
cat >"$BENCH_DIR/anchors.py" <<'EOF'
"""anchors.py ENGINE OP IN OUT: sort a key<TAB>value file with DuckDB or Polars.
OP: key (by field 1, bytewise) or num (by field 2 as a 64-bit integer); with DuckDB also
words (count the words of a text split on runs of spaces and TABs) and revenue (the daily
revenue and order count of the completed orders of a JSON-lines log, by day)."""
import sys

engine, op, inp, out = sys.argv[1:5]
num = op == "num"
if engine == "duckdb" and op == "words":
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT word, count(*) FROM (
                 SELECT unnest(regexp_split_to_array(line, '[ \t]+')) AS word
                 FROM read_csv('{inp}', delim='\x01', header=false, quote='', escape='',
                               auto_detect=false, columns={{'line': 'VARCHAR'}}))
               WHERE word <> '' GROUP BY word)
           TO '{out}' (FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '')"""
    )
elif engine == "duckdb" and op == "revenue":
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT substr(created_at, 1, 10) AS day, sum(amount), count(*)
                 FROM read_json('{inp}', format='newline_delimited',
                      columns={{'status': 'VARCHAR', 'created_at': 'VARCHAR', 'amount': 'DECIMAL(18,2)'}})
                 WHERE status = 'completed' GROUP BY day ORDER BY day)
           TO '{out}' (FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '')"""
    )
elif engine == "duckdb":
    import duckdb

    con = duckdb.connect()
    vtype = "BIGINT" if num else "VARCHAR"
    con.execute(
        f"""COPY (SELECT * FROM read_csv('{inp}', delim='\t', header=false, quote='', escape='',
                 auto_detect=false, columns={{'key': 'VARCHAR', 'value': '{vtype}'}})
             ORDER BY {'value' if num else 'key'})
           TO '{out}' (FORMAT csv, DELIMITER '\t', HEADER false)"""
    )
elif engine == "polars":
    import polars as pl

    df = pl.read_csv(
        inp, separator="\t", has_header=False, quote_char=None,
        schema={"key": pl.String, "value": pl.Int64 if num else pl.String},
    )
    df.sort("value" if num else "key").write_csv(out, separator="\t", include_header=False, quote_style="never")
else:
    sys.exit(f"unknown engine {engine}")
EOF

# The DuckDB join anchor: orders-tsv JOIN users on user_id, in bjoin's (GNU join's) column
# layout, every column read as text so that values come out as they went in.
cat >"$BENCH_DIR/join_anchor.py" <<'EOF'
"""join_anchor.py ORDERS USERS OUT: inner join orders (field 2) with users (field 1), DuckDB."""
import sys

import duckdb

orders, users, out = sys.argv[1:4]
opts = "delim='\t', header=false, quote='', escape='', auto_detect=false"
ocols = ["order_id", "user_id", "product_id", "status", "created_at", "amount"]
ucols = ["user_id", "name", "country", "signup"]
odef = ", ".join(f"'{c}': 'VARCHAR'" for c in ocols)
udef = ", ".join(f"'{c}': 'VARCHAR'" for c in ucols)
sel = ", ".join(["o.user_id"] + [f"o.{c}" for c in ocols if c != "user_id"] + [f"u.{c}" for c in ucols[1:]])
duckdb.connect().execute(
    f"""COPY (SELECT {sel} FROM read_csv('{orders}', {opts}, columns={{{odef}}}) o
             JOIN read_csv('{users}', {opts}, columns={{{udef}}}) u ON o.user_id = u.user_id)
       TO '{out}' (FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '')"""
)
EOF

# The DuckDB group-by anchor: key<TAB>value, SUM(value) and COUNT(*) per key (both cores).
cat >"$BENCH_DIR/reduce_anchor.py" <<'EOF'
"""reduce_anchor.py IN OUT: GROUP BY field 1 with sum of field 2 and count, DuckDB."""
import sys

import duckdb

inp, out = sys.argv[1:3]
duckdb.connect().execute(
    f"""COPY (SELECT key, SUM(value), COUNT(*) FROM read_csv('{inp}', delim='\t', header=false,
             quote='', escape='', auto_detect=false, columns={{'key': 'VARCHAR', 'value': 'BIGINT'}})
             GROUP BY key)
       TO '{out}' (FORMAT csv, DELIMITER '\t', HEADER false, QUOTE '')"""
)
EOF

# add_engines CASE_OP CHECK — the DuckDB and Polars tools for a kv sort case.
add_engines() {
  local op=$1 check=$2 e
  if ((HAVE_VENV)); then
    for e in duckdb polars; do
      case_tool "$e" info "$check" "$BENCH_DIR/out/$C_ID.$e.out" "$(q "$PY" "$BENCH_DIR/anchors.py" "$e" "$op" "$KV" "$BENCH_DIR/out/$C_ID.$e.out")"
    done
  fi
}

# ---------------------------------------------------------------- data
# Generated (or found in the cache) on first use, so a selection of cases only
# builds the data sets it reads.

KV="" TEXT="" ORDERS=""
need_kv() { [[ -n $KV ]] || KV=$(dataset kv --lines "$BENCH_LINES"); }
need_text() { [[ -n $TEXT ]] || TEXT=$(dataset text --bytes "$BENCH_TEXT_BYTES"); }
need_orders() { [[ -n $ORDERS ]] || ORDERS=$(dataset orders --lines "$BENCH_ORDERS"); }

# ---------------------------------------------------------------- cases
# One function per case, named case_<id with _ for ->; listed in CASES.

case_sort_key() {
  need_kv
  case_begin sort-key "in-memory sort by key: -t TAB -k1,1 ($BENCH_LINES lines)"
  case_input "$KV"
  local o=$BENCH_DIR/out/sort-key
  case_tool gnu-S2G anchor ref "$o.gnu-S2G.out" "$(q sort -t "$TAB" -k1,1 -S 2G --parallel=2 -o "$o.gnu-S2G.out" "$KV")"
  case_tool gnu-S100M anchor cmp "$o.gnu-S100M.out" "$(q sort -t "$TAB" -k1,1 -S 100M --parallel=2 -T "$BENCH_DIR/tmp" -o "$o.gnu-S100M.out" "$KV")"
  add_engines key "order:$(q -t "$TAB" -k1,1)"
  case_tool bsort target cmp "$o.bsort.out" "$(q "$BSORT" -t "$TAB" -k1,1 -o "$o.bsort.out" "$KV")"
  case_target 0.5
  case_run
}

case_sort_num() {
  need_kv
  case_begin sort-num "numeric sort: -t TAB -k2,2n ($BENCH_LINES lines)"
  case_input "$KV"
  local o=$BENCH_DIR/out/sort-num
  case_tool gnu-S2G anchor ref "$o.gnu-S2G.out" "$(q sort -t "$TAB" -k2,2n -S 2G --parallel=2 -o "$o.gnu-S2G.out" "$KV")"
  add_engines num "order:$(q -t "$TAB" -k2,2n)"
  case_tool bsort target cmp "$o.bsort.out" "$(q "$BSORT" -t "$TAB" -k2,2n -o "$o.bsort.out" "$KV")"
  case_target 0.25
  case_run
}

case_sort_ext() {
  need_kv
  local bytes kib
  bytes=$(stat -c %s "$KV")
  kib=$(((bytes / 10 + 1023) / 1024))
  case_begin sort-ext "external sort by key, -S ${kib}K (10% of input), --parallel=2"
  case_input "$KV"
  local o=$BENCH_DIR/out/sort-ext
  case_tool gnu anchor ref "$o.gnu.out" "$(q sort -t "$TAB" -k1,1 -S "${kib}K" --parallel=2 -T "$BENCH_DIR/tmp" -o "$o.gnu.out" "$KV")"
  case_tool bsort target cmp "$o.bsort.out" "$(q "$BSORT" -t "$TAB" -k1,1 -S "${kib}K" --parallel=2 -T "$BENCH_DIR/tmp" -o "$o.bsort.out" "$KV")"
  case_target 0.6 $(((kib + 1023) / 1024 + 64))
  case_run
}

case_split_n4() {
  need_text
  case_begin split-n4 "4 chunks at line boundaries: bsplit -n 4 ($(stat -c %s "$TEXT") bytes of text)"
  case_input "$TEXT"
  local o=$BENCH_DIR/out/split-n4
  # split writes into the current directory: an empty one made by the command
  case_tool split-l4 anchor files:4 "$o.split-l4" "$(q mkdir "$o.split-l4") && cd $(q "$o.split-l4") && $(q split -n l/4 "$TEXT")"
  case_tool cat anchor none "$o.cat.none" "$(q cat "$TEXT") >/dev/null"
  case_tool bsplit target parts:4 "$o.bsplit" "$(q "$BSPLIT" -n 4 -o "$o.bsplit" "$TEXT")"
  case_target 1.0@split-l4,2.0@cat
  case_run
}

# The kv file sorted by key (stable), for streaming reducers; cached beside it.
need_kv_sorted() {
  need_kv
  [[ -n ${KVS:-} ]] && return
  KVS=${KV%.tsv}-sorted.tsv
  [[ -s $KVS ]] || sort -t "$TAB" -k1,1 -s -S 2G --parallel=2 -o "$KVS" "$KV"
}

case_reduce_stream() {
  need_kv_sorted
  case_begin reduce-stream "streaming group-by over key-sorted input: sum:2 count ($BENCH_LINES lines)"
  case_input "$KVS"
  local o=$BENCH_DIR/out/reduce-stream
  # --format %.0f: by default datamash rounds sums to 14 significant digits; breduce is exact.
  case_tool datamash anchor ref "$o.datamash.out" "$(q datamash --format '%.0f' -g1 sum 2 count 2) <$(q "$KVS") >$(q "$o.datamash.out")"
  case_tool breduce target cmp "$o.breduce.out" "$(q "$BREDUCE" sum:2 count -o "$o.breduce.out" "$KVS")"
  case_target 0.3
  case_run
}

# mawk's and DuckDB's tables come out unordered and breduce's sorted: only line counts are compared;
# tests/breduce.rs checks --hash against an exact reference and against streaming mode.
case_reduce_hash() {
  need_kv
  case_begin reduce-hash "hash group-by over unsorted input: sum:2 count ($BENCH_LINES lines)"
  case_input "$KV"
  local o=$BENCH_DIR/out/reduce-hash
  case_tool mawk anchor ref "$o.mawk.out" "$(q mawk -F "$TAB" '{s[$1]+=$2; c[$1]++} END {for (k in s) print k "\t" s[k] "\t" c[k]}' "$KV") >$(q "$o.mawk.out")"
  if ((HAVE_VENV)); then
    case_tool duckdb anchor lines "$o.duckdb.out" "$(q "$PY" "$BENCH_DIR/reduce_anchor.py" "$KV" "$o.duckdb.out")"
  fi
  case_tool breduce target lines "$o.breduce.out" "$(q "$BREDUCE" --hash sum:2 count -o "$o.breduce.out" "$KV")"
  if ((HAVE_VENV)); then case_target 0.5@mawk,1.0@duckdb; else case_target 0.5@mawk; fi
  case_run
}

case_shuffle_n4() {
  need_kv
  local bytes kib
  bytes=$(stat -c %s "$KV")
  kib=$(((bytes / 10 + 1023) / 1024))
  case_begin shuffle-n4 "hash-partition into 4, each sorted by field 1 ($BENCH_LINES lines); bshuffle-S: -S ${kib}K (10% of input)"
  case_input "$KV"
  local o=$BENCH_DIR/out/shuffle-n4 check
  check="shuffle:4:$(q -t "$TAB" -k1,1)"
  case_tool gnu-S2G anchor ref "$o.gnu-S2G.out" "$(q sort -t "$TAB" -k1,1 -s -S 2G --parallel=2 -o "$o.gnu-S2G.out" "$KV")"
  case_tool bshuffle target "$check" "$o.bshuffle" "$(q "$BSHUFFLE" -n 4 -o "$o.bshuffle" "$KV")"
  case_tool bshuffle-S target "$check" "$o.bshuffle-S" "$(q "$BSHUFFLE" -n 4 -S "${kib}K" -T "$BENCH_DIR/tmp" -o "$o.bshuffle-S" "$KV")"
  case_target 0.7
  case_tool_target bshuffle-S - $(((kib + 1023) / 1024 + 64))
  case_run
}

# The join data: the orders fact table (TSV, unsorted) and the users dimension; and both
# sorted by the join key for the merge case (cached beside them).
ORD="" USERS=""
need_join() {
  [[ -n $ORD ]] || ORD=$(dataset orders-tsv --lines "$BENCH_JOIN_LINES")
  [[ -n $USERS ]] || USERS=$(dataset users --lines 100000)
}
need_join_sorted() {
  need_join
  [[ -n ${ORDS:-} ]] && return
  ORDS=${ORD%.tsv}-by-user.tsv USERSS=${USERS%.tsv}-sorted.tsv
  [[ -s $ORDS ]] || sort -t "$TAB" -k2,2 -s -S 1G --parallel=2 -T "$BENCH_DIR/tmp" -o "$ORDS" "$ORD"
  [[ -s $USERSS ]] || sort -t "$TAB" -k1,1 -s -o "$USERSS" "$USERS"
}

# Broadcast join: the users table in memory, orders streamed. mawk's hash join writes the
# same bytes in the same (orders') order; DuckDB's order differs (line count checked).
case_join_hash() {
  need_join
  case_begin join-hash "broadcast inner join: orders ($BENCH_JOIN_LINES rows) with users (100k) on user_id"
  case_input "$ORD" "$USERS"
  local o=$BENCH_DIR/out/join-hash
  case_tool mawk anchor ref "$o.mawk.out" "$(q mawk -F "$TAB" -v OFS="$TAB" 'NR == FNR { u[$1] = $2 OFS $3 OFS $4; next } ($2 in u) { print $2, $1, $3, $4, $5, $6, u[$2] }' "$USERS" "$ORD") >$(q "$o.mawk.out")"
  if ((HAVE_VENV)); then
    case_tool duckdb anchor lines "$o.duckdb.out" "$(q "$PY" "$BENCH_DIR/join_anchor.py" "$ORD" "$USERS" "$o.duckdb.out")"
  fi
  case_tool bjoin target cmp "$o.bjoin.out" "$(q "$BJOIN" --left-key 2 --right-key 1 -o "$o.bjoin.out" "$ORD" "$USERS")"
  if ((HAVE_VENV)); then case_target 0.5@mawk,1.0@duckdb; else case_target 0.5@mawk; fi
  case_run
}

# Merge join of two inputs sorted by the key: GNU join's output, byte for byte. bjoin-sort
# (the same join on the unsorted inputs, sorting both) is shown for context.
case_join_merge() {
  need_join_sorted
  case_begin join-merge "merge join of sorted inputs: orders ($BENCH_JOIN_LINES rows, by user_id) with users"
  case_input "$ORDS" "$USERSS"
  local o=$BENCH_DIR/out/join-merge
  case_tool gnu-join anchor ref "$o.gnu-join.out" "$(q join -t "$TAB" -1 2 -2 1 "$ORDS" "$USERSS") >$(q "$o.gnu-join.out")"
  case_tool bjoin target cmp "$o.bjoin.out" "$(q "$BJOIN" --sorted --left-key 2 --right-key 1 -o "$o.bjoin.out" "$ORDS" "$USERSS")"
  case_tool bjoin-sort target lines "$o.bjoin-sort.out" "$(q "$BJOIN" --strategy merge --left-key 2 --right-key 1 -T "$BENCH_DIR/tmp" -o "$o.bjoin-sort.out" "$ORD" "$USERS")"
  case_target 0.7
  case_tool_target bjoin-sort -
  case_run
}

# Word count, MapReduce's hello world. The outputs are not in one order or format (uniq -c
# pads counts; mawk's table is unordered; tr splits on spaces only), so the check is the
# number of distinct words against mawk's (which splits as bmap does); tests/bmap.rs checks
# --words against awk token for token.
case_map_words() {
  need_text
  case_begin map-words "word count: bmap --words | breduce --hash count ($(stat -c %s "$TEXT") bytes of text)"
  case_input "$TEXT"
  local o=$BENCH_DIR/out/map-words
  case_tool tr-sort-uniq anchor none "$o.tr.out" "tr -s ' ' '\n' <$(q "$TEXT") | LC_ALL=C sort -S 2G --parallel=2 -T $(q "$BENCH_DIR/tmp") | uniq -c >$(q "$o.tr.out")"
  case_tool mawk anchor ref "$o.mawk.out" "$(q mawk '{for (i = 1; i <= NF; i++) c[$i]++} END {for (w in c) print w "\t" c[w]}' "$TEXT") >$(q "$o.mawk.out")"
  if ((HAVE_VENV)); then
    case_tool duckdb info lines "$o.duckdb.out" "$(q "$PY" "$BENCH_DIR/anchors.py" duckdb words "$TEXT" "$o.duckdb.out")"
  fi
  case_tool bmap target lines "$o.bmap.out" "$(q "$BMAP" --words "$TEXT") | $(q "$BREDUCE" --hash count -o "$o.bmap.out")"
  if ((HAVE_VENV)); then case_target 0.15@tr-sort-uniq,0.5@mawk,1.0@duckdb; else case_target 0.15@tr-sort-uniq,0.5@mawk; fi
  case_run
}

# The daily revenue of the SPEC's second example, over a JSON-lines orders log; DuckDB's
# exact DECIMAL sums are the reference, byte for byte.
case_map_revenue() {
  need_orders
  case_begin map-revenue "daily revenue over JSON lines: bmap --where --emit | breduce --hash sum:2 count | bsort ($BENCH_ORDERS orders)"
  case_input "$ORDERS"
  local o=$BENCH_DIR/out/map-revenue
  if ((HAVE_VENV)); then
    case_tool duckdb anchor ref "$o.duckdb.out" "$(q "$PY" "$BENCH_DIR/anchors.py" duckdb revenue "$ORDERS" "$o.duckdb.out")"
  else
    skip_case map-revenue "no DuckDB to compare with"; return
  fi
  case_tool bmap target cmp "$o.bmap.out" "$(q "$BMAP" --from jsonl --where 'status == completed' --emit 'created_at|day,amount' "$ORDERS") | $(q "$BREDUCE" --hash sum:2 count) | $(q "$BSORT" -o "$o.bmap.out")"
  case_target 1.0@duckdb
  case_run
}

# External mapping's overhead: chunks through two cat processes, in order, against one cat.
case_map_cat() {
  need_text
  case_begin map-cat "bmap -j 2 -- cat against cat ($(stat -c %s "$TEXT") bytes of text)"
  case_input "$TEXT"
  local o=$BENCH_DIR/out/map-cat
  case_tool cat anchor ref "$o.cat.out" "$(q cat "$TEXT") >$(q "$o.cat.out")"
  case_tool bmap target cmp "$o.bmap.out" "$(q "$BMAP" -j 2 -T "$BENCH_DIR/tmp" "$TEXT" -- cat) >$(q "$o.bmap.out")"
  case_target 2.0@cat
  case_run
}

# ---------------------------------------------------------------- main

for c in "${selected[@]}"; do
  "case_${c//-/_}"
done

# ---------------------------------------------------------------- report

stamp=$(date +%Y%m%d-%H%M%S)
report=$BENCH_DIR/results-$stamp.txt
{
  echo "batchkit bench $stamp"
  if rev=$(git rev-parse --short HEAD 2>/dev/null); then
    git diff --quiet HEAD -- 2>/dev/null || rev+=" (dirty)"
  else rev="- (no commit)"; fi
  echo "commit:   $rev"
  echo "machine:  $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
  [[ -z $KV ]] || echo "data:     $KV ($BENCH_LINES lines, $(stat -c %s "$KV") bytes)"
  [[ -z $TEXT ]] || echo "data:     $TEXT ($(stat -c %s "$TEXT") bytes)"
  [[ -z $ORD ]] || echo "data:     $ORD ($BENCH_JOIN_LINES rows, $(stat -c %s "$ORD") bytes), $USERS"
  [[ -z $ORDERS ]] || echo "data:     $ORDERS ($BENCH_ORDERS lines, $(stat -c %s "$ORDERS") bytes)"
  for b in "${BINS[@]}"; do
    var=${b^^}
    printf '%-10s%s (%s)\n' "$b:" "${!var}" "$("${!var}" --version 2>/dev/null | head -n 1 || true)"
  done
  echo "anchors:  $(sort --version | head -n 1)$( ((HAVE_VENV)) && "$PY" -c 'import duckdb, polars; print(f", duckdb {duckdb.__version__}, polars {polars.__version__}")' 2>/dev/null)"
  echo "runs:     $BENCH_RUNS (median wall seconds; peak RSS = max over runs; ratio = median / fastest anchor (*))"
  echo
  print_table
  if ((${#NOTES[@]})); then
    echo
    echo "notes:"
    printf '  - %s\n' "${NOTES[@]}"
  fi
} | tee "$report"
echo "(written to $report)"

if ((FAILED)); then
  echo "!!! bench: some tool failed or produced wrong output (see notes above)" >&2
  exit 1
fi
if ((MISSED)) && [[ $BENCH_STRICT == 1 ]]; then exit 3; fi
exit 0
