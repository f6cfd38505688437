"""SPEC section 7, extended: the seed's seqlens_expanded code against specmeta on one CUDA GPU.

For each mode (target_verify, draft_extend), batch size and variant it measures
  call+sync  median wall time of one call followed by torch.cuda.synchronize()
  eager      wall time of K back-to-back calls (then one sync) divided by K;
             "syncs" for variants that wait for the GPU inside every call
  in-graph   device time per call of R calls captured in one CUDA graph
             (CUDA events around replays); "n/a" where capture is impossible
plus an empty CUDA kernel as the floor of each column.

  python bench/bench_seed.py --out bench/results/<dir>

kv_lens = seq_lens + N (SGLang's cache_seqlens) is built once per input set,
outside the timing, for every variant that takes it: SGLang has it already.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import statistics
import time
import warnings

import numpy as np

import baselines as bl
from suite_timing import capture_calls, replay_sample

INPUT_SETS = 8  # rotated so one set's lines do not stay hot in cache
EAGER_K = 200
GRAPH_R = 100
GRAPH_WARMUP_CALLS = 3  # before capture, off the capture stream
CELL_BUDGET_S = 0.4  # per measurement of one cell; slow variants get fewer iterations
MIN_SAMPLES = 5
# What the seed's code does per call (.tolist() / .item()): these never get an eager or graph number, even
# where torch's sync detector (a prototype that misses some syncs) would not flag them.
DECLARED_SYNCING = {("target_verify", "before"), ("draft_extend", "before"), ("draft_extend", "after")}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bs", default="1,16,64,256,1024", help="comma-separated batch sizes")
    p.add_argument("--n", type=int, default=4, help="draft tokens per request (N)")
    p.add_argument("--iters", type=int, default=2000, help="most samples per measurement (a time budget caps it too)")
    p.add_argument("--out", default=None, help="directory for bench_seed.md and bench_seed.json")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


# --- inputs and variants -------------------------------------------------------


def make_inputs(torch, bs, n, rng):
    """INPUT_SETS sets of GPU inputs as SGLang keeps them: seq_lens int64, accept_lens int32, and
    cache_seqlens int32 for each mode (seq_lens + N in target_verify, seq_lens in draft_extend)."""
    sets = []
    for _ in range(INPUT_SETS):
        seq = rng.integers(1024, 32768, size=bs, endpoint=True)
        acc = rng.integers(1, n, size=bs, endpoint=True)
        sets.append(
            dict(
                seq=torch.tensor(seq, dtype=torch.int64, device="cuda"),
                kv=torch.tensor(seq + n, dtype=torch.int32, device="cuda"),
                seq32=torch.tensor(seq, dtype=torch.int32, device="cuda"),
                acc=torch.tensor(acc, dtype=torch.int32, device="cuda"),
                seq_np=seq,
                acc_np=acc,
            )
        )
    return sets


def make_variants(torch, mode, bs, n, sets):
    """name -> fn(set_index) returning the seqlens_expanded it built (baselines: live rows only)."""
    one = torch.empty(bs * n, dtype=torch.int32, device="cuda")
    outs = bl.SpecmetaOutputs(bs, bs * n, "cuda")
    if mode == "target_verify":
        return {
            "before": lambda i: bl.before_target_verify(sets[i]["seq"], n),
            "after": lambda i: bl.after_target_verify(sets[i]["seq"], n, sets[i]["kv"]),
            "specmeta": lambda i: bl.specmeta_target_verify(sets[i]["kv"], n, one),
            "specmeta (all 5 outputs)": lambda i: bl.specmeta_expand_all(sets[i]["kv"], n, outs),
        }, outs
    return {
        "before": lambda i: bl.before_draft_extend(sets[i]["seq"], sets[i]["acc"]),
        "after": lambda i: bl.after_draft_extend(sets[i]["seq"], sets[i]["acc"], sets[i]["seq32"]),
        "specmeta": lambda i: bl.specmeta_draft_extend(sets[i]["seq"], sets[i]["acc"], one),
        "specmeta (all 5 outputs)": lambda i: bl.specmeta_expand_all(sets[i]["seq"], sets[i]["acc"], outs, max_qo=n),
    }, outs


def reference(mode, n, s):
    """NumPy truth for one input set: seqlens_expanded (live rows), cu_seqlens_q, row_to_req."""
    seq = s["seq_np"]
    qo = np.full_like(seq, n) if mode == "target_verify" else s["acc_np"]
    kv = seq + n if mode == "target_verify" else seq
    rows = np.concatenate([np.arange(k - q + 1, k + 1) for k, q in zip(kv, qo)])
    cu = np.concatenate([[0], np.cumsum(qo)])
    return rows.astype(np.int32), cu.astype(np.int32), np.repeat(np.arange(len(seq)), qo).astype(np.int32)


def verify(torch, mode, n, sets, variants, outs):
    """Every variant equals the NumPy truth on every set; specmeta also pads with 0 / -1 past the total."""
    for i, s in enumerate(sets):
        rows, cu, r2r = reference(mode, n, s)
        total, capacity = len(rows), len(s["seq_np"]) * n
        for name, fn in variants.items():
            got = fn(i).cpu().numpy()
            if name.startswith("specmeta"):
                if len(got) != capacity or np.any(got[total:] != 0):
                    raise AssertionError(f"{mode} {name}: rows past the total are not 0")
                got = got[:total]
            if got.dtype != np.int32 or not np.array_equal(got, rows):
                raise AssertionError(f"{mode} bs={len(s['seq_np'])} {name}: seqlens_expanded differs from the reference")
        # The last call above was the all-outputs one: check its other four outputs too.
        ok = (
            np.array_equal(outs.cu_seqlens_q.cpu().numpy(), cu)
            and np.array_equal(outs.row_to_req.cpu().numpy()[:total], r2r)
            and np.all(outs.row_to_req.cpu().numpy()[total:] == -1)
            and int(outs.num_rows.item()) == total
            and int(outs.status.item()) == 0
        )
        if not ok:
            raise AssertionError(f"{mode} specmeta (all 5 outputs): cu_seqlens_q/row_to_req/num_rows/status wrong")




# --- the three measurements ------------------------------------------------------


def summary(samples):
    """(median, number of samples): the count goes to the JSON, so few-sample cells are visible."""
    return statistics.median(samples), len(samples)


def sample_until(budget_s, max_samples, one_sample):
    """Samples until the budget is spent (at least MIN_SAMPLES, at most max_samples)."""
    samples, stop = [], time.perf_counter() + budget_s
    while len(samples) < max_samples and (len(samples) < MIN_SAMPLES or time.perf_counter() < stop):
        samples.append(one_sample(len(samples)))
    return samples


def call_sync_us(torch, fn, iters):
    def one(k):
        t0 = time.perf_counter()
        fn(k % INPUT_SETS)
        torch.cuda.synchronize()
        return (time.perf_counter() - t0) * 1e6

    return summary(sample_until(CELL_BUDGET_S, iters, one))


def eager_us(torch, fn, iters):
    def one(_):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for k in range(EAGER_K):
            fn(k % INPUT_SETS)
        torch.cuda.synchronize()
        return (time.perf_counter() - t0) * 1e6 / EAGER_K

    return summary(sample_until(CELL_BUDGET_S, max(MIN_SAMPLES, iters // 20), one))


def graph_us(torch, fn, iters):
    """Captures GRAPH_R calls (rotating inputs) in one graph; device time per call. None when capture fails."""
    graph, why = capture_calls(torch, fn, GRAPH_R, INPUT_SETS, GRAPH_WARMUP_CALLS)
    if graph is None:
        return (None, 0), why
    one = replay_sample(torch, graph, GRAPH_R)
    return summary(sample_until(CELL_BUDGET_S, max(MIN_SAMPLES, iters // 10), one)), None


# --- the empty-kernel floor ------------------------------------------------------


def empty_kernel(torch):
    """fn() launching an empty kernel on torch's current stream, and what it is."""
    try:
        import cupy

        kernel = cupy.RawKernel('extern "C" __global__ void k() {}', "k")
        streams = {}  # one CuPy wrapper per torch stream, so the timed call builds no object
        device = torch.cuda.current_device()

        def launch(_=0):
            # RawKernel launches on CuPy's current stream: make it torch's (the capture stream inside a graph).
            # Read the raw stream the way specmeta does, so both pay the same for it.
            ptr = torch._C._cuda_getCurrentRawStream(device)
            stream = streams.get(ptr)
            if stream is None:
                stream = streams[ptr] = cupy.cuda.ExternalStream(ptr)
            with stream:
                kernel((1,), (1,), ())

        return launch, f"cupy.RawKernel (CuPy {cupy.__version__})"
    except Exception:  # noqa: BLE001 - no CuPy (or no NVRTC): fall back to torch's own near-empty kernel
        return (lambda _=0: torch.cuda._sleep(0)), "torch.cuda._sleep(0)"


# --- report ------------------------------------------------------------------------


def fmt(v, note=None):
    if v is None:
        return note or "n/a"
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def ratio(v, ref):
    return "" if v is None or not ref else f"{v / ref:.1f}x"


def markdown(meta, rows, floor):
    lines = [
        f"# specmeta vs the seed's seqlens_expanded, N={meta['n']}",
        "",
        f"GPU: {meta['gpu']} | torch {meta['torch']} | specmeta {meta['specmeta']} | {meta['date']}",
        "",
        "call+sync: median of one call + torch.cuda.synchronize(). eager: K=%d back-to-back calls / K "
        "(\"syncs\": the variant waits for the GPU in every call, see call+sync). in-graph: device time per call "
        "of %d calls in one CUDA graph (n/a: the variant syncs on the host, so it cannot be captured). "
        "x spec: this variant / specmeta (seqlens_expanded only)." % (EAGER_K, GRAPH_R),
        "",
        "| mode | bs | variant | call+sync us | x spec | eager us/call | x spec | in-graph us/call | x spec |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ref = next(x for x in rows if x["mode"] == r["mode"] and x["bs"] == r["bs"] and x["variant"] == "specmeta")
        lines.append(
            f"| {r['mode']} | {r['bs']} | {r['variant']} | {fmt(r['call_sync_us'])} | {ratio(r['call_sync_us'], ref['call_sync_us'])} "
            f"| {fmt(r['eager_us'], 'syncs')} | {ratio(r['eager_us'], ref['eager_us'])} "
            f"| {fmt(r['graph_us'])} | {ratio(r['graph_us'], ref['graph_us'])} |"
        )
    lines += [
        f"| empty kernel | - | {floor['what']} | {fmt(floor['call_sync_us'])} | | {fmt(floor['eager_us'])} | "
        f"| {fmt(floor['graph_us'])} | |",
        "",
    ]
    failed = [r for r in rows if r["graph_error"] and not r["syncs"]]
    for r in failed:
        lines.append(f"- in-graph n/a for {r['mode']} bs={r['bs']} {r['variant']}: {r['graph_error']}")
    lines += ["", "SPEC section 7 layout (call+sync, us):", ""]
    bss = sorted({r["bs"] for r in rows})
    lines += ["| variant | " + " | ".join(f"bs={b}" for b in bss) + " |", "|---|" + "---|" * len(bss)]
    for mode in ("target_verify", "draft_extend"):
        for v in ("before", "after", "specmeta", "specmeta (all 5 outputs)"):
            cells = [next((fmt(r["call_sync_us"]) for r in rows if (r["mode"], r["bs"], r["variant"]) == (mode, b, v)), "") for b in bss]
            lines.append(f"| {mode} {v} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    args = parse_args()
    import torch

    import specmeta

    if not torch.cuda.is_available() or not specmeta.cuda_available():
        raise SystemExit("bench_seed needs a CUDA GPU and specmeta built with its CUDA backend")
    rng = np.random.default_rng(args.seed)
    meta = dict(
        gpu=torch.cuda.get_device_name(),
        torch=torch.__version__,
        specmeta=specmeta.__version__,
        date=datetime.datetime.now().isoformat(timespec="seconds"),
        n=args.n,
        eager_k=EAGER_K,
        graph_r=GRAPH_R,
        input_sets=INPUT_SETS,
    )
    print(f"GPU: {meta['gpu']} | torch {meta['torch']} | {meta['date']}", flush=True)
    # Known and harmless here: the sync detector is a prototype; CuPy 14 prefers Stream.from_external.
    warnings.filterwarnings("ignore", message="Synchronization debug mode is a prototype")
    warnings.filterwarnings("ignore", message="ExternalStream is deprecated", category=DeprecationWarning)
    gc.disable()  # a collection inside a timed loop is noise, not cost
    rows = []
    for mode in ("target_verify", "draft_extend"):
        for bs in [int(b) for b in args.bs.split(",")]:
            sets = make_inputs(torch, bs, args.n, rng)
            variants, outs = make_variants(torch, mode, bs, args.n, sets)
            verify(torch, mode, args.n, sets, variants, outs)  # also the warm-up
            for name, fn in variants.items():
                detected, declared = bl.syncs_inside(torch, fn), (mode, name) in DECLARED_SYNCING
                if detected != declared:
                    print(f"note: {mode} {name}: torch's sync detector says syncs={detected}, the seed's code says {declared}")
                syncs = detected or declared
                t0 = time.perf_counter()
                row = dict(mode=mode, bs=bs, variant=name, syncs=syncs)
                row["call_sync_us"], row["call_sync_samples"] = call_sync_us(torch, fn, args.iters)
                row["eager_us"], row["eager_samples"] = (None, 0) if syncs else eager_us(torch, fn, args.iters)
                if syncs:
                    (row["graph_us"], row["graph_samples"]), row["graph_error"] = (None, 0), "syncs on the host"
                else:
                    (row["graph_us"], row["graph_samples"]), row["graph_error"] = graph_us(torch, fn, args.iters)
                rows.append(row)
                print(f"{mode:13s} bs={bs:<5d} {name:25s} call+sync {fmt(row['call_sync_us']):>7s} us  "
                      f"eager {fmt(row['eager_us'], 'syncs'):>7s}  graph {fmt(row['graph_us']):>6s}  "
                      f"({time.perf_counter() - t0:.1f} s)", flush=True)
            gc.collect()
    launch, what = empty_kernel(torch)
    launch()
    torch.cuda.synchronize()
    (graph, _), error = graph_us(torch, launch, args.iters)
    floor = dict(what=what, call_sync_us=call_sync_us(torch, launch, args.iters)[0],
                 eager_us=eager_us(torch, launch, args.iters)[0], graph_us=graph, graph_error=error)
    table = markdown(meta, rows, floor)
    print()
    print(table)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "bench_seed.md"), "w") as f:
            f.write(table)
        with open(os.path.join(args.out, "bench_seed.json"), "w") as f:
            json.dump(dict(meta=meta, rows=rows, empty_kernel=floor), f, indent=1)


if __name__ == "__main__":
    main()
