"""H6: the suite's target_verify bs 16 N 4 W 4096 Builder cell with each table left out, to see which table
carries the suite's extra 0.3 us over bench_metadata (1.87 us there)."""
import os, statistics, sys
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
import numpy as np, torch, specmeta
import suite_cells as sc, suite_timing as st

clock = st.Clock(torch, True)
rng = np.random.default_rng(6)
ALL = specmeta.OUTPUTS if hasattr(specmeta, "OUTPUTS") else None
print(torch.cuda.get_device_name())
for mode, bs, n in (("target_verify", 16, 4), ("target_verify", 4, 16), ("decode", 16, None)):
    cell = sc.MetadataCell(torch, "cuda", sc.Cell("metadata", mode, bs, n, 4096), rng)
    s = cell.sets
    names = [k for k in ("cache_seqlens", "cu_seqlens_k", "cu_seqlens_q", "seqlens_expanded", "sparse_seqlens",
                         "sparse_cu_seqlens_k", "row_to_req", "num_rows", "status", "page_table_1", "real_page_table")]
    variants = {"all": names, "no real_page_table": [x for x in names if x != "real_page_table"],
                "no page_table_1": [x for x in names if x != "page_table_1"],
                "tables only": ["page_table_1", "real_page_table"], "page_table_1 only": ["page_table_1"],
                "real_page_table only": ["real_page_table"]}
    fns = {}
    for label, outs in variants.items():
        meta = specmeta.Metadata.empty(bs=bs, capacity=cell.cell.capacity, width=4096, page_size=sc.PAGE_SIZE,
                                       outputs=outs, like=s[0]["seq"])
        bl = [specmeta.Builder(mode, out=meta, seq_lens=s[i]["seq"], **cell.kwargs(i)) for i in range(4)]
        fns[label] = (lambda b: (lambda i: b[i % 4]()))(bl)
    t = {k: [] for k in fns}
    for r in range(5):
        for k, fn in fns.items():
            t[k].append(st.graph_us(clock, fn, 4, 0.05, 2.0)[0][0])
    print(f"\n## {mode} bs {bs} N {n} W 4096, page size 64: in-graph us per call, median of 5 captures (min)")
    for k, v in t.items():
        print(f"- {k}: {statistics.median(v):.2f} ({min(v):.2f})")
