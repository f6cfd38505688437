"""H8: what flips the suite's target_verify bs 16 N 4 W 4096 Builder cell from about 1.95 to 2.25 us after the
first capture rounds of a process (H7). Argument: torch (capture, time, delete: as the suite), keep (torch graphs
kept alive), cupy (CuPy stream captures only, no torch.cuda.graph in the process), torch-noempty (torch capture
with torch.cuda.empty_cache made a no-op)."""
import os, statistics, sys, time
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
import numpy as np, torch, cupy, specmeta
import suite_cells as sc

how = sys.argv[1]
if how == "torch-noempty":
    torch.cuda.empty_cache = lambda: None
rng = np.random.default_rng(7)
cell = sc.MetadataCell(torch, "cuda", sc.Cell("metadata", "target_verify", 16, 4, 4096), rng)
s = cell.sets
bl = [specmeta.Builder("target_verify", out=cell.spec, seq_lens=s[i]["seq"], **cell.kwargs(i)) for i in range(4)]
CALLS, REPLAYS = 100, 20
kept = []


def one_round():
    if how == "cupy":
        cs = cupy.cuda.Stream(non_blocking=True)
        for k in range(3):
            bl[k % 4](stream=cs.ptr)
        cs.synchronize()
        cs.begin_capture()
        for k in range(CALLS):
            bl[k % 4](stream=cs.ptr)
        g = cs.end_capture()
        g.launch(cs); cs.synchronize()
        a, b = cupy.cuda.Event(), cupy.cuda.Event()
        v = []
        for _ in range(REPLAYS):
            a.record(cs); g.launch(cs); b.record(cs); b.synchronize()
            v.append(cupy.cuda.get_elapsed_time(a, b) * 1e3 / CALLS)
        return statistics.median(v)
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        for k in range(3):
            bl[k % 4]()
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for k in range(CALLS):
            bl[k % 4]()
    g.replay(); torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    v = []
    for _ in range(REPLAYS):
        a.record(); g.replay(); b.record(); b.synchronize()
        v.append(a.elapsed_time(b) * 1e3 / CALLS)
    if how == "keep":
        kept.append(g)
    return statistics.median(v)


print(f"{how}: " + " ".join(f"{one_round():.2f}" for _ in range(10)))
