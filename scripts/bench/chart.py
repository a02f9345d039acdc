"""chart.py RATIOS.tsv OUT.png — bar chart of batchkit's time / the fastest anchor's.

RATIOS.tsv: case<TAB>tool<TAB>ratio<TAB>status, as scripts/bench.sh writes it."""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = []
with open(sys.argv[1]) as f:
    for line in f:
        case, tool, ratio, status = line.rstrip("\n").split("\t")
        rows.append((f"{case} / {tool}", float(ratio), status))
labels = [r[0] for r in rows][::-1]
ratios = [r[1] for r in rows][::-1]
colors = ["tab:green" if r[2] == "PASS" else "tab:red" if r[2].startswith("MISS") else "tab:gray"
          for r in rows][::-1]
fig, ax = plt.subplots(figsize=(9, 0.35 * len(rows) + 1.5))
ax.barh(labels, ratios, color=colors)
ax.axvline(1.0, color="black", linewidth=0.8)
ax.set_xscale("log")
ax.set_xlabel("median time / fastest anchor's median (log scale; < 1 is faster than every anchor)")
ax.set_title("batchkit vs the fastest anchor (green: target met, red: missed, grey: no target)")
for y, v in enumerate(ratios):
    ax.text(v, y, f" {v:.2f}", va="center", fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
