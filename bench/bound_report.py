"""The builder against the lean copies of its page-table bytes, from specmeta_bench_metadata --bound runs.

    python3 bench/bound_report.py DIR [--copy-gbps 3010]

DIR holds bound-rK.json (one per round, the same cases). For each case: the builder's best median over the
rounds, each lean copy's (planned_copy.cuh: the JSON's lean_copies_us, by name), the bound (the fastest
host-planned shape that waits first: planned_copy_us), and the builder and the bound as a percentage of a
reference copy bandwidth (read + write; the suite's reference, 3.0 TB/s on an H100, by default), which is what
issue 3's large-table must-show counts.
"""

from __future__ import annotations

import argparse
import glob
import json
import os

DEFAULT_COPY_GBPS = 3010.0


def best_over_rounds(runs, case_id, pick):
    """The smallest of pick(case) over the runs' cases of that id, None where no run has a value."""
    values = [pick(c) for run in runs for c in run["cases"] if c["id"] == case_id]
    values = [v for v in values if v is not None]
    return min(values) if values else None


def pct(live_bytes, us, copy_gbps):
    return 100.0 * live_bytes / (us * 1e3) / copy_gbps


def report(directory, copy_gbps=DEFAULT_COPY_GBPS):
    """The Markdown table of DIR's bound-rK.json rounds."""
    paths = sorted(glob.glob(os.path.join(directory, "bound-r*.json")))
    if not paths:
        raise SystemExit(f"{directory}: no bound-r*.json")
    runs = [json.load(open(p)) for p in paths]
    first = runs[0]["cases"]
    shapes = list(first[0].get("lean_copies_us", {})) if first else []
    head = ["case", "live MB", "builder us"] + [f"{s} us" for s in shapes] + [
        "bound us", "builder / bound", f"builder % of {copy_gbps:.0f} GB/s", "bound %"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case in first:
        cid, live = case["id"], case["live_bytes"]
        builder = best_over_rounds(runs, cid, lambda c: c["us_median"])
        leans = [best_over_rounds(runs, cid, lambda c, s=s: c["lean_copies_us"][s]) for s in shapes]
        bound = best_over_rounds(runs, cid, lambda c: c.get("planned_copy_us"))
        cells = [cid, f"{live / 1e6:.1f}", f"{builder:.2f}"] + ["-" if t is None else f"{t:.2f}" for t in leans]
        if bound is None:
            cells += ["-", "-", f"{pct(live, builder, copy_gbps):.1f}", "-"]
        else:
            cells += [f"{bound:.2f}", f"{builder / bound:.3f}", f"{pct(live, builder, copy_gbps):.1f}",
                      f"{pct(live, bound, copy_gbps):.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--copy-gbps", type=float, default=DEFAULT_COPY_GBPS)
    args = parser.parse_args()
    print(report(args.directory, args.copy_gbps))


if __name__ == "__main__":
    main()
