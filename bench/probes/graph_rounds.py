"""Device time per call of the suite's bound Builder on a few large cells, eager and in graphs of R calls
over the four rotating input sets (and of one set alone), in interleaved rounds, to tell why some per-request
cells take longer per call in a graph of a few calls than eagerly (suite N1, H100: extend bs 256 N 16 W 131072
275.7 us in a graph of 4 calls, 239.5 us eager).

    python3 bench/probes/graph_rounds.py [--rounds 3] [--replays 10] [--first-replays 12]

Rows: "eager K" (suite_timing.eager_us, K back-to-back calls then one sync); "graph R" (R calls k % 4 in one
graph, each replay timed with CUDA events, as the suite does); "graph R, 10 replays" (ten replays between one
pair of events: no host sync between replays); "graph 4, breaks" (a one-cycle kernel between the calls, so no
call is the programmatic dependent of the one before); "set s" (a graph of one call on set s).
With --first-replays K: instead, each of the first K replays of three fresh graphs of 4 calls, and each of the first
K eager samples (4 calls each), in order: whether a new graph's first replays run slower.
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
    sc.Cell("metadata", "draft_extend", 256, 16, 131072),
    sc.Cell("metadata", "extend", 64, 8, 1048576),
    sc.Cell("metadata", "draft_extend", 1024, 1, 131072),
    sc.Cell("metadata", "decode", 256, None, 1048576),
]


def graph_time(graph, calls, replays, back_to_back):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    samples = []
    if back_to_back:
        for _ in range(3):
            start.record()
            for _ in range(replays):
                graph.replay()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end) * 1e3 / (calls * replays))
    else:
        one = st.replay_sample(torch, graph, calls)
        samples = [one(0) for _ in range(replays)]
    return statistics.median(samples)


def measure(fn, args):
    out = {}
    sets = sc.INPUT_SETS
    clock = st.Clock(torch, True)
    # A budget of 0 s gives K = sets (one call per set), 1e-4 s with a 1 us hint K = 16 (calls_per_sample).
    for k, budget_s in ((4, 0.0), (16, 1e-4)):
        out[f"eager K={k}"] = statistics.median(st.eager_us(clock, fn, sets, budget_s, 1.0)[0] for _ in range(args.replays))
    for r in (1, 2, 4, 8, 16):
        graph, why = st.capture_calls(torch, fn, r, sets, 1)
        assert graph is not None, why
        out[f"graph R={r}"] = graph_time(graph, r, args.replays, False)
        if r in (4, 16):
            out[f"graph R={r}, 10 replays"] = graph_time(graph, r, 10, True)
        del graph
    breaks = lambda k: (fn(k), torch.cuda._sleep(1))  # noqa: E731
    graph, why = st.capture_calls(torch, breaks, 4, sets, 1)
    out["graph R=4, breaks"] = graph_time(graph, 4, args.replays, False)
    del graph
    for s in range(sets):
        graph, why = st.capture_calls(torch, lambda _k, s=s: fn(s), 1, 1, 1)
        out[f"set {s}"] = graph_time(graph, 1, args.replays, False)
        del graph
    return out


def first_replays(fn, k):
    sets = sc.INPUT_SETS
    clock = st.Clock(torch, True)
    out = {"eager K=4": [st.eager_us(clock, fn, sets, 0.0, 1.0)[0] for _ in range(k)]}
    for g in range(3):
        graph, why = st.capture_calls(torch, fn, sets, sets, st.WARMUP_CALLS)
        assert graph is not None, why
        one = st.replay_sample(torch, graph, sets)
        out[f"graph {g}"] = [one(0) for _ in range(k)]
        del graph
    return out


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replays", type=int, default=10)
    parser.add_argument("--first-replays", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(torch.cuda.get_device_name())
    for cell in CELLS:
        meta = sc.MetadataCell(torch, "cuda", cell, rng)
        fn = next(v for v in meta.variants if v.name == "specmeta Builder").fn
        if args.first_replays:
            print(f"\n{cell.label()} (us per call, in order)")
            for key, times in first_replays(fn, args.first_replays).items():
                print(f"  {key:10s} " + " ".join(f"{t:6.1f}" for t in times))
            meta = None
            torch.cuda.empty_cache()
            continue
        rounds = [measure(fn, args) for _ in range(args.rounds)]
        print(f"\n{cell.label()} (us per call, median of each round)")
        for key in rounds[0]:
            print(f"  {key:24s} " + "  ".join(f"{r[key]:8.1f}" for r in rounds))
        meta = None
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main(sys.argv[1:])
