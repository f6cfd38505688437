"""Two or more suite runs' Builder cells side by side, by group: the geometric mean and range of before / now
over the cells each group holds (above 1: now is faster). The groups follow the kernel's paths: per-request qo
(draft_extend, extend) or uniform, small batches or not, by live bytes.

    python3 bench/suite_groups.py BEFORE_DIR NOW_DIR [NOW_DIR ...]
"""

from __future__ import annotations

import math
import sys

import suite_must_show

PER_REQUEST_MODES = ("draft_extend", "extend")
GROUPS = (
    ("per-request qo, bs 1-16, under 1 MB", lambda r: per_request(r) and r["bs"] <= 16 and r["live_bytes"] < 1e6),
    ("uniform qo, bs 1-4, under 1 MB", lambda r: not per_request(r) and r["bs"] <= 4 and r["live_bytes"] < 1e6),
    ("uniform qo, bs 16, under 1 MB", lambda r: not per_request(r) and r["bs"] > 4 and r["live_bytes"] < 1e6),
    ("per-request qo, 1-16 MB", lambda r: per_request(r) and 1e6 <= r["live_bytes"] <= 16e6),
    ("uniform qo, 1-16 MB", lambda r: not per_request(r) and 1e6 <= r["live_bytes"] <= 16e6),
    ("over 16 MB", lambda r: r["live_bytes"] > 16e6),
)


def per_request(row):
    return row["mode"] in PER_REQUEST_MODES


def ratios(before, now, keep):
    """before / now graph time of each Builder cell both runs timed that `keep` takes."""
    return [before[k]["graph_us"] / r["graph_us"] for k, r in now.items()
            if keep(r) and k in before and r["graph_us"] and before[k]["graph_us"]]


def table(before_dir, now_dirs):
    before = suite_must_show.load(before_dir)[1]
    nows = [suite_must_show.load(d)[1] for d in now_dirs]
    head = "| group | cells | " + " | ".join(f"before / {d} | range" for d in now_dirs) + " |"
    out = [head, "|" + "---|" * (2 + 2 * len(now_dirs))]
    for name, keep in GROUPS:
        cells = [ratios(before, now, keep) for now in nows]
        if not cells[0]:
            continue
        cols = [f"{math.exp(sum(map(math.log, c)) / len(c)):.3f} | {min(c):.3f}-{max(c):.3f}" for c in cells]
        out.append(f"| {name} | {len(cells[0])} | " + " | ".join(cols) + " |")
    return "\n".join(out)


def main(argv=None):
    argv = sys.argv if argv is None else argv
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    print(table(argv[1], argv[2:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
