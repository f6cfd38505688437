"""The benchmark suite's logic without a GPU: the grid and its skips, the budget, ratios, the
"is specmeta fastest" check, the Markdown and JSON files and the plots, on made-up timings; and a
--cpu-smoke run of the whole suite on CPU torch tensors (skipped without torch).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_suite  # noqa: E402
import suite_cells  # noqa: E402
import suite_report  # noqa: E402
import suite_timing  # noqa: E402

GIB = 1 << 30


def fake_time(cell, name, metric, live_bytes):
    """Plausible microseconds for a variant: specmeta fastest everywhere, baselines by their shape."""
    bs, scale = cell.bs, live_bytes / 2.4e3 / 1e3  # us at 2.4 TB/s
    base = {
        "specmeta Builder": (12.0, 4.5, 1.3),
        "specmeta expand_seqlens": (15.0, 8.0, 1.3),
        "specmeta build_metadata": (40.0, 20.0, 1.3),
        "seed before": (30.0 + 8.0 * bs, None, None),
        "seed after": (60.0, 56.0, 7.0) if cell.mode == "target_verify" else (150.0 + 90.0 * bs, None, None),
        "sync-free torch": (70.0, 60.0, 6.0),
        "Triton": (30.0, 20.0, 1.6),
        "SGLang replay": (60.0 + 8.0 * bs, 50.0 + 8.0 * bs if cell.mode != "draft_extend" else None, None),
    }[name]
    value = base[suite_report.METRICS.index(metric)]
    return None if value is None else value + scale * (1.0 if name.startswith("specmeta") else 3.0)


def fake_result(cells, skipped):
    rows = []
    for cell in cells:
        live = 4.0 * cell.capacity * (1 + (cell.width or 0) / 2)
        for name, syncs, capturable in suite_cells.variant_plan(cell, triton_ok=True):
            row = dict(cell.fields(), variant=name, reference=name == "specmeta Builder", syncs=syncs,
                       live_bytes=live, rows_avg=float(cell.capacity), eager_note="syncs" if syncs else None,
                       graph_note=None if capturable else "syncs on the host")
            for metric in suite_report.METRICS:
                t = fake_time(cell, name, metric, live)
                row[metric] = t if (metric == "call_sync_us" or not syncs) and (metric != "graph_us" or capturable) else None
            rows.append(row)
    meta = dict(device="Fake GPU 80GB", torch="0.0", triton="0.0", specmeta="0.1.0", date="2026-01-01T00:00:00",
                commit="abc1234", command="python bench/bench_suite.py --out x", run_s=123.0, input_sets=4,
                copy_gbps=2400.0, workload="fake workload", notes=["a note"],
                floors={"empty kernel, call + sync": 12.0, "in-graph per call": 0.8})
    return dict(meta=meta, rows=rows, skipped=skipped)


def full_grid():
    args = bench_suite.parse_args(["--out", "unused"])
    return bench_suite.plan(args, ["decode", "target_verify", "draft_extend", "draft_extend_static", "extend"])


def test_plan_covers_the_grid_and_skips_only_large_tables():
    cells, skipped = full_grid()
    seed = [c for c in cells if c.kind == "seqlens_expanded"]
    assert len(seed) == 2 * 6 * 5  # both seed modes x bs x N
    assert all(c.width is None for c in seed)
    decode = [c for c in cells if c.mode == "decode" and c.kind == "metadata"]
    assert all(c.n is None and c.capacity == c.bs for c in decode)
    planned = {(c.mode, c.bs, c.n, c.width) for c in cells if c.kind == "metadata"}
    for s in skipped:
        assert 4 * s["capacity"] * s["width"] > 2 * GIB and "GiB" in s["reason"]
        assert (s["mode"], s["bs"], s["n"], s["width"]) not in planned
    assert len(planned) + len(skipped) == 6 * 4 + 4 * 6 * 5 * 4  # decode has no N
    assert bench_suite.planned_measurements(cells, True) > bench_suite.planned_measurements(cells, False)


@pytest.mark.parametrize("bs", [1, 5, 64])
def test_each_input_set_reads_its_own_pool_rows(bs):
    """By default no set reads a row another set reads; with --pool-rows 1 every set permutes the same bs rows.
    Either way the draws are one permutation per set, so what a cell draws after them is the same."""
    sets = suite_cells.INPUT_SETS
    by_pool = {}
    for pool_rows in (1, 2, suite_cells.POOL_ROWS_PER_REQUEST):
        rng = np.random.default_rng(7)
        rows = [suite_cells.request_rows(rng, bs, i, pool_rows) for i in range(sets)]
        by_pool[pool_rows] = (rows, rng.integers(0, 1 << 30, size=4))
        for i, r in enumerate(rows):
            start = (i % pool_rows) * bs
            assert sorted(r.tolist()) == list(range(start, start + bs))
    default_rows = by_pool[suite_cells.POOL_ROWS_PER_REQUEST][0]
    assert len(set(np.concatenate(default_rows).tolist())) == sets * bs
    assert all(sorted(r.tolist()) == list(range(bs)) for r in by_pool[1][0])
    assert len(set(np.concatenate(by_pool[2][0]).tolist())) == 2 * bs
    after = [draws.tolist() for _, draws in by_pool.values()]
    assert after[0] == after[1] == after[2]
    assert [(r % bs).tolist() for r in default_rows] == [r.tolist() for r in by_pool[1][0]]


def test_pool_rows_are_checked_and_recorded_in_the_workload():
    with pytest.raises(SystemExit):
        bench_suite.parse_args(["--out", "unused", "--pool-rows", "0"])
    assert bench_suite.parse_args(["--out", "unused"]).pool_rows == suite_cells.INPUT_SETS
    assert "4 x bs rows" in suite_cells.workload(4) and "the same rows in every set" in suite_cells.workload(1)


def test_budget_shares_the_time_left():
    budget = suite_timing.Budget(total_s=10.0, planned=100)
    first = budget.next()
    assert suite_timing.MIN_BUDGET_S <= first <= suite_timing.MAX_BUDGET_S
    assert abs(first - 10.0 * suite_timing.BUDGET_SHARE / 100) < 0.01
    late = suite_timing.Budget(total_s=0.0, planned=10)
    assert late.next() == suite_timing.MIN_BUDGET_S
    assert budget.summary()["measurements"] == 1


@pytest.mark.parametrize("budget_s", [0.0, 0.004, 0.05, 0.25, 10.0])
@pytest.mark.parametrize("per_call_us", [0.5, 2.0, 54.7, 219.0, 3000.0, 1e6])
@pytest.mark.parametrize("sets", [1, 3, 4])
def test_calls_per_sample_are_whole_rounds_of_the_sets(budget_s, per_call_us, sets):
    # A graph of fewer calls than sets times only the first sets, while the cell's live bytes average all of them:
    # the suite of 2026-11-27 (rowsumhalves) timed extend bs 64 W 1048576 N 4 and 8 with R = 2 and 1 at 74% of
    # copy bandwidth, draft_extend's cells of the same shape with R = 9 and 6 at 90% and 93%.
    calls = suite_timing.calls_per_sample(budget_s, per_call_us, sets, suite_timing.GRAPH_R, suite_timing.MIN_REPLAYS)
    assert calls % sets == 0 and sets <= calls <= suite_timing.GRAPH_R
    fit = budget_s * 1e6 / (suite_timing.MIN_REPLAYS * 2 * per_call_us)
    if fit >= suite_timing.GRAPH_R:
        assert calls > suite_timing.GRAPH_R - sets
    elif fit >= sets:
        assert fit - sets < calls <= fit


def test_report_ratios_and_tables_from_fake_timings(tmp_path):
    cells, skipped = full_grid()
    result = fake_result(cells, skipped)
    text = suite_report.write(result, str(tmp_path))
    rows = result["rows"]
    ref = {suite_report.cell_key(r): r for r in rows if r["reference"]}
    for r in rows:
        for metric in suite_report.METRICS:
            spec = ref[suite_report.cell_key(r)][metric]
            want = None if r[metric] is None or spec is None else r[metric] / spec
            assert r["x_" + metric] == want
        if r["graph_us"] is not None:
            assert r["gbps"] == pytest.approx(r["live_bytes"] / (r["graph_us"] * 1e3))
            assert r["pct_copy"] == pytest.approx(100 * r["gbps"] / 2400.0)
    assert "## Headline" in text and "bs = 64, N = 4, W = 32768" in text
    assert "Yes: in every measured cell" in text
    assert "seed \"after\"" in text and "syncs in every call" in text
    for mode in ("decode", "target_verify", "draft_extend", "draft_extend_static", "extend"):
        assert f"## metadata: {mode}" in text
    assert "page_table_1 would take" in text  # the skipped cells are listed
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved["rows"]) == len(rows) and saved["meta"]["copy_gbps"] == 2400.0
    assert (tmp_path / "results.md").read_text() == text


def test_size_matched_copy_percentages():
    cells, skipped = full_grid()
    result = fake_result(cells, skipped)
    large = {r["live_bytes"] for r in result["rows"] if r["live_bytes"] > bench_suite.SIZE_MATCHED_MIN_BYTES}
    result["meta"]["copy_gbps_by_live_bytes"] = {suite_report.live_bytes_key(b): 2000.0 for b in large}
    suite_report.derive(result)
    timed = [r for r in result["rows"] if r["gbps"] is not None]
    for r in timed:
        if r["live_bytes"] in large:
            assert r["pct_copy_at_size"] == pytest.approx(100 * r["gbps"] / 2000.0)
        else:
            assert r["pct_copy_at_size"] is None  # no copy of that size was measured
    assert any(r["pct_copy_at_size"] is not None for r in timed) and any(r["pct_copy_at_size"] is None for r in timed)


def test_report_names_a_cell_where_a_baseline_wins():
    cells = [suite_cells.Cell("seqlens_expanded", "target_verify", 64, 4, None)]
    result = fake_result(cells, [])
    for r in result["rows"]:
        if r["variant"] == "Triton":
            r["graph_us"] = 0.5  # faster than both specmeta entry points (1.3 us and more)
    losses = suite_report.not_fastest(result)
    assert [(r["variant"], metric) for r, metric, _ in losses] == [("Triton", "graph_us")]
    best = min(r["graph_us"] for r in result["rows"] if r["variant"].startswith("specmeta"))
    assert losses[0][2] == pytest.approx(0.5 / best)
    assert "No: 1 (cell, measurement) pairs" in suite_report.markdown(result)


def test_close_calls_pair_each_near_baseline_with_the_best_specmeta_time():
    cells = [suite_cells.Cell("seqlens_expanded", "draft_extend", 64, 4, None)]
    rows = fake_result(cells, [])["rows"]
    by = {r["variant"]: r for r in rows}
    by["specmeta Builder"]["graph_us"], by["specmeta expand_seqlens"]["graph_us"] = 1.30, 1.40
    by["Triton"]["graph_us"] = 1.30 * (1 + suite_report.CLOSE_MARGIN) - 1e-6  # just inside the margin
    by["sync-free torch"]["graph_us"] = 1.30 * (1 + suite_report.CLOSE_MARGIN) + 1e-6  # just outside
    calls = suite_report.baselines_near_best(rows, suite_report.CLOSE_MARGIN)
    assert [(m, best["variant"], rival["variant"]) for m, best, rival in calls] == [("graph_us", "specmeta Builder", "Triton")]
    by["Triton"]["graph_us"] = 1.0  # a clear win is a close call too: it is measured again before it is reported
    assert [rival["variant"] for _, _, rival in suite_report.baselines_near_best(rows, suite_report.CLOSE_MARGIN)] == ["Triton"]


def test_report_lists_rows_measured_again():
    cells = [suite_cells.Cell("seqlens_expanded", "draft_extend", 64, 4, None)]
    result = fake_result(cells, [])
    for r in result["rows"]:
        if r["variant"] in ("Triton", "specmeta Builder"):
            r["close_call"] = ["graph_us: 7 alternate rounds"]
    text = suite_report.markdown(result)
    assert "Close calls" in text and text.count("graph_us: 7 alternate rounds") == 2


def test_twins_apart_pair_the_builder_with_build_metadata_beyond_the_margin():
    cells = [suite_cells.Cell("metadata", "draft_extend", 64, 4, 8192),
             suite_cells.Cell("seqlens_expanded", "draft_extend", 64, 4, None)]
    rows = fake_result(cells, [])["rows"]
    meta = {r["variant"]: r for r in rows if r["kind"] == "metadata"}
    seqlens = {r["variant"]: r for r in rows if r["kind"] == "seqlens_expanded"}
    builder, build = meta["specmeta Builder"], meta["specmeta build_metadata"]
    seqlens["specmeta Builder"]["graph_us"] = 9.0  # another cell, no twin there: never paired
    builder["graph_us"], build["graph_us"] = 2.0, 2.0 * (1 + suite_report.TWIN_MARGIN) - 1e-6
    assert suite_report.twins_apart(rows) == []
    build["graph_us"] = 2.0 * (1 + suite_report.TWIN_MARGIN) + 1e-6
    assert [(m, a["variant"], b["variant"]) for m, a, b in suite_report.twins_apart(rows)] == [
        ("graph_us", "specmeta Builder", "specmeta build_metadata")]
    builder["graph_us"], build["graph_us"] = 7.48, 1.79  # the Builder the slow one: apart either way
    assert len(suite_report.twins_apart(rows)) == 1
    build["graph_us"] = None  # no graph time: nothing to compare
    assert suite_report.twins_apart(rows) == []


def test_remeasure_alternately_keeps_each_rows_median_of_its_rounds(monkeypatch):
    cells = [suite_cells.Cell("metadata", "draft_extend", 64, 4, 8192)]
    rows = fake_result(cells, [])["rows"]
    builder, build = (next(r for r in rows if r["variant"] == name) for name in suite_report.TWINS)
    builder["graph_us"], build["graph_us"] = 7.48, 1.79
    variants = [suite_cells.Variant(name, fn=name, syncs=False) for name in suite_report.TWINS]
    order = []
    times = {"specmeta Builder": iter([1.80, 1.81, 9.0, 1.79, 1.80, 1.82, 1.78]),
             "specmeta build_metadata": iter([1.79, 1.78, 1.80, 1.81, 5.0, 1.79, 1.80])}

    def fake_graph_us(clock, fn, sets, budget_s):
        order.append(fn)
        return (next(times[fn]), 100, 10), None

    monkeypatch.setattr(bench_suite.st, "graph_us", fake_graph_us)
    bench_suite.remeasure_alternately(None, suite_report.twins_apart(rows), variants, "twin_check")
    assert order == list(suite_report.TWINS) * bench_suite.CLOSE_ROUNDS  # alternately
    assert builder["graph_us"] == pytest.approx(1.80) and build["graph_us"] == pytest.approx(1.80)
    assert builder["twin_check"] == [f"graph_us: {bench_suite.CLOSE_ROUNDS} alternate rounds, first 7.48"]
    assert build["twin_check"] == [f"graph_us: {bench_suite.CLOSE_ROUNDS} alternate rounds, first 1.79"]
    assert suite_report.twins_apart(rows) == []


def host_bound_rows(variant, eager_times, graph_us=1.5, kind="metadata"):
    return [dict(kind=kind, mode="decode", bs=bs, n=None, width=4096, variant=variant, eager_us=us, graph_us=graph_us)
            for bs, us in enumerate(eager_times)]


def test_eager_history_flags_a_stalled_host_only_against_enough_earlier_cells():
    history = suite_report.EagerHistory()
    builder = host_bound_rows("specmeta Builder", [4.6] * (suite_report.EAGER_HISTORY_MIN - 1))
    history.add(builder)
    slow = host_bound_rows("specmeta Builder", [43.7])
    assert history.stalled(slow) == []  # too few cells before it to know what to expect
    history.add(host_bound_rows("specmeta Builder", [4.6]))
    limit = suite_report.EAGER_STALL_FACTOR * 4.6
    assert history.stalled(slow) == [("eager_us", slow[0])]
    assert history.stalled(host_bound_rows("specmeta Builder", [limit - 1e-6])) == []
    assert len(history.stalled(host_bound_rows("specmeta Builder", [limit + 1e-6]))) == 1
    # The same time from another entry point, another kind or a baseline: each has its own history, or none.
    assert history.stalled(host_bound_rows("specmeta build_metadata", [43.7])) == []
    assert history.stalled(host_bound_rows("specmeta Builder", [43.7], kind="seqlens_expanded")) == []
    assert history.stalled(host_bound_rows("seed before", [43.7])) == []
    # Where the device sets the pace, the graph time is what to expect.
    assert history.stalled(host_bound_rows("specmeta Builder", [40.0], graph_us=38.0)) == []
    assert len(history.stalled(host_bound_rows("specmeta Builder", [80.0], graph_us=38.0))) == 1
    assert history.stalled(host_bound_rows("specmeta Builder", [None])) == []


def test_eager_history_expects_the_eager_floor_until_it_has_enough_cells():
    history = suite_report.EagerHistory(floor_us=7.2)
    limit = suite_report.EAGER_STALL_FACTOR * 7.2
    assert history.stalled(host_bound_rows("specmeta build_metadata", [limit - 1e-6])) == []
    assert len(history.stalled(host_bound_rows("specmeta build_metadata", [limit + 1e-6]))) == 1
    history.add(host_bound_rows("specmeta build_metadata", [12.0] * suite_report.EAGER_HISTORY_MIN))
    assert history.stalled(host_bound_rows("specmeta build_metadata", [limit + 1e-6])) == []  # its own median now
    assert len(history.stalled(host_bound_rows("specmeta build_metadata",
                                               [suite_report.EAGER_STALL_FACTOR * 12.0 + 1e-6]))) == 1


def test_eager_history_learns_only_from_host_bound_rows():
    history = suite_report.EagerHistory()
    history.add(host_bound_rows("specmeta Builder", [40.0] * 20, graph_us=45.0))  # device-bound: not the host's cost
    history.add(host_bound_rows("specmeta Builder", [40.0] * 20, graph_us=20.5))  # just over half: not host-bound
    history.add(host_bound_rows("specmeta Builder", [4.0] * (suite_report.EAGER_HISTORY_MIN - 1)))
    assert history.stalled(host_bound_rows("specmeta Builder", [30.0])) == []
    history.add(host_bound_rows("specmeta Builder", [4.0], graph_us=1.99))  # just under half: host-bound
    assert len(history.stalled(host_bound_rows("specmeta Builder", [30.0]))) == 1


def test_a_stalled_eager_time_is_measured_again_alone(monkeypatch):
    rows = host_bound_rows("specmeta Builder", [43.7])
    rows[0]["call_sync_us"] = 15.0
    variants = [suite_cells.Variant("specmeta Builder", fn="builder", syncs=False)]
    calls = []

    def fake_eager_us(clock, fn, sets, budget_s, hint_us):
        calls.append((fn, hint_us))
        return 4.5 + 0.01 * len(calls), 16, 88

    monkeypatch.setattr(bench_suite.st, "eager_us", fake_eager_us)
    bench_suite.remeasure_alternately(None, [("eager_us", rows[0])], variants, "eager_check")
    assert calls == [("builder", 15.0)] * bench_suite.CLOSE_ROUNDS
    assert rows[0]["eager_us"] == pytest.approx(4.5 + 0.01 * (bench_suite.CLOSE_ROUNDS + 1) / 2)
    assert rows[0]["eager_check"] == [f"eager_us: {bench_suite.CLOSE_ROUNDS} rounds, first 43.7"]


def test_report_lists_twins_measured_again():
    cells = [suite_cells.Cell("metadata", "draft_extend", 64, 4, 8192)]
    result = fake_result(cells, [])
    for r in result["rows"]:
        if r["variant"] in suite_report.TWINS:
            r["twin_check"] = ["graph_us: 7 alternate rounds"]
    text = suite_report.markdown(result)
    assert "Twins apart" in text and text.count("graph_us: 7 alternate rounds") == 2
    assert "Close calls" not in text and "stalled host" not in text


def test_report_lists_eager_times_measured_again():
    cells = [suite_cells.Cell("metadata", "draft_extend", 64, 4, 8192)]
    result = fake_result(cells, [])
    builder = next(r for r in result["rows"] if r["variant"] == "specmeta Builder")
    builder["eager_check"] = ["eager_us: 7 rounds, first 43.7"]
    text = suite_report.markdown(result)
    section = text[text.index("stalled host"):]
    assert "1 rows were measured again and keep the median" in section and "eager_us: 7 rounds, first 43.7" in section
    assert "alternately" not in section.splitlines()[0]
    assert "Twins apart" not in text


def test_plots_from_fake_json(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    import plot

    cells, skipped = full_grid()
    (tmp_path / "results.json").write_text(json.dumps(fake_result(cells, skipped)))
    written = plot.main([str(tmp_path)])
    names = sorted(Path(p).name for p in written)
    assert names == ["gbps_vs_live_bytes.png", "metadata_cost_vs_bs.png", "scaling.png", "seqlens_cost_vs_bs.png"]
    for p in written:
        assert Path(p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.needs_torch
def test_cpu_smoke_run_of_the_whole_suite(tmp_path):
    """Every variant of every kind and mode is built, checked for exact equality and timed on CPU tensors."""
    code = bench_suite.main(["--cpu-smoke", "--bs", "1,5", "--n", "3", "--widths", "4096", "--minutes", "0.02",
                             "--out", str(tmp_path)])
    assert code == 0
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["meta"]["mismatches"] == []
    variants = {(r["kind"], r["mode"], r["variant"]) for r in result["rows"]}
    assert ("seqlens_expanded", "draft_extend", "sync-free torch") in variants
    assert ("metadata", "draft_extend", "SGLang replay") in variants
    assert ("metadata", "extend", "specmeta Builder") in variants
    assert all(r["graph_us"] is None for r in result["rows"])  # no CUDA: nothing in a graph
    assert all(r["eager_us"] is None for r in result["rows"] if r["syncs"])
    assert "Triton" in " ".join(result["meta"]["notes"])  # said why it is absent
