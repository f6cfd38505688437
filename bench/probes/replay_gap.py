"""Did the suite's in-graph time per call include the host's graph launch? replay_sample recorded its start
event, then launched the graph: if the GPU reaches the start event before the launch is submitted, it idles until
the launch lands, and that gap is counted in the replay's time (divided over its R calls). Here each small cell's
graph of R = 100 bound-Builder calls (the suite's cells, four rotating input sets) is timed both ways, in
alternating rounds: as the suite did, and with the GPU first held by a sleeping kernel (torch.cuda._sleep) so
that the launch is queued before the start event is reached (suite_timing.replay_sample since 0794b35; N10 ran
the same hold, 100,000 cycles, written out here before that).

    python3 bench/probes/replay_gap.py [--rounds 5] [--replays 30]
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
    # The eleven cells under 1 MB over 2.0 us in the suite's run N8 (bench/results/*-suitetiming), then others.
    ("target_verify", 4, 16, 4096), ("target_verify", 16, 4, 4096), ("target_verify", 1, 4, 131072),
    ("draft_extend", 16, 2, 4096), ("draft_extend", 16, 8, 4096), ("draft_extend_static", 16, 4, 4096),
    ("draft_extend_static", 64, 1, 4096), ("extend", 4, 16, 4096), ("extend", 16, 2, 4096),
    ("extend", 16, 8, 4096), ("extend", 4, 4, 32768),
    ("decode", 1, None, 4096), ("target_verify", 1, 4, 4096), ("draft_extend", 1, 1, 4096),
    ("decode", 64, None, 131072),
]
CALLS = 100


def plain_sample(graph):
    """replay_sample as the suite had it: the start event recorded on an idle GPU."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def one(_):
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) * 1e3 / CALLS

    return one


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--replays", type=int, default=30)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(torch.cuda.get_device_name())
    print(f"{'cell':44s} {'idle GPU':>14s} {'behind a sleep':>15s}  (us per call, median of rounds' medians)")
    empty = lambda _k: torch.cuda._sleep(0)  # noqa: E731  one tiny kernel per call
    cases = [("one tiny kernel (torch.cuda._sleep(0))", empty)]
    for mode, bs, n, width in CELLS:
        meta = sc.MetadataCell(torch, "cuda", sc.Cell("metadata", mode, bs, n, width), rng)
        fn = next(v for v in meta.variants if v.name == "specmeta Builder").fn
        cases.append((f"{mode} bs {bs} N {n} W {width}", fn, meta))
    for case in cases:
        label, fn = case[0], case[1]
        graph, why = st.capture_calls(torch, fn, CALLS, sc.INPUT_SETS, st.WARMUP_CALLS)
        assert graph is not None, why
        plain, behind = [], []
        for _ in range(args.rounds):
            for out, one in ((plain, plain_sample(graph)), (behind, st.replay_sample(torch, graph, CALLS))):
                out.append(statistics.median(one(0) for _ in range(args.replays)))
        print(f"{label:44s} {statistics.median(plain):14.3f} {statistics.median(behind):15.3f}", flush=True)
        del graph


if __name__ == "__main__":
    main(sys.argv[1:])
