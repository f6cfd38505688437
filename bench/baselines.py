"""The seed's seqlens_expanded algorithms, re-implemented on torch CUDA tensors.

These are benchmark baselines (SPEC section 7), written from the seed's
description: "before" is SGLang's original code, "after" the proposed rewrite.
They keep every host sync and launch the originals have, because those are
what is measured. Each returns seqlens_expanded with exactly the live rows
(no capacity padding); row cu_q_b + j holds kv_b - qo_b + 1 + j.

The specmeta wrappers below are the eager calls the benchmark compares them
with: outputs preallocated once, one launch per call, no sync.
torch is imported lazily so the module can be read without it.
"""

from __future__ import annotations


def _torch():
    import torch

    return torch


def join_aranges(kv_list, qo_list, device):
    """One device arange per request, joined by cat: the seed's "before" core."""
    torch = _torch()
    pieces = [torch.arange(kv - qo + 1, kv + 1, dtype=torch.int32, device=device) for kv, qo in zip(kv_list, qo_list)]
    return torch.cat(pieces)


def before_target_verify(seq_lens, n):
    """seq_lens.tolist() (one sync), then one arange per request of n rows ending at seq_b + n."""
    kv_list = [seq + n for seq in seq_lens.tolist()]
    return join_aranges(kv_list, [n] * len(kv_list), seq_lens.device)


def after_target_verify(seq_lens, n, kv_lens=None):
    """Vectorised: [0..n) tiled over requests plus each request's first value, repeated n times.

    kv_lens is SGLang's cache_seqlens (seq_lens + n, int32), which the backend
    has already built when this runs; pass it so it is not timed twice.
    """
    torch = _torch()
    if kv_lens is None:
        kv_lens = (seq_lens + n).to(torch.int32)
    bs = kv_lens.shape[0]
    offsets = torch.arange(n, dtype=torch.int32, device=kv_lens.device)
    tiled = offsets.unsqueeze(0).expand(bs, -1).contiguous().view(-1)
    first = kv_lens - n + 1
    return torch.repeat_interleave(first, n) + tiled


def before_draft_extend(seq_lens, accept_lens):
    """accept_lens.tolist() and seq_lens.tolist() (two syncs), one arange per request, cat."""
    qo_list = accept_lens.tolist()
    kv_list = seq_lens.tolist()
    return join_aranges(kv_list, qo_list, seq_lens.device)


def after_draft_extend(seq_lens, accept_lens, kv_lens=None):
    """Row offsets by cumsum, the total by .item(), then a Python loop over requests.

    As in the seed, each request's bounds are device scalars: the .item() on
    its accept length, the tensor slice bounds and the tensor arange bounds
    each wait for the GPU, so every request costs several host syncs.
    """
    torch = _torch()
    device = seq_lens.device
    qo = accept_lens.to(torch.int32)
    kv = seq_lens.to(torch.int32) if kv_lens is None else kv_lens
    zero = torch.zeros(1, dtype=torch.int32, device=device)
    offsets = torch.cat([zero, torch.cumsum(qo, dim=0, dtype=torch.int32)])
    out = torch.empty(offsets[-1].item(), dtype=torch.int32, device=device)
    for b in range(kv.shape[0]):
        rows = qo[b].item()
        if rows > 0:
            out[offsets[b] : offsets[b + 1]] = torch.arange(kv[b] - rows + 1, kv[b] + 1, dtype=torch.int32, device=device)
    return out


# --- specmeta, eager, into preallocated outputs ---------------------------------


class SpecmetaOutputs:
    """The five outputs of specmeta.expand for bs requests and `capacity` rows, allocated once."""

    def __init__(self, bs, capacity, device):
        torch = _torch()

        def buf(size):
            return torch.empty(size, dtype=torch.int32, device=device)

        self.seqlens_expanded = buf(capacity)
        self.cu_seqlens_q = buf(bs + 1)
        self.row_to_req = buf(capacity)
        self.num_rows = buf(1)
        self.status = buf(1)

    def as_kwargs(self):
        return dict(
            seqlens_expanded=self.seqlens_expanded,
            cu_seqlens_q=self.cu_seqlens_q,
            row_to_req=self.row_to_req,
            num_rows=self.num_rows,
            status=self.status,
        )


def specmeta_target_verify(kv_lens, n, out):
    """seqlens_expanded only; kv_lens = seq_lens + n (SGLang's cache_seqlens), out has bs*n rows."""
    import specmeta

    return specmeta.expand_seqlens(kv_lens, n, out=out)


def specmeta_draft_extend(seq_lens, accept_lens, out):
    """seqlens_expanded only; kv_b = seq_b, qo_b = accept_lens[b], out has bs*n rows (the capacity)."""
    import specmeta

    return specmeta.expand_seqlens(seq_lens, accept_lens, out=out)


def specmeta_expand_all(kv_lens, qo_lens, outs, max_qo=None):
    """All five outputs in one launch; qo_lens is n (target_verify) or accept_lens (draft_extend)."""
    import specmeta

    specmeta.expand(kv_lens, qo_lens, max_qo=max_qo, **outs.as_kwargs())
    return outs.seqlens_expanded


def syncs_inside(torch, fn):
    """True when fn waits for the GPU (.item(), .tolist(), tensor-valued slice bounds...)."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        fn(0)
        return False
    except RuntimeError:
        return True
    finally:
        torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize()
