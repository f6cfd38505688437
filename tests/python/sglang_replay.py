"""SGLang's NSA backend CUDA-graph replay path, re-implemented in PyTorch.

What SGLang's `NativeSparseAttnBackend.init_forward_metadata_replay_cuda_graph`
(python/sglang/srt/layers/attention/nsa_backend.py) computes for the modes
decode, target_verify and draft_extend, written here in our own code from the
seed document and reading that file. The facts it carries over:

* cache_seqlens = (seq_lens [+ N in target_verify]).to(int32);
  cu_seqlens_k[1:] = torch.cumsum(cache_seqlens, dtype=int32), with a leading 0;
* the page table is `req_to_token[req_pool_indices, :max_seqlen_k]`, where
  max_seqlen_k is the host-side maximum of the lengths (seq_lens_cpu.max()
  [+ N]); target_verify repeats each request's row N times and draft_extend
  accept_lens[b] times (`torch.repeat_interleave(..., dim=0)`);
* seqlens_expanded is the seed's "before": one `torch.arange(kv - qo + 1, kv + 1)`
  per request, concatenated (decode: cache_seqlens itself);
* nsa_cache_seqlens_int32 = seqlens_expanded.clamp(max=topk)
  (`compute_nsa_seqlens`), nsa_cu_seqlens_k = its int32 cumsum after a 0;
* real_page_table = page_table[:, arange(0, max_seqlen_k, ps)] // ps when ps > 1
  (`_transform_table_1_to_real`); with ps == 1 it *is* page_table_1.

SGLang's graph keeps cu_seqlens_q and nsa_cu_seqlens_q as static aranges (one
"sequence" per query row). SPEC's per-request cu_seqlens_q is what SGLang's
extend path computes, `compute_cu_seqlens(extend_seq_lens)`, so that formula
is used here; row_to_req is SGLang's `token_to_batch_idx`
(repeat_interleave(arange(bs), qo)). SGLang has no kpool, so the replay is only
defined for kpool == 1.

Extensions for the adapter tests (python/specmeta/integrations/sglang.py), from
the newer DSA backend (dsa_backend.py, dsa_backend_mtp_precompute.py):

* `static_width=True`: the page-table width is the captured buffer's
  (`metadata.page_table_1.shape[1]`, here W') instead of the host maximum
  (seq_lens_cpu.max()), so no host copy of the lengths is needed;
* mode "draft_extend_static" is DRAFT_EXTEND_V2: every request extends by
  N (speculative_num_draft_tokens) tokens, kv_b = seq_b, the page table
  repeated N times;
* `sglang_precompute_decode` / `sglang_copy_precomputed`: the multi-step draft
  scheme (`_precompute_decode_mode` without its fused kernel, then
  `init_forward_metadata_replay_cuda_graph_from_precomputed` per step);
* `sglang_capture_static`: the fields SGLang sets once at capture and never
  writes on replay (cu_seqlens_q aranges, host maxima, the extend list).

Valid input only (0 <= qo_b <= kv_b <= INT32_MAX, pool indices in range, and
no int32 prefix sum past INT32_MAX, where SGLang's torch.cumsum would wrap
while SPEC saturates): the replay refuses anything else (`in_replay_domain`). Its page tables cover max_seqlen_k columns
of every row; only each row's live prefix [0, min(kv_b, W')) is promised by
SPEC, and `compare_live` compares exactly those parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

INT32_MAX = 2**31 - 1
REPLAY_MODES = ("decode", "target_verify", "draft_extend")
V2_MODE = "draft_extend_static"  # SGLang's DRAFT_EXTEND_V2 (accepted by sglang_replay, not in REPLAY_MODES)


def in_replay_domain(qo, kv, topk: int) -> bool:
    """Where SGLang's int32 arithmetic is exact: 0 <= qo_b <= kv_b <= INT32_MAX and no
    int32 prefix sum (of kv, of the rows, of the clipped row lengths) wraps."""
    qo = [int(q) for q in qo]
    kv = [int(k) for k in kv]
    if not all(0 <= q <= k <= INT32_MAX for q, k in zip(qo, kv)):
        return False
    if sum(kv) > INT32_MAX or sum(qo) > INT32_MAX:
        return False
    # row j of request b has length kv_b - qo_b + 1 + j; sum of min(length, topk) per request
    sparse_sum = 0
    for q, k in zip(qo, kv):
        lengths = np.arange(k - q + 1, k + 1, dtype=np.int64)
        sparse_sum += int(np.minimum(lengths, topk).sum())
    return sparse_sum <= INT32_MAX


def compute_cu_seqlens(torch, seqlens):
    """0, then the inclusive int32 cumsum (SGLang's helper of the same name)."""
    assert seqlens.dtype == torch.int32
    return torch.nn.functional.pad(torch.cumsum(seqlens, dim=0, dtype=torch.int32), (1, 0))


def transform_table_1_to_real(torch, page_table, page_size: int):
    """Every page_size-th column, divided by page_size (floor, as torch `//`)."""
    if page_size == 1:
        return page_table
    strided = torch.arange(0, page_table.shape[1], page_size, device=page_table.device, dtype=torch.int32)
    return page_table[:, strided] // page_size


@dataclass
class Replay:
    """The live metadata SGLang's replay writes (torch tensors on the input device)."""

    cache_seqlens: object  # [bs]
    cu_seqlens_k: object  # [bs + 1]
    cu_seqlens_q: object  # [bs + 1]
    seqlens_expanded: object  # [rows]
    sparse_seqlens: object  # [rows]  (nsa_cache_seqlens_int32)
    sparse_cu_seqlens_k: object  # [rows + 1]  (nsa_cu_seqlens_k)
    row_to_req: object  # [rows]  (token_to_batch_idx)
    num_rows: int
    page_table_1: Optional[object]  # [rows, max_seqlen_k] or None without a table
    real_page_table: Optional[object]  # [rows, ceil(max_seqlen_k / ps)]
    live_columns: np.ndarray  # [rows] int64: min(kv_b, W') of each row's request


def sglang_replay(
    torch,
    mode: str,
    seq_lens,
    *,
    num_draft_tokens: Optional[int] = None,
    accept_lens=None,
    req_pool_indices=None,
    req_to_token=None,
    width: Optional[int] = None,
    page_size: int = 1,
    topk: int = 2048,
    static_width: bool = False,
) -> Replay:
    """SGLang's replay for one batch. Inputs are torch tensors (any device).

    width: W', the page-table width the caller's buffers have; SGLang's
    `self.req_to_token` is that wide, so the replay reads `req_to_token[:, :W']`.
    """
    if mode not in REPLAY_MODES + (V2_MODE,):
        raise ValueError(f"SGLang's replay path has no mode {mode!r}")
    bs = int(seq_lens.shape[0])
    device = seq_lens.device
    n = 0 if num_draft_tokens is None else int(num_draft_tokens)
    seq_lens_cpu = seq_lens.cpu()  # SGLang receives this host copy alongside seq_lens

    # qo_b per mode (host copy: SGLang's extend_seq_lens_cpu)
    if mode == "decode":
        extend_seq_lens = torch.ones(bs, dtype=torch.int32, device=device)
    elif mode in ("target_verify", V2_MODE):
        extend_seq_lens = torch.full((bs,), n, dtype=torch.int32, device=device)
    else:
        extend_seq_lens = accept_lens[:bs]
    extend_seq_lens_cpu = [int(v) for v in extend_seq_lens.tolist()]
    kv_cpu = [int(s) + (n if mode == "target_verify" else 0) for s in seq_lens_cpu.tolist()]
    if not in_replay_domain(extend_seq_lens_cpu, kv_cpu, topk):
        raise ValueError("sglang_replay: defined only for 0 <= qo_b <= kv_b <= INT32_MAX and int32 prefix sums")

    cache_seqlens = (seq_lens + n if mode == "target_verify" else seq_lens).to(torch.int32)
    cu_seqlens_k = torch.zeros(bs + 1, dtype=torch.int32, device=device)
    cu_seqlens_k[1:].copy_(torch.cumsum(cache_seqlens, dim=0, dtype=torch.int32))

    if mode == "decode":
        seqlens_expanded = cache_seqlens
    else:
        pieces = [
            torch.arange(kv_len - qo_len + 1, kv_len + 1, dtype=torch.int32, device=device)
            for qo_len, kv_len in zip(extend_seq_lens_cpu, kv_cpu, strict=True)
        ]
        seqlens_expanded = torch.cat(pieces) if pieces else torch.zeros(0, dtype=torch.int32, device=device)
    rows = int(seqlens_expanded.shape[0])
    sparse_seqlens = seqlens_expanded.clamp(max=topk)
    sparse_cu_seqlens_k = torch.zeros(rows + 1, dtype=torch.int32, device=device)
    sparse_cu_seqlens_k[1 : 1 + rows].copy_(torch.cumsum(sparse_seqlens, dim=0, dtype=torch.int32))
    cu_seqlens_q = compute_cu_seqlens(torch, extend_seq_lens.to(torch.int32))
    row_to_req = torch.repeat_interleave(
        torch.arange(bs, dtype=torch.int32, device=device), extend_seq_lens.to(torch.int64)
    )

    page_table_1 = real_page_table = None
    live_columns = np.zeros(rows, dtype=np.int64)
    if req_to_token is not None:
        table = req_to_token if width is None else req_to_token[:, :width]
        w = int(table.shape[1])
        pool = int(table.shape[0])
        if not all(0 <= int(p) < pool for p in req_pool_indices[:bs].tolist()):
            raise ValueError("sglang_replay: defined only for pool indices in [0, pool)")
        # SGLang's slice stops at the table's width; the newer replay takes that width outright
        max_seqlen_k = w if static_width else min(max(kv_cpu, default=0), w)
        page_indices = table[req_pool_indices[:bs], :max_seqlen_k]
        if mode != "decode":
            page_indices = torch.repeat_interleave(page_indices, repeats=extend_seq_lens.to(torch.int64), dim=0)
        page_table_1 = page_indices
        real_page_table = transform_table_1_to_real(torch, page_indices, page_size)
        live_columns = np.repeat(np.minimum(np.array(kv_cpu, dtype=np.int64), w), extend_seq_lens_cpu)

    return Replay(
        cache_seqlens=cache_seqlens,
        cu_seqlens_k=cu_seqlens_k,
        cu_seqlens_q=cu_seqlens_q,
        seqlens_expanded=seqlens_expanded,
        sparse_seqlens=sparse_seqlens,
        sparse_cu_seqlens_k=sparse_cu_seqlens_k,
        row_to_req=row_to_req,
        num_rows=rows,
        page_table_1=page_table_1,
        real_page_table=real_page_table,
        live_columns=live_columns,
    )


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def compare_live(got: dict, replay: Replay, page_size: int, context: str = "") -> list[str]:
    """The live parts of `got` (NumPy buffers by output name) that differ from the replay.

    Live parts: per-request outputs over [0, bs(+1)), per-row outputs over the
    replay's rows, num_rows, and in each page-table row the columns before
    min(kv_b, W') (pages before ceil(min(kv_b, W') / ps)). Returns one message
    per differing output (empty: all equal), so a test can assert on it.
    """
    problems = []
    bs = int(replay.cache_seqlens.shape[0])
    rows = replay.num_rows
    sizes = {"cache_seqlens": bs, "cu_seqlens_k": bs + 1, "cu_seqlens_q": bs + 1, "seqlens_expanded": rows,
             "sparse_seqlens": rows, "sparse_cu_seqlens_k": rows + 1, "row_to_req": rows}
    for name, size in sizes.items():
        if name not in got:
            continue
        want = _np(getattr(replay, name)).astype(np.int32)
        have = np.asarray(got[name])[:size]
        if not np.array_equal(have, want):
            bad = np.flatnonzero(have != want)
            i = int(bad[0])
            problems.append(f"{context}: {name} differs from SGLang's replay at {len(bad)} of {size}; "
                            f"first [{i}]: got {int(have[i])}, SGLang {int(want[i])}")
    if "num_rows" in got and int(np.asarray(got["num_rows"])[0]) != rows:
        problems.append(f"{context}: num_rows is {int(np.asarray(got['num_rows'])[0])}, SGLang has {rows} rows")
    for name, unit in (("page_table_1", 1), ("real_page_table", page_size)):
        block = getattr(replay, name)
        if name not in got or block is None:
            continue
        want = _np(block)
        have = np.asarray(got[name])[:rows, : want.shape[1]]
        live = -(-replay.live_columns // unit)  # live columns (pages) of each row
        mask = np.arange(want.shape[1])[None, :] < live[:, None]
        diff = (have != want) & mask
        if diff.any():
            r, c = (int(v) for v in np.argwhere(diff)[0])
            problems.append(f"{context}: {name} differs from SGLang's replay at {int(diff.sum())} live elements; "
                            f"first [{r}, {c}]: got {int(have[r, c])}, SGLang {int(want[r, c])}")
    return problems


def sglang_capture_static(mode: str, bs: int, n: int, width: int, prefix: str = "nsa") -> dict:
    """The fields SGLang's capture sets and its replay never writes (graph path), by SGLang name:
    one query "sequence" per row (rows = bs in decode, bs * N otherwise), the captured page-table
    width as max_seq_len_k."""
    rows = bs if mode == "decode" else bs * n
    return {
        "cu_seqlens_q": np.arange(rows + 1, dtype=np.int32),
        f"{prefix}_cu_seqlens_q": np.arange(rows + 1, dtype=np.int32),
        "max_seq_len_q": 1,
        "max_seq_len_k": width,
        f"{prefix}_max_seqlen_q": 1,
        f"{prefix}_extend_seq_lens_list": [1] * rows,
    }


def sglang_precompute_decode(torch, seq_lens, req_pool_indices, req_to_token, *, width: int, page_size: int = 1,
                             topk: int = 2048, for_comparison: bool = True) -> Replay:
    """SGLang's multi-step precompute for decode (`_precompute_decode_mode`, torch path): every
    step's metadata computed once. The page table spans the static width W' (the captured buffer's).

    for_comparison=False computes only what SGLang computes (no host read: capturable in a CUDA
    graph); the fields only `compare_live` needs (cu_seqlens_q, row_to_req, live_columns) are None."""
    bs = int(seq_lens.shape[0])
    cache_seqlens = seq_lens.to(torch.int32)
    cu_seqlens_k = compute_cu_seqlens(torch, cache_seqlens)
    page_indices = req_to_token[req_pool_indices, :width].contiguous()
    sparse_seqlens = cache_seqlens.clamp(max=topk)
    real = transform_table_1_to_real(torch, page_indices, page_size) if page_size > 1 else page_indices
    cu_seqlens_q = row_to_req = live_columns = None
    if for_comparison:
        cu_seqlens_q = compute_cu_seqlens(torch, torch.ones(bs, dtype=torch.int32, device=seq_lens.device))
        row_to_req = torch.arange(bs, dtype=torch.int32, device=seq_lens.device)
        live_columns = np.minimum(seq_lens.detach().cpu().numpy().astype(np.int64), width)
    return Replay(
        cache_seqlens=cache_seqlens,
        cu_seqlens_k=cu_seqlens_k,
        cu_seqlens_q=cu_seqlens_q,
        seqlens_expanded=cache_seqlens,
        sparse_seqlens=sparse_seqlens,
        sparse_cu_seqlens_k=compute_cu_seqlens(torch, sparse_seqlens),
        row_to_req=row_to_req,
        num_rows=bs,
        page_table_1=page_indices,
        real_page_table=real,
        live_columns=live_columns,
    )


def sglang_copy_precomputed(pre: Replay, dest: dict, page_size: int = 1) -> None:
    """One step's copies (`init_forward_metadata_replay_cuda_graph_from_precomputed`, decode,
    without the fused copy kernel) into `dest`, that step's buffers by SPEC name."""
    width = pre.page_table_1.shape[1]
    dest["cache_seqlens"].copy_(pre.cache_seqlens)
    dest["cu_seqlens_k"][1:].copy_(pre.cu_seqlens_k[1:])
    dest["page_table_1"][:, :width].copy_(pre.page_table_1)
    dest["sparse_seqlens"].copy_(pre.sparse_seqlens)
    size = pre.num_rows
    dest["sparse_cu_seqlens_k"][1 : 1 + size].copy_(pre.sparse_cu_seqlens_k[1 : 1 + size])
    if page_size > 1:
        rows, cols = pre.real_page_table.shape
        dest["real_page_table"][:rows, :cols].copy_(pre.real_page_table)
