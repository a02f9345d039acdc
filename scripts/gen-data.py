#!/usr/bin/env python3
"""Deterministic benchmark data for batchkit (pure Python stdlib).

Subcommands (all take --seed, default 42; OUT may be '-' for stdout):

  kv     --lines N OUT   key<TAB>value lines. Keys are Zipf-distributed
                         (exponent --zipf, default 1.1) over a vocabulary of
                         --keys distinct strings (default 1,000,000) of the form
                         user_<hex id> with ids of varying length. Values are
                         integers of mixed sizes, about 5% negative.
                         20M lines is about 300 MB.
  text   --bytes N OUT   a word corpus: lines of 5-20 words drawn from a Zipf
                         vocabulary, separated by single spaces (about 2% of
                         separators are TABs); a few words are non-ASCII UTF-8.
                         Output is at most N bytes and ends with a newline.
  orders --lines N OUT   JSON lines: order_id, user_id (same user_<hex>
                         vocabulary as kv, so the two can be joined), product_id,
                         status (completed/pending/cancelled/refunded),
                         created_at (ISO-8601 UTC over 90 days from 2024-01-01),
                         amount (a JSON number with 2 decimals).
  orders-tsv --lines N OUT  the same order log as TSV, in the same column order
                         (no header), its users drawn from --keys (default
                         100,000) so that it joins with `users`.
  users  --lines N OUT   a users dimension table: user_id<TAB>name<TAB>country
                         <TAB>signup_date, one line per user of the same
                         vocabulary as `orders-tsv --keys N`, in random order.

The same arguments always give the same bytes (for a given Python 3 minor
version family: random.Random's algorithms are stable across 3.x).
"""

import argparse
import itertools
import operator
import os
import random
import sys

CHUNK = 1 << 18  # records generated per batch


def zipf_cum_weights(n, s):
    """Cumulative weights for ranks 1..n with weight 1/rank**s."""
    acc = 0.0
    cum = []
    append = cum.append
    for r in range(1, n + 1):
        acc += r ** -s
        append(acc)
    return cum


def user_vocab(n, seed):
    """n distinct keys 'user_<hex>' of varying length, in Zipf-rank order.

    The mapping from popularity rank to key is random, so the hot keys are
    spread over the key space rather than clustered at its start.
    """
    rng = random.Random(f"user-vocab:{seed}")
    seen = set()
    keys = []
    # id widths in bits: mostly 16-24 bits (4-6 hex digits), some short, some long
    widths = [8, 12, 16, 20, 24, 28, 32, 40, 48, 64]
    wcum = list(itertools.accumulate([3, 10, 20, 28, 20, 10, 5, 2, 1, 1]))
    while len(keys) < n:
        for w in rng.choices(widths, cum_weights=wcum, k=min(CHUNK, 2 * (n - len(keys)))):
            k = "user_%x" % rng.getrandbits(w)
            if k not in seen:
                seen.add(k)
                keys.append(k)
                if len(keys) == n:
                    break
    return keys


def open_out(path):
    if path == "-":
        return os.fdopen(sys.stdout.fileno(), "wb", buffering=0, closefd=False)
    return open(path, "wb", buffering=0)


def value_pool(rng, n):
    """n integer strings of mixed magnitude; ~5% negative."""
    out = []
    bounds = [10, 1000, 100_000, 10_000_000, 10**12]
    bcum = list(itertools.accumulate([20, 50, 20, 8, 2]))
    for b in rng.choices(bounds, cum_weights=bcum, k=n):
        v = rng.randrange(b)
        if rng.random() < 0.05:
            v = -v if v else -1
        out.append(str(v))
    return out


def gen_kv(args):
    rng = random.Random(f"kv:{args.seed}")
    keys = [k + "\t" for k in user_vocab(args.keys, args.seed)]
    cum = zipf_cum_weights(len(keys), args.zipf)
    vals = [v + "\n" for v in value_pool(rng, 1 << 20)]
    choices = rng.choices
    add = operator.add
    left = args.lines
    with open_out(args.out) as f:
        while left > 0:
            k = min(CHUNK, left)
            f.write("".join(map(add, choices(keys, cum_weights=cum, k=k), choices(vals, k=k))).encode())
            left -= k


def word_vocab(n, rng):
    """n distinct lowercase words, shortest-first-ish (frequent words are short)."""
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    lcum = list(itertools.accumulate([13, 9, 8, 8, 7, 7, 6, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]))
    accents = ["é", "ü", "ß", "ø", "ñ", "ç"]
    seen = set()
    words = []
    while len(words) < n:
        # length grows slowly with rank, like real text
        rank = len(words) + 1
        base = 1 + min(10, rank.bit_length() // 2)
        ln = max(1, base + rng.randint(-1, 3))
        w = "".join(rng.choices(letters, cum_weights=lcum, k=ln))
        if rank > 1000 and rng.random() < 0.01:
            i = rng.randrange(len(w))
            w = w[:i] + rng.choice(accents) + w[i + 1:]
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def gen_text(args):
    rng = random.Random(f"text:{args.seed}")
    words = word_vocab(args.words, rng)
    cum = zipf_cum_weights(len(words), args.zipf)
    choices = rng.choices
    randint = rng.randint
    add = operator.add
    seps = [" ", "\t"]
    scum = [0.98, 1.0]
    left = args.bytes
    with open_out(args.out) as f:
        while left > 0:
            n = CHUNK
            ws = choices(words, cum_weights=cum, k=n)
            sp = choices(seps, cum_weights=scum, k=n)
            pos = -1
            last = -1
            while True:
                pos += randint(5, 20)
                if pos >= n:
                    break
                sp[pos] = "\n"
                last = pos
            buf = "".join(map(add, ws[: last + 1], sp[: last + 1])).encode()
            if len(buf) > left:
                cut = buf.rfind(b"\n", 0, left)
                buf = buf[: cut + 1] if cut >= 0 else b""
                left = 0
            else:
                left -= len(buf)
            if buf:
                f.write(buf)
            elif left > 0:
                continue


def gen_orders(args):
    tsv = getattr(args, "tsv", False)
    rng = random.Random(f"orders:{args.seed}")
    users = user_vocab(args.keys, args.seed)
    ucum = zipf_cum_weights(len(users), args.zipf)
    products = list(range(1, args.products + 1))
    rng.shuffle(products)
    pcum = zipf_cum_weights(len(products), 1.0)
    statuses = ["completed", "pending", "cancelled", "refunded"]
    scum = list(itertools.accumulate([80, 10, 6, 4]))
    days = []
    import datetime

    d0 = datetime.date(2024, 1, 1)
    for i in range(90):
        days.append((d0 + datetime.timedelta(days=i)).isoformat() + "T")
    tods = ["%02d:%02d:%02dZ" % (s // 3600, s // 60 % 60, s % 60) for s in range(86400)]
    amounts = []
    for _ in range(1 << 20):
        cents = max(1, int(rng.lognormvariate(8.0, 1.2)))  # median ~ 29.81
        amounts.append("%d.%02d" % divmod(cents, 100))
    choices = rng.choices
    left = args.lines
    oid = 1
    with open_out(args.out) as f:
        while left > 0:
            k = min(CHUNK, left)
            us = choices(users, cum_weights=ucum, k=k)
            ps = choices(products, cum_weights=pcum, k=k)
            st = choices(statuses, cum_weights=scum, k=k)
            ds = choices(days, k=k)
            ts = choices(tods, k=k)
            am = choices(amounts, k=k)
            if tsv:
                fmt = "%d\t%s\t%d\t%s\t%s%s\t%s\n"
            else:
                fmt = '{"order_id":%d,"user_id":"%s","product_id":%d,"status":"%s","created_at":"%s%s","amount":%s}\n'
            lines = [fmt % t for t in zip(range(oid, oid + k), us, ps, st, ds, ts, am)]
            f.write("".join(lines).encode())
            oid += k
            left -= k


def gen_users(args):
    rng = random.Random(f"users:{args.seed}")
    users = user_vocab(args.lines, args.seed)
    rng.shuffle(users)
    syll = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "an", "el", "or"]
    countries = ["DE", "FR", "US", "BR", "IN", "JP", "NG", "SE", "PL", "MX"]
    ccum = list(itertools.accumulate([12, 8, 25, 9, 14, 7, 5, 3, 6, 11]))
    import datetime

    d0 = datetime.date(2015, 1, 1)
    with open_out(args.out) as f:
        for i in range(0, len(users), CHUNK):
            part = users[i : i + CHUNK]
            cs = rng.choices(countries, cum_weights=ccum, k=len(part))
            lines = []
            for u, c in zip(part, cs):
                name = "".join(rng.choices(syll, k=rng.randint(2, 4))).capitalize()
                day = (d0 + datetime.timedelta(days=rng.randrange(3287))).isoformat()
                lines.append("%s\t%s\t%s\t%s\n" % (u, name, c, day))
            f.write("".join(lines).encode())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp):
        sp.add_argument("--seed", type=int, default=42)
        sp.add_argument("out", metavar="OUT", help="output file, or - for stdout")

    sp = sub.add_parser("kv", help="key<TAB>value lines, Zipf keys")
    sp.add_argument("--lines", type=int, default=20_000_000)
    sp.add_argument("--keys", type=int, default=1_000_000, help="distinct keys")
    sp.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent")
    common(sp)
    sp.set_defaults(fn=gen_kv)

    sp = sub.add_parser("text", help="word corpus")
    sp.add_argument("--bytes", type=int, default=256 << 20)
    sp.add_argument("--words", type=int, default=200_000, help="vocabulary size")
    sp.add_argument("--zipf", type=float, default=1.05, help="Zipf exponent")
    common(sp)
    sp.set_defaults(fn=gen_text)

    sp = sub.add_parser("orders", help="JSON lines order log")
    sp.add_argument("--lines", type=int, default=5_000_000)
    sp.add_argument("--keys", type=int, default=1_000_000, help="distinct users")
    sp.add_argument("--products", type=int, default=50_000)
    sp.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent for users")
    common(sp)
    sp.set_defaults(fn=gen_orders)

    sp = sub.add_parser("orders-tsv", help="the order log as TSV, users from a 100k vocabulary")
    sp.add_argument("--lines", type=int, default=10_000_000)
    sp.add_argument("--keys", type=int, default=100_000, help="distinct users")
    sp.add_argument("--products", type=int, default=50_000)
    sp.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent for users")
    common(sp)
    sp.set_defaults(fn=gen_orders, tsv=True)

    sp = sub.add_parser("users", help="users dimension table (TSV)")
    sp.add_argument("--lines", type=int, default=100_000, help="users (= orders-tsv --keys)")
    common(sp)
    sp.set_defaults(fn=gen_users)

    args = p.parse_args()
    try:
        args.fn(args)
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    main()
