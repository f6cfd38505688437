"""The benchmark suite: specmeta against every baseline over batch size, N, table width and mode, in one process.

  python bench/bench_suite.py --out DIR            (CUDA GPU; about 4 minutes on an H100)
  python bench/bench_suite.py --cpu-smoke --out DIR (CPU torch tensors, a tiny grid, seconds)
  python bench/plot.py DIR                          (the PNG plots, from DIR/results.json; no GPU needed)

Cells (bench/suite_cells.py): for every bs in --bs and N in --n,
  seqlens_expanded alone, modes target_verify and draft_extend: specmeta's
    expand_seqlens, the seed's "before" and "after", sync-free PyTorch,
    a one-launch Triton kernel;
  the whole metadata (11 outputs, page tables included), for every W in
    --widths and the five modes: a bound specmeta Builder, build_metadata,
    sync-free PyTorch, SGLang's replay path (decode, target_verify,
    draft_extend).
Each variant is checked for exact equality before it is timed; then call +
sync, eager and in-graph times (bench/suite_timing.py), live bytes, GB/s
against a device-to-device copy measured in the same run, and every ratio to
specmeta. Cells whose page table would exceed --max-table-gib are skipped and
listed. The run is budgeted to --minutes: each measurement gets an equal
share of the time left, so slow cells get fewer repetitions. Three kinds of
time are measured again, seven rounds each, and keep the median of those
rounds (results.md lists them with the time they read first): graph times of
the two specmeta entry points that replay one kernel and grid, where they are
more than 5% apart; eager times of a stalled host; and close calls, where a
baseline comes within 3% of specmeta or beats it.

Writes DIR/results.md and DIR/results.json; exits 1 if any variant differed.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import statistics
import sys
import time
import warnings

import numpy as np

import baselines as bl
import suite_cells as sc
import suite_report
import suite_timing as st
import triton_expand
from source_commit import source_commit

BS = "1,4,16,64,256,1024"
NS = "1,2,4,8,16"
WIDTHS = "4096,32768,131072,1048576"
SEED_MODES = ("target_verify", "draft_extend")
SMOKE_GRID = dict(bs="1,4,16", n="1,4", widths="4096")
SMOKE_MINUTES = 0.3
COPY_PROBE_BYTES = 256 << 20
# Beside the one reference copy, an eager copy of each large cell's live bytes (half read, half written), timed
# at the end of the run, for suite_report's pct_copy_at_size: a copy's own rate moves with its size (H100: eager
# 2.45 TB/s at 24 MiB, 2.9-3.0 from 128 MiB; bench/probes/copy_sizes.cu, suite_timing.copy_bandwidth_gbps), so a
# cell's share of the one reference mixes its kernel's efficiency with the copy's own rate at that size.
SIZE_MATCHED_MIN_BYTES = 16e6
SIZE_MATCHED_BUDGET_S = 0.1
GIB = 1 << 30
# A close call (suite_report.CLOSE_MARGIN) is measured again: the baseline and
# the best specmeta entry point alternately, CLOSE_ROUNDS times each, and both
# rows take the median of their rounds. One measurement each, minutes apart in
# a run, differs by 1-2% on the same code; alternating spreads clock and
# thermal drift over both, so the verdict is the code's. Twins apart
# (suite_report.TWIN_MARGIN: the Builder and build_metadata, one kernel in a
# graph, timed far apart) are measured again the same way, first, so that a
# close call compares the twins' second measurement. So are eager times of a
# stalled host (suite_report.EAGER_STALL_FACTOR), each alone.
CLOSE_ROUNDS = 7
CLOSE_ROUND_BUDGET_S = 0.05


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="directory for results.md and results.json")
    p.add_argument("--bs", default=None, help=f"comma-separated batch sizes (default {BS})")
    p.add_argument("--n", default=None, help=f"comma-separated draft-token counts N (default {NS})")
    p.add_argument("--widths", default=None, help=f"comma-separated table widths W (default {WIDTHS})")
    p.add_argument("--modes", default=None, help="comma-separated builder modes (default: all five)")
    p.add_argument("--kinds", default="seqlens_expanded,metadata", help="which kinds of cell to run")
    p.add_argument("--minutes", type=float, default=None, help="time budget of the whole run (default 4; smoke 0.3)")
    p.add_argument("--max-table-gib", type=float, default=2.0,
                   help="skip metadata cells whose page_table_1 (capacity x W int32) exceeds this many GiB")
    p.add_argument("--pool-rows", type=int, default=sc.POOL_ROWS_PER_REQUEST,
                   help="req_to_token rows per request (default %(default)s, one per input set; 1: every set reads "
                        "the same bs rows, which small pools keep in L2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu-smoke", action="store_true",
                   help="run on CPU torch tensors (specmeta's CPU backend), a tiny grid: checks the suite, times nothing useful")
    args = p.parse_args(argv)
    if args.pool_rows < 1:
        p.error(f"--pool-rows: expected at least 1, got {args.pool_rows}")
    grid = SMOKE_GRID if args.cpu_smoke else dict(bs=BS, n=NS, widths=WIDTHS)
    for key, default in grid.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    if args.minutes is None:
        args.minutes = SMOKE_MINUTES if args.cpu_smoke else 4.0
    return args


def ints(text):
    return [int(v) for v in text.split(",") if v]


def plan(args, builder_modes):
    """(cells to run, skipped cells with their reason)."""
    kinds = set(args.kinds.split(","))
    cells, skipped = [], []
    bss, ns = ints(args.bs), ints(args.n)
    if "seqlens_expanded" in kinds:
        cells += [sc.Cell("seqlens_expanded", m, bs, n, None) for m in SEED_MODES for bs in bss for n in ns]
    if "metadata" in kinds:
        for mode in builder_modes:
            for width in ints(args.widths):
                for bs in bss:
                    for n in [None] if mode == "decode" else ns:
                        cell = sc.Cell("metadata", mode, bs, n, width)
                        if cell.table_bytes() > args.max_table_gib * GIB:
                            skipped.append(dict(cell.fields(), reason=f"page_table_1 would take {cell.table_bytes() / GIB:.0f} GiB "
                                                f"(capacity {cell.capacity} x W {width} int32; --max-table-gib {args.max_table_gib:g})"))
                        else:
                            cells.append(cell)
    return cells, skipped


def planned_measurements(cells, triton_ok):
    count = 0
    for cell in cells:
        for _, syncs, capturable in sc.variant_plan(cell, triton_ok):
            count += 1 if syncs else 2 + int(capturable)
    return count




def measure(clock, budget, cell, bench, variant, notes):
    """One row of results: the three measurements of one variant in one cell."""
    row = dict(cell.fields(), variant=variant.name, reference=variant.reference, syncs=variant.syncs,
               live_bytes=bench.live_bytes(), rows_avg=bench.rows(), eager_note=None, graph_note=None)
    if clock.cuda and not variant.syncs and bl.syncs_inside(clock.torch, variant.fn):
        notes.append(f"{cell.label()} {variant.name}: torch's sync detector sees a host sync; timed as syncing")
        row["syncs"] = True
    row["call_sync_us"], row["call_sync_samples"] = st.call_sync_us(clock, variant.fn, sc.INPUT_SETS, budget.next())
    row.update(eager_us=None, eager_samples=0, eager_k=0, graph_us=None, graph_samples=0, graph_r=0)
    if row["syncs"]:
        row["eager_note"], row["graph_note"] = "syncs", "syncs on the host"
        return row
    row["eager_us"], row["eager_samples"], row["eager_k"] = st.eager_us(
        clock, variant.fn, sc.INPUT_SETS, budget.next(), row["call_sync_us"])
    if not clock.cuda:
        row["graph_note"] = "no CUDA (smoke run)"
    elif variant.graph_note:
        row["graph_note"] = variant.graph_note
    else:
        (row["graph_us"], row["graph_samples"], row["graph_r"]), row["graph_note"] = st.graph_us(
            clock, variant.fn, sc.INPUT_SETS, budget.next())
    return row


def remeasure_alternately(clock, groups, variants, note):
    """Measures each (metric, row, ...) group's variants again, alternately, CLOSE_ROUNDS rounds; each row keeps the
    median of its rounds, and says so under its key `note`, with the time it read first."""
    by_name = {v.name: v for v in variants}
    for metric, *rows in groups:
        rounds = {row["variant"]: [] for row in rows}
        for _ in range(CLOSE_ROUNDS):
            for row in rows:
                fn = by_name[row["variant"]].fn
                if metric == "graph_us":
                    (us, _, _), error = st.graph_us(clock, fn, sc.INPUT_SETS, CLOSE_ROUND_BUDGET_S)
                else:
                    us, _, _ = st.eager_us(clock, fn, sc.INPUT_SETS, CLOSE_ROUND_BUDGET_S, row["call_sync_us"])
                    error = None
                if error is None:
                    rounds[row["variant"]].append(us)
        how = "alternate rounds" if len(rows) > 1 else "rounds"
        for row in rows:
            if rounds[row["variant"]]:
                first, row[metric] = row[metric], statistics.median(rounds[row["variant"]])
                row.setdefault(note, []).append(
                    f"{metric}: {len(rounds[row['variant']])} {how}, first {suite_report.fmt_us(first)}")


def floors(clock):
    """Per-call floors measured the same way as the variants (CUDA only)."""
    if not clock.cuda:
        return {}
    from bench_seed import empty_kernel

    launch, what = empty_kernel(clock.torch)
    launch()
    clock.sync()
    (graph, _, _), error = st.graph_us(clock, lambda _: launch(), 1, 0.2)
    call, _ = st.call_sync_us(clock, lambda _: launch(), 1, 0.2)
    eager, _, _ = st.eager_us(clock, lambda _: launch(), 1, 0.2, call)
    return {f"empty kernel ({what}), call + sync": call, "eager per call": eager,
            "in-graph per call": graph if error is None else None}


def build_cell(torch, device, cell, rng, triton_ok, pool_rows):
    if cell.kind == "seqlens_expanded":
        return sc.SeqlensCell(torch, device, cell, rng, triton_ok)
    return sc.MetadataCell(torch, device, cell, rng, pool_rows)


def run(args):
    import torch

    import specmeta

    cuda = not args.cpu_smoke
    if cuda and (not torch.cuda.is_available() or not specmeta.cuda_available()):
        raise SystemExit("bench_suite needs a CUDA GPU and specmeta built with CUDA (or --cpu-smoke)")
    device = "cuda" if cuda else "cpu"
    clock = st.Clock(torch, cuda)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    triton_ok, triton_why = triton_expand.available()
    if triton_ok and not cuda:
        triton_ok, triton_why = False, "Triton needs a CUDA device (smoke run)"
    builder_modes = args.modes.split(",") if args.modes else list(specmeta.MODES)
    unknown = sorted(set(builder_modes) - set(specmeta.MODES))
    if unknown:
        raise SystemExit(f"--modes: expected names among {', '.join(specmeta.MODES)}, got {', '.join(unknown)}")
    cells, skipped = plan(args, builder_modes)
    notes = [] if triton_ok else [f"Triton variant: {triton_why}"]
    warnings.filterwarnings("ignore", message="Synchronization debug mode is a prototype")
    warnings.filterwarnings("ignore", message="ExternalStream is deprecated", category=DeprecationWarning)
    started = time.perf_counter()
    budget = st.Budget(args.minutes * 60, planned_measurements(cells, triton_ok))
    meta = dict(
        device=torch.cuda.get_device_name() if cuda else "CPU (smoke run: CPU torch tensors, specmeta's CPU backend)",
        torch=torch.__version__, triton=_triton_version() if triton_ok else None, specmeta=specmeta.__version__,
        date=datetime.datetime.now().isoformat(timespec="seconds"), commit=source_commit(),
        command="python bench/bench_suite.py " + " ".join(sys.argv[1:]),
        input_sets=sc.INPUT_SETS, topk=sc.TOPK, page_size=sc.PAGE_SIZE, workload=sc.workload(args.pool_rows),
        pool_rows_per_request=args.pool_rows,
        grid=dict(bs=ints(args.bs), n=ints(args.n), widths=ints(args.widths), modes=builder_modes, kinds=args.kinds),
        minutes=args.minutes, notes=notes,
    )
    print(f"{meta['device']} | torch {meta['torch']} | Triton {meta['triton'] or 'absent'} | {len(cells)} cells, "
          f"{len(skipped)} skipped | budget {args.minutes:g} min", flush=True)
    meta["copy_gbps"] = st.copy_bandwidth_gbps(clock, COPY_PROBE_BYTES, 0.3)
    meta["floors"] = floors(clock)
    gc.disable()  # a collection inside a timed loop is noise, not cost
    rows, mismatches = [], []
    eager_history = suite_report.EagerHistory(meta["floors"].get("eager per call"))
    for index, cell in enumerate(cells):
        t0 = time.perf_counter()
        try:
            bench = build_cell(torch, device, cell, rng, triton_ok, args.pool_rows)
            variants = []
            for variant in bench.variants:
                problems = bench.check(variant)  # also the warm-up (Triton compiles here)
                if problems:
                    mismatches.append(f"{cell.label()} {variant.name}: " + "; ".join(problems[:3]))
                    print("MISMATCH " + mismatches[-1], flush=True)
                else:
                    variants.append(variant)
            cell_rows = [measure(clock, budget, cell, bench, variant, notes) for variant in variants]
            if cuda:
                remeasure_alternately(clock, suite_report.twins_apart(cell_rows), variants, "twin_check")
                remeasure_alternately(clock, eager_history.stalled(cell_rows), variants, "eager_check")
                eager_history.add(cell_rows)
                close = suite_report.baselines_near_best(cell_rows, suite_report.CLOSE_MARGIN)
                remeasure_alternately(clock, close, variants, "close_call")
            rows += cell_rows
        except Exception as e:  # noqa: BLE001 - out of memory, a failed launch: report the cell, go on
            if cuda and isinstance(e, torch.cuda.OutOfMemoryError):
                skipped.append(dict(cell.fields(), reason=f"out of device memory ({str(e).splitlines()[0][:100]})"))
            else:
                mismatches.append(f"{cell.label()}: failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
                print("ERROR " + mismatches[-1], flush=True)
        bench = None
        gc.collect()
        if cuda and cell.table_bytes() > GIB // 4:
            st.release_cached_memory(torch)
        elapsed = time.perf_counter() - started
        print(f"[{index + 1}/{len(cells)}] {cell.label():60s} {time.perf_counter() - t0:5.2f} s  "
              f"(total {elapsed:4.0f} s of {args.minutes * 60:.0f})", flush=True)
    if cuda:
        meta["copy_gbps_by_live_bytes"] = size_matched_copies(clock, rows)
    meta["run_s"] = time.perf_counter() - started
    meta["budget"] = budget.summary()
    meta["mismatches"] = mismatches
    if mismatches:
        notes += [f"MISMATCH (variant dropped from its cell): {m}" for m in mismatches]
    result = dict(meta=meta, rows=rows, skipped=skipped)
    text = suite_report.write(result, args.out)
    print()
    print(text[: text.find("## Is specmeta")] if "## Is specmeta" in text else text)
    print(f"wrote {os.path.join(args.out, 'results.md')} and results.json ({meta['run_s']:.0f} s)")
    return 1 if mismatches else 0


def size_matched_copies(clock, rows):
    """{live bytes: GB/s of a device-to-device copy of half as many bytes} over the large metadata cells."""
    sizes = sorted({int(r["live_bytes"]) for r in rows
                    if r["kind"] == "metadata" and (r.get("live_bytes") or 0) > SIZE_MATCHED_MIN_BYTES})
    gbps = {suite_report.live_bytes_key(b): st.copy_bandwidth_gbps(clock, b // 2, SIZE_MATCHED_BUDGET_S, eager=True)
            for b in sizes}
    clock.torch.cuda.empty_cache()
    return gbps


def _triton_version():
    import triton

    return triton.__version__


def main(argv=None):
    try:
        return run(parse_args(argv))
    finally:
        gc.enable()  # run() disables it while timing


if __name__ == "__main__":
    sys.exit(main())
