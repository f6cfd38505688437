"""bench/bound_report.py on made-up specmeta_bench_metadata --bound JSON rounds: each case's best round per
column, the bound's ratio and the percentages of the reference copy bandwidth."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bound_report  # noqa: E402

SHAPES = ("host-planned, 2 units", "per block, 4 passes in flight")


def write_round(directory: Path, k: int, cases: list) -> None:
    (directory / f"bound-r{k}.json").write_text(json.dumps({"device": "made up", "cases": cases}))


def made_up_case(rng, cid, live, with_bound=True):
    case = {"id": cid, "live_bytes": live, "us_median": rng.uniform(1.0, 50.0)}
    leans = {s: rng.uniform(1.0, 50.0) for s in SHAPES}
    leans[SHAPES[1]] = None if not with_bound else leans[SHAPES[1]]
    case["lean_copies_us"] = leans
    case["planned_copy_us"] = leans[SHAPES[0]] if with_bound else None
    return case


def test_each_column_takes_its_best_round(tmp_path):
    rng = random.Random()
    ids = [f"case{i}" for i in range(rng.randint(2, 5))]
    live = {c: rng.uniform(1e6, 1e9) for c in ids}
    rounds = [[made_up_case(rng, c, live[c], with_bound=c != ids[-1]) for c in ids] for _ in range(rng.randint(2, 3))]
    for k, cases in enumerate(rounds, 1):
        write_round(tmp_path, k, cases)
    copy = rng.uniform(1000.0, 4000.0)
    lines = bound_report.report(str(tmp_path), copy).splitlines()
    assert lines[0].startswith("| case | live MB | builder us | host-planned, 2 units us |")
    rows = {line.split(" | ")[0][2:]: line.strip("| ").split(" | ") for line in lines[2:]}
    assert sorted(rows) == sorted(ids)
    for cid in ids:
        cases = [next(c for c in r if c["id"] == cid) for r in rounds]
        builder = min(c["us_median"] for c in cases)
        row = rows[cid]
        assert row[2] == f"{builder:.2f}"
        assert row[3] == f"{min(c['lean_copies_us'][SHAPES[0]] for c in cases):.2f}"
        assert row[-2] == f"{100.0 * live[cid] / (builder * 1e3) / copy:.1f}"
        if cid == ids[-1]:  # no bound, and a shape not timed
            assert row[4] == "-" and row[5] == "-" and row[-1] == "-"
        else:
            bound = min(c["planned_copy_us"] for c in cases)
            assert row[5] == f"{bound:.2f}"
            assert row[6] == f"{builder / bound:.3f}"
            assert row[-1] == f"{100.0 * live[cid] / (bound * 1e3) / copy:.1f}"


def test_a_directory_without_rounds_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="no bound-r"):
        bound_report.report(str(tmp_path))
