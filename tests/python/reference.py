"""Independent NumPy references for the specmeta ragged expansion.

Two references, both written from documents rather than from the library:

* `reference_expand` follows /work/shared/SPEC.md sections 2-4 and 6: all five
  outputs of `specmeta.expand` (seqlens_expanded, cu_seqlens_q, row_to_req,
  num_rows, status) for a given capacity, including rows past the total and
  the data-dependent fault bits. Per-request arithmetic is done on Python
  integers, so no intermediate value can wrap, whatever the input.
* `seed_before` re-implements (in NumPy) SGLang's "before" code of the seed
  document: one `arange(kv - qo + 1, kv + 1)` per request, concatenated. It is
  only meaningful for valid input (0 <= qo_b <= kv_b); `seed_before` refuses
  anything else, so that a test cannot compare against it by accident.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

INT32_MAX = 2**31 - 1
NO_MAX_QO = INT32_MAX  # the default upper bound on a per-request qo

# Fault bits of the `status` output (SPEC section 6).
BIT_CAPACITY = 1  # rows needed exceed capacity
BIT_QO_GT_KV = 2  # some qo_b > kv_b
BIT_POOL = 4  # bad req_pool_indices (not used by expand)
BIT_OVERFLOW = 8  # a value or prefix sum does not fit int32 (saturated)
BIT_QO_RANGE = 16  # some qo_b < 0 or > max_qo (the request counts as 0 rows)

POISON = 0x7F7F7F7F  # what tests fill outputs with before each call

# Any first-row length below this gives 0 for every row j < 2^31, and any
# above INT32_MAX saturates; clipping to +-2^40 keeps int64 math exact.
_CLIP = 2**40


@dataclass
class Expected:
    """What every output of one call must hold (SPEC sections 3, 4 and 6)."""

    seqlens_expanded: np.ndarray  # int32 [capacity]
    cu_seqlens_q: np.ndarray  # int32 [bs + 1]
    row_to_req: np.ndarray  # int32 [capacity]
    num_rows: int
    status: int
    total: int  # rows the batch needs (unsaturated, may exceed capacity)
    capacity: int

    def as_dict(self) -> dict:
        return {
            "seqlens_expanded": self.seqlens_expanded,
            "cu_seqlens_q": self.cu_seqlens_q,
            "row_to_req": self.row_to_req,
            "num_rows": np.array([self.num_rows], dtype=np.int32),
            "status": np.array([self.status], dtype=np.int32),
        }


def _is_uniform(qo_lens) -> bool:
    return isinstance(qo_lens, numbers.Integral) and not isinstance(qo_lens, bool)


def _as_ints(values) -> list[int]:
    return [int(v) for v in np.asarray(values).tolist()]


def effective_qo(kv_lens, qo_lens, max_qo: int = NO_MAX_QO) -> tuple[list[int], int]:
    """Per-request row counts after the range check, and the bits it raised.

    A per-request qo outside [0, max_qo] is a data fault (bit 16) and the
    request contributes no rows. A uniform qo is checked on the host (an
    error, not a bit), so it is taken as given here.
    """
    bs = len(kv_lens)
    if _is_uniform(qo_lens):
        return [int(qo_lens)] * bs, 0
    bits = 0
    out = []
    for q in _as_ints(qo_lens):
        if q < 0 or q > max_qo:
            bits |= BIT_QO_RANGE
            q = 0
        out.append(q)
    return out, bits


def total_rows(kv_lens, qo_lens, max_qo: int = NO_MAX_QO) -> int:
    return sum(effective_qo(kv_lens, qo_lens, max_qo)[0])


def reference_expand(kv_lens, qo_lens, capacity: int | None = None, max_qo: int | None = None) -> Expected:
    """Every output of `specmeta.expand` per the SPEC, for one capacity.

    kv_lens: a 1-D integer array (any width; values used exactly).
    qo_lens: a Python int (uniform) or a 1-D integer array (one per request).
    capacity: rows of the per-row outputs; defaults to the total.
    """
    if max_qo is None:
        max_qo = NO_MAX_QO
    kv = _as_ints(kv_lens)
    bs = len(kv)
    qo, status = effective_qo(kv, qo_lens, max_qo)

    # Per-request faults: qo > kv clamps lengths at 0 (bit 2); the longest
    # value of a request with rows is its last one, kv_b, which saturates at
    # INT32_MAX when larger (bit 8). These are properties of the expansion,
    # raised whether or not the request's rows fit the capacity.
    for k, q in zip(kv, qo):
        if q > k:
            status |= BIT_QO_GT_KV
        if q > 0 and k > INT32_MAX:
            status |= BIT_OVERFLOW

    # cu_seqlens_q: exclusive then total; each entry saturates at INT32_MAX.
    starts = [0] * (bs + 1)
    for b in range(bs):
        starts[b + 1] = starts[b] + qo[b]
    total = starts[bs]
    if total > INT32_MAX:
        status |= BIT_OVERFLOW
    cu = np.array([min(s, INT32_MAX) for s in starts], dtype=np.int32)

    if capacity is None:
        capacity = total
    if total > capacity:
        status |= BIT_CAPACITY
    num_rows = min(total, capacity)

    # Rows [0, num_rows): request b owns rows starts[b] + j, j < qo_b.
    live = np.array([max(0, min(q, capacity - s)) for q, s in zip(qo, starts)], dtype=np.int64)
    first = np.array([max(-_CLIP, min(_CLIP, k - q + 1)) for k, q in zip(kv, qo)], dtype=np.int64)
    start_arr = np.array(starts[:bs], dtype=np.int64)
    assert int(live.sum()) == num_rows
    req = np.repeat(np.arange(bs, dtype=np.int64), live)
    j = np.arange(num_rows, dtype=np.int64) - np.repeat(start_arr, live)
    values = np.clip(np.repeat(first, live) + j, 0, INT32_MAX)

    seqlens = np.zeros(capacity, dtype=np.int32)  # rows past the total: 0
    row_to_req = np.full(capacity, -1, dtype=np.int32)  # rows past the total: -1
    seqlens[:num_rows] = values.astype(np.int32)
    row_to_req[:num_rows] = req.astype(np.int32)
    return Expected(seqlens, cu, row_to_req, num_rows, status, total, capacity)


def is_valid_for_seed(kv_lens, qo_lens) -> bool:
    """True where the seed's "before" code is defined: 0 <= qo_b <= kv_b < 2^31."""
    kv = _as_ints(kv_lens)
    qo = [int(qo_lens)] * len(kv) if _is_uniform(qo_lens) else _as_ints(qo_lens)
    return all(0 <= q <= k <= INT32_MAX for k, q in zip(kv, qo))


def seed_before(kv_lens, qo_lens) -> np.ndarray:
    """SGLang's "before" seqlens_expanded, re-implemented in NumPy.

    The seed builds, for each request, `torch.arange(kv_len - qo_len + 1,
    kv_len + 1, dtype=torch.int32)` and concatenates the pieces with
    `torch.cat`. Valid only for 0 <= qo_b <= kv_b (a negative start would
    give negative lengths, qo_b < 0 an empty or wrong piece).
    """
    if not is_valid_for_seed(kv_lens, qo_lens):
        raise ValueError("seed_before: defined only for 0 <= qo_b <= kv_b <= INT32_MAX")
    kv = _as_ints(kv_lens)
    qo = [int(qo_lens)] * len(kv) if _is_uniform(qo_lens) else _as_ints(qo_lens)
    pieces = [np.arange(k - q + 1, k + 1, dtype=np.int64) for q, k in zip(qo, kv)]
    if not pieces:
        return np.zeros(0, dtype=np.int32)
    return np.concatenate(pieces).astype(np.int32)


def seed_target_verify_before(seq_lens, num_draft_tokens: int) -> np.ndarray:
    """The seed's target_verify "before": qo_b = N, kv_b = seq_b + N."""
    kv = [int(s) + num_draft_tokens for s in _as_ints(seq_lens)]
    return seed_before(np.array(kv, dtype=np.int64), [num_draft_tokens] * len(kv))


def seed_draft_extend_before(seq_lens, accept_lens) -> np.ndarray:
    """The seed's draft_extend "before": qo_b = accept_lens[b], kv_b = seq_b."""
    return seed_before(seq_lens, accept_lens)
