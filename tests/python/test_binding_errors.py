"""Checks inside the nanobind module (`specmeta._specmeta`) that the Python API
never lets a call reach: `count_rows_host`'s argument check (`expand` checks
len(qo_lens) first) and the consistency of `Plan`'s flat descriptor (which
`_metadata.py` always builds whole). Called here directly, as a caller of the
private module could, so that removing either check fails a test.
"""

from __future__ import annotations

import numpy as np
import pytest

import specmeta
from specmeta import _specmeta
from specmeta._metadata import _descriptor

QO = np.array([1, 2], dtype=np.int32)
FIELDS_PER_SET = 9 * 2 + 2 * 4  # nine 1-D outputs (pointer, size), two tables (pointer, rows, cols, stride)


def test_count_rows_host_valid():
    assert _specmeta.count_rows_host(2, _specmeta.buffer_address(QO), _specmeta.INT32, 2, specmeta.NO_MAX_QO) == 3


@pytest.mark.parametrize("bs,size,null", [(3, 2, False), (-1, 2, False), (2, 2, True)],
                         ids=["shorter-than-bs", "negative-bs", "null-pointer"])
def test_count_rows_host_rejects_bad_arguments(bs, size, null):
    ptr = 0 if null else _specmeta.buffer_address(QO)
    with pytest.raises(ValueError, match=r"^qo_lens: expected at least bs"):
        _specmeta.count_rows_host(bs, ptr, _specmeta.INT32, size, specmeta.NO_MAX_QO)


def _valid_descriptor():
    """A decode call's descriptor with one destination set, and the arrays it points into."""
    seq = np.array([3, 4], dtype=np.int64)
    meta = specmeta.Metadata.empty(bs=2, capacity=2, outputs=("num_rows", "status"))
    head, _ = _descriptor("decode", seq, meta, None, None, None, None, None, 2048, 1, 1, False)
    return head, (seq, meta)


def test_plan_valid_descriptor():
    head, (_, meta) = _valid_descriptor()
    _specmeta.Plan(head).launch(2, 0)
    assert meta.num_rows[0] == 2 and meta.status[0] == 0


def test_plan_rejects_zero_destination_sets():
    head, _arrays = _valid_descriptor()  # the arrays stay alive while the plan holds their addresses
    no_sets = head[: len(head) - FIELDS_PER_SET - 1] + [0]
    with pytest.raises(ValueError, match=r"^out: expected at least one Metadata, got 0"):
        _specmeta.Plan(no_sets)


def test_plan_rejects_extra_fields():
    head, _arrays = _valid_descriptor()  # the arrays stay alive while the plan holds their addresses
    with pytest.raises(ValueError, match=r"^descriptor: expected \d+ fields, got more"):
        _specmeta.Plan(head + [0])


def test_plan_rejects_missing_fields():
    head, _arrays = _valid_descriptor()  # the arrays stay alive while the plan holds their addresses
    with pytest.raises(ValueError, match=r"^descriptor: expected more fields"):
        _specmeta.Plan(head[:-1])
