#!/usr/bin/env python3
"""SLIs of the daily job: one JSON line per run in metrics.jsonl, and the SLO report.

    metrics.py run [--metrics metrics.jsonl] [--reprocess] [--day D] -- make ARGS...
    metrics.py slo [--metrics metrics.jsonl]

`run` runs the command (the job), then appends one line to the metrics file: run id, day,
duration, success or failure (and the failing make target), per stage records in/out, bad
records, shuffle bytes and peak memory (from the tools' --stats files under stats/ written
during the run), data freshness (hours from the end of the newest input day to the run's
end) and whether the run was a reprocess. Its exit status is the command's.

`slo` reads the runs of the last 30 days (before the newest run) and prints each SLI against
the seed's SLO, exit 1 when one is broken:
  p95 duration < 60 min   success rate >= 99 %   freshness < 6 h (the newest successful run)
  reprocess < 2 a week (runs in the last 7 days)

NOW=ISO-8601 in the environment stands for the wall clock (run times, freshness), so the
sample data of 2024 can be run "on time". Python standard library only.
"""

import argparse
import datetime as dt
import glob
import json
import math
import os
import re
import subprocess
import sys
import time

STAGES = {"bronze": "bsplit", "silver": "bmap", "users": "breduce", "report": "bsort"}
FAILED = re.compile(r"make(?:\[\d+\])?: \*\*\* \[(?:[^:\]]*:\d+: )?([^\]]+)\] Error")


def now():
    s = os.environ.get("NOW")
    if s:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return dt.datetime.now(dt.timezone.utc)


def iso(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def newest_day(bronze="bronze/orders"):
    days = sorted(d[4:] for d in glob.glob1(bronze, "day=*")) if os.path.isdir(bronze) else []
    return days[-1] if days else None


def run(a, cmd):
    started_wall = now()
    started = time.monotonic()
    t0 = time.time()
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    tail = []
    for line in p.stderr:
        sys.stderr.buffer.write(line)
        sys.stderr.flush()
        tail.append(line.decode("utf-8", "replace"))
        tail = tail[-200:]
    rc = p.wait()
    duration = time.monotonic() - started
    end = started_wall + dt.timedelta(seconds=duration)

    stages = {}
    shuffle = peak = bad = 0
    for path in sorted(glob.glob("stats/*/*.json")):
        try:
            if os.path.getmtime(path) < t0 - 1:
                continue
            with open(path) as f:
                s = json.load(f)
        except (OSError, ValueError):
            continue
        stage = os.path.basename(path)[:-5]
        st = stages.setdefault(stage, {"records_in": 0, "records_out": 0, "bad_records": 0, "runs": 0})
        st["runs"] += 1
        for k in ("records_in", "records_out", "bad_records"):
            st[k] += s.get(k) or 0
        bad += s.get("bad_records") or 0
        # Bytes the shuffle or split wrote, plus what any tool spilled.
        shuffle += (s.get("spill_bytes") or 0) + (s.get("bytes_out") or 0 if s.get("tool") in ("bsplit", "bshuffle") else 0)
        peak = max(peak, s.get("peak_rss_bytes") or 0)
    failed = None
    for line in tail:
        m = FAILED.search(line)
        if m:
            failed = m.group(1)
            break
    day = a.day or newest_day()
    fresh = None
    if day:
        day_end = dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc) + dt.timedelta(days=1)
        fresh = round((end - day_end).total_seconds() / 3600, 3)
    rec = {
        "run_id": started_wall.strftime("%Y%m%dT%H%M%SZ") + f"-{os.getpid()}",
        "started": iso(started_wall),
        "ended": iso(end),
        "day": day,
        "duration_s": round(duration, 3),
        "success": rc == 0,
        "exit_status": rc,
        "failed_target": None if rc == 0 else (failed or "unknown"),
        "stages": stages,
        "bad_records": bad,
        "shuffle_bytes": shuffle,
        "peak_rss_bytes": peak,
        "freshness_h": fresh,
        "reprocess": a.reprocess,
    }
    line = (json.dumps(rec, sort_keys=True) + "\n").encode()
    # One write with O_APPEND: concurrent runs never interleave a line.
    fd = os.open(a.metrics, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return rc


def p95(xs):
    xs = sorted(xs)
    return xs[max(0, math.ceil(0.95 * len(xs)) - 1)] if xs else None


def slo(a):
    runs = []
    try:
        with open(a.metrics) as f:
            for n, line in enumerate(f, 1):
                try:
                    r = json.loads(line)
                    r["_end"] = dt.datetime.fromisoformat(r["ended"].replace("Z", "+00:00"))
                except (ValueError, KeyError, TypeError) as e:
                    print(f"slo: {a.metrics}:{n}: not a metrics line ({e})", file=sys.stderr)
                    return 2
                runs.append(r)
    except OSError as e:
        print(f"slo: cannot read {a.metrics}: {e.strerror}", file=sys.stderr)
        return 2
    if not runs:
        print(f"slo: {a.metrics}: no runs", file=sys.stderr)
        return 2
    last = max(r["_end"] for r in runs)
    window = [r for r in runs if r["_end"] > last - dt.timedelta(days=30)]
    week = [r for r in window if r["_end"] > last - dt.timedelta(days=7)]
    ok_runs = [r for r in window if r.get("success")]
    dur = p95([r["duration_s"] for r in window])
    rate = len(ok_runs) / len(window)
    newest_ok = max(ok_runs, key=lambda r: r["_end"]) if ok_runs else None
    fresh = newest_ok.get("freshness_h") if newest_ok else None
    reproc = sum(1 for r in week if r.get("reprocess"))
    rows = [
        ("p95 duration", f"{dur / 60:.2f} min", "< 60 min", dur < 3600),
        ("success rate", f"{rate:.2%} of {len(window)} runs", ">= 99 %", rate >= 0.99),
        ("freshness", "no successful run" if fresh is None else f"{fresh:.2f} h", "< 6 h", fresh is not None and fresh < 6),
        ("reprocess", f"{reproc} in the last 7 days", "< 2 / week", reproc < 2),
    ]
    print(f"SLOs over the 30 days to {iso(last)} ({len(window)} runs)")
    for name, val, target, ok in rows:
        print(f"  {name:<13} {val:<28} {target:<11} {'ok' if ok else 'BROKEN'}")
    broken = [r[0] for r in rows if not r[3]]
    if broken:
        print("slo: broken: " + ", ".join(broken), file=sys.stderr)
        return 1
    return 0


def main():
    argv = sys.argv[1:]
    cmd = []
    if "--" in argv:
        i = argv.index("--")
        argv, cmd = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description="daily job SLIs and SLOs")
    ap.add_argument("what", choices=["run", "slo"])
    ap.add_argument("--metrics", default="metrics.jsonl")
    ap.add_argument("--reprocess", action="store_true")
    ap.add_argument("--day")
    a = ap.parse_args(argv)
    if a.what == "run":
        if not cmd:
            ap.error("run needs -- COMMAND")
        return run(a, cmd)
    return slo(a)


if __name__ == "__main__":
    sys.exit(main())
