"""What Metadata.empty read and checked of the outputs it made, and the test
that a call may still use it.

A call into a Metadata made by empty() reads only each output's address and
size in bytes: an output that moved or shrank (resize_ past its storage,
set_, .data, NumPy's resize) fails the test and every output is read and
checked again. What may have changed in place without either changing (a
shape, by resize_ or .data) lies within the same bytes, which calls may
write. Shared by the full path (_metadata) and the repeat path (_repeats).
"""

from __future__ import annotations

import operator
from typing import Any, Callable, NamedTuple

from . import _specmeta
from ._arrays import framework_of

nbytes = operator.attrgetter("nbytes")


class OwnedOutputs(NamedTuple):
    device: int
    address_of: Callable[[Any], int]  # the arrays' framework's address reader
    arrays: tuple
    addresses: tuple
    sizes: tuple  # in bytes
    fields: tuple  # every output's descriptor fields


def address_reader(array: Any) -> Callable[[Any], int]:
    """The call that reads an array's current address, for `map` over a set's
    arrays of one framework."""
    framework = framework_of(array)
    if framework == "torch":
        return type(array).data_ptr
    if framework == "cupy":
        return lambda x: x.data.ptr
    return _specmeta.buffer_address


def own(device: int, arrays: tuple, fields: tuple) -> OwnedOutputs:
    """Records `arrays` (one framework's, on `device`) as read and checked into `fields`."""
    address_of = address_reader(arrays[0])
    return OwnedOutputs(device, address_of, arrays, tuple(map(address_of, arrays)), tuple(map(nbytes, arrays)), fields)


def unchanged(meta: Any, device: int) -> bool:
    """True when `meta`'s outputs are Metadata.empty's, none assigned since
    (assigning one sets `_owned` to None), each still at the address and of
    the size in bytes it had then, on `device`."""
    owned = meta._owned
    return (
        owned is not None
        and owned.device == device
        and tuple(map(owned.address_of, owned.arrays)) == owned.addresses
        and tuple(map(nbytes, owned.arrays)) == owned.sizes
    )
