#!/usr/bin/env bash
# The Spark smoke suite (issue 7): batchkit's release binaries as the mapper and reducer of
# real Spark jobs (scripts/spark/streaming.py on local[2]), on ~1 MB of generated input.
#
#   scripts/spark/ci.sh                 # what .ci/run calls
#   SMOKE_BYTES=10000000 scripts/spark/ci.sh   # bigger input (timings: Spark vs local)
#
# Installs what it needs: Java 17 or 21 (else openjdk-17-jre-headless from Debian), and a
# venv with the pinned pyspark under .venv-spark/ (git-ignored; reused when present).
# Jobs:
#   1. word count: $SMOKE_WORDS_MAPPER (default `bmap --words`) | shuffle | breduce count,
#      whose sorted output must equal the local pipeline's (mapper | bshuffle | breduce count);
#   2. record round-trip: TABs, empty fields, empty lines and UTF-8 through bshuffle (mapper)
#      and bsort (reducer) with --total-order: the part files concatenated must equal
#      LC_ALL=C sort of the input, byte for byte;
#   3. a failing reducer (breduce sum:2 meets a non-number): the job must fail, status 1,
#      with breduce's message, and leave no output directory;
#   4. the word count again with --ship dist/batchkit-*.tar.gz (scripts/package.sh) and a
#      PATH without batchkit: every command must come from the shipped bundle, and the
#      counts must equal job 1's.
# Prints `N passed, N failed` and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PYSPARK_VERSION=4.3.0
VENV=${SPARK_VENV:-$ROOT/.venv-spark}
WORK=$ROOT/.spark-smoke
BYTES=${SMOKE_BYTES:-1000000}
WORDS_MAPPER=${SMOKE_WORDS_MAPPER:-bmap --words}
PARTS=3
export LC_ALL=C

say() { printf 'spark-ci: %s\n' "$*"; }
die() { printf 'spark-ci: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
SUITE_START=$(now)

# --- Java 17 or 21 -------------------------------------------------------------------
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
case "$(java_major 2>/dev/null)" in
  17 | 21) ;;
  *)
    say "installing openjdk-17-jre-headless (Spark needs Java 17 or 21)"
    SUDO=; [[ $(id -u) -eq 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      openjdk-17-jre-headless >/dev/null || die "cannot install Java 17"
    case "$(java_major)" in 17 | 21) ;; *) die "java is not 17 or 21 after installing" ;; esac
    ;;
esac

# --- pyspark venv (pinned; reused when it already has the pinned version) ---------------
PY=$VENV/bin/python
if ! "$PY" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" 2>/dev/null; then
  say "creating $VENV with pyspark==$PYSPARK_VERSION (about 30 s, 520 MB)"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "pyspark==$PYSPARK_VERSION" \
    || die "pip install pyspark==$PYSPARK_VERSION failed"
fi

# --- release binaries ----------------------------------------------------------------
cargo build --release --quiet || die "cargo build --release failed"
export PATH="$ROOT/target/release:$PATH"

# --- data ----------------------------------------------------------------------------
rm -rf "$WORK" && mkdir -p "$WORK"
python3 - "$BYTES" "$WORK" <<'EOF'
import random, sys
size, work = int(sys.argv[1]), sys.argv[2]
rng = random.Random(7)
# Words: Zipf-like over a vocabulary with UTF-8 and mixed case; blanks are spaces and TABs.
vocab = [f"w{i}" for i in range(5000)] + ["été", "naïve", "東京", "Ünïcödé", "ß", "The", "the"]
weights = [1.0 / (i + 1) for i in range(len(vocab))]
with open(f"{work}/words.txt", "w", encoding="utf-8", newline="\n") as f:
    n = 0
    while n < size:
        k = rng.randint(1, 14)
        sep = rng.choice([" ", " ", " ", "\t", "  "])
        line = sep.join(rng.choices(vocab, weights, k=k))
        f.write(line + "\n")
        n += len(line.encode()) + 1
# Records: TABs, empty fields, empty keys, empty lines, no-TAB lines, UTF-8, trailing TAB.
keys = ["", "a", "b b", "Zürich", "東京", "k1", "k10", "k9", "é"] + [f"key{i}" for i in range(300)]
with open(f"{work}/records.tsv", "w", encoding="utf-8", newline="\n") as f:
    n = 0
    while n < size:
        shape = rng.randrange(8)
        k = rng.choice(keys)
        if shape == 0:
            line = ""
        elif shape == 1:
            line = k
        elif shape == 2:
            line = k + "\t"
        elif shape == 3:
            line = k + "\t\t" + str(rng.randrange(1000)) + "\t"
        else:
            fields = [k] + [rng.choice(["", "x", "yé", "1.50", "漢字", "a b"]) for _ in range(rng.randint(1, 6))]
            line = "\t".join(fields)
        f.write(line + "\n")
        n += len(line.encode()) + 1
# Numbers (2 MB or more, more than breduce's 1 MB read block) with a bad value early on:
# the reducer fails with most of its partition unread, which must still be reported as
# breduce's failure (status and message), not as a broken pipe.
with open(f"{work}/numbers.tsv", "w") as f:
    lines = max(200000, size // 10)
    for i in range(lines):
        f.write(f"k{i % 97:02d}\t{'12,5' if i == 20000 else i}\n")
EOF
[[ -s $WORK/words.txt ]] || die "cannot generate data"

RUNNER=("$PY" "$ROOT/scripts/spark/streaming.py" --quiet)
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); say "PASS $1 ($2 s)"; }
failj() { FAILED=$((FAILED + 1)); say "FAIL $1: $2"; }

# Exactly N part files and a _SUCCESS manifest.
check_parts() {
  local dir=$1 n=$2 got
  got=$(find "$dir" -maxdepth 1 -name 'part-*' | wc -l)
  [[ -f $dir/_SUCCESS && $got -eq $n ]]
}

# --- job 1: word count ---------------------------------------------------------------
t=$(now)
if "${RUNNER[@]}" --mapper "$WORDS_MAPPER" --reducer 'breduce count' --partitions $PARTS \
  --input "$WORK/words.txt" --output "$WORK/wordcount" 2>"$WORK/wordcount.err"; then
  spark_s=$(since "$t")
  t=$(now)
  bash -c "$WORDS_MAPPER" <"$WORK/words.txt" | bshuffle | breduce count >"$WORK/wordcount.local"
  local_s=$(since "$t")
  if ! check_parts "$WORK/wordcount" $PARTS; then
    failj wordcount "expected $PARTS part files and _SUCCESS in $WORK/wordcount"
  elif ! cat "$WORK"/wordcount/part-* | sort | cmp -s - <(sort "$WORK/wordcount.local"); then
    failj wordcount "Spark's counts differ from the local pipeline's ($WORK/wordcount vs wordcount.local)"
  elif [[ ! -s $WORK/wordcount.local ]]; then
    failj wordcount "the local pipeline wrote nothing"
  else
    pass "wordcount [$WORDS_MAPPER | breduce count, $(wc -l <"$WORK/wordcount.local") words; local pipeline ${local_s} s]" "$spark_s"
  fi
else
  failj wordcount "the job failed: $(tail -3 "$WORK/wordcount.err")"
fi

# --- job 2: record round-trip, total order ---------------------------------------------
t=$(now)
if "${RUNNER[@]}" --mapper bshuffle --reducer bsort --total-order --partitions $PARTS \
  --input "$WORK/records.tsv" --output "$WORK/roundtrip" 2>"$WORK/roundtrip.err"; then
  if ! check_parts "$WORK/roundtrip" $PARTS; then
    failj roundtrip "expected $PARTS part files and _SUCCESS in $WORK/roundtrip"
  elif ! cat "$WORK"/roundtrip/part-* | cmp -s - <(sort "$WORK/records.tsv"); then
    failj roundtrip "part files concatenated differ from LC_ALL=C sort of the input"
  else
    pass "roundtrip [bshuffle | bsort, --total-order, $(wc -l <"$WORK/records.tsv") records]" "$(since "$t")"
  fi
else
  failj roundtrip "the job failed: $(tail -3 "$WORK/roundtrip.err")"
fi

# --- job 3: a failing reducer fails the job -------------------------------------------
t=$(now)
"${RUNNER[@]}" --mapper cat --reducer 'breduce sum:2' --partitions 1 \
  --input "$WORK/numbers.tsv" --output "$WORK/failing" 2>"$WORK/failing.err"
status=$?
if [[ $status -ne 1 ]]; then
  failj failing-reducer "status $status, expected 1"
elif ! grep -q 'reducer failed (status 1): breduce: -:[0-9]*: field 2 is "12,5": not a number' "$WORK/failing.err"; then
  failj failing-reducer "no breduce message on stderr: $(tail -3 "$WORK/failing.err")"
elif [[ -e $WORK/failing ]] || compgen -G "$WORK/failing.spark-staging-*" >/dev/null; then
  failj failing-reducer "an output directory was left behind"
else
  pass "failing-reducer [breduce sum:2 on a non-number: status 1, no output]" "$(since "$t")"
fi

# --- job 4: --ship the release bundle to executors without batchkit -------------------------
t=$(now)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
BUNDLE=$ROOT/dist/batchkit-$VERSION-x86_64-linux.tar.gz
# Every command checks that it runs the shipped binary, not one from the runner's PATH.
from_bundle() { printf 'case "$(command -v %s)" in */batchkit/*/bin/%s) %s ;; *) echo "%s is $(command -v %s), not the bundle'"'"'s" >&2; exit 3 ;; esac' "$1" "$1" "$2" "$1" "$1"; }
if ! scripts/package.sh >"$WORK/package.log" 2>&1; then
  failj ship "scripts/package.sh failed: $(tail -3 "$WORK/package.log")"
elif "${RUNNER[@]}" --ship "$BUNDLE" --env PATH=/usr/bin:/bin \
  --mapper "$(from_bundle bmap 'bmap --words')" --reducer "$(from_bundle breduce 'breduce count')" \
  --partitions $PARTS --input "$WORK/words.txt" --output "$WORK/shipped" 2>"$WORK/shipped.err"; then
  if ! check_parts "$WORK/shipped" $PARTS; then
    failj ship "expected $PARTS part files and _SUCCESS in $WORK/shipped"
  elif ! cat "$WORK"/shipped/part-* | sort | cmp -s - <(sort "$WORK/wordcount.local"); then
    failj ship "counts with the shipped bundle differ from the local pipeline's"
  else
    pass "ship [--ship $(basename "$BUNDLE"), PATH=/usr/bin:/bin: bmap and breduce from the bundle]" "$(since "$t")"
  fi
else
  failj ship "the job failed: $(tail -3 "$WORK/shipped.err")"
fi

say "suite time $(since "$SUITE_START") s"
echo "$PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
