"""Why the suite times target_verify bs 16 N 4 W 4096 at 2.18 us in a graph where bench_metadata gives 1.88:
the suite's Builder cell under workload changes, one at a time, same process, interleaved rounds."""
import os, statistics, sys
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
import numpy as np, torch, specmeta
import suite_cells as sc, suite_timing as st

clock = st.Clock(torch, True)
rng = np.random.default_rng(1)

def builders(mode, bs, n, width, sets=4, pool=None, seq_lo=None, outputs=specmeta.OUTPUTS):
    pool = pool or bs
    table = torch.randint(0, sc.TABLE_VALUE_LIMIT, (pool, width), dtype=torch.int32, device="cuda")
    meta = specmeta.Metadata.empty(bs=bs, capacity=bs * n, width=width, page_size=sc.PAGE_SIZE,
                                   like=torch.zeros(1, dtype=torch.int64, device="cuda"), outputs=outputs)
    lo = (n + 1) if seq_lo is None else seq_lo
    out = []
    for _ in range(sets):
        seq = torch.tensor(rng.integers(lo, width - n, size=bs, endpoint=True), dtype=torch.int64, device="cuda")
        rpi = torch.tensor(rng.choice(pool, size=bs, replace=False), dtype=torch.int64, device="cuda")
        kw = dict(req_pool_indices=rpi, req_to_token=table, topk=sc.TOPK, page_size=sc.PAGE_SIZE)
        if mode == "draft_extend":
            kw["accept_lens"] = torch.tensor(rng.integers(1, n, size=bs, endpoint=True), dtype=torch.int32, device="cuda")
        if mode != "decode":
            kw["num_draft_tokens"] = n
        out.append(specmeta.Builder(mode, out=meta, seq_lens=seq, **kw))
    return (lambda i: out[i % len(out)]()), len(out), (table, meta)

cases = {}
for mode, n in (("target_verify", 2), ("target_verify", 4), ("draft_extend", 4), ("target_verify", 16)):
    bs = 4 if n == 16 else 16
    cases[f"{mode} bs {bs} N {n}: suite"] = builders(mode, bs, n, 4096)
    cases[f"{mode} bs {bs} N {n}: one set"] = builders(mode, bs, n, 4096, sets=1)
    cases[f"{mode} bs {bs} N {n}: pool 1024"] = builders(mode, bs, n, 4096, pool=1024)
    cases[f"{mode} bs {bs} N {n}: no tables"] = builders(mode, bs, n, 4096, outputs=[o for o in specmeta.OUTPUTS if o not in ("page_table_1", "real_page_table")])
    cases[f"{mode} bs {bs} N {n}: tables only"] = builders(mode, bs, n, 4096, outputs=["page_table_1", "real_page_table", "status"])
t = {k: [] for k in cases}
for r in range(5):
    for k, (fn, sets, _) in cases.items():
        t[k].append(st.graph_us(clock, fn, sets, 0.05, 2.0)[0][0])
print(f"| case ({torch.cuda.get_device_name()}) | in-graph us (median of 5 rounds) | min |")
print("|---|---|---|")
for k, v in t.items():
    print(f"| {k} | {statistics.median(v):.2f} | {min(v):.2f} |")
