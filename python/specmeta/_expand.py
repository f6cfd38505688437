"""The ragged expansion from Python: `expand` (every output) and `expand_seqlens`."""

from __future__ import annotations

import numbers
import operator
from typing import Any, Optional

from . import _specmeta
from ._arrays import HOST, INT32, ArrayInfo, describe, empty_int32, same_device
from ._stream import resolve_stream

NO_MAX_QO = _specmeta.NO_MAX_QO
_NO_ARRAY = ArrayInfo(0, INT32, 0, HOST, "")


def _is_host_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _output(name: str, x: Any, kv: ArrayInfo) -> ArrayInfo:
    if x is None:
        return _NO_ARRAY
    info = describe(name, x, allowed=(INT32,), writable=True)
    same_device(name, info, "kv_lens", kv)
    return info


def _inputs(kv_lens: Any, qo_lens: Any, max_qo: Optional[int]) -> tuple[ArrayInfo, Optional[ArrayInfo], int, int]:
    """kv_lens' info, qo_lens' info (None when uniform), the uniform qo, max_qo."""
    kv = describe("kv_lens", kv_lens)
    if max_qo is None:
        max_qo = NO_MAX_QO
    elif not _is_host_int(max_qo):
        raise TypeError(f"max_qo: expected an int, got {type(max_qo).__name__}")
    if _is_host_int(qo_lens):
        uniform = operator.index(qo_lens)
        if uniform < 0:
            raise ValueError(f"qo_lens: expected a non-negative number of rows per request, got {uniform}")
        return kv, None, uniform, max_qo
    qo = describe("qo_lens", qo_lens)
    same_device("qo_lens", qo, "kv_lens", kv)
    if qo.size != kv.size:
        raise ValueError(f"qo_lens: expected {kv.size} elements (one per request of kv_lens), got {qo.size}")
    return kv, qo, 0, max_qo


def _capacity(capacity: Any, kv: ArrayInfo, qo: Optional[ArrayInfo], uniform: int, max_qo: int, per_row: tuple) -> int:
    if capacity is not None:
        if not _is_host_int(capacity):
            raise TypeError(f"capacity: expected an int, got {type(capacity).__name__}")
        return operator.index(capacity)
    for info in per_row:
        if info.ptr:
            return info.size
    if qo is None:
        return kv.size * uniform
    if qo.device == HOST:
        return _specmeta.count_rows_host(kv.size, qo.ptr, qo.itype, qo.size, max_qo)
    raise ValueError(
        "capacity: required when qo_lens is a CUDA array and no output buffer is given "
        "(the row total is only known on the device; reading it back would synchronise)"
    )


def _launch(kv, qo, uniform, max_qo, capacity, seqlens, cu_q, row_to_req, num_rows, status, stream, framework):
    qo = qo or _NO_ARRAY
    _specmeta.expand(
        kv.device, kv.size, kv.ptr, kv.itype, kv.size, qo.ptr, qo.itype, qo.size, uniform, max_qo, capacity,
        seqlens.ptr, seqlens.size, cu_q.ptr, cu_q.size, row_to_req.ptr, row_to_req.size,
        num_rows.ptr, num_rows.size, status.ptr, status.size,
        resolve_stream(stream, framework, kv.device),
    )


def expand(
    kv_lens: Any,
    qo_lens: Any,
    *,
    capacity: Optional[int] = None,
    max_qo: Optional[int] = None,
    seqlens_expanded: Any = None,
    cu_seqlens_q: Any = None,
    row_to_req: Any = None,
    num_rows: Any = None,
    status: Any = None,
    stream: Any = None,
) -> None:
    """Writes the ragged expansion of (kv_lens, qo_lens) into the given int32 outputs.

    ``qo_lens`` is an int (the same number of query rows for every request) or
    an int32/int64 array with one entry per request. Outputs not passed are
    not computed. ``capacity`` defaults to the length of ``seqlens_expanded``
    or ``row_to_req`` when one is given, else to the total number of rows when
    the host knows it. ``status`` receives this call's fault bits (SPEC
    section 6); nothing here reads it back.
    """
    kv, qo, uniform, max_qo = _inputs(kv_lens, qo_lens, max_qo)
    seqlens = _output("seqlens_expanded", seqlens_expanded, kv)
    r2r = _output("row_to_req", row_to_req, kv)
    cu_q = _output("cu_seqlens_q", cu_seqlens_q, kv)
    rows = _output("num_rows", num_rows, kv)
    fault = _output("status", status, kv)
    cap = _capacity(capacity, kv, qo, uniform, max_qo, (seqlens, r2r))
    _launch(kv, qo, uniform, max_qo, cap, seqlens, cu_q, r2r, rows, fault, stream, kv.framework)


def expand_seqlens(
    kv_lens: Any,
    qo_lens: Any,
    *,
    capacity: Optional[int] = None,
    out: Any = None,
    stream: Any = None,
) -> Any:
    """``seqlens_expanded`` of SPEC section 3: one causal KV length per query row.

    Returns an int32 array of ``capacity`` elements in the framework and on the
    device of ``kv_lens`` (``out`` itself when given); rows past the total are 0.
    For a CUDA ``qo_lens`` array, ``capacity`` (or ``out``) is required.
    """
    kv, qo, uniform, max_qo = _inputs(kv_lens, qo_lens, None)
    seqlens = _output("out", out, kv)
    cap = _capacity(capacity, kv, qo, uniform, max_qo, (seqlens,))
    if out is None:
        out = empty_int32(kv_lens, kv.framework, kv.device, cap)
        seqlens = _output("out", out, kv)
    _launch(kv, qo, uniform, max_qo, cap, seqlens, _NO_ARRAY, _NO_ARRAY, _NO_ARRAY, _NO_ARRAY, stream, kv.framework)
    return out
