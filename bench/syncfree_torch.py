"""seqlens_expanded in plain PyTorch with no host sync: the best a user can do without a custom kernel.

Fixed capacity (the CUDA-graph buffer size), every input read from device
memory, no `.tolist()` / `.item()` / tensor-valued slice bound, so the whole
call can be captured in a CUDA graph and replayed with new lengths. Rows past
the real total are 0, as SPEC section 4 asks. Valid input only
(0 <= qo_b <= kv_b): like the seed's code, it does not clamp at 0.

The caller keeps `rows = torch.arange(capacity)` (int64) and the
`offsets` of target_verify allocated once, as SGLang keeps `_arange_buf`:
they are part of the CUDA-graph runner's state, not of each call.
"""

from __future__ import annotations


def target_verify_offsets(torch, n, device):
    """[-(n-1), ..., -1, 0] (int32): row j of a request is kv_b - (n - 1 - j)."""
    return torch.arange(-(n - 1), 1, dtype=torch.int32, device=device)


def syncfree_target_verify(torch, kv_lens, offsets, out):
    """kv_lens: int32 [bs] (SGLang's cache_seqlens = seq_lens + N); out: int32 [bs * N].

    Every request has N rows, so the row total is the host-known bs * N and
    one broadcast add writes every row: out[b, j] = kv_b - (N - 1) + j.
    """
    bs, n = kv_lens.shape[0], offsets.shape[0]
    torch.add(kv_lens.view(bs, 1), offsets.view(1, n), out=out.view(bs, n))
    return out


def syncfree_draft_extend(torch, seq_lens, accept_lens, rows, out):
    """seq_lens: [bs] (kv_b); accept_lens: [bs] on the device (qo_b); rows: arange(capacity) int64;
    out: int32 [capacity].

    The row total is only on the device, so every one of the capacity rows
    finds its request by binary search over the inclusive prefix sum of the
    accept lengths: b = #{i : cu_i <= r}. Row r of request b is row
    r - (cu_b - qo_b) of it, so its value kv_b - qo_b + 1 + j simplifies to
    kv_b - cu_b + 1 + r. Rows with b == bs are past the total: 0.
    """
    bs = seq_lens.shape[0]
    cu = torch.cumsum(accept_lens, dim=0, dtype=torch.int64)
    req = torch.searchsorted(cu, rows, right=True)
    past_total = req == bs
    req.clamp_(max=bs - 1)
    value = seq_lens.to(torch.int64)[req] - cu[req] + 1 + rows
    value.masked_fill_(past_total, 0)
    out.copy_(value)
    return out
