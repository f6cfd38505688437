"""The fused metadata builder (`specmeta.build_metadata`, `specmeta.Builder`) on
the CPU backend: NumPy arrays, and CPU torch tensors where torch is installed.

Every call writes into buffers filled with POISON that extend past what the
call may touch (GUARD elements after 1-D outputs; guard rows and, for strided
views, guard columns around page tables). Each check compares the *whole*
buffer: the written elements against `metadata_reference` (SPEC.md and
docs/builder-contract.md), and every other element against its pre-call value.
For valid input in decode/target_verify/draft_extend with kpool 1 the live
parts are also compared with SGLang's replay path (`sglang_replay`, needs torch).

The first section is the harness; test_metadata_gpu.py imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

import numpy as np
import pytest

import specmeta
from harness import Backend, TorchBackend, assert_array_equal, describe_case
from metadata_reference import (
    BIT_CAPACITY,
    BIT_OVERFLOW,
    BIT_POOL,
    BIT_QO_GT_KV,
    BIT_QO_RANGE,
    INT32_MAX,
    MODES,
    OUTPUTS,
    PAGE_TABLES,
    POISON,
    ceil_div,
    mode_lengths,
    output_shapes,
    reference_metadata,
)
from sglang_replay import REPLAY_MODES, compare_live, in_replay_domain, sglang_replay

GUARD = 8  # poisoned elements after each 1-D output
GUARD_ROWS = 2  # poisoned rows after each page table
INT64_MAX = 2**63 - 1

# ---------------------------------------------------------------------------
# Harness: one batch, its buffers, the call, the checks


@dataclass
class Batch:
    """The inputs of one call, as NumPy arrays (None: not passed)."""

    mode: str
    seq_lens: np.ndarray
    num_draft_tokens: Optional[int] = None
    accept_lens: Optional[np.ndarray] = None
    extend_lens: Optional[np.ndarray] = None
    req_pool_indices: Optional[np.ndarray] = None
    req_to_token: Optional[np.ndarray] = None  # [pool, W] int32

    @property
    def bs(self) -> int:
        return len(self.seq_lens)

    def lengths(self, bs: Optional[int] = None) -> tuple[list, list, int]:
        """(checked qo, kv, bits) of the first bs requests, per the reference."""
        bs = self.bs if bs is None else bs
        return mode_lengths(
            self.mode, self.seq_lens[:bs],
            accept_lens=None if self.accept_lens is None else self.accept_lens[:bs],
            extend_lens=None if self.extend_lens is None else self.extend_lens[:bs],
            num_draft_tokens=self.num_draft_tokens,
        )

    def total(self, bs: Optional[int] = None) -> int:
        return sum(self.lengths(bs)[0])


@dataclass
class Layout:
    """Output geometry and the knobs of one call."""

    capacity: int
    width: int = 0
    page_size: int = 1
    topk: int = 2048
    kpool: int = 1
    full_width: bool = False
    outputs: tuple = OUTPUTS
    sets: int = 1  # destination sets
    table_stride: Optional[int] = None  # req_to_token row stride (None: contiguous)
    page_stride_extra: int = 0  # page-table row stride = cols + this (0: contiguous)
    longer: int = 0  # extra elements (rows) passed *inside* each output; they must keep POISON


def strided_rows(backend: Backend, a: np.ndarray, row_stride: Optional[int], fill=POISON) -> Any:
    """`a` ([rows, cols]) as a backend array whose rows are `row_stride` elements apart."""
    if row_stride is None or row_stride == a.shape[1]:
        return backend.from_numpy(a)
    assert row_stride > a.shape[1]
    big = np.full((a.shape[0], row_stride), fill, dtype=a.dtype)
    big[:, : a.shape[1]] = a
    return backend.from_numpy(big)[:, : a.shape[1]]


class DestinationSet:
    """Poisoned buffers for the wanted outputs of one Metadata, and their guards."""

    def __init__(self, backend: Backend, bs: int, layout: Layout):
        self.backend = backend
        self.shapes = {}
        self.backings = {}
        self.views = {}
        shapes = output_shapes(bs, layout.capacity, layout.width, layout.page_size)
        for name in layout.outputs:
            shape = shapes[name]
            if len(shape) == 1:
                size = shape[0] + layout.longer
                backing = backend.poisoned(size + GUARD)
                view = backing[:size]
                self.shapes[name] = (size,)
            else:
                rows, cols = shape[0] + layout.longer, shape[1]
                stride = cols + layout.page_stride_extra
                backing = backend.from_numpy(np.full((rows + GUARD_ROWS, stride), POISON, dtype=np.int32))
                view = backing[:rows, :cols]
                self.shapes[name] = (rows, cols)
            self.backings[name] = backing
            self.views[name] = view

    def metadata(self, bs: int, layout: Layout):
        return specmeta.Metadata(
            bs=bs, capacity=layout.capacity, width=layout.width, page_size=layout.page_size, **self.views
        )

    def read(self) -> tuple[dict, dict]:
        """({name: what the view holds}, {name: the guard elements around it}) as NumPy."""
        got, guards = {}, {}
        for name, backing in self.backings.items():
            whole = self.backend.to_numpy(backing)
            shape = self.shapes[name]
            if len(shape) == 1:
                got[name] = whole[: shape[0]]
                guards[name] = whole[shape[0] :]
            else:
                rows, cols = shape
                got[name] = whole[:rows, :cols]
                guards[name] = np.concatenate([whole[rows:].ravel(), whole[:rows, cols:].ravel()])
        return got, guards

    def poisoned_prev(self) -> dict:
        return {name: np.full(shape, POISON, dtype=np.int32) for name, shape in self.shapes.items()}


def call_kwargs(backend: Backend, batch: Batch, layout: Layout) -> dict:
    """The keyword arguments of build_metadata / Builder for this batch (minus out)."""
    kwargs = dict(topk=layout.topk, kpool=layout.kpool, page_size=layout.page_size, full_width=layout.full_width)
    for name in ("accept_lens", "extend_lens", "req_pool_indices"):
        value = getattr(batch, name)
        if value is not None:
            kwargs[name] = backend.from_numpy(value)
    if batch.num_draft_tokens is not None:
        kwargs["num_draft_tokens"] = batch.num_draft_tokens
    if batch.req_to_token is not None:
        kwargs["req_to_token"] = strided_rows(backend, batch.req_to_token, layout.table_stride)
    return kwargs


def wants_tables(layout: Layout) -> bool:
    return any(name in layout.outputs for name in PAGE_TABLES)


def expected_for(batch: Batch, layout: Layout, prev: dict, bs: Optional[int] = None):
    """The reference for the first bs requests of the batch."""
    bs = batch.bs if bs is None else bs
    cut = lambda a: None if a is None else a[:bs]  # noqa: E731
    return reference_metadata(
        batch.mode, batch.seq_lens[:bs], prev=prev, capacity=layout.capacity, width=layout.width,
        page_size=layout.page_size, req_pool_indices=cut(batch.req_pool_indices),
        req_to_token=batch.req_to_token if wants_tables(layout) else None,
        accept_lens=cut(batch.accept_lens), extend_lens=cut(batch.extend_lens),
        num_draft_tokens=batch.num_draft_tokens, topk=layout.topk, kpool=layout.kpool, full_width=layout.full_width,
    )


def status_text(value: int) -> str:
    return f"{value} ({'; '.join(specmeta.describe_status(value)) or 'no fault'})"


def check_set(got: dict, guards: dict, expected, context: str) -> None:
    """One destination set equals the reference, element for element, guards intact."""
    if "status" in got and int(got["status"][0]) != expected.status:
        raise AssertionError(f"{context}: status is {status_text(int(got['status'][0]))}, "
                             f"expected {status_text(expected.status)}")
    for name, have in got.items():
        want = expected.arrays[name]
        if have.ndim == 1:
            assert_array_equal(name, have, want, context)
        elif not np.array_equal(have, want):
            diff = np.argwhere(have != want)
            r, c = (int(v) for v in diff[0])
            raise AssertionError(
                f"{context}: {name} differs at {len(diff)} of {have.size} elements; first at [{r}, {c}]: "
                f"got {int(have[r, c])}, expected {int(want[r, c])} ({'POISON' if want[r, c] == POISON else 'written'}); "
                f"row got {have[r, max(0, c - 3) : c + 4].tolist()}, expected {want[r, max(0, c - 3) : c + 4].tolist()}"
            )
        if not np.all(guards[name] == POISON):
            raise AssertionError(f"{context}: {name} was written outside its buffer")


def replay_applies(batch: Batch, layout: Layout, bs: Optional[int] = None) -> bool:
    """SGLang's replay is defined here: its modes, kpool 1, valid lengths and indices, rows fit."""
    if batch.mode not in REPLAY_MODES or layout.kpool != 1:
        return False
    bs = batch.bs if bs is None else bs
    qo, kv, bits = batch.lengths(bs)
    if bits or sum(qo) > layout.capacity or not in_replay_domain(qo, kv, layout.topk):
        return False
    if wants_tables(layout):
        pool = batch.req_to_token.shape[0]
        if not all(0 <= int(p) < pool for p in batch.req_pool_indices[:bs]):
            return False
    return True


def torch_or_none():
    try:
        import torch
    except Exception:
        return None
    return torch


def check_against_replay(batch: Batch, layout: Layout, got: dict, context: str, device: str = "cpu",
                         bs: Optional[int] = None) -> bool:
    """Compares the live parts with SGLang's replay (on `device`); False where it does not apply."""
    torch = torch_or_none()
    if torch is None or not replay_applies(batch, layout, bs):
        return False
    bs = batch.bs if bs is None else bs
    t = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a[:bs])).to(device)  # noqa: E731
    tables = wants_tables(layout)
    replay = sglang_replay(
        torch, batch.mode, t(batch.seq_lens), num_draft_tokens=batch.num_draft_tokens,
        accept_lens=t(batch.accept_lens),
        req_pool_indices=t(batch.req_pool_indices) if tables else None,
        req_to_token=torch.from_numpy(np.ascontiguousarray(batch.req_to_token)).to(device) if tables else None,
        width=layout.width, page_size=layout.page_size, topk=layout.topk,
    )
    problems = compare_live(got, replay, layout.page_size, context + " vs SGLang replay")
    assert not problems, "\n".join(problems)
    return True


def run_build(backend: Backend, batch: Batch, layout: Layout, *, context: str = "", stream: Any = None,
              replay_device: str = "cpu") -> list:
    """build_metadata on poisoned sets; checks every set and guard; returns [(got, expected)] per set."""
    sets = [DestinationSet(backend, batch.bs, layout) for _ in range(layout.sets)]
    metas = [s.metadata(batch.bs, layout) for s in sets]
    out = metas[0] if layout.sets == 1 else metas
    kwargs = call_kwargs(backend, batch, layout)
    if stream is not None:
        kwargs["stream"] = stream
    result = specmeta.build_metadata(batch.mode, backend.from_numpy(batch.seq_lens), out=out, **kwargs)
    assert result is out
    backend.sync()
    return check_sets(backend, batch, layout, sets, context, replay_device=replay_device)


def check_sets(backend, batch, layout, sets, context, *, bs=None, replay_device="cpu") -> list:
    context = f"{backend.name} {context}"
    results = []
    for i, dest in enumerate(sets):
        got, guards = dest.read()
        expected = expected_for(batch, layout, dest.poisoned_prev(), bs)
        check_set(got, guards, expected, f"{context} set {i} total={expected.total} capacity={layout.capacity}")
        results.append((got, expected))
    if results:
        check_against_replay(batch, layout, results[0][0], context, replay_device, bs)
    return results


# ---------------------------------------------------------------------------
# Random batches


def mode_qo(rng: np.random.Generator, mode: str, bs: int, n: int, qo_dtype, qo_hi: int = 16) -> tuple:
    """(num_draft_tokens, accept_lens, extend_lens) of a valid batch of this mode."""
    if mode == "decode":
        return None, None, None
    if mode in ("target_verify", "draft_extend_static"):
        return n, None, None
    if mode == "draft_extend":
        return n, rng.integers(0, n + 1, size=bs).astype(qo_dtype), None
    return None, None, rng.integers(0, qo_hi + 1, size=bs).astype(qo_dtype)


def random_batch(
    rng: np.random.Generator,
    mode: str,
    bs: int,
    *,
    n: int = 4,
    seq_dtype=np.int64,
    idx_dtype=np.int64,
    qo_dtype=np.int32,
    width: int = 64,
    tables: bool = True,
    pool: Optional[int] = None,
    table_width: Optional[int] = None,
    padded: int = 0,
    spread: Optional[int] = None,
) -> Batch:
    """A valid batch (0 <= qo_b <= kv_b); lengths straddle the page-table width.

    padded: the last `padded` requests are CUDA-graph padding as SGLang's
    runner leaves it: seq_len 1, a stale (in-range) pool index, accept/extend 1.
    """
    num_draft_tokens, accept, extend = mode_qo(rng, mode, bs, n, qo_dtype)
    qo = np.ones(bs, dtype=np.int64) if mode == "decode" else (
        np.full(bs, n, dtype=np.int64) if accept is None and extend is None else
        (accept if accept is not None else extend).astype(np.int64))
    spread = 2 * width + 3 if spread is None else spread
    # target_verify: kv = seq + N >= N = qo for any seq >= 0
    floor = np.zeros(bs, dtype=np.int64) if mode == "target_verify" else qo
    seq = floor + rng.integers(0, spread + 1, size=bs)
    pool = pool if pool is not None else max(4, bs // 2 + 3)
    batch = Batch(mode, seq.astype(seq_dtype), num_draft_tokens, accept, extend)
    if tables:
        w = table_width if table_width is not None else width + int(rng.integers(0, 5))
        batch.req_to_token = rng.integers(0, INT32_MAX, size=(pool, w), dtype=np.int64).astype(np.int32)
        batch.req_pool_indices = rng.integers(0, pool, size=bs).astype(idx_dtype)
    if padded:
        pad = slice(bs - padded, bs)
        batch.seq_lens[pad] = 1
        if batch.accept_lens is not None:
            batch.accept_lens[pad] = 1
        if batch.extend_lens is not None:
            batch.extend_lens[pad] = 1
    return batch


def set_kv(batch: Batch, b: int, kv: int) -> None:
    """Makes kv_b = kv where the batch stays valid (kv_b >= qo_b), else the smallest valid kv_b."""
    qo = batch.lengths()[0][b]
    if batch.mode == "target_verify":  # kv = seq + N
        batch.seq_lens[b] = max(kv, qo) - batch.num_draft_tokens
    else:
        batch.seq_lens[b] = max(kv, qo)


def capacity_for(rng: np.random.Generator, total: int, how: str) -> int:
    return {"exact": total, "larger": total + int(rng.integers(1, 40)), "much": 2 * total + 100}[how]


# ---------------------------------------------------------------------------
# Backends


@pytest.fixture(params=["numpy", pytest.param("torch-cpu", marks=pytest.mark.needs_torch)])
def backend(request) -> Backend:
    if request.param == "numpy":
        return Backend()
    import torch

    return TorchBackend(torch, "cpu")


NUMPY = Backend()

# ---------------------------------------------------------------------------
# The reference pinned to the contract by hand-worked examples (no library involved)

P = POISON
HAND_CASES = {
    # decode, ps 2, topk 4: request 0 in pool row 1 (kv 3 < width 4), request 1 in row 0 (kv 5 > width)
    "decode-ps2": dict(
        batch=Batch("decode", np.array([3, 5], np.int64), req_pool_indices=np.array([1, 0], np.int32),
                    req_to_token=np.array([[10, 11, 12, 13, 14], [20, 21, 22, 23, 24]], np.int32)),
        layout=Layout(capacity=3, width=4, page_size=2, topk=4),
        want=dict(cache_seqlens=[3, 5], cu_seqlens_k=[0, 3, 8], cu_seqlens_q=[0, 1, 2], seqlens_expanded=[3, 5, 0],
                  sparse_seqlens=[3, 4, 0], sparse_cu_seqlens_k=[0, 3, 7, 7], row_to_req=[0, 1, -1], num_rows=[2],
                  page_table_1=[[20, 21, 22, P], [10, 11, 12, 13], [P, P, P, P]],
                  real_page_table=[[10, 11], [5, 6], [P, P]], status=[0]),
    ),
    # target_verify N=2: kv = seq + 2; rows kv-1, kv; request 1's prefix is 2 columns
    "target_verify-N2": dict(
        batch=Batch("target_verify", np.array([1, 0], np.int32), num_draft_tokens=2,
                    req_pool_indices=np.array([0, 0], np.int64), req_to_token=np.array([[7, 8, 9]], np.int32)),
        layout=Layout(capacity=5, width=3, page_size=1, topk=2),
        want=dict(cache_seqlens=[3, 2], cu_seqlens_k=[0, 3, 5], cu_seqlens_q=[0, 2, 4],
                  seqlens_expanded=[2, 3, 1, 2, 0], sparse_seqlens=[2, 2, 1, 2, 0],
                  sparse_cu_seqlens_k=[0, 2, 4, 5, 7, 7], row_to_req=[0, 0, 1, 1, -1], num_rows=[4],
                  page_table_1=[[7, 8, 9], [7, 8, 9], [7, 8, P], [7, 8, P], [P, P, P]],
                  real_page_table=[[7, 8, 9], [7, 8, 9], [7, 8, P], [7, 8, P], [P, P, P]], status=[0]),
    ),
    # draft_extend N=3: accept 5 and -1 out of [0, 3] (bit 16, no rows); request 1 has qo 3 > kv 1
    # (bit 2, lengths clamp at 0); 5 rows for capacity 3 (bit 1). kpool 4, topk 2: g(3)=0+3, g(4)=min(4,2)+0
    "draft_extend-faults-kpool": dict(
        batch=Batch("draft_extend", np.array([4, 1, 6, 2], np.int64), num_draft_tokens=3,
                    accept_lens=np.array([2, 3, 5, -1], np.int32)),
        layout=Layout(capacity=3, topk=2, kpool=4, outputs=tuple(n for n in OUTPUTS if n not in PAGE_TABLES)),
        want=dict(cache_seqlens=[4, 1, 6, 2], cu_seqlens_k=[0, 4, 5, 11, 13], cu_seqlens_q=[0, 2, 5, 5, 5],
                  seqlens_expanded=[3, 4, 0], sparse_seqlens=[3, 2, 0], sparse_cu_seqlens_k=[0, 3, 5, 5],
                  row_to_req=[0, 0, 1], num_rows=[3], status=[BIT_CAPACITY | BIT_QO_GT_KV | BIT_QO_RANGE]),
    ),
    # extend: request 0 has no rows but a bad pool index (bit 4 all the same); full_width writes all 3
    # columns of request 1's rows; real pages floor-divide (-3 // 2 = -2)
    "extend-full-width-bad-index": dict(
        batch=Batch("extend", np.array([5, 9], np.int32), extend_lens=np.array([0, 2], np.int64),
                    req_pool_indices=np.array([5, 0], np.int32), req_to_token=np.array([[-3, 4, 6, 8]], np.int32)),
        layout=Layout(capacity=4, width=3, page_size=2, full_width=True),
        want=dict(cache_seqlens=[5, 9], cu_seqlens_k=[0, 5, 14], cu_seqlens_q=[0, 0, 2], seqlens_expanded=[8, 9, 0, 0],
                  sparse_seqlens=[8, 9, 0, 0], sparse_cu_seqlens_k=[0, 8, 17, 17, 17], row_to_req=[1, 1, -1, -1],
                  num_rows=[2], page_table_1=[[-3, 4, 6], [-3, 4, 6], [P, P, P], [P, P, P]],
                  real_page_table=[[-2, 3], [-2, 3], [P, P], [P, P]], status=[BIT_POOL]),
    ),
    # the same without full_width: request 1's prefix is min(kv, width) = 3 columns anyway
    "draft_extend_static-bad-index-row": dict(
        batch=Batch("draft_extend_static", np.array([2, 1], np.int64), num_draft_tokens=1,
                    req_pool_indices=np.array([0, -1], np.int64), req_to_token=np.array([[4, 5, 6]], np.int32)),
        layout=Layout(capacity=2, width=3, page_size=2),
        want=dict(cache_seqlens=[2, 1], cu_seqlens_k=[0, 2, 3], cu_seqlens_q=[0, 1, 2], seqlens_expanded=[2, 1],
                  sparse_seqlens=[2, 1], sparse_cu_seqlens_k=[0, 2, 3], row_to_req=[0, 1], num_rows=[2],
                  page_table_1=[[4, 5, P], [P, P, P]], real_page_table=[[2, P], [P, P]], status=[BIT_POOL]),
    ),
    # kv past int32 (int64 seq): (a) and (c) of bit 8; cache and prefix sums saturate
    "decode-kv-past-int32": dict(
        batch=Batch("decode", np.array([2**31 + 5, 2**30], np.int64)),
        layout=Layout(capacity=2, outputs=tuple(n for n in OUTPUTS if n not in PAGE_TABLES)),
        want=dict(cache_seqlens=[INT32_MAX, 2**30], cu_seqlens_k=[0, INT32_MAX, INT32_MAX], cu_seqlens_q=[0, 1, 2],
                  seqlens_expanded=[INT32_MAX, 2**30], sparse_seqlens=[2048, 2048], sparse_cu_seqlens_k=[0, 2048, 4096],
                  row_to_req=[0, 1], num_rows=[2], status=[BIT_OVERFLOW]),
    ),
    # (e) alone: only sparse_cu_seqlens_k overflows (topk = INT32_MAX), and it is wanted
    "decode-sparse-sum-overflow": dict(
        batch=Batch("decode", np.array([2**30, 2**30, 2**30], np.int32)),
        layout=Layout(capacity=4, topk=INT32_MAX, outputs=("sparse_cu_seqlens_k", "status")),
        want=dict(sparse_cu_seqlens_k=[0, 2**30, INT32_MAX, INT32_MAX, INT32_MAX], status=[BIT_OVERFLOW]),
    ),
    # the same lengths: no bit when the overflowing sum is not wanted
    "decode-sparse-sum-not-wanted": dict(
        batch=Batch("decode", np.array([2**30, 2**30, 2**30], np.int32)),
        layout=Layout(capacity=4, topk=INT32_MAX, outputs=("sparse_seqlens", "cache_seqlens", "status")),
        want=dict(sparse_seqlens=[2**30] * 3 + [0], cache_seqlens=[2**30] * 3, status=[0]),
    ),
    # (d) alone: cu_seqlens_k saturates
    "decode-kv-sum-overflow": dict(
        batch=Batch("decode", np.array([2**30, 2**30, 2**30], np.int32)),
        layout=Layout(capacity=3, outputs=("cu_seqlens_k", "status")),
        want=dict(cu_seqlens_k=[0, 2**30, INT32_MAX, INT32_MAX], status=[BIT_OVERFLOW]),
    ),
    # extend: total rows past int32 (b), so also past capacity (bit 1); kv = INT32_MAX itself fits
    "extend-total-past-int32": dict(
        batch=Batch("extend", np.array([INT32_MAX, INT32_MAX, 7], np.int64),
                    extend_lens=np.array([INT32_MAX, INT32_MAX, 2], np.int64)),
        layout=Layout(capacity=3, outputs=("cu_seqlens_q", "seqlens_expanded", "num_rows", "status")),
        want=dict(cu_seqlens_q=[0, INT32_MAX, INT32_MAX, INT32_MAX], seqlens_expanded=[1, 2, 3], num_rows=[3],
                  status=[BIT_CAPACITY | BIT_OVERFLOW]),
    ),
    # target_verify N=0: no rows at all; every row is tail
    "target_verify-N0": dict(
        batch=Batch("target_verify", np.array([5, 6], np.int32), num_draft_tokens=0),
        layout=Layout(capacity=2, outputs=("cache_seqlens", "cu_seqlens_q", "row_to_req", "sparse_cu_seqlens_k",
                                           "num_rows", "status")),
        want=dict(cache_seqlens=[5, 6], cu_seqlens_q=[0, 0, 0], row_to_req=[-1, -1], sparse_cu_seqlens_k=[0, 0, 0],
                  num_rows=[0], status=[0]),
    ),
    # bs = 0
    "decode-empty": dict(
        batch=Batch("decode", np.zeros(0, np.int64)),
        layout=Layout(capacity=2, outputs=("cache_seqlens", "cu_seqlens_k", "seqlens_expanded", "sparse_cu_seqlens_k",
                                           "row_to_req", "num_rows", "status")),
        want=dict(cache_seqlens=[], cu_seqlens_k=[0], seqlens_expanded=[0, 0], sparse_cu_seqlens_k=[0, 0, 0],
                  row_to_req=[-1, -1], num_rows=[0], status=[0]),
    ),
    # decode with kv 0 and a negative int64 kv: qo 1 > kv (bit 2), lengths 0, cache clamps at 0
    "decode-kv-zero-negative": dict(
        batch=Batch("decode", np.array([0, -7, 4], np.int64)),
        layout=Layout(capacity=3, outputs=("cache_seqlens", "cu_seqlens_k", "seqlens_expanded", "status")),
        want=dict(cache_seqlens=[0, 0, 4], cu_seqlens_k=[0, 0, 0, 4], seqlens_expanded=[0, 0, 4], status=[BIT_QO_GT_KV]),
    ),
}


def _expected_hand(case) -> Any:
    batch, layout = case["batch"], case["layout"]
    prev = {name: np.full(s, POISON, np.int32)
            for name, s in output_shapes(batch.bs, layout.capacity, layout.width, layout.page_size).items()
            if name in layout.outputs}
    return expected_for(batch, layout, prev)


@pytest.mark.parametrize("name", list(HAND_CASES))
def test_reference_hand_cases(name):
    """The reference itself, against values worked out by hand from the contract."""
    case = HAND_CASES[name]
    expected = _expected_hand(case)
    assert set(expected.arrays) == set(case["want"])
    for output, want in case["want"].items():
        assert expected.arrays[output].tolist() == want, f"{name}: reference {output}"


@pytest.mark.parametrize("name", list(HAND_CASES))
def test_library_hand_cases(backend, name):
    case = HAND_CASES[name]
    results = run_build(backend, case["batch"], case["layout"], context=f"hand case {name}")
    for output, want in case["want"].items():
        assert results[0][0][output].tolist() == want, f"{name}: {output}"


def test_reference_keeps_longer_buffers():
    """Elements past an output's required size are never written (they keep their value)."""
    batch = Batch("decode", np.array([4, 6], np.int32), req_pool_indices=np.array([0, 0], np.int32),
                  req_to_token=np.arange(8, dtype=np.int32).reshape(1, 8))
    layout = Layout(capacity=2, width=5)
    prev = {name: np.full((s[0] + 2,) + s[1:], -5, np.int32)
            for name, s in output_shapes(2, 2, 5, 1).items()}
    expected = expected_for(batch, layout, prev)
    assert expected.arrays["cache_seqlens"].tolist() == [4, 6, -5, -5]
    assert expected.arrays["sparse_cu_seqlens_k"].tolist() == [0, 4, 10, -5, -5]
    assert expected.arrays["page_table_1"].tolist() == [[0, 1, 2, 3, -5], [0, 1, 2, 3, 4], [-5] * 5, [-5] * 5]


@pytest.mark.needs_torch
@pytest.mark.parametrize("name", [n for n in HAND_CASES if HAND_CASES[n]["batch"].mode in REPLAY_MODES])
def test_replay_agrees_with_hand_cases(name):
    """SGLang's replay gives the hand-worked values where it applies (valid input)."""
    case = HAND_CASES[name]
    batch, layout = case["batch"], case["layout"]
    if not replay_applies(batch, layout):
        pytest.skip("input outside SGLang's domain (faults or kpool > 1)")
    assert check_against_replay(batch, layout, _expected_hand(case).arrays, f"hand case {name}")


@pytest.mark.needs_torch
def test_replay_comparison_detects_differences(rng):
    """compare_live is not vacuous: one changed live element of any output is reported."""
    import torch

    batch = random_batch(rng, "draft_extend", 9, n=3, width=40)
    layout = Layout(capacity=batch.total() + 5, width=40, page_size=16)
    got = _expected_hand({"batch": batch, "layout": layout}).arrays
    assert check_against_replay(batch, layout, got, "unchanged")
    for name in ("cache_seqlens", "cu_seqlens_q", "seqlens_expanded", "sparse_cu_seqlens_k", "row_to_req",
                 "page_table_1", "real_page_table", "num_rows"):
        bad = {k: v.copy() for k, v in got.items()}
        bad[name].reshape(-1)[0] += 1
        with pytest.raises(AssertionError, match=name):
            check_against_replay(batch, layout, bad, f"changed {name}")
    del torch


# ---------------------------------------------------------------------------
# Random sweeps: every mode, the batch sizes of interest, both index widths

BS_LIST = [0, 1, 2, 7, 255, 256, 257, 1023, 1024, 1025]
DTYPES = [(np.int32, np.int32), (np.int64, np.int64), (np.int32, np.int64), (np.int64, np.int32)]
DTYPE_IDS = ["seq32-idx32", "seq64-idx64", "seq32-idx64", "seq64-idx32"]


def sweep_layouts(rng: np.random.Generator, bs: int, mode: str):
    """A few (N, page_size, kpool, topk, width, full_width, capacity) combinations for one batch size."""
    for step in range(3):
        n = int(rng.integers(1, 17))
        qo_rows = 16 if mode == "extend" else n
        width = int(rng.choice([1, 7, 16, 63, 64, 65, 130])) if bs * qo_rows <= 4096 else int(rng.choice([1, 16, 33]))
        yield dict(
            n=n,
            width=width,
            page_size=[1, 16, 64][step],
            kpool=int(rng.choice([1, 4])),
            topk=int(rng.choice([1, 5, 64, 2048])),
            full_width=bool(step == 1),
            capacity_how=["exact", "larger", "much"][step],
        )


def run_sweep(backend, rng, rng_seed, mode, bs, seq_dtype, idx_dtype, *, replay_device="cpu", **extra):
    for knobs in sweep_layouts(rng, bs, mode):
        batch = random_batch(rng, mode, bs, n=knobs["n"], seq_dtype=seq_dtype, idx_dtype=idx_dtype,
                             qo_dtype=idx_dtype, width=knobs["width"])
        capacity = capacity_for(rng, batch.total(), knobs["capacity_how"])
        if mode == "decode":
            batch.num_draft_tokens = None
        layout = Layout(capacity=capacity, width=knobs["width"], page_size=knobs["page_size"], kpool=knobs["kpool"],
                        topk=knobs["topk"], full_width=knobs["full_width"], **extra)
        ctx = describe_case(rng_seed, mode=mode, bs=bs, **{k: v for k, v in knobs.items() if k != "capacity_how"},
                            capacity=capacity)
        run_build(backend, batch, layout, context=ctx, replay_device=replay_device)


@pytest.mark.parametrize("seq_dtype,idx_dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bs", BS_LIST)
@pytest.mark.parametrize("mode", MODES)
def test_mode_sweep(backend, rng, rng_seed, mode, bs, seq_dtype, idx_dtype):
    """Every mode and output, random N 1..16, page size, kpool, topk, width, full_width, capacity."""
    run_sweep(backend, rng, rng_seed, mode, bs, seq_dtype, idx_dtype)


@pytest.mark.parametrize("bs", [4097, 8193, 40000])
@pytest.mark.parametrize("mode", MODES)
def test_large_batches(rng, rng_seed, mode, bs):
    """Larger batches (CPU is cheap here): narrow page tables, every other output."""
    batch = random_batch(rng, mode, bs, n=int(rng.integers(1, 5)), qo_dtype=np.int64, width=3, spread=5000)
    if mode == "extend":
        batch.extend_lens = np.minimum(batch.extend_lens, 3)  # keeps the row total (and memory) small
    layout = Layout(capacity=batch.total() + 17, width=3, page_size=2, topk=int(rng.choice([64, 2048])))
    run_build(NUMPY, batch, layout, context=describe_case(rng_seed, mode=mode, bs=bs))


@pytest.mark.parametrize("n", range(1, 17))
@pytest.mark.parametrize("mode", ["target_verify", "draft_extend", "draft_extend_static"])
def test_every_num_draft_tokens(backend, rng, rng_seed, mode, n):
    batch = random_batch(rng, mode, 37, n=n, width=20)
    layout = Layout(capacity=batch.total() + 3, width=20, page_size=16)
    run_build(backend, batch, layout, context=describe_case(rng_seed, mode=mode, n=n))


@pytest.mark.parametrize("page_size", [1, 16, 64])
@pytest.mark.parametrize("width", [1, 2, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000, 4096])
@pytest.mark.parametrize("mode", MODES)
def test_page_size_and_width(rng, rng_seed, mode, width, page_size):
    """Page boundaries: widths around multiples of the page size; lengths around the width."""
    batch = random_batch(rng, mode, 9, n=3, width=width, spread=2 * width + 5)
    for b, kv in enumerate((width - 1, width, width + 1)):
        set_kv(batch, b, kv)
    for full_width in (False, True):
        layout = Layout(capacity=batch.total() + 2, width=width, page_size=page_size, full_width=full_width)
        run_build(NUMPY, batch, layout, context=describe_case(rng_seed, mode=mode, width=width, ps=page_size,
                                                              full_width=full_width))


@pytest.mark.parametrize("width", [65536, 262143, 1048576])
@pytest.mark.parametrize("mode", ["decode", "target_verify", "draft_extend", "extend"])
def test_very_wide_tables(rng, rng_seed, mode, width):
    """Up to 2^20 columns with tiny batches (memory stays small)."""
    bs = 2
    batch = random_batch(rng, mode, bs, n=2, width=width, pool=3, table_width=width + 3)
    batch.seq_lens[0] = width + 10  # beyond the width: the whole row is live
    if mode == "extend":
        batch.extend_lens[:] = np.minimum(batch.extend_lens, 2)
    for page_size, full_width in ((1, False), (64, True), (16, False)):
        layout = Layout(capacity=batch.total() + 1, width=width, page_size=page_size, full_width=full_width)
        run_build(NUMPY, batch, layout, context=describe_case(rng_seed, mode=mode, width=width, ps=page_size))


@pytest.mark.parametrize("kpool", [1, 4])
@pytest.mark.parametrize("topk", [1, 5, 64, 2048])
@pytest.mark.parametrize("mode", MODES)
def test_topk_and_kpool(backend, rng, rng_seed, mode, topk, kpool):
    """Sparse lengths around topk (and its kpool rounding): lengths from 0 to a few topk."""
    batch = random_batch(rng, mode, 300, n=5, width=8, spread=3 * topk + 10)
    layout = Layout(capacity=batch.total() + 4, width=8, page_size=16, topk=topk, kpool=kpool)
    run_build(backend, batch, layout, context=describe_case(rng_seed, mode=mode, topk=topk, kpool=kpool))


@pytest.mark.parametrize("mode", MODES)
def test_full_width_writes_whole_live_rows(rng, rng_seed, mode):
    """full_width: every column of every live row; without it, the rest of the row keeps POISON."""
    batch = random_batch(rng, mode, 40, n=3, width=50, spread=40)
    layout = Layout(capacity=batch.total() + 6, width=50, page_size=16)
    narrow = run_build(NUMPY, batch, layout, context=describe_case(rng_seed, mode=mode))[0]
    wide = run_build(NUMPY, batch, replace(layout, full_width=True), context=describe_case(rng_seed, mode=mode))[0]
    rows = wide[1].num_rows
    assert not np.any(wide[0]["page_table_1"][:rows] == POISON)
    assert not np.any(wide[0]["real_page_table"][:rows] == POISON)
    assert np.all(wide[0]["page_table_1"][rows:] == POISON)
    if rows:  # kv < 50 somewhere: the narrow table left part of a live row alone
        assert np.any(narrow[0]["page_table_1"][:rows] == POISON)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bs,padded", [(8, 3), (256, 200), (1025, 1)])
def test_graph_padded_rows(backend, rng, rng_seed, mode, bs, padded):
    """Padding as a CUDA-graph runner leaves it: seq_len 1, stale pool indices, accept 1."""
    batch = random_batch(rng, mode, bs, n=4, width=24, padded=padded)
    layout = Layout(capacity=batch.total() + 9, width=24, page_size=16, topk=64)
    run_build(backend, batch, layout, context=describe_case(rng_seed, mode=mode, bs=bs, padded=padded))


@pytest.mark.parametrize("mode", MODES)
def test_capacity_much_larger_than_total(backend, rng, rng_seed, mode):
    """Rows past num_rows: 0, 0, -1, a flat sparse_cu_seqlens_k, and untouched page-table rows."""
    batch = random_batch(rng, mode, 30, n=2, width=10)
    total = batch.total()
    layout = Layout(capacity=total + 1000, width=10, page_size=16)
    got, expected = run_build(backend, batch, layout, context=describe_case(rng_seed, mode=mode))[0]
    assert np.all(got["seqlens_expanded"][total:] == 0) and np.all(got["sparse_seqlens"][total:] == 0)
    assert np.all(got["row_to_req"][total:] == -1)
    assert np.all(got["sparse_cu_seqlens_k"][total:] == got["sparse_cu_seqlens_k"][total])
    assert np.all(got["page_table_1"][total:] == POISON) and np.all(got["real_page_table"][total:] == POISON)
    assert int(got["num_rows"][0]) == total == expected.num_rows


SUBSETS = [(name,) for name in OUTPUTS] + [
    ("seqlens_expanded", "row_to_req"),
    ("page_table_1",),
    ("real_page_table", "status"),
    ("cache_seqlens", "cu_seqlens_k", "page_table_1"),
    ("sparse_seqlens", "sparse_cu_seqlens_k", "num_rows", "status"),
    tuple(n for n in OUTPUTS if n not in PAGE_TABLES),
]


@pytest.mark.parametrize("outputs", SUBSETS, ids=lambda c: "+".join(c) if len(c) < 5 else f"{len(c)}-outputs")
@pytest.mark.parametrize("mode", MODES)
def test_output_subsets(backend, rng, rng_seed, mode, outputs):
    """Any subset of the outputs gives the values of the full set (random subsets too)."""
    for subset in (outputs, tuple(n for n in OUTPUTS if rng.random() < 0.5) or ("status",)):
        tables = any(n in PAGE_TABLES for n in subset)
        batch = random_batch(rng, mode, 120, n=3, width=30, tables=tables)
        layout = Layout(capacity=batch.total() + 5, width=30 if tables else 0, page_size=16, outputs=subset)
        run_build(backend, batch, layout, context=describe_case(rng_seed, mode=mode, outputs=subset))


@pytest.mark.parametrize("sets", [2, 3, 8])
@pytest.mark.parametrize("mode", MODES)
def test_several_destination_sets(backend, rng, rng_seed, mode, sets):
    """One call, up to 8 sets: every set holds the same (reference) contents."""
    batch = random_batch(rng, mode, 70, n=4, width=21)
    layout = Layout(capacity=batch.total() + 3, width=21, page_size=16, sets=sets)
    results = run_build(backend, batch, layout, context=describe_case(rng_seed, mode=mode, sets=sets))
    for got, _ in results[1:]:
        for name in OUTPUTS:
            assert np.array_equal(got[name], results[0][0][name])
    subset = ("seqlens_expanded", "page_table_1", "status")
    run_build(backend, batch, replace(layout, outputs=subset), context=describe_case(rng_seed, subset=subset))


@pytest.mark.parametrize("mode", MODES)
def test_strided_tables(backend, rng, rng_seed, mode):
    """req_to_token and both page tables as row views (row stride > width); guards between rows untouched."""
    batch = random_batch(rng, mode, 50, n=3, width=33)
    w = batch.req_to_token.shape[1]
    for table_stride, extra in ((w + 1, 1), (w + 100, 7), (None, 64)):
        layout = Layout(capacity=batch.total() + 2, width=33, page_size=16, table_stride=table_stride,
                        page_stride_extra=extra, full_width=extra == 7)
        run_build(backend, batch, layout, context=describe_case(rng_seed, mode=mode, table_stride=table_stride,
                                                                page_extra=extra))


@pytest.mark.parametrize("mode", MODES)
def test_inputs_longer_than_bs(backend, rng, rng_seed, mode):
    """accept/extend lens and pool indices longer than seq_lens: only the first bs entries are read
    (the rest hold faults that would show in status if they were)."""
    batch = random_batch(rng, mode, 30, n=4, width=12, qo_dtype=np.int64)
    extra = 9
    batch.req_pool_indices = np.concatenate([batch.req_pool_indices, np.full(extra, -1, batch.req_pool_indices.dtype)])
    for name in ("accept_lens", "extend_lens"):
        lens = getattr(batch, name)
        if lens is not None:
            setattr(batch, name, np.concatenate([lens, np.full(extra, -7, lens.dtype)]))
    layout = Layout(capacity=batch.total() + 1, width=12, page_size=16)
    got, expected = run_build(backend, batch, layout, context=describe_case(rng_seed, mode=mode))[0]
    assert expected.status == 0 and int(got["status"][0]) == 0


def test_width_narrower_than_table(rng, rng_seed):
    """W' < W: columns past W' are never read into a page table, whatever kv is."""
    batch = random_batch(rng, "decode", 20, width=10, table_width=200, spread=300)
    for width in (1, 10, 199, 200):
        layout = Layout(capacity=20, width=width, page_size=16, full_width=width == 10)
        run_build(NUMPY, batch, layout, context=describe_case(rng_seed, width=width))


def test_outputs_longer_than_required(backend, rng, rng_seed):
    """Buffers longer than required (more elements / rows): the extra part keeps its contents."""
    for mode in MODES:
        batch = random_batch(rng, mode, 25, n=3, width=12)
        layout = Layout(capacity=batch.total() + 1, width=12, page_size=16, longer=5)
        run_build(backend, batch, layout, context=describe_case(rng_seed, mode=mode, longer=5))


def test_negative_and_shared_slot_ids(rng, rng_seed):
    """Negative slot ids floor-divide (as torch //); requests may share a pool row."""
    batch = random_batch(rng, "target_verify", 16, n=2, width=40, pool=3)
    batch.req_to_token = rng.integers(-(2**31), 2**31, size=batch.req_to_token.shape, dtype=np.int64).astype(np.int32)
    layout = Layout(capacity=batch.total(), width=40, page_size=64)
    run_build(NUMPY, batch, layout, context=describe_case(rng_seed))
    run_build(NUMPY, batch, replace(layout, page_size=3, full_width=True), context=describe_case(rng_seed, ps=3))


# ---------------------------------------------------------------------------
# Lengths near and past INT32_MAX


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("seq_dtype", [np.int32, np.int64], ids=["seq32", "seq64"])
def test_lengths_near_int32_max(backend, rng, rng_seed, mode, seq_dtype):
    """kv_b up to INT32_MAX (int32 seq_lens, target_verify's + N can pass it): exact or saturated."""
    bs, n = 40, 4
    batch = random_batch(rng, mode, bs, n=n, seq_dtype=np.int64, width=16)
    batch.seq_lens = (INT32_MAX - rng.integers(0, 8, size=bs)).astype(seq_dtype)
    layout = Layout(capacity=batch.total() + 3, width=16, page_size=16, topk=int(rng.choice([64, INT32_MAX])))
    got, expected = run_build(backend, batch, layout, context=describe_case(rng_seed, mode=mode))[0]
    # per-request prefix sums of ~2^31 lengths overflow: bit 8 ((c) for target_verify, (d) always)
    assert expected.status & BIT_OVERFLOW
    if seq_dtype is np.int64:
        batch.seq_lens[:5] += rng.integers(1, 2**40, size=5)
        run_build(backend, batch, layout, context=describe_case(rng_seed, mode=mode, past=True))


@pytest.mark.parametrize("mode", MODES)
def test_int64_extremes(backend, rng, rng_seed, mode):
    """seq_lens at the ends of int64: kv - qo + 1 and seq + N are exact (no int64 wrap), so huge
    lengths saturate (bit 8) and huge negative ones clamp at 0 (bit 2)."""
    batch = random_batch(rng, mode, 12, n=16, qo_dtype=np.int64, width=8)
    batch.seq_lens = batch.seq_lens.astype(np.int64)
    batch.seq_lens[:4] = [INT64_MAX, INT64_MAX - 3, -INT64_MAX - 1, -INT64_MAX]
    lens = batch.accept_lens if batch.accept_lens is not None else batch.extend_lens
    if lens is not None:
        lens[:4] = [3, 16, 1, 16]
    layout = Layout(capacity=batch.total() + 2, width=8, page_size=16)
    got, expected = run_build(backend, batch, layout, context=describe_case(rng_seed, mode=mode))[0]
    assert expected.status == BIT_OVERFLOW | BIT_QO_GT_KV
    assert int(got["cache_seqlens"][0]) == INT32_MAX and int(got["cache_seqlens"][2]) == 0


# ---------------------------------------------------------------------------
# Status bits, each provoked on its own


def _status_only_run(backend, batch, outputs, capacity, **layout_kw):
    layout = Layout(capacity=capacity, outputs=outputs, **layout_kw)
    got, expected = run_build(backend, batch, layout, context=f"status {batch.mode} {outputs}")[0]
    return int(got["status"][0]), expected


NO_TABLES = tuple(n for n in OUTPUTS if n not in PAGE_TABLES)


@pytest.mark.parametrize("mode", ["draft_extend", "extend"])
def test_status_bit_capacity(backend, rng, mode):
    batch = random_batch(rng, mode, 50, n=4, tables=False)
    lens = batch.accept_lens if mode == "draft_extend" else batch.extend_lens
    lens[:] = np.maximum(lens, 1)  # every request has rows...
    batch.seq_lens = np.maximum(batch.seq_lens, lens).astype(batch.seq_lens.dtype)  # ...and stays valid
    status, expected = _status_only_run(backend, batch, NO_TABLES, batch.total() - 1)
    assert status == BIT_CAPACITY and expected.num_rows == batch.total() - 1
    status, _ = _status_only_run(backend, batch, NO_TABLES, 0)
    assert status == BIT_CAPACITY


@pytest.mark.parametrize("mode", MODES)
def test_status_bit_qo_greater_than_kv(backend, rng, mode):
    batch = random_batch(rng, mode, 20, n=4, tables=False)
    if mode == "draft_extend":
        batch.accept_lens[3], batch.seq_lens[3] = 3, 1
    elif mode == "extend":
        batch.extend_lens[3], batch.seq_lens[3] = 5, 2
    elif mode == "target_verify":
        batch.seq_lens[3] = -2  # int64 seq: kv = 2 < N = 4
    else:
        batch.seq_lens[3] = 0  # kv 0 < qo (1 or N)
    status, _ = _status_only_run(backend, batch, NO_TABLES, batch.total() + 2)
    assert status == BIT_QO_GT_KV


@pytest.mark.parametrize("bad", [-1, "pool", 2**31 - 1, -(2**40), INT64_MAX, -INT64_MAX - 1])
@pytest.mark.parametrize("mode", MODES)
def test_status_bit_pool_index(backend, rng, mode, bad):
    """A pool index outside [0, pool): bit 4, that request's rows not written, the others are."""
    batch = random_batch(rng, mode, 20, n=3, width=9, pool=6)
    value = 6 if bad == "pool" else bad
    if value < -(2**31):
        batch.req_pool_indices = batch.req_pool_indices.astype(np.int64)
    batch.req_pool_indices[5] = value
    status, expected = _status_only_run(backend, batch, OUTPUTS, batch.total() + 1, width=9, page_size=16)
    assert status == BIT_POOL
    # without page tables the index is not looked at
    no_tables = replace(batch, req_pool_indices=None, req_to_token=None)
    status, _ = _status_only_run(backend, no_tables, NO_TABLES, batch.total() + 1)
    assert status == 0


@pytest.mark.parametrize("case", ["a-last-row", "c-cache", "d-sum", "e-sparse-sum"])
def test_status_bit_overflow(backend, case):
    """Each clause of bit 8 on its own, and the same input without the clause's output."""
    if case == "a-last-row":  # qo > 0, kv > INT32_MAX: the row saturates
        batch = Batch("draft_extend", np.array([2**31 + 3, 10], np.int64), num_draft_tokens=4,
                      accept_lens=np.array([2, 1], np.int32))
        status, _ = _status_only_run(backend, batch, ("seqlens_expanded", "status"), 3)
        assert status == BIT_OVERFLOW
        status, _ = _status_only_run(backend, batch, ("status",), 3)
        assert status == BIT_OVERFLOW  # (a) does not depend on what is wanted
        batch.accept_lens[0] = 0  # no rows: no saturated row, and (c) only if cache/cu_k wanted
        status, _ = _status_only_run(backend, batch, ("seqlens_expanded", "status"), 3)
        assert status == 0
        status, _ = _status_only_run(backend, batch, ("cache_seqlens", "status"), 3)
        assert status == BIT_OVERFLOW
    elif case == "c-cache":
        batch = Batch("extend", np.array([2**33, 4], np.int64), extend_lens=np.array([0, 2], np.int32))
        for wanted, bit in ((("cache_seqlens", "status"), BIT_OVERFLOW), (("cu_seqlens_k", "status"), BIT_OVERFLOW),
                            (("seqlens_expanded", "sparse_cu_seqlens_k", "cu_seqlens_q", "status"), 0)):
            status, _ = _status_only_run(backend, batch, wanted, 2)
            assert status == bit, wanted
    elif case == "d-sum":
        batch = Batch("target_verify", np.array([2**30, 2**30 - 1], np.int32), num_draft_tokens=1)
        status, _ = _status_only_run(backend, batch, ("cu_seqlens_k", "status"), 2)
        assert status == BIT_OVERFLOW
        status, _ = _status_only_run(backend, batch, ("cache_seqlens", "seqlens_expanded", "status"), 2)
        assert status == 0
    else:
        batch = Batch("draft_extend_static", np.array([2**30 + 1, 2**30 + 1], np.int64), num_draft_tokens=2)
        status, _ = _status_only_run(backend, batch, ("sparse_cu_seqlens_k", "status"), 4, topk=INT32_MAX)
        assert status == BIT_OVERFLOW
        status, _ = _status_only_run(backend, batch, ("sparse_cu_seqlens_k", "status"), 4, topk=2**28)
        assert status == 0  # 4 rows of 2^28: the sum 2^30 fits
        status, _ = _status_only_run(backend, batch, ("sparse_seqlens", "cache_seqlens", "status"), 4, topk=INT32_MAX)
        assert status == 0  # the overflowing row sum is not wanted; each kv fits


@pytest.mark.parametrize(
    "mode,n,value",
    [("draft_extend", 4, 5), ("draft_extend", 4, -1), ("draft_extend", None, -(2**31)), ("draft_extend", 0, 1),
     ("draft_extend", 4, INT64_MAX), ("draft_extend", None, -INT64_MAX - 1),
     ("extend", None, -3), ("extend", None, 2**31), ("extend", None, 2**62), ("extend", None, INT64_MAX)],
)
def test_status_bit_qo_out_of_range(backend, rng, mode, n, value):
    """A per-request qo outside [0, max_qo] (max_qo = N, or INT32_MAX): bit 16 and no rows for it."""
    batch = random_batch(rng, mode, 12, n=n or 3, qo_dtype=np.int64, width=10)
    batch.num_draft_tokens = n
    lens = batch.accept_lens if mode == "draft_extend" else batch.extend_lens
    if n == 0:
        lens[:] = 0
    lens[4] = value
    status, expected = _status_only_run(backend, batch, OUTPUTS, batch.total() + 2, width=10, page_size=16)
    assert status == BIT_QO_RANGE and expected.qo[4] == 0


def test_draft_extend_without_n_accepts_any_nonnegative_accept_length(backend, rng):
    batch = random_batch(rng, "draft_extend", 10, n=3, width=10)
    batch.num_draft_tokens = None
    batch.accept_lens[2] = 40
    batch.seq_lens[2] = 45
    status, _ = _status_only_run(backend, batch, OUTPUTS, batch.total(), width=10)
    assert status == 0


def test_all_bits_at_once(backend):
    batch = Batch("draft_extend", np.array([2**31 + 9, 1, 30, 40], np.int64), num_draft_tokens=4,
                  accept_lens=np.array([2, 3, 9, 4], np.int32), req_pool_indices=np.array([0, 1, 0, 7], np.int64),
                  req_to_token=np.arange(20, dtype=np.int32).reshape(2, 10))
    status, _ = _status_only_run(backend, batch, OUTPUTS, 4, width=10, page_size=16)
    assert status == BIT_CAPACITY | BIT_QO_GT_KV | BIT_POOL | BIT_OVERFLOW | BIT_QO_RANGE


def test_status_holds_only_this_calls_faults(backend, rng):
    """status is overwritten by every call (not OR-ed over calls); so are the other outputs."""
    bad = Batch("extend", np.array([1, 5], np.int64), extend_lens=np.array([4, -1], np.int32))
    good = Batch("extend", np.array([3, 5], np.int64), extend_lens=np.array([1, 2], np.int32))
    layout = Layout(capacity=3, outputs=NO_TABLES)
    dest = DestinationSet(backend, 2, layout)
    meta = dest.metadata(2, layout)
    for batch, status in ((bad, BIT_CAPACITY | BIT_QO_GT_KV | BIT_QO_RANGE), (good, 0)):
        specmeta.build_metadata(batch.mode, backend.from_numpy(batch.seq_lens), out=meta,
                                extend_lens=backend.from_numpy(batch.extend_lens))
        got, guards = dest.read()
        assert int(got["status"][0]) == status
        # the prior contents (the bad call's) are not POISON: compare with what this call writes over them
        prev = {name: np.array(v, copy=True) for name, v in got.items()}
        check_set(got, guards, expected_for(batch, layout, prev), f"after {batch.extend_lens.tolist()}")


def test_metadata_check(backend):
    """Metadata.check(): None when status is 0, else a RuntimeError naming every set bit."""
    layout = Layout(capacity=2, outputs=NO_TABLES)
    dest = DestinationSet(backend, 2, layout)
    meta = dest.metadata(2, layout)
    specmeta.build_metadata("decode", backend.from_numpy(np.array([3, 4], np.int32)), out=meta)
    assert meta.check() is None
    specmeta.build_metadata("extend", backend.from_numpy(np.array([1, 4], np.int64)), out=meta,
                            extend_lens=backend.from_numpy(np.array([3, -2], np.int32)))
    with pytest.raises(RuntimeError) as info:
        meta.check()
    message = str(info.value)
    for bit in (BIT_CAPACITY, BIT_QO_GT_KV, BIT_QO_RANGE):
        (text,) = specmeta.describe_status(bit)
        assert text in message, f"check() does not name bit {bit}: {message!r}"
    for bit in (BIT_POOL, BIT_OVERFLOW):
        (text,) = specmeta.describe_status(bit)
        assert text not in message, f"check() names bit {bit}, which is not set: {message!r}"


# ---------------------------------------------------------------------------
# Builder: validated once, launched many times on the same arrays


def write_into(backend: Backend, x: Any, a: np.ndarray) -> None:
    """Overwrites array x (any framework, possibly a view) with the values of a, in place."""
    if isinstance(x, np.ndarray):
        x[...] = a
    elif hasattr(x, "copy_"):
        import torch

        x.copy_(torch.from_numpy(np.ascontiguousarray(a)).to(x.device))
    else:
        x[...] = backend.cupy.asarray(a)


def new_values(rng: np.random.Generator, template: Batch, n: int, width: int, padded: int = 0) -> Batch:
    """A fresh valid batch of the template's mode, shapes and dtypes (what a server writes
    into captured arrays before a replay); `padded` trailing requests are graph padding."""
    lens = template.accept_lens if template.accept_lens is not None else template.extend_lens
    fresh = random_batch(rng, template.mode, template.bs, n=n, width=width, padded=padded,
                         seq_dtype=template.seq_lens.dtype.type, qo_dtype=np.int32 if lens is None else lens.dtype.type,
                         idx_dtype=template.req_pool_indices.dtype.type, pool=template.req_to_token.shape[0],
                         table_width=template.req_to_token.shape[1])
    if fresh.extend_lens is not None:  # at most n rows a request, so the rows fit a capacity of bs * n
        fresh.extend_lens = np.minimum(fresh.extend_lens, n).astype(fresh.extend_lens.dtype)
    return fresh


class BoundBatch:
    """A batch's inputs as backend arrays that stay put (what a Builder or a CUDA graph captures)."""

    def __init__(self, backend: Backend, batch: Batch, layout: Layout):
        self.backend = backend
        self.seq_lens = backend.from_numpy(batch.seq_lens)
        self.kwargs = call_kwargs(backend, batch, layout)

    def load(self, batch: Batch) -> None:
        write_into(self.backend, self.seq_lens, batch.seq_lens)
        for name in ("accept_lens", "extend_lens", "req_pool_indices", "req_to_token"):
            if name in self.kwargs:
                write_into(self.backend, self.kwargs[name], getattr(batch, name))


def poison_sets(backend: Backend, sets: list) -> None:
    for dest in sets:
        for backing in dest.backings.values():
            write_into(backend, backing, np.full(tuple(backing.shape), POISON, dtype=np.int32))


@pytest.mark.parametrize("mode", MODES)
def test_builder_replays_with_new_values(backend, rng, rng_seed, mode):
    """Builder(...) once; each call sees the inputs' current values and the bs it is given."""
    max_bs, n, width = 48, 4, 20
    batch = random_batch(rng, mode, max_bs, n=n, width=width, qo_dtype=np.int64)
    if mode == "extend":
        batch.extend_lens = np.minimum(batch.extend_lens, n)
    layout = Layout(capacity=max_bs * n + 7, width=width, page_size=16, topk=int(rng.choice([5, 2048])), sets=2,
                    table_stride=batch.req_to_token.shape[1] + 3)
    sets = [DestinationSet(backend, max_bs, layout) for _ in range(layout.sets)]
    bound = BoundBatch(backend, batch, layout)
    builder = specmeta.Builder(mode, out=[s.metadata(max_bs, layout) for s in sets], seq_lens=bound.seq_lens,
                               **bound.kwargs)
    for step in range(8):
        batch = new_values(rng, batch, n, width)
        call_bs = [None, max_bs, 0, 1, 17, max_bs - 1, 30, None][step]
        if step == 5:
            batch.seq_lens[:3] = -1  # kv < qo (bit 2) in one replay only
        if call_bs is not None and call_bs < max_bs:
            # faults in the requests past bs: never read, so no bit and no effect
            batch.seq_lens[call_bs:] = -5
            batch.req_pool_indices[call_bs:] = -1
        bound.load(batch)
        poison_sets(backend, sets)
        builder(bs=call_bs) if call_bs is not None else builder()
        backend.sync()
        check_sets(backend, batch, layout, sets, describe_case(rng_seed, mode=mode, step=step, bs=call_bs),
                   bs=max_bs if call_bs is None else call_bs)


# ---------------------------------------------------------------------------
# Metadata, Metadata.empty and the module's names


def test_module_names():
    assert specmeta.OUTPUTS == OUTPUTS
    assert specmeta.MODES == MODES


@pytest.mark.parametrize("bs,capacity,width,page_size", [(0, 0, 0, 1), (3, 10, 17, 16), (5, 5, 64, 64), (2, 9, 1, 64)])
def test_metadata_empty_shapes(bs, capacity, width, page_size):
    meta = specmeta.Metadata.empty(bs=bs, capacity=capacity, width=width, page_size=page_size)
    assert (meta.bs, meta.capacity, meta.width, meta.page_size) == (bs, capacity, width, page_size)
    for name, shape in output_shapes(bs, capacity, width, page_size).items():
        array = getattr(meta, name)
        assert isinstance(array, np.ndarray), name
        assert array.shape == shape and array.dtype == np.int32, name
        assert not array.any(), f"{name} is not zero-filled"
    assert meta.real_page_table.shape[1] == ceil_div(width, page_size)


def test_metadata_empty_subset_and_build():
    subset = ("seqlens_expanded", "page_table_1", "status")
    meta = specmeta.Metadata.empty(bs=2, capacity=4, width=6, page_size=2, outputs=subset)
    for name in OUTPUTS:
        assert (getattr(meta, name) is None) == (name not in subset), name
    table = np.arange(12, dtype=np.int32).reshape(2, 6)
    out = specmeta.build_metadata("target_verify", np.array([3, 5], np.int32), out=meta, num_draft_tokens=2,
                                  req_pool_indices=np.array([1, 0], np.int32), req_to_token=table, page_size=2)
    assert out is meta
    assert meta.seqlens_expanded.tolist() == [4, 5, 6, 7]
    # request 0: kv 5, pool row 1 (column 5 keeps its zero); request 1: kv 7 > width, pool row 0
    assert meta.page_table_1.tolist() == [[6, 7, 8, 9, 10, 0]] * 2 + [[0, 1, 2, 3, 4, 5]] * 2
    assert meta.status.tolist() == [0]


@pytest.mark.needs_torch
def test_metadata_empty_like_torch():
    import torch

    like = torch.zeros(1, dtype=torch.int64)
    meta = specmeta.Metadata.empty(bs=3, capacity=7, width=5, page_size=2, like=like)
    for name, shape in output_shapes(3, 7, 5, 2).items():
        array = getattr(meta, name)
        assert isinstance(array, torch.Tensor) and array.device == like.device, name
        assert tuple(array.shape) == shape and array.dtype == torch.int32, name
        assert not bool(array.any()), name


def test_metadata_holds_given_arrays():
    arrays = {name: np.zeros(shape, np.int32) for name, shape in output_shapes(2, 3, 4, 2).items()
              if name in ("cache_seqlens", "page_table_1")}
    meta = specmeta.Metadata(bs=2, capacity=3, width=4, page_size=2, **arrays)
    assert meta.cache_seqlens is arrays["cache_seqlens"] and meta.page_table_1 is arrays["page_table_1"]
    assert meta.real_page_table is None and meta.status is None
    assert (meta.bs, meta.capacity, meta.width, meta.page_size) == (2, 3, 4, 2)


def test_metadata_empty_outputs_are_disjoint_and_aligned():
    """No two outputs of Metadata.empty overlap, and each starts 16-byte aligned (a page
    table's vector copy needs it)."""
    meta = specmeta.Metadata.empty(bs=3, capacity=7, width=5, page_size=2)
    arrays = {name: getattr(meta, name) for name in OUTPUTS}
    for i, (name, array) in enumerate(arrays.items()):
        assert array.flags.c_contiguous and array.flags.writeable, name
        assert array.__array_interface__["data"][0] % 16 == 0, name
        for other, second in list(arrays.items())[i + 1 :]:
            assert not np.shares_memory(array, second), (name, other)


def _tv_call(meta, seq, **kw):
    table = np.arange(12, dtype=np.int32).reshape(2, 6)
    return specmeta.build_metadata("target_verify", np.array(seq, np.int32), out=meta, num_draft_tokens=2,
                                   req_pool_indices=np.array([1, 0], np.int32), req_to_token=table, page_size=2, **kw)


@pytest.mark.parametrize("name", OUTPUTS)
def test_assigned_output_is_written_and_the_old_one_is_not(name):
    """An output assigned after Metadata.empty is read again by the next call: the call
    writes the new array, and leaves the replaced one alone."""
    meta = specmeta.Metadata.empty(bs=2, capacity=4, width=6, page_size=2)
    _tv_call(meta, [3, 5])
    expected = getattr(meta, name).copy()
    old = getattr(meta, name)
    old.fill(POISON)
    setattr(meta, name, np.zeros_like(old))  # zero-filled as Metadata.empty's, for cells no call writes
    _tv_call(meta, [3, 5])
    assert_array_equal(name, getattr(meta, name), expected, "the assigned output")
    assert (old == POISON).all(), f"the replaced {name} was written"


def test_assigned_output_is_checked_again():
    meta = specmeta.Metadata.empty(bs=2, capacity=4, width=6, page_size=2)
    _tv_call(meta, [3, 5])
    meta.seqlens_expanded = np.zeros(4, np.int64)
    with pytest.raises(TypeError, match="out.seqlens_expanded: expected dtype int32, got int64"):
        _tv_call(meta, [3, 5])
    meta.seqlens_expanded = np.zeros(3, np.int32)
    with pytest.raises(ValueError, match="seqlens_expanded"):
        _tv_call(meta, [3, 5])
    meta.seqlens_expanded = np.zeros(4, np.int32)
    _tv_call(meta, [3, 5])
    assert meta.seqlens_expanded.tolist() == [4, 5, 6, 7]


@pytest.mark.parametrize("size", [2, 4096], ids=["shrunk", "grown"])
def test_metadata_empty_output_resized_in_place(size):
    """An output of Metadata.empty resized in place (NumPy may move it, or keep its address
    with fewer bytes) sends the next call back to reading every output."""
    meta = specmeta.Metadata.empty(bs=2, capacity=4, width=6, page_size=2)
    _tv_call(meta, [3, 5])
    meta.seqlens_expanded.resize(size, refcheck=False)
    if size < 4:
        with pytest.raises(ValueError, match="seqlens_expanded"):
            _tv_call(meta, [3, 5])
    else:
        meta.seqlens_expanded.fill(0)
        _tv_call(meta, [3, 5])
        assert meta.seqlens_expanded[:4].tolist() == [4, 5, 6, 7]


@pytest.mark.parametrize("outputs", [("page_table_1",), ("real_page_table", "status"), ("num_rows",), ()])
def test_metadata_empty_of_a_few_outputs(outputs):
    """Metadata.empty of tables only, of one scalar, of nothing: each builds like given arrays."""
    meta = specmeta.Metadata.empty(bs=2, capacity=4, width=6, page_size=2, outputs=outputs)
    given = specmeta.Metadata(bs=2, capacity=4, width=6, page_size=2,
                              **{name: np.zeros_like(getattr(meta, name)) for name in outputs})
    for out in (meta, given):
        _tv_call(out, [3, 5])
    for name in outputs:
        assert_array_equal(name, getattr(meta, name), getattr(given, name), "Metadata.empty against given arrays")


def test_metadata_empty_in_a_list_of_sets():
    """Sets made by Metadata.empty and sets of given arrays, in one call."""
    sets = [specmeta.Metadata.empty(bs=2, capacity=4, width=6, page_size=2) for _ in range(2)]
    sets.append(specmeta.Metadata(bs=2, capacity=4, width=6, page_size=2,
                                  **{name: np.zeros(shape, np.int32)
                                     for name, shape in output_shapes(2, 4, 6, 2).items()}))
    _tv_call(sets, [3, 5])
    for meta in sets:
        assert meta.seqlens_expanded.tolist() == [4, 5, 6, 7]
        assert meta.page_table_1.tolist() == [[6, 7, 8, 9, 10, 0]] * 2 + [[0, 1, 2, 3, 4, 5]] * 2


@pytest.mark.parametrize("mode", MODES)
def test_zero_capacity_page_tables(mode):
    """capacity 0 (a batch of no rows): page tables of 0 rows are valid buffers, whatever
    strides their framework gives them (NumPy 2 gives (0, 0))."""
    bs = 0 if mode == "decode" else 2  # decode has one row per request
    kwargs = {"num_draft_tokens": 0} if mode in ("target_verify", "draft_extend_static") else {}
    if mode in ("draft_extend", "extend"):
        kwargs["accept_lens" if mode == "draft_extend" else "extend_lens"] = np.zeros(bs, np.int32)
    meta = specmeta.Metadata.empty(bs=bs, capacity=0, width=10, page_size=4)
    specmeta.build_metadata(mode, np.full(bs, 3, np.int32), out=meta, req_pool_indices=np.zeros(bs, np.int32),
                            req_to_token=np.zeros((2, 10), np.int32), page_size=4, **kwargs)
    assert meta.status.tolist() == [0] and meta.num_rows.tolist() == [0]
    assert meta.cache_seqlens.tolist() == [3] * bs


@pytest.mark.parametrize("mode", MODES)
def test_empty_metadata_end_to_end(rng, rng_seed, mode):
    """Metadata.empty buffers (zeros, not POISON) hold the reference after a call."""
    batch = random_batch(rng, mode, 33, n=3, width=19)
    layout = Layout(capacity=batch.total() + 4, width=19, page_size=16)
    meta = specmeta.Metadata.empty(bs=33, capacity=layout.capacity, width=19, page_size=16)
    specmeta.build_metadata(mode, batch.seq_lens, out=meta, **call_kwargs(NUMPY, batch, layout))
    prev = {name: np.zeros(shape, np.int32) for name, shape in output_shapes(33, layout.capacity, 19, 16).items()}
    expected = expected_for(batch, layout, prev)
    got = {name: getattr(meta, name) for name in OUTPUTS}
    check_set(got, {name: np.full(1, POISON) for name in OUTPUTS}, expected, describe_case(rng_seed, mode=mode))
