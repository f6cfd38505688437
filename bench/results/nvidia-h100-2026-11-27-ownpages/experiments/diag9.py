"""H10: does the flip of H7-H9 follow the number of graphs or the number of kernel nodes captured?
CuPy stream captures only (no torch.cuda.graph); R calls per graph; us per call of each round's graph."""
import os, statistics, sys
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
import numpy as np, torch, cupy, specmeta
import suite_cells as sc

R = int(sys.argv[1]); ROUNDS = int(sys.argv[2]); REPLAYS = int(sys.argv[3]); HOW = sys.argv[4] if len(sys.argv) > 4 else "same"
rng = np.random.default_rng(7)
cell = sc.MetadataCell(torch, "cuda", sc.Cell("metadata", "target_verify", 16, 4, 4096), rng)
s = cell.sets
bl = [specmeta.Builder("target_verify", out=cell.spec, seq_lens=s[i]["seq"], **cell.kwargs(i)) for i in range(4)]
cs = cupy.cuda.Stream(non_blocking=True)
res = []
streams = []
for r in range(ROUNDS):
    if HOW in ("newstream", "newstream-keep", "newstream-warm"):
        cs = cupy.cuda.Stream(non_blocking=True)
        if HOW == "newstream-keep":
            streams.append(cs)
    if HOW in ("warm", "newstream-warm"):
        for k in range(3):
            bl[k % 4](stream=cs.ptr)
        cs.synchronize()
    cs.begin_capture()
    for k in range(R):
        bl[k % 4](stream=cs.ptr)
    g = cs.end_capture()
    g.launch(cs); cs.synchronize()
    a, b = cupy.cuda.Event(), cupy.cuda.Event()
    v = []
    for _ in range(REPLAYS):
        a.record(cs); g.launch(cs); b.record(cs); b.synchronize()
        v.append(cupy.cuda.get_elapsed_time(a, b) * 1e3 / R)
    res.append(statistics.median(v))
print(f"R={R} replays={REPLAYS} {HOW}: " + " ".join(f"{x:.2f}" for x in res))
