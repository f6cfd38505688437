"""bench/suite_must_show.py on a made-up results.json whose counts are known: each threshold's boundary counts,
cells outside every class count nowhere, and the before / now comparison."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import suite_must_show  # noqa: E402


def row(mode, bs, variant, live_bytes, graph_us, eager_us, pct_copy=None):
    return dict(kind="metadata", mode=mode, bs=bs, n=None if mode == "decode" else 4, width=4096, variant=variant,
                reference=variant == "specmeta Builder", live_bytes=live_bytes, graph_us=graph_us, eager_us=eager_us,
                pct_copy=pct_copy)


def write_run(directory, small_graph_us):
    """Three cells under 1 MB (graph times given), one of 5 MB, two over 16 MB."""
    rows = []
    eager = {"specmeta Builder": (8.0, 8.1, 4.0), "specmeta build_metadata": (20.0, 25.0, 10.0)}
    for variant, (e0, e1, e2) in eager.items():
        rows += [
            row("decode", 1, variant, 2e5, small_graph_us[0], e0),
            row("target_verify", 1, variant, 3e5, small_graph_us[1], e1),
            row("extend", 1, variant, 4e5, small_graph_us[2], e2),
            row("decode", 64, variant, 5e6, 6.0, 30.0),
            row("decode", 256, variant, 3e7, 12.0, 13.0, pct_copy=85.0),
            row("extend", 1024, variant, 2e7, 9.0, 10.0, pct_copy=84.9),
        ]
    # Not a metadata cell: ignored.
    rows.append(dict(kind="seqlens_expanded", mode="target_verify", bs=1, n=4, width=None, variant="specmeta Builder",
                     reference=True, live_bytes=8, graph_us=9.0, eager_us=9.0, pct_copy=None))
    rows[0]["twin_check"] = ["graph_us: 7 alternate rounds, first 7.48"]
    rows[1]["eager_check"] = ["eager_us: 7 rounds, first 43.7"]
    rows[-1]["eager_check"] = ["eager_us: 7 rounds, first 9.9"]  # not a metadata row: not counted
    meta = dict(copy_gbps=3000.0, floors={"eager per call": 5.5})
    directory.mkdir()
    (directory / "results.json").write_text(json.dumps(dict(meta=meta, rows=rows, skipped=[])))


def test_counts_at_each_threshold(tmp_path):
    write_run(tmp_path / "run", (1.9, 2.0, 2.1))
    lines, small = suite_must_show.counts(str(tmp_path / "run"))
    assert lines["small"] == "2 of 3, median 2.00 us"
    assert lines["small decode"].startswith("1 of 1,")
    assert lines["small extend"].startswith("0 of 1,")
    assert "small draft_extend" not in lines
    assert lines["large"] == "1 of 2, median 85.0%, lowest 84.9% (extend bs 1024 N 4 W 4096)"
    # Cells under 5 us in a graph: the three small ones.
    assert lines["builder eager"] == "2 of 3, median 8.00 us"
    assert lines["build_metadata eager"] == "2 of 3, median 20.0 us"
    assert lines["measured again"] == ("1 graph times (twins apart), 1 eager times (a stalled host), "
                                       "of 12 Builder and build_metadata rows")
    assert len(small) == 3


def test_before_and_now(tmp_path, capsys):
    write_run(tmp_path / "now", (1.0, 2.0, 4.0))
    write_run(tmp_path / "before", (2.0, 2.0, 2.0))
    assert suite_must_show.main(["suite_must_show.py", str(tmp_path / "now"), str(tmp_path / "before")]) == 0
    out = capsys.readouterr().out
    assert "| small | 3 of 3, median 2.00 us | 2 of 3, median 2.00 us |" in out
    assert "geometric mean over 3: 1.000" in out  # (2/1 * 2/2 * 2/4) ** (1/3)


def test_archived_run_reads_the_same(tmp_path):
    """An archived run keeps results.json.gz alone (bench/results/); its counts are the plain file's."""
    write_run(tmp_path / "run", (1.9, 2.0, 2.1))
    plain = tmp_path / "run" / "results.json"
    with gzip.open(tmp_path / "run" / "results.json.gz", "wt") as f:
        f.write(plain.read_text())
    before = suite_must_show.counts(str(tmp_path / "run"))
    plain.unlink()
    assert suite_must_show.counts(str(tmp_path / "run")) == before
    assert before[0]["small"] == "2 of 3, median 2.00 us"


def test_usage(capsys):
    assert suite_must_show.main(["suite_must_show.py"]) == 2
    assert "DIR_BEFORE" in capsys.readouterr().err


def test_groups_compare_runs(tmp_path):
    """bench/suite_groups.py: before / now per group, over the Builder cells of both runs."""
    import suite_groups

    write_run(tmp_path / "before", (2.0, 2.0, 2.0))
    write_run(tmp_path / "now", (1.0, 2.0, 4.0))
    lines = suite_groups.table(str(tmp_path / "before"), [str(tmp_path / "now")]).splitlines()
    by_group = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    # extend bs 1 (4.0 us now): the one per-request cell under 1 MB.
    assert by_group["per-request qo, bs 1-16, under 1 MB"].endswith("| 1 | 0.500 | 0.500-0.500 |")
    # decode and target_verify bs 1 (1.0 and 2.0 us now): geometric mean of 2 and 1.
    assert by_group["uniform qo, bs 1-4, under 1 MB"].endswith(f"| 2 | {2 ** 0.5:.3f} | 1.000-2.000 |")
    assert by_group["over 16 MB"].endswith("| 2 | 1.000 | 1.000-1.000 |")
    assert suite_groups.main(["suite_groups.py"]) == 2
