"""G2: the suite's target_verify bs 16 N 4 W 4096 Builder cell with other req_to_token values and lengths."""
import os, statistics, sys
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
import numpy as np, torch, specmeta
import suite_cells as sc, suite_timing as st

clock = st.Clock(torch, True)
rng = np.random.default_rng(2)
W, PS = 4096, sc.PAGE_SIZE

def table_of(kind, pool):
    cols = torch.arange(W, device="cuda", dtype=torch.int64)
    if kind == "random 30-bit (suite)":
        return torch.randint(0, sc.TABLE_VALUE_LIMIT, (pool, W), dtype=torch.int32, device="cuda")
    if kind == "random pages (bench-like)":
        pages = torch.randint(0, (2**31 - 1) // PS, (pool, (W + PS - 1) // PS), dtype=torch.int64, device="cuda")
        return (pages.repeat_interleave(PS, dim=1)[:, :W] * PS + cols % PS).to(torch.int32)
    if kind == "zeros":
        return torch.zeros((pool, W), dtype=torch.int32, device="cuda")
    raise ValueError(kind)

def cell(mode, bs, n, table_kind, seq_lo, pool_factor=1):
    pool = bs * pool_factor
    table = table_of(table_kind, pool)
    meta = specmeta.Metadata.empty(bs=bs, capacity=bs * n, width=W, page_size=PS, like=table)
    bl = []
    for _ in range(4):
        seq = torch.tensor(rng.integers(seq_lo, W - n, size=bs, endpoint=True), dtype=torch.int64, device="cuda")
        rpi = torch.tensor(rng.choice(pool, size=bs, replace=False), dtype=torch.int64, device="cuda")
        bl.append(specmeta.Builder(mode, out=meta, seq_lens=seq, req_pool_indices=rpi, req_to_token=table,
                                   num_draft_tokens=n, topk=sc.TOPK, page_size=PS))
    return (lambda i: bl[i % 4]()), (table, meta, bl)

cases = {}
for kind in ("random 30-bit (suite)", "random pages (bench-like)", "zeros"):
    cases[f"tv bs 16 N 4, {kind}"] = cell("target_verify", 16, 4, kind, 5)
cases["tv bs 16 N 4, bench-like pages, seq from 1, pool 4 bs"] = cell("target_verify", 16, 4, "random pages (bench-like)", 1, 4)
cases["tv bs 16 N 2, suite"] = cell("target_verify", 16, 2, "random 30-bit (suite)", 3)
cases["tv bs 16 N 2, bench-like pages"] = cell("target_verify", 16, 2, "random pages (bench-like)", 3)
t = {k: [] for k in cases}
for r in range(5):
    for k, (fn, _) in cases.items():
        t[k].append(st.graph_us(clock, fn, 4, 0.05, 2.0)[0][0])
print(f"| case ({torch.cuda.get_device_name()}) | in-graph us (median of 5 rounds) | min |")
print("|---|---|---|")
for k, v in t.items():
    print(f"| {k} | {statistics.median(v):.2f} | {min(v):.2f} |")
