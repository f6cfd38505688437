"""Host-visible mistakes of the metadata builder (SPEC section 6, docs/builder-contract.md
"Host errors"): rejected before anything runs.

One test per rule (parametrized over the arguments it applies to). Each checks
the exception type (TypeError for a wrong type, ValueError otherwise), that the
message names the offending argument (and, for a bad host integer, the value
given), and that no output buffer and no input array changed. NumPy arrays
only; device mismatches live in test_metadata_gpu.py.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import specmeta
from metadata_reference import OUTPUTS, PAGE_TABLES, POISON, output_shapes

BS = 4
N = 3
SEQ = np.array([5, 9, 3, 7], dtype=np.int64)
ACCEPT = np.array([1, 3, 0, 2], dtype=np.int32)  # draft_extend, 6 rows
EXTEND = np.array([2, 0, 3, 1], dtype=np.int32)  # extend, 6 rows
RPI = np.array([2, 0, 1, 0], dtype=np.int32)
TABLE = np.arange(3 * 12, dtype=np.int32).reshape(3, 12)  # pool 3, W 12
CAPACITY = 13  # >= bs * N = 12
WIDTH = 10
PS = 4

MODE_INPUTS = {  # the inputs each mode takes besides seq_lens and the page-table pair
    "decode": {},
    "target_verify": {"num_draft_tokens": N},
    "draft_extend": {"accept_lens": ACCEPT, "num_draft_tokens": N},
    "draft_extend_static": {"num_draft_tokens": N},
    "extend": {"extend_lens": EXTEND},
}


def poisoned(shape, dtype=np.int32) -> np.ndarray:
    return np.full(shape, POISON, dtype=dtype)


def outputs(capacity=CAPACITY, width=WIDTH, page_size=PS, bs=BS, names=OUTPUTS) -> dict:
    return {name: poisoned(shape) for name, shape in output_shapes(bs, capacity, width, page_size).items()
            if name in names}


def metadata(arrays: dict, capacity=CAPACITY, width=WIDTH, page_size=PS, bs=BS):
    return specmeta.Metadata(bs=bs, capacity=capacity, width=width, page_size=page_size, **arrays)


def valid_kwargs(mode: str, tables: bool = True) -> dict:
    kwargs = {name: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
              for name, v in MODE_INPUTS[mode].items()}
    kwargs["page_size"] = PS
    if tables:
        kwargs["req_pool_indices"] = RPI.copy()
        kwargs["req_to_token"] = TABLE.copy()
    return kwargs


def expect_rejected(exc_type, name: str, call, *buffers, given=None):
    """call() raises exc_type naming `name` (and `given`, when set); no buffer changed."""
    before = [np.array(b, copy=True) for b in buffers]
    with pytest.raises(exc_type) as info:
        call()
    message = str(info.value)
    assert re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message), (
        f"message does not name {name!r}: {message!r}"
    )
    if given is not None:
        assert str(given) in message, f"message does not give the value {given!r}: {message!r}"
    for old, buf in zip(before, buffers):
        assert np.array_equal(np.asarray(buf), old), f"a buffer changed although the call failed: {message!r}"
    return message


def arrays_of(*dicts) -> list:
    return [v for d in dicts for v in d.values() if isinstance(v, np.ndarray)]


def rejected_call(exc_type, name, mode="target_verify", *, seq=SEQ, outs=None, given=None, meta_kw=None, **override):
    """build_metadata(mode) with valid arguments except `override`; must raise naming `name`."""
    outs = outputs() if outs is None else outs
    kwargs = valid_kwargs(mode)
    kwargs.update(override)
    kwargs = {k: v for k, v in kwargs.items() if v is not _DROP}
    meta = metadata(outs, **(meta_kw or {}))
    return expect_rejected(exc_type, name, lambda: specmeta.build_metadata(mode, seq, out=meta, **kwargs),
                           *arrays_of(outs, kwargs), seq, given=given)


_DROP = object()  # an override that removes the argument


@pytest.mark.parametrize("mode", list(MODE_INPUTS))
def test_valid_baseline(mode):
    """The call every test below perturbs is itself valid, for every mode."""
    outs = outputs()
    specmeta.build_metadata(mode, SEQ, out=metadata(outs), **valid_kwargs(mode))
    assert outs["status"][0] == 0
    assert outs["num_rows"][0] == {"decode": 4, "target_verify": 12, "draft_extend": 6, "draft_extend_static": 12,
                                   "extend": 6}[mode]


# ---------------------------------------------------------------------------
# wrong types -> TypeError


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.int16, np.uint32, np.uint64, np.bool_])
def test_seq_lens_wrong_dtype(dtype):
    rejected_call(TypeError, "seq_lens", seq=SEQ.astype(dtype))


@pytest.mark.parametrize("name,mode", [("accept_lens", "draft_extend"), ("extend_lens", "extend"),
                                       ("req_pool_indices", "decode")])
@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.uint64])
def test_index_input_wrong_dtype(name, mode, dtype):
    value = valid_kwargs(mode)[name].astype(dtype)
    rejected_call(TypeError, name, mode, **{name: value})


@pytest.mark.parametrize("dtype", [np.int64, np.uint32, np.float32])
def test_req_to_token_wrong_dtype(dtype):
    rejected_call(TypeError, "req_to_token", req_to_token=TABLE.astype(dtype))


@pytest.mark.parametrize("name", OUTPUTS)
@pytest.mark.parametrize("dtype", [np.int64, np.uint32, np.float32])
def test_output_wrong_dtype(name, dtype):
    outs = outputs()
    outs[name] = np.full(outs[name].shape, 0x7F, dtype=dtype)
    rejected_call(TypeError, name, outs=outs)


@pytest.mark.parametrize("obj", [[5, 9, 3, 7], (5, 9), None, 4, "5,9"], ids=repr)
def test_seq_lens_not_an_array(obj):
    rejected_call(TypeError, "seq_lens", seq=obj)


@pytest.mark.parametrize("name,mode", [("accept_lens", "draft_extend"), ("extend_lens", "extend"),
                                       ("req_pool_indices", "decode"), ("req_to_token", "decode")])
def test_input_not_an_array(name, mode):
    rejected_call(TypeError, name, mode, **{name: [1, 2, 3, 4]})


@pytest.mark.parametrize("name", OUTPUTS)
def test_output_not_an_array(name):
    outs = outputs()
    bad = outs[name].tolist()
    outs[name] = bad
    rejected_call(TypeError, name, outs=outs)


@pytest.mark.parametrize("out", [None, {}, "out", 3], ids=repr)
def test_out_not_metadata(out):
    expect_rejected(TypeError, "out", lambda: specmeta.build_metadata("decode", SEQ, out=out))


def test_out_list_with_a_non_metadata():
    outs = outputs()
    expect_rejected(TypeError, "out", lambda: specmeta.build_metadata(
        "target_verify", SEQ, out=[metadata(outs), outs], **valid_kwargs("target_verify")), *outs.values())


@pytest.mark.parametrize("mode", [None, 1, b"decode"], ids=repr)
def test_mode_not_a_string(mode):
    outs = outputs()
    expect_rejected(TypeError, "mode", lambda: specmeta.build_metadata(mode, SEQ, out=metadata(outs)),
                    *outs.values())


@pytest.mark.parametrize("name,value", [("topk", 2048.0), ("topk", "5"), ("kpool", True), ("page_size", 4.0),
                                        ("num_draft_tokens", "3"), ("num_draft_tokens", 3.0)])
def test_host_int_wrong_type(name, value):
    rejected_call(TypeError, name, **{name: value})


@pytest.mark.parametrize("value", [1, "yes", None])
def test_full_width_not_a_bool(value):
    rejected_call(TypeError, "full_width", full_width=value)


# ---------------------------------------------------------------------------
# rank, contiguity, writability -> ValueError


@pytest.mark.parametrize("name,mode", [("seq_lens", "decode"), ("accept_lens", "draft_extend"),
                                       ("extend_lens", "extend"), ("req_pool_indices", "decode")])
@pytest.mark.parametrize("shape", [(2, 2), (4, 1), ()], ids=["2x2", "4x1", "0-D"])
def test_input_wrong_ndim(name, mode, shape):
    value = np.ones(shape, dtype=np.int64)
    if name == "seq_lens":
        rejected_call(ValueError, name, mode, seq=value)
    else:
        rejected_call(ValueError, name, mode, **{name: value})


@pytest.mark.parametrize("shape", [(36,), (3, 12, 1)])
def test_req_to_token_wrong_ndim(shape):
    rejected_call(ValueError, "req_to_token", req_to_token=np.zeros(shape, np.int32))


@pytest.mark.parametrize("name", [n for n in OUTPUTS if n not in PAGE_TABLES])
def test_output_wrong_ndim(name):
    outs = outputs()
    outs[name] = poisoned((outs[name].size, 2))
    rejected_call(ValueError, name, outs=outs)


@pytest.mark.parametrize("name", PAGE_TABLES)
def test_page_table_wrong_ndim(name):
    outs = outputs()
    outs[name] = poisoned(outs[name].size)
    rejected_call(ValueError, name, outs=outs)


@pytest.mark.parametrize("name,mode", [("seq_lens", "decode"), ("accept_lens", "draft_extend"),
                                       ("extend_lens", "extend"), ("req_pool_indices", "decode")])
def test_input_not_contiguous(name, mode):
    base = SEQ if name == "seq_lens" else valid_kwargs(mode)[name]
    strided = np.repeat(base, 2)[::2]
    assert not strided.flags.c_contiguous
    if name == "seq_lens":
        rejected_call(ValueError, name, mode, seq=strided)
    else:
        rejected_call(ValueError, name, mode, **{name: strided})


@pytest.mark.parametrize("name", [n for n in OUTPUTS if n not in PAGE_TABLES + ("num_rows", "status")])
def test_output_not_contiguous(name):
    outs = outputs()
    backing = poisoned(outs[name].size * 2)
    outs[name] = backing[::2]
    rejected_call(ValueError, name, outs=outs)
    assert np.all(backing == POISON)


def test_req_to_token_columns_not_contiguous():
    wide = np.repeat(TABLE, 2, axis=1)
    rejected_call(ValueError, "req_to_token", req_to_token=wide[:, ::2])


def test_req_to_token_rows_overlap():
    """A row stride smaller than the columns (rows overlapping) is not a table."""
    flat = np.arange(64, dtype=np.int32)
    overlapping = np.lib.stride_tricks.as_strided(flat, shape=(3, 12), strides=(4 * 8, 4))
    rejected_call(ValueError, "req_to_token", req_to_token=overlapping)


@pytest.mark.parametrize("name", PAGE_TABLES)
def test_page_table_columns_not_contiguous(name):
    outs = outputs()
    rows, cols = outs[name].shape
    backing = poisoned((rows, cols * 2))
    outs[name] = backing[:, ::2]
    rejected_call(ValueError, name, outs=outs)
    assert np.all(backing == POISON)


@pytest.mark.parametrize("name", PAGE_TABLES)
def test_page_table_rows_overlap(name):
    outs = outputs()
    rows, cols = outs[name].shape
    backing = poisoned(rows * cols)
    outs[name] = np.lib.stride_tricks.as_strided(backing, shape=(rows, cols), strides=(4 * (cols - 1), 4))
    rejected_call(ValueError, name, outs=outs)
    assert np.all(backing == POISON)


@pytest.mark.parametrize("name", OUTPUTS)
def test_output_read_only(name):
    outs = outputs()
    outs[name].flags.writeable = False
    rejected_call(ValueError, name, outs=outs)


# ---------------------------------------------------------------------------
# sizes -> ValueError


SHORT_OUTPUTS = [
    ("cache_seqlens", (BS - 1,)),
    ("cache_seqlens", (0,)),
    ("cu_seqlens_k", (BS,)),
    ("cu_seqlens_q", (BS,)),
    ("seqlens_expanded", (CAPACITY - 1,)),
    ("sparse_seqlens", (CAPACITY - 1,)),
    ("row_to_req", (CAPACITY - 1,)),
    ("sparse_cu_seqlens_k", (CAPACITY,)),
    ("num_rows", (0,)),
    ("status", (0,)),
    ("page_table_1", (CAPACITY - 1, WIDTH)),
    ("real_page_table", (CAPACITY - 1, 3)),
]


@pytest.mark.parametrize("name,shape", SHORT_OUTPUTS, ids=lambda v: str(v))
def test_output_too_small(name, shape):
    outs = outputs()
    outs[name] = poisoned(shape)
    rejected_call(ValueError, name, outs=outs)


@pytest.mark.parametrize("name,cols", [("page_table_1", WIDTH - 1), ("page_table_1", WIDTH + 1),
                                       ("real_page_table", 2), ("real_page_table", 4), ("real_page_table", WIDTH)])
def test_page_table_columns_not_the_width(name, cols):
    """page_table_1 has exactly width columns, real_page_table exactly ceil(width / ps) = 3."""
    outs = outputs()
    outs[name] = poisoned((CAPACITY, cols))
    rejected_call(ValueError, name, outs=outs)


def test_width_wider_than_req_to_token():
    outs = outputs(width=13)
    rejected_call(ValueError, "width", outs=outs, meta_kw={"width": 13}, given=13)


@pytest.mark.parametrize("name,mode", [("accept_lens", "draft_extend"), ("extend_lens", "extend"),
                                       ("req_pool_indices", "target_verify")])
def test_input_shorter_than_bs(name, mode):
    """bs = len(seq_lens) is larger than this input."""
    short = valid_kwargs(mode)[name][: BS - 1]
    rejected_call(ValueError, name, mode, **{name: short})


# ---------------------------------------------------------------------------
# host integers -> ValueError naming the value given


@pytest.mark.parametrize("value", [0, -1, -64])
def test_page_size_below_one(value):
    rejected_call(ValueError, "page_size", page_size=value, given=value)


@pytest.mark.parametrize("value", [0, -5])
def test_topk_below_one(value):
    rejected_call(ValueError, "topk", topk=value, given=value)


@pytest.mark.parametrize("value", [0, -4])
def test_kpool_below_one(value):
    rejected_call(ValueError, "kpool", kpool=value, given=value)


@pytest.mark.parametrize("mode", ["target_verify", "draft_extend", "draft_extend_static"])
@pytest.mark.parametrize("value", [-1, -(2**40)])
def test_negative_num_draft_tokens(mode, value):
    rejected_call(ValueError, "num_draft_tokens", mode, num_draft_tokens=value, given=value)


@pytest.mark.parametrize("name,value", [("topk", 2**70), ("num_draft_tokens", 2**70), ("page_size", 2**70)])
def test_host_int_past_int64(name, value):
    outs = outputs()
    kwargs = valid_kwargs("target_verify")
    kwargs[name] = value
    expect_rejected((TypeError, ValueError), name,
                    lambda: specmeta.build_metadata("target_verify", SEQ, out=metadata(outs), **kwargs),
                    *outs.values())


@pytest.mark.parametrize("mode,capacity", [("decode", BS - 1), ("decode", 0), ("target_verify", BS * N - 1),
                                           ("draft_extend_static", 1)])
def test_capacity_below_uniform_total(mode, capacity):
    """bs * qo is known on the host: too small a capacity is an error, not status bit 1."""
    # zero-row page tables are a separate matter (test_metadata_cpu.py::test_zero_capacity_page_tables)
    outs = outputs(capacity=capacity, names=OUTPUTS if capacity else ("seqlens_expanded", "num_rows", "status"))
    rejected_call(ValueError, "capacity", mode, outs=outs, meta_kw={"capacity": capacity})


def test_capacity_below_ragged_total_is_not_a_host_error():
    """draft_extend's total is only known on the device: too small a capacity is bit 1 (contrast)."""
    outs = outputs(capacity=2)
    specmeta.build_metadata("draft_extend", SEQ, out=metadata(outs, capacity=2), **valid_kwargs("draft_extend"))
    assert outs["status"][0] == 1 and outs["num_rows"][0] == 2


# ---------------------------------------------------------------------------
# mode inputs missing or given where not used


@pytest.mark.parametrize("mode,name", [("target_verify", "num_draft_tokens"), ("draft_extend_static", "num_draft_tokens"),
                                       ("draft_extend", "accept_lens"), ("extend", "extend_lens")])
def test_mode_input_missing(mode, name):
    rejected_call(ValueError, name, mode, **{name: _DROP})


@pytest.mark.parametrize(
    "mode,name",
    [("decode", "accept_lens"), ("decode", "extend_lens"), ("decode", "num_draft_tokens"),
     ("target_verify", "accept_lens"), ("target_verify", "extend_lens"),
     ("draft_extend", "extend_lens"), ("draft_extend_static", "accept_lens"), ("draft_extend_static", "extend_lens"),
     ("extend", "accept_lens"), ("extend", "num_draft_tokens")],
)
def test_mode_input_given_where_unused(mode, name):
    value = {"accept_lens": ACCEPT.copy(), "extend_lens": EXTEND.copy(), "num_draft_tokens": N}[name]
    rejected_call(ValueError, name, mode, **{name: value})


@pytest.mark.parametrize("table", PAGE_TABLES)
@pytest.mark.parametrize("missing", ["req_pool_indices", "req_to_token"])
def test_page_table_wanted_without_its_inputs(table, missing):
    outs = outputs(names=(table, "status"))
    rejected_call(ValueError, missing, outs=outs, **{missing: _DROP})


@pytest.mark.parametrize("mode", ["prefill", "Decode", ""])
def test_unknown_mode(mode):
    outs = outputs()
    expect_rejected(ValueError, "mode", lambda: specmeta.build_metadata(mode, SEQ, out=metadata(outs)),
                    *outs.values(), given=repr(mode))


# ---------------------------------------------------------------------------
# aliasing -> ValueError naming the output


@pytest.mark.parametrize("name", [n for n in OUTPUTS if n not in PAGE_TABLES])
def test_output_overlaps_seq_lens(name):
    backing = poisoned(128)
    seq = backing[:BS]
    seq[:] = [5, 9, 3, 7]
    outs = outputs()
    size = outs[name].size
    outs[name] = backing[BS - 1 : BS - 1 + size]  # shares seq_lens' last element
    message = rejected_call(ValueError, name, seq=seq, outs=outs)
    assert "seq_lens" in message


@pytest.mark.parametrize("name,mode", [("accept_lens", "draft_extend"), ("extend_lens", "extend"),
                                       ("req_pool_indices", "decode")])
def test_output_overlaps_index_input(name, mode):
    backing = poisoned(128)
    values = valid_kwargs(mode)[name]
    shared = backing[:BS]
    shared[:] = values
    outs = outputs()
    outs["row_to_req"] = backing[2 : 2 + CAPACITY]
    message = rejected_call(ValueError, "row_to_req", mode, outs=outs, **{name: shared})
    assert name in message


@pytest.mark.parametrize("name", PAGE_TABLES)
def test_page_table_overlaps_req_to_token(name):
    outs = outputs()
    rows, cols = outs[name].shape
    backing = poisoned((rows + 3, 12))
    table = backing[:3]
    table[:] = TABLE
    outs[name] = backing[2 : 2 + rows, :cols]  # its first row is the table's last
    message = rejected_call(ValueError, name, outs=outs, req_to_token=table)
    assert "req_to_token" in message


@pytest.mark.parametrize("first,second", [("seqlens_expanded", "row_to_req"), ("cache_seqlens", "cu_seqlens_k"),
                                          ("sparse_cu_seqlens_k", "num_rows"), ("cu_seqlens_q", "status"),
                                          ("num_rows", "status")])
def test_outputs_overlap_each_other(first, second):
    outs = outputs()
    backing = poisoned(128)
    outs[first] = backing[: outs[first].size]
    start = outs[first].size - 1
    outs[second] = backing[start : start + outs[second].size]
    message = rejected_call(ValueError, second, outs=outs)
    assert first in message


def test_page_tables_overlap_each_other():
    outs = outputs()
    backing = poisoned((CAPACITY * 2, WIDTH))
    outs["page_table_1"] = backing[:CAPACITY]
    outs["real_page_table"] = backing[CAPACITY - 1 : 2 * CAPACITY - 1, :3]
    message = rejected_call(ValueError, "real_page_table", outs=outs)
    assert "page_table_1" in message


def test_destination_sets_overlap():
    """Set 1's status is set 0's status: one buffer written twice is an aliasing error."""
    first, second = outputs(), outputs()
    second["status"] = first["status"]
    kwargs = valid_kwargs("target_verify")
    expect_rejected(ValueError, "status", lambda: specmeta.build_metadata(
        "target_verify", SEQ, out=[metadata(first), metadata(second)], **kwargs), *arrays_of(first, second))


# ---------------------------------------------------------------------------
# destination sets


def test_sets_differ_in_wanted_outputs():
    first, second = outputs(), outputs(names=tuple(n for n in OUTPUTS if n != "sparse_seqlens"))
    kwargs = valid_kwargs("target_verify")
    expect_rejected(ValueError, "sparse_seqlens", lambda: specmeta.build_metadata(
        "target_verify", SEQ, out=[metadata(first), metadata(second)], **kwargs), *arrays_of(first, second))


@pytest.mark.parametrize("name,shape", [("seqlens_expanded", (CAPACITY + 1,)), ("page_table_1", (CAPACITY + 2, WIDTH)),
                                        ("cache_seqlens", (BS + 1,))])
def test_sets_differ_in_shapes(name, shape):
    first, second = outputs(), outputs()
    second[name] = poisoned(shape)
    kwargs = valid_kwargs("target_verify")
    expect_rejected(ValueError, name, lambda: specmeta.build_metadata(
        "target_verify", SEQ, out=[metadata(first), metadata(second)], **kwargs), *arrays_of(first, second))


@pytest.mark.parametrize("field", ["capacity", "width"])
def test_sets_differ_in_geometry(field):
    """A second Metadata of another capacity or width (its buffers sized for it) cannot share the call."""
    first = outputs()
    geometry = {"capacity": CAPACITY + 1} if field == "capacity" else {"width": 8}
    second = outputs(**geometry)
    kwargs = valid_kwargs("target_verify")
    expect_rejected(ValueError, "out", lambda: specmeta.build_metadata(
        "target_verify", SEQ, out=[metadata(first), metadata(second, **geometry)], **kwargs),
        *arrays_of(first, second))


def test_more_than_eight_sets():
    sets = [outputs(names=("num_rows", "status")) for _ in range(9)]
    expect_rejected(ValueError, "out", lambda: specmeta.build_metadata(
        "decode", SEQ, out=[metadata(s) for s in sets]), *arrays_of(*sets), given=9)


def test_no_sets():
    expect_rejected(ValueError, "out", lambda: specmeta.build_metadata("decode", SEQ, out=[]))


def test_eight_sets_are_fine():
    sets = [outputs(names=("cache_seqlens", "status")) for _ in range(8)]
    specmeta.build_metadata("decode", SEQ, out=[metadata(s) for s in sets])
    assert all(s["cache_seqlens"].tolist() == SEQ.tolist() and s["status"][0] == 0 for s in sets)


# ---------------------------------------------------------------------------
# streams, Metadata, Builder


def test_stream_for_host_arrays():
    rejected_call(ValueError, "stream", stream=0)


@pytest.mark.parametrize("name,value", [("capacity", -1), ("bs", -3), ("width", -2), ("page_size", 0)])
def test_metadata_geometry_out_of_range(name, value):
    kwargs = dict(bs=BS, capacity=CAPACITY, width=WIDTH, page_size=PS)
    kwargs[name] = value
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        specmeta.Metadata(**kwargs)


def test_metadata_unknown_output():
    with pytest.raises(TypeError, match="page_table"):
        specmeta.Metadata(bs=BS, capacity=CAPACITY, page_table=poisoned((CAPACITY, 1)))


def test_metadata_empty_unknown_output():
    with pytest.raises(ValueError, match="seqlens"):
        specmeta.Metadata.empty(bs=BS, capacity=CAPACITY, outputs=("seqlens",))


def test_builder_validates_at_construction():
    outs = outputs()
    kwargs = valid_kwargs("target_verify")
    kwargs["num_draft_tokens"] = -2
    expect_rejected(ValueError, "num_draft_tokens",
                    lambda: specmeta.Builder("target_verify", out=metadata(outs), seq_lens=SEQ, **kwargs),
                    *outs.values(), given=-2)


@pytest.mark.parametrize("bs", [BS + 1, -1, 2**40])
def test_builder_call_bs_out_of_range(bs):
    outs = outputs()
    builder = specmeta.Builder("target_verify", out=metadata(outs), seq_lens=SEQ, **valid_kwargs("target_verify"))
    expect_rejected(ValueError, "bs", lambda: builder(bs=bs), *outs.values(), given=bs)


@pytest.mark.parametrize("bs", [2.0, "2"])
def test_builder_call_bs_wrong_type(bs):
    outs = outputs()
    builder = specmeta.Builder("target_verify", out=metadata(outs), seq_lens=SEQ, **valid_kwargs("target_verify"))
    expect_rejected(TypeError, "bs", lambda: builder(bs=bs), *outs.values())


def test_builder_call_stream_for_host_arrays():
    outs = outputs()
    builder = specmeta.Builder("decode", out=metadata(outs), seq_lens=SEQ, **valid_kwargs("decode"))
    expect_rejected(ValueError, "stream", lambda: builder(stream=5), *outs.values())


def test_out_list_with_a_non_metadata_first():
    """The first set is read for the call's geometry: a non-Metadata there is a TypeError, not an AttributeError."""
    outs = outputs()
    expect_rejected(TypeError, "out", lambda: specmeta.build_metadata(
        "target_verify", SEQ, out=[outs, metadata(outs)], **valid_kwargs("target_verify")), *outs.values())


def test_metadata_empty_outputs_a_string():
    """A single name is a common slip for a tuple of one name; iterating it would name each letter."""
    with pytest.raises(TypeError, match=r"\boutputs\b.*'status'"):
        specmeta.Metadata.empty(bs=BS, capacity=CAPACITY, outputs="status")


@pytest.mark.parametrize("like", [[1, 2], 3, "cuda"], ids=repr)
def test_metadata_empty_like_not_an_array(like):
    with pytest.raises(TypeError, match=r"\blike\b"):
        specmeta.Metadata.empty(bs=BS, capacity=CAPACITY, outputs=("status",), like=like)


def test_metadata_check_without_status():
    meta = specmeta.Metadata.empty(bs=BS, capacity=CAPACITY, outputs=("num_rows",))
    with pytest.raises(ValueError, match=r"\bstatus\b"):
        meta.check()


# ---------------------------------------------------------------------------
# torch tensors on the CPU (skipped without torch)


@pytest.mark.needs_torch
@pytest.mark.parametrize("name", ["seq_lens", "req_to_token", "cache_seqlens", "page_table_1"])
def test_torch_tensor_on_the_meta_device(torch_mod, name):
    """A tensor on a device that is neither the CPU nor CUDA (here "meta", which has no memory) is
    rejected by device, before its (absent) data could reach the core: 1-D arrays and tables alike."""
    torch = torch_mod
    outs = outputs()
    kwargs = valid_kwargs("target_verify")
    seq = SEQ
    if name == "seq_lens":
        seq = torch.empty(BS, dtype=torch.int64, device="meta")
    elif name == "req_to_token":
        kwargs[name] = torch.empty(TABLE.shape, dtype=torch.int32, device="meta")
    else:
        outs[name] = torch.empty(outs[name].shape, dtype=torch.int32, device="meta")
    numpy_buffers = [v for v in outs.values() if isinstance(v, np.ndarray)]
    expect_rejected(ValueError, name, lambda: specmeta.build_metadata(
        "target_verify", seq, out=metadata(outs), **kwargs), *numpy_buffers, given="meta")


@pytest.mark.needs_torch
def test_integer_tensors_cannot_require_grad(torch_mod):
    """Why `_arrays.py`'s requires_grad check on outputs cannot be reached: the dtype check runs first
    and accepts int32 only, and torch refuses requires_grad on integer tensors. Should torch ever allow
    it, this fails and the check needs a test of its own."""
    x = torch_mod.zeros(4, dtype=torch_mod.int32)
    with pytest.raises(RuntimeError):
        x.requires_grad_(True)
