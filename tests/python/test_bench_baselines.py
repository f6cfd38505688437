"""The benchmark's baselines (bench/) on the CPU, against the independent references.

The seed's "before"/"after", the sync-free PyTorch seqlens_expanded and the
sync-free PyTorch whole-metadata builder run on CPU torch tensors; SGLang's
replay path (bench/sglang_path.py, fixed buffers) is compared with the test
suite's replay and with specmeta's CPU backend; the Triton kernel runs under
Triton's interpreter in a child process. The same code runs on CUDA tensors
in the suite (bench/bench_suite.py) and in test_bench_baselines_gpu.py.
Without torch (or Triton) these tests report as skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import specmeta
from metadata_reference import POISON, output_shapes, reference_metadata
from reference import reference_expand
from sglang_replay import compare_live, sglang_replay

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import baselines  # noqa: E402
import metadata_torch  # noqa: E402
import sglang_path  # noqa: E402
import syncfree_torch  # noqa: E402

pytestmark = pytest.mark.needs_torch

BATCHES = [(1, 1), (1, 4), (3, 2), (17, 4), (64, 16), (300, 5)]  # (bs, N)
TOPK, PAGE_SIZE = 64, 16  # small enough that the clip and the pages matter at these lengths


def lengths(rng, bs, n, lo=None, hi=200):
    """seq_lens in [n + 1, hi] (so 0 <= qo <= kv in every mode) and accept lengths in [0, n]."""
    seq = rng.integers(n + 1 if lo is None else lo, hi, size=bs, endpoint=True)
    acc = rng.integers(0, n, size=bs, endpoint=True)
    return seq, acc


def expected_rows(kv, qo, capacity):
    return reference_expand(kv, qo, capacity=capacity).seqlens_expanded


@pytest.mark.parametrize("bs,n", BATCHES)
def test_seed_versions_match_reference(torch_mod, rng, bs, n):
    torch = torch_mod
    seq, acc = lengths(rng, bs, n)
    seq_t, acc_t = torch.tensor(seq), torch.tensor(acc, dtype=torch.int32)
    want_tv = expected_rows(seq + n, n, bs * n)
    want_de = expected_rows(seq, acc, int(acc.sum()))
    assert np.array_equal(baselines.before_target_verify(seq_t, n).numpy(), want_tv)
    assert np.array_equal(baselines.after_target_verify(seq_t, n).numpy(), want_tv)
    assert np.array_equal(baselines.before_draft_extend(seq_t, acc_t).numpy(), want_de)
    assert np.array_equal(baselines.after_draft_extend(seq_t, acc_t).numpy(), want_de)


@pytest.mark.parametrize("bs,n", BATCHES)
def test_syncfree_seqlens_expanded_matches_reference(torch_mod, rng, bs, n):
    """Every row of the fixed capacity, tail rows 0, whatever the buffer held before."""
    torch = torch_mod
    seq, acc = lengths(rng, bs, n)
    capacity = bs * n
    out = torch.full((capacity,), POISON, dtype=torch.int32)
    kv = torch.tensor(seq + n, dtype=torch.int32)
    syncfree_torch.syncfree_target_verify(torch, kv, syncfree_torch.target_verify_offsets(torch, n, "cpu"), out)
    assert np.array_equal(out.numpy(), expected_rows(seq + n, n, capacity))
    out.fill_(POISON)
    rows = torch.arange(capacity)
    syncfree_torch.syncfree_draft_extend(torch, torch.tensor(seq), torch.tensor(acc, dtype=torch.int32), rows, out)
    assert np.array_equal(out.numpy(), expected_rows(seq, acc, capacity))


def test_syncfree_draft_extend_all_zero_and_all_full(torch_mod):
    torch = torch_mod
    seq = torch.tensor([5, 9, 4])
    rows = torch.arange(12)
    out = torch.full((12,), POISON, dtype=torch.int32)
    syncfree_torch.syncfree_draft_extend(torch, seq, torch.zeros(3, dtype=torch.int32), rows, out)
    assert out.tolist() == [0] * 12
    syncfree_torch.syncfree_draft_extend(torch, seq, torch.full((3,), 4, dtype=torch.int32), rows, out)
    assert out.tolist() == [2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4]


# --- the whole metadata -------------------------------------------------------------------------------


def metadata_case(torch, rng, mode, bs, n, width):
    """Inputs of one batch: torch CPU tensors and their NumPy twins."""
    seq, acc = lengths(rng, bs, n, hi=width - n)
    ext = rng.integers(1, n, size=bs, endpoint=True)
    pool = bs + 3
    table = rng.integers(0, 1 << 30, size=(pool, width)).astype(np.int32)
    rpi = rng.permutation(pool)[:bs]
    qo_array = {"draft_extend": acc, "extend": ext}.get(mode)
    capacity = bs if mode == "decode" else bs * n
    return dict(seq=seq, rpi=rpi, table=table, qo_array=qo_array, capacity=capacity,
                t_seq=torch.tensor(seq), t_rpi=torch.tensor(rpi), t_table=torch.tensor(table),
                t_qo=None if qo_array is None else torch.tensor(qo_array, dtype=torch.int32))


def poisoned(torch, bs, capacity, width):
    meta = specmeta.Metadata(bs=bs, capacity=capacity, width=width, page_size=PAGE_SIZE)
    for name, shape in output_shapes(bs, capacity, width, PAGE_SIZE).items():
        setattr(meta, name, torch.full(shape, POISON, dtype=torch.int32))
    return meta


def as_numpy(meta):
    return {name: getattr(meta, name).numpy() for name in meta.wanted()}


@pytest.mark.parametrize("mode", specmeta.MODES)
@pytest.mark.parametrize("bs,n", [(1, 1), (5, 4), (40, 3)])
def test_syncfree_metadata_matches_reference(torch_mod, rng, mode, bs, n):
    """Every element of every output, including what must keep its old value."""
    torch = torch_mod
    width = 96
    c = metadata_case(torch, rng, mode, bs, n, width)
    n_arg = None if mode in ("decode", "extend") else n
    meta = poisoned(torch, bs, c["capacity"], width)
    build = metadata_torch.SyncFreeMetadata(torch, mode, meta, c["t_table"], num_draft_tokens=n if n_arg else 0,
                                            topk=TOPK, page_size=PAGE_SIZE)
    before = as_numpy(meta)
    build(c["t_seq"], c["t_rpi"], c["t_qo"])
    lengths_kw = {"draft_extend": "accept_lens", "extend": "extend_lens"}
    extra = {lengths_kw[mode]: c["qo_array"]} if mode in lengths_kw else {}
    want = reference_metadata(mode, c["seq"], prev=before, capacity=c["capacity"], width=width,
                              page_size=PAGE_SIZE, req_pool_indices=c["rpi"], req_to_token=c["table"],
                              num_draft_tokens=n_arg, topk=TOPK, **extra)
    for name, value in as_numpy(meta).items():
        assert np.array_equal(value, want.arrays[name]), f"{mode} bs={bs} N={n}: {name}"


@pytest.mark.parametrize("mode", sglang_path.REPLAY_MODES)
@pytest.mark.parametrize("bs,n", [(1, 1), (5, 4), (40, 3)])
def test_sglang_path_matches_replay_and_specmeta(torch_mod, rng, mode, bs, n):
    """The bench's fixed-buffer replay equals the test suite's replay and specmeta on every live element
    SGLang writes."""
    torch = torch_mod
    width = 96
    c = metadata_case(torch, rng, mode, bs, n, width)
    meta = poisoned(torch, bs, c["capacity"], width)
    meta.cu_seqlens_k[0] = 0
    meta.sparse_cu_seqlens_k[0] = 0
    replay_path = sglang_path.SglangReplayPath(torch, mode, meta, c["t_table"], num_draft_tokens=n,
                                               topk=TOPK, page_size=PAGE_SIZE)
    replay_path(c["t_seq"], c["t_seq"].clone(), c["t_rpi"], c["t_qo"])
    written = [name for name in sglang_path.WRITTEN if not (mode == "decode" and name == "seqlens_expanded")]
    got = {name: getattr(meta, name).numpy() for name in written}
    n_arg = n if mode == "target_verify" else None
    truth = sglang_replay(torch, mode, c["t_seq"], num_draft_tokens=n_arg, accept_lens=c["t_qo"],
                          req_pool_indices=c["t_rpi"], req_to_token=c["t_table"], width=width,
                          page_size=PAGE_SIZE, topk=TOPK)
    assert compare_live(got, truth, PAGE_SIZE, f"{mode} bs={bs}") == []

    spec = specmeta.Metadata.empty(bs=bs, capacity=c["capacity"], width=width, page_size=PAGE_SIZE)
    extra = {"accept_lens": c["qo_array"].astype(np.int32)} if mode == "draft_extend" else {}
    specmeta.build_metadata(mode, c["seq"], out=spec, req_pool_indices=c["rpi"], req_to_token=c["table"],
                            num_draft_tokens=n_arg, topk=TOPK, page_size=PAGE_SIZE, **extra)
    assert compare_live({name: getattr(spec, name) for name in written}, truth, PAGE_SIZE, f"{mode} bs={bs}") == []


# --- Triton, under its interpreter ------------------------------------------------------------------

TRITON_CHECK = """
import sys
import numpy as np
import torch
sys.path[:0] = [{bench!r}, {tests!r}]
import triton_expand
from reference import reference_expand
rng = np.random.default_rng({seed})
for bs, n in [(1, 1), (3, 4), (127, 2), (128, 16), (129, 3), (300, 5)]:
    seq = rng.integers(n + 1, 40000, size=bs, endpoint=True)
    acc = rng.integers(0, n, size=bs, endpoint=True)
    for capacity in (bs * n, bs * n + 1500):
        out = torch.full((capacity,), 7, dtype=torch.int32)
        triton_expand.triton_draft_extend(torch.tensor(seq), torch.tensor(acc, dtype=torch.int32), n, out)
        want = reference_expand(seq, acc, capacity=capacity).seqlens_expanded
        assert np.array_equal(out.numpy(), want), ("draft_extend", bs, n, capacity)
        out.fill_(7)
        triton_expand.triton_target_verify(torch.tensor(seq + n, dtype=torch.int32), n, out)
        want = reference_expand(seq + n, n, capacity=capacity).seqlens_expanded
        assert np.array_equal(out.numpy(), want), ("target_verify", bs, n, capacity)
print("triton interpreter: ok")
"""


def test_triton_kernel_under_interpreter(torch_mod, rng_seed):
    """Triton's interpreter runs the kernel on CPU tensors: the same indexing and masks as on a GPU."""
    try:
        import triton  # noqa: F401
    except ImportError:
        pytest.skip("triton is not installed")
    if torch_mod.cuda.is_available():
        # The CPU stand-in for test_bench_baselines_gpu.py, which runs the compiled kernel here. (Triton
        # 3.6's interpreter cannot run a loop bounded by a program-id value, which the compiler can.)
        pytest.skip("a CUDA GPU is visible: test_bench_baselines_gpu.py runs the compiled kernel")
    code = TRITON_CHECK.format(bench=str(BENCH), tests=str(Path(__file__).resolve().parent), seed=rng_seed % 2**32)
    env = dict(os.environ, TRITON_INTERPRET="1")  # Triton reads this at import, so it needs its own process
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "triton interpreter: ok" in result.stdout


def test_triton_kernel_compiles_for_sm90():
    """Ahead-of-time compile to an H100 cubin (no GPU needed): type errors the interpreter lets through
    (a name holding two types across branches, say) fail here, not in the middle of a device run."""
    triton = pytest.importorskip("triton", reason="triton is not installed")
    import triton_expand

    kernel, _ = triton_expand._kernel()
    try:
        from triton.backends.compiler import GPUTarget

        target = GPUTarget("cuda", 90, 32)
        sources = [
            triton.compiler.ASTSource(
                fn=kernel,
                signature={"kv_ptr": "*i64", "qo_ptr": "*i32", "out_ptr": "*i32", "bs": "i32", "capacity": "i32",
                           "n_uniform": "i32", "UNIFORM": "constexpr", "BLOCK": "constexpr", "REQS": "constexpr",
                           "QO_TILE": "constexpr"},
                constexprs={"UNIFORM": uniform, "BLOCK": triton_expand.BLOCK, "REQS": triton_expand.REQS,
                            "QO_TILE": tile},
            )
            for uniform, tile in ((True, 1), (False, 4))
        ]
    except (ImportError, TypeError, AttributeError) as e:  # another Triton version's compile API
        pytest.skip(f"this Triton's ahead-of-time compile API differs ({type(e).__name__}: {e})")
    for source in sources:
        compiled = triton.compile(source, target=target)
        assert "cubin" in compiled.asm
