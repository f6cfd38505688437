"""The suite's results: derived numbers (ratios to specmeta, GB/s), the Markdown report and the JSON file.

Pure Python on the result dictionary, so it can be tested with made-up
timings and rerun on a machine without a GPU (bench/plot.py reads the same
JSON). One row per (cell, variant); a cell is (kind, mode, bs, n, width):
  kind "seqlens_expanded": the seed's output alone, modes target_verify and
    draft_extend, width None;
  kind "metadata": every SPEC output (page tables included), the five modes;
    n None in decode.
Times are microseconds; None means not measured, with the reason in
`eager_note` / `graph_note`.
"""

from __future__ import annotations

import gzip
import json
import os
import statistics

METRICS = ("call_sync_us", "eager_us", "graph_us")
METRIC_LABELS = {"call_sync_us": "call + sync", "eager_us": "eager per call", "graph_us": "in-graph per call"}
KINDS = ("seqlens_expanded", "metadata")
HEADLINE = dict(bs=64, n=4, width=32768)


def cell_key(row):
    return (row["kind"], row["mode"], row["bs"], row["n"], row["width"])


def reference_rows(rows):
    return {cell_key(r): r for r in rows if r["reference"]}


def ratio(row, ref, metric):
    """This variant's time over specmeta's for one metric (None where either is missing)."""
    if ref is None or row[metric] is None or not ref[metric]:
        return None
    return row[metric] / ref[metric]


def gbps(row):
    """Live bytes over in-graph device time (None without an in-graph time)."""
    if row["graph_us"] is None or not row.get("live_bytes"):
        return None
    return row["live_bytes"] / (row["graph_us"] * 1e3)


def live_bytes_key(live_bytes):
    """The key of meta["copy_gbps_by_live_bytes"] for a row's live bytes (JSON keys are strings)."""
    return str(int(live_bytes))


def derive(result):
    """Adds ratios (x_<metric>), gbps, pct_copy and pct_copy_at_size (against a copy of the row's live bytes,
    where the run measured one) to every row; returns the rows."""
    refs = reference_rows(result["rows"])
    copy = result["meta"].get("copy_gbps")
    by_size = result["meta"].get("copy_gbps_by_live_bytes") or {}
    for row in result["rows"]:
        ref = refs.get(cell_key(row))
        for metric in METRICS:
            row["x_" + metric] = ratio(row, ref, metric)
        row["gbps"] = gbps(row)
        row["pct_copy"] = None if row["gbps"] is None or not copy else 100.0 * row["gbps"] / copy
        at_size = by_size.get(live_bytes_key(row["live_bytes"])) if row.get("live_bytes") else None
        row["pct_copy_at_size"] = None if row["gbps"] is None or not at_size else 100.0 * row["gbps"] / at_size
    return result["rows"]


def is_specmeta(row):
    return row["variant"].startswith("specmeta")


# A baseline within this fraction of the best specmeta time of its cell (or
# below it) is a close call, which bench_suite measures again (see there).
CLOSE_MARGIN = 0.03


def baselines_near_best(rows, margin=0.0):
    """(metric, best specmeta row, baseline row) wherever a baseline's time is under the best specmeta time of
    its cell times 1 + margin, eager or in a graph; margin 0: the baselines that beat every specmeta entry point."""
    best = {}
    for row in rows:
        if is_specmeta(row):
            for metric in ("eager_us", "graph_us"):
                key = (cell_key(row), metric)
                if row[metric] is not None and (key not in best or row[metric] < best[key][metric]):
                    best[key] = row
    near = []
    for row in rows:
        if is_specmeta(row):
            continue
        for metric in ("eager_us", "graph_us"):
            spec = best.get((cell_key(row), metric))
            if row[metric] is not None and spec and row[metric] < spec[metric] * (1 + margin):
                near.append((metric, spec, row))
    return near


# The bound Builder and build_metadata replay the same kernel with the same grid in a graph, so their graph times
# are twins: in two H100 suite runs of one code (459 cells each) they agreed within 1.2% at the 1st and 99th
# percentiles and 0.945-1.097x at the extremes. A third run had nine cells over 10% apart, one of them 7.48 against
# 1.79 us: a passing slow state of the process or the GPU, not the code. Twins further apart than TWIN_MARGIN are
# measured again (bench_suite.remeasure_alternately).
TWIN_MARGIN = 0.05
TWINS = ("specmeta Builder", "specmeta build_metadata")

# Where the host sets a specmeta entry point's eager time (its graph time under HOST_BOUND_SHARE of it), that time is
# the entry point's host cost: about one value per entry point over a run (D3, H100: the Builder's median 5.2 us over
# 126 such rows, build_metadata's 11.6 over 243). D3 also read the Builder at 10-50 us in 8 metadata cells and
# build_metadata at 23-125 us in 14 (26 rows of the run by the rule below), 14 of them from at most 11 samples where
# 16 were usual, with call + sync times of up to 180 us: the host stalled for milliseconds there, not the code. An
# eager time over EAGER_STALL_FACTOR x what the run leads one to expect is measured again
# (bench_suite.remeasure_alternately): the larger of the row's own graph time and the entry point's median over the
# host-bound rows before it, or, until there are EAGER_HISTORY_MIN of those, the run's eager floor (an empty kernel's
# launch: 7.2-9.7 us in F1 and F2, where the Builder's median was 4.3-4.5 and build_metadata's 10.3-10.7; without it,
# F2's first build_metadata cell kept a stalled 25.8 us, its call + sync at 57 us). Twice, not less: build_metadata's
# host cost differs by mode, and an unstalled time near a must-show bound stays as measured.
EAGER_STALL_FACTOR = 2.0
EAGER_HISTORY_MIN = 8
HOST_BOUND_SHARE = 0.5


class EagerHistory:
    """The eager times of the specmeta entry points in the host-bound rows measured so far, by kind and variant."""

    def __init__(self, floor_us=None):
        self._floor_us = floor_us
        self._seen = {}

    def add(self, rows):
        for row in rows:
            if is_specmeta(row) and row["eager_us"] is not None and row["graph_us"] is not None \
                    and row["graph_us"] < HOST_BOUND_SHARE * row["eager_us"]:
                self._seen.setdefault((row["kind"], row["variant"]), []).append(row["eager_us"])

    def typical(self, row):
        seen = self._seen.get((row["kind"], row["variant"]), [])
        return statistics.median(seen) if len(seen) >= EAGER_HISTORY_MIN else self._floor_us

    def stalled(self, rows):
        """("eager_us", row) for each specmeta row whose eager time is over EAGER_STALL_FACTOR x its expected time."""
        out = []
        for row in rows:
            typical = self.typical(row) if is_specmeta(row) and row["eager_us"] is not None else None
            if typical is not None and row["eager_us"] > EAGER_STALL_FACTOR * max(typical, row["graph_us"] or 0.0):
                out.append(("eager_us", row))
        return out


def twins_apart(rows, margin=TWIN_MARGIN):
    """("graph_us", Builder row, build_metadata row) for each cell whose two graph times, one kernel and grid
    replayed, differ by more than margin either way."""
    pairs = {}
    for row in rows:
        if row["variant"] in TWINS and row["graph_us"]:
            pairs.setdefault(cell_key(row), {})[row["variant"]] = row
    apart = []
    for pair in pairs.values():
        if len(pair) == len(TWINS):
            first, second = (pair[name] for name in TWINS)
            low, high = sorted((first["graph_us"], second["graph_us"]))
            if high > low * (1 + margin):
                apart.append(("graph_us", first, second))
    return apart


def not_fastest(result):
    """(row, metric, ratio) wherever a baseline beats every specmeta entry point of its cell, eager or in a
    graph; ratio: the baseline's time over the best specmeta time (< 1)."""
    return [(row, metric, row[metric] / spec[metric]) for metric, spec, row in baselines_near_best(result["rows"])]


# --- formatting ------------------------------------------------------------------------------------


def remeasured_section(rows, key, what, partner):
    """Markdown lines listing the rows bench_suite measured again under `key` (none: no lines)."""
    again = [r for r in rows if r.get(key)]
    if not again:
        return []
    how = f", alternately with their {partner}," if partner else ""
    return [f"{what}: {len(again)} rows were measured again{how} and keep the median of those rounds:", "",
            *table(["kind", "mode", "bs", "N", "W", "variant", "re-measured"],
                   [[r["kind"], r["mode"], r["bs"], fmt_dash(r["n"]), fmt_dash(r["width"]), r["variant"],
                     "; ".join(r[key])] for r in again]),
            ""]


def fmt_us(v, note=None):
    if v is None:
        return note or "n/a"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def fmt_x(x):
    return "" if x is None else f"{x:.2f}x" if x < 10 else f"{x:.0f}x"


def fmt_opt(v, spec):
    return "" if v is None else format(v, spec)


def fmt_bytes(v):
    if not v:
        return ""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if v >= size:
            return f"{v / size:.3g} {unit}"
    return f"{v:.0f} B"


def fmt_dash(v):
    return "-" if v is None else str(v)


def row_cells(row):
    return [
        fmt_us(row["call_sync_us"]), fmt_x(row["x_call_sync_us"]),
        fmt_us(row["eager_us"], row.get("eager_note")), fmt_x(row["x_eager_us"]),
        fmt_us(row["graph_us"], "n/a"), fmt_x(row["x_graph_us"]),
    ]


def table(header, lines):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in line) + " |" for line in lines]
    return out


def select(rows, **where):
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def headline_tables(result):
    rows, h = result["rows"], HEADLINE
    out = []
    seed = [r for r in rows if r["kind"] == "seqlens_expanded" and r["bs"] == h["bs"] and r["n"] == h["n"]]
    if seed:
        out += [f"### seqlens_expanded alone, bs = {h['bs']}, N = {h['n']}", ""]
        out += table(["mode", "variant", "call + sync us", "x specmeta", "eager us/call", "x specmeta",
                      "in-graph us/call", "x specmeta"],
                     [[r["mode"], r["variant"]] + row_cells(r) for r in seed])
        out.append("")
    meta = [r for r in rows if r["kind"] == "metadata" and r["bs"] == h["bs"] and r["n"] in (h["n"], None)
            and r["width"] == h["width"]]
    if meta:
        out += [f"### The whole metadata (11 outputs), bs = {h['bs']}, N = {h['n']}, W = {h['width']}", ""]
        out += table(["mode", "variant", "call + sync us", "x specmeta", "eager us/call", "x specmeta",
                      "in-graph us/call", "x specmeta", "GB/s", "% of copy"],
                     [[r["mode"], r["variant"]] + row_cells(r) + [fmt_opt(r["gbps"], ".0f"), fmt_opt(r["pct_copy"], ".0f")]
                      for r in meta])
        out.append("")
    return out


def seed_after_claims(result):
    """The issue's two ratios: the seed's "after" against specmeta, eager, at the headline bs and N."""
    out = []
    refs = reference_rows(result["rows"])
    for mode in ("target_verify", "draft_extend"):
        after = select(result["rows"], kind="seqlens_expanded", mode=mode, bs=HEADLINE["bs"], n=HEADLINE["n"],
                       variant="seed after")
        if not after:
            continue
        after = after[0]
        ref = refs.get(cell_key(after))
        if ref is None or ref["eager_us"] is None:
            continue
        # A variant that syncs in every call has no cheaper back-to-back cost than its call + sync.
        cost, how = (after["eager_us"], "eager") if after["eager_us"] is not None else (after["call_sync_us"], "call + sync (it syncs in every call)")
        out.append(f"- {mode}, bs = {HEADLINE['bs']}, N = {HEADLINE['n']}: seed \"after\" {fmt_us(cost)} us per call "
                   f"({how}) against specmeta {fmt_us(ref['eager_us'])} us eager: {cost / ref['eager_us']:.1f}x")
    return out


def full_table(result, kind, mode):
    rows = select(result["rows"], kind=kind, mode=mode)
    header = ["bs", "N", "W", "variant", "call + sync us", "x", "eager us/call", "x", "in-graph us/call", "x",
              "live bytes", "GB/s", "% copy"]
    lines = [[r["bs"], fmt_dash(r["n"]), fmt_dash(r["width"]), r["variant"]] + row_cells(r)
             + [fmt_bytes(r.get("live_bytes")), fmt_opt(r["gbps"], ".0f"),
                fmt_opt(r["pct_copy"], ".0f")] for r in rows]
    return table(header, lines)


def markdown(result):
    derive(result)
    m = result["meta"]
    out = [f"# specmeta benchmark suite: {m['device']}, {m['date']}", ""]
    out += [f"torch {m['torch']}, Triton {m.get('triton') or 'absent'}, specmeta {m['specmeta']}, commit {m.get('commit', '?')}. "
            f"Command: `{m['command']}`. Run time {m['run_s']:.0f} s.", ""]
    out += [
        "call + sync: one call then a device sync, host wall time (median). eager: K back-to-back calls then one "
        "sync, over K (\"syncs\": the variant waits for the GPU inside every call, so it has no cheaper eager cost "
        "than call + sync). in-graph: device time per call of R calls captured in one CUDA graph, CUDA events "
        "around each replay (n/a: the variant syncs on the host or reads host values that a graph would freeze). "
        f"Inputs rotate over {m['input_sets']} sets. x: this variant's time over specmeta's in the same cell "
        "(specmeta: a bound `specmeta.Builder`, the entry point a CUDA-graph runner uses; `expand_seqlens` and `build_metadata` check and bind their arguments on every call). live bytes: "
        "bytes any implementation must move per call (inputs read, req_to_token live prefixes, every output element "
        "SPEC says a call writes); GB/s: live bytes over in-graph time; % copy: of a device-to-device copy measured "
        f"in this run ({fmt_opt(m.get('copy_gbps'), '.0f')} GB/s, read + write).",
        "",
        m.get("workload", ""),
        "",
    ]
    floors = m.get("floors") or {}
    if floors:
        out += ["Floors: " + "; ".join(f"{k}: {fmt_us(v)} us" for k, v in floors.items()), ""]
    out += ["## Headline", ""] + headline_tables(result)
    claims = seed_after_claims(result)
    if claims:
        out += ["Against the seed's \"after\":", ""] + claims + [""]
    losses = not_fastest(result)
    out += ["## Is specmeta the fastest in every cell?", ""]
    if not losses:
        out += ["Yes: in every measured cell, some specmeta entry point is faster than every baseline, eager and in a graph.", ""]
    else:
        out += [f"No: {len(losses)} (cell, measurement) pairs where a baseline beats every specmeta entry point:", ""]
        out += table(["kind", "mode", "bs", "N", "W", "variant", "measurement", "x best specmeta"],
                     [[r["kind"], r["mode"], r["bs"], fmt_dash(r["n"]), fmt_dash(r["width"]), r["variant"],
                       METRIC_LABELS[metric], fmt_x(x)] for r, metric, x in losses])
        out.append("")
    out += remeasured_section(
        result["rows"], "close_call",
        f"Close calls (a baseline within {CLOSE_MARGIN:.0%} of the best specmeta entry point, or faster)", "rival")
    out += remeasured_section(
        result["rows"], "twin_check",
        "Twins apart (the bound Builder and build_metadata, one kernel and grid in a graph, more than "
        f"{TWIN_MARGIN:.0%} apart)", "twin")
    out += remeasured_section(
        result["rows"], "eager_check",
        f"Eager times over {EAGER_STALL_FACTOR:g}x the entry point's median in the host-bound cells before them (the "
        "run's eager floor before there are enough; their own graph time where larger): a stalled host", None)
    notes = m.get("notes") or []
    skipped = result.get("skipped") or []
    if notes or skipped:
        out += ["## Not measured", ""] + [f"- {n}" for n in notes]
        out += [f"- {s['kind']} {s['mode']} bs={s['bs']} N={fmt_dash(s['n'])} W={fmt_dash(s['width'])}: {s['reason']}"
                for s in skipped]
        out.append("")
    for kind in KINDS:
        for mode in dict.fromkeys(r["mode"] for r in result["rows"] if r["kind"] == kind):
            out += [f"## {kind}: {mode}", ""] + full_table(result, kind, mode) + [""]
    return "\n".join(out)


def read(out_dir):
    """A run's results: DIR/results.json as write() left it, or DIR/results.json.gz, the form the runs archived
    under bench/results/ keep (gzip -9 shrinks a suite's 1.4 MB to 0.2 MB, and the GPU machine takes the working
    tree only up to 64 MiB)."""
    path = os.path.join(out_dir, "results.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    with gzip.open(path + ".gz", "rt") as f:
        return json.load(f)


def write(result, out_dir):
    """results.json (the raw rows, derived numbers included) and results.md."""
    os.makedirs(out_dir, exist_ok=True)
    text = markdown(result)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(text)
    return text
