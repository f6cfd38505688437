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
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import specmeta

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

MEAN_ACCEPT_P = 0.7  # mean chance the target model accepts the next draft token, given it accepted the previous
ACCEPT_P_SPREAD = 10.0  # Beta(a, b) with a + b = this: how much requests differ in how predictable they are
MIN_NEW, MAX_NEW = 16, 256  # tokens a request generates before it finishes
JOIN_P = 0.5  # chance that a free slot takes a waiting request at each step
MAX_TRACE_BS = 65536
MODES = ("target_verify", "draft_extend")
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


# --- the workload: synthetic, or a trace ----------------------------------------------------------------


class Batch:
    """Up to --bs live requests: context lengths, tokens still to generate, how predictable each one is."""

    def __init__(self, args, rng):
        self.args, self.rng = args, rng
        self.seq = np.zeros(0, np.int64)
        self.left = np.zeros(0, np.int64)
        self.accept_p = np.zeros(0)
        self.finished = self.joined = 0
        self.join(args.bs)

    def join(self, k):
        a = self.args
        b = MEAN_ACCEPT_P * ACCEPT_P_SPREAD
        self.seq = np.concatenate([self.seq, self.rng.integers(a.min_ctx, a.max_ctx, size=k, endpoint=True)])
        self.left = np.concatenate([self.left, self.rng.integers(MIN_NEW, MAX_NEW, size=k, endpoint=True)])
        self.accept_p = np.concatenate([self.accept_p, self.rng.beta(b, ACCEPT_P_SPREAD - b, size=k)])
        self.joined += k

    def draw_accepts(self):
        # Drafts are accepted in order until the first rejection, and the target adds one token of its own:
        # 1..N tokens, P(k) = p^(k-1) (1 - p) below N, with p the request's own acceptance rate.
        p = np.clip(self.accept_p, 1e-3, 1 - 1e-3)
        return np.minimum(self.rng.geometric(1 - p), self.args.n).astype(np.int32)

    def grow(self, accepts):
        self.seq = self.seq + accepts
        self.left = self.left - accepts

    def turnover(self):
        """Finished requests leave; each free slot takes a waiting request with chance JOIN_P (never empty)."""
        keep = self.left > 0
        self.finished += int((~keep).sum())
        self.seq, self.left, self.accept_p = self.seq[keep], self.left[keep], self.accept_p[keep]
        free = self.args.bs - len(self.seq)
        k = int(self.rng.binomial(free, JOIN_P)) if free else 0
        self.join(max(k, 1 if len(self.seq) == 0 else 0))


def synthetic(args, rng):
    """The default workload: (batches as dicts with mode, n, seq_lens, accept_lens in draft_extend; the Batch)."""
    batch = Batch(args, rng)
    batches, accepts = [], None
    for step in range(args.steps):
        if step % 2 == 0:
            accepts = batch.draw_accepts()  # the verify pass decides how many drafts each request keeps
            batches.append(dict(mode="target_verify", n=args.n, seq_lens=batch.seq.copy()))
        else:
            batch.grow(accepts)  # the accepted tokens join the context; the draft model extends over them
            batches.append(dict(mode="draft_extend", n=args.n, seq_lens=batch.seq.copy(), accept_lens=accepts))
            batch.turnover()
    return batches, batch


def read_trace(path, default_n):
    """The batches of a JSON-lines trace, validated; errors name the line and the field."""
    batches = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            where = f"{path}:{number}"
            try:
                item = json.loads(text)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{where}: expected one JSON object per line, got invalid JSON ({e.msg})")
            batches.append(check_batch(item, where, default_n))
    if not batches:
        raise SystemExit(f"{path}: expected at least one batch, got none")
    return batches


def _int_list(item, key, where, lo):
    values = item.get(key)
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise SystemExit(f"{where}: {key}: expected a list of integers, got {json.dumps(values)[:80]}")
    if any(v < lo for v in values):
        raise SystemExit(f"{where}: {key}: expected every value >= {lo}, got {min(values)}")
    return np.array(values, dtype=np.int64)


def check_batch(item, where, default_n):
    if not isinstance(item, dict):
        raise SystemExit(f"{where}: expected a JSON object, got {type(item).__name__}")
    mode = item.get("mode")
    if mode not in MODES:
        raise SystemExit(f"{where}: mode: expected one of {', '.join(MODES)}, got {mode!r}")
    n = item.get("n", default_n)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise SystemExit(f"{where}: n: expected an integer >= 1, got {n!r}")
    seq = _int_list(item, "seq_lens", where, 0)
    if not 1 <= len(seq) <= MAX_TRACE_BS:
        raise SystemExit(f"{where}: seq_lens: expected 1 to {MAX_TRACE_BS} requests, got {len(seq)}")
    if int(seq.max()) + n > np.iinfo(np.int32).max:
        raise SystemExit(f"{where}: seq_lens: expected values + n to fit int32, got {int(seq.max())} with n={n}")
    batch = dict(mode=mode, n=n, seq_lens=seq)
    if mode == "target_verify":
        if "accept_lens" in item:
            raise SystemExit(f"{where}: accept_lens: expected none for target_verify (every request has n rows)")
        return batch
    acc = _int_list(item, "accept_lens", where, 0)
    if len(acc) != len(seq):
        raise SystemExit(f"{where}: accept_lens: expected {len(seq)} values (one per seq_lens entry), got {len(acc)}")
    bad = np.flatnonzero(acc > np.minimum(seq, n))
    if len(bad):
        b = int(bad[0])
        raise SystemExit(f"{where}: accept_lens[{b}]: expected at most min(n, seq_lens[{b}]) = "
                         f"{min(n, int(seq[b]))}, got {int(acc[b])}")
    batch["accept_lens"] = acc.astype(np.int32)
    return batch


def write_trace(path, batches):
    with open(path, "w") as f:
        for b in batches:
            item = dict(mode=b["mode"], n=b["n"], seq_lens=[int(v) for v in b["seq_lens"]])
            if b["mode"] == "draft_extend":
                item["accept_lens"] = [int(v) for v in b["accept_lens"]]
            f.write(json.dumps(item) + "\n")


# --- the truth: an independent NumPy computation --------------------------------------------------------


def truth(batch):
    """(seqlens_expanded over the live rows, qo per request, kv per request) from SPEC section 3."""
    n, seq = batch["n"], batch["seq_lens"].astype(np.int64)
    if batch["mode"] == "target_verify":
        qo, kv = np.full_like(seq, n), seq + n
    else:
        qo, kv = batch["accept_lens"].astype(np.int64), seq
    start = np.repeat(kv - qo + 1, qo)
    j = np.arange(int(qo.sum())) - np.repeat(np.cumsum(qo) - qo, qo)
    return (start + j).astype(np.int32), qo, kv


# --- implementations ------------------------------------------------------------------------------------


class Backend:
    """Arrays, sync and the implementations of one device. An implementation is fn(step inputs) -> array
    (the live rows, or the whole capacity where `fixed`)."""

    def __init__(self):
        self.impls = {}  # name -> (fn, fixed)

    def add(self, name, fn, fixed):
        self.impls[name] = (fn, fixed)


class CpuBackend(Backend):
    def __init__(self, max_rows):
        super().__init__()
        self.out = np.empty(max_rows, np.int32)
        self.all = dict(seqlens_expanded=np.empty(max_rows, np.int32), row_to_req=np.empty(max_rows, np.int32),
                        cu_seqlens_q=np.empty(MAX_TRACE_BS + 1, np.int32), num_rows=np.empty(1, np.int32),
                        status=np.empty(1, np.int32))
        self.add("seed before (NumPy loop)", self.before, False)
        self.add("specmeta expand_seqlens", self.spec_seqlens, True)
        self.add("specmeta expand (5 outputs)", self.spec_all, True)

    def inputs(self, batch):
        qo = batch["n"] if batch["mode"] == "target_verify" else batch["accept_lens"]
        kv = batch["seq_lens"] + (batch["n"] if batch["mode"] == "target_verify" else 0)
        bs = len(kv)
        return dict(batch=batch, kv=kv.astype(np.int32), qo=qo, cap=bs * batch["n"], bs=bs)

    @staticmethod
    def before(x):
        # The seed's "before": host lists, one arange per request, one concatenation.
        b = x["batch"]
        qo_list = [b["n"]] * x["bs"] if isinstance(x["qo"], int) else x["qo"].tolist()
        kv_list = x["kv"].tolist()
        return np.concatenate([np.arange(k - q + 1, k + 1, dtype=np.int32) for k, q in zip(kv_list, qo_list)])

    def spec_seqlens(self, x):
        return specmeta.expand_seqlens(x["kv"], x["qo"], out=self.out[: x["cap"]])

    def spec_all(self, x):
        cap, bs = x["cap"], x["bs"]
        outs = dict(seqlens_expanded=self.all["seqlens_expanded"][:cap], row_to_req=self.all["row_to_req"][:cap],
                    cu_seqlens_q=self.all["cu_seqlens_q"][: bs + 1], num_rows=self.all["num_rows"],
                    status=self.all["status"])
        max_qo = None if isinstance(x["qo"], int) else x["batch"]["n"]
        specmeta.expand(x["kv"], x["qo"], max_qo=max_qo, **outs)
        x["all"] = outs
        return outs["seqlens_expanded"]

    def sync(self):
        pass

    def numpy(self, a):
        return np.asarray(a)


class TorchBackend(CpuBackend):
    """The PyTorch baselines and specmeta on torch tensors of `device` (CUDA in the demo; CPU in its tests)."""

    def __init__(self, max_rows, torch, triton_ok, device="cuda"):
        Backend.__init__(self)
        import baselines as bl
        import syncfree_torch
        import triton_expand

        self.torch, self.device = torch, device

        def buf(size):
            return torch.empty(size, dtype=torch.int32, device=device)

        self.out, self.free_out, self.triton_out = buf(max_rows), buf(max_rows), buf(max_rows)
        self.all = dict(seqlens_expanded=buf(max_rows), row_to_req=buf(max_rows), cu_seqlens_q=buf(MAX_TRACE_BS + 1),
                        num_rows=buf(1), status=buf(1))
        self.rows = torch.arange(max_rows, dtype=torch.int64, device=device)
        self.offsets = {}

        def tv(x):
            return x["batch"]["mode"] == "target_verify"

        def before(x):
            return bl.before_target_verify(x["seq"], x["n"]) if tv(x) else bl.before_draft_extend(x["seq"], x["acc"])

        def after(x):
            if tv(x):
                return bl.after_target_verify(x["seq"], x["n"], x["kv"])
            return bl.after_draft_extend(x["seq"], x["acc"], x["seq32"])

        def syncfree(x):
            out = self.free_out[: x["cap"]]
            if tv(x):
                offsets = self.offsets.get(x["n"])
                if offsets is None:
                    offsets = self.offsets[x["n"]] = syncfree_torch.target_verify_offsets(torch, x["n"], device)
                return syncfree_torch.syncfree_target_verify(torch, x["kv"], offsets, out)
            return syncfree_torch.syncfree_draft_extend(torch, x["seq"], x["acc"], self.rows[: x["cap"]], out)

        def triton(x):
            out = self.triton_out[: x["cap"]]
            if tv(x):
                return triton_expand.triton_target_verify(x["kv"], x["n"], out)
            return triton_expand.triton_draft_extend(x["seq"], x["acc"], x["n"], out)

        self.add("seed before (torch)", before, False)
        self.add("seed after (torch)", after, False)
        self.add("sync-free torch", syncfree, True)
        if triton_ok:
            self.add("Triton (one launch)", triton, True)
        self.add("specmeta expand_seqlens", self.spec_seqlens, True)
        self.add("specmeta expand (5 outputs)", self.spec_all, True)

    def inputs(self, batch):
        torch = self.torch
        x = CpuBackend.inputs(self, batch)
        x["n"] = batch["n"]
        x["seq"] = torch.from_numpy(batch["seq_lens"].astype(np.int64)).to(self.device)  # SGLang's seq_lens: int64
        x["kv"] = torch.from_numpy(x["kv"]).to(self.device)  # SGLang's cache_seqlens: int32, already on the device
        if batch["mode"] == "draft_extend":
            x["acc"] = torch.from_numpy(batch["accept_lens"]).to(self.device)
            x["seq32"] = x["kv"]
            x["qo"] = x["acc"]
        return x

    def sync(self):
        if self.device != "cpu":
            self.torch.cuda.synchronize()

    def numpy(self, a):
        return a.cpu().numpy()


def pick_backend(args, max_rows):
    """(backend, description): CUDA when torch sees a GPU and specmeta has its CUDA backend."""
    why = "--cpu given"
    if not args.cpu:
        try:
            import torch
        except ImportError:
            torch, why = None, "torch is not installed"
        if torch is not None and not torch.cuda.is_available():
            why = "no CUDA GPU visible"
        elif torch is not None and not specmeta.cuda_available():
            why = "specmeta was built without its CUDA backend"
        elif torch is not None:
            import triton_expand

            triton_ok, triton_why = triton_expand.available()
            note = "" if triton_ok else f"; no Triton variant: {triton_why}"
            return TorchBackend(max_rows, torch, triton_ok), f"CUDA ({torch.cuda.get_device_name()}){note}"
    return CpuBackend(max_rows), f"CPU: specmeta's CPU backend against the seed's code in NumPy ({why})"


# --- one step -------------------------------------------------------------------------------------------


def run_step(backend, batch):
    """Every implementation once (call + sync, timed), each checked against the truth: {name: us}."""
    want, qo, _ = truth(batch)
    x = backend.inputs(batch)
    costs = {}
    for name, (fn, fixed) in backend.impls.items():
        t0 = time.perf_counter()
        got = fn(x)
        backend.sync()
        costs[name] = (time.perf_counter() - t0) * 1e6
        check(name, backend.numpy(got), fixed, want, x["cap"], batch)
    if "all" in x:
        check_all(backend, x["all"], qo, want, x["cap"], batch)
    return costs


def check(name, got, fixed, want, capacity, batch):
    total = len(want)
    if fixed:
        if len(got) != capacity or np.any(got[total:] != 0):
            raise AssertionError(f"{batch['mode']} bs={len(batch['seq_lens'])}: {name}: rows past the total are not 0")
        got = got[:total]
    if got.dtype != np.int32 or not np.array_equal(got, want):
        raise AssertionError(f"{batch['mode']} bs={len(batch['seq_lens'])}: {name} differs from the reference")


def check_all(backend, outs, qo, want, capacity, batch):
    """expand's other outputs against their definitions."""
    total = len(want)
    got = {k: backend.numpy(v) for k, v in outs.items()}
    r2r = np.concatenate([np.repeat(np.arange(len(qo)), qo), np.full(capacity - total, -1)])
    ok = (np.array_equal(got["cu_seqlens_q"], np.concatenate([[0], np.cumsum(qo)]))
          and np.array_equal(got["row_to_req"], r2r)
          and int(got["num_rows"][0]) == total and int(got["status"][0]) == 0)
    if not ok:
        raise AssertionError(f"{batch['mode']} bs={len(qo)}: expand's cu_seqlens_q/row_to_req/num_rows/status are wrong")


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
