"""H7: per capture round of the suite's target_verify bs 16 N 4 W 4096 Builder cell: time in the process,
the SM clock NVML reports, and the in-graph us. Is the fast first round a clock or a process-age effect?"""
import os, statistics, sys, time
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
import numpy as np, torch, specmeta
import suite_cells as sc, suite_timing as st

t_start = time.perf_counter()
clock = st.Clock(torch, True)
rng = np.random.default_rng(7)
print(torch.cuda.get_device_name())
cell = sc.MetadataCell(torch, "cuda", sc.Cell("metadata", "target_verify", 16, 4, 4096), rng)
fn = cell.variants[0].fn
print("| round | s into process | SM MHz (NVML) | us per call | us per call, second graph |")
print("|---|---|---|---|---|")
for r in range(12):
    a = st.graph_us(clock, fn, 4, 0.05, 2.0)[0][0]
    b = st.graph_us(clock, fn, 4, 0.05, 2.0)[0][0]
    try:
        mhz = torch.cuda.clock_rate()
    except Exception as e:  # noqa: BLE001
        mhz = f"n/a ({type(e).__name__})"
    print(f"| {r} | {time.perf_counter() - t_start:.2f} | {mhz} | {a:.2f} | {b:.2f} |")
    if r == 5:
        time.sleep(2.0)  # idle: does a rest bring the fast state back?
