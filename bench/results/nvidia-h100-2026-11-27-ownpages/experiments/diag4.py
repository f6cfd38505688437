"""H2: the suite's target_verify bs 16 N 4 W 4096 Builder calls captured by torch.cuda.graph against the
same calls captured by CuPy's stream capture (a plain cudaStreamBeginCapture on a non-blocking stream),
in one process, interleaved rounds. bench_metadata's case takes 1.87 us; the suite's cell 2.2."""
import os, statistics, sys
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
import numpy as np, torch, cupy
import specmeta
import suite_cells as sc

CALLS, ROUNDS, REPLAYS = 100, 8, 15
rng = np.random.default_rng(4)
print(f"{torch.cuda.get_device_name()}")
for mode, bs, n in (("target_verify", 16, 4), ("target_verify", 4, 16), ("decode", 16, None), ("draft_extend", 16, 4)):
    cell = sc.MetadataCell(torch, "cuda", sc.Cell("metadata", mode, bs, n, 4096), rng)
    s = cell.sets
    builders = [specmeta.Builder(mode, out=cell.spec, seq_lens=s[i]["seq"], **cell.kwargs(i)) for i in range(4)]
    # torch capture, as the suite does
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        for k in range(3):
            builders[k % 4]()
    torch.cuda.synchronize()
    tg = torch.cuda.CUDAGraph()
    with torch.cuda.graph(tg):
        for k in range(CALLS):
            builders[k % 4]()
    tg.replay(); torch.cuda.synchronize()
    # CuPy capture on a non-blocking stream
    cs = cupy.cuda.Stream(non_blocking=True)
    for k in range(3):
        builders[k % 4](stream=cs.ptr)
    cs.synchronize()
    cs.begin_capture()
    for k in range(CALLS):
        builders[k % 4](stream=cs.ptr)
    cg = cs.end_capture()
    cg.upload(cs); cg.launch(cs); cs.synchronize()

    def t_torch():
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        v = []
        for _ in range(REPLAYS):
            a.record(); tg.replay(); b.record(); b.synchronize()
            v.append(a.elapsed_time(b) * 1e3 / CALLS)
        return statistics.median(v)

    def t_cupy(stream):
        a, b = cupy.cuda.Event(), cupy.cuda.Event()
        v = []
        for _ in range(REPLAYS):
            a.record(stream); cg.launch(stream); b.record(stream); b.synchronize()
            v.append(cupy.cuda.get_elapsed_time(a, b) * 1e3 / CALLS)
        return statistics.median(v)

    def t_torch_on(stream):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        v = []
        with torch.cuda.stream(stream):
            for _ in range(REPLAYS):
                a.record(); tg.replay(); b.record(); b.synchronize()
                v.append(a.elapsed_time(b) * 1e3 / CALLS)
        return statistics.median(v)

    other = torch.cuda.Stream()
    rows = {"torch capture, default stream": [], "torch capture, side stream": [], "cupy capture, its stream": [],
            "cupy capture, null stream": []}
    for r in range(ROUNDS):
        rows["torch capture, default stream"].append(t_torch())
        rows["torch capture, side stream"].append(t_torch_on(other))
        rows["cupy capture, its stream"].append(t_cupy(cs))
        rows["cupy capture, null stream"].append(t_cupy(cupy.cuda.Stream.null))
    print(f"\n## {mode} bs {bs} N {n} W 4096: us per call, median of {ROUNDS} rounds (min, max)")
    for k, v in rows.items():
        print(f"- {k}: {statistics.median(v):.2f} ({min(v):.2f}, {max(v):.2f})")
    del tg, cg
