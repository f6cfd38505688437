"""Does the driver's work on memory given back (torch.cuda.empty_cache, which torch.cuda.graph's __enter__ calls)
or newly mapped slow down the kernels that run right after it? The suite's bound Builder, measured first in each
cell, read 10-15% slower in a graph than eagerly in 8-10 large cells a run, build_metadata (the same kernels,
measured second) in 0-1.

    python3 bench/probes/memory_release.py [--gib 8] [--replays 60]

For one large cell, a graph of 4 calls is replayed one replay at a time (CUDA events each), --replays times:
after nothing (baseline); right after --gib GiB were mapped, written, freed and the cache emptied; right after
--gib GiB were allocated and written, kept; and after the same release followed by a 0.5 s pause. Prints each
replay's us per call in order, then the medians of the first 5, the next 15 and the rest.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import suite_cells as sc  # noqa: E402
import suite_timing as st  # noqa: E402

CELL = sc.Cell("metadata", "extend", 256, 16, 131072)


def replays(graph, count):
    one = st.replay_sample(torch, graph, sc.INPUT_SETS)
    return [one(0) for _ in range(count)]


def report(name, times):
    parts = [statistics.median(times[:5]), statistics.median(times[5:20]), statistics.median(times[20:])]
    print(f"{name:28s} first 5 {parts[0]:6.1f}  next 15 {parts[1]:6.1f}  rest {parts[2]:6.1f}  |  "
          + " ".join(f"{t:.0f}" for t in times[:30]), flush=True)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=8.0)
    parser.add_argument("--replays", type=int, default=60)
    args = parser.parse_args(argv)
    print(torch.cuda.get_device_name())
    meta = sc.MetadataCell(torch, "cuda", CELL, np.random.default_rng(0))
    fn = next(v for v in meta.variants if v.name == "specmeta Builder").fn
    graph, why = st.capture_calls(torch, fn, sc.INPUT_SETS, sc.INPUT_SETS, st.WARMUP_CALLS)
    assert graph is not None, why
    nbytes = int(args.gib * (1 << 30))
    kept = []
    for name in ("baseline", "after release", "after a new mapping", "after release, 0.5 s pause", "baseline again"):
        if name.startswith("after release"):
            block = torch.empty(nbytes, dtype=torch.uint8, device="cuda")
            block.fill_(1)
            torch.cuda.synchronize()
            del block
            torch.cuda.empty_cache()
            if "pause" in name:
                time.sleep(0.5)
        elif name == "after a new mapping":
            kept.append(torch.empty(nbytes, dtype=torch.uint8, device="cuda"))
            kept[-1].fill_(1)
            torch.cuda.synchronize()
        report(name, replays(graph, args.replays))
    print(f"{CELL.label()}, graph of {sc.INPUT_SETS} calls, us per call")


if __name__ == "__main__":
    main(sys.argv[1:])
