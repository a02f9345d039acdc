"""tsvcmp.py MODE REF OUT — compare two TSV files line by line, field by field.

Used by scripts/bench.sh only when `cmp` of the (normalised) files fails, to tell a
formatting difference from a wrong answer. Fields are equal when they are the same bytes,
or, both being numbers:
  exact   equal as decimals (1.5 == 1.50, 7 == 7.0), i.e. the same exact value
  cents   equal after rounding both to 2 decimals (half even): for engines that sum
          2-decimal amounts in binary floating point (Polars' Float64)
Prints the first difference and exits 1; exits 0 when the files agree.
"""
import sys
from decimal import Decimal, InvalidOperation, ROUND_HALF_EVEN

mode, ref, out = sys.argv[1:4]
CENT = Decimal("0.01")


def num(s):
    try:
        d = Decimal(s)
    except InvalidOperation:
        return None
    return d.quantize(CENT, rounding=ROUND_HALF_EVEN) if mode == "cents" else d


def same(a, b):
    if a == b:
        return True
    x, y = num(a), num(b)
    return x is not None and y is not None and x == y


with open(ref, encoding="utf-8", errors="surrogateescape") as fr, \
        open(out, encoding="utf-8", errors="surrogateescape") as fo:
    n = 0
    while True:
        a, b = fr.readline(), fo.readline()
        n += 1
        if not a and not b:
            sys.exit(0)
        if not a or not b:
            print(f"line {n}: {'reference' if not a else 'output'} ends first", file=sys.stderr)
            sys.exit(1)
        fa, fb = a.rstrip("\n").split("\t"), b.rstrip("\n").split("\t")
        if len(fa) != len(fb) or not all(same(x, y) for x, y in zip(fa, fb)):
            print(f"line {n} ({mode}): reference {a.rstrip()!r}, output {b.rstrip()!r}", file=sys.stderr)
            sys.exit(1)
