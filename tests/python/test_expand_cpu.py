"""The CPU backend (NumPy arrays, and CPU torch tensors where torch is installed)
against the SPEC reference and the seed's "before" code, output for output.

Every call writes into buffers filled with POISON, with GUARD poisoned
elements past their ends (harness.call_expand), so a check sees every element
the SPEC says must be written and that nothing past a buffer was touched.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import specmeta
from harness import (
    GUARD,
    KV_QO_DTYPES,
    OUTPUT_NAMES,
    Backend,
    TorchBackend,
    assert_array_equal,
    describe_case,
    run_and_check,
    random_qo,
    skewed_qo,
    valid_kv,
)
from reference import (
    BIT_CAPACITY,
    BIT_OVERFLOW,
    BIT_QO_GT_KV,
    BIT_QO_RANGE,
    INT32_MAX,
    POISON,
    reference_expand,
    seed_before,
    seed_draft_extend_before,
    seed_target_verify_before,
)

BS_LIST = [0, 1, 2, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 8193]
QO_VALUES = range(0, 17)
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


@pytest.fixture(params=["numpy", pytest.param("torch-cpu", marks=pytest.mark.needs_torch)])
def backend(request) -> Backend:
    if request.param == "numpy":
        return Backend()
    import torch

    return TorchBackend(torch, "cpu")


def _capacity_for(mode: str, total: int, rng: np.random.Generator):
    """None (library default), exactly the total, or larger (tail rows)."""
    if mode == "default":
        return None
    if mode == "exact":
        return total
    return total + int(rng.integers(1, 300))


# ---------------------------------------------------------------------------
# Hand-computed cases: pin the reference itself to the SPEC's words.


HAND_CASES = [
    # kv, qo, capacity, max_qo, seqlens_expanded, cu_seqlens_q, row_to_req, num_rows, status
    ([5, 3], 2, None, None, [4, 5, 2, 3], [0, 2, 4], [0, 0, 1, 1], 4, 0),
    ([5, 3], 2, 6, None, [4, 5, 2, 3, 0, 0], [0, 2, 4], [0, 0, 1, 1, -1, -1], 4, 0),
    ([7, 1, 4], [3, 0, 1], None, None, [5, 6, 7, 4], [0, 3, 3, 4], [0, 0, 0, 2], 4, 0),
    ([7, 1, 4], [3, 0, 1], 2, None, [5, 6], [0, 3, 3, 4], [0, 0], 2, BIT_CAPACITY),
    ([2], [4], None, None, [0, 0, 1, 2], [0, 4], [0, 0, 0, 0], 4, BIT_QO_GT_KV),
    ([9, 9], [5, 2], None, 4, [8, 9], [0, 0, 2], [1, 1], 2, BIT_QO_RANGE),
    ([9, 9], [-1, 2], None, None, [8, 9], [0, 0, 2], [1, 1], 2, BIT_QO_RANGE),
    ([2**31 - 1], [3], None, None, [2**31 - 3, 2**31 - 2, 2**31 - 1], [0, 3], [0, 0, 0], 3, 0),
    ([2**31], [2], None, None, [2**31 - 1, 2**31 - 1], [0, 2], [0, 0], 2, BIT_OVERFLOW),
    ([2**31 + 1], [3], None, None, [2**31 - 1] * 3, [0, 3], [0, 0, 0], 3, BIT_OVERFLOW),
    ([2**40], [0], None, None, [], [0, 0], [], 0, 0),
    ([], 3, None, None, [], [0], [], 0, 0),
    ([], 0, 3, None, [0, 0, 0], [0], [-1, -1, -1], 0, 0),
    ([0, 0], 0, None, None, [], [0, 0, 0], [], 0, 0),
    ([0, 0], 1, None, None, [0, 0], [0, 1, 2], [0, 1], 2, BIT_QO_GT_KV),
]


@pytest.mark.parametrize("case", HAND_CASES, ids=lambda c: f"kv{c[0][:3]}-qo{c[1]}-cap{c[2]}-max{c[3]}")
def test_hand_computed_cases(backend, case):
    kv_list, qo, capacity, max_qo, seqlens, cu, r2r, num_rows, status = case
    kv = np.array(kv_list, dtype=np.int64)
    qo_arg = qo if isinstance(qo, int) else np.array(qo, dtype=np.int64)
    expected = reference_expand(kv, qo_arg, capacity, max_qo)
    assert expected.seqlens_expanded.tolist() == seqlens
    assert expected.cu_seqlens_q.tolist() == cu
    assert expected.row_to_req.tolist() == r2r
    assert (expected.num_rows, expected.status) == (num_rows, status)
    run_and_check(backend, kv, qo_arg, capacity=capacity, max_qo=max_qo, context=f"hand case {case}")


# ---------------------------------------------------------------------------
# Random sweeps over batch sizes.


@pytest.mark.parametrize("kv_dtype", [np.int32, np.int64], ids=["kv32", "kv64"])
@pytest.mark.parametrize("bs", BS_LIST)
def test_uniform_qo_sweep(backend, rng, rng_seed, bs, kv_dtype):
    """Uniform qo 0..16 (decode, target_verify, draft_extend_static): every output."""
    for qo in QO_VALUES:
        kv = valid_kv(rng, qo, bs, kv_dtype)
        mode = ("default", "exact", "larger")[qo % 3]
        capacity = _capacity_for(mode, bs * qo, rng)
        ctx = describe_case(rng_seed, bs=bs, qo=qo, kv=kv_dtype.__name__, capacity=mode)
        run_and_check(backend, kv, qo, capacity=capacity, context=ctx)


@pytest.mark.parametrize("kv_dtype,qo_dtype", KV_QO_DTYPES, ids=["kv32-qo32", "kv32-qo64", "kv64-qo32", "kv64-qo64"])
@pytest.mark.parametrize("bs", BS_LIST)
def test_per_request_qo_sweep(backend, rng, rng_seed, bs, kv_dtype, qo_dtype):
    """Per-request qo in [0, hi] for hi = 0..16 (draft_extend, extend): every output."""
    for hi in QO_VALUES:
        qo = random_qo(rng, bs, 0, hi, qo_dtype)
        kv = valid_kv(rng, qo, bs, kv_dtype)
        total = int(qo.sum())
        mode = ("default", "exact", "larger", "smaller")[hi % 4]
        if mode == "smaller":
            capacity = int(rng.integers(0, total)) if total > 0 else 0
        else:
            capacity = _capacity_for(mode, total, rng)
        ctx = describe_case(rng_seed, bs=bs, qo_hi=hi, kv=kv_dtype.__name__, qo=qo_dtype.__name__, capacity=mode)
        run_and_check(backend, kv, qo, capacity=capacity, context=ctx)


@pytest.mark.parametrize("kv_dtype,qo_dtype", KV_QO_DTYPES, ids=["kv32-qo32", "kv32-qo64", "kv64-qo32", "kv64-qo64"])
@pytest.mark.parametrize("bs", [1, 2, 257, 1025, 4097, 8193])
def test_skewed_qo(backend, rng, rng_seed, bs, kv_dtype, qo_dtype):
    """Most requests 0 or 1 rows, a few with thousands (prefill chunks among decodes)."""
    qo = skewed_qo(rng, bs, qo_dtype)
    kv = valid_kv(rng, qo, bs, kv_dtype, spread=50_000)
    total = int(qo.sum())
    ctx = describe_case(rng_seed, bs=bs, kv=kv_dtype.__name__, qo=qo_dtype.__name__)
    run_and_check(backend, kv, qo, capacity=None, context=ctx)
    run_and_check(backend, kv, qo, capacity=total + 1000, context=ctx + " larger")
    run_and_check(backend, kv, qo, capacity=int(rng.integers(0, total + 1)), context=ctx + " random capacity")


@pytest.mark.parametrize("bs", [1, 255, 1025, 8193])
def test_zero_length_requests(backend, rng, rng_seed, bs):
    """Requests with no rows, kv_b = 0 with qo_b = 0, and batches of no rows at all."""
    qo = random_qo(rng, bs, 0, 6, np.int32)
    qo[rng.random(bs) < 0.5] = 0
    kv = valid_kv(rng, qo, bs, np.int64, spread=20)
    kv[(qo == 0) & (rng.random(bs) < 0.5)] = 0
    ctx = describe_case(rng_seed, bs=bs)
    run_and_check(backend, kv, qo, context=ctx)
    run_and_check(backend, kv, qo, capacity=int(qo.sum()) + 5, context=ctx + " larger")
    zeros = np.zeros(bs, dtype=np.int32)
    run_and_check(backend, kv, zeros, context=ctx + " all qo 0")
    run_and_check(backend, kv, zeros, capacity=17, context=ctx + " all qo 0, capacity 17")
    run_and_check(backend, kv, 0, context=ctx + " uniform 0")
    run_and_check(backend, kv, 0, capacity=9, context=ctx + " uniform 0, capacity 9")
    run_and_check(backend, zeros, zeros, context=ctx + " kv 0 qo 0")


# ---------------------------------------------------------------------------
# Values at and past the int32 range.


@pytest.mark.parametrize("kv_dtype,qo_dtype", KV_QO_DTYPES, ids=["kv32-qo32", "kv32-qo64", "kv64-qo32", "kv64-qo64"])
def test_kv_near_int32_max(backend, rng, rng_seed, kv_dtype, qo_dtype):
    """kv_b up to 2^31 - 1: every value fits, exactly, and no overflow bit."""
    bs = 300
    qo = random_qo(rng, bs, 0, 16, qo_dtype)
    kv = (INT32_MAX - rng.integers(0, 4, size=bs)).astype(kv_dtype)
    kv[0] = INT32_MAX
    ctx = describe_case(rng_seed, kv=kv_dtype.__name__, qo=qo_dtype.__name__)
    got = run_and_check(backend, kv, qo, context=ctx)
    assert int(got["status"][0]) == 0
    got = run_and_check(backend, kv, 16, context=ctx + " uniform 16")
    assert int(got["seqlens_expanded"][15]) == INT32_MAX and int(got["status"][0]) == 0


@pytest.mark.parametrize("qo_dtype", [np.int32, np.int64], ids=["qo32", "qo64"])
def test_int64_kv_above_int32_saturates(backend, rng, rng_seed, qo_dtype):
    """int64 kv_b past 2^31 - 1: values saturate at INT32_MAX and bit 8 is set."""
    bs = 400
    qo = random_qo(rng, bs, 0, 16, qo_dtype)
    kv = rng.choice(
        np.array([2**31 - 3, 2**31 - 1, 2**31, 2**31 + 1, 2**31 + 7, 2**32, 2**40, 2**62, INT64_MAX], dtype=np.int64),
        size=bs,
    )
    qo[0], kv[0] = 4, 2**31 + 1  # rows 2^31-2, 2^31-1, then two saturated
    ctx = describe_case(rng_seed, qo=qo_dtype.__name__)
    got = run_and_check(backend, kv, qo, context=ctx)
    assert got["seqlens_expanded"][:4].tolist() == [2**31 - 2, INT32_MAX, INT32_MAX, INT32_MAX]
    assert int(got["status"][0]) & BIT_OVERFLOW
    # The same requests with no rows raise nothing.
    got = run_and_check(backend, kv, np.zeros(bs, dtype=qo_dtype), context=ctx + " qo 0")
    assert int(got["status"][0]) == 0
    got = run_and_check(backend, kv, 3, capacity=bs * 3 + 10, context=ctx + " uniform 3")
    assert int(got["status"][0]) == BIT_OVERFLOW


def test_int64_kv_negative(backend, rng, rng_seed):
    """Negative int64 kv_b: lengths clamp at 0 (bit 2)."""
    kv = np.array([-1, -10, -(2**31), -(2**40), -(2**62), 3], dtype=np.int64)
    qo = np.array([1, 3, 2, 5, 4, 2], dtype=np.int32)
    got = run_and_check(backend, kv, qo, context="negative kv")
    assert got["seqlens_expanded"].tolist()[:17] == [0] * 15 + [2, 3]
    assert int(got["status"][0]) == BIT_QO_GT_KV


@pytest.mark.parametrize("kv0", [INT64_MIN, INT64_MIN + 2])
def test_int64_kv_most_negative(backend, kv0):
    """SPEC 3: max(kv - qo + 1 + j, 0) is 0 for any kv_b <= 0; kv - qo + 1 must not wrap in int64
    (it did before commit 52e3d26, giving INT32_MAX)."""
    kv = np.array([kv0], dtype=np.int64)
    run_and_check(backend, kv, np.array([5], dtype=np.int32), context=f"kv={kv0}")


@pytest.mark.parametrize("qo_dtype", [np.int32, np.int64], ids=["qo32", "qo64"])
def test_total_rows_overflow_int32(backend, qo_dtype):
    """The row total past 2^31 - 1: cu_seqlens_q saturates (bit 8), rows cut at capacity (bit 1)."""
    kv = np.array([INT32_MAX, INT32_MAX, 100, 5], dtype=np.int64)
    qo = np.array([INT32_MAX, INT32_MAX, 3, 5], dtype=qo_dtype)
    got = run_and_check(backend, kv, qo, capacity=64, context=f"total overflow {qo_dtype.__name__}")
    assert got["cu_seqlens_q"][:5].tolist() == [0, INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX]
    assert int(got["status"][0]) == BIT_OVERFLOW | BIT_CAPACITY
    assert int(got["num_rows"][0]) == 64
    assert got["seqlens_expanded"][:64].tolist() == list(range(1, 65))


def test_per_request_qo_above_int32_is_out_of_range(backend):
    """An int64 qo_b past INT32_MAX (the default max_qo) is bit 16 and counts as 0 rows."""
    kv = np.array([2**40, 10], dtype=np.int64)
    qo = np.array([2**31, 2], dtype=np.int64)
    got = run_and_check(backend, kv, qo, context="qo 2^31")
    assert int(got["status"][0]) == BIT_QO_RANGE
    assert got["seqlens_expanded"][:2].tolist() == [9, 10]


# ---------------------------------------------------------------------------
# Capacity and faults.


@pytest.mark.parametrize("bs", [1, 7, 300, 4097])
def test_capacity_exact_larger_smaller(backend, rng, rng_seed, bs):
    qo = random_qo(rng, bs, 0, 9, np.int32)
    qo[0] = max(int(qo[0]), 1)
    kv = valid_kv(rng, qo, bs, np.int64)
    total = int(qo.sum())
    ctx = describe_case(rng_seed, bs=bs)
    got = run_and_check(backend, kv, qo, capacity=total, context=ctx + " exact")
    assert int(got["status"][0]) == 0 and int(got["num_rows"][0]) == total
    got = run_and_check(backend, kv, qo, capacity=total + 1029, context=ctx + " larger")
    assert int(got["status"][0]) == 0 and int(got["num_rows"][0]) == total
    assert np.all(got["seqlens_expanded"][total : total + 1029] == 0)
    assert np.all(got["row_to_req"][total : total + 1029] == -1)
    for capacity in sorted(c for c in {0, 1, total // 2, total - 1} if c < total):
        got = run_and_check(backend, kv, qo, capacity=capacity, context=ctx + f" smaller {capacity}")
        assert int(got["status"][0]) == BIT_CAPACITY and int(got["num_rows"][0]) == capacity
        assert int(got["cu_seqlens_q"][bs]) == total  # the prefix sums are not cut


@pytest.mark.parametrize("bs", [1, 2, 300, 4097])
def test_qo_greater_than_kv(backend, rng, rng_seed, bs):
    """qo_b > kv_b: lengths max(kv - qo + 1 + j, 0) and bit 2."""
    qo = random_qo(rng, bs, 0, 16, np.int32)
    kv = valid_kv(rng, qo, bs, np.int32, spread=10)
    bad = rng.random(bs) < 0.3
    bad[0] = True
    qo[0] = max(int(qo[0]), 1)
    kv[bad] = rng.integers(0, np.maximum(qo[bad], 1))
    ctx = describe_case(rng_seed, bs=bs)
    got = run_and_check(backend, kv, qo, context=ctx)
    assert int(got["status"][0]) == BIT_QO_GT_KV
    kv_small = rng.integers(0, 4, size=bs).astype(np.int64)
    got = run_and_check(backend, kv_small, 6, context=ctx + " uniform 6")
    assert int(got["status"][0]) == BIT_QO_GT_KV


@pytest.mark.parametrize("bs", [1, 300, 4097])
@pytest.mark.parametrize("max_qo", [0, 1, 8, 16])
def test_max_qo_violations(backend, rng, rng_seed, bs, max_qo):
    """qo_b < 0 or > max_qo: bit 16, the request counts as 0 rows."""
    qo = random_qo(rng, bs, -3, 20, np.int64)
    qo[0] = max_qo + 1
    kv = valid_kv(rng, np.maximum(qo, max_qo + 1), bs, np.int32)  # no bit 2 anywhere below
    ctx = describe_case(rng_seed, bs=bs, max_qo=max_qo)
    got = run_and_check(backend, kv, qo, max_qo=max_qo, context=ctx)
    assert int(got["status"][0]) & BIT_QO_RANGE
    ok = np.clip(qo, 0, max_qo)
    got = run_and_check(backend, kv, ok, max_qo=max_qo, context=ctx + " in range")
    assert int(got["status"][0]) == 0
    got = run_and_check(backend, kv, ok, max_qo=max_qo, capacity=int(ok.sum()) + 3, context=ctx + " in range, larger")
    got = run_and_check(backend, kv, max_qo, max_qo=max_qo, context=ctx + " uniform = max_qo")
    assert int(got["status"][0]) == 0


def test_all_faults_at_once(backend):
    kv = np.array([2**31 + 5, 1, 50, 7], dtype=np.int64)
    qo = np.array([3, 4, -2, 9], dtype=np.int64)
    got = run_and_check(backend, kv, qo, capacity=5, max_qo=8, context="all faults")
    assert int(got["status"][0]) == BIT_CAPACITY | BIT_QO_GT_KV | BIT_OVERFLOW | BIT_QO_RANGE


def test_status_is_this_calls_faults(backend):
    """status holds the bits of the last call only, not an OR over calls."""
    kv = np.array([1, 5], dtype=np.int32)
    bad_qo = np.array([4, -1], dtype=np.int32)
    good_qo = np.array([1, 2], dtype=np.int32)
    status = backend.from_numpy(np.full(1, POISON, dtype=np.int32))
    specmeta.expand(backend.from_numpy(kv), backend.from_numpy(bad_qo), capacity=2, status=status)
    assert int(backend.to_numpy(status)[0]) == BIT_QO_GT_KV | BIT_QO_RANGE | BIT_CAPACITY
    specmeta.expand(backend.from_numpy(kv), backend.from_numpy(good_qo), capacity=3, status=status)
    assert int(backend.to_numpy(status)[0]) == 0


def test_reused_buffers_are_fully_rewritten(backend, rng, rng_seed):
    """A second call with fewer rows resets the tail of the first (graph-replay pattern)."""
    bs, capacity = 500, 500 * 16
    kv_x = backend.from_numpy(np.zeros(bs, dtype=np.int64))
    qo_x = backend.from_numpy(np.zeros(bs, dtype=np.int32))
    outs = {name: backend.poisoned(n) for name, n in
            {"seqlens_expanded": capacity, "cu_seqlens_q": bs + 1, "row_to_req": capacity,
             "num_rows": 1, "status": 1}.items()}
    for step in range(12):
        qo = random_qo(rng, bs, 0, int(rng.integers(0, 17)), np.int32)
        kv = valid_kv(rng, qo, bs, np.int64, spread=1000)
        if step % 4 == 3:
            kv[:10] = 0  # a few qo > kv
        kv_x[:] = backend.from_numpy(kv)
        qo_x[:] = backend.from_numpy(qo)
        specmeta.expand(kv_x, qo_x, **outs)
        want = reference_expand(kv, qo, capacity).as_dict()
        for name, buf in outs.items():
            assert_array_equal(name, backend.to_numpy(buf), want[name], describe_case(rng_seed, step=step))


@pytest.mark.parametrize(
    "outputs",
    [c for r in range(1, 6) for c in itertools.combinations(OUTPUT_NAMES, r)],
    ids=lambda c: "+".join(n.split("_")[0] if n != "row_to_req" else "r2r" for n in c),
)
def test_output_subsets(backend, rng, rng_seed, outputs):
    """Any subset of the five outputs gives the same values as all five."""
    bs = 300
    qo = random_qo(rng, bs, 0, 12, np.int32)
    kv = valid_kv(rng, qo, bs, np.int64)
    kv[:5] = 0  # some bit 2
    total = int(qo.sum())
    ctx = describe_case(rng_seed, outputs=outputs)
    run_and_check(backend, kv, qo, capacity=total + 7, outputs=outputs, context=ctx)
    run_and_check(backend, kv, qo, capacity=total // 2, outputs=outputs, context=ctx + " smaller")
    run_and_check(backend, kv, qo, outputs=outputs, context=ctx + " default capacity")
    run_and_check(backend, kv, 3, outputs=outputs, context=ctx + " uniform default capacity")


def test_capacity_defaults_to_row_to_req_length(backend, rng, rng_seed):
    bs = 50
    qo = random_qo(rng, bs, 0, 5, np.int32)
    kv = valid_kv(rng, qo, bs, np.int32)
    total = int(qo.sum())
    row_to_req = backend.poisoned(total + 11)
    num_rows = backend.poisoned(1)
    specmeta.expand(backend.from_numpy(kv), backend.from_numpy(qo), row_to_req=row_to_req, num_rows=num_rows)
    want = reference_expand(kv, qo, total + 11)
    assert_array_equal("row_to_req", backend.to_numpy(row_to_req), want.row_to_req, describe_case(rng_seed))
    assert int(backend.to_numpy(num_rows)[0]) == total


def test_out_longer_than_capacity_keeps_the_rest(backend):
    kv = np.array([4, 9], dtype=np.int32)
    buf = backend.poisoned(10)
    specmeta.expand(backend.from_numpy(kv), 2, capacity=6, seqlens_expanded=buf)
    assert backend.to_numpy(buf).tolist() == [3, 4, 8, 9, 0, 0] + [POISON] * 4


# ---------------------------------------------------------------------------
# expand_seqlens and the seed's modes.


@pytest.mark.parametrize("kv_dtype,qo_dtype", KV_QO_DTYPES, ids=["kv32-qo32", "kv32-qo64", "kv64-qo32", "kv64-qo64"])
@pytest.mark.parametrize("bs", [0, 1, 257, 4097])
def test_expand_seqlens_allocates(backend, rng, rng_seed, bs, kv_dtype, qo_dtype):
    qo = random_qo(rng, bs, 0, 16, qo_dtype)
    kv = valid_kv(rng, qo, bs, kv_dtype)
    ctx = describe_case(rng_seed, bs=bs)
    out = specmeta.expand_seqlens(backend.from_numpy(kv), backend.from_numpy(qo))
    assert type(out) is type(backend.from_numpy(kv))
    got = backend.to_numpy(out)
    assert_array_equal("expand_seqlens", got, seed_before(kv, qo), ctx)
    assert_array_equal("expand_seqlens", got, reference_expand(kv, qo).seqlens_expanded, ctx)
    got = backend.to_numpy(specmeta.expand_seqlens(backend.from_numpy(kv), 5, capacity=bs * 5 + 3))
    assert_array_equal("expand_seqlens uniform", got, reference_expand(kv, 5, bs * 5 + 3).seqlens_expanded, ctx)
    got = backend.to_numpy(specmeta.expand_seqlens(backend.from_numpy(kv), backend.from_numpy(qo), capacity=7))
    assert_array_equal("expand_seqlens capacity 7", got, reference_expand(kv, qo, 7).seqlens_expanded, ctx)


def test_expand_seqlens_out_is_written_in_place(backend, rng, rng_seed):
    bs = 100
    qo = random_qo(rng, bs, 0, 8, np.int64)
    kv = valid_kv(rng, qo, bs, np.int64)
    total = int(qo.sum())
    out = backend.poisoned(total + 20)
    result = specmeta.expand_seqlens(backend.from_numpy(kv), backend.from_numpy(qo), out=out)
    assert result is out
    want = reference_expand(kv, qo, total + 20).seqlens_expanded
    assert_array_equal("out", backend.to_numpy(out), want, describe_case(rng_seed))
    out = backend.poisoned(total + 20)
    specmeta.expand_seqlens(backend.from_numpy(kv), backend.from_numpy(qo), capacity=total, out=out)
    got = backend.to_numpy(out)
    assert_array_equal("out", got[:total], want[:total], describe_case(rng_seed))
    assert np.all(got[total:] == POISON)


@pytest.mark.parametrize("num_draft_tokens", [1, 2, 4, 8])
@pytest.mark.parametrize("bs", [1, 16, 64, 256])
def test_seed_target_verify_before(backend, rng, rng_seed, bs, num_draft_tokens):
    """target_verify: qo_b = N, kv_b = seq_b + N, as the seed's "before" computes it."""
    seq = rng.integers(1, 200_000, size=bs).astype(np.int64)
    kv = seq + num_draft_tokens
    got = backend.to_numpy(specmeta.expand_seqlens(backend.from_numpy(kv), num_draft_tokens))
    assert_array_equal("target_verify", got, seed_target_verify_before(seq, num_draft_tokens), describe_case(rng_seed))


@pytest.mark.parametrize("bs", [1, 16, 64, 256])
def test_seed_draft_extend_before(backend, rng, rng_seed, bs):
    """draft_extend: qo_b = accept_lens[b] (0..N), kv_b = seq_b."""
    accept = rng.integers(0, 5, size=bs).astype(np.int32)
    seq = (accept + rng.integers(0, 100_000, size=bs)).astype(np.int64)
    got = backend.to_numpy(specmeta.expand_seqlens(backend.from_numpy(seq), backend.from_numpy(accept)))
    assert_array_equal("draft_extend", got, seed_draft_extend_before(seq, accept), describe_case(rng_seed))


def test_decode_mode_equals_cache_seqlens(backend, rng):
    """SPEC 3: in decode mode (qo = 1) seqlens_expanded equals kv (cache_seqlens)."""
    kv = rng.integers(1, 2**31 - 1, size=1000).astype(np.int32)
    got = backend.to_numpy(specmeta.expand_seqlens(backend.from_numpy(kv), 1))
    assert np.array_equal(got, kv)


def test_numpy_integer_scalar_is_uniform_qo():
    kv = np.array([5, 6], dtype=np.int32)
    for qo in (np.int32(3), np.int64(3), 3):
        assert specmeta.expand_seqlens(kv, qo).tolist() == [3, 4, 5, 4, 5, 6]


def test_describe_status():
    assert specmeta.describe_status(0) == []
    assert len(specmeta.describe_status(31)) == 5
    for bit, word in [(1, "capacity"), (2, "kv"), (8, "int32"), (16, "max_qo")]:
        (text,) = specmeta.describe_status(bit)
        assert word in text
    assert specmeta.describe_status(np.int32(BIT_CAPACITY | BIT_QO_RANGE)) == [
        specmeta.STATUS_BITS[1],
        specmeta.STATUS_BITS[16],
    ]


def test_guard_constant_matches():
    assert GUARD > 0 and POISON == 0x7F7F7F7F
