"""The fused metadata builder on the CUDA backend (torch CUDA tensors, and CuPy
arrays where CuPy is installed): the CPU suite's checks on the GPU, against the
same reference (whole buffers, guards) and, on live rows, SGLang's replay run
on the same GPU; plus what only a GPU has: CUDA-graph capture and replay with
new input values, the Builder inside a graph, streams, misaligned outputs,
launch counts, large page tables, and the device-related argument errors.

Every test here is marked needs_cuda: without torch and a visible GPU the
whole module reports as skipped.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import specmeta
from harness import CupyBackend, TorchBackend, capture_graph, describe_case
from metadata_reference import BIT_POOL, BIT_QO_GT_KV, MODES, OUTPUTS, POISON, output_shapes
from test_metadata_cpu import (  # the harness
    BS_LIST,
    DTYPE_IDS,
    DTYPES,
    GUARD,
    BoundBatch,
    DestinationSet,
    Layout,
    check_set,
    check_sets,
    expected_for,
    new_values,
    poison_sets,
    random_batch,
    run_build,
    run_sweep,
    set_kv,
)

# The CPU suite's tests written against the `backend` fixture, collected again
# here: the `backend` fixture below gives them the GPU backends instead.
from test_metadata_cpu import (  # noqa: F401  (collected by pytest)
    test_all_bits_at_once,
    test_builder_replays_with_new_values,
    test_capacity_much_larger_than_total,
    test_draft_extend_without_n_accepts_any_nonnegative_accept_length,
    test_every_num_draft_tokens,
    test_graph_padded_rows,
    test_inputs_longer_than_bs,
    test_int64_extremes,
    test_library_hand_cases,
    test_lengths_near_int32_max,
    test_metadata_check,
    test_output_subsets,
    test_outputs_longer_than_required,
    test_several_destination_sets,
    test_status_bit_capacity,
    test_status_bit_overflow,
    test_status_bit_pool_index,
    test_status_bit_qo_greater_than_kv,
    test_status_bit_qo_out_of_range,
    test_status_holds_only_this_calls_faults,
    test_strided_tables,
    test_topk_and_kpool,
)

pytestmark = pytest.mark.needs_cuda


class TorchCuda(TorchBackend):
    """torch on the current CUDA device; replays SGLang's code on the same device."""

    replay_device = "cuda"

    def __init__(self, torch):
        super().__init__(torch, "cuda")


class Cupy(CupyBackend):
    replay_device = "cuda"  # SGLang's replay is torch code: it runs on torch's CUDA device


@pytest.fixture(params=["torch-cuda", pytest.param("cupy", marks=pytest.mark.needs_cupy)])
def backend(request):
    if request.param == "cupy":
        import cupy

        return Cupy(cupy)
    import torch

    return TorchCuda(torch)


@pytest.fixture
def gpu(backend):
    """The name the GPU-only tests below use."""
    return backend


@pytest.fixture
def torch():
    import torch

    return torch


def test_cuda_backend_is_built():
    assert specmeta.HAS_CUDA, "specmeta was built without its CUDA backend although a GPU is visible"
    assert specmeta.cuda_available()


# ---------------------------------------------------------------------------
# Random sweeps (the CPU suite's, on the GPU; SGLang's replay on the same GPU)


@pytest.mark.parametrize("seq_dtype,idx_dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("bs", BS_LIST)
@pytest.mark.parametrize("mode", MODES)
def test_mode_sweep(gpu, rng, rng_seed, mode, bs, seq_dtype, idx_dtype):
    run_sweep(gpu, rng, rng_seed, mode, bs, seq_dtype, idx_dtype, replay_device=gpu.replay_device)


@pytest.mark.parametrize("bs", [4097, 8193, 65537])
@pytest.mark.parametrize("mode", MODES)
def test_large_batches(gpu, rng, rng_seed, mode, bs):
    batch = random_batch(rng, mode, bs, n=int(rng.integers(1, 5)), qo_dtype=np.int64, width=5, spread=5000)
    if mode == "extend":
        batch.extend_lens = np.minimum(batch.extend_lens, 3)  # keeps the row total (and memory) small
    layout = Layout(capacity=batch.total() + 17, width=5, page_size=2, topk=int(rng.choice([64, 2048])))
    run_build(gpu, batch, layout, context=describe_case(rng_seed, mode=mode, bs=bs),
              replay_device=gpu.replay_device)


@pytest.mark.parametrize("page_size", [1, 16, 64])
@pytest.mark.parametrize("width", [1, 15, 16, 17, 63, 64, 65, 255, 256, 257, 4096, 4097])
@pytest.mark.parametrize("mode", MODES)
def test_page_size_and_width(gpu, rng, rng_seed, mode, width, page_size):
    batch = random_batch(rng, mode, 13, n=3, width=width, spread=2 * width + 5)
    for b, kv in enumerate((width - 1, width, width + 1)):
        set_kv(batch, b, kv)
    for full_width in (False, True):
        layout = Layout(capacity=batch.total() + 2, width=width, page_size=page_size, full_width=full_width,
                        page_stride_extra=3)
        run_build(gpu, batch, layout, context=describe_case(rng_seed, mode=mode, width=width, ps=page_size,
                                                            full_width=full_width), replay_device=gpu.replay_device)


@pytest.mark.parametrize("width", [65536, 262143, 1048576])
@pytest.mark.parametrize("bs", [1, 2, 4])
@pytest.mark.parametrize("mode", ["decode", "target_verify", "draft_extend", "extend"])
def test_very_wide_tables(gpu, rng, rng_seed, mode, bs, width):
    """Up to 2^20 columns with tiny batches."""
    batch = random_batch(rng, mode, bs, n=2, width=width, pool=3, table_width=width + 3)
    batch.seq_lens[0] = width + 10  # the whole row is live
    if mode == "extend":
        batch.extend_lens[:] = np.minimum(batch.extend_lens, 2)
    for page_size, full_width in ((1, False), (64, True), (16, False)):
        layout = Layout(capacity=batch.total() + 1, width=width, page_size=page_size, full_width=full_width)
        run_build(gpu, batch, layout, context=describe_case(rng_seed, mode=mode, bs=bs, width=width, ps=page_size),
                  replay_device=gpu.replay_device)


@pytest.mark.parametrize("mode", ["target_verify", "draft_extend_static"])
def test_large_page_table(gpu, rng, rng_seed, mode):
    """Many rows times many columns (over 2^26 elements): where a second grid may be needed."""
    batch = random_batch(rng, mode, 1025, n=16, width=4100, spread=9000)
    layout = Layout(capacity=batch.total(), width=4100, page_size=64, full_width=False,
                    outputs=("page_table_1", "real_page_table", "seqlens_expanded", "status"))
    run_build(gpu, batch, layout, context=describe_case(rng_seed, mode=mode), replay_device=gpu.replay_device)
    run_build(gpu, batch, replace(layout, full_width=True), context=describe_case(rng_seed, mode=mode, full=True))


def test_faults_match_reference_and_cpu(gpu, rng, rng_seed):
    """Random faults of every kind: the GPU and the CPU backend agree with the reference (and so each other)."""
    from harness import Backend

    for step in range(12):
        mode = MODES[step % len(MODES)]
        batch = random_batch(rng, mode, 300, n=4, qo_dtype=np.int64, width=20, pool=50)
        bs = batch.bs
        batch.seq_lens = batch.seq_lens.astype(np.int64)
        batch.seq_lens[rng.random(bs) < 0.1] = rng.choice(np.array([0, -3, 2**31 - 1, 2**31 + 7, 2**40]))
        batch.req_pool_indices[rng.random(bs) < 0.05] = rng.choice(np.array([-1, 50, 2**31 - 1]))
        lens = batch.accept_lens if batch.accept_lens is not None else batch.extend_lens
        if lens is not None:
            lens[rng.random(bs) < 0.05] = rng.choice(np.array([-1, 5, 2**31]))
        capacity = max(0, batch.total() - int(rng.integers(0, 40))) if lens is not None else batch.total() + 3
        layout = Layout(capacity=capacity, width=20, page_size=16, topk=int(rng.choice([5, 2048])))
        ctx = describe_case(rng_seed, step=step, mode=mode)
        gpu_sets = run_build(gpu, batch, layout, context=ctx)
        cpu_sets = run_build(Backend(), batch, layout, context=ctx)
        for name in OUTPUTS:
            assert np.array_equal(gpu_sets[0][0][name], cpu_sets[0][0][name]), f"{ctx}: {name} GPU != CPU"


@pytest.mark.parametrize("capacity, width", [(0, 5), (8, 0)], ids=["no-rows", "no-columns"])
def test_pool_index_bit_with_empty_page_tables(torch, capacity, width):
    """A wanted page table with no elements (torch gives it a null data pointer)
    still has every pool index checked: status bit 4 on the GPU as on the CPU."""
    seq = np.array([7, 9, 11, 13], dtype=np.int64)
    rpi = np.array([0, 5, 1, -1], dtype=np.int64)  # 5 and -1 are outside the pool of 3
    table = np.arange(3 * max(width, 1), dtype=np.int32).reshape(3, max(width, 1))[:, :width]
    statuses = []
    for like in (None, torch.empty(0, device="cuda")):
        convert = (lambda a: a) if like is None else (lambda a: torch.from_numpy(np.ascontiguousarray(a)).cuda())
        meta = specmeta.Metadata.empty(bs=4, capacity=capacity, width=width, outputs=("page_table_1", "status"),
                                       like=like)
        specmeta.build_metadata("target_verify", convert(seq), out=meta, num_draft_tokens=capacity // 4,
                                req_pool_indices=convert(rpi), req_to_token=convert(np.ascontiguousarray(table)))
        statuses.append(int(meta.status[0]))
    assert statuses[0] & BIT_POOL, statuses
    assert statuses[1] == statuses[0], f"GPU status {statuses[1]:#x} != CPU status {statuses[0]:#x}"


# ---------------------------------------------------------------------------
# Streams, alignment, launches


def test_explicit_streams(torch, rng, rng_seed):
    """stream=torch.cuda.Stream, a raw int handle, and None inside `with torch.cuda.stream(s)`."""
    backend = TorchCuda(torch)
    batch = random_batch(rng, "draft_extend", 500, n=4, width=40)
    layout = Layout(capacity=batch.total() + 11, width=40, page_size=16)
    bound = BoundBatch(backend, batch, layout)
    side = torch.cuda.Stream()
    for how in ("object", "int", "current"):
        dest = DestinationSet(backend, batch.bs, layout)
        meta = dest.metadata(batch.bs, layout)
        torch.cuda.synchronize()
        if how == "current":
            with torch.cuda.stream(side):
                specmeta.build_metadata("draft_extend", bound.seq_lens, out=meta, **bound.kwargs)
        else:
            stream = side if how == "object" else side.cuda_stream
            specmeta.build_metadata("draft_extend", bound.seq_lens, out=meta, stream=stream, **bound.kwargs)
        side.synchronize()
        check_sets(backend, batch, layout, [dest], describe_case(rng_seed, stream=how))


def test_explicit_cupy_stream(cupy_mod, rng, rng_seed):
    cupy = cupy_mod
    backend = Cupy(cupy)
    batch = random_batch(rng, "target_verify", 300, n=3, width=24)
    layout = Layout(capacity=batch.total(), width=24, page_size=16)
    bound = BoundBatch(backend, batch, layout)
    dest = DestinationSet(backend, batch.bs, layout)
    stream = cupy.cuda.Stream(non_blocking=True)
    cupy.cuda.Device().synchronize()
    specmeta.build_metadata("target_verify", bound.seq_lens, out=dest.metadata(batch.bs, layout), stream=stream,
                            **bound.kwargs)
    stream.synchronize()
    check_sets(backend, batch, layout, [dest], describe_case(rng_seed))


@pytest.mark.parametrize("offset", [1, 2, 3])
@pytest.mark.parametrize("mode", ["decode", "draft_extend", "extend"])
def test_misaligned_outputs(torch, rng, rng_seed, mode, offset):
    """1-D outputs starting at element 1..3 of a larger buffer, page tables with odd row strides
    and an offset start: not 16-byte aligned anywhere."""
    bs = 700
    batch = random_batch(rng, mode, bs, n=4, width=37)
    capacity = batch.total() + 1001
    layout = Layout(capacity=capacity, width=37, page_size=16)
    shapes = output_shapes(bs, capacity, 37, 16)
    backend = TorchCuda(torch)
    bigs, views = {}, {}
    for name, shape in shapes.items():
        if len(shape) == 1:
            bigs[name] = torch.full((shape[0] + offset + GUARD,), POISON, dtype=torch.int32, device=backend.device)
            views[name] = bigs[name][offset : offset + shape[0]]
        else:
            bigs[name] = torch.full((shape[0] + 1, shape[1] + 2 * offset + 1), POISON, dtype=torch.int32,
                                    device=backend.device)
            views[name] = bigs[name][: shape[0], offset : offset + shape[1]]
    bound = BoundBatch(backend, batch, replace(layout, table_stride=batch.req_to_token.shape[1] + offset))
    meta = specmeta.Metadata(bs=bs, capacity=capacity, width=37, page_size=16, **views)
    specmeta.build_metadata(mode, bound.seq_lens, out=meta, **bound.kwargs)
    backend.sync()
    expected = expected_for(batch, layout, {n: np.full(s, POISON, np.int32) for n, s in shapes.items()})
    ctx = describe_case(rng_seed, mode=mode, offset=offset)
    got, guards = {}, {}
    for name, shape in shapes.items():
        whole = bigs[name].cpu().numpy()
        if len(shape) == 1:
            got[name] = whole[offset : offset + shape[0]]
            guards[name] = np.concatenate([whole[:offset], whole[offset + shape[0] :]])
        else:
            got[name] = whole[: shape[0], offset : offset + shape[1]]
            mask = np.ones(whole.shape, bool)
            mask[: shape[0], offset : offset + shape[1]] = False
            guards[name] = whole[mask]
    check_set(got, guards, expected, ctx)


def _device_activities(torch, fn) -> list:
    """Names of the GPU activities (kernels, memcpy, memset) one call of fn() runs, from the profiler."""
    from torch.profiler import ProfilerActivity, profile

    fn()  # warm-up (module load, first-launch setup)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    return [e.name for e in prof.events() if str(e.device_type).endswith("CUDA")]


@pytest.mark.parametrize("mode", MODES)
def test_one_launch_no_copies(torch, rng, mode):
    """SPEC 5: one kernel launch (a small page table needs no second grid), no memcpy or memset."""
    backend = TorchCuda(torch)
    batch = random_batch(rng, mode, 257, n=4, width=64)
    layout = Layout(capacity=batch.total() + 5, width=64, page_size=16, sets=3)
    sets = [DestinationSet(backend, batch.bs, layout) for _ in range(3)]
    bound = BoundBatch(backend, batch, layout)
    metas = [s.metadata(batch.bs, layout) for s in sets]
    names = _device_activities(torch, lambda: specmeta.build_metadata(mode, bound.seq_lens, out=metas, **bound.kwargs))
    if not names:
        pytest.skip("the profiler recorded no CUDA activity (CUPTI unavailable)")
    copies = [n for n in names if "memcpy" in n.lower() or "memset" in n.lower()]
    assert not copies, f"copies or memsets in a call: {copies}"
    assert len(names) == 1, f"expected one launch, got {names}"


def test_large_page_table_two_launches_at_most(torch, rng):
    """SPEC 5: a page table of over 2^26 elements may take a second grid, never more."""
    backend = TorchCuda(torch)
    batch = random_batch(rng, "target_verify", 1025, n=16, width=4100, spread=9000)
    layout = Layout(capacity=batch.total(), width=4100, page_size=64, full_width=True)
    dest = DestinationSet(backend, batch.bs, layout)
    bound = BoundBatch(backend, batch, layout)
    meta = dest.metadata(batch.bs, layout)
    names = _device_activities(torch, lambda: specmeta.build_metadata("target_verify", bound.seq_lens, out=meta,
                                                                      **bound.kwargs))
    if not names:
        pytest.skip("the profiler recorded no CUDA activity (CUPTI unavailable)")
    assert 1 <= len(names) <= 2 and not any("memcpy" in n.lower() or "memset" in n.lower() for n in names), names


# ---------------------------------------------------------------------------
# CUDA graphs




def _replay_batch(rng, template, real_bs, n, width, step):
    """New values for the captured arrays: real_bs live requests then graph padding; some faults."""
    batch = new_values(rng, template, n, width, padded=template.bs - real_bs)
    if step % 10 == 7 and batch.accept_lens is not None:
        batch.accept_lens[0] = n + 1  # bit 16
    if step % 10 == 8:
        batch.seq_lens[-1] = -1  # kv = -1 (target_verify: N - 1) < qo: bit 2 in every mode
    if step % 10 == 9:
        batch.req_pool_indices[0] = -1  # bit 4
    return batch


@pytest.mark.parametrize("use_builder", [False, True], ids=["build_metadata", "Builder"])
@pytest.mark.parametrize("graph_bs,n", [(1, 1), (64, 4), (600, 3), (1025, 2)])
@pytest.mark.parametrize("mode", MODES)
def test_cuda_graph_replay(torch, rng, rng_seed, mode, graph_bs, n, use_builder):
    """Capture once with static buffers; replay 30 times after changing seq_lens, accept/extend lens,
    req_pool_indices and the table contents; every output equals the reference after each replay."""
    backend = TorchCuda(torch)
    width = 48
    template = random_batch(rng, mode, graph_bs, n=n, width=width, pool=graph_bs + 5)
    if mode == "extend":
        template.extend_lens = np.minimum(template.extend_lens, n)
    capacity = graph_bs * n + 13
    layout = Layout(capacity=capacity, width=width, page_size=16, topk=64, sets=2, table_stride=width + 9,
                    page_stride_extra=5)
    sets = [DestinationSet(backend, graph_bs, layout) for _ in range(layout.sets)]
    metas = [s.metadata(graph_bs, layout) for s in sets]
    bound = BoundBatch(backend, template, layout)
    if use_builder:
        builder = specmeta.Builder(mode, out=metas, seq_lens=bound.seq_lens, **bound.kwargs)
        graph = capture_graph(torch, lambda: builder(bs=graph_bs))
    else:
        graph = capture_graph(torch, lambda: specmeta.build_metadata(mode, bound.seq_lens, out=metas, **bound.kwargs))

    seen = 0
    totals = set()
    for step in range(30):
        real_bs = int(rng.integers(0, graph_bs + 1))
        batch = _replay_batch(rng, template, real_bs, n, width, step)
        bound.load(batch)
        poison_sets(backend, sets)
        graph.replay()
        backend.sync()
        results = check_sets(backend, batch, layout, sets,
                             describe_case(rng_seed, mode=mode, step=step, real_bs=real_bs),
                             replay_device=backend.replay_device)
        seen |= results[0][1].status
        totals.add(results[0][1].total)
    if mode in ("draft_extend", "extend") and graph_bs > 1:
        assert len(totals) > 5, "the row total did not change between replays"
    assert seen & BIT_POOL and seen & BIT_QO_GT_KV


def test_builder_smaller_bs_in_graphs(torch, rng, rng_seed):
    """One Builder, one graph per batch size (as a graph runner keeps), replayed with new values."""
    backend = TorchCuda(torch)
    max_bs, n, width = 256, 3, 32
    template = random_batch(rng, "draft_extend", max_bs, n=n, width=width)
    layout = Layout(capacity=max_bs * n, width=width, page_size=16)
    sets = [DestinationSet(backend, max_bs, layout)]
    bound = BoundBatch(backend, template, layout)
    builder = specmeta.Builder("draft_extend", out=sets[0].metadata(max_bs, layout), seq_lens=bound.seq_lens,
                               **bound.kwargs)
    graphs = {bs: capture_graph(torch, lambda bs=bs: builder(bs=bs)) for bs in (1, 8, 100, max_bs)}
    for step in range(20):
        bs = [1, 8, 100, max_bs][step % 4]
        batch = new_values(rng, template, n, width)
        bound.load(batch)
        poison_sets(backend, sets)
        graphs[bs].replay()
        backend.sync()
        check_sets(backend, batch, layout, sets, describe_case(rng_seed, step=step, bs=bs), bs=bs,
                   replay_device=backend.replay_device)


def test_cuda_graph_target_verify_seq_plus_n_captured(torch, rng, rng_seed):
    """A server's pattern: seq_lens filled by a captured copy, then the builder, in one graph."""
    backend = TorchCuda(torch)
    bs, n, width = 128, 4, 64
    template = random_batch(rng, "target_verify", bs, n=n, width=width)
    layout = Layout(capacity=bs * n, width=width, page_size=64)
    dest = DestinationSet(backend, bs, layout)
    bound = BoundBatch(backend, template, layout)
    staging = torch.zeros(bs, dtype=bound.seq_lens.dtype, device=backend.device)
    meta = dest.metadata(bs, layout)

    def step_fn():
        bound.seq_lens.copy_(staging)
        specmeta.build_metadata("target_verify", bound.seq_lens, out=meta, **bound.kwargs)

    graph = capture_graph(torch, step_fn)
    for step in range(10):
        batch = new_values(rng, template, n, width)
        bound.load(batch)
        staging.copy_(torch.from_numpy(batch.seq_lens))
        bound.seq_lens.fill_(0)  # stale: the graph's copy must bring the values
        poison_sets(backend, [dest])
        graph.replay()
        backend.sync()
        check_sets(backend, batch, layout, [dest], describe_case(rng_seed, step=step),
                   replay_device=backend.replay_device)


# ---------------------------------------------------------------------------
# Device errors


def _poisoned_cuda(torch, shape):
    return torch.full(shape, POISON, dtype=torch.int32, device="cuda")


def _cuda_outputs(torch, bs=4, capacity=8, width=6, page_size=2, names=OUTPUTS):
    return {name: _poisoned_cuda(torch, shape) for name, shape in output_shapes(bs, capacity, width, page_size).items()
            if name in names}


def _all_poisoned(torch, outs) -> bool:
    torch.cuda.synchronize()
    return all(bool((v == POISON).all()) for v in outs.values())


@pytest.mark.parametrize("name", ["accept_lens", "req_pool_indices", "req_to_token"])
def test_input_on_the_wrong_device(torch, name):
    """seq_lens on CUDA, another input in host memory (NumPy or CPU torch): ValueError naming it."""
    outs = _cuda_outputs(torch)
    kwargs = dict(accept_lens=torch.tensor([1, 2, 0, 1], dtype=torch.int32, device="cuda"), num_draft_tokens=2,
                  req_pool_indices=torch.tensor([0, 1, 1, 0], dtype=torch.int64, device="cuda"),
                  req_to_token=torch.arange(12, dtype=torch.int32, device="cuda").reshape(2, 6), page_size=2)
    seq = torch.tensor([3, 4, 5, 6], dtype=torch.int64, device="cuda")
    for host in (kwargs[name].cpu(), kwargs[name].cpu().numpy()):
        bad = dict(kwargs, **{name: host})
        with pytest.raises(ValueError, match=name):
            specmeta.build_metadata("draft_extend", seq, out=specmeta.Metadata(bs=4, capacity=8, width=6,
                                                                                page_size=2, **outs), **bad)
    assert _all_poisoned(torch, outs)


@pytest.mark.parametrize("name", OUTPUTS)
def test_output_on_the_wrong_device(torch, name):
    outs = _cuda_outputs(torch)
    host = outs[name].cpu()
    outs[name] = host
    seq = torch.tensor([3, 4, 5, 6], dtype=torch.int32, device="cuda")
    with pytest.raises(ValueError, match=name):
        specmeta.build_metadata("decode", seq, out=specmeta.Metadata(bs=4, capacity=8, width=6, page_size=2, **outs),
                                req_pool_indices=torch.zeros(4, dtype=torch.int32, device="cuda"),
                                req_to_token=torch.zeros((1, 6), dtype=torch.int32, device="cuda"), page_size=2)
    assert bool((host == POISON).all())
    del outs[name]
    assert _all_poisoned(torch, outs)


def test_host_seq_lens_with_cuda_outputs(torch):
    outs = _cuda_outputs(torch, names=("cache_seqlens", "status"))
    with pytest.raises(ValueError, match="cache_seqlens|status"):
        specmeta.build_metadata("decode", np.array([3, 4, 5, 6], np.int32),
                                out=specmeta.Metadata(bs=4, capacity=8, **outs))
    assert _all_poisoned(torch, outs)


def test_cuda_non_contiguous(torch):
    seq = torch.arange(8, dtype=torch.int64, device="cuda")[::2]
    outs = _cuda_outputs(torch, names=("cache_seqlens",))
    with pytest.raises(ValueError, match="seq_lens"):
        specmeta.build_metadata("decode", seq, out=specmeta.Metadata(bs=4, capacity=8, **outs))
    table = torch.zeros((2, 12), dtype=torch.int32, device="cuda")[:, ::2]
    outs = _cuda_outputs(torch, names=("page_table_1",))
    with pytest.raises(ValueError, match="req_to_token"):
        specmeta.build_metadata("decode", torch.ones(4, dtype=torch.int32, device="cuda"),
                                out=specmeta.Metadata(bs=4, capacity=8, width=6, page_size=2, **outs),
                                req_pool_indices=torch.zeros(4, dtype=torch.int32, device="cuda"), req_to_token=table,
                                page_size=2)
    assert _all_poisoned(torch, outs)


def test_cuda_aliasing(torch):
    backing = _poisoned_cuda(torch, (64,))
    seq = backing[:4]
    seq.fill_(5)
    outs = {"cache_seqlens": backing[3:7]}
    with pytest.raises(ValueError, match="cache_seqlens"):
        specmeta.build_metadata("decode", seq, out=specmeta.Metadata(bs=4, capacity=4, **outs))
    torch.cuda.synchronize()
    assert backing[:4].tolist() == [5] * 4 and bool((backing[4:] == POISON).all())


def test_metadata_empty_like_cuda(torch):
    like = torch.zeros(1, dtype=torch.int64, device="cuda")
    meta = specmeta.Metadata.empty(bs=3, capacity=7, width=5, page_size=2, like=like)
    for name, shape in output_shapes(3, 7, 5, 2).items():
        array = getattr(meta, name)
        assert array.device == like.device and tuple(array.shape) == shape and array.dtype == torch.int32, name
        assert not bool(array.any()), name
    specmeta.build_metadata("decode", torch.tensor([2, 9, 4], dtype=torch.int32, device="cuda"), out=meta,
                            req_pool_indices=torch.zeros(3, dtype=torch.int32, device="cuda"),
                            req_to_token=torch.arange(5, dtype=torch.int32, device="cuda").reshape(1, 5), page_size=2)
    assert meta.cache_seqlens.tolist() == [2, 9, 4] and meta.check() is None


def _decode_into(torch, meta):
    specmeta.build_metadata("decode", torch.tensor([2, 9, 4], dtype=torch.int32, device="cuda"), out=meta,
                            req_pool_indices=torch.zeros(3, dtype=torch.int32, device="cuda"),
                            req_to_token=torch.arange(5, dtype=torch.int32, device="cuda").reshape(1, 5), page_size=2)
    torch.cuda.synchronize()


@pytest.mark.parametrize("change", ["resize past the storage", "shrink", "set_", "data"])
def test_metadata_empty_output_changed_in_place(torch, change):
    """Metadata.empty reads its outputs' fields once; an output since moved or shrunk in
    place must send the next call back to reading every output: it then writes where the
    output now is, or refuses a buffer now too small. (scripts/gpu-check.sh's
    sanitizer-buffers step runs this under memcheck without torch's caching allocator,
    where a write to the old storage is a write to freed memory.)"""
    meta = specmeta.Metadata.empty(bs=3, capacity=7, width=5, page_size=2, like=torch.zeros(1, device="cuda"))
    _decode_into(torch, meta)
    table = meta.page_table_1
    before = table.data_ptr()
    if change == "resize past the storage":
        table.resize_(64, 5)
    elif change == "shrink":
        table.resize_(2, 5)  # the same storage, fewer rows: capacity 7 no longer fits
    elif change == "set_":
        table.set_(torch.zeros((7, 5), dtype=torch.int32, device="cuda"))
    else:
        table.data = torch.zeros((7, 5), dtype=torch.int32, device="cuda")
    assert (table.data_ptr() != before) == (change != "shrink")
    if change == "shrink":
        with pytest.raises(ValueError, match="page_table_1"):
            _decode_into(torch, meta)
        return
    table.zero_()
    _decode_into(torch, meta)
    assert table[:3].tolist() == [[0, 1, 0, 0, 0], [0, 1, 2, 3, 4], [0, 1, 2, 3, 0]]
    assert meta.cache_seqlens.tolist() == [2, 9, 4] and meta.status[0].item() == 0


@pytest.mark.parametrize("change", ["set_", "data", "resize past the storage"])
def test_metadata_empty_repeated_call_input_changed_in_place(torch, change):
    """A call repeating the last one's tensors reuses its validation only while every input
    reads the same: req_to_token moved in place must be read where it now is. (Under
    memcheck without torch's caching allocator, as the sanitizer-buffers step runs it, a
    read of the old storage is a read of freed memory.)"""
    meta = specmeta.Metadata.empty(bs=3, capacity=7, width=5, page_size=2, like=torch.zeros(1, device="cuda"))
    seq = torch.tensor([2, 9, 4], dtype=torch.int32, device="cuda")
    rpi = torch.zeros(3, dtype=torch.int32, device="cuda")
    table = torch.arange(5, dtype=torch.int32, device="cuda").reshape(1, 5)

    def call():
        specmeta.build_metadata("decode", seq, out=meta, req_pool_indices=rpi, req_to_token=table, page_size=2)
        torch.cuda.synchronize()

    call()
    call()
    moved = torch.arange(10, 15, dtype=torch.int32, device="cuda").reshape(1, 5)
    before = table.data_ptr()
    if change == "set_":
        table.set_(moved)
    elif change == "data":
        table.data = moved
    else:
        table.resize_(64, 5)
        table[0] = moved[0]
    assert table.data_ptr() != before
    del moved
    call()
    assert meta.page_table_1[:3].tolist() == [[10, 11, 0, 0, 0], [10, 11, 12, 13, 14], [10, 11, 12, 13, 0]]
    assert meta.real_page_table[:3].tolist() == [[5, 0, 0], [5, 6, 7], [5, 6, 0]]


def test_metadata_empty_assigned_cuda_output(torch):
    meta = specmeta.Metadata.empty(bs=3, capacity=7, width=5, page_size=2, like=torch.zeros(1, device="cuda"))
    _decode_into(torch, meta)
    old = meta.cache_seqlens
    old.fill_(POISON)
    meta.cache_seqlens = torch.zeros(3, dtype=torch.int32, device="cuda")
    _decode_into(torch, meta)
    assert meta.cache_seqlens.tolist() == [2, 9, 4] and bool((old == POISON).all())
    meta.cache_seqlens = torch.zeros(3, dtype=torch.int32)  # host memory: checked again, refused
    with pytest.raises(ValueError, match="cache_seqlens"):
        _decode_into(torch, meta)


def test_metadata_empty_like_cupy(cupy_mod):
    cupy = cupy_mod
    like = cupy.zeros(1, dtype=cupy.int64)
    meta = specmeta.Metadata.empty(bs=2, capacity=4, width=3, like=like)
    for name, shape in output_shapes(2, 4, 3, 1).items():
        array = getattr(meta, name)
        assert isinstance(array, cupy.ndarray) and array.shape == shape and array.dtype == cupy.int32, name


@pytest.fixture
def two_gpus(torch):
    if torch.cuda.device_count() < 2:
        pytest.skip("needs 2 CUDA GPUs")
    return torch


def test_device_mismatch(two_gpus):
    torch = two_gpus
    seq = torch.tensor([5, 6], dtype=torch.int32, device="cuda:0")
    status1 = torch.full((1,), POISON, dtype=torch.int32, device="cuda:1")
    with pytest.raises(ValueError, match="status"):
        specmeta.build_metadata("decode", seq, out=specmeta.Metadata(bs=2, capacity=2, status=status1))
    accept1 = torch.tensor([1, 1], dtype=torch.int32, device="cuda:1")
    status0 = torch.full((1,), POISON, dtype=torch.int32, device="cuda:0")
    with pytest.raises(ValueError, match="accept_lens"):
        specmeta.build_metadata("draft_extend", seq, out=specmeta.Metadata(bs=2, capacity=4, status=status0),
                                accept_lens=accept1)
    torch.cuda.synchronize(0)
    torch.cuda.synchronize(1)
    assert int(status1[0]) == POISON and int(status0[0]) == POISON


def test_second_gpu_runs_there(two_gpus, rng, rng_seed):
    """Arrays all on cuda:1 while cuda:0 is current: the call runs on cuda:1."""
    torch = two_gpus
    batch = random_batch(rng, "draft_extend", 100, n=4, width=20)
    layout = Layout(capacity=batch.total() + 3, width=20, page_size=16)
    backend = TorchBackend(torch, "cuda:1")
    with torch.cuda.device(0):
        run_build(backend, batch, layout, context=describe_case(rng_seed, device="cuda:1"), replay_device="cuda:1")

