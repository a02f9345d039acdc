#!/usr/bin/env bash
# Benchmarks for batchkit against reference tools ("anchors"), on the reference data of
# scripts/bench/gen.py (the data the issues' performance targets are set on).
#
#   BENCH_DATA=/work/bench-ref scripts/bench.sh      # everything, on existing data
#   scripts/bench.sh                                 # generates .bench/ref first (~3.2 GB)
#   BENCH_SMALL=1 BENCH_RUNS=1 scripts/bench.sh      # a quick check on gen.py --small
#   BENCH_ONLY='reduce-hash' scripts/bench.sh        # cases whose id matches the regex
#
# Cases (targets from issues 11 and 13, and the older ones of the sort/split/shuffle cases):
#   reduce-hash      breduce --hash sum:2 count kv.tsv vs Polars, DuckDB, chdb, mawk
#   reduce-hash-10m  the same on a kv with 10M distinct keys (derived from kv.tsv) vs DuckDB
#   reduce-hash-j    breduce --hash -j 1 against -j 2
#   reduce-words     breduce --hash count over the saved output of bmap --words text.txt
#   reduce-stream    breduce sum:2 count on key-sorted kv vs datamash
#   shuffle-combine  bshuffle --combine sum:2 --combine count | breduce --merge sum:2 count
#   map-words        bmap --words text.txt | breduce --hash count vs chdb, DuckDB, Polars
#   map-revenue-json bmap --from jsonl --where --emit | breduce --hash sum:2 count | bsort
#   map-revenue-tsv  the same over orders.tsv; both vs DuckDB, Polars, chdb
#   map-words-combine, map-revenue-json-combine, map-revenue-tsv-combine  the combined
#                    forms (bmap --combine | breduce --merge --hash), which carry issue
#                    13's targets: 0.8x chdb, 0.8x DuckDB, 0.8x Polars
#   revenue-parquet  the daily revenue over orders.parquet (orders.tsv written by DuckDB) vs
#                    DuckDB over the same file (issue 17)
#   to-parquet       bmap orders.tsv -o X.parquet vs DuckDB's COPY ... TO (FORMAT parquet)
#   join-hash        bjoin --strategy hash orders.tsv users.tsv vs DuckDB, GNU join (presorted)
#   map-cat          bmap -j 2 -- cat vs cat
#   sort-key sort-num sort-ext (bsort on kv), split-n4 (bsplit -n 4 on text), shuffle-n4
#   (bshuffle -n 4 on kv), join-merge (bjoin --sorted on the presorted orders and users)
#
# Environment:
#   BENCH_DATA     the reference data directory (default .bench/ref, or .bench/ref-small):
#                  reused when its MANIFEST.tsv matches the files, else generated there with
#                  `python3 scripts/bench/gen.py --out DIR --manifest [--small]`
#   BENCH_SMALL=1  gen.py --small (~15 MB) instead of the default sizes (3.2 GB)
#   BENCH_RUNS     timed runs per tool, alternating between tools (default 3)
#   BENCH_RUNS_OTHER  runs of the cases without an issue target (sort-*, split-n4,
#                  shuffle-n4, join-merge, map-cat; default BENCH_RUNS)
#   BENCH_ONLY     extended regex on case ids; only matching cases run
#   BENCH_BASE     a directory with the binaries of the commit the "x faster than today"
#                  targets are judged against (e.g. main's target/release): run beside
#                  the current ones as tool `main` in reduce-words, shuffle-combine and
#                  map-words. Unset: those targets are NO-ANCHOR(main) and the committed
#                  BENCHMARKS.md of today's main holds the baseline
#   BENCH_PAGE     where the results page goes (default BENCHMARKS.md for a full run on
#                  the default sizes, else .bench/BENCHMARKS.md); its chart is PAGE's
#                  name with .png
#   BENCH_RENDER=FILE  only write the page again, from the results a run saved in
#                  .bench/state-DATE.sh (e.g. after changing the page's layout)
#   BENCH_TIMEOUT  seconds before one run is killed (default 3600)
#   BENCH_KEEP=1   keep the outputs in .bench/out/ (default: removed per case)
#   BENCH_STRICT=1 exit 3 when a target is missed (default: exit 0 on misses)
#   BENCH_BUILD=0  skip `cargo build --release`
#   BSORT, BSPLIT, BSHUFFLE, BREDUCE, BJOIN, BMAP  the binaries (default target/release/NAME); the
#                  build is skipped when every binary the selected cases use is set
#
# Everything else lives in .bench/ (gitignored): ref/ (the data), derived-MD5/ (files
# computed from it, untimed: kv sorted, the 10M-key kv, the words file, presorted join
# inputs), venv/ (pinned DuckDB, Polars, chdb, matplotlib), out/ (outputs, logs,
# /usr/bin/time reports), tmp/ (spill directory), results-DATE.txt.
# Exit status: 0 all verified (targets may be missed), 1 a tool failed or an
# output did not verify, 3 with BENCH_STRICT=1 and a missed target.
# shellcheck disable=SC2317  # case functions are called indirectly
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH_DIR=$ROOT/.bench
BENCH_SMALL=${BENCH_SMALL:-0}
[[ $BENCH_SMALL == 1 ]] || BENCH_SMALL=0
if ((BENCH_SMALL)); then BENCH_DATA=${BENCH_DATA:-$BENCH_DIR/ref-small}; else BENCH_DATA=${BENCH_DATA:-$BENCH_DIR/ref}; fi
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_RUNS_OTHER=${BENCH_RUNS_OTHER:-$BENCH_RUNS}
BENCH_ONLY=${BENCH_ONLY:-}
BENCH_BASE=${BENCH_BASE:-}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-3600}
BENCH_STRICT=${BENCH_STRICT:-0}
# The PyPI anchors, pinned: versions that install on Python 3.11 here (chdb pulls in
# pandas and pyarrow).
PINS=(duckdb==2.0.1 polars==2.1.0 chdb==4.4.0 matplotlib==3.11.2)

# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"

mkdir -p "$BENCH_DIR/out" "$BENCH_DIR/tmp"
export LC_ALL=C # every tool compares bytes; GNU sort must not use a locale

# page_default — where the page goes unless BENCH_PAGE says: BENCHMARKS.md for a run of
# every case on the default sizes, else .bench/BENCHMARKS.md.
page_default() {
  if ((!BENCH_SMALL)) && [[ -z $BENCH_ONLY ]]; then printf '%s' "$ROOT/BENCHMARKS.md"; else printf '%s' "$BENCH_DIR/BENCHMARKS.md"; fi
}

# BENCH_RENDER=FILE: write the page again from a run's saved results (.bench/state-DATE.sh)
if [[ -n ${BENCH_RENDER:-} ]]; then
  # shellcheck source=/dev/null
  source "$BENCH_RENDER"
  PY=$BENCH_DIR/venv/bin/python
  [[ -x $PY ]] && HAVE_VENV=1
  BENCH_PAGE=${BENCH_PAGE:-$(page_default)}
  write_page "$BENCH_PAGE" "$stamp" "$rev"
  echo "(page written to $BENCH_PAGE from $BENCH_RENDER)"
  exit 0
fi

# ---------------------------------------------------------------- selection

# The cases with an issue target first (so a short run measures them), then the others.
CASES=(reduce-hash reduce-hash-10m reduce-hash-j reduce-words reduce-stream shuffle-combine
  map-words-combine map-revenue-json-combine map-revenue-tsv-combine
  map-words map-revenue-json map-revenue-tsv revenue-parquet to-parquet join-hash map-cat
  sort-key sort-num sort-ext split-n4 shuffle-n4 join-merge)

selected=()
for c in "${CASES[@]}"; do
  if [[ -z $BENCH_ONLY || $c =~ $BENCH_ONLY ]]; then selected+=("$c"); fi
done
((${#selected[@]})) || { echo "bench: BENCH_ONLY='$BENCH_ONLY' matches no case (${CASES[*]})" >&2; exit 2; }

# the binaries the selected cases use
BINS=()
for c in "${selected[@]}"; do
  case $c in
    sort-*) bs=(bsort) ;; split-*) bs=(bsplit) ;; shuffle-n4) bs=(bshuffle) ;;
    shuffle-combine) bs=(bshuffle breduce) ;; reduce-words) bs=(breduce bmap) ;; reduce-*) bs=(breduce) ;;
    join-*) bs=(bjoin) ;; map-* | revenue-parquet) bs=(bmap breduce bsort bshuffle) ;;
    to-parquet) bs=(bmap) ;; *) continue ;;
  esac
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
if [[ -n $BENCH_BASE ]]; then
  BENCH_BASE=$(cd "$BENCH_BASE" && pwd)
  for b in breduce bshuffle bmap; do
    [[ -x $BENCH_BASE/$b ]] || { echo "bench: BENCH_BASE=$BENCH_BASE has no executable $b" >&2; exit 1; }
  done
fi

ensure_apt mawk:mawk datamash:datamash time:/usr/bin/time coreutils:join
if [[ -x /usr/bin/time ]]; then HAVE_TIME=1; else warn "/usr/bin/time missing: no peak RSS or CPU time"; fi
ensure_venv "${PINS[@]}"
PY=$BENCH_DIR/venv/bin/python
ENGINES=$ROOT/scripts/bench/engines.py
have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------- data

ref_data "$BENCH_DATA" "$BENCH_SMALL"
BENCH_DATA=$(cd "$BENCH_DATA" && pwd)
KV=$BENCH_DATA/kv.tsv TEXT=$BENCH_DATA/text.txt ORD=$BENCH_DATA/orders.tsv
ORDJ=$BENCH_DATA/orders.jsonl USERS=$BENCH_DATA/users.tsv
DERIVED=$BENCH_DIR/derived-$(md5sum <"$BENCH_DATA/MANIFEST.tsv" | cut -c1-8)
lines_of() { awk -F'\t' -v f="$1" '$1 == f { print $3 }' "$BENCH_DATA/MANIFEST.tsv"; }
KV_LINES=$(lines_of kv.tsv) ORD_LINES=$(lines_of orders.tsv) USERS_LINES=$(lines_of users.tsv)
TEXT_BYTES=$(stat -c %s "$TEXT")
# distinct keys of the many-keys variant: 10M of the 20M lines (half the lines, when small)
KEYS10M=$((KV_LINES / 2 < 10000000 ? KV_LINES / 2 : 10000000))

# The derived inputs (untimed, cached in $DERIVED), made on first use.
need_kv_sorted() { [[ -n ${KVS:-} ]] || KVS=$(derived kv-sorted.tsv "$(q sort -t "$TAB" -k1,1 -s -S 2G --parallel=2 -T "$BENCH_DIR/tmp" "$KV") >\"\$OUT\""); }
# Line i of kv.tsv keeps its value; its key becomes u + 6 hex digits of
# ((i * 7919) mod K) * 40503 mod 2^24: exactly K distinct keys (7919 is prime to K = 10^7,
# 40503 odd and K < 2^24), each on 2 lines 10M apart, in no order.
need_kv10m() {
  # shellcheck disable=SC2016  # an awk program
  [[ -n ${KV10M:-} ]] || KV10M=$(derived "kv-$KEYS10M-keys.tsv" \
    "$(q mawk -F "$TAB" -v k="$KEYS10M" '{ r = (NR * 7919) % k; printf "u%06x\t%s\n", (r * 40503) % 16777216, $2 }' "$KV") >\"\$OUT\"")
}
need_words() { [[ -n ${WORDS:-} ]] || WORDS=$(derived words.tsv "$(q "$BMAP" --words "$TEXT") >\"\$OUT\""); }
need_join_sorted() {
  [[ -n ${ORDS:-} ]] && return
  ORDS=$(derived orders-by-user.tsv "$(q sort -t "$TAB" -k2,2 -s -S 1G --parallel=2 -T "$BENCH_DIR/tmp" "$ORD") >\"\$OUT\"")
  USERSS=$(derived users-sorted.tsv "$(q sort -t "$TAB" -k1,1 -s "$USERS") >\"\$OUT\"")
}

# engine NAME ROLE CHECK OP IN... — one PyPI engine's tool (scripts/bench/engines.py).
engine() {
  local e=$1 role=$2 check=$3 op=$4 out=$BENCH_DIR/out/$C_ID.$1.out
  shift 4
  ((HAVE_VENV)) || return 0
  case_tool "$e" "$role" "$check" "$out" "$(q "$PY" "$ENGINES" "$e" "$op" "$out" "$@")"
}
# engine_target SPEC — SPEC when the venv is there, else ALT (for cases whose anchors are engines)
with_venv() { if ((HAVE_VENV)); then printf '%s' "$1"; else printf '%s' "${2:--}"; fi; }

# ---------------------------------------------------------------- cases
# One function per case, named case_<id with _ for ->; listed in CASES. Every tool's output
# is verified on every run (see case_tool in scripts/bench-lib.sh): hash tables come out in
# any order, so those are compared sorted (the `sorted` check).

case_reduce_hash() {
  case_begin reduce-hash "hash group-by: breduce --hash sum:2 count kv.tsv ($KV_LINES lines)"
  case_input "$KV"
  local o=$BENCH_DIR/out/reduce-hash
  # mawk's doubles are exact below 2^53 (the sums are below 2^45); %.0f prints them whole
  # shellcheck disable=SC2016  # an awk program
  case_tool mawk anchor ref "$o.mawk.out" "$(q mawk -F "$TAB" '{ s[$1] += $2; c[$1]++ } END { for (k in s) printf "%s\t%.0f\t%d\n", k, s[k], c[k] }' "$KV") >$(q "$o.mawk.out")"
  engine polars anchor sorted groupby "$KV"
  engine duckdb anchor sorted groupby "$KV"
  engine chdb anchor sorted groupby "$KV"
  case_tool breduce target sorted "$o.breduce.out" "$(q "$BREDUCE" --hash sum:2 count -o "$o.breduce.out" "$KV")"
  case_target "$(with_venv 0.8@polars,0.8@duckdb)"
  case_run
}

case_reduce_hash_10m() {
  need_kv10m
  case_begin reduce-hash-10m "hash group-by with $KEYS10M distinct keys: breduce --hash sum:2 count ($KV_LINES lines)"
  case_input "$KV10M"
  local o=$BENCH_DIR/out/reduce-hash-10m
  ((HAVE_VENV)) || { skip_case reduce-hash-10m "no DuckDB to compare with"; return; }
  engine duckdb anchor ref groupby "$KV10M"
  case_tool breduce target sorted "$o.breduce.out" "$(q "$BREDUCE" --hash sum:2 count -o "$o.breduce.out" "$KV10M")"
  case_target 1.0@duckdb
  case_run
}

case_reduce_hash_j() {
  case_begin reduce-hash-j "breduce --hash sum:2 count kv.tsv: -j 2 against -j 1"
  case_input "$KV"
  local o=$BENCH_DIR/out/reduce-hash-j
  case_tool breduce-j1 target ref "$o.j1.out" "$(q "$BREDUCE" --hash -j 1 sum:2 count -o "$o.j1.out" "$KV")"
  case_tool breduce-j2 target sorted "$o.j2.out" "$(q "$BREDUCE" --hash -j 2 sum:2 count -o "$o.j2.out" "$KV")"
  case_target -
  case_tool_target breduce-j2 0.588@breduce-j1 # 1.7x faster
  case_run
}

case_reduce_words() {
  need_words
  case_begin reduce-words "breduce --hash count over bmap --words text.txt, saved ($(wc -l <"$WORDS") lines)"
  case_input "$WORDS"
  local o=$BENCH_DIR/out/reduce-words
  ((HAVE_VENV)) || { skip_case reduce-words "no DuckDB to compare with"; return; }
  engine duckdb anchor ref count "$WORDS"
  if [[ -n $BENCH_BASE ]]; then
    case_tool main info sorted "$o.main.out" "$(q "$BENCH_BASE/breduce" --hash count -o "$o.main.out" "$WORDS")"
  fi
  case_tool breduce target sorted "$o.breduce.out" "$(q "$BREDUCE" --hash count -o "$o.breduce.out" "$WORDS")"
  if [[ -n $BENCH_BASE ]]; then case_target 0.333@main; else case_target -; fi # 3x faster than today
  case_run
}

case_reduce_stream() {
  need_kv_sorted
  case_begin reduce-stream "streaming group-by over key-sorted kv: breduce sum:2 count ($KV_LINES lines)"
  case_input "$KVS"
  local o=$BENCH_DIR/out/reduce-stream
  # --format %.0f: by default datamash rounds sums to 14 significant digits; breduce is exact.
  case_tool datamash anchor ref "$o.datamash.out" "$(q datamash --format '%.0f' -g1 sum 2 count 2) <$(q "$KVS") >$(q "$o.datamash.out")"
  case_tool breduce target cmp "$o.breduce.out" "$(q "$BREDUCE" sum:2 count -o "$o.breduce.out" "$KVS")"
  case_target 0.2@datamash
  case_run
}

case_shuffle_combine() {
  case_begin shuffle-combine "bshuffle --combine sum:2 --combine count kv.tsv | breduce --merge sum:2 count ($KV_LINES lines)"
  case_input "$KV"
  local o=$BENCH_DIR/out/shuffle-combine b
  ((HAVE_VENV)) || { skip_case shuffle-combine "no DuckDB to compare with"; return; }
  engine duckdb anchor ref groupby "$KV"
  pipeline() { printf '%s | %s' "$(q "$1/bshuffle" --combine sum:2 --combine count -T "$BENCH_DIR/tmp" "$KV")" "$(q "$2/breduce" --merge sum:2 count -o "$3")"; }
  if [[ -n $BENCH_BASE ]]; then case_tool main info sorted "$o.main.out" "$(pipeline "$BENCH_BASE" "$BENCH_BASE" "$o.main.out")"; fi
  case_tool bshuffle target sorted "$o.bshuffle.out" "$(pipeline "$(dirname "$BSHUFFLE")" "$(dirname "$BREDUCE")" "$o.bshuffle.out")"
  if [[ -n $BENCH_BASE ]]; then case_target 0.5@main; else case_target -; fi # half of today's
  case_run
}

case_map_words() {
  case_begin map-words "word count: bmap --words text.txt | breduce --hash count ($TEXT_BYTES bytes)"
  case_input "$TEXT"
  local o=$BENCH_DIR/out/map-words
  ((HAVE_VENV)) || { skip_case map-words "no chdb to compare with"; return; }
  engine chdb anchor ref words "$TEXT"
  engine duckdb anchor sorted words "$TEXT"
  engine polars anchor sorted words "$TEXT"
  if [[ -n $BENCH_BASE ]]; then
    case_tool main info sorted "$o.main.out" "$(q "$BENCH_BASE/bmap" --words "$TEXT") | $(q "$BENCH_BASE/breduce" --hash count -o "$o.main.out")"
  fi
  case_tool bmap target sorted "$o.bmap.out" "$(q "$BMAP" --words "$TEXT") | $(q "$BREDUCE" --hash count -o "$o.bmap.out")"
  # (the combined form is case map-words-combine)
  case_tool bmap-shuffle target sorted "$o.bmap-shuffle.out" "$(q "$BMAP" --words "$TEXT") | $(q "$BSHUFFLE" -T "$BENCH_DIR/tmp") | $(q "$BREDUCE" count -o "$o.bmap-shuffle.out")"
  case_target 0.8@chdb
  case_tool_target bmap-shuffle -
  case_run
}

# The combined forms (bmap --combine, issue 13): the documented ones, with the targets.
has_combine() {
  "$BMAP" --help 2>/dev/null | grep -q -- '--combine' && return 0
  skip_case "$1" "this bmap has no --combine"
  return 1
}

case_map_words_combine() {
  case_begin map-words-combine "word count, combined: bmap --words --combine count text.txt | breduce --merge --hash count ($TEXT_BYTES bytes)"
  case_input "$TEXT"
  local o=$BENCH_DIR/out/map-words-combine
  ((HAVE_VENV)) || { skip_case map-words-combine "no chdb to compare with"; return; }
  has_combine map-words-combine || return
  engine chdb anchor ref words "$TEXT"
  engine duckdb anchor sorted words "$TEXT"
  engine polars anchor sorted words "$TEXT"
  case_tool bmap target sorted "$o.bmap.out" "$(q "$BMAP" --words --combine count "$TEXT") | $(q "$BREDUCE" --merge --hash count -o "$o.bmap.out")"
  case_target 0.8@chdb
  case_run
}

case_map_revenue_json_combine() {
  case_begin map-revenue-json-combine "daily revenue over JSON lines, combined: bmap --from jsonl --where --emit --combine sum:2 --combine count | breduce --merge --hash sum:2 count ($ORD_LINES orders)"
  case_input "$ORDJ"
  local o=$BENCH_DIR/out/map-revenue-json-combine
  ((HAVE_VENV)) || { skip_case map-revenue-json-combine "no DuckDB to compare with"; return; }
  has_combine map-revenue-json-combine || return
  engine duckdb anchor ref revenue-json "$ORDJ"
  engine polars anchor sorted:cents revenue-json "$ORDJ"
  engine chdb anchor sorted:exact revenue-json "$ORDJ"
  case_tool bmap target sorted:exact "$o.bmap.out" "$(q "$BMAP" --from jsonl --where 'status == completed' --emit 'created_at|day,amount' --combine sum:2 --combine count "$ORDJ") | $(q "$BREDUCE" --merge --hash sum:2 count -o "$o.bmap.out")"
  case_target 0.8@duckdb
  case_run
}

case_map_revenue_tsv_combine() {
  case_begin map-revenue-tsv-combine "daily revenue over TSV, combined: bmap --where '4 == completed' --emit '5|day,6' --combine sum:2 --combine count | breduce --merge --hash sum:2 count ($ORD_LINES orders)"
  case_input "$ORD"
  local o=$BENCH_DIR/out/map-revenue-tsv-combine
  ((HAVE_VENV)) || { skip_case map-revenue-tsv-combine "no DuckDB to compare with"; return; }
  has_combine map-revenue-tsv-combine || return
  engine duckdb anchor ref revenue-tsv "$ORD"
  engine polars anchor sorted:cents revenue-tsv "$ORD"
  engine chdb anchor sorted:exact revenue-tsv "$ORD"
  case_tool bmap target sorted:exact "$o.bmap.out" "$(q "$BMAP" --where '4 == completed' --emit '5|day,6' --combine sum:2 --combine count "$ORD") | $(q "$BREDUCE" --merge --hash sum:2 count -o "$o.bmap.out")"
  case_target 0.8@polars
  case_run
}

# The daily revenue of the SPEC's second example; DuckDB's exact DECIMAL sums are the
# reference (the Decimal oracle), chdb's Decimal too; Polars sums Float64 (compared in cents).
case_map_revenue_json() {
  case_begin map-revenue-json "daily revenue over JSON lines: bmap --from jsonl --where --emit | breduce --hash sum:2 count | bsort ($ORD_LINES orders)"
  case_input "$ORDJ"
  local o=$BENCH_DIR/out/map-revenue-json
  ((HAVE_VENV)) || { skip_case map-revenue-json "no DuckDB to compare with"; return; }
  engine duckdb anchor ref revenue-json "$ORDJ"
  engine polars anchor sorted:cents revenue-json "$ORDJ"
  engine chdb anchor sorted:exact revenue-json "$ORDJ"
  case_tool bmap target sorted:exact "$o.bmap.out" "$(q "$BMAP" --from jsonl --where 'status == completed' --emit 'created_at|day,amount' "$ORDJ") | $(q "$BREDUCE" --hash sum:2 count) | $(q "$BSORT" -o "$o.bmap.out")"
  case_target 0.8@duckdb
  case_run
}

case_map_revenue_tsv() {
  case_begin map-revenue-tsv "daily revenue over TSV: bmap --where '4 == completed' --emit '5|day,6' | breduce --hash sum:2 count | bsort ($ORD_LINES orders)"
  case_input "$ORD"
  local o=$BENCH_DIR/out/map-revenue-tsv
  ((HAVE_VENV)) || { skip_case map-revenue-tsv "no DuckDB to compare with"; return; }
  engine duckdb anchor ref revenue-tsv "$ORD"
  engine polars anchor sorted:cents revenue-tsv "$ORD"
  engine chdb anchor sorted:exact revenue-tsv "$ORD"
  case_tool bmap target sorted:exact "$o.bmap.out" "$(q "$BMAP" --where '4 == completed' --emit '5|day,6' "$ORD") | $(q "$BREDUCE" --hash sum:2 count) | $(q "$BSORT" -o "$o.bmap.out")"
  case_target 0.8@polars
  case_run
}

# Issue 17: Parquet at both ends. orders.parquet is orders.tsv as DuckDB writes it (derived,
# untimed); both read it, and both turn orders.tsv into Parquet. Our tools run at -S 64M,
# so the RSS bound is -S + 64 MiB on files over 10x -S.
need_orders_parquet() {
  [[ -n ${ORDP:-} ]] || ORDP=$(derived orders.parquet "$(q "$PY" "$ENGINES" duckdb to-parquet) \"\$OUT\" $(q "$ORD")")
}
case_revenue_parquet() {
  case_begin revenue-parquet "daily revenue over Parquet: bmap --where '4 == completed' --emit '5|day,6' orders.parquet | breduce --hash sum:2 count | bsort ($ORD_LINES orders)"
  ((HAVE_VENV)) || { skip_case revenue-parquet "no DuckDB to write and read Parquet"; return; }
  need_orders_parquet
  case_input "$ORDP"
  local o=$BENCH_DIR/out/revenue-parquet
  engine duckdb anchor ref revenue-parquet "$ORDP"
  case_tool bmap target sorted:exact "$o.bmap.out" "$(q "$BMAP" -S 64M --where '4 == completed' --emit '5|day,6' "$ORDP") | $(q "$BREDUCE" --hash sum:2 count) | $(q "$BSORT" -o "$o.bmap.out")"
  case_target 1.0@duckdb 128
  case_run
}
case_to_parquet() {
  case_begin to-parquet "orders.tsv to Parquet: bmap -S 64M orders.tsv -o orders.parquet vs DuckDB COPY TO ($ORD_LINES orders)"
  case_input "$ORD"
  ((HAVE_VENV)) || { skip_case to-parquet "no DuckDB to compare with"; return; }
  local o=$BENCH_DIR/out/to-parquet
  engine duckdb anchor none to-parquet "$ORD"
  case_tool bmap target none "$o.bmap.parquet" "$(q "$BMAP" -S 64M "$ORD" -o "$o.bmap.parquet")"
  case_target 1.0@duckdb 128
  case_run
}

# Broadcast join: users in memory, orders streamed. GNU join reads the inputs presorted by
# the key (the sort is not timed); every output is compared sorted.
case_join_hash() {
  need_join_sorted
  case_begin join-hash "hash join: bjoin --strategy hash orders.tsv ($ORD_LINES rows) users.tsv ($USERS_LINES) on user_id"
  case_input "$ORD" "$USERS" "$ORDS" "$USERSS"
  local o=$BENCH_DIR/out/join-hash
  case_tool gnu-join anchor ref "$o.gnu-join.out" "$(q join -t "$TAB" -1 2 -2 1 "$ORDS" "$USERSS") >$(q "$o.gnu-join.out")"
  engine duckdb anchor sorted join "$ORD" "$USERS"
  case_tool bjoin target sorted "$o.bjoin.out" "$(q "$BJOIN" --strategy hash --left-key 2 --right-key 1 -o "$o.bjoin.out" "$ORD" "$USERS")"
  case_target "$(with_venv 0.6@duckdb,1.0@gnu-join 1.0@gnu-join)"
  case_run
}

# External mapping's overhead: chunks through two cat processes, in order, against one cat.
case_map_cat() {
  case_begin map-cat "bmap -j 2 -- cat against cat ($TEXT_BYTES bytes of text)"
  C_RUNS=$BENCH_RUNS_OTHER
  case_input "$TEXT"
  local o=$BENCH_DIR/out/map-cat
  case_tool cat anchor ref "$o.cat.out" "$(q cat "$TEXT") >$(q "$o.cat.out")"
  case_tool bmap target cmp "$o.bmap.out" "$(q "$BMAP" -j 2 -T "$BENCH_DIR/tmp" "$TEXT" -- cat) >$(q "$o.bmap.out")"
  case_target 2.0@cat
  case_run
}

case_sort_key() {
  case_begin sort-key "in-memory sort by key: -t TAB -k1,1 kv.tsv ($KV_LINES lines)"
  C_RUNS=$BENCH_RUNS_OTHER
  case_input "$KV"
  local o=$BENCH_DIR/out/sort-key check
  check="order:$(q -t "$TAB" -k1,1)"
  case_tool gnu-S2G anchor ref "$o.gnu-S2G.out" "$(q sort -t "$TAB" -k1,1 -S 2G --parallel=2 -o "$o.gnu-S2G.out" "$KV")"
  case_tool gnu-S100M anchor cmp "$o.gnu-S100M.out" "$(q sort -t "$TAB" -k1,1 -S 100M --parallel=2 -T "$BENCH_DIR/tmp" -o "$o.gnu-S100M.out" "$KV")"
  engine duckdb anchor "$check" sort-key "$KV"
  engine polars anchor "$check" sort-key "$KV"
  engine chdb anchor "$check" sort-key "$KV"
  case_tool bsort target cmp "$o.bsort.out" "$(q "$BSORT" -t "$TAB" -k1,1 -o "$o.bsort.out" "$KV")"
  case_target 0.5@gnu-S2G
  case_run
}

case_sort_num() {
  case_begin sort-num "numeric sort: -t TAB -k2,2n kv.tsv ($KV_LINES lines)"
  C_RUNS=$BENCH_RUNS_OTHER
  case_input "$KV"
  local o=$BENCH_DIR/out/sort-num check
  check="order:$(q -t "$TAB" -k2,2n)"
  case_tool gnu-S2G anchor ref "$o.gnu-S2G.out" "$(q sort -t "$TAB" -k2,2n -S 2G --parallel=2 -o "$o.gnu-S2G.out" "$KV")"
  engine duckdb anchor "$check" sort-num "$KV"
  engine polars anchor "$check" sort-num "$KV"
  engine chdb anchor "$check" sort-num "$KV"
  case_tool bsort target cmp "$o.bsort.out" "$(q "$BSORT" -t "$TAB" -k2,2n -o "$o.bsort.out" "$KV")"
  case_target 0.25@gnu-S2G
  case_run
}

case_sort_ext() {
  local bytes kib
  bytes=$(stat -c %s "$KV")
  kib=$(((bytes / 10 + 1023) / 1024))
  case_begin sort-ext "external sort by key, -S ${kib}K (10% of kv.tsv), --parallel=2"
  C_RUNS=$BENCH_RUNS_OTHER
  case_input "$KV"
  local o=$BENCH_DIR/out/sort-ext
  case_tool gnu anchor ref "$o.gnu.out" "$(q sort -t "$TAB" -k1,1 -S "${kib}K" --parallel=2 -T "$BENCH_DIR/tmp" -o "$o.gnu.out" "$KV")"
  case_tool bsort target cmp "$o.bsort.out" "$(q "$BSORT" -t "$TAB" -k1,1 -S "${kib}K" --parallel=2 -T "$BENCH_DIR/tmp" -o "$o.bsort.out" "$KV")"
  case_target 0.6 $(((kib + 1023) / 1024 + 64))
  case_run
}

case_split_n4() {
  case_begin split-n4 "4 chunks at line boundaries: bsplit -n 4 text.txt ($TEXT_BYTES bytes)"
  C_RUNS=$BENCH_RUNS_OTHER
  case_input "$TEXT"
  local o=$BENCH_DIR/out/split-n4
  # split writes into the current directory: an empty one made by the command
  case_tool split-l4 anchor files:4 "$o.split-l4" "$(q mkdir "$o.split-l4") && cd $(q "$o.split-l4") && $(q split -n l/4 "$TEXT")"
  case_tool cat anchor none "$o.cat.none" "$(q cat "$TEXT") >/dev/null"
  case_tool bsplit target parts:4 "$o.bsplit" "$(q "$BSPLIT" -n 4 -o "$o.bsplit" "$TEXT")"
  case_target 1.0@split-l4,2.0@cat
  case_run
}

case_shuffle_n4() {
  local bytes kib
  bytes=$(stat -c %s "$KV")
  kib=$(((bytes / 10 + 1023) / 1024))
  case_begin shuffle-n4 "hash-partition kv.tsv into 4, each sorted by field 1; bshuffle-S: -S ${kib}K (10% of input)"
  C_RUNS=$BENCH_RUNS_OTHER
  case_input "$KV"
  local o=$BENCH_DIR/out/shuffle-n4 check
  check="shuffle:4:$(q -t "$TAB" -k1,1)"
  case_tool gnu-S2G anchor ref "$o.gnu-S2G.out" "$(q sort -t "$TAB" -k1,1 -s -S 2G --parallel=2 -o "$o.gnu-S2G.out" "$KV")"
  case_tool bshuffle target "$check" "$o.bshuffle" "$(q "$BSHUFFLE" -n 4 -o "$o.bshuffle" "$KV")"
  case_tool bshuffle-S target "$check" "$o.bshuffle-S" "$(q "$BSHUFFLE" -n 4 -S "${kib}K" -T "$BENCH_DIR/tmp" -o "$o.bshuffle-S" "$KV")"
  case_target 0.7@gnu-S2G
  case_tool_target bshuffle-S - $(((kib + 1023) / 1024 + 64))
  case_run
}

# Merge join of two inputs sorted by the key: GNU join's output, byte for byte. bjoin-sort
# (the same join on the unsorted inputs, sorting both) is shown for context.
case_join_merge() {
  need_join_sorted
  case_begin join-merge "merge join of presorted orders.tsv (by user_id) with users.tsv"
  C_RUNS=$BENCH_RUNS_OTHER
  case_input "$ORDS" "$USERSS"
  local o=$BENCH_DIR/out/join-merge
  case_tool gnu-join anchor ref "$o.gnu-join.out" "$(q join -t "$TAB" -1 2 -2 1 "$ORDS" "$USERSS") >$(q "$o.gnu-join.out")"
  case_tool bjoin target cmp "$o.bjoin.out" "$(q "$BJOIN" --sorted --left-key 2 --right-key 1 -o "$o.bjoin.out" "$ORDS" "$USERSS")"
  case_tool bjoin-sort target lines "$o.bjoin-sort.out" "$(q "$BJOIN" --strategy merge --left-key 2 --right-key 1 -T "$BENCH_DIR/tmp" -o "$o.bjoin-sort.out" "$ORD" "$USERS")"
  case_target 0.7@gnu-join
  case_tool_target bjoin-sort -
  case_run
}

# ---------------------------------------------------------------- main

stamp=$(date -u +%Y%m%d-%H%M%S)
report=$BENCH_DIR/results-$stamp.txt
if rev=$(git rev-parse --short HEAD 2>/dev/null); then
  git diff --quiet HEAD -- 2>/dev/null || rev+=" (dirty)"
else rev="- (no commit)"; fi
MACHINE="$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
ANCHOR_VERSIONS="$(sort --version | head -n 1), $(mawk -W version 2>&1 | head -n 1 | cut -d' ' -f1-2), $(datamash --version 2>/dev/null | head -n 1)"
if ((HAVE_VENV)); then
  ANCHOR_VERSIONS+="$("$PY" -c 'import duckdb, polars, chdb; print(f", duckdb {duckdb.__version__}, polars {polars.__version__}, chdb {chdb.__version__}")' 2>/dev/null)"
fi
BIN_VERSIONS=()
for b in "${BINS[@]}"; do
  var=${b^^}
  BIN_VERSIONS+=("$b: \`${!var#"$ROOT"/}\` ($("${!var}" --version 2>/dev/null | head -n 1 || true))")
done
MANIFEST_TSV=$(cat "$BENCH_DATA/MANIFEST.tsv")
# The results page (issue 16), rewritten after every case (marked partial until the last)
# so that a run cut short keeps the cases it finished; the results are saved beside it
# for BENCH_RENDER.
BENCH_PAGE=${BENCH_PAGE:-$(page_default)}
STATE=$BENCH_DIR/state-$stamp.sh

T_START=$EPOCHREALTIME
done_cases=0
for c in "${selected[@]}"; do
  "case_${c//-/_}"
  done_cases=$((done_cases + 1))
  T_TOTAL=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
  PARTIAL=""
  ((done_cases == ${#selected[@]})) || PARTIAL="$done_cases of ${#selected[@]} cases"
  save_state "$STATE"
  write_page "$BENCH_PAGE" "$stamp" "$rev"
done

# ---------------------------------------------------------------- report

{
  echo "batchkit bench $stamp (UTC), $T_TOTAL s"
  echo "commit:   $rev"
  echo "machine:  $MACHINE"
  echo "data:     $BENCH_DATA (gen.py$( ((BENCH_SMALL)) && echo ' --small'); MANIFEST.tsv md5 $(md5sum <"$BENCH_DATA/MANIFEST.tsv" | cut -c1-12))"
  for b in "${BINS[@]}"; do
    var=${b^^}
    printf '%-10s%s (%s)\n' "$b:" "${!var}" "$("${!var}" --version 2>/dev/null | head -n 1 || true)"
  done
  [[ -z $BENCH_BASE ]] || echo "main:     $BENCH_BASE"
  echo "anchors:  $ANCHOR_VERSIONS"
  echo "runs:     $BENCH_RUNS (others $BENCH_RUNS_OTHER) (median wall seconds; cpu = median user+sys; peak RSS = max over runs; ratio = median / fastest anchor (*))"
  echo
  print_table
  if ((${#NOTES[@]})); then
    echo
    echo "notes:"
    printf '  - %s\n' "${NOTES[@]}"
  fi
} | tee "$report"
echo "(written to $report)"
echo "(page written to $BENCH_PAGE; results saved for BENCH_RENDER in $STATE)"

if ((FAILED)); then
  echo "!!! bench: some tool failed or produced wrong output (see notes above)" >&2
  exit 1
fi
if ((MISSED)) && [[ $BENCH_STRICT == 1 ]]; then exit 3; fi
exit 0
