"""Device time per call of the suite's bound Builder on large cells, in a fresh process, after the device's
memory is fragmented, and after it is all given back: does the suite's order of cells (the extend cells run last,
after thousands of allocations) slow the cells down by where their buffers land?

    python3 bench/probes/fragmented_memory.py [--pieces-gib 48]

Fragmenting: tensors of 10-24 MiB (random; each its own cudaMalloc in the caching allocator) up to --pieces-gib, every other one freed and the cache emptied, so the
cells' buffers are mapped in the holes the driver has left. Each phase builds its cells anew (same seeds) and times
a graph of 16 calls (four rounds of the input sets) over ten replays between one pair of events, median of five.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import suite_cells as sc  # noqa: E402
import suite_timing as st  # noqa: E402

CELLS = [
    sc.Cell("metadata", "extend", 256, 16, 131072),
    sc.Cell("metadata", "extend", 64, 8, 1048576),
    sc.Cell("metadata", "decode", 256, None, 1048576),
]
CALLS = 16
REPLAYS = 10


def per_call_us(cell, seed):
    meta = sc.MetadataCell(torch, "cuda", cell, np.random.default_rng(seed))
    fn = next(v for v in meta.variants if v.name == "specmeta Builder").fn
    graph, why = st.capture_calls(torch, fn, CALLS, sc.INPUT_SETS, 1)
    assert graph is not None, why
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    samples = []
    for _ in range(5):
        start.record()
        for _ in range(REPLAYS):
            graph.replay()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) * 1e3 / (CALLS * REPLAYS))
    del graph, meta
    torch.cuda.empty_cache()
    return statistics.median(samples)


def phase(name):
    print(f"{name:32s} " + "  ".join(f"{per_call_us(c, i):8.1f}" for i, c in enumerate(CELLS)), flush=True)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--pieces-gib", type=float, default=48.0)
    args = parser.parse_args(argv)
    print(torch.cuda.get_device_name())
    print(f"{'phase':32s} " + "  ".join(f"{c.mode[:3]} {c.bs}/{c.n}/{c.width >> 10}k" for c in CELLS))
    phase("fresh")
    phase("fresh, again")
    rng = np.random.default_rng(1)
    pieces, total = [], 0
    while total < args.pieces_gib * (1 << 30):
        size = int(rng.integers(10, 25)) << 20
        pieces.append(torch.empty(size, dtype=torch.uint8, device="cuda"))
        total += size
    del pieces[::2]
    torch.cuda.empty_cache()
    phase(f"half of {len(pieces) * 2} pieces kept")
    pieces = None
    torch.cuda.empty_cache()
    phase("pieces all freed")


if __name__ == "__main__":
    main(sys.argv[1:])
