"""Eager `build_metadata` calls that repeat an earlier call's objects.

A server calls build_metadata on the same arrays step after step. The full
path reads and checks every array (six or seven torch calls each), checks
every argument and hashes a descriptor of some seventy ints to find the
validated plan; a repeat only has to show that nothing validation looked at
has changed. Entries are keyed by the identity of the call's arrays and
Metadata and by its scalars.

An entry holds what validation read of each input: its type, address,
shape, strides and dtype (an address also fixes the device: CUDA's unified
address space gives host and device memory distinct addresses). A hit reads
those again, so anything done to an input in place that could change what
validation decided sends the call down the full path; an input that is
another object at a reused id is accepted only where it reads the same,
which is all the plan depends on. No reference to an input is kept (a weak
one would stop NumPy from resizing the array in place). The plan also holds
the outputs' fields: an entry holds weak references to its Metadata, and a
hit runs Metadata.empty's check of their outputs (_owned_outputs). Sets
whose outputs were not made by Metadata.empty are read in full on every
call: such calls get no entry.

The hit path is one function that reads the inputs in one comprehension and
a single Metadata's outputs inline: against a key function, a lookup
function and a signature function per input, 7-9% faster per call
(docs/perf-notes.md).
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, NamedTuple, Optional

from . import _specmeta
from ._arrays import framework_of
from ._owned_outputs import nbytes, unchanged
from ._stream import resolve_stream

_CACHE_SIZE = 64  # a server needs a few entries; one that allocates per step cycles through them


# What validation read of a call's inputs, by framework; None slots are fixed by the key (None's id is
# never another object's). An object of another type at a reused id fails the comparison, or the read
# raises (a miss).
def _torch_inputs(*arrays: Any) -> list:
    return [(type(x), x.data_ptr(), x.shape, x.stride(), x.dtype) for x in arrays if x is not None]


def _numpy_inputs(*arrays: Any) -> list:
    address = _specmeta.buffer_address
    return [(type(x), address(x), x.shape, x.strides, x.dtype) for x in arrays if x is not None]


def _cupy_inputs(*arrays: Any) -> list:
    return [(type(x), x.data.ptr, x.shape, x.strides, x.dtype) for x in arrays if x is not None]


_READERS = {"torch": _torch_inputs, "numpy": _numpy_inputs, "cupy": _cupy_inputs}


class Entry(NamedTuple):
    read_inputs: Callable[..., list]  # the inputs' framework's reader
    inputs: list  # what it read when the entry was made
    sets: tuple  # weak references to the destination sets
    capacity: Any  # the first set's capacity and width: plain attributes that the descriptor read
    width: Any
    plan: Any
    bs: int
    framework: str
    device: int


_entries: dict = {}


def launch(mode: Any, seq_lens: Any, out: Any, req_pool_indices: Any, req_to_token: Any, accept_lens: Any,
           extend_lens: Any, num_draft_tokens: Any, topk: Any, kpool: Any, page_size: Any, full_width: Any,
           stream: Any) -> tuple[bool, Optional[tuple]]:
    """Launches the call if it repeats an entry: (True, None). Else (False, its key for `enter`), the key
    None when the call cannot repeat one; the full path then also raises on what is invalid. Scalars of
    exact types only: 2048.0 or True hash as 2048 and 1 do, and must still reach the full path's type
    checks."""
    if not (type(mode) is str and type(topk) is int and type(kpool) is int and type(page_size) is int
            and type(full_width) is bool and (num_draft_tokens is None or type(num_draft_tokens) is int)):
        return False, None
    out_type = type(out)
    many_sets = out_type is list or out_type is tuple
    call_key = (mode, num_draft_tokens, topk, kpool, page_size, full_width,
                tuple(map(id, out)) if many_sets else id(out), id(seq_lens), id(req_pool_indices),
                id(req_to_token), id(accept_lens), id(extend_lens))
    entry = _entries.get(call_key)
    if entry is None:
        return False, call_key
    if many_sets:
        for ref, meta in zip(entry.sets, out):  # live weak references: the very Metadata of the entry
            if ref() is not meta or not unchanged(meta, entry.device):
                return False, call_key
        first = out[0]
    else:
        if entry.sets[0]() is not out:  # a live weak reference: the very Metadata of the entry
            return False, call_key
        owned = out._owned  # then _owned_outputs.unchanged, inlined (a call costs a tenth of a microsecond)
        if (owned is None or owned.device != entry.device
                or tuple(map(owned.address_of, owned.arrays)) != owned.addresses
                or tuple(map(nbytes, owned.arrays)) != owned.sizes):
            return False, call_key
        first = out
    if first.capacity != entry.capacity or first.width != entry.width:
        return False, call_key
    try:
        same = entry.read_inputs(seq_lens, req_pool_indices, req_to_token, accept_lens, extend_lens) == entry.inputs
    except Exception:  # an input that the reader cannot read is not what it read: the full path judges it
        same = False
    if not same:
        return False, call_key
    entry.plan.launch(entry.bs, resolve_stream(stream, entry.framework, entry.device))
    return True, None


def enter(call_key: tuple, arrays: tuple, sets: Any, plan: Any, bs: int, framework: str, device: int) -> None:
    """Records a call that just passed the full path, its sets' outputs all Metadata.empty's and unchanged.
    arrays: the call's inputs (None where not given), in `launch`'s order."""
    read_inputs = _READERS.get(framework)  # seq_lens' framework
    if read_inputs is None or any(framework_of(x) != framework for x in arrays if x is not None):
        return  # inputs of mixed frameworks (NumPy and torch CPU tensors) are read in full on every call
    try:
        refs = tuple(weakref.ref(meta) for meta in sets)
    except TypeError:  # a Metadata subclass without weak references: never entered
        return
    if len(_entries) >= _CACHE_SIZE:
        _entries.pop(next(iter(_entries)))  # the oldest entry
    _entries[call_key] = Entry(read_inputs, read_inputs(*arrays), refs, sets[0].capacity, sets[0].width, plan, bs,
                               framework, device)


def clear() -> None:
    _entries.clear()
