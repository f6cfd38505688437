"""The fused metadata builder from Python: `Metadata`, `build_metadata`, `Builder`.

One call fills every wanted output of SPEC section 3 for one of the five
modes of SPEC section 2, into one `Metadata` or several (one per draft step),
in one launch. `Builder` binds the arrays once, for servers whose buffers
never move (CUDA-graph runners): a call then only launches.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence, Union

from . import _owned_outputs, _repeats, _specmeta
from ._arrays import (
    HOST,
    INT32,
    ArrayInfo,
    array_info,
    TableInfo,
    cuda_output_fields,
    cuda_table_fields,
    describe,
    describe_table,
    framework_of,
    new_int32,
    same_device,
    torch_cuda_input,
)
from ._expand import NO_MAX_QO, _host_int
from ._status import describe_status
from ._stream import resolve_stream

# Output names of SPEC section 3, in the order of the descriptor that
# bindings/specmeta_ext.cpp (class Plan) reads.
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
_TABLES = ("page_table_1", "real_page_table")
MODES = ("decode", "target_verify", "draft_extend", "draft_extend_static", "extend")
_MODE_CODES = {name: code for code, name in enumerate(MODES)}  # specmeta::Mode
_INT32_MAX = 2**31 - 1
MAX_DESTINATION_SETS = _specmeta.MAX_DESTINATION_SETS


def _shape(name: str, bs: int, capacity: int, width: int, page_size: int) -> tuple[int, ...]:
    if name == "cache_seqlens":
        return (bs,)
    if name in ("cu_seqlens_k", "cu_seqlens_q"):
        return (bs + 1,)
    if name in ("num_rows", "status"):
        return (1,)
    if name == "sparse_cu_seqlens_k":
        return (capacity + 1,)
    if name == "page_table_1":
        return (capacity, width)
    if name == "real_page_table":
        return (capacity, -(-width // page_size))
    return (capacity,)


def _zeros(shape: tuple[int, ...], like: Any) -> Any:
    """A zero-filled int32 array: NumPy, or of `like`'s framework and device."""
    if like is not None and framework_of(like) is None:
        raise TypeError(f"like: expected a torch.Tensor, numpy.ndarray or cupy.ndarray, got {type(like).__name__}")
    return new_int32(like, "zeros", shape)


class Metadata:
    """The outputs of one call, by their SPEC names (None: not wanted).

    ``bs``, ``capacity``, ``width`` and ``page_size`` describe the buffers:
    per-row outputs hold ``capacity`` rows, page tables ``width`` (and
    ``ceil(width / page_size)``) columns.
    """

    def __init__(self, *, bs: int, capacity: int, width: int = 0, page_size: int = 1, **arrays: Any) -> None:
        # An _owned_outputs.OwnedOutputs, set by empty(); None once any output is assigned
        # (see _set_fields).
        self.__dict__["_owned"] = None
        unknown = sorted(set(arrays) - set(OUTPUTS))
        if unknown:
            raise TypeError(f"Metadata: expected outputs among {', '.join(OUTPUTS)}, got {', '.join(unknown)}")
        self.bs = _host_int("bs", bs, 0, _INT32_MAX)
        self.capacity = _host_int("capacity", capacity, 0, _INT32_MAX)
        self.width = _host_int("width", width, 0, _INT32_MAX)
        self.page_size = _host_int("page_size", page_size, 1, _INT32_MAX)
        for name in OUTPUTS:
            setattr(self, name, arrays.get(name))

    @classmethod
    def empty(
        cls,
        *,
        bs: int,
        capacity: int,
        width: int = 0,
        page_size: int = 1,
        outputs: Iterable[str] = OUTPUTS,
        like: Any = None,
    ) -> "Metadata":
        """Zero-filled int32 buffers for ``outputs``: NumPy arrays, or arrays of
        ``like``'s framework on its device. Their shapes, strides and types
        are read and checked here once; a call into this Metadata reads only
        their addresses. Assigning an output (``meta.status = array``), or an
        output whose address changed, makes the next call read and check
        every output again."""
        if isinstance(outputs, str):
            raise TypeError(f"outputs: expected an iterable of output names, got the string {outputs!r}")
        wanted = list(outputs)
        unknown = sorted(set(wanted) - set(OUTPUTS))
        if unknown:
            raise ValueError(f"outputs: expected names among {', '.join(OUTPUTS)}, got {', '.join(unknown)}")
        meta = cls(bs=bs, capacity=capacity, width=width, page_size=page_size)
        arrays = []
        for name in OUTPUTS:
            if name in wanted:
                arrays.append(_zeros(_shape(name, meta.bs, meta.capacity, meta.width, meta.page_size), like))
                setattr(meta, name, arrays[-1])
        if arrays:
            # The outputs' fields, read and checked once here: a call into this
            # Metadata then reads only their addresses (_set_fields).
            first = arrays[0]  # 1-D, or a page table when only tables (and status) are wanted
            describe_first = describe_table if len(first.shape) == 2 else describe
            info = describe_first("like", first, writable=True)
            fields: list[int] = []
            _read_set_fields("out", meta, array_info(0, INT32, 0, info.device, info.framework), fields)
            meta.__dict__["_owned"] = _owned_outputs.own(info.device, tuple(arrays), tuple(fields))
        return meta

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _OUTPUT_NAMES:
            self.__dict__["_owned"] = None  # an output replaced: calls read and check every output again
        object.__setattr__(self, name, value)

    def wanted(self) -> tuple[str, ...]:
        return tuple(name for name in OUTPUTS if getattr(self, name) is not None)

    def check(self) -> None:
        """Reads ``status`` (this synchronises) and raises RuntimeError naming
        every fault bit set by the last call."""
        if self.status is None:
            raise ValueError("status: expected a status buffer to check, got None (not wanted)")
        value = int(self.status[0])
        if value:
            raise RuntimeError(f"specmeta status {value:#x}: " + "; ".join(describe_status(value)))

    def __repr__(self) -> str:
        return (
            f"Metadata(bs={self.bs}, capacity={self.capacity}, width={self.width}, page_size={self.page_size}, "
            f"outputs={list(self.wanted())})"
        )


_ABSENT_INPUT = (0, INT32, 0)
_ABSENT_OUTPUT = (0, -1)
_ABSENT_TABLE = (0, -1, 0, 0)


def _input(name: str, x: Any, seq: ArrayInfo) -> tuple[int, int, int]:
    if x is None:
        return _ABSENT_INPUT
    fast = torch_cuda_input(x)
    if fast is not None and fast.device == seq.device:
        return (fast.ptr, fast.itype, fast.size)
    info = describe(name, x)  # the full checks (same_device below raises on another device)
    same_device(name, info, "seq_lens", seq)
    return (info.ptr, info.itype, info.size)


def _table_device(name: str, info: TableInfo, seq: ArrayInfo) -> None:
    same_device(name, ArrayInfo(info.ptr, INT32, info.rows, info.device, info.framework), "seq_lens", seq)


def _positive_int(name: str, x: Any) -> int:
    if type(x) is int and 1 <= x <= _INT32_MAX:  # the common case, without a call
        return x
    return _host_int(name, x, 1, _INT32_MAX)


_SET_LAYOUT = tuple((name, name in _TABLES) for name in OUTPUTS)
_OUTPUT_NAMES = frozenset(OUTPUTS)
_OUTPUT_TYPES = (INT32,)


def _set_fields(index: int, meta: Any, seq: ArrayInfo, fields: list[int]) -> None:
    """Appends destination set `index`'s fields to the descriptor."""
    prefix = "out" if index == 0 else f"out[{index}]"
    if not isinstance(meta, Metadata):
        raise TypeError(f"{prefix}: expected a specmeta.Metadata, got {type(meta).__name__}")
    if _owned_outputs.unchanged(meta, seq.device):
        fields += meta._owned.fields
        return
    _read_set_fields(prefix, meta, seq, fields)


def _read_set_fields(prefix: str, meta: Metadata, seq: ArrayInfo, fields: list[int]) -> None:
    """Reads and checks every output of `meta` (on seq's device) into the descriptor."""
    device = seq.device
    for name, is_table in _SET_LAYOUT:
        x = getattr(meta, name)
        if x is None:
            fields += _ABSENT_TABLE if is_table else _ABSENT_OUTPUT
        elif is_table:
            fast = cuda_table_fields(x, device)
            if fast is None:
                label = f"{prefix}.{name}"
                t = describe_table(label, x, writable=True)
                _table_device(label, t, seq)
                fast = (t.ptr, t.rows, t.cols, t.row_stride)
            fields += fast
        else:
            fast = cuda_output_fields(x, device)
            if fast is None:
                label = f"{prefix}.{name}"
                info = describe(label, x, allowed=_OUTPUT_TYPES, writable=True)
                same_device(label, info, "seq_lens", seq)
                fast = (info.ptr, info.size)
            fields += fast


def _descriptor(
    mode: Any,
    seq_lens: Any,
    out: Union[Metadata, Sequence[Metadata]],
    req_pool_indices: Any,
    req_to_token: Any,
    accept_lens: Any,
    extend_lens: Any,
    num_draft_tokens: Any,
    topk: Any,
    kpool: Any,
    page_size: Any,
    full_width: Any,
) -> tuple[list[int], ArrayInfo]:
    """The flat int descriptor class Plan reads, after the Python-side checks
    (types, dtypes, ranks, devices); sizes and relations are checked in C++."""
    if not isinstance(mode, str):
        raise TypeError(f"mode: expected one of {', '.join(MODES)}, got {type(mode).__name__}")
    if mode not in _MODE_CODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    seq = torch_cuda_input(seq_lens) or describe("seq_lens", seq_lens)
    sets = [out] if isinstance(out, Metadata) else list(out) if isinstance(out, (list, tuple)) else None
    if sets is None:
        raise TypeError(f"out: expected a specmeta.Metadata or a list of them, got {type(out).__name__}")
    if not 1 <= len(sets) <= MAX_DESTINATION_SETS:
        raise ValueError(f"out: expected 1 to {MAX_DESTINATION_SETS} Metadata, got {len(sets)}")
    for name, value, used in (
        ("accept_lens", accept_lens, mode == "draft_extend"),
        ("extend_lens", extend_lens, mode == "extend"),
    ):
        if used and value is None:
            raise ValueError(f"{name}: expected an array for mode {mode}, got None")
        if not used and value is not None:
            raise ValueError(f"{name}: expected None for mode {mode}, got {type(value).__name__}")
    if mode in ("decode", "extend") and num_draft_tokens is not None:
        raise ValueError(f"num_draft_tokens: expected None for mode {mode}, got {num_draft_tokens!r}")
    if mode in ("target_verify", "draft_extend_static") and num_draft_tokens is None:
        raise ValueError(f"num_draft_tokens: expected an int for mode {mode}, got None")
    if num_draft_tokens is None:
        n = NO_MAX_QO if mode == "draft_extend" else 0
    elif type(num_draft_tokens) is int and 0 <= num_draft_tokens <= _INT32_MAX:
        n = num_draft_tokens
    else:
        n = _host_int("num_draft_tokens", num_draft_tokens, 0, _INT32_MAX)
    if not isinstance(full_width, bool):
        raise TypeError(f"full_width: expected a bool, got {type(full_width).__name__}")
    first = sets[0] if isinstance(sets[0], Metadata) else None
    if first is None:
        raise TypeError(f"out: expected a specmeta.Metadata, got {type(sets[0]).__name__}")
    head = [
        seq.device,
        _MODE_CODES[mode],
        seq.size,
        first.capacity,
        n,
        _positive_int("topk", topk),
        _positive_int("kpool", kpool),
        first.width,
        _positive_int("page_size", page_size),
        int(full_width),
        seq.ptr,
        seq.itype,
        seq.size,
        *_input("accept_lens", accept_lens, seq),
        *_input("extend_lens", extend_lens, seq),
        *_input("req_pool_indices", req_pool_indices, seq),
    ]
    if req_to_token is None:
        head.extend((0, 0, 0, 0))
    else:
        fast = cuda_table_fields(req_to_token, seq.device)
        if fast is None:
            table = describe_table("req_to_token", req_to_token)
            _table_device("req_to_token", table, seq)
            fast = (table.ptr, table.rows, table.cols, table.row_stride)
        head.extend(fast)
    wants_table = False
    for m in sets:
        if getattr(m, "page_table_1", None) is not None or getattr(m, "real_page_table", None) is not None:
            wants_table = True
            break
    if wants_table and (req_pool_indices is None or req_to_token is None):
        missing = "req_pool_indices" if req_pool_indices is None else "req_to_token"
        raise ValueError(f"{missing}: expected an array (a page table is wanted), got None")
    head.append(len(sets))
    for index, meta in enumerate(sets):
        _set_fields(index, meta, seq, head)
    return head, seq


def build_metadata(
    mode: str,
    seq_lens: Any,
    *,
    out: Union[Metadata, Sequence[Metadata]],
    req_pool_indices: Any = None,
    req_to_token: Any = None,
    accept_lens: Any = None,
    extend_lens: Any = None,
    num_draft_tokens: Optional[int] = None,
    topk: int = 2048,
    kpool: int = 1,
    page_size: int = 1,
    full_width: bool = False,
    stream: Any = None,
) -> Union[Metadata, Sequence[Metadata]]:
    """Fills every output ``out`` wants for ``mode`` (SPEC sections 2-6) and
    returns ``out``. bs = len(seq_lens); NumPy arrays run the CPU backend,
    CUDA arrays one launch on ``stream`` (default: the framework's current
    stream). Nothing is read back; ``Metadata.check()`` reads ``status``.

    A call on the same arrays and ``Metadata`` objects as an earlier one, with
    the same scalars, reuses that call's validation once it has seen that no
    array moved or changed shape, strides or dtype (``_repeats``)."""
    launched, call_key = _repeats.launch(mode, seq_lens, out, req_pool_indices, req_to_token, accept_lens,
                                         extend_lens, num_draft_tokens, topk, kpool, page_size, full_width, stream)
    if launched:
        return out
    descriptor, seq = _descriptor(
        mode, seq_lens, out, req_pool_indices, req_to_token, accept_lens, extend_lens,
        num_draft_tokens, topk, kpool, page_size, full_width,
    )
    plan = _plan(descriptor)
    plan.launch(seq.size, resolve_stream(stream, seq.framework, seq.device))
    sets = (out,) if isinstance(out, Metadata) else out
    if call_key is not None and all(_owned_outputs.unchanged(meta, seq.device) for meta in sets):
        _repeats.enter(call_key, (seq_lens, req_pool_indices, req_to_token, accept_lens, extend_lens), sets, plan,
                       seq.size, seq.framework, seq.device)
    return out


# Validated plans, by a key that fixes everything validation looked at: here
# the descriptor itself (raw pointers, sizes, shapes, types, scalars), of which
# a plan is a pure function, so an eager call whose arrays and arguments
# describe the same as an earlier one's reuses its plan (hashing the descriptor
# costs less than validating and binding it again); specmeta.torch keys by
# tensor geometry. Bounded: a server whose buffers never move needs a few
# entries; one that allocates per step just cycles through them.
_PLAN_CACHE_SIZE = 64
_plans: dict = {}


def cached_plan(key: tuple, make: Any) -> Any:
    """The plan cached under `key`, else make()'s (which raises on invalid
    calls: those are never cached)."""
    plan = _plans.get(key)
    if plan is None:
        plan = make()
        if len(_plans) >= _PLAN_CACHE_SIZE:
            _plans.pop(next(iter(_plans)))  # the oldest entry
        _plans[key] = plan
    return plan


def clear_plan_cache() -> None:
    """Forgets every cached plan (they hold no memory but a few ints each)."""
    _plans.clear()
    _repeats.clear()


def _plan(descriptor: list[int]) -> Any:
    return cached_plan(tuple(descriptor), lambda: _specmeta.Plan(descriptor))


class Builder:
    """``build_metadata`` bound to fixed arrays: validated once here; each
    call launches for the first ``bs`` requests (default: all of seq_lens)."""

    def __init__(
        self,
        mode: str,
        *,
        out: Union[Metadata, Sequence[Metadata]],
        seq_lens: Any,
        req_pool_indices: Any = None,
        req_to_token: Any = None,
        accept_lens: Any = None,
        extend_lens: Any = None,
        num_draft_tokens: Optional[int] = None,
        topk: int = 2048,
        kpool: int = 1,
        page_size: int = 1,
        full_width: bool = False,
    ) -> None:
        descriptor, seq = _descriptor(
            mode, seq_lens, out, req_pool_indices, req_to_token, accept_lens, extend_lens,
            num_draft_tokens, topk, kpool, page_size, full_width,
        )
        self.mode = mode
        self.out = out
        self._plan = _specmeta.Plan(descriptor)
        self._launch = self._plan.launch
        self._max_bs = seq.size
        self._framework = seq.framework
        self._device = seq.device
        # The arrays stay referenced: the plan holds their raw addresses.
        self._inputs = (seq_lens, req_pool_indices, req_to_token, accept_lens, extend_lens)

    @property
    def max_bs(self) -> int:
        return self._max_bs

    def __call__(self, bs: Optional[int] = None, stream: Any = None) -> None:
        if bs is None:
            bs = self._max_bs
        elif type(bs) is not int:
            bs = _host_int("bs", bs, 0, self._max_bs)
        if self._device == HOST and stream is None:
            self._launch(bs, 0)
        else:
            self._launch(bs, resolve_stream(stream, self._framework, self._device))
