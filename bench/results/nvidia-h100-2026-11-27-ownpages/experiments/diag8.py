"""H9: the SM clock the device itself measures (clock64 against %globaltimer over a 20 us spin), taken right
after each capture round of the tv bs 16 N 4 W 4096 Builder cell (torch capture) and during a replay."""
import os, statistics, sys
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
import numpy as np, torch, cupy, specmeta
import suite_cells as sc

spin = cupy.RawKernel(r'''
extern "C" __global__ void spin(unsigned long long* out, unsigned long long ns) {
  unsigned long long t0, t1, c0 = clock64();
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do { asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t1)); } while (t1 - t0 < ns);
  unsigned long long c1 = clock64();
  out[0] = c1 - c0; out[1] = t1 - t0;
}''', "spin")
out = cupy.zeros(2, dtype=cupy.uint64)


def mhz():
    spin((1,), (1,), (out, np.uint64(20000)))
    c, t = out.get()
    return c / t * 1e3


rng = np.random.default_rng(7)
cell = sc.MetadataCell(torch, "cuda", sc.Cell("metadata", "target_verify", 16, 4, 4096), rng)
s = cell.sets
bl = [specmeta.Builder("target_verify", out=cell.spec, seq_lens=s[i]["seq"], **cell.kwargs(i)) for i in range(4)]
CALLS, REPLAYS = 100, 20
print("| round | us per call | SM MHz after the round | us, replays back to back (no sync between) |")
print("|---|---|---|---|")
for r in range(8):
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
    m = mhz()
    a.record()
    for _ in range(REPLAYS):
        g.replay()
    b.record(); b.synchronize()
    print(f"| {r} | {statistics.median(v):.2f} | {m:.0f} | {a.elapsed_time(b) * 1e3 / CALLS / REPLAYS:.2f} |")
