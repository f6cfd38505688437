"""Host cost of each piece of the eager Python paths on torch CUDA tensors (diagnosis: where
build_metadata and expand_seqlens spend their microseconds).

    python3 bench/probes/host_path.py
"""
import torch, specmeta
from host_timing import per_call_us
from specmeta import _metadata as M, _arrays as A, _expand as E, _stream as S

def per_call(fn):
    return per_call_us(fn, n=2000, reps=7, warmup=200, sync=torch.cuda.synchronize)

dev = "cuda"
bs, N, W, ps = 64, 4, 8192, 64
seq = torch.randint(100, 8000, (bs,), device=dev, dtype=torch.int64)
acc = torch.randint(1, N + 1, (bs,), device=dev, dtype=torch.int32)
rpi = torch.arange(bs, device=dev, dtype=torch.int64)
r2t = torch.randint(0, 1 << 20, (bs, W), device=dev, dtype=torch.int32)
out = torch.empty(bs * N, device=dev, dtype=torch.int32)
small = torch.zeros(1, device=dev, dtype=torch.int32)
rows = {}
rows["torch small.add_(1) (a stock launch)"] = per_call(lambda: small.add_(1))
rows["nanobind trivial call (Plan.max_bs)"] = None
rows["describe(torch 1-D)"] = per_call(lambda: A.describe("seq_lens", seq))
rows["describe_table(torch)"] = per_call(lambda: A.describe_table("req_to_token", r2t))
rows["resolve_stream(None)"] = per_call(lambda: S.resolve_stream(None, "torch", 0))
rows["expand_seqlens tv (uniform N, out=)"] = per_call(lambda: specmeta.expand_seqlens(seq, N, out=out))
rows["expand_seqlens de (accept_lens, out=)"] = per_call(lambda: specmeta.expand_seqlens(seq, acc, out=out))
rows["_inputs tv"] = per_call(lambda: E._inputs(seq, N, None))
for outs in (("seqlens_expanded",), M.OUTPUTS):
    meta = specmeta.Metadata.empty(bs=bs, capacity=bs * N, width=W, page_size=ps, outputs=outs, like=seq)
    args = dict(out=meta, req_pool_indices=rpi, req_to_token=r2t, num_draft_tokens=N, page_size=ps)
    k = len(outs)
    rows[f"build_metadata tv ({k} outputs)"] = per_call(lambda: specmeta.build_metadata("target_verify", seq, **args))
    d = lambda: M._descriptor("target_verify", seq, meta, rpi, r2t, None, None, N, 2048, 1, ps, False)
    rows[f"  _descriptor ({k})"] = per_call(d)
    desc, _ = d()
    rows[f"  Plan(desc) ({k})"] = per_call(lambda: M._specmeta.Plan(desc))
    plan = M._specmeta.Plan(desc)
    stream = S.resolve_stream(None, "torch", 0)
    rows[f"  plan.launch ({k})"] = per_call(lambda: plan.launch(bs, stream))
    rows["nanobind trivial call (Plan.max_bs)"] = per_call(lambda: plan.max_bs)
    b = specmeta.Builder("target_verify", seq_lens=seq, **args)
    rows[f"Builder(bs) ({k})"] = per_call(lambda: b(bs))
print("| host path (torch CUDA tensors, bs 64, N 4, W 8192) | us per call |\n|---|---|")
for k, v in rows.items():
    print(f"| {k} | {v:.2f} |")
