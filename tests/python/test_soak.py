"""The soak script (tests/soak/soak.py): its dry run on the CPU backend, that
its checks notice a written margin and a wrong output, and (on a GPU) a short
run of the real thing: a CUDA graph replayed with random valid and invalid
inputs. The full run (100,000 replays) is a step of scripts/gpu-check.sh."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "soak"))
import soak  # noqa: E402

SMALL = ["--bs", "24", "--pool", "16", "--width", "20"]  # 16 entries: every fault kind on its own


def test_dry_run_passes(rng_seed, capsys):
    assert soak.main(["--cpu", "--replays", "300", "--check-every", "20", "--seed", str(rng_seed), *SMALL]) == 0
    out = capsys.readouterr().out
    assert "mismatches: 0; guards intact: yes" in out and out.rstrip().endswith("PASS")


def test_pool_has_every_fault_kind_on_its_own(rng):
    entries = soak.make_pool(rng, 24, bs=8, pool=10, table_cols=12, width=8)
    single = {kinds[0] for kinds, _ in entries if len(kinds) == 1 and kinds[0] != "padded"}
    assert single == set(soak.FAULT_KINDS)
    assert sum(kinds in ((), ("padded",)) for kinds, _ in entries) == 12


def _one_checked_replay(rng_seed):
    s = soak.Soak(soak.parse_args(["--cpu", "--seed", str(rng_seed), *SMALL]), soak.NumpyArrays())
    entry = 1  # a faulty one
    before = s.device.snapshot()
    s.device.load(*s.device_pool[entry])
    s.device.run()
    return s, entry, before, s.device.snapshot()


def test_clean_replay_has_no_problems(rng_seed):
    s, entry, before, after = _one_checked_replay(rng_seed)
    assert s.compare(entry, before, after) == []


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_written_margin_is_noticed(rng_seed, where):
    s, entry, before, after = _one_checked_replay(rng_seed)
    key = ("draft_extend", 1, "page_table_1")
    margin = np.argwhere(s.cpu.sets["draft_extend"][1].guards["page_table_1"])
    r, c = margin[0] if where == "before" else margin[-1]
    after[key][r, c] = 7
    problems = s.compare(entry, before, after)
    assert any("draft_extend set 1 page_table_1: margin written" in p for p in problems), problems


def test_a_wrong_output_is_noticed(rng_seed):
    s, entry, before, after = _one_checked_replay(rng_seed)
    key = ("extend", 0, "seqlens_expanded")
    after[key][soak.GUARD] += 1
    problems = s.compare(entry, before, after)
    assert any("extend set 0 seqlens_expanded: replay differs from the CPU backend" in p for p in problems), problems
    assert any("extend set 0 seqlens_expanded: differs from the reference" in p for p in problems), problems


@pytest.mark.needs_cuda
def test_short_soak_on_the_gpu(rng_seed, capsys):
    assert soak.main(["--replays", "3000", "--check-every", "500", "--bs", "64", "--pool", "16",
                      "--seed", str(rng_seed)]) == 0, capsys.readouterr().out
