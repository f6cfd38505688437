"""specmeta as PyTorch custom ops (`specmeta.torch`): the ops against the
independent reference (`metadata_reference`) and against `specmeta.build_metadata`,
torch.compile(fullgraph=True) against eager, the fake implementations' errors,
CUDA-graph capture, and the in-graph replay: the builder and a consumer captured
in one CUDA graph, replayed hundreds of times with new inputs written into the
static buffers, every replay checked, with no metadata launch from the host.

CPU tests need torch (marked needs_torch); GPU tests need torch and a visible
GPU (needs_cuda). Without them each test reports as skipped with its reason.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import specmeta
from harness import capture_graph
from metadata_reference import BIT_CAPACITY, OUTPUTS, POISON, reference_metadata

DEVICES = [pytest.param("cpu", marks=pytest.mark.needs_torch), pytest.param("cuda", marks=pytest.mark.needs_cuda)]
MODES = ("decode", "target_verify", "draft_extend", "draft_extend_static", "extend")
N = 4
WIDTH = 40
PAGE_SIZE = 8
TOPK = 24
POOL = 37


@pytest.fixture
def st():
    """specmeta.torch (imported here: collecting this module must not need torch)."""
    import specmeta.torch as module

    return module


@pytest.fixture
def torch():
    import torch as module

    return module


class Case:
    """One random valid batch of `mode` as NumPy arrays, and the call's geometry."""

    def __init__(self, rng, mode: str, bs: int, seq_dtype=np.int64):
        self.mode, self.bs = mode, bs
        self.seq_lens = rng.integers(N + 1, 3 * WIDTH // 2, size=bs).astype(seq_dtype)
        self.req_pool_indices = rng.integers(0, POOL, size=bs).astype(np.int64)
        self.req_to_token = rng.integers(-(1 << 20), 1 << 20, size=(POOL, WIDTH + 3)).astype(np.int32)
        self.accept_lens = rng.integers(0, N + 1, size=bs).astype(np.int32) if mode == "draft_extend" else None
        self.extend_lens = rng.integers(0, 2 * N, size=bs).astype(np.int32) if mode == "extend" else None
        self.num_draft_tokens = N if mode in ("target_verify", "draft_extend", "draft_extend_static") else None
        self.capacity = bs * (2 * N) + 3

    def tensors(self, torch, device: str) -> dict:
        t = lambda a: None if a is None else tensor_of(torch, a, device)  # noqa: E731
        return dict(req_pool_indices=t(self.req_pool_indices), req_to_token=t(self.req_to_token),
                    accept_lens=t(self.accept_lens), extend_lens=t(self.extend_lens),
                    num_draft_tokens=self.num_draft_tokens, topk=TOPK, page_size=PAGE_SIZE)

    def metadata(self, torch, device: str) -> specmeta.Metadata:
        meta = specmeta.Metadata.empty(bs=self.bs, capacity=self.capacity, width=WIDTH, page_size=PAGE_SIZE,
                                       like=torch.zeros(1, device=device))
        for name in OUTPUTS:
            getattr(meta, name).fill_(POISON)
        return meta

    def expected(self, prev: dict, seq_lens=None, accept_lens=None, req_pool_indices=None):
        return reference_metadata(
            self.mode, self.seq_lens if seq_lens is None else seq_lens, prev=prev, capacity=self.capacity,
            width=WIDTH, page_size=PAGE_SIZE,
            req_pool_indices=self.req_pool_indices if req_pool_indices is None else req_pool_indices,
            req_to_token=self.req_to_token,
            accept_lens=self.accept_lens if accept_lens is None else accept_lens,
            extend_lens=self.extend_lens, num_draft_tokens=self.num_draft_tokens, topk=TOPK,
        )


def tensor_of(torch, a: np.ndarray, device: str):
    """A tensor holding a copy of `a` (torch.from_numpy alone would share the memory on the CPU)."""
    return torch.from_numpy(np.array(a, copy=True)).to(device)


def numpy_of(meta: specmeta.Metadata) -> dict:
    return {name: getattr(meta, name).cpu().numpy().copy() for name in OUTPUTS}


def assert_equal_sets(got: dict, want: dict, context: str) -> None:
    for name in OUTPUTS:
        if not np.array_equal(got[name], want[name]):
            bad = np.argwhere(got[name] != want[name])[0]
            raise AssertionError(f"{context}: {name} differs first at {tuple(int(i) for i in bad)}: "
                                 f"got {int(got[name][tuple(bad)])}, expected {int(want[name][tuple(bad)])}")


# ---------------------------------------------------------------------------
# The ops against the reference and against build_metadata


@pytest.mark.needs_torch
def test_build_metadata_schema_declares_every_output_mutated(st, torch):
    schema = torch.ops.specmeta.build_metadata.default._schema
    written = {a.name for a in schema.arguments if a.alias_info is not None and a.alias_info.is_write}
    assert written == set(OUTPUTS)
    assert not schema.returns
    for op in (torch.ops.specmeta.expand.default, torch.ops.specmeta.expand_seqlens.default):
        assert op._schema.name.startswith("specmeta::")


@pytest.mark.parametrize("sets", [1, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("device", DEVICES)
def test_op_matches_reference_and_build_metadata(st, torch, rng, rng_seed, device, mode, sets):
    case = Case(rng, mode, int(rng.integers(1, 40)), seq_dtype=rng.choice([np.int32, np.int64]))
    kwargs = case.tensors(torch, device)
    seq = tensor_of(torch, case.seq_lens, device)
    metas = [case.metadata(torch, device) for _ in range(sets)]
    prev = numpy_of(metas[0])
    result = st.build_metadata(mode, seq, out=metas if sets > 1 else metas[0], **kwargs)
    assert result is (metas if sets > 1 else metas[0])
    plain = case.metadata(torch, device)
    specmeta.build_metadata(mode, seq, out=plain, **kwargs)
    want = case.expected(prev).arrays
    context = f"seed {rng_seed} {device} {mode} bs={case.bs}"
    for i, meta in enumerate(metas):
        assert_equal_sets(numpy_of(meta), want, f"{context} set {i} vs reference")
    assert_equal_sets(numpy_of(plain), want, f"{context} build_metadata vs reference")


@pytest.mark.parametrize("device", DEVICES)
def test_expand_ops_match_reference(st, torch, rng, device):
    bs = 23
    kv = torch.from_numpy(rng.integers(N, 200, size=bs)).to(device)
    qo = torch.from_numpy(rng.integers(0, N + 1, size=bs).astype(np.int32)).to(device)
    capacity = bs * N + 5
    want = specmeta.expand_seqlens(kv.cpu().numpy(), qo.cpu().numpy(), capacity=capacity)
    got = st.expand_seqlens(kv, qo, capacity=capacity)
    assert got.dtype == torch.int32 and got.device == kv.device
    np.testing.assert_array_equal(got.cpu().numpy(), want)
    np.testing.assert_array_equal(st.expand_seqlens(kv, 3).cpu().numpy(), specmeta.expand_seqlens(kv.cpu().numpy(), 3))
    sizes = dict(seqlens_expanded=capacity, cu_seqlens_q=bs + 1, row_to_req=capacity, num_rows=1, status=1)
    outs = {name: torch.full((size,), POISON, dtype=torch.int32, device=device) for name, size in sizes.items()}
    st.expand(kv, qo, max_qo=N, **outs)
    ref = {name: np.full(tuple(t.shape), POISON, dtype=np.int32) for name, t in outs.items()}
    specmeta.expand(kv.cpu().numpy(), qo.cpu().numpy(), max_qo=N, **ref)
    for name in outs:
        np.testing.assert_array_equal(outs[name].cpu().numpy(), ref[name], err_msg=name)
    out = torch.zeros(capacity, dtype=torch.int32, device=device)
    assert st.expand_seqlens(kv, qo, out=out) is out
    np.testing.assert_array_equal(out.cpu().numpy(), want)


@pytest.mark.needs_torch
def test_expand_seqlens_op_needs_capacity_for_tensor_qo(st, torch):
    with pytest.raises(ValueError, match="capacity"):
        st.expand_seqlens(torch.tensor([3, 4]), torch.tensor([1, 2]))


@pytest.mark.parametrize("device", DEVICES)
def test_plan_cache_follows_the_tensors(st, torch, rng, device):
    """A bound plan is reused only for tensors of the same address and geometry: a prefix view of
    the same memory (same address, fewer requests), new buffers, and new values all come out right."""
    case = Case(rng, "draft_extend", 17)
    kwargs = case.tensors(torch, device)
    seq = tensor_of(torch, case.seq_lens, device)
    for bs in (17, 9, 17):
        for _ in range(2):
            meta = case.metadata(torch, device)
            prev = numpy_of(meta)
            cut = {k: (v[:bs] if k in ("req_pool_indices", "accept_lens") else v) for k, v in kwargs.items()}
            st.build_metadata("draft_extend", seq[:bs], out=meta, **cut)
            want = reference_metadata(
                "draft_extend", case.seq_lens[:bs], prev=prev, capacity=case.capacity, width=WIDTH,
                page_size=PAGE_SIZE, req_pool_indices=case.req_pool_indices[:bs], req_to_token=case.req_to_token,
                accept_lens=case.accept_lens[:bs], num_draft_tokens=N, topk=TOPK).arrays
            assert_equal_sets(numpy_of(meta), want, f"{device} bs={bs}")
        seq.add_(1)
        case.seq_lens = case.seq_lens + 1


# ---------------------------------------------------------------------------
# Argument errors: eagerly, and from the fake implementations at trace time


@pytest.mark.needs_torch
def test_eager_errors_name_the_argument(st, torch):
    seq = torch.tensor([5, 6])
    meta = specmeta.Metadata.empty(bs=2, capacity=2, outputs=("cache_seqlens", "seqlens_expanded"), like=seq)
    with pytest.raises(TypeError, match="seq_lens: expected dtype int32 or int64, got float32"):
        st.build_metadata("decode", seq.float(), out=meta)
    wrong = specmeta.Metadata(bs=2, capacity=2, cache_seqlens=torch.zeros(2, dtype=torch.int64),
                              seqlens_expanded=meta.seqlens_expanded)
    with pytest.raises(TypeError, match="out.cache_seqlens: expected dtype int32, got int64"):
        st.build_metadata("decode", seq, out=wrong)
    other = specmeta.Metadata.empty(bs=2, capacity=2, outputs=("cache_seqlens",), like=seq)
    with pytest.raises(ValueError, match=r"out\[1\].seqlens_expanded"):
        st.build_metadata("decode", seq, out=[meta, other])
    with pytest.raises(ValueError, match="seq_lens: expected a CPU or CUDA tensor"):
        st.build_metadata("decode", seq.to("meta"), out=specmeta.Metadata(
            bs=2, capacity=2, cache_seqlens=torch.zeros(2, dtype=torch.int32, device="meta")))


@pytest.mark.needs_torch
def test_fake_implementation_errors_name_the_argument(st, torch):
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        seq = torch.zeros(2, dtype=torch.int64)
        good = torch.zeros(2, dtype=torch.int32)
        none = [[]] * (len(OUTPUTS) - 1)
        op = torch.ops.specmeta.build_metadata
        op("decode", seq, None, None, None, None, None, 8, 1, 1, False, 2, 0, [good], *none)  # accepted
        with pytest.raises(TypeError, match="seq_lens: expected dtype int32 or int64, got float32"):
            op("decode", seq.float(), None, None, None, None, None, 8, 1, 1, False, 2, 0, [good], *none)
        with pytest.raises(TypeError, match="out.cache_seqlens: expected dtype int32, got int64"):
            op("decode", seq, None, None, None, None, None, 8, 1, 1, False, 2, 0, [good.long()], *none)
        with pytest.raises(ValueError, match=r"out\[1\].cache_seqlens: expected a 1-D tensor"):
            op("decode", seq, None, None, None, None, None, 8, 1, 1, False, 2, 0, [good, good[None]], *none)
        with pytest.raises(ValueError, match="req_pool_indices: expected a 1-D tensor"):
            op("decode", seq, seq[None], None, None, None, None, 8, 1, 1, False, 2, 0, [good], *none)
        with pytest.raises(ValueError, match="expected at least one wanted output"):
            op("decode", seq, None, None, None, None, None, 8, 1, 1, False, 2, 0, [], *none)
        with pytest.raises(TypeError, match="qo_lens: expected dtype int32 or int64, got float32"):
            torch.ops.specmeta.expand_seqlens(seq, seq.float(), 0, 4)


@pytest.mark.needs_cuda
def test_wrong_device_is_rejected_eagerly_and_at_trace_time(st, torch):
    from torch._subclasses.fake_tensor import FakeTensorMode

    seq = torch.tensor([5, 6], device="cuda")
    meta = specmeta.Metadata(bs=2, capacity=2, cache_seqlens=torch.zeros(2, dtype=torch.int32))  # on the CPU
    with pytest.raises(ValueError, match=r"out.cache_seqlens: expected an array on the device of seq_lens \(cuda:0\)"):
        st.build_metadata("decode", seq, out=meta)
    with FakeTensorMode():
        fake_seq = torch.zeros(2, dtype=torch.int64, device="cuda")
        host = torch.zeros(2, dtype=torch.int32)
        none = [[]] * (len(OUTPUTS) - 1)
        with pytest.raises(ValueError, match="out.cache_seqlens: expected a tensor on the device of seq_lens"):
            torch.ops.specmeta.build_metadata("decode", fake_seq, None, None, None, None, None, 8, 1, 1, False, 2, 0,
                                              [host], *none)


def test_import_specmeta_without_torch():
    """`import specmeta` must not need torch; only `specmeta.torch` does (runs without torch too)."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "import specmeta\n"
            "try:\n    import specmeta.torch\nexcept ImportError:\n    print('ok')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "ok", result.stderr


# ---------------------------------------------------------------------------
# torch.compile


def _step(st, torch, mode, seq, meta, kwargs, sink):
    """A server-like step: metadata, expansions, and consumers reading them."""
    st.build_metadata(mode, seq + 1, out=meta, **kwargs)
    extra = st.expand_seqlens(seq, 2)
    st.expand(seq, 1, seqlens_expanded=sink)
    live = meta.row_to_req >= 0
    return (meta.sparse_seqlens * live).sum() + meta.page_table_1[:, 0].sum() + extra.sum(), meta.cu_seqlens_k * 2


@pytest.mark.parametrize("mode", ["target_verify", "draft_extend"])
@pytest.mark.parametrize("device", DEVICES)
def test_compile_fullgraph_matches_eager(st, torch, rng, device, mode):
    case = Case(rng, mode, 13)
    kwargs = case.tensors(torch, device)
    seq = tensor_of(torch, case.seq_lens, device)
    compiled = torch.compile(lambda *a: _step(st, torch, mode, *a), fullgraph=True)
    for step in range(3):
        metas = [case.metadata(torch, device) for _ in range(2)]
        sinks = [torch.full((case.bs,), POISON, dtype=torch.int32, device=device) for _ in range(2)]
        got = compiled(seq, metas[0], kwargs, sinks[0])
        want = _step(st, torch, mode, seq, metas[1], kwargs, sinks[1])
        for g, w in zip(got, want):
            assert torch.equal(g, w), f"step {step}: compiled {g} != eager {w}"
        assert_equal_sets(numpy_of(metas[0]), numpy_of(metas[1]), f"{device} {mode} step {step} compiled vs eager")
        assert torch.equal(sinks[0], sinks[1])
        seq.add_(int(rng.integers(1, 5)))


# ---------------------------------------------------------------------------
# CUDA graphs




@pytest.mark.needs_cuda
@pytest.mark.parametrize("mode", MODES)
def test_op_under_cuda_graph_capture(st, torch, rng, rng_seed, mode):
    case = Case(rng, mode, 21)
    kwargs = case.tensors(torch, "cuda")
    seq = tensor_of(torch, case.seq_lens, "cuda")
    metas = [case.metadata(torch, "cuda") for _ in range(2)]
    graph = capture_graph(torch, lambda: st.build_metadata(mode, seq, out=metas, **kwargs))
    for step in range(5):
        fresh = Case(rng, mode, 21)
        seq.copy_(torch.from_numpy(fresh.seq_lens))
        for name in ("req_pool_indices", "accept_lens", "extend_lens"):
            if kwargs[name] is not None:
                kwargs[name].copy_(torch.from_numpy(getattr(fresh, name)))
        case.seq_lens, case.req_pool_indices = fresh.seq_lens, fresh.req_pool_indices
        case.accept_lens, case.extend_lens = fresh.accept_lens, fresh.extend_lens
        prev = [numpy_of(m) for m in metas]
        graph.replay()
        torch.cuda.synchronize()
        for i, meta in enumerate(metas):
            assert_equal_sets(numpy_of(meta), case.expected(prev[i]).arrays, f"seed {rng_seed} {mode} step {step}")


@pytest.mark.needs_cuda
def test_explicit_stream_argument(st, torch, rng):
    case = Case(rng, "target_verify", 9)
    kwargs = case.tensors(torch, "cuda")
    seq = tensor_of(torch, case.seq_lens, "cuda")
    meta = case.metadata(torch, "cuda")
    prev = numpy_of(meta)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    st.build_metadata("target_verify", seq, out=meta, stream=side, **kwargs)
    side.synchronize()
    assert_equal_sets(numpy_of(meta), case.expected(prev).arrays, "explicit stream")


REPLAYS = 300
GRAPH_BS = 48


def _replay_inputs(rng, case: Case, step: int):
    """New inputs for one replay: real_bs live requests, then graph padding as SGLang's runner
    leaves it (seq_len 1, accept length 1, stale request indices); every 50th step overflows."""
    real_bs = int(rng.integers(0, GRAPH_BS + 1))
    seq = case.seq_lens.copy()
    seq[:real_bs] = rng.integers(N + 1, 3 * WIDTH // 2, size=real_bs)
    seq[real_bs:] = 1
    rpi = case.req_pool_indices.copy()
    rpi[:real_bs] = rng.integers(0, POOL, size=real_bs)
    accept = None
    if case.accept_lens is not None:
        accept = case.accept_lens.copy()
        accept[:real_bs] = rng.integers(0, N + 1, size=real_bs)
        accept[real_bs:] = 1
    if step % 50 == 49:
        seq[0] = -1  # a fault the graph must report in status (qo > kv)
    return seq, rpi, accept


class ServerStep:
    """Static input buffers, one destination set and two consumers of the metadata: what a
    server's captured decode/verify step holds."""

    def __init__(self, st, torch, case: Case, device: str):
        self.torch, self.case, self.mode = torch, case, case.mode
        self.kwargs = case.tensors(torch, device)
        self.seq = tensor_of(torch, case.seq_lens, device)
        self.meta = case.metadata(torch, device)
        self.weighted = torch.zeros(1, dtype=torch.int64, device=device)
        self.first_slots = torch.zeros(case.capacity, dtype=torch.int32, device=device)
        self.st = st

    def __call__(self):
        torch, meta = self.torch, self.meta
        self.st.build_metadata(self.mode, self.seq, out=meta, **self.kwargs)
        live = (meta.row_to_req + 1).to(torch.int64)  # 0 past num_rows
        self.weighted.copy_((meta.sparse_seqlens.to(torch.int64) * live).sum().reshape(1))
        self.first_slots.copy_(meta.page_table_1[:, 0])

    def replay_loop(self, rng, run, replays: int, context: str) -> int:
        """`replays` times: new inputs into the static buffers, run(), every output and consumer
        checked against the reference. Returns the OR of the status values seen."""
        torch, case = self.torch, self.case
        seen_status = 0
        for i in range(replays):
            new_seq, new_rpi, new_accept = _replay_inputs(rng, case, i)
            self.seq.copy_(torch.from_numpy(new_seq))
            self.kwargs["req_pool_indices"].copy_(torch.from_numpy(new_rpi))
            if new_accept is not None:
                self.kwargs["accept_lens"].copy_(torch.from_numpy(new_accept))
            prev = numpy_of(self.meta)
            run()
            expected = case.expected(prev, seq_lens=new_seq, accept_lens=new_accept, req_pool_indices=new_rpi)
            where = f"{context} replay {i}"
            assert_equal_sets(numpy_of(self.meta), expected.arrays, where)
            rows = expected.arrays["row_to_req"].astype(np.int64) + 1
            want_weighted = int((expected.arrays["sparse_seqlens"].astype(np.int64) * rows).sum())
            assert int(self.weighted.item()) == want_weighted, where
            np.testing.assert_array_equal(self.first_slots.cpu().numpy(), expected.arrays["page_table_1"][:, 0],
                                          err_msg=where)
            seen_status |= expected.status
        return seen_status


@pytest.mark.needs_torch
@pytest.mark.parametrize("mode", ["decode", "target_verify", "draft_extend"])
def test_replay_loop_eager_on_cpu(st, torch, rng, rng_seed, mode):
    """The in-graph test's loop and checks with the step run eagerly on the CPU (where there is no
    graph): the checks themselves are exercised wherever torch is installed."""
    server = ServerStep(st, torch, Case(rng, mode, GRAPH_BS), "cpu")
    seen = server.replay_loop(rng, server, REPLAYS // 3, f"seed {rng_seed} cpu {mode}")
    assert seen & ~BIT_CAPACITY, "no replay exercised a fault bit"


@pytest.mark.needs_cuda
@pytest.mark.parametrize("mode", ["decode", "target_verify", "draft_extend"])
def test_in_graph_metadata_replays(st, torch, rng, rng_seed, monkeypatch, mode):
    """The builder and two consumer kernels captured in one CUDA graph; REPLAYS replays, each with
    new seq_lens, accept_lens and req_pool_indices copied into the static inputs; every output and
    every consumer result checked against the reference after each replay; the host issues no
    metadata launch and no kernel launch at all during the replays (counted three ways: calls of
    the op's launch function, specmeta ops seen by the dispatcher, and the profiler's CUDA
    runtime calls)."""
    from torch.profiler import ProfilerActivity, profile
    from torch.utils._python_dispatch import TorchDispatchMode

    server = ServerStep(st, torch, Case(rng, mode, GRAPH_BS), "cuda")
    launches = []
    real_launch = st._launch_plan
    monkeypatch.setattr(st, "_launch_plan", lambda *a: (launches.append(a), real_launch(*a)))
    graph = capture_graph(torch, server)
    assert len(launches) == 2, "warm-up plus capture should launch the builder twice"
    launches.clear()

    class CountSpecmetaOps(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if "specmeta" in str(func):
                CountSpecmetaOps.calls += 1
            return func(*args, **(kwargs or {}))

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof, CountSpecmetaOps():
        seen = server.replay_loop(rng, graph.replay, REPLAYS, f"seed {rng_seed} cuda {mode}")
    assert not launches, f"the builder was launched from the host {len(launches)} times during replays"
    assert CountSpecmetaOps.calls == 0, f"{CountSpecmetaOps.calls} specmeta ops dispatched during replays"
    assert seen & ~BIT_CAPACITY, "no replay exercised a fault bit"

    cpu_names = [e.name for e in prof.events() if not str(e.device_type).endswith("CUDA")]
    host_kernel_launches = [n for n in cpu_names if n.startswith(("cudaLaunchKernel", "cuLaunchKernel"))]
    graph_launches = [n for n in cpu_names if n.startswith("cudaGraphLaunch")]
    assert not host_kernel_launches, f"kernel launches from the host during replays: {host_kernel_launches[:5]}"
    if not graph_launches:
        pytest.skip("the profiler recorded no cudaGraphLaunch (CUPTI unavailable?); every replay was checked and "
                    "the launch and dispatch counts passed")
    assert len(graph_launches) == REPLAYS, f"expected {REPLAYS} graph launches, got {len(graph_launches)}"
    gpu_names = [e.name for e in prof.events() if str(e.device_type).endswith("CUDA")]
    builder_kernels = [n for n in gpu_names if "expand_kernel" in n or "specmeta" in n]
    if builder_kernels:  # kernels inside graphs are reported where CUPTI supports it
        assert REPLAYS <= len(builder_kernels) <= 2 * REPLAYS, len(builder_kernels)
