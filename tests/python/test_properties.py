"""Property test of the Python API on the CPU backend (Hypothesis): for any
valid call, every output equals the reference; for any call with a capacity
too small for a uniform total, nothing is written and a ValueError names
`capacity`. Hypothesis shrinks a failure to a minimal batch."""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from harness import Backend, call_expand, check_outputs, output_sizes  # noqa: E402
from reference import POISON, reference_expand  # noqa: E402

import specmeta  # noqa: E402

INT32 = np.iinfo(np.int32)
INT64 = np.iinfo(np.int64)


@st.composite
def batches(draw):
    """(kv, qo, capacity, max_qo): lengths from plausible to extreme, either width."""
    bs = draw(st.integers(0, 300))
    kv_dtype = draw(st.sampled_from([np.int32, np.int64]))
    kv_limits = INT32 if kv_dtype is np.int32 else INT64
    kv_values = st.one_of(st.integers(-3, 40_000), st.integers(int(kv_limits.min), int(kv_limits.max)))
    kv = np.array(draw(st.lists(kv_values, min_size=bs, max_size=bs)), dtype=kv_dtype)
    max_qo = draw(st.one_of(st.none(), st.integers(0, 20)))
    if draw(st.booleans()):
        qo = draw(st.integers(0, 20 if max_qo is None else max_qo))
        capacity = bs * qo + draw(st.integers(0, 40))
    else:
        qo_dtype = draw(st.sampled_from([np.int32, np.int64]))
        qo_values = st.one_of(st.integers(-2, 24), st.integers(int(np.iinfo(qo_dtype).min), int(np.iinfo(qo_dtype).max)))
        qo = np.array(draw(st.lists(qo_values, min_size=bs, max_size=bs)), dtype=qo_dtype)
        capacity = draw(st.integers(0, 3000))
    return kv, qo, capacity, max_qo


@settings(max_examples=300, deadline=None)
@given(batches())
def test_expand_matches_reference(batch):
    kv, qo, capacity, max_qo = batch
    got = call_expand(Backend(), kv, qo, capacity=capacity, max_qo=max_qo)
    check_outputs(got, reference_expand(kv, qo, capacity, max_qo), f"bs={len(kv)} capacity={capacity} max_qo={max_qo}")


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.integers(1, 20), st.integers(1, 40))
def test_uniform_capacity_too_small_is_rejected(bs, qo, shortfall):
    kv = np.full(bs, 100, dtype=np.int64)
    capacity = max(0, bs * qo - shortfall)
    outputs = {name: np.full(size, POISON, dtype=np.int32) for name, size in output_sizes(bs, capacity).items()}
    with pytest.raises(ValueError, match="capacity"):
        specmeta.expand(kv, qo, capacity=capacity, **outputs)
    assert all(np.all(buffer == POISON) for buffer in outputs.values())
