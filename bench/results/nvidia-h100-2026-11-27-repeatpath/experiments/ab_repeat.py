"""Run from the repository root after
    mkdir -p .scratch/old && for f in _repeats _metadata; do git show 8328968:python/specmeta/$f.py > .scratch/old/$f.py; done

The last stop's repeat path (.scratch/old: _metadata + _repeats at 8328968) against this tree's, in one
process on the suite's cells: eager K back-to-back calls then one sync (suite_timing.eager_us), both called
by keyword, interleaved rounds, medians. Outputs checked equal between the two after timing."""
import os, statistics, sys, types
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
import numpy as np, torch
import specmeta
import suite_cells as sc, suite_timing as st

def load(name, path, replace=None):
    src = open(path).read()
    if replace:
        assert replace[0] in src
        src = src.replace(*replace)
    mod = types.ModuleType("specmeta." + name); mod.__package__ = "specmeta"; mod.__file__ = path
    sys.modules["specmeta." + name] = mod; setattr(specmeta, name, mod)
    exec(compile(src, path, "exec"), mod.__dict__)
    return mod

load("_repeats_old", ".scratch/old/_repeats.py")
old = load("_metadata_old", ".scratch/old/_metadata.py", ("from . import _repeats, _specmeta", "from . import _repeats_old as _repeats, _specmeta"))
new = specmeta._metadata
CELLS = [sc.Cell("metadata", "decode", 4, None, 32768), sc.Cell("metadata", "target_verify", 4, 4, 32768),
         sc.Cell("metadata", "draft_extend", 4, 4, 4096), sc.Cell("metadata", "draft_extend_static", 1, 4, 4096),
         sc.Cell("metadata", "extend", 16, 4, 4096), sc.Cell("metadata", "target_verify", 64, 4, 4096)]
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
clock = st.Clock(torch, True)
rng = np.random.default_rng()
print(f"| cell ({torch.cuda.get_device_name()}) | last stop's repeat us | this tree's us | old / new | outputs |")
print("|---|---|---|---|---|")
for cell in CELLS:
    m = sc.MetadataCell(torch, "cuda", cell, rng)
    s, mode = m.sets, cell.mode
    fns, metas = {}, {}
    for label, mod in (("old", old), ("new", new)):
        meta = mod.Metadata.empty(bs=cell.bs, capacity=cell.capacity, width=cell.width, page_size=sc.PAGE_SIZE, like=s[0]["seq"])
        metas[label] = meta
        def make(i, mod=mod, meta=meta):
            seq, rpi, q = s[i]["seq"], s[i]["rpi"], s[i]["qo"]
            acc = q if mode == "draft_extend" else None
            ext = q if mode == "extend" else None
            return lambda: mod.build_metadata(mode, seq, out=meta, req_pool_indices=rpi, req_to_token=m.table,
                                              accept_lens=acc, extend_lens=ext, num_draft_tokens=m.n_arg,
                                              topk=sc.TOPK, page_size=sc.PAGE_SIZE)
        calls = [make(i) for i in range(sc.INPUT_SETS)]
        fns[label] = lambda i, calls=calls: calls[i]()
        for i in range(sc.INPUT_SETS):
            calls[i](); calls[i]()
    t = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t[k].append(st.eager_us(clock, f, sc.INPUT_SETS, 0.1, 5.0)[0])
    fns["old"](0); fns["new"](0); torch.cuda.synchronize()
    same = all(torch.equal(getattr(metas["old"], n), getattr(metas["new"], n)) for n in specmeta.OUTPUTS if getattr(metas["new"], n) is not None)
    mo, mn = statistics.median(t["old"]), statistics.median(t["new"])
    print(f"| {cell.label()} | {mo:.2f} | {mn:.2f} | {mo / mn:.3f} | {'equal' if same else 'DIFFER'} |")
