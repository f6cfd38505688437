"""SGLang's eager PyTorch replay path for the whole metadata, into the CUDA-graph runner's fixed buffers.

What `init_forward_metadata_replay_cuda_graph` of SGLang's NSA backend does
before each graph replay, per mode (decode, target_verify, draft_extend),
written in our own code: cast and copy cache_seqlens, an int32 cumsum into
cu_seqlens_k[1:], gather `req_to_token[req_pool_indices, :max_seqlen_k]`
(max_seqlen_k from the host copy of seq_lens), `repeat_interleave` it over
each request's rows, copy it into page_table_1, the seed's "before" loop of
aranges for seqlens_expanded, `clamp(max=topk)` for the sparse lengths, their
int32 cumsum, and `page_table[:, ::ps] // ps` for real_page_table.

It writes the 7 outputs SGLang's replay writes (cache_seqlens, cu_seqlens_k,
seqlens_expanded (not in decode, where SGLang aliases it to cache_seqlens),
sparse_seqlens, sparse_cu_seqlens_k, page_table_1, real_page_table), over the
live rows only; SGLang keeps cu_seqlens_q and row_to_req static and has no
num_rows or status. SGLang receives `seq_lens_cpu`, a host copy the scheduler
already has, so target_verify and decode never wait for the GPU;
draft_extend reads accept lengths back (`.tolist()`, and `repeat_interleave`
with device repeats), so it syncs on every call.

The pieces shared with the test suite's replay (tests/python/sglang_replay.py,
which returns fresh tensors and checks its input domain on the host) are
imported from there.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))

from sglang_replay import REPLAY_MODES, transform_table_1_to_real  # noqa: E402

from baselines import join_aranges  # noqa: E402

WRITTEN = (
    "cache_seqlens",
    "cu_seqlens_k",
    "seqlens_expanded",
    "sparse_seqlens",
    "sparse_cu_seqlens_k",
    "page_table_1",
    "real_page_table",
)


class SglangReplayPath:
    """One mode's replay bound to fixed output buffers (a specmeta.Metadata of torch tensors).

    `meta.cu_seqlens_k[0]` and `meta.sparse_cu_seqlens_k[0]` must be 0: SGLang
    zeroes them when it allocates the graph's buffers and only writes [1:].
    """

    def __init__(self, torch, mode, meta, req_to_token, *, num_draft_tokens, topk, page_size):
        if mode not in REPLAY_MODES:
            raise ValueError(f"mode: expected one of {', '.join(REPLAY_MODES)} (SGLang's replay path), got {mode!r}")
        self.torch, self.mode, self.meta = torch, mode, meta
        self.req_to_token = req_to_token
        self.n = num_draft_tokens if mode == "target_verify" else 0
        self.topk, self.page_size = topk, page_size
        self.device = req_to_token.device

    def __call__(self, seq_lens, seq_lens_cpu, req_pool_indices, accept_lens=None):
        torch, meta, n = self.torch, self.meta, self.n
        bs = seq_lens.shape[0]
        max_seqlen_k = int(seq_lens_cpu.max().item()) + n
        cache_seqlens = (seq_lens + n).to(torch.int32) if n else seq_lens.to(torch.int32)
        meta.cache_seqlens.copy_(cache_seqlens)
        meta.cu_seqlens_k[1:].copy_(torch.cumsum(cache_seqlens, dim=0, dtype=torch.int32))
        page_indices = self.req_to_token[req_pool_indices, :max_seqlen_k]
        if self.mode == "decode":
            rows = bs
            seqlens_expanded = cache_seqlens
        elif self.mode == "target_verify":
            rows = bs * n
            page_indices = torch.repeat_interleave(page_indices, repeats=n, dim=0)
            kv_cpu = [n + s for s in seq_lens_cpu.tolist()]
            seqlens_expanded = join_aranges(kv_cpu, [n] * bs, self.device)
        else:
            extend_seq_lens = accept_lens[:bs]
            qo_cpu = extend_seq_lens.tolist()
            rows = sum(qo_cpu)
            page_indices = torch.repeat_interleave(page_indices, repeats=extend_seq_lens, dim=0)
            seqlens_expanded = join_aranges(seq_lens_cpu.tolist(), qo_cpu, self.device)
        meta.page_table_1[:rows, :max_seqlen_k].copy_(page_indices)
        if self.mode != "decode":
            meta.seqlens_expanded[:rows].copy_(seqlens_expanded)
        sparse = seqlens_expanded.clamp(max=self.topk)
        meta.sparse_seqlens[:rows].copy_(sparse)
        meta.sparse_cu_seqlens_k[1 : 1 + rows].copy_(torch.cumsum(sparse, dim=0, dtype=torch.int32))
        if self.page_size > 1:
            real = transform_table_1_to_real(torch, page_indices, self.page_size)
            meta.real_page_table[: real.shape[0], : real.shape[1]].copy_(real)
        return meta
