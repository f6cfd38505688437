"""bench/probes/cubin_kernels.py without a compiler: how two cubins' kernels are paired and reported, on
made-up {name: code} maps (text_sections reads them from real cubins, which the probe's users compile)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "probes"))

import cubin_kernels  # noqa: E402


def code(rng: random.Random, size: int = 64) -> bytes:
    return bytes(rng.randrange(256) for _ in range(size))


def test_same_differing_and_one_sided_kernels():
    rng = random.Random()
    same, changed, gone, added = code(rng), code(rng), code(rng), code(rng)
    moved = bytearray(changed)
    moved[3] ^= 0xFF
    lines = cubin_kernels.compare({"a": same, "b": changed, "c": gone}, {"a": same, "b": bytes(moved), "d": added})
    assert lines == ["same (64 bytes): a", "1 bytes differ (64 -> 64): b", "only in old: c", "only in new: d"]


def test_renamed_kernels_are_paired_by_code_in_name_order():
    rng = random.Random()
    twin, other, fresh = code(rng), code(rng), code(rng)
    # Two old kernels share their code: each new one takes the first unpaired, in name order.
    old = {"k1": twin, "k2": twin, "k3": other}
    new = {"k1_false": twin, "k2_false": twin, "k3_false": other, "k3_true": fresh}
    assert cubin_kernels.compare(old, new) == [
        "renamed, same code (64 bytes): k1 -> k1_false",
        "renamed, same code (64 bytes): k2 -> k2_false",
        "renamed, same code (64 bytes): k3 -> k3_false",
        "only in new: k3_true",
    ]


def test_a_renamed_kernel_with_other_code_is_not_paired():
    rng = random.Random()
    lines = cubin_kernels.compare({"old": code(rng)}, {"new": code(rng)})
    assert lines == ["only in new: new", "only in old: old"]
