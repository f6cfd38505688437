"""Independent reference for the fused metadata builder (`specmeta.build_metadata`).

Written from /work/shared/SPEC.md (sections 2-4 and 6) and
docs/builder-contract.md only: no code from the library. Given a mode, its
inputs, the output geometry (capacity, width, page_size), topk, kpool,
full_width and the pre-call contents of every wanted output, `reference_metadata`
returns what every element of every output must hold after the call:

* elements the contract says a call writes get their value;
* every other element (page-table columns past a row's live prefix, rows past
  `num_rows`, rows of a request with a bad pool index, elements of a buffer
  longer than its required size) keeps its pre-call value.

All length arithmetic is on Python integers (exact, unbounded), then clamped
as the contract states; NumPy int64 is only used where values are already
bounded (|value| <= 2^40 per row, sums of at most `capacity` int32 values).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np

INT32_MAX = 2**31 - 1

# Fault bits of `status` (SPEC section 6).
BIT_CAPACITY = 1  # rows needed exceed capacity
BIT_QO_GT_KV = 2  # some qo_b > kv_b
BIT_POOL = 4  # a req_pool_indices entry outside [0, pool) while a page table is wanted
BIT_OVERFLOW = 8  # a value or prefix sum does not fit int32 (saturated)
BIT_QO_RANGE = 16  # some per-request qo_b < 0 or > max_qo (the request has 0 rows)
ALL_BITS = (BIT_CAPACITY, BIT_QO_GT_KV, BIT_POOL, BIT_OVERFLOW, BIT_QO_RANGE)

POISON = 0x7F7F7F7F  # what tests fill outputs with before each call

OUTPUTS = (
    "cache_seqlens",
    "cu_seqlens_k",
    "cu_seqlens_q",
    "seqlens_expanded",
    "sparse_seqlens",
    "sparse_cu_seqlens_k",
    "row_to_req",
    "num_rows",
    "page_table_1",
    "real_page_table",
    "status",
)
MODES = ("decode", "target_verify", "draft_extend", "draft_extend_static", "extend")
PAGE_TABLES = ("page_table_1", "real_page_table")
PER_REQUEST = ("cache_seqlens", "cu_seqlens_k", "cu_seqlens_q")
PER_ROW = ("seqlens_expanded", "sparse_seqlens", "sparse_cu_seqlens_k", "row_to_req")

# Mode -> which per-request array (if any) gives qo_b, and whether the mode
# reads num_draft_tokens (N). From the builder contract's "Modes" table.
MODE_QO_ARRAY = {
    "decode": None,
    "target_verify": None,
    "draft_extend": "accept_lens",
    "draft_extend_static": None,
    "extend": "extend_lens",
}
MODE_USES_N = {
    "decode": False,
    "target_verify": True,  # required
    "draft_extend": True,  # optional: max accept length
    "draft_extend_static": True,  # required
    "extend": False,
}
MODE_NEEDS_N = {"target_verify", "draft_extend_static"}


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def output_shapes(bs: int, capacity: int, width: int = 0, page_size: int = 1) -> dict:
    """The exact shape of every output (what Metadata.empty allocates)."""
    return {
        "cache_seqlens": (bs,),
        "cu_seqlens_k": (bs + 1,),
        "cu_seqlens_q": (bs + 1,),
        "seqlens_expanded": (capacity,),
        "sparse_seqlens": (capacity,),
        "sparse_cu_seqlens_k": (capacity + 1,),
        "row_to_req": (capacity,),
        "num_rows": (1,),
        "page_table_1": (capacity, width),
        "real_page_table": (capacity, ceil_div(width, page_size)),
        "status": (1,),
    }


def _ints(values) -> list[int]:
    return [int(v) for v in np.asarray(values).reshape(-1).tolist()]


def mode_lengths(
    mode: str,
    seq_lens,
    *,
    accept_lens=None,
    extend_lens=None,
    num_draft_tokens: Optional[int] = None,
) -> tuple[list[int], list[int], int]:
    """(qo_b after the range check, kv_b, status bits of the check) per the contract's mode table.

    Per-request qo (accept_lens, extend_lens) outside [0, max_qo] sets bit 16
    and the request has no rows. A uniform qo (1 or N) is host-checked, so it
    is taken as given.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    seq = _ints(seq_lens)
    bs = len(seq)
    n = None if num_draft_tokens is None else int(num_draft_tokens)
    if mode == "decode":
        return [1] * bs, seq, 0
    if mode == "target_verify":
        return [n] * bs, [s + n for s in seq], 0
    if mode == "draft_extend_static":
        return [n] * bs, seq, 0
    if mode == "draft_extend":
        raw, max_qo = _ints(accept_lens)[:bs], (INT32_MAX if n is None else n)
    else:  # extend
        raw, max_qo = _ints(extend_lens)[:bs], INT32_MAX
    bits = 0
    qo = []
    for q in raw:
        if q < 0 or q > max_qo:
            bits |= BIT_QO_RANGE
            q = 0
        qo.append(q)
    return qo, seq, bits


def sparse_length(x: np.ndarray, topk: int, kpool: int) -> np.ndarray:
    """g(x) = min(f, topk) + (x - f), f = (x // kpool) * kpool (kpool = 1: min(x, topk)).

    x is int64 in [0, INT32_MAX]; the result is at most x, so it fits int32.
    """
    x = np.asarray(x, dtype=np.int64)
    f = (x // kpool) * kpool
    return np.minimum(f, topk) + (x - f)


@dataclass
class ExpectedMetadata:
    """What one destination set must hold after a call."""

    arrays: dict  # name -> whole buffer (NumPy int32, the pre-call shape)
    status: int  # the status value the call computes (also when status is not wanted)
    num_rows: int
    total: int  # rows needed (unsaturated, may exceed capacity)
    qo: list = field(default_factory=list)  # per request, after the range check
    kv: list = field(default_factory=list)  # per request, exact


def reference_metadata(
    mode: str,
    seq_lens,
    *,
    prev: Mapping[str, np.ndarray],
    capacity: int,
    width: int = 0,
    page_size: int = 1,
    req_pool_indices=None,
    req_to_token=None,
    accept_lens=None,
    extend_lens=None,
    num_draft_tokens: Optional[int] = None,
    topk: int = 2048,
    kpool: int = 1,
    full_width: bool = False,
) -> ExpectedMetadata:
    """Every wanted output after one call, as the contract defines it.

    prev: {output name: its buffer before the call} for exactly the wanted
    outputs; buffers may be longer (more elements / rows) than required and
    keep their extra elements. Host-level validity (shapes, dtypes, capacity
    >= a uniform total) is assumed: this models what a *valid* call writes.
    """
    wanted = set(prev)
    unknown = wanted - set(OUTPUTS)
    assert not unknown, f"unknown outputs {unknown}"
    qo, kv, status = mode_lengths(
        mode, seq_lens, accept_lens=accept_lens, extend_lens=extend_lens, num_draft_tokens=num_draft_tokens
    )
    bs = len(kv)
    out = {name: np.array(buf, dtype=np.int32, copy=True) for name, buf in prev.items()}

    # ---- per-request lengths and their faults
    starts = [0] * (bs + 1)  # cu_q_b, exact
    for b in range(bs):
        starts[b + 1] = starts[b] + qo[b]
    total = starts[bs]
    kv_clamped = [min(max(k, 0), INT32_MAX) for k in kv]
    for q, k in zip(qo, kv):
        if q > k:
            status |= BIT_QO_GT_KV  # lengths clamp at 0
        if q > 0 and k > INT32_MAX:
            status |= BIT_OVERFLOW  # (a) the request's last row saturates
    if total > INT32_MAX:
        status |= BIT_OVERFLOW  # (b)
    if total > capacity:
        status |= BIT_CAPACITY
    num_rows = min(total, capacity)
    if wanted & {"cache_seqlens", "cu_seqlens_k"} and any(k > INT32_MAX for k in kv):
        status |= BIT_OVERFLOW  # (c)
    if "cu_seqlens_k" in wanted and sum(kv_clamped) > INT32_MAX:
        status |= BIT_OVERFLOW  # (d)

    if "cache_seqlens" in out:
        out["cache_seqlens"][:bs] = kv_clamped
    if "cu_seqlens_k" in out:
        running = 0
        values = [0]
        for k in kv_clamped:
            running += k
            values.append(min(running, INT32_MAX))
        out["cu_seqlens_k"][: bs + 1] = values
    if "cu_seqlens_q" in out:
        out["cu_seqlens_q"][: bs + 1] = [min(s, INT32_MAX) for s in starts]

    # ---- rows [0, num_rows): request b owns rows starts[b] + j, j < live[b]
    live = [max(0, min(q, capacity - s)) for q, s in zip(qo, starts)]
    assert sum(live) == num_rows
    req = np.repeat(np.arange(bs, dtype=np.int64), live)
    row_start = np.repeat(np.array(starts[:bs], dtype=np.int64), live)
    # kv - qo + 1 clipped to +-2^40: past those bounds every row's value is
    # already 0 or INT32_MAX for any j < 2^31, and int64 stays exact.
    first = np.array([max(-(2**40), min(2**40, k - q + 1)) for k, q in zip(kv, qo)], dtype=np.int64)
    j = np.arange(num_rows, dtype=np.int64) - row_start
    x = np.clip(np.repeat(first, live) + j, 0, INT32_MAX)
    sparse = sparse_length(x, topk, kpool)
    sparse_cum = np.cumsum(sparse, dtype=np.int64)  # <= capacity * 2^31: exact in int64
    sparse_total = int(sparse_cum[-1]) if num_rows else 0
    if "sparse_cu_seqlens_k" in wanted and sparse_total > INT32_MAX:
        status |= BIT_OVERFLOW  # (e)

    def per_row(name: str, live_values: np.ndarray, tail: int) -> None:
        if name in out:
            buf = out[name]
            buf[:num_rows] = live_values
            buf[num_rows:capacity] = tail

    per_row("seqlens_expanded", x, 0)
    per_row("sparse_seqlens", sparse, 0)
    per_row("row_to_req", req, -1)
    if "sparse_cu_seqlens_k" in out:
        buf = out["sparse_cu_seqlens_k"]
        buf[0] = 0
        buf[1 : num_rows + 1] = np.minimum(sparse_cum, INT32_MAX)
        buf[num_rows + 1 : capacity + 1] = min(sparse_total, INT32_MAX)  # flat past the rows
    if "num_rows" in out:
        out["num_rows"][0] = num_rows

    # ---- page tables: live rows of requests with a valid pool index only
    if wanted & set(PAGE_TABLES):
        assert req_pool_indices is not None and req_to_token is not None
        table = np.asarray(req_to_token)
        pool = table.shape[0]
        rpi = _ints(req_pool_indices)[:bs]
        if any(not 0 <= p < pool for p in rpi):
            status |= BIT_POOL
        for b in range(bs):
            if live[b] == 0 or not 0 <= rpi[b] < pool:
                continue
            rows = slice(starts[b], starts[b] + live[b])
            length = width if full_width else min(max(kv[b], 0), width)
            source = table[rpi[b]]
            if "page_table_1" in out:
                out["page_table_1"][rows, :length] = source[:length]
            if "real_page_table" in out:
                pages = ceil_div(length, page_size)
                # floor division, as torch `//` (also for negative slot ids)
                out["real_page_table"][rows, :pages] = np.floor_divide(
                    source[0 : pages * page_size : page_size].astype(np.int64), page_size
                )

    if "status" in out:
        out["status"][0] = status
    return ExpectedMetadata(out, status, num_rows, total, qo, kv)
