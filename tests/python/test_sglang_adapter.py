"""The SGLang adapter (`specmeta.integrations.sglang`) driven the way SGLang's CUDA-graph runner
drives its sparse-attention backend: static input buffers, capture per batch size, replays with
real batches padded as the runner pads them (seq_len 1, accept length 1, stale request indices).

Checked, field by field by SGLang name, with exact equality:
* every replay's buffers against the independent reference (`metadata_reference`), whole
  buffers, on NumPy (runs without torch), CPU torch and CUDA torch;
* the live parts against SGLang's own replay code (`sglang_replay`: the old NSA path with the host
  maximum as page-table width, and the newer static-width one), for every mode;
* the eager path against SGLang's eager formulas, whole tensors;
* the multi-step draft backend (one launch, several destination sets) against SGLang's
  precompute-then-copy scheme.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import specmeta
import specmeta.integrations.sglang as sg
from harness import Backend, TorchBackend
from metadata_reference import BIT_QO_GT_KV, reference_metadata
from sglang_replay import (
    compare_live,
    sglang_capture_static,
    sglang_copy_precomputed,
    sglang_precompute_decode,
    sglang_replay,
)

N = 4
POOL = 29
WIDTH = 72
TOPK = 40
MAX_BS = 12
SGLANG_MODES = ("decode", "target_verify", "draft_extend", "draft_extend_v2")
REPLAYS_PER_BS = 4


@pytest.fixture(params=["numpy", pytest.param("torch-cpu", marks=pytest.mark.needs_torch),
                        pytest.param("torch-cuda", marks=pytest.mark.needs_cuda)])
def backend(request):
    if request.param == "numpy":
        return Backend()
    import torch

    return TorchBackend(torch, request.param.split("-")[1])


@pytest.fixture(params=[pytest.param("torch-cpu", marks=pytest.mark.needs_torch),
                        pytest.param("torch-cuda", marks=pytest.mark.needs_cuda)])
def torch_backend(request):
    import torch

    return TorchBackend(torch, request.param.split("-")[1])


class ForwardMode:
    """The predicates of SGLang's ForwardMode that a backend's metadata path calls."""

    def __init__(self, name: str):
        self.name = name

    def is_decode_or_idle(self):
        return self.name in ("decode", "idle")

    def is_target_verify(self):
        return self.name == "target_verify"

    def is_draft_extend(self, include_v2: bool = False):
        return self.name == "draft_extend" or (include_v2 and self.name == "draft_extend_v2")

    def is_draft_extend_v2(self):
        return self.name == "draft_extend_v2"


def np_of(x) -> np.ndarray:
    return x.detach().cpu().numpy().copy() if hasattr(x, "detach") else np.array(x, copy=True)


class Runner:
    """SGLang's graph runner around one backend: static inputs of MAX_BS requests."""

    def __init__(self, backend: Backend, rng, sglang_mode: str, seq_dtype=np.int64):
        self.backend, self.rng, self.sglang_mode = backend, rng, sglang_mode
        self.mode = sg.specmeta_mode(sglang_mode)
        self.table = rng.integers(-(1 << 24), 1 << 24, size=(POOL, WIDTH)).astype(np.int32)
        self.req_to_token = backend.from_numpy(self.table)
        self.host = dict(seq_lens=np.ones(MAX_BS, dtype=seq_dtype), req_pool_indices=np.zeros(MAX_BS, dtype=np.int64),
                         accept_length=np.ones(MAX_BS, dtype=np.int32))
        self.dev = {name: backend.from_numpy(a) for name, a in self.host.items()}
        self.spec_info = SimpleNamespace(accept_length=self.dev["accept_length"])

    def pad_seq_len(self) -> int:
        # get_cuda_graph_seq_len_fill_value() is 1; draft_extend_v2 rows need kv >= N to stay valid
        return N if self.mode == "draft_extend_static" else 1

    def load(self, bs: int) -> int:
        """A new real batch of 0..bs requests, padded to bs; returns its size."""
        real_bs = int(self.rng.integers(0, bs + 1))
        seq, rpi, accept = self.host["seq_lens"], self.host["req_pool_indices"], self.host["accept_length"]
        seq[:bs] = self.pad_seq_len()
        seq[:real_bs] = self.rng.integers(N + 1, WIDTH + WIDTH // 2, size=real_bs)
        rpi[:real_bs] = self.rng.integers(0, POOL, size=real_bs)  # rows real_bs.. keep stale indices
        accept[:bs] = 1
        accept[:real_bs] = self.rng.integers(0, N + 1, size=real_bs)
        for name, host in self.host.items():
            self._write(self.dev[name], host)
        return real_bs

    def _write(self, buf, host):
        if isinstance(self.backend, TorchBackend):
            buf.copy_(self.backend.torch.from_numpy(host.copy()))
        else:
            buf[...] = host

    def capture(self, adapter, bs: int) -> None:
        adapter.init_forward_metadata_capture_cuda_graph(
            bs, bs * N, self.dev["req_pool_indices"][:bs], self.dev["seq_lens"][:bs], None,
            ForwardMode(self.sglang_mode), self.spec_info)

    def replay(self, adapter, bs: int) -> None:
        adapter.init_forward_metadata_replay_cuda_graph(
            bs, self.dev["req_pool_indices"], self.dev["seq_lens"], None, None, ForwardMode(self.sglang_mode),
            self.spec_info, None)
        self.backend.sync()

    def expected(self, bs: int, prev: dict, capacity: int, page_size: int):
        return reference_metadata(
            self.mode, self.host["seq_lens"][:bs], prev=prev, capacity=capacity, width=WIDTH, page_size=page_size,
            req_pool_indices=self.host["req_pool_indices"][:bs], req_to_token=self.table,
            accept_lens=self.host["accept_length"][:bs] if self.mode == "draft_extend" else None,
            num_draft_tokens=N if self.mode != "decode" else None, topk=TOPK)


def make_adapter(runner: Runner, page_size: int, prefix: str = "nsa", **kwargs):
    adapter = sg.SparseAttnMetadataBackend(req_to_token=runner.req_to_token, page_size=page_size, index_topk=TOPK,
                                           speculative_num_draft_tokens=N, prefix=prefix, **kwargs)
    adapter.init_cuda_graph_state(MAX_BS, MAX_BS * N)
    return adapter


def by_spec_name(metadata, names: dict) -> dict:
    """The adapter's fields (SGLang names) as NumPy arrays under SPEC names."""
    got = {spec: np_of(getattr(metadata, field)) for spec, field in names.items()
           if getattr(metadata, field, None) is not None}
    return got


def check_static_fields(metadata, mode: str, bs: int, prefix: str, page_size: int) -> None:
    want = sglang_capture_static("decode" if mode == "decode" else "target_verify", bs, N, WIDTH, prefix)
    for name, value in want.items():
        have = getattr(metadata, name)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(np_of(have), value, err_msg=name)
        else:
            assert have == value, f"{name}: {have} != {value}"
    assert metadata.page_size == page_size
    if mode == "decode":
        assert getattr(metadata, f"{prefix}_seqlens_expanded") is metadata.cache_seqlens_int32
    if page_size == 1:
        assert metadata.real_page_table is metadata.page_table_1


# ---------------------------------------------------------------------------
# Graph path against the reference (NumPy, CPU torch, CUDA torch)


@pytest.mark.parametrize("page_size", [1, 16])
@pytest.mark.parametrize("prefix", ["nsa", "dsa"])
@pytest.mark.parametrize("sglang_mode", SGLANG_MODES)
def test_graph_path_matches_reference(backend, rng, rng_seed, sglang_mode, prefix, page_size):
    runner = Runner(backend, rng, sglang_mode, seq_dtype=rng.choice([np.int32, np.int64]))
    adapter = make_adapter(runner, page_size, prefix, with_token_to_batch_idx=bool(rng.integers(0, 2)))
    names = sg.field_names(prefix)
    for bs in (1, 5, MAX_BS):
        runner.capture(adapter, bs)
        held = adapter.decode_cuda_graph_metadata[bs]
        assert adapter.forward_metadata is held
        check_static_fields(held, runner.mode, bs, prefix, page_size)
        rows = bs if runner.mode == "decode" else bs * N
        for step in range(REPLAYS_PER_BS):
            real_bs = runner.load(bs)
            prev = {name: np_of(getattr(held.specmeta, name)) for name in held.specmeta.wanted()}
            runner.replay(adapter, bs)
            assert adapter.forward_metadata is held
            expected = runner.expected(bs, prev, rows, page_size)
            got = by_spec_name(held, names)
            context = f"seed {rng_seed} {backend.name} {sglang_mode} bs={bs} real_bs={real_bs} step={step}"
            for spec in held.specmeta.wanted():
                np.testing.assert_array_equal(got[spec], expected.arrays[spec], err_msg=f"{context}: {spec}")
            assert expected.status == 0, context


# ---------------------------------------------------------------------------
# Graph path against SGLang's replay code (torch)


@pytest.mark.parametrize("static_width", [False, True], ids=["host-max-width", "static-width"])
@pytest.mark.parametrize("page_size", [1, 16])
@pytest.mark.parametrize("sglang_mode", SGLANG_MODES)
def test_graph_path_matches_sglang_replay(torch_backend, rng, rng_seed, sglang_mode, page_size, static_width):
    torch = torch_backend.torch
    runner = Runner(torch_backend, rng, sglang_mode)
    adapter = make_adapter(runner, page_size, with_token_to_batch_idx=True)
    names = sg.field_names("nsa")
    for bs in (1, 7, MAX_BS):
        runner.capture(adapter, bs)
        held = adapter.decode_cuda_graph_metadata[bs]
        for step in range(REPLAYS_PER_BS):
            real_bs = runner.load(bs)
            runner.replay(adapter, bs)
            dev = runner.dev
            replay = sglang_replay(
                torch, runner.mode, dev["seq_lens"][:bs], num_draft_tokens=N,
                accept_lens=dev["accept_length"][:bs], req_pool_indices=dev["req_pool_indices"][:bs],
                req_to_token=runner.req_to_token, width=WIDTH, page_size=page_size, topk=TOPK,
                static_width=static_width)
            got = by_spec_name(held, names)
            got.pop("status")
            context = f"seed {rng_seed} {torch_backend.name} {sglang_mode} bs={bs} real_bs={real_bs} step={step}"
            problems = compare_live(got, replay, page_size, context)
            assert not problems, "\n".join(problems)
            assert replay.num_rows <= got["seqlens_expanded"].shape[0]


# ---------------------------------------------------------------------------
# Eager path against SGLang's eager formulas (whole tensors)


@pytest.mark.parametrize("page_size", [1, 16])
@pytest.mark.parametrize("sglang_mode", SGLANG_MODES)
def test_eager_path_matches_sglang(torch_backend, rng, rng_seed, sglang_mode, page_size):
    torch = torch_backend.torch
    runner = Runner(torch_backend, rng, sglang_mode)
    adapter = sg.SparseAttnMetadataBackend(req_to_token=runner.req_to_token, page_size=page_size, index_topk=TOPK,
                                           speculative_num_draft_tokens=N, with_token_to_batch_idx=True)
    for step in range(6):
        bs = int(rng.integers(1, MAX_BS + 1))
        runner.load(bs)
        dev = runner.dev
        extend = dev["accept_length"][:bs]
        batch = SimpleNamespace(batch_size=bs, forward_mode=ForwardMode(sglang_mode), seq_lens=dev["seq_lens"][:bs],
                                seq_lens_cpu=dev["seq_lens"][:bs].cpu(), req_pool_indices=dev["req_pool_indices"][:bs],
                                extend_seq_lens=extend, extend_seq_lens_cpu=extend.cpu().tolist())
        adapter.init_forward_metadata(batch)
        meta = adapter.forward_metadata
        replay = sglang_replay(torch, runner.mode, dev["seq_lens"][:bs], num_draft_tokens=N, accept_lens=extend,
                               req_pool_indices=dev["req_pool_indices"][:bs], req_to_token=runner.req_to_token,
                               width=WIDTH, page_size=page_size, topk=TOPK)
        context = f"seed {rng_seed} {torch_backend.name} {sglang_mode} eager step {step} bs={bs}"
        for spec, field in sg.field_names("nsa").items():
            if spec in ("status", "cu_seqlens_q"):
                continue
            want = np_of(getattr(replay, spec))
            have = np_of(getattr(meta, field))
            assert have.shape == want.shape, f"{context}: {field} shape {have.shape}, SGLang {want.shape}"
            np.testing.assert_array_equal(have, want, err_msg=f"{context}: {field}")
        np.testing.assert_array_equal(np_of(meta.cu_seqlens_q), np.arange(replay.num_rows + 1), err_msg=context)
        assert meta.max_seq_len_k == int(np_of(replay.cache_seqlens).max(initial=0))
        meta.check()


# ---------------------------------------------------------------------------
# Multi-step draft: one launch for every step's backend


class CountingBuilder(specmeta.Builder):
    calls = 0

    def __call__(self, *args, **kwargs):
        CountingBuilder.calls += 1
        return super().__call__(*args, **kwargs)


def _captured_multistep(backend, rng, steps, page_size, **options):
    """A multi-step draft backend over MAX_BS decode requests, captured: (runner, backend, forward_batch)."""
    runner = Runner(backend, rng, "decode")
    multi = sg.MultiStepSparseAttnMetadataBackend(
        speculative_num_steps=steps, req_to_token=runner.req_to_token, page_size=page_size, index_topk=TOPK, **options)
    multi.init_cuda_graph_state(MAX_BS, MAX_BS)
    forward_batch = SimpleNamespace(batch_size=MAX_BS, req_pool_indices=runner.dev["req_pool_indices"][:MAX_BS],
                                    seq_lens=runner.dev["seq_lens"][:MAX_BS], spec_info=None)
    multi.init_forward_metadata_capture_cuda_graph(forward_batch)
    return runner, multi, forward_batch


@pytest.mark.parametrize("steps", [1, 3, 9])
@pytest.mark.parametrize("page_size", [1, 16])
def test_multistep_one_launch_per_eight_steps(backend, rng, rng_seed, monkeypatch, steps, page_size):
    monkeypatch.setattr(sg, "Builder", CountingBuilder)
    runner, multi, forward_batch = _captured_multistep(backend, rng, steps, page_size, speculative_num_draft_tokens=N)
    bs = MAX_BS
    names = sg.field_names("nsa")
    for step in range(REPLAYS_PER_BS):
        runner.load(bs)
        held = [b.decode_cuda_graph_metadata[bs] for b in multi.attn_backends]
        prev = [{name: np_of(getattr(h.specmeta, name)) for name in h.specmeta.wanted()} for h in held]
        CountingBuilder.calls = 0
        multi.init_forward_metadata_replay_cuda_graph(forward_batch, bs)
        backend.sync()
        assert CountingBuilder.calls == -(-steps // specmeta.MAX_DESTINATION_SETS)
        for i, (h, backend_i) in enumerate(zip(held, multi.attn_backends)):
            assert backend_i.forward_metadata is h
            expected = runner.expected(bs, prev[i], bs, page_size)
            got = by_spec_name(h, names)
            for spec in h.specmeta.wanted():
                np.testing.assert_array_equal(got[spec], expected.arrays[spec],
                                              err_msg=f"seed {rng_seed} {backend.name} step {step} set {i}: {spec}")


@pytest.mark.parametrize("page_size", [1, 16])
def test_multistep_matches_precompute_then_copy(torch_backend, rng, rng_seed, page_size):
    torch = torch_backend.torch
    steps = 4
    runner, multi, forward_batch = _captured_multistep(torch_backend, rng, steps, page_size)
    bs = MAX_BS
    names = sg.field_names("nsa")
    for step in range(REPLAYS_PER_BS):
        runner.load(bs)
        multi.init_forward_metadata_replay_cuda_graph(forward_batch, bs)
        pre = sglang_precompute_decode(torch, forward_batch.seq_lens, forward_batch.req_pool_indices,
                                       runner.req_to_token, width=WIDTH, page_size=page_size, topk=TOPK)
        for i, backend_i in enumerate(multi.attn_backends):
            meta = backend_i.forward_metadata
            got = by_spec_name(meta, names)
            got.pop("status")
            context = f"seed {rng_seed} {torch_backend.name} replay {step} draft step {i}"
            problems = compare_live(got, pre, page_size, context)
            assert not problems, "\n".join(problems)
            # SGLang's copies into zeroed buffers of the same shapes give the same live values
            dest = {spec: torch.zeros_like(getattr(meta, field)) for spec, field in names.items()
                    if spec not in ("status", "seqlens_expanded", "row_to_req") and getattr(meta, field) is not None}
            if page_size == 1:
                dest["real_page_table"] = dest["page_table_1"]  # one tensor in SGLang too
            sglang_copy_precomputed(pre, dest, page_size)
            copied = {spec: np_of(t) for spec, t in dest.items()}
            problems = compare_live(copied, pre, page_size, context + " (copied)")
            assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------
# Modes, misuse and faults


def test_specmeta_mode_of_sglang_modes():
    for name, mode in (("decode", "decode"), ("idle", "decode"), ("target_verify", "target_verify"),
                       ("draft_extend", "draft_extend"), ("draft_extend_v2", "draft_extend_static")):
        assert sg.specmeta_mode(name) == mode
        assert sg.specmeta_mode(ForwardMode(name)) == mode
    with pytest.raises(ValueError, match="forward_mode: expected"):
        sg.specmeta_mode("extend")
    with pytest.raises(ValueError, match="forward_mode: expected"):
        sg.specmeta_mode(ForwardMode("extend"))
    with pytest.raises(ValueError, match="prefix"):
        sg.field_names("xsa")


def test_misuse_is_rejected(rng):
    runner = Runner(Backend(), rng, "target_verify")
    adapter = sg.SparseAttnMetadataBackend(req_to_token=runner.req_to_token, page_size=1, index_topk=TOPK,
                                           speculative_num_draft_tokens=N)
    with pytest.raises(RuntimeError, match="init_cuda_graph_state"):
        runner.capture(adapter, 2)
    adapter.init_cuda_graph_state(MAX_BS, MAX_BS * N)
    runner.capture(adapter, 2)
    with pytest.raises(ValueError, match="forward_mode: expected target_verify"):
        adapter.init_forward_metadata_replay_cuda_graph(2, runner.dev["req_pool_indices"], runner.dev["seq_lens"],
                                                        None, None, ForwardMode("decode"), None, None)
    small = sg.SparseAttnMetadataBackend(req_to_token=runner.req_to_token, page_size=1, index_topk=TOPK,
                                         speculative_num_draft_tokens=N)
    small.init_cuda_graph_state(MAX_BS, 4)
    with pytest.raises(ValueError, match="max_num_tokens"):
        runner.capture(small, 2)


def test_check_reports_faults(rng):
    runner = Runner(Backend(), rng, "decode")
    adapter = make_adapter(runner, 16)
    runner.capture(adapter, 3)
    runner.load(3)
    runner.host["seq_lens"][0] = -1
    runner.dev["seq_lens"][0] = -1
    runner.replay(adapter, 3)
    with pytest.raises(RuntimeError, match="qo_b > kv_b"):
        adapter.check()
    assert int(adapter.forward_metadata.specmeta_status[0]) & BIT_QO_GT_KV


@pytest.mark.needs_cuda
def test_adapter_replay_feeds_a_captured_graph(rng, rng_seed):
    """SGLang's order: the backend's replay (one launch, outside the graph), then the captured
    forward, whose kernels read the metadata buffers: the consumer sees each new batch."""
    import torch

    runner = Runner(TorchBackend(torch, "cuda"), rng, "target_verify")
    adapter = make_adapter(runner, 16)
    bs = MAX_BS
    runner.capture(adapter, bs)
    meta = adapter.forward_metadata
    sink = torch.zeros(bs * N, dtype=torch.int64, device="cuda")
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        sink.copy_(meta.nsa_cache_seqlens_int32.to(torch.int64) * 3 + meta.page_table_1[:, 0])
    for step in range(20):
        runner.load(bs)
        runner.replay(adapter, bs)
        graph.replay()
        torch.cuda.synchronize()
        seq = runner.host["seq_lens"][:bs].astype(np.int64) + N
        rows = np.repeat(np.arange(bs), N)
        j = np.tile(np.arange(N), bs)
        expanded = seq[rows] - N + 1 + j
        want = np.minimum(expanded, TOPK) * 3 + runner.table[runner.host["req_pool_indices"][rows], 0]
        np.testing.assert_array_equal(sink.cpu().numpy(), want, err_msg=f"seed {rng_seed} step {step}")
