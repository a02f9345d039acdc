# shellcheck shell=bash disable=SC2034  # globals are read by bench.sh
# Common machinery for scripts/bench.sh: anchors, data sets, measuring,
# verification and the result table. Sourced, not run.
#
# A case is a function that describes its tools and then calls case_run:
#
#   case_begin  ID "what it measures"
#   case_input  FILE...                             (read once before timing)
#   case_tool   NAME ROLE CHECK OUT "shell command"   (repeat; run in this order)
#   case_target RATIO [RSS_LIMIT_MIB]               (every target tool)
#   case_tool_target NAME RATIO [RSS_LIMIT_MIB]     (optional: one target tool)
#   case_run
#
# ROLE   anchor   a reference tool; the fastest anchor is the ratio's denominator
#        info     a reference tool shown for context (ratio vs anchor, no target)
#        target   the batchkit tool under test; PASS/MISS against case_target
# CHECK  ref      this output is the reference (the first anchor, usually GNU)
#        cmp      must be byte-identical to the reference (cmp)
#        order:FLAGS  same line count as the reference, and sorted per
#                 `LC_ALL=C sort -c -s FLAGS` (for engines whose tie order or
#                 number formatting differ); FLAGS shell-quoted, e.g. from
#                 "order:$(q -t "$TAB" -k1,1)"
#        lines    same line count as the reference only
#        sorted[:exact|:cents]  normalised by sorting: `LC_ALL=C sort` of the output is
#                 byte-identical to `LC_ALL=C sort` of the reference (the same multiset
#                 of lines, any order); with :exact numbers that differ only in their
#                 text are accepted (1.5 == 1.50, exact decimals), with :cents numbers
#                 equal after rounding to 2 decimals (for Polars' Float64 sums of
#                 2-decimal amounts); see scripts/bench/tsvcmp.py
#        none     no check
#        The directory checks compare with the case's first case_input file:
#        parts:N  OUT is a directory holding exactly part-00000 .. part-(N-1)
#                 and _SUCCESS; the parts concatenated equal the input (cmp)
#        files:N  OUT is a directory holding exactly N files (any names, e.g.
#                 split's xaa ..); concatenated in name order they equal the input
#        shuffle:N:FLAGS  as parts:N for the names; each part is sorted per
#                 `LC_ALL=C sort -c -s FLAGS`; the parts' line counts add up to
#                 the input's; and `sort -m -s FLAGS` of the parts is
#                 byte-identical to the reference (a stable sort of the input by
#                 the same key): the same multiset of lines, and equal keys in
#                 input order (equal keys never straddle two parts)
# OUT    the file or directory the command writes (removed before each run,
#        untimed). The command is a shell snippet run by `bash -c`, so it may
#        redirect or pipe; build it from an argv with `q ARG...` to get the
#        quoting right.
# RATIO  R         median <= R x the fastest anchor's median
#        R@NAME    median <= R x anchor NAME's; several comma-separated
#                  (`1.0@split,2.0@cat`): all must hold, and the status shows
#                  each ratio
#        -         no time target (the ratio is still reported)
#
# Runs alternate over the tools (anchor, ..., target, anchor, ..., target, ...)
# BENCH_RUNS times (C_RUNS if a case sets it); the median wall time, the median CPU
# time (user + system) and the peak RSS (from /usr/bin/time -v, maximum over runs) are
# reported.

TAB=$'\t'

note() { printf '>>> %s\n' "$*" >&2; }
warn() { printf '!!! %s\n' "$*" >&2; NOTES+=("$*"); }

# Shell-quote an argv into one string.
q() { local out; printf -v out '%q ' "$@"; printf '%s' "${out% }"; }

# Arithmetic helpers (awk is always there).
fmt_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
median() { tr ' ' '\n' | awk NF | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------- anchors

HAVE_TIME=0
HAVE_VENV=0

# ensure_apt PKG:COMMAND ... — install the Debian packages whose command is
# missing; `apt-get update` once, only if something is missing.
ensure_apt() {
  local missing=() spec pkg cmd
  for spec in "$@"; do
    pkg=${spec%%:*} cmd=${spec#*:}
    command -v "$cmd" >/dev/null 2>&1 || [[ -x $cmd ]] || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  local sudo=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); else
      warn "missing ${missing[*]} and not root (no sudo): those anchors are skipped"; return 0
    fi
  fi
  note "installing Debian packages: ${missing[*]}"
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$BENCH_DIR/apt.log" 2>&1; then
    warn "apt-get update failed (see $BENCH_DIR/apt.log)"
  fi
  local p
  for p in "${missing[@]}"; do # one by one, so one missing package does not sink the rest
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" \
      >>"$BENCH_DIR/apt.log" 2>&1 || warn "apt-get install $p failed: anchors that need it are skipped"
  done
}

# ensure_venv "pkg==ver" ... — a venv at $BENCH_DIR/venv with exactly these pins.
ensure_venv() {
  local venv=$BENCH_DIR/venv py=$BENCH_DIR/venv/bin/python
  local want; want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
  if [[ -x $py && -f $venv/.pins && $(cat "$venv/.pins") == "$want" ]] && "$py" -c 'import duckdb, polars, chdb' 2>/dev/null; then
    HAVE_VENV=1; return 0
  fi
  local python=${BENCH_PYTHON:-python3}
  note "creating $venv with: $want"
  rm -rf "$venv"
  if "$python" -m venv "$venv" >"$BENCH_DIR/pip.log" 2>&1 &&
    "$venv/bin/pip" install --disable-pip-version-check -q "$@" >>"$BENCH_DIR/pip.log" 2>&1 &&
    "$py" -c 'import duckdb, polars, chdb' >>"$BENCH_DIR/pip.log" 2>&1; then
    printf '%s' "$want" >"$venv/.pins"
    HAVE_VENV=1
  else
    warn "could not set up the Python venv (see $BENCH_DIR/pip.log): DuckDB, Polars and chdb anchors are skipped"
  fi
}

# ---------------------------------------------------------------- data

# ref_data DIR SMALL — make sure DIR holds the reference data of scripts/bench/gen.py (a copy
# of the workspace's shared/bench/gen.py, the generator the issues' targets are set on)
# (default sizes, or --small when SMALL is 1): reused when DIR/MANIFEST.tsv exists and
# every file it lists has the size it states, else generated with --manifest. Warns when
# the manifest differs from the pinned one (scripts/bench/ref-manifest*.tsv): then these
# are not the bytes the issues' targets were set on.
ref_data() {
  local dir=$1 small=$2 gen=$ROOT/scripts/bench/gen.py pinned=$ROOT/scripts/bench/ref-manifest.tsv
  ((small)) && pinned=$ROOT/scripts/bench/ref-manifest-small.tsv
  if ! ref_data_ok "$dir"; then
    [[ -f $gen ]] || { echo "bench: no reference data in $dir and no generator at scripts/bench/gen.py" >&2; exit 1; }
    local args=(--out "$dir" --manifest)
    ((small)) && args+=(--small)
    note "generating the reference data: python3 $gen ${args[*]}"
    rm -f "$dir/MANIFEST.tsv"
    local t0=$EPOCHREALTIME
    python3 "$gen" "${args[@]}" >/dev/null
    note "generated in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
    ref_data_ok "$dir" || { echo "bench: $dir/MANIFEST.tsv does not match the files gen.py wrote" >&2; exit 1; }
  fi
  if [[ -f $pinned ]] && ! cmp -s "$pinned" "$dir/MANIFEST.tsv"; then
    warn "$dir/MANIFEST.tsv differs from $pinned: not the reference bytes of the issues' targets"
  fi
}

# ref_data_ok DIR — DIR/MANIFEST.tsv exists and every file has its stated size.
ref_data_ok() {
  local dir=$1 f bytes rest
  [[ -f $dir/MANIFEST.tsv ]] || return 1
  while IFS=$'\t' read -r f bytes rest; do
    [[ $f == file ]] && continue
    [[ -f $dir/$f && $(stat -c %s "$dir/$f") == "$bytes" ]] || return 1
  done <"$dir/MANIFEST.tsv"
}

# derived NAME "shell command writing \$OUT" — a file computed from the reference data,
# cached in $DERIVED (keyed by the manifest); the command is not timed. Prints the path.
derived() {
  local f=$DERIVED/$1
  if [[ ! -s $f ]]; then
    mkdir -p "$DERIVED"
    note "deriving $f"
    OUT=$f.part bash -c "$2" || { echo "bench: could not derive $f" >&2; rm -f "$f.part"; exit 1; }
    mv "$f.part" "$f"
  fi
  printf '%s\n' "$f"
}

# ---------------------------------------------------------------- cases

RESULTS=()   # rows: case|tool|median|ratio|rss|target|status|cpu|role
CASE_INFO=() # rows: case|fastest anchor|its median|runs|description (last: it may hold a |)
FAILED=0
MISSED=0
NOTES=()

case_begin() {
  C_ID=$1 C_DESC=$2
  C_NAMES=() C_ROLES=() C_CHECKS=() C_OUTS=() C_CMDS=() C_TRATIO=() C_TRSS=()
  C_RATIO="" C_RSS_LIMIT="" C_REF="" C_REF_LINES="" C_REF_SORTED="" C_INPUTS=() C_IN_LINES=""
  C_RUNS=$BENCH_RUNS
  note "case $C_ID: $C_DESC"
}

case_input() { C_INPUTS+=("$@"); } # inputs to pre-read into the page cache
case_tool() {
  C_NAMES+=("$1") C_ROLES+=("$2") C_CHECKS+=("$3") C_OUTS+=("$4") C_CMDS+=("$5")
  C_TRATIO+=("") C_TRSS+=("")
}
case_target() { C_RATIO=$1 C_RSS_LIMIT=${2:-}; }
# case_tool_target NAME RATIO [RSS_LIMIT_MIB] — targets for one tool instead of case_target's.
case_tool_target() {
  local i
  for i in "${!C_NAMES[@]}"; do
    if [[ ${C_NAMES[i]} == "$1" ]]; then C_TRATIO[i]=$2 C_TRSS[i]=${3:-}; return; fi
  done
  echo "bench: case_tool_target: no tool '$1' in case $C_ID" >&2; exit 2
}

# run_once I RUN — one timed run of tool I; appends to T_TIMES[I], updates T_RSS[I].
run_once() {
  local i=$1 r=$2 name=${C_NAMES[$1]} out=${C_OUTS[$1]}
  local log=$BENCH_DIR/out/$C_ID.$name.log tf=$BENCH_DIR/out/$C_ID.$name.time
  rm -rf -- "$out" # a file, or a directory of parts
  local t0 t1 rc=0
  t0=$EPOCHREALTIME
  if ((HAVE_TIME)); then
    /usr/bin/time -v -o "$tf" timeout "$BENCH_TIMEOUT" bash -c "${C_CMDS[$i]}" >"$log" 2>&1 || rc=$?
  else
    timeout "$BENCH_TIMEOUT" bash -c "${C_CMDS[$i]}" >"$log" 2>&1 || rc=$?
  fi
  t1=$EPOCHREALTIME
  if ((rc != 0)); then
    T_STATUS[i]="FAIL(exit $rc)"
    warn "$C_ID/$name run $r exited $rc: ${C_CMDS[$i]}"
    sed 's/^/    /' "$log" | tail -n 5 >&2
    return
  fi
  local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  T_TIMES[i]+="$secs "
  if ((HAVE_TIME)); then
    local kb cpu
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tf")
    if [[ -n $kb ]] && ((kb > ${T_RSS[i]:-0})); then T_RSS[i]=$kb; fi
    cpu=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ { s += $2 } END { printf "%.2f", s }' "$tf")
    T_CPU[i]+="$cpu "
  fi
  printf '    %-14s run %d: %8s s  %s MiB\n' "$name" "$r" "$secs" "$(((${T_RSS[i]:-0} + 512) / 1024))" >&2
  verify "$i" "$r"
}

# verify I RUN — check tool I's output per its CHECK; sets T_STATUS on failure.
verify() {
  local i=$1 r=$2 name=${C_NAMES[$1]} out=${C_OUTS[$1]} check=${C_CHECKS[$1]}
  [[ $check == none ]] && return
  if [[ ! -e $out ]]; then
    T_STATUS[i]=MISMATCH; warn "MISMATCH $C_ID/$name: no output file $out"; return
  fi
  case $check in
    ref)
      C_REF=$out C_REF_I=$i
      if [[ -n $C_REF_SORTED ]]; then # a later run of the reference: still the same multiset?
        local mine=$BENCH_DIR/out/$C_ID.$name.sorted
        sort_file "$out" "$mine"
        cmp -s "$mine" "$C_REF_SORTED" || { T_STATUS[i]=MISMATCH; warn "MISMATCH $C_ID/$name (run $r): the reference's output changed between runs"; }
        rm -f -- "$mine"
      fi
      C_REF_LINES=$(wc -l <"$out")
      return ;;
  esac
  if [[ -z $C_REF && $check =~ ^(cmp|order:.*|lines|sorted.*)$ ]]; then
    T_STATUS[i]=MISMATCH; warn "MISMATCH $C_ID/$name: no reference output to check against (did the anchor fail?)"; return
  fi
  case $check in
    cmp)
      local diff
      if ! diff=$(cmp "$out" "$C_REF" 2>&1); then
        T_STATUS[i]=MISMATCH
        warn "MISMATCH $C_ID/$name (run $r): output differs from $C_REF: $diff"
        local ln; ln=$(sed -n 's/.* line \([0-9]*\).*/\1/p' <<<"$diff")
        if [[ -n $ln ]]; then
          echo "    $name line $ln: $(sed -n "${ln}{p;q}" "$out" | head -c 200)" >&2
          echo "    ref  line $ln: $(sed -n "${ln}{p;q}" "$C_REF" | head -c 200)" >&2
        fi
      fi ;;
    sorted | sorted:*)
      local mode=${check#sorted} mine=$BENCH_DIR/out/$C_ID.$name.sorted diff
      mode=${mode#:}
      if [[ -z $C_REF_SORTED ]]; then
        C_REF_SORTED=$BENCH_DIR/out/$C_ID.ref.sorted
        sort_file "$C_REF" "$C_REF_SORTED"
      fi
      sort_file "$out" "$mine"
      if ! diff=$(cmp "$mine" "$C_REF_SORTED" 2>&1); then
        if [[ -n $mode ]] && diff=$(python3 "$ROOT/scripts/bench/tsvcmp.py" "$mode" "$C_REF_SORTED" "$mine" 2>&1); then
          : # the same values, written differently
        else
          T_STATUS[i]=MISMATCH
          warn "MISMATCH $C_ID/$name (run $r): sorted, the output differs from the reference's, sorted (${C_NAMES[C_REF_I]}): ${diff//$'\n'/ }"
        fi
      fi
      rm -f -- "$mine" ;;
    order:* | lines)
      local n; n=$(wc -l <"$out")
      if [[ $n != "$C_REF_LINES" ]]; then
        T_STATUS[i]=MISMATCH; warn "MISMATCH $C_ID/$name (run $r): $n lines, reference has $C_REF_LINES"; return
      fi
      if [[ $check == order:* ]]; then
        local flags msg
        eval "flags=(${check#order:})"
        if ! msg=$(LC_ALL=C sort -c -s "${flags[@]}" "$out" 2>&1); then
          T_STATUS[i]=MISMATCH; warn "MISMATCH $C_ID/$name (run $r): not in order (sort -c -s ${check#order:}): $msg"
        fi
      fi ;;
    parts:* | files:*)
      check_dir_parts "$i" "$r" "${check%%:*}" "${check#*:}" || return 0
      local input=${C_INPUTS[0]} diff
      if ! diff=$(cat "${T_PARTS[@]}" | cmp - "$input" 2>&1); then
        T_STATUS[i]=MISMATCH
        warn "MISMATCH $C_ID/$name (run $r): the parts concatenated differ from the input $input: ${diff//$'\n'/ }"
      fi ;;
    shuffle:*)
      local rest=${check#shuffle:} n flags p msg
      n=${rest%%:*}
      eval "flags=(${rest#*:})"
      check_dir_parts "$i" "$r" parts "$n" || return 0
      for p in "${T_PARTS[@]}"; do
        if ! msg=$(LC_ALL=C sort -c -s "${flags[@]}" "$p" 2>&1); then
          T_STATUS[i]=MISMATCH; warn "MISMATCH $C_ID/$name (run $r): ${p##*/} not in order (sort -c -s ${rest#*:}): $msg"; return
        fi
      done
      [[ -n $C_IN_LINES ]] || C_IN_LINES=$(wc -l <"${C_INPUTS[0]}")
      local total; total=$(cat "${T_PARTS[@]}" | wc -l)
      if [[ $total != "$C_IN_LINES" ]]; then
        T_STATUS[i]=MISMATCH; warn "MISMATCH $C_ID/$name (run $r): the parts hold $total lines, the input $C_IN_LINES"; return
      fi
      if [[ -z $C_REF ]]; then
        T_STATUS[i]=MISMATCH; warn "MISMATCH $C_ID/$name: no reference output to check against (did the anchor fail?)"; return
      fi
      local diff
      if ! diff=$(LC_ALL=C sort -m -s "${flags[@]}" "${T_PARTS[@]}" | cmp - "$C_REF" 2>&1); then
        T_STATUS[i]=MISMATCH
        warn "MISMATCH $C_ID/$name (run $r): the parts merged (sort -m -s ${rest#*:}) differ from $C_REF (lines lost, added or out of stable order): ${diff//$'\n'/ }"
      fi ;;
    *) warn "unknown check '$check' for $C_ID/$name" ;;
  esac
}

# sort_file IN OUT — the normalised form of an output: its lines sorted bytewise.
sort_file() { LC_ALL=C sort -S 1G --parallel=2 -T "$BENCH_DIR/tmp" -o "$2" "$1"; }

# check_dir_parts I RUN parts|files N — the directory layout of tool I's output;
# sets T_PARTS to the part files in order. Returns 1 (after setting T_STATUS) if wrong.
check_dir_parts() {
  local i=$1 r=$2 kind=$3 n=$4 name=${C_NAMES[$1]} out=${C_OUTS[$1]} k f got want
  T_PARTS=()
  if [[ ! -d $out ]]; then
    T_STATUS[i]=MISMATCH; warn "MISMATCH $C_ID/$name (run $r): $out is not a directory"; return 1
  fi
  got=$(find "$out" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort)
  if [[ $kind == parts ]]; then
    want=$({ echo _SUCCESS; for ((k = 0; k < n; k++)); do printf 'part-%05d\n' "$k"; done; } | LC_ALL=C sort)
    if [[ $got != "$want" ]]; then
      T_STATUS[i]=MISMATCH; warn "MISMATCH $C_ID/$name (run $r): $out holds [${got//$'\n'/ }], want [${want//$'\n'/ }]"; return 1
    fi
    for ((k = 0; k < n; k++)); do T_PARTS+=("$out/$(printf 'part-%05d' "$k")"); done
  else
    while IFS= read -r f; do [[ -n $f ]] && T_PARTS+=("$out/$f"); done <<<"$got"
    if ((${#T_PARTS[@]} != n)); then
      T_STATUS[i]=MISMATCH; warn "MISMATCH $C_ID/$name (run $r): $out holds ${#T_PARTS[@]} files, want $n: [${got//$'\n'/ }]"; return 1
    fi
  fi
  for f in "${T_PARTS[@]}"; do
    if [[ ! -f $f ]]; then
      T_STATUS[i]=MISMATCH; warn "MISMATCH $C_ID/$name (run $r): $f is not a regular file"; return 1
    fi
  done
  return 0
}

case_run() {
  local n=${#C_NAMES[@]} i r
  T_TIMES=() T_RSS=() T_STATUS=() T_CPU=()
  for ((i = 0; i < n; i++)); do T_TIMES[i]="" T_RSS[i]=0 T_STATUS[i]="" T_CPU[i]=""; done
  mkdir -p "$BENCH_DIR/out"
  # warm the page cache for every input the case reads (fair to the first tool)
  local f
  for f in "${C_INPUTS[@]}"; do cat "$f" >/dev/null; done
  for ((r = 1; r <= C_RUNS; r++)); do
    for ((i = 0; i < n; i++)); do
      [[ ${T_STATUS[i]} == FAIL* ]] && continue
      run_once "$i" "$r"
    done
  done
  # the anchor time: the fastest successful anchor
  local best="" best_name="" med
  declare -A MED
  for ((i = 0; i < n; i++)); do
    med=$(median <<<"${T_TIMES[i]}")
    MED[$i]=$med
    if [[ ${C_ROLES[i]} == anchor && -z ${T_STATUS[i]} && $med != - ]]; then
      if [[ -z $best ]] || awk -v a="$med" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$med best_name=${C_NAMES[i]}; fi
    fi
  done
  for ((i = 0; i < n; i++)); do
    local name=${C_NAMES[i]} role=${C_ROLES[i]} ratio=- target=- status=${T_STATUS[i]}
    local rss_mib=-
    ((${T_RSS[i]:-0} > 0)) && rss_mib=$(((T_RSS[i] + 512) / 1024))
    [[ -n $best && ${MED[$i]} != - ]] && ratio=$(fmt_ratio "${MED[$i]}" "$best")
    if [[ $role == target ]]; then
      local tratio=${C_TRATIO[i]:-$C_RATIO} trss=${C_TRSS[i]:-$C_RSS_LIMIT}
      local spec terms=() details=() miss=0 noanchor=0 absent="" r a amed ar j t
      local -a specs
      IFS=, read -ra specs <<<"$tratio"
      for spec in "${specs[@]}"; do
        [[ -z $spec || $spec == - ]] && continue
        if [[ $spec == *@* ]]; then
          r=${spec%%@*} a=${spec#*@} amed=""
          for ((j = 0; j < n; j++)); do
            if [[ ${C_NAMES[j]} == "$a" && -z ${T_STATUS[j]} ]]; then amed=${MED[$j]}; fi
          done
          terms+=("<=${r}x $a")
        else
          r=$spec a=$best_name amed=$best
          terms+=("<=${r}x $best_name")
        fi
        if [[ -z $amed || $amed == - ]]; then noanchor=1 absent=$a; continue; fi
        ar=$(fmt_ratio "${MED[$i]}" "$amed")
        [[ $spec == *@* ]] && details+=("${ar}x $a")
        awk -v a="$ar" -v b="$r" 'BEGIN { exit !(a > b) }' && miss=1
      done
      [[ -n $trss ]] && terms+=("RSS<=${trss}MiB")
      target=""
      for t in "${terms[@]}"; do target+="${target:+, }$t"; done
      [[ -n $target ]] || target=-
      if [[ -z $status ]]; then
        if ((noanchor)); then status="NO-ANCHOR${absent:+($absent)}"
        elif [[ $target == - ]]; then status="no target"
        else
          status=PASS
          ((miss)) && status=MISS
          if [[ -n $trss && $rss_mib != - ]] && ((rss_mib > trss)); then
            [[ $status == PASS ]] && status="MISS(rss)" || status="MISS(+rss)"
          fi
          [[ $status == MISS* ]] && MISSED=1
        fi
        if ((${#details[@]})); then
          t=""
          for ar in "${details[@]}"; do t+="${t:+, }$ar"; done
          status+=" [$t]"
        fi
      fi
    else
      [[ -z $status ]] && status=ok
      [[ $role == anchor && $name == "$best_name" ]] && status="ok*"
    fi
    [[ $status == FAIL* || $status == MISMATCH ]] && FAILED=1
    RESULTS+=("$C_ID|$name|${MED[$i]}|$ratio|$rss_mib|$target|$status|$(median <<<"${T_CPU[i]}")|$role")
  done
  CASE_INFO+=("$C_ID|${best_name:--}|${best:--}|$C_RUNS|$C_DESC")
  # keep the disk tidy: outputs are large; keep them only on request
  if [[ ${BENCH_KEEP:-0} != 1 ]]; then
    for ((i = 0; i < n; i++)); do rm -rf -- "${C_OUTS[i]}"; done
  fi
  rm -f -- "$C_REF_SORTED"
  rm -rf "${BENCH_DIR:?}/tmp"/*
}

# skip_case ID WHY — record a case that could not run at all.
skip_case() { RESULTS+=("$1|-|-|-|-|-|SKIPPED: $2|-|-"); warn "case $1 skipped: $2"; }

print_table() {
  local row
  printf '%-16s %-14s %9s %8s %7s %8s  %-32s %s\n' case tool median_s cpu_s ratio rss_MiB target status
  for row in "${RESULTS[@]}"; do
    IFS='|' read -r c t m ra rs tg st cpu _ <<<"$row"
    printf '%-16s %-14s %9s %8s %7s %8s  %-32s %s\n' "$c" "$t" "$m" "$cpu" "$ra" "$rs" "$tg" "$st"
  done
}

# ---------------------------------------------------------------- the results page

# save_state FILE — everything write_page reads, as bash declarations: `BENCH_RENDER=FILE
# scripts/bench.sh` writes the page again from them, without running anything.
save_state() {
  LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
  {
    echo "# scripts/bench.sh results, for BENCH_RENDER"
    declare -p RESULTS CASE_INFO NOTES BIN_VERSIONS stamp rev MACHINE ANCHOR_VERSIONS LOADAVG \
      T_TOTAL PARTIAL BENCH_RUNS BENCH_RUNS_OTHER BENCH_SMALL BENCH_DATA BENCH_BASE BENCH_ONLY KEYS10M \
      MANIFEST_TSV
    [[ -z ${BENCH_LABEL:-} ]] || declare -p BENCH_LABEL
  } >"$1.tmp"
  mv "$1.tmp" "$1"
}

# write_page FILE STAMP COMMIT — BENCHMARKS.md (issue 16): the machine, the data, every case's tools
# with median time, CPU time, peak RSS, ratio to the fastest anchor and target status, and
# a PNG bar chart of the batchkit tools' ratios (FILE with .png) drawn with matplotlib
# from the venv; without it the page says there is no chart.
write_page() {
  local page=$1 stamp=$2 rev=$3 png=${1%.md}.png row c t m ra rs tg st cpu role d an am runs
  local tsv=$BENCH_DIR/out/ratios.tsv chart_note
  : >"$tsv"
  for row in "${RESULTS[@]}"; do
    IFS='|' read -r c t m ra rs tg st cpu role <<<"$row"
    [[ $role == target && $ra != - ]] && printf '%s\t%s\t%s\t%s\n' "$c" "$t" "$ra" "${st%% *}" >>"$tsv"
  done
  rm -f -- "$png"
  if ((HAVE_VENV)) && [[ -s $tsv ]] && "$PY" "$ROOT/scripts/bench/chart.py" "$tsv" "$png" 2>>"$BENCH_DIR/chart.log"; then
    chart_note="![batchkit time / fastest anchor's, per case (log scale; below 1 is faster)]($(basename "$png"))"
  else
    chart_note="No chart in this run: matplotlib (from the venv) was not available or failed (see .bench/chart.log)."
  fi
  {
    echo "# Benchmarks"
    echo
    [[ -z ${BENCH_LABEL:-} ]] || { echo "**$BENCH_LABEL**"; echo; }
    [[ -z ${PARTIAL:-} ]] || { echo "**Partial: the run had finished $PARTIAL when this page was written.**"; echo; }
    echo "Written by \`scripts/bench.sh\` on $stamp (UTC), commit $rev, in ${T_TOTAL} s."
    echo "Every number below is from that one run: each tool ran $BENCH_RUNS times (cases without an"
    echo "issue target: $BENCH_RUNS_OTHER), alternating with the other tools of its case; times are medians,"
    echo "peak RSS the maximum over the runs (\`/usr/bin/time -v\`). The machine is shared, so absolute"
    echo "times are noisy; compare the ratios, which are from the same run."
    echo
    local small="" b var
    ((BENCH_SMALL)) && small=" BENCH_SMALL=1"
    [[ $BENCH_RUNS_OTHER == "$BENCH_RUNS" ]] || small+=" BENCH_RUNS_OTHER=$BENCH_RUNS_OTHER"
    echo "Rerun: \`BENCH_RUNS=$BENCH_RUNS$small BENCH_DATA=/path/to/ref scripts/bench.sh\` (without \`BENCH_DATA\` the data is"
    echo "generated into \`.bench/ref\`); add \`BENCH_BASE=DIR\` (a build of the commit to compare with) to"
    echo "judge the \"faster than today\" targets in the same run."
    echo
    echo "## Machine"
    echo
    echo "- $MACHINE"
    echo "- $(uname -sr), load average when written: $LOADAVG"
    echo "- anchors: $ANCHOR_VERSIONS"
    printf -- '- %s\n' "${BIN_VERSIONS[@]}"
    [[ -z $BENCH_BASE ]] || echo "- main (BENCH_BASE): \`$BENCH_BASE\`"
    echo
    echo "## Data"
    echo
    echo "\`python3 ../shared/bench/gen.py --out DIR --manifest$( ((BENCH_SMALL)) && echo ' --small')\` (Python standard library, fixed seeds; the"
    echo "same bytes on every machine): kv.tsv (\`key<TAB>int\`, Zipf keys), text.txt (Zipf words"
    echo "separated by single spaces), orders.tsv / orders.jsonl (the same orders), users.tsv."
    echo "Its MANIFEST.tsv:"
    echo
    echo "| file | bytes | lines | md5 |"
    echo "|---|---:|---:|---|"
    awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | `%s` |\n", $1, $2, $3, $4 }' <<<"$MANIFEST_TSV"
    echo
    echo "Derived (untimed, cached in \`.bench/derived-*\`): kv.tsv sorted by key (\`sort -s -k1,1\`,"
    echo "for reduce-stream); a kv with $KEYS10M distinct keys (line i of kv.tsv, its key replaced by"
    echo "\`u\` and 6 hex digits of ((i·7919) mod $KEYS10M)·40503 mod 2^24, so each key is on 2 lines);"
    echo "\`bmap --words text.txt\` saved (for reduce-words); orders.tsv sorted by user_id and users.tsv"
    echo "by user_id (for GNU join and join-merge)."
    echo
    echo "The engines' queries (scripts/bench/engines.py) are the obvious ones, reading the headerless"
    echo "TSV / JSON lines and writing headerless TSV: \`GROUP BY k\` with \`sum(v), count(*)\`;"
    echo "\`unnest(string_split(line, ' '))\` then \`GROUP BY w\` (chdb: \`ARRAY JOIN splitByChar(' ', line)\`"
    echo "over \`LineAsString\`; Polars: \`str.split\` + \`explode\` + \`group_by\`); \`WHERE status = 'completed'\`"
    echo "\`GROUP BY\` the day, amounts as DECIMAL(18,2) (Polars: Float64); a join on user_id; \`ORDER BY k\`."
    echo
    echo "Verification, every run: outputs whose order is free are compared sorted (\`LC_ALL=C sort\`)"
    echo "with the reference tool's, byte for byte; decimal sums exactly as decimals (DuckDB's DECIMAL"
    echo "sum is the oracle), Polars' Float64 sums after rounding to cents; sorts, splits and"
    echo "shuffles against GNU sort/split (see scripts/bench-lib.sh)."
    echo
    echo "## Targets"
    echo
    echo "| case | batchkit | median s | fastest anchor | its median s | ratio | target | status | peak RSS MiB |"
    echo "|---|---|---:|---|---:|---:|---|---|---:|"
    for row in "${RESULTS[@]}"; do
      IFS='|' read -r c t m ra rs tg st cpu role <<<"$row"
      [[ $role == target || $t == - ]] || continue
      an=- am=-
      for d in "${CASE_INFO[@]}"; do
        IFS='|' read -r dc dan dam _ <<<"$d"
        [[ $dc == "$c" ]] && an=$dan am=$dam
      done
      echo "| $c | $t | $m | $an | $am | $ra | $tg | $st | $rs |"
    done
    echo
    echo "$chart_note"
    echo
    echo "## Every tool"
    echo
    for d in "${CASE_INFO[@]}"; do
      IFS='|' read -r c an am runs desc <<<"$d"
      echo "### $c"
      echo
      echo "$desc. Runs: $runs; fastest anchor: $an."
      echo
      echo "| tool | role | median s | CPU s | peak RSS MiB | ratio | target | status |"
      echo "|---|---|---:|---:|---:|---:|---|---|"
      for row in "${RESULTS[@]}"; do
        IFS='|' read -r rc t m ra rs tg st cpu role <<<"$row"
        [[ $rc == "$c" ]] && echo "| $t | $role | $m | $cpu | $rs | $ra | $tg | $st |"
      done
      echo
    done
    for row in "${RESULTS[@]}"; do
      IFS='|' read -r c t _ _ _ _ st _ _ <<<"$row"
      [[ $t == - ]] && { echo "- $c: $st"; echo; }
    done
    if ((${#NOTES[@]})); then
      echo "## Notes"
      echo
      printf -- '- %s\n' "${NOTES[@]//|/\\|}"
    fi
  } >"$page.tmp"
  mv "$page.tmp" "$page"
}
