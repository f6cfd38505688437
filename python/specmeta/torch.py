"""specmeta as PyTorch custom operators (``torch.ops.specmeta.*``).

Importing this module registers three operators in the ``specmeta`` namespace:

* ``specmeta::build_metadata``: the fused builder (SPEC sections 2-6) writing
  into caller-owned buffers, several destination sets at once;
* ``specmeta::expand``: the general expansion into caller-owned buffers;
* ``specmeta::expand_seqlens``: ``seqlens_expanded`` into a new tensor.

Each has a fake (meta) implementation, so ``torch.compile(fullgraph=True)``
traces through it without a graph break, and declares the buffers it writes
(``mutates_args``), so functionalization orders it correctly. The wrappers
below (``build_metadata``, ``expand``, ``expand_seqlens``) take the same
arguments as the framework-neutral functions of ``specmeta``. CUDA tensors run
on the current CUDA stream (``torch.cuda.current_stream()``), so the ops can be
captured in a ``torch.cuda.graph``; CPU tensors run the CPU backend.

Only this submodule needs torch: ``import specmeta`` never imports it.

Schema of ``specmeta::build_metadata``: the 11 outputs of SPEC section 3 are
11 tensor-list arguments named after them; each list is empty (output not
wanted) or holds one tensor per destination set, so ``cache_seqlens[i]`` is
``out[i].cache_seqlens`` of the Python API.
"""

from typing import Any, Optional, Sequence, Union

import torch

from . import _specmeta
from ._expand import expand as _expand_any
from ._expand import expand_seqlens as _expand_seqlens_any
from ._metadata import MAX_DESTINATION_SETS, OUTPUTS, Metadata, _descriptor, cached_plan, clear_plan_cache
from ._stream import resolve_stream

__all__ = ["build_metadata", "expand", "expand_seqlens", "clear_plan_cache"]

_TABLES = ("page_table_1", "real_page_table")
_INDEX_DTYPES = (torch.int32, torch.int64)
_INPUT_NAMES = ("seq_lens", "req_pool_indices", "req_to_token", "accept_lens", "extend_lens")

# Bound plans (validated descriptors) are cached by the geometry of every
# tensor of a call (_metadata.cached_plan). A plan holds raw addresses only,
# never the tensors: a hit needs every tensor at the same address with the same
# shape, strides, dtype and device, so whatever validation decided for the
# first call holds for this one too.


def _geometry(t: Optional[torch.Tensor]) -> Any:
    if t is None:
        return None
    return (t.data_ptr(), t.shape, t.stride(), t.dtype, t.device, t.requires_grad)


def _launch_plan(plan: Any, bs: int, stream: int) -> None:
    # One module-level function per launch, so a test can count host launches.
    plan.launch(bs, stream)


def _stream_of(t: torch.Tensor) -> int:
    device = t.get_device()
    return 0 if device < 0 else resolve_stream(None, "torch", device)


# ---------------------------------------------------------------------------
# Checks that the fake implementations run at trace time (dtypes, devices,
# ranks, list lengths); sizes and relations are checked on the first real call.


def _check_input(name: str, t: Optional[torch.Tensor], device: torch.device, rank: int, dtypes: tuple) -> None:
    if t is None:
        return
    if t.dtype not in dtypes:
        expected = " or ".join(str(d).removeprefix("torch.") for d in dtypes)
        raise TypeError(f"{name}: expected dtype {expected}, got {str(t.dtype).removeprefix('torch.')}")
    if t.dim() != rank:
        raise ValueError(f"{name}: expected a {rank}-D tensor, got {t.dim()}-D with shape {tuple(t.shape)}")
    if t.device != device:
        raise ValueError(f"{name}: expected a tensor on the device of seq_lens ({device}), got one on {t.device}")


def _check_device(t: torch.Tensor) -> None:
    if t.device.type not in ("cpu", "cuda"):
        raise ValueError(f"seq_lens: expected a CPU or CUDA tensor, got device {t.device}")


def _sets_count(outputs: Sequence[Sequence[torch.Tensor]]) -> int:
    counts = {len(ts) for ts in outputs if len(ts)}
    if not counts:
        raise ValueError("out: expected at least one wanted output, got none")
    if len(counts) > 1:
        given = ", ".join(f"{name}: {len(ts)}" for name, ts in zip(OUTPUTS, outputs) if len(ts))
        raise ValueError(f"out: expected the same number of destination sets for every wanted output, got {given}")
    sets = counts.pop()
    if sets > MAX_DESTINATION_SETS:
        raise ValueError(f"out: expected 1 to {MAX_DESTINATION_SETS} destination sets, got {sets}")
    return sets


def _check_build(seq_lens, inputs, outputs) -> None:
    _check_device(seq_lens)
    _check_input("seq_lens", seq_lens, seq_lens.device, 1, _INDEX_DTYPES)
    for name, t in zip(_INPUT_NAMES[1:], inputs):
        _check_input(name, t, seq_lens.device, 2 if name == "req_to_token" else 1,
                     (torch.int32,) if name == "req_to_token" else _INDEX_DTYPES)
    _sets_count(outputs)
    for name, ts in zip(OUTPUTS, outputs):
        for index, t in enumerate(ts):
            label = "out." + name if index == 0 else f"out[{index}].{name}"
            _check_input(label, t, seq_lens.device, 2 if name in _TABLES else 1, (torch.int32,))


# ---------------------------------------------------------------------------
# specmeta::build_metadata (the mode argument is `build_mode`: higher-order ops
# that wrap a mutating op, such as auto_functionalized, take their own `mode`)


@torch.library.custom_op("specmeta::build_metadata", mutates_args=OUTPUTS)
def _build_metadata_op(
    build_mode: str,
    seq_lens: torch.Tensor,
    req_pool_indices: Optional[torch.Tensor],
    req_to_token: Optional[torch.Tensor],
    accept_lens: Optional[torch.Tensor],
    extend_lens: Optional[torch.Tensor],
    num_draft_tokens: Optional[int],
    topk: int,
    kpool: int,
    page_size: int,
    full_width: bool,
    capacity: int,
    width: int,
    cache_seqlens: Sequence[torch.Tensor],
    cu_seqlens_k: Sequence[torch.Tensor],
    cu_seqlens_q: Sequence[torch.Tensor],
    seqlens_expanded: Sequence[torch.Tensor],
    sparse_seqlens: Sequence[torch.Tensor],
    sparse_cu_seqlens_k: Sequence[torch.Tensor],
    row_to_req: Sequence[torch.Tensor],
    num_rows: Sequence[torch.Tensor],
    page_table_1: Sequence[torch.Tensor],
    real_page_table: Sequence[torch.Tensor],
    status: Sequence[torch.Tensor],
) -> None:
    outputs = (cache_seqlens, cu_seqlens_k, cu_seqlens_q, seqlens_expanded, sparse_seqlens, sparse_cu_seqlens_k,
               row_to_req, num_rows, page_table_1, real_page_table, status)
    inputs = (seq_lens, req_pool_indices, req_to_token, accept_lens, extend_lens)
    key = (build_mode, num_draft_tokens, topk, kpool, page_size, full_width, capacity, width,
           tuple(_geometry(t) for t in inputs), tuple(tuple(_geometry(t) for t in ts) for ts in outputs))

    def make() -> Any:
        sets = []
        for index in range(_sets_count(outputs)):
            arrays = {name: ts[index] for name, ts in zip(OUTPUTS, outputs) if len(ts)}
            sets.append(Metadata(bs=0, capacity=capacity, width=width, page_size=page_size, **arrays))
        descriptor, _ = _descriptor(build_mode, seq_lens, sets, req_pool_indices, req_to_token, accept_lens, extend_lens,
                                    num_draft_tokens, topk, kpool, page_size, full_width)
        return _specmeta.Plan(descriptor)

    _launch_plan(cached_plan(key, make), seq_lens.shape[0], _stream_of(seq_lens))


@_build_metadata_op.register_fake
def _build_metadata_fake(build_mode, seq_lens, req_pool_indices, req_to_token, accept_lens, extend_lens, num_draft_tokens,
                         topk, kpool, page_size, full_width, capacity, width, *outputs) -> None:
    _check_build(seq_lens, (req_pool_indices, req_to_token, accept_lens, extend_lens), outputs)


def build_metadata(
    mode: str,
    seq_lens: torch.Tensor,
    *,
    out: Union[Metadata, Sequence[Metadata]],
    req_pool_indices: Optional[torch.Tensor] = None,
    req_to_token: Optional[torch.Tensor] = None,
    accept_lens: Optional[torch.Tensor] = None,
    extend_lens: Optional[torch.Tensor] = None,
    num_draft_tokens: Optional[int] = None,
    topk: int = 2048,
    kpool: int = 1,
    page_size: int = 1,
    full_width: bool = False,
    stream: Optional["torch.cuda.Stream"] = None,
) -> Union[Metadata, Sequence[Metadata]]:
    """``specmeta.build_metadata`` through ``torch.ops.specmeta.build_metadata``:
    same arguments and results, traceable by torch.compile. Returns ``out``."""
    sets = [out] if isinstance(out, Metadata) else list(out)
    if not sets or not all(isinstance(m, Metadata) for m in sets):
        raise TypeError("out: expected a specmeta.Metadata or a non-empty list of them")
    first = sets[0]
    outputs = []
    for name in OUTPUTS:
        tensors = [getattr(m, name) for m in sets]
        wanted = [t is not None for t in tensors]
        if any(wanted) and not all(wanted):
            index = wanted.index(not wanted[0])
            raise ValueError(f"out[{index}].{name}: expected the outputs wanted by out[0], "
                             f"got {'a tensor' if wanted[index] else 'None'} where out[0] has "
                             f"{'a tensor' if wanted[0] else 'None'}")
        outputs.append(tensors if wanted[0] else [])
    call = torch.ops.specmeta.build_metadata
    args = (mode, seq_lens, req_pool_indices, req_to_token, accept_lens, extend_lens, num_draft_tokens, topk, kpool,
            page_size, full_width, first.capacity, first.width, *outputs)
    if stream is None:
        call(*args)
    else:
        with torch.cuda.stream(stream):
            call(*args)
    return out


# ---------------------------------------------------------------------------
# specmeta::expand and specmeta::expand_seqlens

_EXPAND_OUTPUTS = ("seqlens_expanded", "cu_seqlens_q", "row_to_req", "num_rows", "status")


@torch.library.custom_op("specmeta::expand", mutates_args=_EXPAND_OUTPUTS)
def _expand_op(
    kv_lens: torch.Tensor,
    qo_lens: Optional[torch.Tensor],
    qo_uniform: int,
    capacity: Optional[int],
    max_qo: Optional[int],
    seqlens_expanded: Optional[torch.Tensor],
    cu_seqlens_q: Optional[torch.Tensor],
    row_to_req: Optional[torch.Tensor],
    num_rows: Optional[torch.Tensor],
    status: Optional[torch.Tensor],
) -> None:
    _expand_any(kv_lens, qo_uniform if qo_lens is None else qo_lens, capacity=capacity, max_qo=max_qo,
                seqlens_expanded=seqlens_expanded, cu_seqlens_q=cu_seqlens_q, row_to_req=row_to_req,
                num_rows=num_rows, status=status)


def _check_expand(kv_lens, qo_lens, outputs) -> None:
    _check_device(kv_lens)
    _check_input("kv_lens", kv_lens, kv_lens.device, 1, _INDEX_DTYPES)
    _check_input("qo_lens", qo_lens, kv_lens.device, 1, _INDEX_DTYPES)
    for name, t in zip(_EXPAND_OUTPUTS, outputs):
        _check_input(name, t, kv_lens.device, 1, (torch.int32,))


@_expand_op.register_fake
def _expand_fake(kv_lens, qo_lens, qo_uniform, capacity, max_qo, *outputs) -> None:
    _check_expand(kv_lens, qo_lens, outputs)


@torch.library.custom_op("specmeta::expand_seqlens", mutates_args=())
def _expand_seqlens_op(kv_lens: torch.Tensor, qo_lens: Optional[torch.Tensor], qo_uniform: int,
                       capacity: int) -> torch.Tensor:
    return _expand_seqlens_any(kv_lens, qo_uniform if qo_lens is None else qo_lens, capacity=capacity)


@_expand_seqlens_op.register_fake
def _expand_seqlens_fake(kv_lens, qo_lens, qo_uniform, capacity) -> torch.Tensor:
    _check_expand(kv_lens, qo_lens, ())
    return kv_lens.new_empty((capacity,), dtype=torch.int32)


def _split_qo(qo_lens: Any) -> tuple:
    if isinstance(qo_lens, torch.Tensor):
        return qo_lens, 0
    if isinstance(qo_lens, bool) or not isinstance(qo_lens, int):
        raise TypeError(f"qo_lens: expected an int or a 1-D int32/int64 tensor, got {type(qo_lens).__name__}")
    return None, qo_lens


def expand(
    kv_lens: torch.Tensor,
    qo_lens: Union[int, torch.Tensor],
    *,
    capacity: Optional[int] = None,
    max_qo: Optional[int] = None,
    seqlens_expanded: Optional[torch.Tensor] = None,
    cu_seqlens_q: Optional[torch.Tensor] = None,
    row_to_req: Optional[torch.Tensor] = None,
    num_rows: Optional[torch.Tensor] = None,
    status: Optional[torch.Tensor] = None,
) -> None:
    """``specmeta.expand`` through ``torch.ops.specmeta.expand``."""
    qo, uniform = _split_qo(qo_lens)
    torch.ops.specmeta.expand(kv_lens, qo, uniform, capacity, max_qo, seqlens_expanded, cu_seqlens_q, row_to_req,
                              num_rows, status)


def expand_seqlens(
    kv_lens: torch.Tensor,
    qo_lens: Union[int, torch.Tensor],
    *,
    capacity: Optional[int] = None,
    out: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """``specmeta.expand_seqlens`` through the custom ops: a new int32 tensor
    (``specmeta::expand_seqlens``), or ``out`` filled (``specmeta::expand``).

    ``capacity`` defaults to ``len(out)``, else to ``len(kv_lens) * qo_lens``
    for an int ``qo_lens``; a tensor ``qo_lens`` without ``out`` needs it (the
    row total is data-dependent, and an op's output size must not be)."""
    qo, uniform = _split_qo(qo_lens)
    if out is not None:
        torch.ops.specmeta.expand(kv_lens, qo, uniform, capacity, None, out, None, None, None, None)
        return out
    if capacity is None:
        if qo is not None:
            raise ValueError("capacity: required when qo_lens is a tensor and no out is given, got None")
        capacity = kv_lens.shape[0] * uniform
    return torch.ops.specmeta.expand_seqlens(kv_lens, qo, uniform, capacity)
