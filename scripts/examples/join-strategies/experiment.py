#!/usr/bin/env python3
"""The join-strategy experiment (run by run.sh; Python standard library, matplotlib if given).

Joins a fact table (orders, JSON lines) with a small dimension (users) and a medium one
(products) by broadcast (bjoin --strategy hash), partition-wise (bsplit --hash both sides,
bjoin --partitioned) and sort-merge (bjoin --strategy merge), at 1x and 2x the orders, plus
a skewed variant (one user with most orders). Records from every tool's --stats: duration,
shuffle bytes (bytes bsplit wrote + spill bytes) and peak RSS, into results.tsv. Then
injects failures (a run killed mid-way and rerun; bad records with --skip-bad) and counts
diff_count, the records that differ from the clean run's output. Writes results.tsv,
chart.png and REPORT.md into OUT.

Environment: BIN (batchkit binaries), OUT, ORDERS (1x orders), USERS, PRODUCTS, P (partitions),
S (-S for every tool), J (-j), SKEW (share of orders on the skewed user), PLOT_PYTHON.
"""

import collections
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time
import zlib

BIN = os.environ.get("BIN", "target/release")
OUT = os.environ.get("OUT", "results")
ORDERS = int(os.environ.get("ORDERS", "1000000"))
USERS = int(os.environ.get("USERS", "100000"))
PRODUCTS = int(os.environ.get("PRODUCTS", "1000000"))
P = int(os.environ.get("P", "8"))
S = os.environ.get("S", "256M")
J = os.environ.get("J", "2")
SKEW = float(os.environ.get("SKEW", "0.8"))
WORK = os.path.join(OUT, "work")
STRATEGIES = ["broadcast", "partition-wise", "sort-merge"]


def tool(name):
    return os.path.join(BIN, name)


def gen_orders(path, n, seed, skew=0.0, bad_every=0):
    r = random.Random(seed)
    bad = 0
    with open(path, "w") as f:
        for i in range(n):
            u = 0 if skew and r.random() < skew else r.randrange(USERS)
            p = r.randrange(PRODUCTS)
            f.write(f'{{"order_id":{i},"user_id":"u{u}","product_id":"p{p}","amount":"{r.randrange(1, 100000) / 100:.2f}"}}\n')
            if bad_every and i % bad_every == bad_every // 2:
                f.write('{"order_id": oops, "user_id":\n')
                bad += 1
    return bad


def gen_dim(path, n, key, attr, values, seed):
    r = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            f.write(f'{{"{key}":"{key[0]}{i}","{attr}":"{values[r.randrange(len(values))]}"}}\n')


def stats(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def run_steps(steps, kill_after=None):
    """Run the commands one after another; with kill_after, SIGKILL whatever runs then.
    Returns (wall seconds, killed)."""
    t0 = time.monotonic()
    for cmd in steps:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            timeout = None if kill_after is None else max(0.0, kill_after - (time.monotonic() - t0))
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return time.monotonic() - t0, True
        if p.returncode != 0:
            sys.exit(f"experiment: {' '.join(cmd)}: exit {p.returncode}: {err.decode(errors='replace').strip()}")
    return time.monotonic() - t0, False


def plan(strategy, fact, dim, key, out, tag, skip_bad=False):
    """The commands of one join and their --stats files."""
    common = ["--format", "jsonl", "-S", S, "-j", J]
    bad = ["--skip-bad", "--bad-records", os.path.join(WORK, f"{tag}.bad")] if skip_bad else []
    st = lambda step: os.path.join(WORK, f"{tag}.{step}.json")
    if strategy == "partition-wise":
        lp, rp = os.path.join(WORK, f"{tag}.left"), os.path.join(WORK, f"{tag}.right")
        for d in (lp, rp):
            shutil.rmtree(d, ignore_errors=True)
        steps = [
            # bsplit has no --skip-bad: with bad records the fact side goes through bshuffle
            # (the same partition function; its parts are also sorted by key).
            [tool("bshuffle" if skip_bad else "bsplit"), *common, "-n", str(P), *([] if skip_bad else ["--hash"]),
             "-k", key, "--force", "-o", lp, f"--stats={st('split-left')}", *bad, fact],
            [tool("bsplit"), *common, "-n", str(P), "--hash", "-k", key, "--force", "-o", rp, f"--stats={st('split-right')}", dim],
            [tool("bjoin"), *common, "--partitioned", "-k", key, "-o", out, f"--stats={st('join')}", lp, rp],
        ]
        files = [st("split-left"), st("split-right"), st("join")]
    else:
        s = "hash" if strategy == "broadcast" else "merge"
        extra = ["--build", "right"] if s == "hash" else []
        steps = [[tool("bjoin"), *common, "--strategy", s, *extra, "-k", key, *bad, "-o", out, f"--stats={st('join')}", fact, dim]]
        files = [st("join")]
    return steps, files


def measure(files, wall):
    ss = [stats(f) for f in files]
    shuffle = sum((s.get("bytes_out") or 0) for s in ss if s.get("tool") in ("bsplit", "bshuffle"))
    shuffle += sum((s.get("spill_bytes") or 0) for s in ss)
    return {
        "duration_s": round(wall, 3),
        "tool_ms": sum(s.get("elapsed_ms") or 0 for s in ss),
        "shuffle_bytes": shuffle,
        "peak_rss_bytes": max((s.get("peak_rss_bytes") or 0) for s in ss),
        "records_out": ss[-1].get("records_out"),
        "bad_records": sum((s.get("bad_records") or 0) for s in ss),
        "heavy_hitters": next((s["heavy_hitters"] for s in ss if "heavy_hitters" in s), None),
    }


def lines(path):
    with open(path, "rb") as f:
        return collections.Counter(f)


def diff_count(a, b):
    """Records in one output and not in the other, as multisets."""
    ca, cb = lines(a), lines(b)
    return sum(((ca - cb) + (cb - ca)).values())


def main():
    os.makedirs(WORK, exist_ok=True)
    print(f"experiment: data: {ORDERS} orders (1x), {USERS} users, {PRODUCTS} products", file=sys.stderr)
    data = {
        "orders-1x": os.path.join(WORK, "orders-1x.jsonl"),
        "orders-2x": os.path.join(WORK, "orders-2x.jsonl"),
        "orders-skew": os.path.join(WORK, "orders-skew.jsonl"),
        "orders-bad": os.path.join(WORK, "orders-bad.jsonl"),
        "users": os.path.join(WORK, "users.jsonl"),
        "products": os.path.join(WORK, "products.jsonl"),
    }
    gen_orders(data["orders-1x"], ORDERS, 1)
    gen_orders(data["orders-2x"], 2 * ORDERS, 1)
    gen_orders(data["orders-skew"], ORDERS, 1, skew=SKEW)
    injected = gen_orders(data["orders-bad"], ORDERS, 1, bad_every=200)
    gen_dim(data["users"], USERS, "user_id", "country", ["US", "DE", "FR", "JP", "BR", "IN", "MX", "GB"], 2)
    gen_dim(data["products"], PRODUCTS, "product_id", "category", [f"c{i}" for i in range(50)], 3)

    rows = []
    cases = [(dim, size, "uniform") for dim in ("users", "products") for size in ("1x", "2x")]
    cases.append(("users", "1x", "skewed"))
    for dim, size, variant in cases:
        fact = data["orders-skew" if variant == "skewed" else f"orders-{size}"]
        key = "user_id" if dim == "users" else "product_id"
        for strategy in STRATEGIES:
            tag = f"{strategy}.{dim}.{size}.{variant}"
            out = os.path.join(WORK, tag + ".out")
            steps, files = plan(strategy, fact, data[dim], key, out, tag)
            wall, _ = run_steps(steps)
            m = measure(files, wall)
            m.update(strategy=strategy, dimension=dim, size=size, variant=variant, diff_count="", out=out)
            rows.append(m)
            print(f"experiment: {tag}: {wall:.2f} s, peak {m['peak_rss_bytes'] >> 20} MiB", file=sys.stderr)

    # The three strategies must give the same records (in their own orders).
    for dim, size, variant in cases:
        outs = [r["out"] for r in rows if (r["dimension"], r["size"], r["variant"]) == (dim, size, variant)]
        for o in outs[1:]:
            d = diff_count(outs[0], o)
            if d:
                sys.exit(f"experiment: {o} and {outs[0]} differ in {d} records")

    # Failures, on the users join at 1x: killed mid-way then rerun; bad records skipped.
    clean = {r["strategy"]: r for r in rows if (r["dimension"], r["size"], r["variant"]) == ("users", "1x", "uniform")}
    for strategy in STRATEGIES:
        c = clean[strategy]
        tag = f"{strategy}.users.1x.killed"
        out = os.path.join(WORK, tag + ".out")
        steps, files = plan(strategy, data["orders-1x"], data["users"], "user_id", out, tag)
        _, killed = run_steps(steps, kill_after=0.4 * c["duration_s"])
        # -o is atomic: after the kill the output is absent or complete (then it counts too).
        after_kill = diff_count(out, c["out"]) if os.path.exists(out) else 0
        wall, _ = run_steps(steps)
        m = measure(files, wall)
        m.update(strategy=strategy, dimension="users", size="1x", variant="killed+rerun" if killed else "rerun (run ended before the kill)",
                 diff_count=diff_count(out, c["out"]) + after_kill, out=out)
        rows.append(m)
        tag = f"{strategy}.users.1x.bad"
        out = os.path.join(WORK, tag + ".out")
        steps, files = plan(strategy, data["orders-bad"], data["users"], "user_id", out, tag, skip_bad=True)
        wall, _ = run_steps(steps)
        m = measure(files, wall)
        m.update(strategy=strategy, dimension="users", size="1x", variant=f"bad records ({injected} injected)",
                 diff_count=diff_count(out, c["out"]), out=out)
        if m["bad_records"] != injected:
            sys.exit(f"experiment: {tag}: {m['bad_records']} bad records counted, {injected} injected")
        rows.append(m)
        print(f"experiment: {strategy}: kill+rerun diff_count {rows[-2]['diff_count']}, bad records diff_count {rows[-1]['diff_count']}", file=sys.stderr)

    cols = ["strategy", "dimension", "size", "variant", "duration_s", "tool_ms", "shuffle_bytes", "peak_rss_bytes", "records_out", "bad_records", "diff_count"]
    with open(os.path.join(OUT, "results.tsv"), "w") as f:
        f.write("\t".join(cols) + "\n")
        for r in rows:
            f.write("\t".join(str(r[c]) for c in cols) + "\n")
    chart(rows, os.path.join(OUT, "chart.png"))
    report(rows, os.path.join(OUT, "REPORT.md"))
    bad = [r for r in rows if r["diff_count"] not in ("", 0)]
    shutil.rmtree(WORK, ignore_errors=True) if os.environ.get("KEEP_WORK") != "1" else None
    if bad:
        sys.exit(f"experiment: diff_count is not 0: {[(r['strategy'], r['variant'], r['diff_count']) for r in bad]}")


def label(r):
    return f"{r['dimension']} {r['size']}" + (" skew" if r["variant"] == "skewed" else "")


def clean_rows(rows):
    return [r for r in rows if r["variant"] in ("uniform", "skewed")]


def chart(rows, path):
    rows = clean_rows(rows)
    py = os.environ.get("PLOT_PYTHON")
    if py:
        spec = json.dumps([{k: r[k] for k in ("strategy", "duration_s", "peak_rss_bytes")} | {"label": label(r)} for r in rows])
        code = r"""
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
rows = json.loads(sys.argv[1]); path = sys.argv[2]
labels = list(dict.fromkeys(r["label"] for r in rows))
strategies = list(dict.fromkeys(r["strategy"] for r in rows))
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
w = 0.8 / len(strategies)
for ax, key, title, scale in ((axes[0], "duration_s", "duration (s)", 1), (axes[1], "peak_rss_bytes", "peak memory (MiB)", 2**20)):
    for i, s in enumerate(strategies):
        ys = [next((r[key] / scale for r in rows if r["label"] == l and r["strategy"] == s), 0) for l in labels]
        ax.bar([x + i * w for x in range(len(labels))], ys, w, label=s)
    ax.set_xticks([x + w * (len(strategies) - 1) / 2 for x in range(len(labels))], labels)
    ax.set_title(title)
axes[0].legend()
fig.suptitle("bjoin: orders joined with users (100k) and products (1M), by strategy and input size")
fig.tight_layout()
fig.savefig(path, dpi=100)
"""
        r = subprocess.run([py, "-c", code, spec, path])
        if r.returncode == 0:
            return
        print("experiment: matplotlib failed; drawing the plain chart", file=sys.stderr)
    plain_chart(rows, path)


def plain_chart(rows, path):
    """Grouped bars without matplotlib: duration (top) and peak memory (bottom), one color per
    strategy, one group per case; a PNG from zlib alone."""
    colors = [(31, 119, 180), (255, 127, 14), (44, 160, 44)]
    labels = list(dict.fromkeys(label(r) for r in rows))
    W, H, pad = 640, 400, 20
    img = [[(255, 255, 255)] * W for _ in range(H)]
    for half, key in enumerate(("duration_s", "peak_rss_bytes")):
        top = half * H // 2 + pad
        height = H // 2 - 2 * pad
        vmax = max((r[key] for r in rows), default=1) or 1
        gw = (W - 2 * pad) // max(1, len(labels))
        bw = max(1, (gw - 10) // len(STRATEGIES))
        for g, l in enumerate(labels):
            for i, s in enumerate(STRATEGIES):
                v = next((r[key] for r in rows if label(r) == l and r["strategy"] == s), 0)
                h = int(height * v / vmax)
                x0 = pad + g * gw + i * bw
                for y in range(top + height - h, top + height):
                    for x in range(x0, x0 + bw - 1):
                        img[y][x] = colors[i]
        for x in range(pad, W - pad):
            img[top + height][x] = (0, 0, 0)
    raw = b"".join(b"\0" + bytes(c for px in row for c in px) for row in img)

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def report(rows, path):
    def get(strategy, dim, size, variant="uniform"):
        return next(r for r in rows if (r["strategy"], r["dimension"], r["size"], r["variant"]) == (strategy, dim, size, variant))

    mib = lambda b: f"{b / 2**20:.0f} MiB"
    out = ["# Join strategies, measured", "",
           f"Orders (JSON lines): {ORDERS:,} at 1x, {2 * ORDERS:,} at 2x; users {USERS:,}, products {PRODUCTS:,}; "
           f"-S {S}, -j {J}, {P} partitions. Machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the end. "
           "Durations are wall seconds of one run each (shared machine: compare within this run only); "
           "shuffle bytes are the bytes bsplit wrote plus spill bytes; peak memory the largest tool's peak RSS.", "",
           "| join | strategy | duration (s) | shuffle bytes | peak memory |", "|---|---|---|---|---|"]
    for r in clean_rows(rows):
        out.append(f"| {label(r)} | {r['strategy']} | {r['duration_s']:.2f} | {r['shuffle_bytes']:,} | {mib(r['peak_rss_bytes'])} |")
    out += ["", "## Which strategy wins when", ""]
    for dim in ("users", "products"):
        for size in ("1x", "2x"):
            best = min(STRATEGIES, key=lambda s: get(s, dim, size)["duration_s"])
            lean = min(STRATEGIES, key=lambda s: get(s, dim, size)["peak_rss_bytes"])
            out.append(f"- orders x {dim} at {size}: fastest **{best}** ({get(best, dim, size)['duration_s']:.2f} s), "
                       f"least memory **{lean}** ({mib(get(lean, dim, size)['peak_rss_bytes'])}).")
    out += ["", "## How each scales from 1x to 2x (duration ratio, peak memory ratio)", ""]
    for dim in ("users", "products"):
        parts = []
        for s in STRATEGIES:
            a, b = get(s, dim, "1x"), get(s, dim, "2x")
            parts.append(f"{s} {b['duration_s'] / max(a['duration_s'], 1e-9):.2f}x time, "
                         f"{b['peak_rss_bytes'] / max(a['peak_rss_bytes'], 1):.2f}x memory")
        out.append(f"- {dim}: " + "; ".join(parts) + ".")
    out += ["", f"## Skew: {SKEW:.0%} of the orders on one user", ""]
    for s in STRATEGIES:
        a, b = get(s, "users", "1x"), get(s, "users", "1x", "skewed")
        out.append(f"- {s}: {b['duration_s']:.2f} s skewed against {a['duration_s']:.2f} s uniform "
                   f"({b['duration_s'] / max(a['duration_s'], 1e-9):.2f}x), peak {mib(b['peak_rss_bytes'])} against {mib(a['peak_rss_bytes'])}.")
    hh = get("partition-wise", "users", "1x", "skewed")["heavy_hitters"]
    if hh:
        out += ["", "Heavy hitters of the skewed orders (bsplit --hash --stats, top 3):", "",
                "| key | records | share of records | share of bytes |", "|---|---|---|---|"]
        for h in hh["top"][:3]:
            out.append(f"| {h['key']} | {h['records']:,} | {h['records_share']:.2%} | {h['bytes_share']:.2%} |")
    out += ["", "## Failures injected (orders x users, 1x)", "", "| strategy | failure | diff_count | bad records |", "|---|---|---|---|"]
    for r in rows:
        if r["variant"] not in ("uniform", "skewed"):
            out.append(f"| {r['strategy']} | {r['variant']} | {r['diff_count']} | {r['bad_records']} |")
    out += ["", "diff_count: records that differ (as multisets) between the output after the failure and "
            "the clean run's output; 0 means the rerun, or the run skipping the bad records, gave the clean result.",
            "", "![duration and peak memory per strategy](chart.png)", ""]
    with open(path, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
