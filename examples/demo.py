"""specmeta demo: a speculative-decoding run's seqlens_expanded, built every step by every available implementation.

A batch of requests alternates target_verify steps (every request verifies N
draft tokens) and draft_extend steps (the draft model extends over the tokens
each request just accepted). Requests finish after a random number of tokens
and leave; new ones join, so the batch size moves. Each step builds
seqlens_expanded (SPEC section 3) with every implementation available here,
checks that all agree bit for bit with an independent NumPy computation, and
times each one (call + sync).

  GPU (torch sees a CUDA GPU and specmeta has its CUDA backend): specmeta
    (expand_seqlens, and expand with 5 outputs), the seed's "before" and
    "after" in PyTorch, sync-free PyTorch, and a one-launch Triton kernel where
    Triton is installed (bench/ has them all).
  otherwise: specmeta's CPU backend against the seed's "before" in NumPy.

  python examples/demo.py [--bs 64] [--n 4] [--steps 300] [--min-ctx 1024] [--max-ctx 32768] [--seed 0] [--cpu]
  python examples/demo.py --trace FILE          replay your own batches (JSON lines, see below)
  python examples/demo.py --write-trace FILE    also write the synthetic batches in that format

Trace format (JSON lines, one forward pass per line, replayed in order):
  {"mode": "target_verify", "n": 4, "seq_lens": [1200, 37, 5000]}
  {"mode": "draft_extend", "n": 4, "seq_lens": [1203, 41, 5001], "accept_lens": [3, 4, 1]}
  mode         "target_verify" or "draft_extend"
  n            N, draft tokens per request (optional: --n)
  seq_lens     the server's seq_lens, one per request (int >= 0). target_verify: kv_b = seq_b + N and every
               request has N rows; draft_extend: kv_b = seq_b (accepted tokens already included)
  accept_lens  draft_extend only: rows per request, 0 <= accept_b <= min(N, seq_b)
Blank lines and lines starting with # are skipped. The batch size is the length of seq_lens (<= 65536).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from demo_backends import pick_backend, run_step  # noqa: E402
from demo_workload import MODES, read_trace, synthetic, truth, write_trace  # noqa: E402

PROGRESS_AFTER_STEPS = 50  # shorter runs print no progress bar
PROGRESS_WIDTH = 30


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__[__doc__.index("Trace format"):])
    p.add_argument("--bs", type=int, default=64, help="most requests in the batch at once")
    p.add_argument("--n", type=int, default=4, help="draft tokens per request (N)")
    p.add_argument("--steps", type=int, default=300, help="forward passes, alternating target_verify and draft_extend")
    p.add_argument("--min-ctx", type=int, default=1024, help="shortest prompt of a new request")
    p.add_argument("--max-ctx", type=int, default=32768, help="longest prompt of a new request")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu", action="store_true", help="use the CPU backend even where a CUDA GPU is visible")
    p.add_argument("--trace", help="replay the batches of this JSON-lines file instead of the synthetic workload")
    p.add_argument("--write-trace", help="write the batches run (synthetic or replayed) to this JSON-lines file")
    args = p.parse_args(argv)
    if args.n < 1 or args.bs < 1 or args.steps < 1 or not 1 <= args.min_ctx <= args.max_ctx:
        p.error("need --n, --bs, --steps >= 1 and 1 <= --min-ctx <= --max-ctx")
    return args


# --- the run --------------------------------------------------------------------------------------------


class Progress:
    """A text progress bar on stderr for long runs: redrawn in place on a terminal, a line per tenth otherwise."""

    def __init__(self, total):
        self.total, self.shown = total, -1
        self.enabled = total >= PROGRESS_AFTER_STEPS
        self.tty = sys.stderr.isatty()
        self.start = time.perf_counter()

    def update(self, done):
        if not self.enabled:
            return
        tenth = done * 10 // self.total
        if not self.tty and (tenth == self.shown or done < self.total and tenth == 0):
            return
        self.shown = tenth
        filled = done * PROGRESS_WIDTH // self.total
        bar = "#" * filled + "." * (PROGRESS_WIDTH - filled)
        line = f"[{bar}] {done}/{self.total} steps, {time.perf_counter() - self.start:.1f} s"
        sys.stderr.write(("\r" + line if self.tty else line + "\n") + ("\n" if self.tty and done == self.total else ""))
        sys.stderr.flush()


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    batches, workload = (read_trace(args.trace, args.n), None) if args.trace else synthetic(args, rng)
    if args.write_trace:
        write_trace(args.write_trace, batches)
    max_rows = max(len(b["seq_lens"]) * b["n"] for b in batches)
    backend, described = pick_backend(args, max_rows)
    for batch in batches[:2]:  # warm-up: first calls pay for imports, allocator and launch caches (Triton compiles)
        run_step(backend, batch)
    costs = {m: {} for m in MODES}
    rows = {m: 0 for m in MODES}
    accepted = []
    progress = Progress(len(batches))
    t_start = time.perf_counter()
    for done, batch in enumerate(batches, 1):
        for name, us in run_step(backend, batch).items():
            costs[batch["mode"]].setdefault(name, []).append(us)
        rows[batch["mode"]] += int(truth(batch)[1].sum())
        if batch["mode"] == "draft_extend":
            accepted.append(batch["accept_lens"])
        progress.update(done)
    report(args, described, batches, workload, costs, rows, accepted, time.perf_counter() - t_start)
    return 0


def report(args, described, batches, workload, costs, rows, accepted, seconds):
    steps = {m: sum(b["mode"] == m for b in batches) for m in MODES}
    sizes = [len(b["seq_lens"]) for b in batches]
    print("specmeta demo: seqlens_expanded for speculative decoding, every implementation, every step")
    print(f"backend: {described}")
    if args.trace:
        print(f"workload: trace {args.trace}: {len(batches)} batches ({steps['target_verify']} target_verify, "
              f"{steps['draft_extend']} draft_extend), bs {min(sizes)}..{max(sizes)}")
    else:
        print(f"workload: synthetic, up to bs={args.bs} (live {min(sizes)}..{max(sizes)}, mean {statistics.mean(sizes):.1f}), "
              f"N={args.n}, {args.steps} steps ({steps['target_verify']} target_verify, {steps['draft_extend']} "
              f"draft_extend), prompts {args.min_ctx}..{args.max_ctx}, seed {args.seed}; {workload.finished} requests "
              f"finished and left, {workload.joined - args.bs} joined")
    if accepted:
        acc = np.concatenate(accepted)
        n = max(b["n"] for b in batches)
        shares = ", ".join(f"{k}: {np.mean(acc == k):.0%}" for k in range(0, n + 1) if np.any(acc == k))
        print(f"accepted tokens per request per step: mean {acc.mean():.2f} ({shares})")
    print(f"rows built: {rows['target_verify']} target_verify + {rows['draft_extend']} draft_extend; every "
          f"implementation bit-identical to the reference in all {len(batches)} steps ({seconds:.2f} s)")
    print()
    sync_note = " (call + torch.cuda.synchronize())" if described.startswith("CUDA") else " (one call)"
    print(f"per-step cost, microseconds{sync_note}")
    print(f"{'mode':14s} {'implementation':30s} {'mean':>9s} {'median':>9s} {'x specmeta':>11s}")
    merged = {}
    for by_impl in costs.values():
        for name, values in by_impl.items():
            merged.setdefault(name, []).extend(values)
    fast = "specmeta expand_seqlens"
    for mode, by_impl in list(costs.items()) + [("all steps", merged)]:
        label = mode
        for name, values in by_impl.items():
            ratio = statistics.median(values) / statistics.median(by_impl[fast]) if fast in by_impl else float("nan")
            print(f"{label:14s} {name:30s} {statistics.mean(values):9.1f} {statistics.median(values):9.1f} {ratio:10.1f}x")
            label = ""
    print()
    print("x specmeta: median over specmeta expand_seqlens' median in the same mode.")


if __name__ == "__main__":
    sys.exit(main())
