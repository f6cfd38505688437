"""Is a captured graph of the bound Builder persistently slower or faster than another capture of the same calls?
(graph_rounds.py --first-replays, H100: one of three graphs of draft_extend bs 1024 N 1 W 131072 replayed at
227.8 us per call every time, the other two at 202.5.) Captures --graphs graphs of 4 calls per cell, each on a new
side stream (as the suite does) or all on one (--one-stream), times each over --replays replays (median), and with
--dump DIR writes each graph's DOT (torch's debug dump: nodes, launch attributes, edge types) for a diff.

    python3 bench/probes/graph_instances.py [--graphs 8] [--replays 8] [--one-stream] [--dump DIR]
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
    sc.Cell("metadata", "draft_extend", 1024, 1, 131072),
    sc.Cell("metadata", "extend", 256, 16, 131072),
    sc.Cell("metadata", "decode", 256, None, 131072),
]


def capture(fn, calls, side, dump):
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for k in range(st.WARMUP_CALLS):
            fn(k % sc.INPUT_SETS)
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    if dump:
        graph.enable_debug_mode()
    with torch.cuda.graph(graph, stream=side):
        for k in range(calls):
            fn(k % sc.INPUT_SETS)
    graph.replay()
    torch.cuda.synchronize()
    if dump:
        graph.debug_dump(dump)
    return graph


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--graphs", type=int, default=8)
    parser.add_argument("--replays", type=int, default=8)
    parser.add_argument("--one-stream", action="store_true")
    parser.add_argument("--dump", default=None)
    args = parser.parse_args(argv)
    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
    print(torch.cuda.get_device_name())
    one = torch.cuda.Stream()
    for ci, cell in enumerate(CELLS):
        meta = sc.MetadataCell(torch, "cuda", cell, np.random.default_rng(ci))
        fn = next(v for v in meta.variants if v.name == "specmeta Builder").fn
        times = []
        for g in range(args.graphs):
            side = one if args.one_stream else torch.cuda.Stream()
            dump = os.path.join(args.dump, f"{cell.mode}-{cell.bs}-{g}.dot") if args.dump else None
            graph = capture(fn, sc.INPUT_SETS, side, dump)
            sample = st.replay_sample(torch, graph, sc.INPUT_SETS)
            times.append((statistics.median(sample(0) for _ in range(args.replays)), side.stream_id))
            del graph
        print(f"{cell.label()}: " + "  ".join(f"{t:6.1f} (s{sid % 1000})" for t, sid in times), flush=True)
        meta = None
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main(sys.argv[1:])
