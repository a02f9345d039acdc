#!/usr/bin/env python3
"""Check that bsplit --hash (the partition function) puts every key of a partition-vectors
table in the partition the table says. Usage: check-partition-vectors.py docs/partition-vectors.tsv
(with the batchkit binaries on PATH)."""
import glob, os, subprocess, sys, tempfile
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if not l.startswith("#")]
head, rows = rows[0], rows[1:]
keys = [bytes.fromhex(r[0]) for r in rows]
bad = 0
for c, name in enumerate(head):
    if not name.startswith("mod_"):
        continue
    n = int(name[4:])
    out = os.path.join(tempfile.mkdtemp(), "parts")
    # One NUL-terminated record per key; -t names a byte no key holds, so field 1 is the key.
    subprocess.run(["bsplit", "--hash", "-n", str(n), "-z", "-t", "\x1f", "-o", out],
                   input=b"".join(k + b"\0" for k in keys), check=True)
    where = {}
    for p in glob.glob(out + "/part-*"):
        for rec in open(p, "rb").read().split(b"\0")[:-1]:
            where[rec] = int(p.rsplit("-", 1)[1])
    for k, r in zip(keys, rows):
        if where.get(k) != int(r[c]):
            bad += 1
            print(f"{r[0]} mod {n}: table {r[c]}, bsplit {where.get(k)}")
print(f"{len(rows)} keys, {bad} mismatches")
sys.exit(1 if bad else 0)
