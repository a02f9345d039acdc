#!/usr/bin/env bash
# Build the release bundle for shipping batchkit to hosts and executors that do not have it:
# statically linked binaries (no libc needed on the host), man pages, completions, README and
# licences, in dist/batchkit-VERSION-x86_64-linux.tar.gz.
#
#   scripts/package.sh            # build and pack
#   scripts/package.sh --check    # also run the packed bsort inside an empty root (chroot
#                                 # as root, else unshare -r), compared with GNU sort
#
# The bundle unpacks to batchkit-VERSION/{bin,man/man1,completions,README.md,LICENSE-*};
# `scripts/install.sh` is included, so `batchkit-VERSION/install.sh PREFIX` installs from it
# (BATCHKIT_BIN_DIR is set by the wrapper). Static linking uses the gnu target with
# `-C target-feature=+crt-static`, which needs nothing beyond this machine's toolchain.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TOOLS=(bsort bsplit bmap bshuffle breduce bjoin)
TARGET=x86_64-unknown-linux-gnu
check=0
[[ ${1:-} == --check ]] && check=1

die() {
  echo "package.sh: $*" >&2
  exit 1
}

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
[[ -n $VERSION ]] || die "no version in Cargo.toml"
NAME=batchkit-$VERSION-x86_64-linux

# A target directory of its own: static and dynamic builds do not invalidate each other.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release --quiet --target "$TARGET" --target-dir target/static ||
  die "static build failed"
BIN=target/static/$TARGET/release

stage=$(mktemp -d "${TMPDIR:-/tmp}/batchkit-package.XXXXXX")
trap 'rm -rf "$stage"' EXIT
top=$stage/batchkit-$VERSION
mkdir -p "$top/bin" "$top/man/man1" "$top/completions"
for t in "${TOOLS[@]}"; do
  if ldd "$BIN/$t" 2>&1 | grep -q '=>'; then
    die "$BIN/$t is dynamically linked"
  fi
  cp "$BIN/$t" "$top/bin/"
  # The release profile keeps line tables for profiling; executors need none of it.
  strip "$top/bin/$t" 2>/dev/null || true
  cp "man/$t.1" "$top/man/man1/"
  cp "completions/$t.bash" "completions/_$t" "completions/$t.fish" "$top/completions/"
done
cp README.md LICENSE-MIT LICENSE-APACHE "$top/"
# An installer that takes the bundle's own binaries (install.sh expects the repo layout).
mkdir -p "$top/scripts"
cp scripts/install.sh "$top/scripts/"
ln -s man/man1 "$top/man1"
cat >"$top/install.sh" <<'EOF'
#!/usr/bin/env bash
# Install this bundle: ./install.sh [PREFIX] (see scripts/install.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$here/.repo"
ln -sfn "$here/man/man1" "$here/.repo/man"
ln -sfn "$here/completions" "$here/.repo/completions"
mkdir -p "$here/.repo/scripts"
cp "$here/scripts/install.sh" "$here/.repo/scripts/install.sh"
BATCHKIT_BIN_DIR=$here/bin exec bash "$here/.repo/scripts/install.sh" "$@"
EOF
chmod +x "$top/install.sh"
rm "$top/man1"

mkdir -p dist
tar -C "$stage" -czf "dist/$NAME.tar.gz.tmp" "batchkit-$VERSION"
mv -f "dist/$NAME.tar.gz.tmp" "dist/$NAME.tar.gz"
echo "package.sh: dist/$NAME.tar.gz ($(du -h "dist/$NAME.tar.gz" | cut -f1))"

if ((check)); then
  # An empty root holding only the binary and its input: no libc, no loader, no /proc.
  jail=$stage/root
  mkdir -p "$jail"
  tar -C "$stage" -xzf "dist/$NAME.tar.gz" "batchkit-$VERSION/bin/bsort"
  cp "$stage/batchkit-$VERSION/bin/bsort" "$jail/bsort"
  printf 'b\t2\nc\t1\na\t3\nb\t1\n' >"$jail/in.tsv"
  if [[ $(id -u) == 0 ]]; then
    run=(chroot "$jail" /bsort -t $'\t' "-k2,2n" "-k1,1" /in.tsv)
  else
    run=(unshare -r chroot "$jail" /bsort -t $'\t' "-k2,2n" "-k1,1" /in.tsv)
  fi
  got=$("${run[@]}") || die "the static bsort failed in an empty root"
  want=$(LC_ALL=C sort -t $'\t' -k2,2n -k1,1 "$jail/in.tsv")
  [[ $got == "$want" ]] || die "the static bsort in an empty root printed something else"
  echo "package.sh: the static bsort runs in an empty root"
fi
