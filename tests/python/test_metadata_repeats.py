"""build_metadata calls that repeat an earlier call's objects (python/specmeta/_repeats.py).

A repeat skips the argument checks only while nothing they looked at has
changed: every test here changes one thing in place (or replaces it) between
calls and checks that the next call read it again, by the count of full-path
calls and by its outputs against a call on fresh copies, which always takes
the full path. The GPU form (torch CUDA tensors, under memcheck) is in
test_metadata_gpu.py.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import specmeta
from harness import assert_array_equal
from metadata_reference import OUTPUTS, POISON
from specmeta import _metadata, _repeats


_COUNTING = [True]  # off while DraftExtend.fresh runs its reference call


@pytest.fixture
def full_paths(monkeypatch):
    """The number of the test's own calls that took the full path (built a descriptor) so far."""
    count = [0]
    descriptor = _metadata._descriptor

    def counting(*args):
        count[0] += _COUNTING[0]
        return descriptor(*args)

    monkeypatch.setattr(_metadata, "_descriptor", counting)
    _metadata.clear_plan_cache()
    return count


class DraftExtend:
    """A draft_extend call whose arrays are kept, so that it can be repeated."""

    def __init__(self, xp=np, sets=1):
        self.xp = xp
        self.seq = xp.asarray(np.array([3, 5], np.int32))
        self.rpi = xp.asarray(np.array([1, 0], np.int32))
        self.table = xp.asarray(np.arange(12, dtype=np.int32).reshape(2, 6))
        self.acc = xp.asarray(np.array([2, 1], np.int32))
        self.sets = [specmeta.Metadata.empty(bs=2, capacity=8, width=6, page_size=2,
                                             like=None if xp is np else self.seq) for _ in range(sets)]
        self.out = self.sets[0] if sets == 1 else self.sets
        self.kw = dict(num_draft_tokens=4, page_size=2)

    def __call__(self, **kw):
        for meta in self.sets:  # so that any element a call leaves unwritten shows
            for name in OUTPUTS:
                getattr(meta, name)[...] = POISON
        args = dict(self.kw, req_pool_indices=self.rpi, req_to_token=self.table, accept_lens=self.acc, **kw)
        return specmeta.build_metadata("draft_extend", self.seq, out=self.out, **args)

    def fresh(self):
        """The same call on copies of every array, into new outputs: the full path's result."""
        copy = DraftExtend.__new__(DraftExtend)
        copy.xp, copy.kw = self.xp, self.kw
        for name in ("seq", "rpi", "table", "acc"):
            setattr(copy, name, getattr(self, name).clone() if hasattr(getattr(self, name), "clone")
                    else getattr(self, name).copy())
        meta = self.sets[0]
        copy.sets = [specmeta.Metadata.empty(bs=meta.bs, capacity=meta.capacity, width=meta.width,
                                             page_size=meta.page_size, like=None if self.xp is np else self.seq)]
        copy.out = copy.sets[0]
        _COUNTING[0] = False
        try:
            copy()
        finally:
            _COUNTING[0] = True
        return copy.sets[0]

    def check(self):
        want = self.fresh()
        for meta in self.sets:
            for name in OUTPUTS:
                got = np.asarray(getattr(meta, name))
                assert_array_equal(name, got, np.asarray(getattr(want, name)), "a repeated call against a fresh one")


def test_repeat_takes_the_full_path_once_and_reads_new_values(full_paths, rng):
    call = DraftExtend()
    for step in range(4):
        call.seq[:] = rng.integers(2, 7, size=2)
        call.acc[:] = rng.integers(0, 3, size=2)
        call.rpi[:] = rng.permutation(2)
        call()
        assert full_paths[0] == 1, f"step {step}"
        call.check()


def test_repeat_into_a_list_of_sets(full_paths):
    call = DraftExtend(sets=3)
    call()
    call()
    assert full_paths[0] == 1
    call.check()
    call.out[1] = specmeta.Metadata.empty(bs=2, capacity=8, width=6, page_size=2)  # the list changed in place
    call.sets = call.out
    call()
    assert full_paths[0] == 2
    call.check()


def test_input_resized_in_place_is_read_again(full_paths):
    call = DraftExtend()
    call()
    call.seq.resize(3, refcheck=False)  # bs 3: the other inputs are now too short (the call kept no reference)
    with pytest.raises(ValueError, match="expected at least 3 elements"):
        call()


def test_input_given_another_dtype_in_place_is_read_again(full_paths):
    call = DraftExtend()
    call()
    call.seq.dtype = np.int64  # the same 8 bytes: one int64 request
    call()
    assert full_paths[0] == 2
    call.check()
    assert call.sets[0].cache_seqlens[0] == np.iinfo(np.int32).max  # (5 << 32) + 3, clamped


def test_table_given_another_shape_in_place_is_read_again(full_paths):
    call = DraftExtend()
    call()
    call.table.shape = (3, 4)  # the same 12 elements: 4 columns, narrower than the width 6
    with pytest.raises(ValueError, match="width"):
        call()


def test_another_array_or_metadata_takes_the_full_path(full_paths):
    call = DraftExtend()
    call()
    call.acc = call.acc.copy()
    call()
    assert full_paths[0] == 2
    call.sets = [specmeta.Metadata.empty(bs=2, capacity=8, width=6, page_size=2)]
    call.out = call.sets[0]
    call()
    assert full_paths[0] == 3
    call.check()


@pytest.mark.parametrize("name, value, error", [
    ("topk", 2048.0, TypeError), ("full_width", 1, TypeError), ("kpool", True, TypeError),
    ("num_draft_tokens", 4.0, TypeError), ("page_size", 0, ValueError),
])
def test_scalars_are_checked_whatever_an_equal_scalar_cached(full_paths, name, value, error):
    call = DraftExtend()
    call(**{name: {"topk": 2048, "full_width": False, "kpool": 1, "num_draft_tokens": 4, "page_size": 2}[name]})
    with pytest.raises(error, match=name):
        call(**{name: value})


def test_scalar_of_a_numpy_type_takes_the_full_path(full_paths):
    call = DraftExtend()
    call()
    call(topk=np.int64(2048))
    call(topk=np.int64(2048))
    assert full_paths[0] == 3
    call.check()


def test_capacity_attribute_changed_is_read_again(full_paths):
    call = DraftExtend()
    call()
    call.sets[0].capacity = 2  # the buffers stay; 3 rows no longer fit
    call()
    assert full_paths[0] == 2
    assert call.sets[0].num_rows[0] == 2 and call.sets[0].status[0] & 1


def test_width_attribute_changed_is_read_again(full_paths):
    call = DraftExtend()
    call()
    call.sets[0].width = 4  # the buffers stay 6 columns wide
    with pytest.raises(ValueError, match="width"):
        call()
    assert full_paths[0] == 2
    call.sets[0].width = 6
    call()
    assert full_paths[0] == 2  # as the entry was made
    call.check()


def _pretend_ids(monkeypatch, ids):
    """_repeats sees the objects of `ids` (object -> stand-in) at their stand-in's id, as though
    each were another object at a reused address."""
    real_id = id
    monkeypatch.setattr(_repeats, "id", lambda x: real_id(ids.get(real_id(x), x)), raising=False)


class _Subclass(np.ndarray):
    pass


@pytest.mark.parametrize("made_with, stand_in", [
    ("numpy", "numpy subclass"),  # the same buffer: the comparison fails on the type alone
    pytest.param("numpy", "torch", marks=pytest.mark.needs_torch),  # NumPy's address reader raises on a tensor
    pytest.param("torch", "numpy", marks=pytest.mark.needs_torch),  # an ndarray has no data_ptr
])
def test_another_type_at_a_reused_id_takes_the_full_path(full_paths, monkeypatch, made_with, stand_in):
    torch = pytest.importorskip("torch") if "torch" in (made_with, stand_in) else None
    call = DraftExtend(xp=torch if made_with == "torch" else np)
    call()
    values = np.asarray(call.seq).copy()
    other = {"numpy subclass": lambda: call.seq.view(_Subclass), "numpy": lambda: values,
             "torch": lambda: torch.from_numpy(values)}[stand_in]()
    _pretend_ids(monkeypatch, {id(other): call.seq})
    call.seq = other
    if stand_in == "numpy subclass":
        with pytest.raises(TypeError, match="seq_lens"):  # the full path's verdict
            call()
    else:
        call()  # NumPy and torch CPU arrays mix on the host
        call.check()
    assert full_paths[0] == 2


@pytest.mark.parametrize("sets", [1, 2])
def test_another_object_at_a_reused_metadata_id_takes_the_full_path(full_paths, monkeypatch, sets):
    call = DraftExtend(sets=sets)
    call()
    other = {"not": "a Metadata"}
    _pretend_ids(monkeypatch, {id(other): call.sets[0]})
    call.out = other if sets == 1 else [other] + call.sets[1:]
    with pytest.raises(TypeError, match=r"out(\[0\])?: expected a specmeta.Metadata"):  # the full path's verdict
        specmeta.build_metadata("draft_extend", call.seq, out=call.out, req_pool_indices=call.rpi,
                                req_to_token=call.table, accept_lens=call.acc, **call.kw)
    assert full_paths[0] == 2


@pytest.mark.needs_torch
def test_inputs_of_mixed_frameworks_take_the_full_path_every_call(full_paths):
    import torch

    call = DraftExtend()
    call.rpi = torch.from_numpy(call.rpi.copy())  # a torch CPU tensor among NumPy arrays: allowed on the host
    for step in range(3):
        call()
        assert full_paths[0] == step + 1
        call.check()


@pytest.mark.parametrize("name", ["seqlens_expanded", "page_table_1"])
def test_output_assigned_after_a_repeat_is_written(full_paths, name):
    call = DraftExtend()
    call()
    call()
    old = getattr(call.sets[0], name)
    setattr(call.sets[0], name, np.zeros_like(old))
    old.fill(-7)
    call()
    assert full_paths[0] == 2
    assert (old == -7).all()
    call.check()


def test_entries_keep_no_object_alive(full_paths):
    call = DraftExtend()
    call()
    refs = [weakref.ref(x) for x in (call.seq, call.rpi, call.table, call.acc, call.sets[0])]
    del call
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_clear_plan_cache_forgets_repeats(full_paths):
    call = DraftExtend()
    call()
    _metadata.clear_plan_cache()
    call()
    assert full_paths[0] == 2


@pytest.mark.needs_torch
def test_torch_table_transposed_in_place_is_read_again(full_paths):
    import torch

    call = DraftExtend(xp=torch)
    call.table = torch.arange(36, dtype=torch.int32).reshape(6, 6)
    call()
    call.table.t_()  # the same shape and address; columns now strided
    with pytest.raises(ValueError, match="req_to_token"):
        call()


@pytest.mark.needs_torch
def test_torch_input_moved_in_place_is_read_again(full_paths):
    import torch

    call = DraftExtend(xp=torch)
    call()
    call.seq.set_(torch.tensor([4, 6], dtype=torch.int32))
    call()
    assert full_paths[0] == 2
    call.check()
