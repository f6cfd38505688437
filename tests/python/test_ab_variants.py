"""bench/ab_variants.py without a GPU: the comparison of variant runs, on made-up
specmeta_bench_metadata JSON files, the checks of its command line and the trees its build exports.
(Its compiles need a configured CUDA build directory; they are run by hand.)"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import ab_variants  # noqa: E402
from throwaway_git import commit_everything  # noqa: E402


def write_run(directory: Path, name: str, times: dict, live: dict, verified: bool = True) -> None:
    cases = [{"id": case, "us_median": us, "live_bytes": live[case], "verified": verified} for case, us in times.items()]
    (directory / name).write_text(json.dumps({"device": "made up", "cases": cases}))


def test_compare_takes_each_cases_best_round_and_the_ratio_to_the_first(tmp_path):
    rng = random.Random()
    cases = [f"case{i}" for i in range(rng.randint(2, 6))]
    live = {c: rng.randint(1, 10**9) for c in cases}
    rounds = {name: [{c: rng.uniform(1.0, 100.0) for c in cases} for _ in range(rng.randint(2, 3))]
              for name in ("base", "v")}
    for name, runs in rounds.items():
        for k, times in enumerate(runs, 1):
            write_run(tmp_path, f"{name}-r{k}.json", times, live)
    # --large runs are other files, not mixed in.
    write_run(tmp_path, "base-large-r1.json", {c: 0.001 for c in cases}, live)
    table = ab_variants.compare_table(str(tmp_path), ["base", "v"], large=False)
    lines = table.splitlines()
    assert lines[0] == "| case | live MB | base us | v us | base/v |"
    rows = {line.split(" | ")[0][2:]: line.strip("| ").split(" | ") for line in lines[2:2 + len(cases)]}
    assert sorted(rows) == sorted(cases)
    for case in cases:
        best_base = min(run[case] for run in rounds["base"])
        best_v = min(run[case] for run in rounds["v"])
        assert rows[case][1] == f"{live[case] / 1e6:.3f}"
        assert rows[case][2] == f"{best_base:.2f}"
        assert rows[case][3] == f"{best_v:.2f}"
        assert rows[case][4] == f"{best_base / best_v:.3f}"
    assert f"base {len(rounds['base'])}, v {len(rounds['v'])}" in table
    assert "not verified" not in table


def test_compare_reads_the_large_runs_and_skips_cases_a_variant_lacks(tmp_path):
    write_run(tmp_path, "a-large-r1.json", {"x": 2.0, "y": 4.0}, {"x": 1e6, "y": 2e6})
    write_run(tmp_path, "b-large-r1.json", {"x": 1.0}, {"x": 1e6})
    table = ab_variants.compare_table(str(tmp_path), ["a", "b"], large=True)
    assert "| x | 1.000 | 2.00 | 1.00 | 2.000 |" in table
    assert "| y |" not in table


def test_compare_names_the_variants_run_without_verification(tmp_path):
    write_run(tmp_path, "a-r1.json", {"x": 2.0}, {"x": 1e6})
    write_run(tmp_path, "b-r1.json", {"x": 1.0}, {"x": 1e6})
    write_run(tmp_path, "b-r2.json", {"x": 1.5}, {"x": 1e6}, verified=False)
    assert "Outputs not verified (--no-verify) in: b." in ab_variants.compare_table(str(tmp_path), ["a", "b"], False)


def test_compare_names_a_variant_without_runs(tmp_path):
    write_run(tmp_path, "a-r1.json", {"x": 2.0}, {"x": 1e6})
    with pytest.raises(FileNotFoundError, match="no b-r"):
        ab_variants.compare_table(str(tmp_path), ["a", "b"], large=False)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["build", "base"], "expected NAME=SOURCE, got 'base'"),
        (["build", "=HEAD"], "expected NAME=SOURCE"),
        (["build", "v=missing.diff"], "expected TREE, HEAD or a patch file, got 'missing.diff'"),
    ],
)
def test_build_rejects_a_bad_variant_before_building(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        ab_variants.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    """A checkout of src/ and include/ whose kernel file was edited after its one commit."""
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "include").mkdir()
    (root / "include" / "api.h").write_text("api\n")
    (root / "src" / "kernel.cu").write_text("committed\n")
    commit_everything(root, "one")
    (root / "src" / "kernel.cu").write_text("checked out\n")
    monkeypatch.setattr(ab_variants, "ROOT", str(root))
    return root


def test_tree_exports_the_files_as_checked_out(fake_root, tmp_path):
    out = tmp_path / "var" / "tree"
    ab_variants._export_tree("TREE", str(out))
    assert (out / "src" / "kernel.cu").read_text() == "checked out\n"
    assert (out / "include" / "api.h").read_text() == "api\n"


def test_head_exports_the_committed_files(fake_root, tmp_path):
    out = tmp_path / "var" / "tree"
    ab_variants._export_tree("HEAD", str(out))
    assert (out / "src" / "kernel.cu").read_text() == "committed\n"


def test_a_patch_applies_to_the_checked_out_files(fake_root, tmp_path):
    patch = tmp_path / "v.diff"
    patch.write_text("--- a/src/kernel.cu\n+++ b/src/kernel.cu\n@@ -1 +1 @@\n-checked out\n+patched\n")
    out = fake_root / "build" / "var" / "v" / "tree"  # under the root, as in a build directory
    ab_variants._export_tree(str(patch), str(out))
    assert (out / "src" / "kernel.cu").read_text() == "patched\n"
    assert (fake_root / "src" / "kernel.cu").read_text() == "checked out\n"


def test_build_rejects_a_patch_that_does_not_apply_before_building(fake_root, tmp_path, capsys):
    # The b side names a path one component too deep (diff -ruN old new/v/ makes such patches):
    # git apply finds no such file, and the run stops before it looks for the build's commands.
    patch = tmp_path / "deep.diff"
    patch.write_text("--- a/src/kernel.cu\n+++ v/b/src/kernel.cu\n@@ -1 +1 @@\n-checked out\n+patched\n")
    good = tmp_path / "good.diff"
    good.write_text("--- a/src/kernel.cu\n+++ b/src/kernel.cu\n@@ -1 +1 @@\n-checked out\n+patched\n")
    build_dir = fake_root / "build"
    with pytest.raises(SystemExit) as exit_info:
        ab_variants.main(["build", "--build-dir", str(build_dir), f"ok={good}", f"deep={patch}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"variant deep: {patch} does not apply" in err
    assert (build_dir / "var" / "ok" / "tree" / "src" / "kernel.cu").read_text() == "patched\n"
