"""Write-only and copy bandwidth of this GPU in CUDA graphs, by size (diagnosis: how far a
write-dominated call such as four destination sets of page tables is from the hardware).

    python3 bench/probes/write_bandwidth.py [MB ...]   (default: 17.27 64 512)
"""
import sys

import torch

DEFAULT_MB = (17.27, 64, 512)


def graph_time(fn, calls=20, replays=50):
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        fn()
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g, stream=s):
        for _ in range(calls): fn()
    ts = []
    for _ in range(replays):
        a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
        a.record(); g.replay(); b.record(); b.synchronize()
        ts.append(a.elapsed_time(b) * 1e3 / calls)
    ts.sort(); return ts[len(ts) // 2]
for mb in [float(a) for a in sys.argv[1:]] or DEFAULT_MB:
    n = int(mb * 2**20 / 4)
    dst = torch.empty(n, dtype=torch.int32, device="cuda")
    src = torch.empty(n, dtype=torch.int32, device="cuda")
    t_fill = graph_time(lambda: dst.fill_(7))
    t_copy = graph_time(lambda: dst.copy_(src))
    print(f"{mb:7.2f} MB: fill {t_fill:8.2f} us = {n*4/t_fill/1e3:6.0f} GB/s written; "
          f"copy {t_copy:8.2f} us = {2*n*4/t_copy/1e3:6.0f} GB/s read+written")
