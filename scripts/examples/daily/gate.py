#!/usr/bin/env python3
"""The data-quality gate between silver and gold for one day of the daily job.

    gate.py --day D --bronze BRONZE_PART --silver SILVER_TSV --bad BAD_FILE --users USERS_TSV
            [--bronze-dir bronze/orders] [--trailing 7] [--tolerance 0.5] [--report FILE]

Checks, each printed with its counts:
  reconcile     bronze rows = silver rows + filtered rows + bad rows, where "filtered" is
                counted here, independently of bmap: parsable records whose status is not
                "completed" or whose amount is not a number > 0
  join_keys     no silver row has an empty user_id (the join key), no users row an empty id
  users_unique  the users dimension's id (column 1) is unique
  amounts       every silver amount (column 4) parses as a decimal
  volume        the day's bronze rows are within --tolerance (a fraction) of the mean of the
                --trailing previous days' bronze rows present (skipped with no previous day)

Exit 0 when all pass, 1 (with one line per failed check on stderr) when one fails, 2 on
bad usage or unreadable input. Python standard library only.
"""

import argparse
import decimal
import json
import os
import re
import sys

DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def lines(path):
    with open(path, "rb") as f:
        for raw in f:
            yield raw.rstrip(b"\n")


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def passes_filter(rec):
    if not isinstance(rec, dict) or rec.get("status") != "completed":
        return False
    a = rec.get("amount")
    if isinstance(a, bool) or not isinstance(a, (int, float, str)):
        return False
    try:
        return decimal.Decimal(str(a)) > 0
    except decimal.InvalidOperation:
        return False


def main():
    ap = argparse.ArgumentParser(description="daily job: quality gate for one day")
    ap.add_argument("--day", required=True)
    ap.add_argument("--bronze", required=True)
    ap.add_argument("--silver", required=True)
    ap.add_argument("--bad", required=True)
    ap.add_argument("--users", required=True)
    ap.add_argument("--bronze-dir", default="bronze/orders")
    ap.add_argument("--trailing", type=int, default=7)
    ap.add_argument("--tolerance", type=float, default=0.5)
    ap.add_argument("--report", help="write the checks as JSON here")
    a = ap.parse_args()

    try:
        bronze = parsed_ok = filtered = 0
        for raw in lines(a.bronze):
            bronze += 1
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            parsed_ok += 1
            if not passes_filter(rec):
                filtered += 1
        silver = empty_keys = bad_amounts = 0
        for raw in lines(a.silver):
            silver += 1
            f = raw.split(b"\t")
            if not f[0]:
                empty_keys += 1
            if len(f) < 4 or not DECIMAL.match(f[3].decode("utf-8", "replace")):
                bad_amounts += 1
        bad = count_lines(a.bad) if os.path.exists(a.bad) else 0
        seen, dups, empty_ids, users = set(), 0, 0, 0
        for raw in lines(a.users):
            users += 1
            uid = raw.split(b"\t")[0]
            if not uid:
                empty_ids += 1
            if uid in seen:
                dups += 1
            seen.add(uid)
        previous = []
        if os.path.isdir(a.bronze_dir):
            days = sorted(
                d[len("day="):]
                for d in os.listdir(a.bronze_dir)
                if d.startswith("day=") and d[len("day="):] < a.day
            )
            for d in days[-a.trailing:]:
                p = os.path.join(a.bronze_dir, "day=" + d, "part-00000")
                if os.path.exists(p):
                    previous.append(count_lines(p))
    except OSError as e:
        print(f"gate: {a.day}: cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return 2

    checks = []

    def check(name, ok, detail):
        checks.append({"check": name, "ok": ok, "detail": detail})

    check(
        "reconcile",
        bronze == silver + filtered + bad,
        f"bronze {bronze} = silver {silver} + filtered {filtered} + bad {bad}"
        + ("" if bronze == silver + filtered + bad else f" (off by {bronze - silver - filtered - bad})"),
    )
    check(
        "join_keys",
        empty_keys == 0 and empty_ids == 0,
        f"{empty_keys} silver rows with an empty user_id, {empty_ids} users with an empty id",
    )
    check("users_unique", dups == 0, f"{dups} duplicated ids among {users} users")
    check("amounts", bad_amounts == 0, f"{bad_amounts} of {silver} amounts are not decimals")
    if previous:
        mean = sum(previous) / len(previous)
        ok = abs(bronze - mean) <= a.tolerance * mean
        check(
            "volume",
            ok,
            f"{bronze} rows against a trailing mean of {mean:.1f} over {len(previous)} days"
            f" (tolerance {a.tolerance:.0%})",
        )
    else:
        check("volume", True, "no previous day: skipped")

    if a.report:
        tmp = a.report + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"day": a.day, "checks": checks}, f)
            f.write("\n")
        os.replace(tmp, a.report)
    failed = [c for c in checks if not c["ok"]]
    for c in failed:
        print(f"gate: {a.day}: check {c['check']} failed: {c['detail']}", file=sys.stderr)
    if failed:
        print(f"gate: {a.day}: gold not published", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
