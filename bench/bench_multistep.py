"""Multi-step draft metadata (SPEC section 5): one specmeta launch writing every draft step's
destination set, against SGLang's precompute-then-copy scheme, both inside a CUDA graph.

SGLang's multi-step draft backend keeps one sparse-attention backend per draft step, all in
decode mode on the same batch. With SGLANG_NSA_ENABLE_MTP_PRECOMPUTE_METADATA it computes the
metadata once (`_precompute_decode_mode`, torch path: cast, cumsum, gather of the page table at
the static width, clamp, cumsum, page-table transform) and copies it into each step's buffers
(`init_forward_metadata_replay_cuda_graph_from_precomputed`); without it, each step computes its
own. Both are re-implemented in tests/python/sglang_replay.py and measured here as:

  specmeta              one launch, `steps` destination sets, each row's live prefix of the page
                        tables (what consumers read)
  specmeta full width   the same, every column of the page tables (as many bytes as SGLang's copy)
  sglang precompute     precompute once + copies into each step
  sglang per step       precompute + copies, once per step

For each case R calls are captured in one CUDA graph, each reading its own input set (inputs
rotate among R sets, so one set's lines do not stay hot in cache); device time per call is the
graph's time (CUDA events) / R, median over many replays. Before timing, every variant's output
is checked against the others on the live parts.

  python3 bench/bench_multistep.py --out bench/results/<dir>

writes <dir>/multistep.md (Markdown table) and <dir>/multistep.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

import specmeta

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
from sglang_replay import compare_live, sglang_copy_precomputed, sglang_precompute_decode  # noqa: E402
from source_commit import source_commit  # noqa: E402

INPUT_SETS = 8  # calls per graph, one per input set
OUTPUTS = ("cache_seqlens", "cu_seqlens_k", "sparse_seqlens", "sparse_cu_seqlens_k", "page_table_1",
           "real_page_table")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="directory for multistep.md and multistep.json")
    parser.add_argument("--bs", default="1,16,64,256", help="batch sizes, comma-separated")
    parser.add_argument("--steps", default="3,5,8", help="speculative_num_steps values, comma-separated (<= 8)")
    parser.add_argument("--width", type=int, default=8192, help="page-table width W (SGLang: max_context_len)")
    parser.add_argument("--page-size", type=int, default=64)
    parser.add_argument("--topk", type=int, default=2048)
    parser.add_argument("--replays", type=int, default=200, help="timed graph replays per variant")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def ints(text: str) -> list:
    return [int(v) for v in text.split(",") if v]


class Case:
    """Input sets and one destination set per draft step, in SGLang's shapes."""

    def __init__(self, rng, bs: int, steps: int, width: int, page_size: int, topk: int):
        self.bs, self.steps, self.width, self.page_size, self.topk = bs, steps, width, page_size, topk
        pool = 2 * bs + 1
        dev = dict(device="cuda")
        self.req_to_token = torch.randint(0, 1 << 30, (pool, width), dtype=torch.int32, **dev)
        self.inputs = []
        for _ in range(INPUT_SETS):
            seq = torch.from_numpy(rng.integers(width // 4, width + 1, size=bs)).to(**dev)
            rpi = torch.from_numpy(rng.permutation(pool)[:bs].astype(np.int64)).to(**dev)
            self.inputs.append((seq, rpi))
        self.sets = [self._destination() for _ in range(steps)]

    def _destination(self) -> specmeta.Metadata:
        return specmeta.Metadata.empty(bs=self.bs, capacity=self.bs, width=self.width, page_size=self.page_size,
                                       outputs=OUTPUTS, like=self.req_to_token)

    def zero(self) -> None:
        for meta in self.sets:
            for name in OUTPUTS:
                getattr(meta, name).zero_()

    def specmeta_calls(self, full_width: bool) -> list:
        builders = [specmeta.Builder("decode", out=self.sets, seq_lens=seq, req_pool_indices=rpi,
                                     req_to_token=self.req_to_token, topk=self.topk, page_size=self.page_size,
                                     full_width=full_width)
                    for seq, rpi in self.inputs]
        return builders

    def sglang_calls(self, per_step: bool) -> list:
        dests = [{name: getattr(meta, name) for name in OUTPUTS} for meta in self.sets]

        def call(seq, rpi):
            def run():
                pre = None
                for dest in dests:
                    if pre is None or per_step:
                        pre = sglang_precompute_decode(torch, seq, rpi, self.req_to_token, width=self.width,
                                                       page_size=self.page_size, topk=self.topk,
                                                       for_comparison=False)
                    sglang_copy_precomputed(pre, dest, self.page_size)
            return run

        return [call(seq, rpi) for seq, rpi in self.inputs]

    def check(self, calls: list, label: str) -> None:
        """Input set 0 through `calls[0]`: every step's live parts equal SGLang's computation."""
        self.zero()
        calls[0]()
        torch.cuda.synchronize()
        seq, rpi = self.inputs[0]
        want = sglang_precompute_decode(torch, seq, rpi, self.req_to_token, width=self.width,
                                        page_size=self.page_size, topk=self.topk)
        for step, meta in enumerate(self.sets):
            got = {name: getattr(meta, name).cpu().numpy() for name in OUTPUTS}
            problems = compare_live(got, want, self.page_size, f"{label} bs={self.bs} step {step}")
            if problems:
                raise AssertionError("\n".join(problems))


def graph_us(calls: list, replays: int) -> float:
    """Device time per call: all calls captured in one graph, median of `replays` replays / len(calls)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up off the capture stream, as torch.cuda.graph asks
        for call in calls:
            call()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for call in calls:
            call()
    graph.replay()  # the first replay uploads the graph
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    samples = []
    for _ in range(replays):
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) * 1000.0 / len(calls))
    del graph
    return statistics.median(samples)


def main() -> None:
    args = parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_multistep: needs a CUDA GPU")
    rng = np.random.default_rng(args.seed)
    variants = (("specmeta", lambda c: c.specmeta_calls(False)),
                ("specmeta full width", lambda c: c.specmeta_calls(True)),
                ("sglang precompute", lambda c: c.sglang_calls(False)),
                ("sglang per step", lambda c: c.sglang_calls(True)))
    rows = []
    for steps in ints(args.steps):
        for bs in ints(args.bs):
            case = Case(rng, bs, steps, args.width, args.page_size, args.topk)
            row = dict(bs=bs, steps=steps, width=args.width, page_size=args.page_size)
            for label, make in variants:
                calls = make(case)
                case.check(calls, label)
                row[label] = graph_us(calls, args.replays)
            row["speedup vs precompute"] = row["sglang precompute"] / row["specmeta"]
            rows.append(row)
            print(json.dumps(row), flush=True)
            del case
            torch.cuda.empty_cache()

    meta = dict(device=torch.cuda.get_device_name(), torch=torch.__version__, commit=source_commit(),
                date=datetime.date.today().isoformat(), input_sets=INPUT_SETS, replays=args.replays,
                topk=args.topk, unit="us of device time per call (median), inside a CUDA graph")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "multistep.json"), "w") as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=1)
    lines = [
        f"# Multi-step draft metadata in a CUDA graph ({meta['device']}, torch {meta['torch']}, "
        f"commit {meta['commit']}, {meta['date']})",
        "",
        f"Decode metadata of every draft step (cache_seqlens, cu_seqlens_k, sparse lengths and prefix sums, "
        f"page_table_1, real_page_table), W = {args.width}, page size {args.page_size}, topk {args.topk}; "
        f"device time per call, median of {args.replays} replays of a graph of {INPUT_SETS} calls "
        f"(rotating input sets).",
        "",
        "| steps | bs | specmeta (one launch) | specmeta full width | SGLang precompute + copy | "
        "SGLang per step | precompute / specmeta |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(f"| {r['steps']} | {r['bs']} | {r['specmeta']:.2f} us | {r['specmeta full width']:.2f} us | "
                     f"{r['sglang precompute']:.2f} us | {r['sglang per step']:.2f} us | "
                     f"{r['speedup vs precompute']:.1f}x |")
    with open(os.path.join(args.out, "multistep.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
