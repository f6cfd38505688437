"""The CUDA backend (torch CUDA tensors, and CuPy arrays where CuPy is installed)
against the SPEC reference, the seed's "before" code and the CPU backend,
bit for bit; explicit streams, misaligned outputs, CUDA-graph capture and
replay, and the device-related argument errors.

Every test here is marked needs_cuda: without torch and a visible GPU the
whole module reports as skipped.
"""

from __future__ import annotations

import numpy as np
import pytest

import specmeta
from harness import (
    GUARD,
    KV_QO_DTYPES,
    OUTPUT_NAMES,
    Backend,
    CupyBackend,
    TorchBackend,
    assert_array_equal,
    call_expand,
    capture_graph,
    describe_case,
    output_sizes,
    random_qo,
    run_and_check,
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
    is_valid_for_seed,
    reference_expand,
    seed_before,
)

pytestmark = pytest.mark.needs_cuda

BS_LIST = [0, 1, 2, 255, 256, 257, 1023, 1024, 1025, 4095, 4096, 4097, 8193]
DTYPE_IDS = ["kv32-qo32", "kv32-qo64", "kv64-qo32", "kv64-qo64"]
CPU = Backend()


@pytest.fixture(params=["torch-cuda", pytest.param("cupy", marks=pytest.mark.needs_cupy)])
def gpu(request):
    if request.param == "cupy":
        import cupy

        return CupyBackend(cupy)
    import torch

    return TorchBackend(torch, "cuda")


@pytest.fixture
def torch():
    import torch

    return torch


def gpu_vs_all(gpu, kv, qo, *, capacity=None, max_qo=None, outputs=OUTPUT_NAMES, context=""):
    """GPU call == SPEC reference (and the seed where valid) == CPU backend, every buffer and guard."""
    cap = reference_expand(kv, qo, capacity, max_qo).capacity
    if capacity is None and cap == 0:
        # Zero-element torch/CuPy outputs have a null pointer, taken for "no output"
        # (test_empty_out_sets_capacity): pass the capacity instead.
        capacity = 0
    got = run_and_check(gpu, kv, qo, capacity=capacity, max_qo=max_qo, outputs=outputs, context=context)
    cpu = call_expand(CPU, kv, qo, capacity=cap, max_qo=max_qo, outputs=outputs)
    for name in outputs:
        assert_array_equal(f"{name} (GPU vs CPU backend)", got[name], cpu[name], f"{gpu.name} {context}")
    return got


def test_cuda_backend_is_built():
    assert specmeta.HAS_CUDA, "specmeta was built without its CUDA backend although a GPU is visible"
    assert specmeta.cuda_available()


# ---------------------------------------------------------------------------
# Random comparisons (the CPU suite's sweeps, on the GPU)


@pytest.mark.parametrize("kv_dtype", [np.int32, np.int64], ids=["kv32", "kv64"])
@pytest.mark.parametrize("bs", BS_LIST)
def test_uniform_qo_sweep(gpu, rng, rng_seed, bs, kv_dtype):
    for qo in range(0, 17):
        kv = valid_kv(rng, qo, bs, kv_dtype)
        mode = qo % 3
        capacity = None if mode == 0 else bs * qo + (0 if mode == 1 else int(rng.integers(1, 3000)))
        gpu_vs_all(gpu, kv, qo, capacity=capacity, context=describe_case(rng_seed, bs=bs, qo=qo, capacity=capacity))


@pytest.mark.parametrize("kv_dtype,qo_dtype", KV_QO_DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bs", BS_LIST)
def test_per_request_qo_sweep(gpu, rng, rng_seed, bs, kv_dtype, qo_dtype):
    for hi in range(0, 17):
        qo = random_qo(rng, bs, 0, hi, qo_dtype)
        kv = valid_kv(rng, qo, bs, kv_dtype)
        total = int(qo.sum())
        capacity = [None, total, total + int(rng.integers(1, 3000)), int(rng.integers(0, total + 1))][hi % 4]
        gpu_vs_all(gpu, kv, qo, capacity=capacity, context=describe_case(rng_seed, bs=bs, hi=hi, capacity=capacity))


@pytest.mark.parametrize("kv_dtype,qo_dtype", KV_QO_DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bs", [1, 257, 1025, 4097, 8193, 20000])
def test_skewed_qo(gpu, rng, rng_seed, bs, kv_dtype, qo_dtype):
    qo = skewed_qo(rng, bs, qo_dtype)
    kv = valid_kv(rng, qo, bs, kv_dtype, spread=50_000)
    total = int(qo.sum())
    ctx = describe_case(rng_seed, bs=bs)
    gpu_vs_all(gpu, kv, qo, context=ctx)
    gpu_vs_all(gpu, kv, qo, capacity=total + 5000, context=ctx + " larger")
    gpu_vs_all(gpu, kv, qo, capacity=int(rng.integers(0, total + 1)), context=ctx + " smaller")


@pytest.mark.parametrize("bs", [1, 300, 4097])
def test_faults(gpu, rng, rng_seed, bs):
    """qo > kv, qo out of [0, max_qo], kv past int32, too small a capacity: same bits and values."""
    ctx = describe_case(rng_seed, bs=bs)
    qo = random_qo(rng, bs, -2, 20, np.int64)
    qo[0] = 17  # at least one request past max_qo
    kv = valid_kv(rng, np.maximum(qo, 0), bs, np.int64, spread=30)
    kv[rng.random(bs) < 0.2] = rng.integers(0, 3)
    kv[rng.random(bs) < 0.1] = rng.choice(np.array([2**31 - 1, 2**31, 2**31 + 9, 2**40, 2**63 - 1]))
    kv[rng.random(bs) < 0.05] = -rng.integers(1, 2**40)
    got = gpu_vs_all(gpu, kv, qo, max_qo=16, context=ctx)
    assert int(got["status"][0]) & BIT_QO_RANGE
    total = int(np.where((qo >= 0) & (qo <= 16), qo, 0).sum())
    got = gpu_vs_all(gpu, kv, qo, max_qo=16, capacity=max(total // 3, 0), context=ctx + " smaller")
    gpu_vs_all(gpu, kv, 7, capacity=bs * 7 + 100, context=ctx + " uniform 7")
    gpu_vs_all(gpu, kv, np.clip(qo, 0, 16).astype(np.int32), context=ctx + " in range")


@pytest.mark.parametrize("qo_dtype", [np.int32, np.int64], ids=["qo32", "qo64"])
def test_total_rows_overflow_int32(gpu, qo_dtype):
    kv = np.array([INT32_MAX, INT32_MAX, 100, 5], dtype=np.int64)
    qo = np.array([INT32_MAX, INT32_MAX, 3, 5], dtype=qo_dtype)
    got = gpu_vs_all(gpu, kv, qo, capacity=3000, context="total overflow")
    assert int(got["status"][0]) == BIT_OVERFLOW | BIT_CAPACITY


def test_kv_near_and_past_int32(gpu, rng, rng_seed):
    bs = 2000
    qo = random_qo(rng, bs, 0, 16, np.int32)
    kv = (INT32_MAX - rng.integers(0, 4, size=bs)).astype(np.int32)
    got = gpu_vs_all(gpu, kv, qo, context=describe_case(rng_seed, kv="near int32 max"))
    assert int(got["status"][0]) == 0
    kv64 = kv.astype(np.int64) + rng.integers(0, 10, size=bs)
    got = gpu_vs_all(gpu, kv64, qo, context=describe_case(rng_seed, kv="past int32 max"))
    assert int(got["status"][0]) & BIT_OVERFLOW


@pytest.mark.parametrize("outputs", [(n,) for n in OUTPUT_NAMES] + [("seqlens_expanded", "row_to_req")],
                         ids=lambda c: "+".join(c))
def test_output_subsets(gpu, rng, rng_seed, outputs):
    bs = 3000
    qo = random_qo(rng, bs, 0, 12, np.int32)
    kv = valid_kv(rng, qo, bs, np.int64)
    total = int(qo.sum())
    ctx = describe_case(rng_seed, outputs=outputs)
    gpu_vs_all(gpu, kv, qo, capacity=total + 100, outputs=outputs, context=ctx)
    gpu_vs_all(gpu, kv, qo, capacity=total // 2, outputs=outputs, context=ctx + " smaller")
    gpu_vs_all(gpu, kv, 4, outputs=outputs, context=ctx + " uniform")


@pytest.mark.parametrize("bs", [1, 64, 4097])
def test_expand_seqlens(gpu, rng, rng_seed, bs):
    qo = random_qo(rng, bs, 0, 16, np.int32)
    kv = valid_kv(rng, qo, bs, np.int64)
    kv_x, qo_x = gpu.from_numpy(kv), gpu.from_numpy(qo)
    total = int(qo.sum())
    out = specmeta.expand_seqlens(kv_x, qo_x, capacity=total)
    assert type(out) is type(kv_x)
    got = gpu.to_numpy(out)
    assert got.dtype == np.int32
    assert_array_equal("expand_seqlens", got, seed_before(kv, qo), describe_case(rng_seed))
    got = gpu.to_numpy(specmeta.expand_seqlens(kv_x, 4))  # uniform: capacity known on the host
    assert_array_equal("expand_seqlens uniform", got, seed_before(kv, 4) if is_valid_for_seed(kv, 4)
                       else reference_expand(kv, 4).seqlens_expanded, describe_case(rng_seed))
    out = gpu.poisoned(total + 9)
    assert specmeta.expand_seqlens(kv_x, qo_x, out=out) is out
    assert_array_equal("out", gpu.to_numpy(out), reference_expand(kv, qo, total + 9).seqlens_expanded,
                       describe_case(rng_seed))


def test_torch_tensor_on_current_device(torch):
    kv = torch.tensor([5, 6], dtype=torch.int32, device="cuda")
    out = specmeta.expand_seqlens(kv, 2)
    assert out.device == kv.device and out.dtype == torch.int32
    assert out.tolist() == [4, 5, 5, 6]


# ---------------------------------------------------------------------------
# Streams and alignment


def test_explicit_stream(torch, rng, rng_seed):
    bs = 3000
    qo = random_qo(rng, bs, 0, 16, np.int32)
    kv = valid_kv(rng, qo, bs, np.int64)
    capacity = int(qo.sum()) + 77
    want = reference_expand(kv, qo, capacity)
    kv_x = torch.from_numpy(kv).cuda()
    qo_x = torch.from_numpy(qo).cuda()
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    for stream_arg in (side, side.cuda_stream):
        outs = {n: torch.full((s,), POISON, dtype=torch.int32, device="cuda")
                for n, s in output_sizes(bs, capacity).items()}
        torch.cuda.synchronize()
        specmeta.expand(kv_x, qo_x, capacity=capacity, stream=stream_arg, **outs)
        side.synchronize()
        for name, buf in outs.items():
            assert_array_equal(name, buf.cpu().numpy(), want.as_dict()[name],
                               describe_case(rng_seed, stream=type(stream_arg).__name__))
    # stream=None inside `with torch.cuda.stream(s)` runs on s (torch's current stream).
    out = torch.full((capacity,), POISON, dtype=torch.int32, device="cuda")
    torch.cuda.synchronize()
    with torch.cuda.stream(side):
        specmeta.expand_seqlens(kv_x, qo_x, out=out)
    side.synchronize()
    assert_array_equal("current stream", out.cpu().numpy(), want.seqlens_expanded, describe_case(rng_seed))


def test_explicit_cupy_stream(cupy_mod, rng, rng_seed):
    cupy = cupy_mod
    bs = 500
    qo = random_qo(rng, bs, 0, 16, np.int64)
    kv = valid_kv(rng, qo, bs, np.int32)
    capacity = int(qo.sum())
    stream = cupy.cuda.Stream(non_blocking=True)
    kv_x, qo_x = cupy.asarray(kv), cupy.asarray(qo)
    out = cupy.full(capacity, POISON, dtype=cupy.int32)
    cupy.cuda.Device().synchronize()
    specmeta.expand_seqlens(kv_x, qo_x, out=out, stream=stream)
    stream.synchronize()
    assert_array_equal("cupy stream", cupy.asnumpy(out), seed_before(kv, qo), describe_case(rng_seed))


@pytest.mark.parametrize("offset", [1, 2, 3])
@pytest.mark.parametrize("uniform", [False, True], ids=["ragged", "uniform"])
def test_misaligned_outputs(gpu, rng, rng_seed, offset, uniform):
    """Outputs starting at element 1..3 of a bigger buffer (not 16-byte aligned)."""
    bs = 1500
    qo = 5 if uniform else random_qo(rng, bs, 0, 9, np.int32)
    kv = valid_kv(rng, qo, bs, np.int64)
    total = bs * 5 if uniform else int(qo.sum())
    capacity = total + 1001  # not a multiple of 4: a partial last store too
    want = reference_expand(kv, qo, capacity).as_dict()
    sizes = output_sizes(bs, capacity)
    bigs = {n: gpu.poisoned(s + offset + GUARD) for n, s in sizes.items()}
    views = {n: bigs[n][offset : offset + sizes[n]] for n in sizes}
    specmeta.expand(gpu.from_numpy(kv), qo if uniform else gpu.from_numpy(qo), capacity=capacity, **views)
    gpu.sync()
    for name, big in bigs.items():
        got = gpu.to_numpy(big)
        ctx = describe_case(rng_seed, offset=offset, uniform=uniform)
        assert np.all(got[:offset] == POISON), f"{ctx}: {name} written before its start"
        assert np.all(got[offset + sizes[name] :] == POISON), f"{ctx}: {name} written past its end"
        assert_array_equal(name, got[offset : offset + sizes[name]], want[name], ctx)


# ---------------------------------------------------------------------------
# CUDA graphs


def _poison_all(outs):
    for buf in outs.values():
        buf.fill_(POISON)


@pytest.mark.parametrize("bs,max_qo,capacity", [(64, 8, 64 * 8), (600, 4, 1800), (5000, 3, 12000)])
def test_cuda_graph_draft_extend(torch, rng, rng_seed, bs, max_qo, capacity):
    """Capture expand() once with static buffers; replay 50 times with new inputs."""
    seq_lens = torch.zeros(bs, dtype=torch.int64, device="cuda")
    accept_lens = torch.zeros(bs, dtype=torch.int32, device="cuda")
    outs = {n: torch.full((s,), POISON, dtype=torch.int32, device="cuda")
            for n, s in output_sizes(bs, capacity).items()}

    def call():
        specmeta.expand(seq_lens, accept_lens, capacity=capacity, max_qo=max_qo, **outs)

    graph = capture_graph(torch, call)

    seen_bits = 0
    totals = set()
    for step in range(50):
        hi = int(rng.integers(0, max_qo + 1))
        accept = rng.integers(0, hi + 1, size=bs).astype(np.int32)
        seq = (accept + rng.integers(0, 200_000, size=bs)).astype(np.int64)
        if step % 10 == 7:
            accept[:] = max_qo  # every request full: may exceed capacity
        if step % 10 == 8:
            accept[rng.random(bs) < 0.05] = max_qo + 1  # bit 16
            accept[0] = max_qo + 1
            seq[rng.random(bs) < 0.05] = 0  # bit 2 where accept > 0
            accept[1], seq[1] = 1, 0
        if step % 10 == 9:
            seq[rng.random(bs) < 0.05] = 2**31 + 3  # bit 8 where accept > 0
            accept[0], seq[0] = 1, 2**31 + 3
        seq_lens.copy_(torch.from_numpy(seq))
        accept_lens.copy_(torch.from_numpy(accept))
        _poison_all(outs)
        graph.replay()
        torch.cuda.synchronize()
        want = reference_expand(seq, accept, capacity, max_qo)
        ctx = describe_case(rng_seed, step=step, bs=bs, total=want.total)
        for name, buf in outs.items():
            assert_array_equal(name, buf.cpu().numpy(), want.as_dict()[name], ctx)
        if want.total <= capacity and is_valid_for_seed(seq, accept):
            assert_array_equal("seed before", outs["seqlens_expanded"][: want.total].cpu().numpy(),
                               seed_before(seq, accept), ctx)
        seen_bits |= want.status
        totals.add(want.total)
    assert len(totals) > 10  # the row total and the tail really changed between replays
    assert seen_bits & BIT_QO_RANGE and seen_bits & BIT_QO_GT_KV and seen_bits & BIT_OVERFLOW


@pytest.mark.parametrize("bs,num_draft_tokens,extra", [(32, 4, 0), (257, 3, 500), (4097, 2, 13)])
def test_cuda_graph_target_verify_uniform(torch, rng, rng_seed, bs, num_draft_tokens, extra):
    """target_verify in a graph: kv = seq_lens + N (also captured), uniform qo = N."""
    capacity = bs * num_draft_tokens + extra
    seq_lens = torch.zeros(bs, dtype=torch.int64, device="cuda")
    kv = torch.zeros(bs, dtype=torch.int64, device="cuda")
    outs = {n: torch.full((s,), POISON, dtype=torch.int32, device="cuda")
            for n, s in output_sizes(bs, capacity).items()}

    def call():
        torch.add(seq_lens, num_draft_tokens, out=kv)
        specmeta.expand(kv, num_draft_tokens, capacity=capacity, **outs)

    graph = capture_graph(torch, call)

    for step in range(50):
        seq = rng.integers(1, 300_000, size=bs).astype(np.int64)
        if step % 10 == 9:
            seq[0] = 2**31  # kv past int32: saturates, bit 8
        seq_lens.copy_(torch.from_numpy(seq))
        _poison_all(outs)
        graph.replay()
        torch.cuda.synchronize()
        want = reference_expand(seq + num_draft_tokens, num_draft_tokens, capacity)
        ctx = describe_case(rng_seed, step=step, bs=bs)
        for name, buf in outs.items():
            assert_array_equal(name, buf.cpu().numpy(), want.as_dict()[name], ctx)
        if is_valid_for_seed(seq + num_draft_tokens, num_draft_tokens):
            assert_array_equal("seed before", outs["seqlens_expanded"][: bs * num_draft_tokens].cpu().numpy(),
                               seed_before(seq + num_draft_tokens, num_draft_tokens), ctx)


# ---------------------------------------------------------------------------
# Device errors


def _assert_poisoned(torch, *buffers):
    torch.cuda.synchronize()
    for buf in buffers:
        assert bool((buf == POISON).all()), "a buffer was written although the call failed"


def test_cuda_qo_array_needs_capacity(gpu):
    kv = gpu.from_numpy(np.array([5, 6], dtype=np.int32))
    qo = gpu.from_numpy(np.array([1, 2], dtype=np.int32))
    with pytest.raises(ValueError, match="capacity"):
        specmeta.expand_seqlens(kv, qo)
    status = gpu.poisoned(1)
    with pytest.raises(ValueError, match="capacity"):
        specmeta.expand(kv, qo, status=status)
    assert int(gpu.to_numpy(status)[0]) == POISON


def test_cpu_and_cuda_mixed(torch):
    kv = torch.tensor([5, 6], dtype=torch.int32, device="cuda")
    qo_cpu = torch.tensor([1, 2], dtype=torch.int32)
    out = torch.full((3,), POISON, dtype=torch.int32, device="cuda")
    with pytest.raises(ValueError, match="qo_lens"):
        specmeta.expand_seqlens(kv, qo_cpu, out=out)
    with pytest.raises(ValueError, match="qo_lens"):
        specmeta.expand_seqlens(kv, np.array([1, 2], dtype=np.int32), out=out)
    _assert_poisoned(torch, out)
    out_cpu = torch.full((4,), POISON, dtype=torch.int32)
    with pytest.raises(ValueError, match="out"):
        specmeta.expand_seqlens(kv, 2, out=out_cpu)
    assert bool((out_cpu == POISON).all())
    with pytest.raises(ValueError, match="kv_lens|qo_lens"):
        specmeta.expand_seqlens(kv.cpu(), torch.tensor([1, 2], dtype=torch.int32, device="cuda"), capacity=3)
    status = torch.full((1,), POISON, dtype=torch.int32, device="cuda")
    with pytest.raises(ValueError, match="status"):
        specmeta.expand(kv.cpu(), 2, status=status)
    _assert_poisoned(torch, status)


def test_cuda_non_contiguous(torch):
    kv = torch.arange(20, dtype=torch.int64, device="cuda")[::2]
    with pytest.raises(ValueError, match="kv_lens"):
        specmeta.expand_seqlens(kv, 1)
    out_base = torch.full((20,), POISON, dtype=torch.int32, device="cuda")
    with pytest.raises(ValueError, match="row_to_req"):
        specmeta.expand(torch.ones(5, dtype=torch.int32, device="cuda"), 1, row_to_req=out_base[::2])
    _assert_poisoned(torch, out_base)


def test_cuda_aliasing(torch):
    backing = torch.full((64,), POISON, dtype=torch.int32, device="cuda")
    kv = backing[:6]
    kv.fill_(5)
    with pytest.raises(ValueError, match="seqlens_expanded"):
        specmeta.expand(kv, 2, seqlens_expanded=backing[5:17])
    torch.cuda.synchronize()
    assert backing[:6].tolist() == [5] * 6 and bool((backing[6:] == POISON).all())


def test_empty_out_sets_capacity(gpu):
    """capacity defaults to len(out), also when out has no elements (all qo 0 here)."""
    kv = gpu.from_numpy(np.array([5, 6], dtype=np.int32))
    qo = gpu.from_numpy(np.zeros(2, dtype=np.int32))
    out = gpu.from_numpy(np.zeros(0, dtype=np.int32))
    assert specmeta.expand_seqlens(kv, qo, out=out) is out


@pytest.mark.parametrize("name,kwargs", [("cu_seqlens_q", {}), ("num_rows", {}), ("status", {}),
                                         ("seqlens_expanded", {"capacity": 2}), ("row_to_req", {"capacity": 2})])
def test_empty_output_too_short(gpu, name, kwargs):
    kv = gpu.from_numpy(np.array([5, 6], dtype=np.int32))
    with pytest.raises(ValueError, match=name):
        specmeta.expand(kv, 1, **kwargs, **{name: gpu.from_numpy(np.zeros(0, dtype=np.int32))})


@pytest.mark.parametrize("kv0", [-(2**63), -(2**63) + 2])
def test_int64_kv_most_negative(gpu, kv0):
    """kv_b near INT64_MIN: all rows 0 and bit 2, no int64 wrap of kv - qo + 1."""
    gpu_vs_all(gpu, np.array([kv0, 7], dtype=np.int64), np.array([5, 2], dtype=np.int32), context=f"kv={kv0}")


@pytest.fixture
def two_gpus(torch):
    if torch.cuda.device_count() < 2:
        pytest.skip("needs 2 CUDA GPUs")
    return torch


def test_device_mismatch(two_gpus):
    torch = two_gpus
    kv = torch.tensor([5, 6], dtype=torch.int32, device="cuda:0")
    out1 = torch.full((4,), POISON, dtype=torch.int32, device="cuda:1")
    with pytest.raises(ValueError, match="out"):
        specmeta.expand_seqlens(kv, 2, out=out1)
    with pytest.raises(ValueError, match="qo_lens"):
        specmeta.expand_seqlens(kv, torch.tensor([1, 2], dtype=torch.int32, device="cuda:1"), capacity=3)
    status1 = torch.full((1,), POISON, dtype=torch.int32, device="cuda:1")
    with pytest.raises(ValueError, match="status"):
        specmeta.expand(kv, 2, status=status1)
    torch.cuda.synchronize(1)
    assert bool((out1 == POISON).all()) and bool((status1 == POISON).all())


def test_second_gpu_runs_there(two_gpus, rng, rng_seed):
    """Arrays all on cuda:1 while cuda:0 is current: the call runs on cuda:1."""
    torch = two_gpus
    bs = 1000
    qo = random_qo(rng, bs, 0, 16, np.int32)
    kv = valid_kv(rng, qo, bs, np.int64)
    capacity = int(qo.sum()) + 3
    with torch.cuda.device(0):
        kv_x = torch.from_numpy(kv).to("cuda:1")
        qo_x = torch.from_numpy(qo).to("cuda:1")
        out = torch.full((capacity,), POISON, dtype=torch.int32, device="cuda:1")
        specmeta.expand_seqlens(kv_x, qo_x, out=out)
        torch.cuda.synchronize(1)
    assert_array_equal("cuda:1", out.cpu().numpy(), reference_expand(kv, qo, capacity).seqlens_expanded,
                       describe_case(rng_seed))
