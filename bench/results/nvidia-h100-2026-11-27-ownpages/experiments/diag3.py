"""H1: is a slow suite cell a property of its capture (graph) or of the time it runs?

The suite's target_verify bs 16 N 4 W 4096 Builder cell: several graphs captured as the suite captures
(100 calls, 4 rotating sets), then timed interleaved over rounds. Each graph's debug dump is kept, so a
fast and a slow graph can be compared. Also: replay on the default stream vs a side stream.
"""
import os, statistics, sys
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
import numpy as np, torch
import suite_cells as sc, suite_timing as st

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(3)
CALLS, GRAPHS, ROUNDS, REPLAYS = 100, 10, 8, 15


def capture(fn, debug):
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for k in range(3):
            fn(k % 4)
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    if debug:
        g.enable_debug_mode()
    with torch.cuda.graph(g):
        for k in range(CALLS):
            fn(k % 4)
    g.replay()
    torch.cuda.synchronize()
    return g


def time_graph(g, stream=None):
    s = stream or torch.cuda.current_stream()
    with torch.cuda.stream(s):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        v = []
        for _ in range(REPLAYS):
            a.record(); g.replay(); b.record(); b.synchronize()
            v.append(a.elapsed_time(b) * 1e3 / CALLS)
    return statistics.median(v)


for mode, bs, n in (("target_verify", 16, 4), ("target_verify", 4, 16), ("target_verify", 16, 2)):
    cell = sc.MetadataCell(torch, "cuda", sc.Cell("metadata", mode, bs, n, 4096), rng)
    fn = cell.variants[0].fn
    graphs = [capture(fn, debug=(mode, bs, n) == ("target_verify", 16, 4)) for _ in range(GRAPHS)]
    side = torch.cuda.Stream()
    t = [[] for _ in graphs]
    ts = [[] for _ in graphs]
    for r in range(ROUNDS):
        for i, g in enumerate(graphs):
            t[i].append(time_graph(g))
            ts[i].append(time_graph(g, side))
    print(f"\n## {mode} bs {bs} N {n} W 4096 ({torch.cuda.get_device_name()}): us per call, graph x round")
    print("| graph | " + " | ".join(f"r{r}" for r in range(ROUNDS)) + " | median | side-stream median |")
    print("|---" * (ROUNDS + 3) + "|")
    for i in range(GRAPHS):
        print(f"| g{i} | " + " | ".join(f"{x:.2f}" for x in t[i]) + f" | {statistics.median(t[i]):.2f} | {statistics.median(ts[i]):.2f} |")
    if (mode, bs, n) == ("target_verify", 16, 4):
        med = [statistics.median(x) for x in t]
        order = sorted(range(GRAPHS), key=lambda i: med[i])
        for tag, i in (("fast", order[0]), ("slow", order[-1])):
            graphs[i].debug_dump(os.path.join(out, f"{tag}-g{i}.dot"))
        # a fresh cell (new buffers) per capture: is the speed tied to the buffers instead?
        print("\n## target_verify bs 16 N 4: a new cell (new buffers) per graph, each timed 8 rounds")
        for j in range(6):
            c2 = sc.MetadataCell(torch, "cuda", sc.Cell("metadata", mode, bs, n, 4096), rng)
            g2 = capture(c2.variants[0].fn, False)
            v = [time_graph(g2) for _ in range(ROUNDS)]
            p = c2.spec.page_table_1.data_ptr(), c2.table.data_ptr()
            print(f"cell {j}: median {statistics.median(v):.2f} min {min(v):.2f} max {max(v):.2f}  page_table_1 {p[0]:#x} table {p[1]:#x}")
            del g2, c2
    del graphs
