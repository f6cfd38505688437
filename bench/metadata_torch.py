"""The whole metadata (all 11 outputs of SPEC section 3) in plain PyTorch with no host sync.

The full-metadata counterpart of syncfree_torch.py: every mode, fixed
capacity, lengths read from device memory only, so it can be captured in a
CUDA graph. Rows find their request by binary search over the prefix sum of
qo (as in syncfree_torch.syncfree_draft_extend). Page tables: torch has no
ragged copy, so each of the capacity rows gathers its request's whole table
row and a mask keeps the old contents past the live prefix: it moves
capacity x W elements where a fused kernel moves only the live prefixes.

Valid input only (0 <= qo_b <= kv_b, pool indices in range, no int32
overflow, kpool = 1): `status` is written 0 and no fault is detected.
"""

from __future__ import annotations

UNIFORM_QO = {"decode": None, "target_verify": "n", "draft_extend_static": "n"}  # qo_b: 1 or N for every request


class SyncFreeMetadata:
    """One mode bound to fixed outputs (a specmeta.Metadata of torch tensors) and a req_to_token table."""

    def __init__(self, torch, mode, meta, req_to_token, *, num_draft_tokens, topk, page_size):
        self.torch, self.mode, self.meta = torch, mode, meta
        self.req_to_token = req_to_token
        self.n = num_draft_tokens
        self.topk, self.page_size = topk, page_size
        device = req_to_token.device
        self.capacity = meta.seqlens_expanded.shape[0]
        width = meta.page_table_1.shape[1]
        # The graph runner's constant state, built once (as SGLang keeps _arange_buf).
        self.rows = torch.arange(self.capacity, dtype=torch.int64, device=device)
        self.cols = torch.arange(width, dtype=torch.int64, device=device)
        self.page_starts = torch.arange(0, width, page_size, dtype=torch.int64, device=device)
        self.width = width

    def _qo(self, bs, lengths):
        torch = self.torch
        if self.mode == "decode":
            return torch.ones(bs, dtype=torch.int64, device=self.rows.device)
        if self.mode in UNIFORM_QO:
            return torch.full((bs,), self.n, dtype=torch.int64, device=self.rows.device)
        return lengths.to(torch.int64)

    def __call__(self, seq_lens, req_pool_indices, lengths=None):
        """lengths: accept_lens (draft_extend) or extend_lens (extend); None for the uniform modes."""
        torch, meta = self.torch, self.meta
        bs = seq_lens.shape[0]
        kv = seq_lens.to(torch.int64) + self.n if self.mode == "target_verify" else seq_lens.to(torch.int64)
        qo = self._qo(bs, lengths)
        meta.cache_seqlens.copy_(kv)
        meta.cu_seqlens_k[0].zero_()
        torch.cumsum(kv, dim=0, dtype=torch.int32, out=meta.cu_seqlens_k[1:])
        cu_q = torch.cumsum(qo, dim=0)
        meta.cu_seqlens_q[0].zero_()
        meta.cu_seqlens_q[1:].copy_(cu_q)

        req = torch.searchsorted(cu_q, self.rows, right=True)
        past = req == bs
        req.clamp_(max=bs - 1)
        kv_row = kv[req]
        expanded = kv_row - cu_q[req] + 1 + self.rows
        expanded.masked_fill_(past, 0)
        meta.seqlens_expanded.copy_(expanded)
        sparse = expanded.clamp_(max=self.topk)
        meta.sparse_seqlens.copy_(sparse)
        meta.sparse_cu_seqlens_k[0].zero_()
        torch.cumsum(sparse, dim=0, dtype=torch.int32, out=meta.sparse_cu_seqlens_k[1:])
        meta.row_to_req.copy_(req.masked_fill_(past, -1))
        meta.num_rows.copy_(cu_q[-1:].clamp(max=self.capacity))
        meta.status.zero_()

        live = kv_row.clamp_(max=self.width).masked_fill_(past, 0)
        table = self.req_to_token[req_pool_indices[req.clamp_(min=0)]]
        keep = self.cols.view(1, -1) < live.view(-1, 1)
        torch.where(keep, table, meta.page_table_1, out=meta.page_table_1)
        pages = table[:, :: self.page_size] // self.page_size
        keep_pages = self.page_starts.view(1, -1) < live.view(-1, 1)
        torch.where(keep_pages, pages, meta.real_page_table, out=meta.real_page_table)
        return meta
