"""The main job (examples/demo.py) on the CPU: the example trace replays and agrees bit for bit, the trace
format round-trips and its mistakes are named, the synthetic workload has requests finishing and joining,
and the PyTorch implementations agree on CPU tensors (skipped without torch).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

import demo  # noqa: E402
import demo_backends  # noqa: E402

EXAMPLE_TRACE = ROOT / "examples" / "trace_example.jsonl"


def test_example_trace_replays_on_the_cpu_backend(capsys):
    assert demo.main(["--trace", str(EXAMPLE_TRACE), "--cpu"]) == 0
    out = capsys.readouterr().out
    assert "backend: CPU: specmeta's CPU backend" in out
    assert "6 batches (3 target_verify, 3 draft_extend)" in out
    assert "bit-identical to the reference in all 6 steps" in out
    assert "rows built: 36 target_verify + 20 draft_extend" in out  # 3 requests x 4, three times; 8 + 7 + 5


def test_trace_round_trip(tmp_path, capsys):
    path = tmp_path / "trace.jsonl"
    assert demo.main(["--cpu", "--bs", "5", "--steps", "60", "--seed", "3", "--write-trace", str(path)]) == 0
    written = demo.read_trace(str(path), default_n=99)
    args = demo.parse_args(["--bs", "5", "--steps", "60", "--seed", "3"])
    again, _ = demo.synthetic(args, np.random.default_rng(3))
    assert len(written) == len(again) == 60
    for a, b in zip(written, again):
        assert a["mode"] == b["mode"] and a["n"] == b["n"] == 4
        assert np.array_equal(a["seq_lens"], b["seq_lens"])
        assert np.array_equal(a.get("accept_lens", []), b.get("accept_lens", []))
    capsys.readouterr()
    assert demo.main(["--cpu", "--trace", str(path)]) == 0
    assert "all 60 steps" in capsys.readouterr().out


def test_synthetic_requests_finish_and_join():
    args = demo.parse_args(["--bs", "16", "--steps", "400", "--seed", "1"])
    batches, workload = demo.synthetic(args, np.random.default_rng(1))
    sizes = {len(b["seq_lens"]) for b in batches}
    assert workload.finished > 0 and workload.joined > 16
    assert max(sizes) <= 16 and len(sizes) > 1  # the batch size moves
    for verify, extend in zip(batches[::2], batches[1::2]):
        assert verify["mode"] == "target_verify" and extend["mode"] == "draft_extend"
        assert np.array_equal(extend["seq_lens"], verify["seq_lens"] + extend["accept_lens"])
        assert extend["accept_lens"].min() >= 1 and extend["accept_lens"].max() <= 4


@pytest.mark.parametrize(
    "line,message",
    [
        ("{", "invalid JSON"),
        ('{"mode": "decode", "seq_lens": [1]}', "mode: expected one of target_verify, draft_extend"),
        ('{"mode": "target_verify", "seq_lens": []}', "seq_lens: expected 1 to"),
        ('{"mode": "target_verify", "seq_lens": [5, -1]}', "seq_lens: expected every value >= 0"),
        ('{"mode": "target_verify", "n": 0, "seq_lens": [5]}', "n: expected an integer >= 1"),
        ('{"mode": "target_verify", "seq_lens": [5], "accept_lens": [1]}', "accept_lens: expected none"),
        ('{"mode": "draft_extend", "seq_lens": [5, 6]}', "accept_lens: expected a list of integers"),
        ('{"mode": "draft_extend", "seq_lens": [5, 6], "accept_lens": [1]}', "expected 2 values"),
        ('{"mode": "draft_extend", "n": 4, "seq_lens": [5, 2], "accept_lens": [1, 3]}', "accept_lens[1]: expected at most"),
        ('{"mode": "target_verify", "seq_lens": [2147483647]}', "fit int32"),
    ],
)
def test_trace_mistakes_are_named(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("# a comment\n\n" + json.dumps({"mode": "target_verify", "seq_lens": [3]}) + "\n" + line + "\n")
    with pytest.raises(SystemExit) as e:
        demo.read_trace(str(path), default_n=4)
    assert f"bad.jsonl:4: " in str(e.value) and message in str(e.value)


@pytest.mark.needs_torch
def test_torch_implementations_agree_on_cpu_tensors(torch_mod):
    """The GPU path's implementations (seed before/after, sync-free, specmeta) on CPU tensors."""
    args = demo.parse_args(["--bs", "12", "--steps", "40", "--n", "3"])
    batches, _ = demo.synthetic(args, np.random.default_rng(0))
    backend = demo_backends.TorchBackend(max(len(b["seq_lens"]) * b["n"] for b in batches), torch_mod, triton_ok=False,
                                device="cpu")
    assert "sync-free torch" in backend.impls and "seed after (torch)" in backend.impls
    for batch in batches:
        costs = demo.run_step(backend, batch)  # raises on any disagreement
        assert set(costs) == set(backend.impls)
