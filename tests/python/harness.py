"""Calling specmeta on poisoned buffers of any framework and checking the result.

A `Backend` turns NumPy arrays into the arrays of one framework/device (NumPy,
CPU torch, CUDA torch, CuPy) and back. `call_expand` fills every requested
output with POISON, plus GUARD poisoned elements past its end, calls
`specmeta.expand`, and returns the whole buffers as NumPy arrays, so a check
sees both what was written and that nothing was written past the end.
"""

from __future__ import annotations

import numbers
from typing import Any, Optional

import numpy as np

import specmeta
from reference import POISON, Expected, is_valid_for_seed, reference_expand, seed_before

OUTPUT_NAMES = ("seqlens_expanded", "cu_seqlens_q", "row_to_req", "num_rows", "status")
GUARD = 8  # poisoned elements after each output, which no call may touch

KV_QO_DTYPES = [(np.int32, np.int32), (np.int32, np.int64), (np.int64, np.int32), (np.int64, np.int64)]


def capture_graph(torch: Any, fn: Any) -> Any:
    """fn() captured in a CUDA graph after one warm-up call on a side stream, as torch recommends;
    the caller replays it."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    torch.cuda.synchronize()
    return graph


class Backend:
    """NumPy arrays; subclasses override the three conversions."""

    name = "numpy"

    def from_numpy(self, a: np.ndarray) -> Any:
        return np.ascontiguousarray(a)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.array(x, copy=True)

    def poisoned(self, n: int) -> Any:
        return self.from_numpy(np.full(n, POISON, dtype=np.int32))

    def sync(self) -> None:
        pass


class TorchBackend(Backend):
    def __init__(self, torch, device: str):
        self.torch = torch
        self.device = device
        self.name = f"torch-{device}"

    def from_numpy(self, a):
        return self.torch.from_numpy(np.ascontiguousarray(a).copy()).to(self.device)

    def to_numpy(self, x):
        return x.detach().cpu().numpy().copy()

    def sync(self):
        if self.device.startswith("cuda"):
            self.torch.cuda.synchronize()


class CupyBackend(Backend):
    name = "cupy"

    def __init__(self, cupy):
        self.cupy = cupy

    def from_numpy(self, a):
        return self.cupy.asarray(np.ascontiguousarray(a))

    def to_numpy(self, x):
        return self.cupy.asnumpy(x)

    def sync(self):
        self.cupy.cuda.get_current_stream().synchronize()


def is_uniform(qo) -> bool:
    return isinstance(qo, numbers.Integral) and not isinstance(qo, bool)


def output_sizes(bs: int, capacity: int) -> dict:
    return {"seqlens_expanded": capacity, "cu_seqlens_q": bs + 1, "row_to_req": capacity, "num_rows": 1, "status": 1}


def call_expand(
    backend: Backend,
    kv: np.ndarray,
    qo,
    *,
    capacity: int,
    max_qo: Optional[int] = None,
    outputs=OUTPUT_NAMES,
    pass_capacity: bool = True,
    stream: Any = None,
) -> dict:
    """Runs specmeta.expand on poisoned buffers; returns {name: whole buffer as NumPy}."""
    kv_x = backend.from_numpy(kv)
    qo_x = qo if is_uniform(qo) else backend.from_numpy(qo)
    sizes = output_sizes(len(kv), capacity)
    buffers = {name: backend.poisoned(sizes[name] + GUARD) for name in outputs}
    views = {name: buffers[name][: sizes[name]] for name in outputs}
    result = specmeta.expand(
        kv_x, qo_x, capacity=capacity if pass_capacity else None, max_qo=max_qo, stream=stream, **views
    )
    assert result is None
    backend.sync()
    return {name: backend.to_numpy(buffers[name]) for name in outputs}


def assert_array_equal(name: str, got: np.ndarray, want: np.ndarray, context: str) -> None:
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        raise AssertionError(f"{context}: {name} has shape {got.shape}, expected {want.shape}")
    if got.dtype != want.dtype:
        raise AssertionError(f"{context}: {name} has dtype {got.dtype}, expected {want.dtype}")
    if np.array_equal(got, want):
        return
    bad = np.flatnonzero(got != want)
    i = int(bad[0])
    lo, hi = max(0, i - 3), min(len(got), i + 4)
    raise AssertionError(
        f"{context}: {name} differs at {len(bad)} of {len(got)} elements; first at [{i}]: "
        f"got {int(got[i])}, expected {int(want[i])}; got[{lo}:{hi}]={got[lo:hi].tolist()}, "
        f"expected[{lo}:{hi}]={want[lo:hi].tolist()}"
    )


def check_outputs(got: dict, expected: Expected, context: str) -> None:
    """Every returned buffer equals the reference over its size, and its guard is intact."""
    want = expected.as_dict()
    for name, buffer in got.items():
        size = len(want[name])
        assert_array_equal(name, buffer[:size], want[name], context)
        guard = buffer[size:]
        if not np.all(guard == POISON):
            raise AssertionError(f"{context}: {name} was written past its {size} elements: {guard.tolist()}")


def status_text(value: int) -> str:
    return f"{value} ({'; '.join(specmeta.describe_status(value)) or 'no fault'})"


def describe_case(seed: Optional[int], **params) -> str:
    parts = [f"{k}={v}" for k, v in params.items()]
    if seed is not None:
        parts.append(f"seed={seed}")
    return "case(" + ", ".join(parts) + ")"


# ---------------------------------------------------------------------------
# Random inputs


def random_qo(rng: np.random.Generator, bs: int, lo: int, hi: int, dtype) -> np.ndarray:
    return rng.integers(lo, hi + 1, size=bs).astype(dtype)


def skewed_qo(rng: np.random.Generator, bs: int, dtype) -> np.ndarray:
    """Most requests 0 or 1 rows, a few with thousands (a prefill among decodes)."""
    qo = rng.choice(np.array([0, 1]), size=bs, p=[0.4, 0.6]).astype(np.int64)
    few = max(1, bs // 500)
    idx = rng.choice(bs, size=min(few, bs), replace=False) if bs else np.zeros(0, np.int64)
    qo[idx] = rng.integers(1000, 5000, size=len(idx))
    return qo.astype(dtype)


def valid_kv(rng: np.random.Generator, qo, bs: int, dtype, spread: int = 100_000) -> np.ndarray:
    """kv_b >= qo_b (valid for the seed), qo an int or an array."""
    base = np.full(bs, qo, dtype=np.int64) if is_uniform(qo) else np.asarray(qo, dtype=np.int64)
    return (base + rng.integers(0, spread, size=bs)).astype(dtype)



def run_and_check(
    backend: Backend,
    kv: np.ndarray,
    qo,
    *,
    capacity: Optional[int] = None,
    max_qo: Optional[int] = None,
    outputs=OUTPUT_NAMES,
    pass_capacity: bool = True,
    stream: Any = None,
    context: str = "",
) -> dict:
    """expand() on poisoned buffers vs the SPEC reference (and the seed where valid).

    capacity None means: the reference total, not passed to the call (so the
    library takes it from len(seqlens_expanded) or len(row_to_req), or
    computes it from a host qo array when neither is requested).
    """
    expected = reference_expand(kv, qo, capacity, max_qo)
    if capacity is None:
        pass_capacity = False
    got = call_expand(
        backend, kv, qo, capacity=expected.capacity, max_qo=max_qo, outputs=outputs,
        pass_capacity=pass_capacity, stream=stream,
    )
    context = f"{backend.name} {context} total={expected.total} capacity={expected.capacity}"
    if "status" in got and int(got["status"][0]) != expected.status:
        raise AssertionError(
            f"{context}: status is {status_text(int(got['status'][0]))}, expected {status_text(expected.status)}"
        )
    check_outputs(got, expected, context)
    if (
        "seqlens_expanded" in got
        and max_qo is None
        and expected.total <= expected.capacity
        and is_valid_for_seed(kv, qo)
    ):
        before = seed_before(kv, qo)
        assert_array_equal("seqlens_expanded vs seed 'before'", got["seqlens_expanded"][: len(before)], before, context)
    return got
