"""Host cost of an eager build_metadata call that repeats its arrays (python/specmeta/_repeats.py),
against the same call down the full path and the bound Builder: the suite's cells, variants and
eager timing (suite_timing.eager_us: K back-to-back calls over the four rotating input sets, then
one sync), every variant in one process, in interleaved rounds; median over the rounds.

    python3 bench/probes/repeat_path.py [--rounds 7] [--budget 0.1]

"keywords from a dict" is the suite's build_metadata variant before it called by keyword. "full
path" is build_metadata with the repeat lookup switched off (its launch function returning
"no hit, no key"), which is the path every call took before repeats existed.
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
from specmeta import _metadata  # noqa: E402

CELLS = [
    sc.Cell("metadata", "decode", 4, None, 32768),
    sc.Cell("metadata", "target_verify", 4, 4, 32768),
    sc.Cell("metadata", "draft_extend", 4, 4, 4096),
    sc.Cell("metadata", "draft_extend_static", 1, 4, 4096),
    sc.Cell("metadata", "extend", 16, 4, 4096),
]


class FullPath:
    """build_metadata with the repeat lookup off, while in the `with` block."""

    def __enter__(self):
        self.launch = _metadata._repeats.launch
        _metadata._repeats.launch = lambda *args: (False, None)

    def __exit__(self, *exc):
        _metadata._repeats.launch = self.launch


def dict_built_call(meta):
    """The suite's build_metadata variant before it called by keyword: a dict of keywords built and
    unpacked per call (the harness's cost, not the library's)."""
    import specmeta

    mode, s = meta.cell.mode, meta.sets
    return lambda i: specmeta.build_metadata(mode, s[i]["seq"], out=meta.spec, **meta.kwargs(i))


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.1, help="seconds per measurement")
    args = parser.parse_args(argv)
    clock = st.Clock(torch, True)
    rng = np.random.default_rng()
    print(f"| cell ({torch.cuda.get_device_name()}) | Builder us | build_metadata repeat us | "
          f"repeat, keywords from a dict built per call us | build_metadata full path us | full / repeat | outputs |")
    print("|---|---|---|---|---|---|---|")
    for cell in CELLS:
        meta = sc.MetadataCell(torch, "cuda", cell, rng)
        variants = {v.name: v for v in meta.variants}
        builder, build = variants["specmeta Builder"], variants["specmeta build_metadata"]
        problems = meta.check(build)  # the repeats' first calls: exact against the definitions
        build.fn(0)
        problems += meta.check(build)  # every set's entry made: now repeats
        dict_built = dict_built_call(meta)
        times = {"builder": [], "repeat": [], "dict": [], "full": []}
        for _ in range(args.rounds):
            times["builder"].append(st.eager_us(clock, builder.fn, sc.INPUT_SETS, args.budget, 5.0)[0])
            times["repeat"].append(st.eager_us(clock, build.fn, sc.INPUT_SETS, args.budget, 5.0)[0])
            times["dict"].append(st.eager_us(clock, dict_built, sc.INPUT_SETS, args.budget, 5.0)[0])
            with FullPath():
                times["full"].append(st.eager_us(clock, build.fn, sc.INPUT_SETS, args.budget, 5.0)[0])
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"| {cell.label()} | {med['builder']:.2f} | {med['repeat']:.2f} | {med['dict']:.2f} | {med['full']:.2f} | "
              f"{med['full'] / med['repeat']:.2f} | {'exact' if not problems else '; '.join(problems)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
