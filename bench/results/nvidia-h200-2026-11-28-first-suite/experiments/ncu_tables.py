"""The tables of ncu.md from the exported Nsight Compute pages in ../ncu (N1: details pages; N2: source pages).

    python3 experiments/ncu_tables.py   (from the results directory)
"""
import csv
import gzip
import io

CASES = ("target_verify-w4096-bs1024-n4", "extend-w4096-bs1024-e8", "target_verify-w4096-bs1024-n16")
KERNELS = ("builder", "perblock", "bound")
METRICS = ("Duration", "Elapsed Cycles", "SM Active Cycles", "Grid Size", "Registers Per Thread",
           "Theoretical Occupancy", "Achieved Occupancy", "Executed Instructions", "Eligible Warps Per Scheduler",
           "Warp Cycles Per Issued Instruction", "DRAM Throughput", "L2 Hit Rate")


def rows_of(path, skip=0):
    with gzip.open(path, "rt") as f:
        lines = f.read().splitlines()[skip:]
    return list(csv.reader(io.StringIO("\n".join(lines))))


def details(case, kernel):
    r = rows_of(f"ncu/N1-{case}-{kernel}.csv.gz")
    hdr = r[0]
    out = {}
    for x in r[1:]:
        d = dict(zip(hdr, x))
        if d["ID"] == "1":  # the second of the two profiled launches
            out[d["Metric Name"]] = d["Metric Value"]
    return out


def number(s):
    try:
        return float(s.replace(",", ""))
    except ValueError:
        return 0.0


def stalls(case, kernel):
    r = rows_of(f"ncu/N2-{case}-{kernel}-sass.csv.gz", skip=1)
    hdr, body = r[0], [dict(zip(r[0], x)) for x in r[1:]]
    names = [h for h in hdr if h.startswith("stall_") and "Not Issued" not in h]
    total = sum(number(x["Warp Stall Sampling (All Samples)"]) for x in body)
    by = {n[6:]: sum(number(x[n]) for x in body) / total * 100 for n in names}
    top = sorted(by.items(), key=lambda kv: -kv[1])[:5]
    return int(total), ", ".join(f"{k} {v:.0f}%" for k, v in top)


for case in CASES:
    d = {k: details(case, k) for k in KERNELS}
    print(f"\n### {case}\n\n| metric | " + " | ".join(KERNELS) + " |\n|---|---|---|---|")
    for m in METRICS:
        print(f"| {m} | " + " | ".join(d[k].get(m, "-") for k in KERNELS) + " |")
for case in CASES[:2]:
    print(f"\n{case}, warp stall samples (N2):\n")
    for k in KERNELS[:2]:
        n, top = stalls(case, k)
        print(f"- {k}: {n} samples; {top}")
