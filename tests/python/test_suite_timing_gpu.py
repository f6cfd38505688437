"""The suite's timing on a CUDA GPU (bench/suite_timing.py): graphs are captured without giving the allocator's
cached memory back (the driver's work on memory given back slows the kernels timed after it), memory is given
back only by release_cached_memory, and graphs hold whole rounds of the input sets. Without torch and a visible
GPU the module reports as skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import suite_timing  # noqa: E402

pytestmark = pytest.mark.needs_cuda

CACHED_BYTES = 64 << 20


@pytest.fixture
def torch():
    import torch

    return torch


def cache_some_memory(torch):
    """Leaves CACHED_BYTES in the allocator's cache, not in use; returns the bytes reserved then."""
    block = torch.empty(CACHED_BYTES, dtype=torch.uint8, device="cuda")
    del block
    reserved = torch.cuda.memory_reserved()
    assert reserved >= CACHED_BYTES
    return reserved


def test_capture_keeps_the_cached_memory(torch):
    # torch.cuda.graph's entry empties the cache, which is what the suite captured with before.
    reserved = cache_some_memory(torch)
    x = torch.zeros(4, device="cuda")
    graph, why = suite_timing.capture_calls(torch, lambda k: x.add_(k), 4, 4, 1)
    assert why is None
    assert torch.cuda.memory_reserved() >= reserved
    before = x.clone()
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(x, before + (0 + 1 + 2 + 3))


def test_release_gives_the_cached_memory_back(torch):
    reserved = cache_some_memory(torch)
    suite_timing.release_cached_memory(torch)
    assert torch.cuda.memory_reserved() <= reserved - CACHED_BYTES


@pytest.mark.parametrize("sets", [1, 3, 4])
@pytest.mark.parametrize("budget_s", [0.0, 0.01])
def test_graph_us_replays_whole_rounds_of_the_sets(torch, sets, budget_s):
    seen = []
    x = torch.zeros(sets, device="cuda")

    def call(k):
        if torch.cuda.is_current_stream_capturing():  # the calls captured, not the eager warm-up
            seen.append(k)
        x[k].add_(1)

    (us, samples, calls), why = suite_timing.graph_us(suite_timing.Clock(torch, True), call, sets, budget_s)
    assert why is None
    assert us > 0 and samples >= suite_timing.MIN_SAMPLES
    assert calls % sets == 0 and sets <= calls <= suite_timing.GRAPH_R
    # Every graph captured (the first, of one call per set, and the one timed) called each set equally often.
    assert sorted(set(seen)) == list(range(sets))
    assert all(seen.count(k) == seen.count(0) for k in range(sets))
