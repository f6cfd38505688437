"""The benchmark's baselines on a CUDA GPU: the Triton kernel, the sync-free PyTorch versions and SGLang's
replay path against the references and specmeta, eagerly and (where they claim it) replayed in a CUDA graph
with new input values. Without torch and a visible GPU the module reports as skipped; the Triton tests also
skip, with the reason, where Triton is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import specmeta
from harness import capture_graph
from reference import reference_expand

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import metadata_torch  # noqa: E402
import sglang_path  # noqa: E402
import syncfree_torch  # noqa: E402
import triton_expand  # noqa: E402

pytestmark = pytest.mark.needs_cuda

BATCHES = [(1, 1), (3, 4), (128, 16), (129, 3), (1000, 4)]  # (bs, N): around the Triton kernel's 128-request tiles
TOPK, PAGE_SIZE = 2048, 64
NON_TABLE = ("cache_seqlens", "cu_seqlens_k", "cu_seqlens_q", "seqlens_expanded", "sparse_seqlens",
             "sparse_cu_seqlens_k", "row_to_req", "num_rows", "status")


@pytest.fixture
def torch():
    import torch

    return torch


@pytest.fixture
def triton_ok():
    ok, why = triton_expand.available()
    if not ok:
        pytest.skip(why)


def draw(rng, bs, n):
    return rng.integers(n + 1, 40000, size=bs, endpoint=True), rng.integers(0, n, size=bs, endpoint=True)


def in_graph(torch, call, refill, values):
    """Captures call() once; for each value set, refill(value set) writes new inputs, then replays.
    Yields after each replay so the caller checks the outputs."""
    graph = capture_graph(torch, call)
    for v in values:
        refill(v)
        graph.replay()
        torch.cuda.synchronize()
        yield v


@pytest.mark.parametrize("bs,n", BATCHES)
@pytest.mark.parametrize("impl", ["triton", "syncfree"])
def test_seqlens_expanded_in_a_graph(torch, rng, request, impl, bs, n):
    if impl == "triton":
        request.getfixturevalue("triton_ok")
    capacity = bs * n + 7  # a few rows past every possible total
    seq = torch.zeros(bs, dtype=torch.int64, device="cuda")
    acc = torch.zeros(bs, dtype=torch.int32, device="cuda")
    kv = torch.zeros(bs, dtype=torch.int32, device="cuda")
    out_de = torch.full((capacity,), 7, dtype=torch.int32, device="cuda")
    out_tv = torch.full((capacity,), 7, dtype=torch.int32, device="cuda")
    rows = torch.arange(capacity, dtype=torch.int64, device="cuda")
    offsets = syncfree_torch.target_verify_offsets(torch, n, "cuda")

    def call():
        if impl == "triton":
            triton_expand.triton_draft_extend(seq, acc, n, out_de)
            triton_expand.triton_target_verify(kv, n, out_tv)
        else:
            syncfree_torch.syncfree_draft_extend(torch, seq, acc, rows, out_de)
            syncfree_torch.syncfree_target_verify(torch, kv, offsets, out_tv[: bs * n])

    def refill(v):
        seq.copy_(torch.tensor(v[0]))
        acc.copy_(torch.tensor(v[1], dtype=torch.int32))
        kv.copy_(torch.tensor(v[0] + n, dtype=torch.int32))

    values = [draw(rng, bs, n) for _ in range(3)]
    refill(values[0])
    for s, a in in_graph(torch, call, refill, values):
        want_de = reference_expand(s, a, capacity=capacity).seqlens_expanded
        assert np.array_equal(out_de.cpu().numpy(), want_de), f"{impl} draft_extend bs={bs} N={n}"
        want_tv = reference_expand(s + n, n, capacity=bs * n).seqlens_expanded
        assert np.array_equal(out_tv[: bs * n].cpu().numpy(), want_tv), f"{impl} target_verify bs={bs} N={n}"


def live_equal(torch, got, want, rows, live, name):
    cols = int(live.max())
    mask = torch.arange(cols, device="cuda").view(1, -1) < torch.tensor(live, device="cuda").view(-1, 1)
    assert bool(((got[:rows, :cols] == want[:rows, :cols]) | ~mask).all()), f"{name} differs on live elements"


@pytest.mark.parametrize("mode", specmeta.MODES)
@pytest.mark.parametrize("bs,n", [(1, 1), (64, 4), (300, 3)])
def test_syncfree_metadata_in_a_graph_matches_specmeta(torch, rng, mode, bs, n):
    width = 8192
    capacity = bs if mode == "decode" else bs * n
    table = torch.randint(0, 1 << 30, (bs, width), dtype=torch.int32, device="cuda")
    seq = torch.zeros(bs, dtype=torch.int64, device="cuda")
    rpi = torch.zeros(bs, dtype=torch.int64, device="cuda")
    qo = torch.zeros(bs, dtype=torch.int32, device="cuda") if mode in ("draft_extend", "extend") else None
    mine = specmeta.Metadata.empty(bs=bs, capacity=capacity, width=width, page_size=PAGE_SIZE, like=seq)
    spec = specmeta.Metadata.empty(bs=bs, capacity=capacity, width=width, page_size=PAGE_SIZE, like=seq)
    build = metadata_torch.SyncFreeMetadata(torch, mode, mine, table, num_draft_tokens=n, topk=TOPK, page_size=PAGE_SIZE)
    kw = {"draft_extend": "accept_lens", "extend": "extend_lens"}
    extra = {kw[mode]: qo} if mode in kw else {}
    n_arg = None if mode in ("decode", "extend") else n

    def refill(v):
        seq.copy_(torch.tensor(v[0]))
        rpi.copy_(torch.tensor(v[1]))
        if qo is not None:
            qo.copy_(torch.tensor(v[2], dtype=torch.int32))

    values = [(rng.integers(n + 1, width - n, size=bs, endpoint=True), rng.permutation(bs),
               rng.integers(1, n, size=bs, endpoint=True)) for _ in range(3)]
    refill(values[0])
    for v in in_graph(torch, lambda: build(seq, rpi, qo), refill, values):
        specmeta.build_metadata(mode, seq, out=spec, req_pool_indices=rpi, req_to_token=table, num_draft_tokens=n_arg,
                                topk=TOPK, page_size=PAGE_SIZE, **extra)
        torch.cuda.synchronize()
        for name in NON_TABLE:
            assert torch.equal(getattr(mine, name), getattr(spec, name)), f"{mode}: {name}"
        kv = v[0] + (n if mode == "target_verify" else 0)
        q = {"decode": np.ones(bs, int), "target_verify": np.full(bs, n), "draft_extend_static": np.full(bs, n)}.get(mode, v[2])
        live = np.repeat(np.minimum(kv, width), q)
        live_equal(torch, mine.page_table_1, spec.page_table_1, len(live), live, f"{mode} page_table_1")
        live_equal(torch, mine.real_page_table, spec.real_page_table, len(live), -(-live // PAGE_SIZE), f"{mode} real_page_table")


@pytest.mark.parametrize("mode", sglang_path.REPLAY_MODES)
def test_sglang_path_on_cuda_matches_specmeta(torch, rng, mode):
    bs, n, width = 64, 4, 8192
    capacity = bs if mode == "decode" else bs * n
    table = torch.randint(0, 1 << 30, (bs, width), dtype=torch.int32, device="cuda")
    seq_np = rng.integers(n + 1, width - n, size=bs, endpoint=True)
    acc_np = rng.integers(1, n, size=bs, endpoint=True)
    seq = torch.tensor(seq_np, device="cuda")
    rpi = torch.tensor(rng.permutation(bs), device="cuda")
    acc = torch.tensor(acc_np, dtype=torch.int32, device="cuda") if mode == "draft_extend" else None
    theirs = specmeta.Metadata.empty(bs=bs, capacity=capacity, width=width, page_size=PAGE_SIZE, like=seq)
    spec = specmeta.Metadata.empty(bs=bs, capacity=capacity, width=width, page_size=PAGE_SIZE, like=seq)
    sglang_path.SglangReplayPath(torch, mode, theirs, table, num_draft_tokens=n, topk=TOPK, page_size=PAGE_SIZE)(
        seq, seq.cpu(), rpi, acc)
    extra = {"accept_lens": acc} if mode == "draft_extend" else {}
    specmeta.build_metadata(mode, seq, out=spec, req_pool_indices=rpi, req_to_token=table,
                            num_draft_tokens=None if mode == "decode" else n, topk=TOPK, page_size=PAGE_SIZE, **extra)
    q = {"decode": np.ones(bs, int), "target_verify": np.full(bs, n)}.get(mode, acc_np)
    kv = seq_np + (n if mode == "target_verify" else 0)
    rows = int(q.sum())
    for name in ("cache_seqlens", "cu_seqlens_k"):
        assert torch.equal(getattr(theirs, name), getattr(spec, name)), f"{mode}: {name}"
    for name in ("sparse_seqlens",) + (() if mode == "decode" else ("seqlens_expanded",)):
        assert torch.equal(getattr(theirs, name)[:rows], getattr(spec, name)[:rows]), f"{mode}: {name}"
    assert torch.equal(theirs.sparse_cu_seqlens_k[: rows + 1], spec.sparse_cu_seqlens_k[: rows + 1])
    live = np.repeat(np.minimum(kv, width), q)
    live_equal(torch, theirs.page_table_1, spec.page_table_1, rows, live, f"{mode} page_table_1")
    live_equal(torch, theirs.real_page_table, spec.real_page_table, rows, -(-live // PAGE_SIZE), f"{mode} real_page_table")
