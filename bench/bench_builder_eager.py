"""Host cost of the builder from Python: back-to-back eager calls on CUDA tensors.

For each case, K calls of build_metadata (validates and binds every call) and
of a bound Builder (only launches), timed on the host around the loop with a
sync at the end; the median over repeats, in microseconds per call. Device
time is not the bottleneck here (a call's kernel takes 2-9 us), so this is the
Python + binding + launch cost a server pays per step when it does not
capture the call in its CUDA graph.

    python3 bench/bench_builder_eager.py
"""

from __future__ import annotations

import statistics
import time

import torch

import specmeta

CALLS = 200
REPEATS = 15


def per_call_us(fn) -> float:
    for _ in range(20):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(CALLS):
            fn()
        torch.cuda.synchronize()
        samples.append((time.perf_counter() - start) / CALLS * 1e6)
    return statistics.median(samples)


def main() -> None:
    n, width, ps = 4, 8192, 64
    print(f"# Builder host cost, eager back-to-back ({torch.cuda.get_device_name()}, torch {torch.__version__})")
    print()
    print("| mode | bs | outputs | build_metadata us/call | Builder us/call |")
    print("| --- | --- | --- | --- | --- |")
    for mode in ("target_verify", "draft_extend"):
        for bs in (1, 64, 1024):
            seq = torch.randint(n + 1, width - n, (bs,), device="cuda", dtype=torch.int64)
            rpi = torch.arange(bs, device="cuda", dtype=torch.int64)
            table = torch.randint(0, 1 << 30, (bs, width), device="cuda", dtype=torch.int32)
            extra = {"accept_lens": torch.randint(0, n + 1, (bs,), device="cuda", dtype=torch.int32)} if mode == "draft_extend" else {}
            for label, outputs in (("seqlens_expanded", ("seqlens_expanded",)), ("all 11", specmeta.OUTPUTS)):
                meta = specmeta.Metadata.empty(bs=bs, capacity=bs * n, width=width, page_size=ps, outputs=outputs, like=seq)
                kwargs = dict(num_draft_tokens=n, req_pool_indices=rpi, req_to_token=table, page_size=ps, **extra)
                eager = per_call_us(lambda: specmeta.build_metadata(mode, seq, out=meta, **kwargs))
                bound = specmeta.Builder(mode, out=meta, seq_lens=seq, **kwargs)
                print(f"| {mode} | {bs} | {label} | {eager:.1f} | {per_call_us(bound):.1f} |", flush=True)


if __name__ == "__main__":
    main()
