"""The ragged expansion from Python: `expand` (every output) and `expand_seqlens`."""

from __future__ import annotations

import numbers
import operator
from typing import Any, Optional

from . import _specmeta
from ._arrays import (
    HOST,
    INT32,
    ArrayInfo,
    array_info,
    cuda_output_fields,
    describe,
    framework_of,
    new_int32,
    same_device,
    torch_cuda_input,
)
from ._stream import resolve_stream

NO_MAX_QO = _specmeta.NO_MAX_QO
_NO_ARRAY = ArrayInfo(0, INT32, -1, HOST, "")  # an output not wanted (size < 0 in the core)
_UNIFORM_QO = ArrayInfo(0, INT32, 0, HOST, "")  # qo_lens given as an int: no array (null data in the core)
_INT32_MAX = 2**31 - 1


def _is_host_int(x: Any) -> bool:
    if isinstance(x, int):
        return not isinstance(x, bool)
    return isinstance(x, numbers.Integral)  # NumPy integers


def _host_int(name: str, x: Any, lo: int, hi: int) -> int:
    """A host integer argument in [lo, hi], checked before it reaches C++'s int64."""
    if not _is_host_int(x):
        raise TypeError(f"{name}: expected an int, got {type(x).__name__}")
    value = operator.index(x)
    if not lo <= value <= hi:
        raise ValueError(f"{name}: expected a value in [{lo}, {hi}], got {value}")
    return value


def _output(name: str, x: Any, kv: ArrayInfo) -> ArrayInfo:
    if x is None:
        return _NO_ARRAY
    fast = cuda_output_fields(x, kv.device)
    if fast is not None:
        return array_info(fast[0], INT32, fast[1], kv.device, "torch")
    info = describe(name, x, allowed=(INT32,), writable=True)
    same_device(name, info, "kv_lens", kv)
    return info


def _inputs(kv_lens: Any, qo_lens: Any, max_qo: Optional[int]) -> tuple[ArrayInfo, Optional[ArrayInfo], int, int]:
    """kv_lens' info, qo_lens' info (None when uniform), the uniform qo, max_qo."""
    kv = torch_cuda_input(kv_lens) or describe("kv_lens", kv_lens)
    max_qo = NO_MAX_QO if max_qo is None else _host_int("max_qo", max_qo, 0, _INT32_MAX)
    if type(qo_lens) is int and 0 <= qo_lens <= max_qo:  # the common uniform case, without calls
        return kv, None, qo_lens, max_qo
    if framework_of(qo_lens) is None:  # checked first: an ABC isinstance on a tensor is slow
        if not _is_host_int(qo_lens):
            raise TypeError(
                f"qo_lens: expected an int or a 1-D int32/int64 array, got {type(qo_lens).__module__}."
                f"{type(qo_lens).__name__}"
            )
        return kv, None, _host_int("qo_lens", qo_lens, 0, max_qo), max_qo
    qo = torch_cuda_input(qo_lens) or describe("qo_lens", qo_lens)
    same_device("qo_lens", qo, "kv_lens", kv)
    if qo.size != kv.size:
        raise ValueError(f"qo_lens: expected {kv.size} elements (one per request of kv_lens), got {qo.size}")
    return kv, qo, 0, max_qo


def _capacity(capacity: Any, kv: ArrayInfo, qo: Optional[ArrayInfo], uniform: int, max_qo: int, per_row: tuple) -> int:
    if capacity is not None:
        return _host_int("capacity", capacity, 0, _INT32_MAX)
    for info in per_row:
        if info is not _NO_ARRAY:
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
    qo = qo or _UNIFORM_QO
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
        out = new_int32(kv_lens, "empty", cap)
        seqlens = _output("out", out, kv)
    try:
        _launch(kv, qo, uniform, max_qo, cap, seqlens, _NO_ARRAY, _NO_ARRAY, _NO_ARRAY, _NO_ARRAY, stream, kv.framework)
    except ValueError as error:  # the core names the buffer by its SPEC name
        raise ValueError(str(error).replace("seqlens_expanded", "out")) from None
    return out
