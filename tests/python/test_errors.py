"""Host-visible mistakes (SPEC section 6): rejected before anything is launched.

One test per validation rule. Each checks the exception type, that the
message names the offending argument, and that every output buffer passed
still holds the POISON it was filled with (nothing was written). NumPy arrays
only; the device-related rules live in test_expand_gpu.py.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import specmeta
from reference import POISON

BS = 6
QO = np.array([1, 0, 3, 2, 2, 1], dtype=np.int32)  # 9 rows
KV = np.array([4, 9, 3, 8, 2, 5], dtype=np.int64)
TOTAL = int(QO.sum())


def poisoned(n: int, dtype=np.int32) -> np.ndarray:
    return np.full(n, POISON, dtype=dtype)


def all_outputs(capacity: int = TOTAL, bs: int = BS) -> dict:
    return {
        "seqlens_expanded": poisoned(capacity),
        "cu_seqlens_q": poisoned(bs + 1),
        "row_to_req": poisoned(capacity),
        "num_rows": poisoned(1),
        "status": poisoned(1),
    }


def expect_rejected(exc_type, name: str, call, *buffers, snapshot=None):
    """call() raises exc_type naming `name`; every buffer is left as it was."""
    before = [np.array(b, copy=True) for b in buffers] if snapshot is None else snapshot
    with pytest.raises(exc_type) as info:
        call()
    message = str(info.value)
    assert re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message), (
        f"message does not name {name!r}: {message!r}"
    )
    for old, buf in zip(before, buffers):
        assert np.array_equal(np.asarray(buf), old), f"a buffer was written although the call failed: {message!r}"
    return message


def test_valid_call_for_reference():
    """The baseline every error test perturbs is itself valid."""
    outputs = all_outputs()
    specmeta.expand(KV, QO, **outputs)
    assert outputs["seqlens_expanded"].tolist() == [4, 1, 2, 3, 7, 8, 1, 2, 5]
    assert outputs["row_to_req"].tolist() == [0, 2, 2, 2, 3, 3, 4, 4, 5]
    assert outputs["cu_seqlens_q"].tolist() == [0, 1, 1, 4, 6, 8, 9]
    assert outputs["num_rows"][0] == TOTAL and outputs["status"][0] == 0


# ---------------------------------------------------------------------------
# dtypes and non-array objects -> TypeError


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.int16, np.uint32, np.uint64, np.bool_])
def test_kv_lens_wrong_dtype(dtype):
    outputs = all_outputs()
    expect_rejected(TypeError, "kv_lens", lambda: specmeta.expand(KV.astype(dtype), QO, **outputs), *outputs.values())


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.uint32, np.uint64])
def test_qo_lens_wrong_dtype(dtype):
    outputs = all_outputs()
    expect_rejected(TypeError, "qo_lens", lambda: specmeta.expand(KV, QO.astype(dtype), **outputs), *outputs.values())


@pytest.mark.parametrize("name", ["seqlens_expanded", "cu_seqlens_q", "row_to_req", "num_rows", "status"])
@pytest.mark.parametrize("dtype", [np.int64, np.uint32, np.float32])
def test_output_wrong_dtype(name, dtype):
    outputs = all_outputs()
    outputs[name] = np.full(len(outputs[name]), 0x7F, dtype=dtype)
    expect_rejected(TypeError, name, lambda: specmeta.expand(KV, QO, **outputs), *outputs.values())


@pytest.mark.parametrize("dtype", [np.int64, np.float32])
def test_expand_seqlens_out_wrong_dtype(dtype):
    out = np.full(TOTAL, 0x7F, dtype=dtype)
    expect_rejected(TypeError, "out", lambda: specmeta.expand_seqlens(KV, QO, out=out), out)


@pytest.mark.parametrize("obj", [[4, 9, 3], (4, 9), None, "4,9", 3, memoryview(b"abcd")], ids=repr)
def test_kv_lens_not_an_array(obj):
    outputs = all_outputs()
    expect_rejected(TypeError, "kv_lens", lambda: specmeta.expand(obj, 1, **outputs), *outputs.values())


@pytest.mark.parametrize("obj", [[1, 0, 3, 2, 2, 1], 2.0, True, None, "2"], ids=repr)
def test_qo_lens_not_an_array_or_int(obj):
    outputs = all_outputs()
    expect_rejected(TypeError, "qo_lens", lambda: specmeta.expand(KV, obj, **outputs), *outputs.values())


@pytest.mark.parametrize("name", ["seqlens_expanded", "cu_seqlens_q", "row_to_req", "num_rows", "status"])
def test_output_not_an_array(name):
    outputs = all_outputs()
    bad = [POISON] * len(outputs[name])
    outputs[name] = bad
    expect_rejected(TypeError, name, lambda: specmeta.expand(KV, QO, **outputs), *[v for v in outputs.values() if v is not bad])
    assert bad == [POISON] * len(bad)


def test_expand_seqlens_out_not_an_array():
    expect_rejected(TypeError, "out", lambda: specmeta.expand_seqlens(KV, QO, out=[0] * TOTAL))


@pytest.mark.parametrize("name,value", [("capacity", 9.0), ("capacity", "9"), ("capacity", True),
                                        ("max_qo", 4.0), ("max_qo", "4"), ("max_qo", True)])
def test_host_int_argument_wrong_type(name, value):
    outputs = all_outputs()
    expect_rejected(TypeError, name, lambda: specmeta.expand(KV, QO, **{name: value}, **outputs), *outputs.values())


def test_stream_for_host_arrays():
    outputs = all_outputs()
    expect_rejected(ValueError, "stream", lambda: specmeta.expand(KV, QO, stream=0, **outputs), *outputs.values())
    out = poisoned(TOTAL)
    expect_rejected(ValueError, "stream", lambda: specmeta.expand_seqlens(KV, QO, out=out, stream=7), out)


# ---------------------------------------------------------------------------
# rank, contiguity, writability -> ValueError


@pytest.mark.parametrize("shape", [(2, 3), (6, 1), ()], ids=["2x3", "6x1", "0-D"])
def test_kv_lens_wrong_ndim(shape):
    outputs = all_outputs()
    kv = np.full(shape, 5, dtype=np.int32)
    expect_rejected(ValueError, "kv_lens", lambda: specmeta.expand(kv, 1, capacity=6, **outputs), *outputs.values())


@pytest.mark.parametrize("shape", [(2, 3), (6, 1), ()], ids=["2x3", "6x1", "0-D"])
def test_qo_lens_wrong_ndim(shape):
    outputs = all_outputs()
    qo = np.ones(shape, dtype=np.int32)
    expect_rejected(ValueError, "qo_lens", lambda: specmeta.expand(KV, qo, capacity=9, **outputs), *outputs.values())


@pytest.mark.parametrize("name", ["seqlens_expanded", "cu_seqlens_q", "row_to_req", "num_rows", "status"])
def test_output_wrong_ndim(name):
    outputs = all_outputs()
    bad = poisoned(len(outputs[name]) * 2).reshape(2, -1)
    outputs[name] = bad
    expect_rejected(ValueError, name, lambda: specmeta.expand(KV, QO, **outputs), *outputs.values())


def test_kv_lens_not_contiguous():
    outputs = all_outputs()
    kv = np.repeat(KV, 2)[::2]
    assert not kv.flags.c_contiguous
    expect_rejected(ValueError, "kv_lens", lambda: specmeta.expand(kv, QO, **outputs), *outputs.values())


def test_qo_lens_not_contiguous():
    outputs = all_outputs()
    qo = np.repeat(QO, 2)[::2]
    expect_rejected(ValueError, "qo_lens", lambda: specmeta.expand(KV, qo, **outputs), *outputs.values())


@pytest.mark.parametrize("name", ["seqlens_expanded", "cu_seqlens_q", "row_to_req"])
def test_output_not_contiguous(name):
    outputs = all_outputs()
    backing = poisoned(len(outputs[name]) * 2)
    outputs[name] = backing[::2]
    expect_rejected(ValueError, name, lambda: specmeta.expand(KV, QO, **outputs), *outputs.values(), backing)


def test_expand_seqlens_out_not_contiguous():
    backing = poisoned(TOTAL * 3)
    expect_rejected(ValueError, "out", lambda: specmeta.expand_seqlens(KV, QO, out=backing[::3]), backing)


@pytest.mark.parametrize("name", ["seqlens_expanded", "cu_seqlens_q", "row_to_req", "num_rows", "status"])
def test_output_read_only(name):
    outputs = all_outputs()
    outputs[name].flags.writeable = False
    expect_rejected(ValueError, name, lambda: specmeta.expand(KV, QO, **outputs), *outputs.values())


# ---------------------------------------------------------------------------
# sizes -> ValueError


@pytest.mark.parametrize("size", [0, BS - 1, BS + 1])
def test_qo_lens_size_differs_from_kv_lens(size):
    outputs = all_outputs()
    qo = np.ones(size, dtype=np.int32)
    expect_rejected(ValueError, "qo_lens", lambda: specmeta.expand(KV, qo, capacity=9, **outputs), *outputs.values())


@pytest.mark.parametrize("name", ["seqlens_expanded", "row_to_req"])
def test_per_row_output_shorter_than_capacity(name):
    outputs = all_outputs()
    outputs[name] = poisoned(TOTAL - 1)
    expect_rejected(ValueError, name, lambda: specmeta.expand(KV, QO, capacity=TOTAL, **outputs), *outputs.values())


def test_row_to_req_shorter_than_seqlens_expanded_without_capacity():
    """capacity defaults to len(seqlens_expanded); a shorter row_to_req is too short."""
    outputs = all_outputs()
    outputs["row_to_req"] = poisoned(TOTAL - 2)
    expect_rejected(ValueError, "row_to_req", lambda: specmeta.expand(KV, QO, **outputs), *outputs.values())


@pytest.mark.parametrize("name,size", [("cu_seqlens_q", BS), ("cu_seqlens_q", 0), ("num_rows", 0), ("status", 0)])
def test_small_output_too_short(name, size):
    outputs = all_outputs()
    outputs[name] = poisoned(size)
    expect_rejected(ValueError, name, lambda: specmeta.expand(KV, QO, **outputs), *outputs.values())


def test_expand_seqlens_out_shorter_than_capacity():
    out = poisoned(TOTAL - 1)
    expect_rejected(ValueError, "out", lambda: specmeta.expand_seqlens(KV, QO, capacity=TOTAL, out=out), out)


# ---------------------------------------------------------------------------
# host integers -> ValueError


@pytest.mark.parametrize("qo", [-1, -(2**40)])
def test_negative_uniform_qo(qo):
    outputs = all_outputs(capacity=64)
    expect_rejected(ValueError, "qo_lens", lambda: specmeta.expand(KV, qo, **outputs), *outputs.values())
    out = poisoned(64)
    expect_rejected(ValueError, "qo_lens", lambda: specmeta.expand_seqlens(KV, qo, out=out), out)


def test_uniform_qo_above_max_qo():
    outputs = all_outputs(capacity=64)
    expect_rejected(ValueError, "qo_lens", lambda: specmeta.expand(KV, 5, max_qo=4, **outputs), *outputs.values())


def test_uniform_qo_above_int32():
    outputs = all_outputs(capacity=64)
    expect_rejected(ValueError, "qo_lens", lambda: specmeta.expand(KV[:1], 2**31, **outputs), *outputs.values())


@pytest.mark.parametrize("max_qo", [-1, 2**31, 2**40])
def test_max_qo_out_of_range(max_qo):
    outputs = all_outputs()
    expect_rejected(ValueError, "max_qo", lambda: specmeta.expand(KV, QO, max_qo=max_qo, **outputs), *outputs.values())


@pytest.mark.parametrize("capacity", [-1, -(2**40), 2**31, 2**40])
def test_capacity_out_of_range(capacity):
    outputs = {k: v for k, v in all_outputs().items() if k in ("cu_seqlens_q", "num_rows", "status")}
    expect_rejected(ValueError, "capacity", lambda: specmeta.expand(KV, QO, capacity=capacity, **outputs),
                    *outputs.values())


@pytest.mark.parametrize("capacity", [0, 1, BS * 3 - 1])
def test_capacity_below_uniform_total(capacity):
    """bs * qo is known on the host: too small a capacity is an error, not bit 1."""
    outputs = all_outputs(capacity=BS * 3)
    expect_rejected(ValueError, "capacity", lambda: specmeta.expand(KV, 3, capacity=capacity, **outputs),
                    *outputs.values())
    out = poisoned(BS * 3)
    expect_rejected(ValueError, "capacity", lambda: specmeta.expand_seqlens(KV, 3, capacity=capacity, out=out), out)


def test_uniform_total_longer_than_outputs_without_capacity():
    """capacity taken from a too-short output is too small for bs * qo."""
    outputs = all_outputs(capacity=BS * 3 - 1)
    expect_rejected(ValueError, "capacity", lambda: specmeta.expand(KV, 3, **outputs), *outputs.values())


@pytest.mark.parametrize("name", ["qo_lens", "capacity", "max_qo"])
def test_host_int_past_int64(name):
    outputs = all_outputs(capacity=64)
    kwargs = {"qo_lens": 1, "capacity": 64, name: 2**70}
    qo = kwargs.pop("qo_lens")
    expect_rejected((TypeError, ValueError), name, lambda: specmeta.expand(KV, qo, **kwargs, **outputs),
                    *outputs.values())


# ---------------------------------------------------------------------------
# aliasing -> ValueError naming the output


@pytest.mark.parametrize("name", ["seqlens_expanded", "cu_seqlens_q", "row_to_req", "num_rows", "status"])
def test_output_overlaps_kv_lens(name):
    outputs = all_outputs()
    backing = np.full(64, POISON, dtype=np.int32)
    kv = backing[:BS]
    kv[:] = KV
    size = len(outputs[name])
    outputs[name] = backing[BS - 1 : BS - 1 + size]  # shares kv's last element
    message = expect_rejected(ValueError, name, lambda: specmeta.expand(kv, QO, **outputs), *outputs.values(),
                              backing)
    assert "kv_lens" in message


@pytest.mark.parametrize("name", ["seqlens_expanded", "cu_seqlens_q", "row_to_req", "num_rows", "status"])
def test_output_overlaps_qo_lens(name):
    outputs = all_outputs()
    backing = np.full(64, POISON, dtype=np.int32)
    qo = backing[20 : 20 + BS]
    qo[:] = QO
    size = len(outputs[name])
    outputs[name] = backing[20 + BS - 1 : 20 + BS - 1 + size]  # shares qo's last element
    assert np.shares_memory(outputs[name], qo)
    message = expect_rejected(ValueError, name, lambda: specmeta.expand(KV, qo, **outputs), *outputs.values(),
                              backing)
    assert "qo_lens" in message


def test_int32_output_overlaps_half_of_an_int64_kv():
    """Overlap is decided in bytes: the high half of kv's last int64 element counts."""
    backing = np.zeros(32, dtype=np.int64)
    kv = backing[:BS]
    kv[:] = KV
    status = backing.view(np.int32)[2 * BS - 1 : 2 * BS]
    expect_rejected(ValueError, "status", lambda: specmeta.expand(kv, QO, status=status), backing)


@pytest.mark.parametrize("first,second", [("seqlens_expanded", "row_to_req"), ("seqlens_expanded", "cu_seqlens_q"),
                                          ("row_to_req", "num_rows"), ("cu_seqlens_q", "status"),
                                          ("num_rows", "status")])
def test_outputs_overlap_each_other(first, second):
    outputs = all_outputs()
    backing = np.full(64, POISON, dtype=np.int32)
    outputs[first] = backing[: len(outputs[first])]
    start = len(outputs[first]) - 1
    outputs[second] = backing[start : start + len(outputs[second])]
    message = expect_rejected(ValueError, second, lambda: specmeta.expand(KV, QO, **outputs), *outputs.values(),
                              backing)
    assert first in message


def test_adjacent_buffers_are_not_overlapping():
    """No false positive: outputs right after the inputs in one allocation are fine."""
    backing = np.full(64, POISON, dtype=np.int32)
    kv, qo = backing[:BS], backing[BS : 2 * BS]
    kv[:] = KV
    qo[:] = QO
    seqlens = backing[2 * BS : 2 * BS + TOTAL]
    row_to_req = backing[2 * BS + TOTAL : 2 * BS + 2 * TOTAL]
    specmeta.expand(kv, qo, seqlens_expanded=seqlens, row_to_req=row_to_req)
    assert seqlens.tolist() == [4, 1, 2, 3, 7, 8, 1, 2, 5]
    assert row_to_req.tolist() == [0, 2, 2, 2, 3, 3, 4, 4, 5]


def test_expand_seqlens_out_overlaps_kv_lens():
    backing = np.full(64, POISON, dtype=np.int32)
    kv = backing[:BS]
    kv[:] = KV
    out = backing[2 : 2 + TOTAL]
    expect_rejected(ValueError, "out", lambda: specmeta.expand_seqlens(kv, QO, out=out), backing)


# ---------------------------------------------------------------------------
# Zero-element outputs


@pytest.mark.parametrize("name,kwargs", [("cu_seqlens_q", {}), ("num_rows", {}), ("status", {}),
                                         ("seqlens_expanded", {"capacity": 2}), ("row_to_req", {"capacity": 2})])
def test_empty_numpy_output_too_short(name, kwargs):
    expect_rejected(ValueError, name, lambda: specmeta.expand(KV[:2], 1, **kwargs, **{name: poisoned(0)}))


@pytest.mark.needs_torch

@pytest.mark.parametrize("name,kwargs", [("cu_seqlens_q", {}), ("num_rows", {}), ("status", {}),
                                         ("seqlens_expanded", {"capacity": 2}), ("row_to_req", {"capacity": 2})])
def test_empty_torch_cpu_output_too_short(torch_mod, name, kwargs):
    torch = torch_mod
    kv = torch.tensor([5, 6], dtype=torch.int32)
    with pytest.raises(ValueError, match=name):
        specmeta.expand(kv, 1, **kwargs, **{name: torch.empty(0, dtype=torch.int32)})


# ---------------------------------------------------------------------------
# Host checks of CUDA-only paths, through the helpers that make them (no GPU
# needed: they look only at the device number the array reported). The public
# paths are covered by test_expand_gpu.py and test_metadata_gpu.py on a GPU.


def _cuda_info(size: int = BS):
    from specmeta._arrays import INT32, ArrayInfo

    return ArrayInfo(ptr=0x1000, itype=INT32, size=size, device=0, framework="torch")


def test_capacity_required_for_a_cuda_qo_array():
    """The row total of a CUDA qo_lens is only known on the device: no capacity and no sized output is an error."""
    from specmeta._expand import _NO_ARRAY, _capacity

    with pytest.raises(ValueError, match=r"^capacity: required"):
        _capacity(None, _cuda_info(), _cuda_info(), 0, specmeta.NO_MAX_QO, (_NO_ARRAY, _NO_ARRAY))


@pytest.mark.parametrize("stream", [object(), "0", 1.5, True], ids=repr)
def test_stream_of_an_unknown_type_for_cuda_arrays(stream):
    from specmeta._stream import resolve_stream

    with pytest.raises(TypeError, match=r"^stream: expected"):
        resolve_stream(stream, "torch", 0)


def test_arrays_on_different_devices():
    from specmeta._arrays import HOST, same_device

    host = _cuda_info()._replace(device=HOST, framework="numpy")
    with pytest.raises(ValueError, match=r"^qo_lens: .*kv_lens \(cpu\).*cuda:0"):
        same_device("qo_lens", _cuda_info(), "kv_lens", host)
    with pytest.raises(ValueError, match=r"^status: .*kv_lens \(cuda:1\).*cuda:0"):
        same_device("status", _cuda_info(), "kv_lens", _cuda_info()._replace(device=1))
    same_device("qo_lens", _cuda_info(), "kv_lens", _cuda_info())
