"""specmeta demo: the metadata of a synthetic speculative-decoding run, built by specmeta and by the seed's code.

A batch of requests alternates target_verify steps (every request verifies N
draft tokens) and draft_extend steps (every request extends the draft model by
the tokens it just accepted). Each step builds seqlens_expanded (SPEC section
3) with specmeta and with SGLang's original "before" code (one arange per
request, joined; seed/), checks that they agree bit for bit, and times both.

With torch and a CUDA GPU (and specmeta built with CUDA) it runs the CUDA
backend on torch tensors; otherwise the CPU backend on NumPy arrays.

  python examples/demo.py [--bs 64] [--n 4] [--steps 200] [--min-ctx 1024] [--max-ctx 32768] [--seed 0] [--cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import specmeta

P_ACCEPT = 0.7  # chance the target model accepts the next draft token, given it accepted the previous one
MIN_NEW, MAX_NEW = 16, 512  # tokens a request generates before it finishes and a new one takes its place


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bs", type=int, default=64, help="requests in the batch")
    p.add_argument("--n", type=int, default=4, help="draft tokens per request (N)")
    p.add_argument("--steps", type=int, default=200, help="forward passes, alternating target_verify and draft_extend")
    p.add_argument("--min-ctx", type=int, default=1024, help="shortest context of a new request")
    p.add_argument("--max-ctx", type=int, default=32768, help="longest context of a new request")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu", action="store_true", help="use the CPU backend even where a CUDA GPU is visible")
    return p.parse_args()


class Batch:
    """bs live requests: their context lengths and the tokens each still has to generate."""

    def __init__(self, args, rng):
        self.args, self.rng = args, rng
        self.seq = rng.integers(args.min_ctx, args.max_ctx, size=args.bs, endpoint=True)
        self.left = rng.integers(MIN_NEW, MAX_NEW, size=args.bs, endpoint=True)
        self.replaced = 0

    def draw_accepts(self):
        # Drafts are accepted in order until the first rejection; the target always adds one token of its
        # own, so 1..N tokens per request, geometric below N: P(k) = P_ACCEPT^(k-1) (1 - P_ACCEPT).
        return np.minimum(self.rng.geometric(1 - P_ACCEPT, size=self.args.bs), self.args.n).astype(np.int32)

    def grow(self, accepts):
        self.seq += accepts
        self.left -= accepts

    def replace_finished(self):
        done = self.left <= 0
        k = int(done.sum())
        self.seq[done] = self.rng.integers(self.args.min_ctx, self.args.max_ctx, size=k, endpoint=True)
        self.left[done] = self.rng.integers(MIN_NEW, MAX_NEW, size=k, endpoint=True)
        self.replaced += k


# --- backends: same methods, NumPy on the CPU, torch on CUDA -----------------------------------------------


class CpuBackend:
    label = "before (seed code, NumPy)"

    def __init__(self, bs, n):
        self.capacity = bs * n
        self.out = np.empty(self.capacity, np.int32)
        self.all = dict(
            seqlens_expanded=np.empty(self.capacity, np.int32),
            cu_seqlens_q=np.empty(bs + 1, np.int32),
            row_to_req=np.empty(self.capacity, np.int32),
            num_rows=np.empty(1, np.int32),
            status=np.empty(1, np.int32),
        )

    def upload(self, a, dtype):
        return np.ascontiguousarray(a, dtype=dtype)

    def before(self, seq, qo, kv_extra):
        # The seed's "before": lengths read into host lists (.tolist(), a sync on CUDA), kv = seq + kv_extra
        # on the host, then one arange per request and one concatenation.
        qo_list = [qo] * len(seq) if isinstance(qo, int) else qo.tolist()
        kv_list = [s + kv_extra for s in seq.tolist()]
        return self.join_aranges(kv_list, qo_list)

    def join_aranges(self, kv_list, qo_list):
        return np.concatenate([np.arange(k - q + 1, k + 1, dtype=np.int32) for k, q in zip(kv_list, qo_list)])

    def sync(self):
        pass

    def numpy(self, x):
        return x


class CudaBackend(CpuBackend):
    label = "before (seed code, torch)"

    def __init__(self, bs, n, torch):
        self.torch, self.capacity = torch, bs * n

        def buf(size):
            return torch.empty(size, dtype=torch.int32, device="cuda")

        self.out = buf(self.capacity)
        self.all = dict(
            seqlens_expanded=buf(self.capacity),
            cu_seqlens_q=buf(bs + 1),
            row_to_req=buf(self.capacity),
            num_rows=buf(1),
            status=buf(1),
        )

    def upload(self, a, dtype):
        return self.torch.from_numpy(np.ascontiguousarray(a, dtype=dtype)).to("cuda")

    def join_aranges(self, kv_list, qo_list):
        torch = self.torch  # one launch per request, then one for the cat
        return torch.cat([torch.arange(k - q + 1, k + 1, dtype=torch.int32, device="cuda") for k, q in zip(kv_list, qo_list)])

    def sync(self):
        self.torch.cuda.synchronize()

    def numpy(self, x):
        return x.cpu().numpy()


def pick_backend(args):
    """(backend, description): CUDA when torch sees a GPU and specmeta has its CUDA backend."""
    if args.cpu:
        return CpuBackend(args.bs, args.n), "CPU (--cpu given)"
    try:
        import torch
    except ImportError:
        return CpuBackend(args.bs, args.n), "CPU (no CUDA GPU visible)"
    if not torch.cuda.is_available():
        return CpuBackend(args.bs, args.n), "CPU (no CUDA GPU visible)"
    if not specmeta.cuda_available():
        return CpuBackend(args.bs, args.n), "CPU (specmeta was built without its CUDA backend)"
    return CudaBackend(args.bs, args.n, torch), f"CUDA ({torch.cuda.get_device_name()})"


# --- one step -------------------------------------------------------------------------------------------


def timed(backend, fn):
    t0 = time.perf_counter()
    result = fn()
    backend.sync()
    return result, (time.perf_counter() - t0) * 1e6


def run_step(backend, mode, seq_np, acc_np, n):
    """Builds the step's metadata three ways, checks them, returns {implementation: microseconds} and rows."""
    # kv_lens is the server's cache_seqlens, already on the device before metadata is built:
    # seq + N in target_verify, seq in draft_extend. accept_lens is a device array (draft_extend).
    kv_np = seq_np + n if mode == "target_verify" else seq_np
    qo_np = np.full_like(seq_np, n) if mode == "target_verify" else acc_np
    kv = backend.upload(kv_np, np.int32)
    qo = n if mode == "target_verify" else backend.upload(acc_np, np.int32)
    seq = backend.upload(seq_np, np.int64)  # the seed's code reads seq_lens (int64 in SGLang)
    max_qo = None if mode == "target_verify" else n

    costs = {}
    kv_extra = n if mode == "target_verify" else 0
    ref, costs[backend.label] = timed(backend, lambda: backend.before(seq, qo, kv_extra))
    _, costs["specmeta expand_seqlens"] = timed(backend, lambda: specmeta.expand_seqlens(kv, qo, out=backend.out))
    _, costs["specmeta expand (5 outputs)"] = timed(backend, lambda: specmeta.expand(kv, qo, max_qo=max_qo, **backend.all))
    check(backend, mode, kv_np, qo_np, backend.numpy(ref))
    return costs, int(qo_np.sum())


def check(backend, mode, kv_np, qo_np, before):
    """Bit-for-bit agreement of specmeta with the seed's code, and of expand's other outputs with their definition."""
    total = int(qo_np.sum())
    got = backend.numpy(backend.out)
    full = {k: backend.numpy(v) for k, v in backend.all.items()}
    problems = []
    if before.dtype != np.int32 or not np.array_equal(got[:total], before):
        problems.append("expand_seqlens differs from the seed's code")
    if np.any(got[total:] != 0):
        problems.append("expand_seqlens rows past the total are not 0")
    if not np.array_equal(full["seqlens_expanded"], got):
        problems.append("expand's seqlens_expanded differs from expand_seqlens")
    if not np.array_equal(full["cu_seqlens_q"], np.concatenate([[0], np.cumsum(qo_np)])):
        problems.append("cu_seqlens_q is not the prefix sum of qo")
    r2r = np.concatenate([np.repeat(np.arange(len(qo_np)), qo_np), np.full(len(got) - total, -1)])
    if not np.array_equal(full["row_to_req"], r2r):
        problems.append("row_to_req is wrong")
    if int(full["num_rows"][0]) != total or int(full["status"][0]) != 0:
        problems.append(f"num_rows={full['num_rows'][0]} (want {total}), status={full['status'][0]} (want 0)")
    if problems:
        raise AssertionError(f"{mode}: " + "; ".join(problems))


# --- the run ----------------------------------------------------------------------------------------------


def main():
    args = parse_args()
    if args.n < 1 or args.bs < 1 or args.steps < 1 or not 1 <= args.min_ctx <= args.max_ctx:
        raise SystemExit("need --n, --bs, --steps >= 1 and 1 <= --min-ctx <= --max-ctx")
    rng = np.random.default_rng(args.seed)
    backend, described = pick_backend(args)
    batch = Batch(args, rng)
    accepts = batch.draw_accepts()
    for _ in range(3):  # warm-up: first calls pay for imports, allocator and launch caches
        run_step(backend, "target_verify", batch.seq, accepts, args.n)
        run_step(backend, "draft_extend", batch.seq + accepts, accepts, args.n)  # kv_b >= qo_b, as in the run

    costs = {"target_verify": {}, "draft_extend": {}}
    rows = {"target_verify": 0, "draft_extend": 0}
    accepted = []
    t_start = time.perf_counter()
    for step in range(args.steps):
        if step % 2 == 0:
            mode = "target_verify"
            accepts = batch.draw_accepts()  # the verify pass decides how many drafts each request keeps
        else:
            mode = "draft_extend"
            batch.grow(accepts)  # the accepted tokens join the context; the draft model extends over them
            accepted.append(accepts)
        step_costs, step_rows = run_step(backend, mode, batch.seq, accepts, args.n)
        rows[mode] += step_rows
        for name, us in step_costs.items():
            costs[mode].setdefault(name, []).append(us)
        if mode == "draft_extend":
            batch.replace_finished()
    report(args, described, costs, rows, accepted, batch.replaced, time.perf_counter() - t_start, backend.label)


def report(args, described, costs, rows, accepted, replaced, seconds, before_label):
    steps = {m: len(next(iter(c.values()), [])) for m, c in costs.items()}
    print("specmeta demo: seqlens_expanded for speculative decoding, specmeta vs the seed's code")
    print(f"backend: {described}")
    print(f"workload: bs={args.bs}, N={args.n}, {args.steps} steps ({steps['target_verify']} target_verify, "
          f"{steps['draft_extend']} draft_extend), new contexts {args.min_ctx}..{args.max_ctx}, seed {args.seed}")
    if accepted:
        acc = np.concatenate(accepted)
        shares = ", ".join(f"{k}: {np.mean(acc == k):.0%}" for k in range(1, args.n + 1))
        print(f"accepted tokens per request per step: mean {acc.mean():.2f} ({shares}); "
              f"{replaced} finished requests replaced")
    print(f"rows built: {rows['target_verify']} target_verify + {rows['draft_extend']} draft_extend; "
          f"all {args.steps} steps bit-identical to the seed's code ({seconds:.2f} s)")
    print()
    sync_note = " (each includes torch.cuda.synchronize())" if described.startswith("CUDA") else ""
    print(f"per-step cost, microseconds{sync_note}")
    print(f"{'mode':14s} {'implementation':30s} {'mean':>9s} {'median':>9s}")
    merged = {}
    for mode, by_impl in costs.items():
        for name, values in by_impl.items():
            merged.setdefault(name, []).extend(values)
    for mode, by_impl in list(costs.items()) + [("all steps", merged)]:
        for name, values in by_impl.items():
            print(f"{mode:14s} {name:30s} {statistics.mean(values):9.1f} {statistics.median(values):9.1f}")
            mode = ""
    print()
    for mode, by_impl in list(costs.items()) + [("all steps", merged)]:
        if not by_impl:
            continue
        before, fast = by_impl[before_label], by_impl["specmeta expand_seqlens"]
        print(f"speedup of specmeta expand_seqlens over the seed's code, {mode}: "
              f"{statistics.mean(before) / statistics.mean(fast):.1f}x (mean), "
              f"{statistics.median(before) / statistics.median(fast):.1f}x (median)")


if __name__ == "__main__":
    main()
