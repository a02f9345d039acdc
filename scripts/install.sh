#!/usr/bin/env bash
# Install batchkit: the six binaries, their man pages and shell completions.
#
#   scripts/install.sh [PREFIX]              # default PREFIX=/usr/local; builds --release if needed
#   DESTDIR=/tmp/stage scripts/install.sh /usr   # staged install (packaging): files land in
#                                             # $DESTDIR$PREFIX/...
#   scripts/install.sh --uninstall [PREFIX]  # remove exactly what an install there wrote
#
# Layout under PREFIX: bin/{bsort,bsplit,bmap,bshuffle,breduce,bjoin}, share/man/man1/*.1,
# share/bash-completion/completions/NAME, share/zsh/site-functions/_NAME,
# share/fish/vendor_completions.d/NAME.fish, and share/batchkit/installed (the list of
# files written, which --uninstall reads).
#
# Environment: BATCHKIT_BIN_DIR takes the binaries from there instead of target/release
# (no build). An unwritable PREFIX is one line on stderr and status 1, with nothing
# installed: every directory is created and checked before the first file is copied, and
# a failure half-way removes what this run copied.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=(bsort bsplit bmap bshuffle breduce bjoin)

die() {
  echo "install.sh: $*" >&2
  exit 1
}

uninstall=0
if [[ ${1:-} == --uninstall ]]; then
  uninstall=1
  shift
fi
[[ ${1:-} == -h || ${1:-} == --help ]] && {
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
}
PREFIX=${1:-/usr/local}
[[ $PREFIX == /* ]] || PREFIX=$PWD/$PREFIX
BASE=${DESTDIR:-}$PREFIX
LIST=$BASE/share/batchkit/installed

if ((uninstall)); then
  [[ -f $LIST ]] || die "nothing to uninstall: $LIST not found"
  while IFS= read -r rel; do
    [[ -n $rel ]] && rm -f -- "$BASE/$rel"
  done <"$LIST"
  rm -f -- "$LIST"
  # Directories this install may have created, deepest first, only when left empty.
  for d in share/batchkit share/fish/vendor_completions.d share/fish share/zsh/site-functions \
    share/zsh share/bash-completion/completions share/bash-completion share/man/man1 share/man \
    share bin; do
    rmdir -- "$BASE/$d" 2>/dev/null || true
  done
  echo "install.sh: removed batchkit from $BASE"
  exit 0
fi

BIN_DIR=${BATCHKIT_BIN_DIR:-}
if [[ -z $BIN_DIR ]]; then
  BIN_DIR=$ROOT/target/release
  missing=0
  for t in "${TOOLS[@]}"; do [[ -x $BIN_DIR/$t ]] || missing=1; done
  if ((missing)); then
    (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
  fi
fi
for t in "${TOOLS[@]}"; do
  [[ -x $BIN_DIR/$t ]] || die "$BIN_DIR/$t: no such binary (build with cargo build --release)"
  [[ -f $ROOT/man/$t.1 ]] || die "$ROOT/man/$t.1 missing (run scripts/gen-man.sh)"
done

# What goes where: "source<TAB>destination relative to BASE<TAB>mode".
plan=()
for t in "${TOOLS[@]}"; do
  plan+=("$BIN_DIR/$t	bin/$t	755")
  plan+=("$ROOT/man/$t.1	share/man/man1/$t.1	644")
  plan+=("$ROOT/completions/$t.bash	share/bash-completion/completions/$t	644")
  plan+=("$ROOT/completions/_$t	share/zsh/site-functions/_$t	644")
  plan+=("$ROOT/completions/$t.fish	share/fish/vendor_completions.d/$t.fish	644")
done

# Every directory first, so that an unwritable prefix fails before anything is copied.
for entry in "${plan[@]}" "-	share/batchkit/installed	644"; do
  IFS=$'\t' read -r _ rel _ <<<"$entry"
  dir=$BASE/$(dirname "$rel")
  mkdir -p -- "$dir" 2>/dev/null || die "cannot create $dir (is $PREFIX writable? try another PREFIX or sudo)"
  [[ -w $dir ]] || die "cannot write to $dir (try another PREFIX or sudo)"
done

copied=()
undo() {
  for rel in "${copied[@]}"; do rm -f -- "$BASE/$rel"; done
}
trap 'undo' ERR INT TERM
for entry in "${plan[@]}"; do
  IFS=$'\t' read -r src rel mode <<<"$entry"
  [[ -f $src ]] || {
    undo
    die "$src missing (run scripts/gen-man.sh)"
  }
  # Copy beside the target, then rename: a running binary is replaced, never truncated.
  tmp=$BASE/$rel.install-tmp
  if ! cp -- "$src" "$tmp" || ! chmod "$mode" "$tmp" || ! mv -f -- "$tmp" "$BASE/$rel"; then
    rm -f -- "$tmp"
    undo
    die "cannot install $BASE/$rel"
  fi
  copied+=("$rel")
done
if ! { printf '%s\n' "${copied[@]}" >"$LIST.tmp" && mv -f -- "$LIST.tmp" "$LIST"; }; then
  undo
  die "cannot write $LIST"
fi
trap - ERR INT TERM
echo "install.sh: installed ${#TOOLS[@]} tools, man pages and completions into $BASE"
