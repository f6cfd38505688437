"""Eager `build_metadata` calls that repeat an earlier call's objects.

A server calls build_metadata on the same arrays step after step. The full
path reads and checks every array (six or seven torch calls each), checks
every argument and hashes a descriptor of some seventy ints to find the
validated plan; a repeat only has to show that nothing validation looked at
has changed. Entries are keyed by the identity of the call's arrays and
Metadata and by its scalars.

An entry holds, for each input, its type and what validation read of it:
address, shape, strides and dtype (an address also fixes the device: CUDA's
unified address space gives host and device memory distinct addresses). A
hit reads those again, so anything done to an input in place that could
change what validation decided sends the call down the full path; an input
that is another object at a reused id is accepted only where it reads the
same, which is all the plan depends on. No reference to an input is kept (a
weak one would stop NumPy from resizing the array in place). The plan also
holds the outputs' fields: an entry holds weak references to its Metadata,
and a hit runs Metadata.empty's check of their outputs (each one's address
and size in bytes). Sets whose outputs were not made by Metadata.empty are
read in full on every call: such calls get no entry.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, NamedTuple, Optional

from . import _specmeta
from ._arrays import framework_of

_CACHE_SIZE = 64  # a server needs a few entries; one that allocates per step cycles through them


def _torch_signature(x: Any) -> tuple:
    return (x.data_ptr(), x.shape, x.stride(), x.dtype)


def _numpy_signature(x: Any) -> tuple:
    return (_specmeta.buffer_address(x), x.shape, x.strides, x.dtype)


def _cupy_signature(x: Any) -> tuple:
    return (x.data.ptr, x.shape, x.strides, x.dtype)


_SIGNATURES = {"torch": _torch_signature, "numpy": _numpy_signature, "cupy": _cupy_signature}


class Entry(NamedTuple):
    inputs: tuple  # per input slot: (type, signature function, signature), None where not given
    sets: tuple  # weak references to the destination sets
    plan: Any
    bs: int
    framework: str
    device: int


_entries: dict = {}


def key(mode: Any, seq_lens: Any, out: Any, req_pool_indices: Any, req_to_token: Any, accept_lens: Any,
        extend_lens: Any, num_draft_tokens: Any, topk: Any, kpool: Any, page_size: Any, full_width: Any,
        metadata_type: type) -> Optional[tuple]:
    """A call's key, or None when the call cannot repeat one (then it takes the full path, which also
    raises on what is invalid). Scalars of exact types only: 2048.0 or True hash as 2048 and 1 do,
    and must still reach the full path's type checks."""
    if not (type(mode) is str and type(topk) is int and type(kpool) is int and type(page_size) is int
            and type(full_width) is bool and (num_draft_tokens is None or type(num_draft_tokens) is int)):
        return None
    if type(out) is metadata_type:
        sets = id(out)
        first = out
    elif type(out) is list or type(out) is tuple:
        if not out or any(type(m) is not metadata_type for m in out):
            return None
        sets = tuple(map(id, out))
        first = out[0]
    else:
        return None
    # The first set's capacity and width are plain attributes that the descriptor reads.
    return (mode, num_draft_tokens, topk, kpool, page_size, full_width, first.capacity, first.width, sets,
            id(seq_lens), id(req_pool_indices), id(req_to_token), id(accept_lens), id(extend_lens))


def lookup(call_key: tuple, arrays: tuple, sets: tuple, outputs_unchanged: Callable[[Any, int], bool]) -> Optional[Entry]:
    """The entry of `call_key` when every input reads as it did and every set is the Metadata it was
    made for, its outputs unchanged; else None. arrays: the call's inputs (None where not given), in
    the order `enter` took them."""
    entry = _entries.get(call_key)
    if entry is None:
        return None
    for spec, x in zip(entry.inputs, arrays):
        if spec is not None and (type(x) is not spec[0] or spec[1](x) != spec[2]):
            return None
    for ref, meta in zip(entry.sets, sets):
        if ref() is not meta or not outputs_unchanged(meta, entry.device):
            return None
    return entry


def enter(call_key: tuple, arrays: tuple, sets: tuple, plan: Any, bs: int, framework: str, device: int) -> None:
    """Records a call that just passed the full path, its sets' outputs all Metadata.empty's and unchanged."""
    inputs = []
    try:
        for x in arrays:
            if x is None:
                inputs.append(None)  # the key has None's id in this slot
                continue
            signature_of = _SIGNATURES.get(framework_of(x))
            if signature_of is None:
                return
            inputs.append((type(x), signature_of, signature_of(x)))
        refs = tuple(weakref.ref(meta) for meta in sets)
    except TypeError:  # a Metadata subclass without weak references: never entered
        return
    if len(_entries) >= _CACHE_SIZE:
        _entries.pop(next(iter(_entries)))  # the oldest entry
    _entries[call_key] = Entry(tuple(inputs), refs, plan, bs, framework, device)


def clear() -> None:
    _entries.clear()
