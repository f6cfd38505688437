"""Issue 3's must-show counts, from a suite's results.json or .json.gz (bench/bench_suite.py), as the results
files quote them.

    python3 bench/suite_must_show.py DIR [DIR_BEFORE]

Whole-metadata cells, the bound `Builder` (the suite's reference variant) unless said otherwise:
  - in a CUDA graph at most 2.0 us while live bytes are under 1 MB (by mode);
  - at least 85% of the run's measured device-to-device copy bandwidth once live bytes exceed 16 MB (and,
    where the run measured them, the same cells against an eager copy of their own live bytes: not the must-show's
    measure, but what separates the kernel's shortfall from the copy's own rate at that size);
  - eager Python cost back to back, on the cells whose graph time is under 5 us (where the host, not the
    device, sets the eager time): the `Builder` at most 8 us, `build_metadata` at most 20 us;
  - how many of those rows' times bench_suite measured again (twins apart, a stalled host).
With DIR_BEFORE, each count of that run too, and the geometric mean of before / now over the small cells.
"""

from __future__ import annotations

import math
import statistics
import sys

import suite_report

SMALL_BYTES = 1e6
SMALL_US = 2.0
LARGE_BYTES = 16e6
LARGE_PCT = 85.0
HOST_BOUND_GRAPH_US = 5.0
BUILDER_EAGER_US = 8.0
BUILD_METADATA_EAGER_US = 20.0
MODES = ("decode", "target_verify", "draft_extend", "draft_extend_static", "extend")


def load(directory):
    result = suite_report.read(directory)
    rows = [r for r in result["rows"] if r["kind"] == "metadata"]
    builder = suite_report.reference_rows(rows)  # the bound Builder, by cell
    build = {suite_report.cell_key(r): r for r in rows if r["variant"] == "specmeta build_metadata"}
    return result["meta"], builder, build


def counts(directory):
    meta, builder, build = load(directory)
    small = {k: r for k, r in builder.items() if r["live_bytes"] < SMALL_BYTES and r["graph_us"] is not None}
    large = [r for r in builder.values() if r["live_bytes"] > LARGE_BYTES and r["pct_copy"] is not None]
    host = [k for k, r in builder.items() if r["graph_us"] is not None and r["graph_us"] < HOST_BOUND_GRAPH_US]
    lines = {}
    times = [r["graph_us"] for r in small.values()]
    lines["small"] = f"{at_most(times, SMALL_US)}, median {statistics.median(times):.2f} us"
    for mode in MODES:
        t = [r["graph_us"] for r in small.values() if r["mode"] == mode]
        if t:
            lines[f"small {mode}"] = (f"{at_most(t, SMALL_US)}, median {statistics.median(t):.2f}, "
                                      f"{min(t):.2f}-{max(t):.2f} us")
    pct = [r["pct_copy"] for r in large]
    low = min(large, key=lambda r: r["pct_copy"])
    lines["large"] = (f"{sum(p >= LARGE_PCT for p in pct)} of {len(pct)}, median {statistics.median(pct):.1f}%, "
                      f"lowest {low['pct_copy']:.1f}% ({low['mode']} bs {low['bs']} N {low['n']} W {low['width']})")
    at_size = [r for r in large if r.get("pct_copy_at_size") is not None]
    if at_size:  # not the must-show's measure: beside it, each cell against a copy of its own live bytes
        pct = [r["pct_copy_at_size"] for r in at_size]
        low = min(at_size, key=lambda r: r["pct_copy_at_size"])
        lines["large, against an eager copy of the same bytes"] = (
            f"{sum(p >= LARGE_PCT for p in pct)} of {len(pct)}, median {statistics.median(pct):.1f}%, lowest "
            f"{low['pct_copy_at_size']:.1f}% ({low['mode']} bs {low['bs']} N {low['n']} W {low['width']})")
    eager = [builder[k]["eager_us"] for k in host]
    lines["builder eager"] = f"{at_most(eager, BUILDER_EAGER_US)}, median {statistics.median(eager):.2f} us"
    eager = [build[k]["eager_us"] for k in host if k in build and build[k]["eager_us"] is not None]
    median = statistics.median(eager)
    lines["build_metadata eager"] = f"{at_most(eager, BUILD_METADATA_EAGER_US)}, median {median:.1f} us"
    both = list(builder.values()) + list(build.values())
    lines["measured again"] = (f"{sum(bool(r.get('twin_check')) for r in both)} graph times (twins apart), "
                               f"{sum(bool(r.get('eager_check')) for r in both)} eager times (a stalled host), "
                               f"of {len(both)} Builder and build_metadata rows")
    floor = meta["floors"].get("eager per call", 0)
    lines["copy reference"] = f"{meta['copy_gbps']:.0f} GB/s; empty-kernel eager floor {floor:.2f} us"
    return lines, small


def at_most(values, limit):
    return f"{sum(v <= limit for v in values)} of {len(values)}"


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    now, small_now = counts(argv[1])
    before, small_before = counts(argv[2]) if len(argv) == 3 else ({}, {})
    print("| must-show | " + ("before | " if before else "") + "now |")
    print("|---|" + ("---|" if before else "") + "---|")
    for name, text in now.items():
        print(f"| {name} | " + (f"{before.get(name, '')} | " if before else "") + f"{text} |")
    shared = [k for k in small_now if k in small_before]
    if shared:
        logs = [math.log(small_before[k]["graph_us"] / small_now[k]["graph_us"]) for k in shared]
        print(f"\nCells under 1 MB, before / now (graph us), geometric mean over {len(shared)}: "
              f"{math.exp(sum(logs) / len(logs)):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
