"""PNG plots of a benchmark-suite run, from its results.json (matplotlib; no GPU, no torch).

  python bench/plot.py DIR     (reads DIR/results.json or its .gz, writes DIR/*.png)

  seqlens_cost_vs_bs.png    seqlens_expanded alone: us per call against batch size, one line per variant,
                            call + sync / eager / in-graph, log-log, at N = 4 (or the nearest N run)
  metadata_cost_vs_bs.png   the whole metadata: eager and in-graph us per call against batch size, per mode,
                            at W = 32768 and N = 4 (or the nearest run)
  gbps_vs_live_bytes.png    in-graph GB/s against live bytes per call, every metadata cell, against the
                            device-to-device copy bandwidth of the same run
  scaling.png               specmeta's in-graph time against N and against table width W, per mode
"""

from __future__ import annotations

import os
import sys

import suite_report

COLORS = {
    "specmeta Builder": "#1f77b4",
    "specmeta expand_seqlens": "#17becf",
    "specmeta build_metadata": "#9edae5",
    "seed before": "#d62728",
    "seed after": "#ff7f0e",
    "sync-free torch": "#2ca02c",
    "Triton": "#9467bd",
    "SGLang replay": "#8c564b",
}
MARKERS = {"call_sync_us": "o", "eager_us": "s", "graph_us": "^"}
MODE_MARKERS = {"decode": "o", "target_verify": "s", "draft_extend": "^", "draft_extend_static": "v", "extend": "D"}
DPI = 110
LEGEND_IN, TITLE_IN = 0.75, 0.45  # room below the panels for the figure legend, above them for the title


def nearest(values, want):
    values = sorted({v for v in values if v is not None})
    return min(values, key=lambda v: (abs(v - want), v)) if values else None


def variants_of(rows):
    """The variants in rows, baselines first and specmeta's Builder last, so specmeta's lines are drawn on top."""
    order = list(COLORS)
    names = dict.fromkeys(r["variant"] for r in rows)
    return sorted(names, key=lambda v: -order.index(v) if v in order else 0)


def line_by_bs(ax, rows, variant, metric, label):
    points = sorted((r["bs"], r[metric]) for r in rows if r["variant"] == variant and r[metric] is not None)
    if points:
        xs, ys = zip(*points)
        style = "-" if variant.startswith("specmeta") else "--"
        ax.plot(xs, ys, style, marker=MARKERS[metric], color=COLORS.get(variant), label=label, linewidth=1.6, markersize=5)


def short(v, base=1000):
    """4096 -> 4096, 131072 -> 128K (base 1024), 2e6 -> 2M (base 1000): tick labels that stay short."""
    for suffix, size in (("G", base**3), ("M", base**2), ("K", base)):
        if v >= size and (v / size) == round(v / size, 1) and v >= 10 * base ** (1 if suffix == "K" else 0):
            return f"{v / size:g}{suffix}"
    return f"{v:g}"


def plain_numbers(ax, xs, base=1000):
    """Ticks at the values run (1, 4, 16, ...) and plain numbers on both log axes, not powers."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    if xs:
        ax.set_xticks(sorted(set(xs)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: short(v, base)))
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(f"{v:g}")[0] in "25" else ""))


def absent_note(ax, rows, metric):
    """Names the variants that have no number for this measurement, and why, inside the panel."""
    missing = [r for r in rows if r[metric] is None]
    reasons = {}
    for r in missing:
        reasons.setdefault(r.get("eager_note") if metric == "eager_us" else r.get("graph_note"), set()).add(r["variant"])
    text = "; ".join(f"{', '.join(sorted(v))}: {why or 'n/a'}" for why, v in reasons.items())
    if text:
        ax.text(0.01, 0.99, "not shown: " + text, transform=ax.transAxes, va="top", ha="left", fontsize=7,
                color="dimgray", wrap=True)


def style_axes(ax, title, xlabel, ylabel, xs=(), base=1000):
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    plain_numbers(ax, xs, base)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)


def seqlens_plot(plt, result, out_dir):
    rows = [r for r in result["rows"] if r["kind"] == "seqlens_expanded"]
    if not rows:
        return None
    n = nearest([r["n"] for r in rows], suite_report.HEADLINE["n"])
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    fig, axes = plt.subplots(len(modes), 3, figsize=(15, 4.6 * len(modes)), squeeze=False)
    for i, mode in enumerate(modes):
        sub = [r for r in rows if r["mode"] == mode and r["n"] == n]
        for j, metric in enumerate(suite_report.METRICS):
            ax = axes[i][j]
            for variant in variants_of(sub):
                line_by_bs(ax, sub, variant, metric, variant)
            style_axes(ax, f"{mode}, N = {n}: {suite_report.METRIC_LABELS[metric]}", "batch size (requests)",
                       "microseconds per call", [r["bs"] for r in sub])
            absent_note(ax, sub, metric)
            if not ax.has_data():
                ax.text(0.5, 0.5, "not measured", ha="center", transform=ax.transAxes)
    figure_legend(fig, axes)
    fig.suptitle(f"seqlens_expanded alone, cost per call (lower is better): {result['meta']['device']}", fontsize=12)
    return save(plt, fig, out_dir, "seqlens_cost_vs_bs.png")


def metadata_plot(plt, result, out_dir):
    rows = [r for r in result["rows"] if r["kind"] == "metadata"]
    if not rows:
        return None
    n = nearest([r["n"] for r in rows], suite_report.HEADLINE["n"])
    width = nearest([r["width"] for r in rows], suite_report.HEADLINE["width"])
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    metrics = ("eager_us", "graph_us")
    fig, axes = plt.subplots(len(modes), 2, figsize=(12, 4.2 * len(modes)), squeeze=False)
    for i, mode in enumerate(modes):
        sub = [r for r in rows if r["mode"] == mode and r["width"] == width and r["n"] in (n, None)]
        n_text = "" if mode == "decode" else f", N = {n}"
        for j, metric in enumerate(metrics):
            ax = axes[i][j]
            for variant in variants_of(sub):
                line_by_bs(ax, sub, variant, metric, variant)
            style_axes(ax, f"{mode}{n_text}, W = {width}: {suite_report.METRIC_LABELS[metric]}",
                       "batch size (requests)", "microseconds per call", [r["bs"] for r in sub])
            absent_note(ax, sub, metric)
            if not ax.has_data():
                ax.text(0.5, 0.5, "not measured", ha="center", transform=ax.transAxes)
    figure_legend(fig, axes)
    fig.suptitle(f"The whole metadata (11 outputs), cost per call (lower is better): {result['meta']['device']}",
                 fontsize=12)
    return save(plt, fig, out_dir, "metadata_cost_vs_bs.png")


def bandwidth_plot(plt, result, out_dir):
    rows = [r for r in suite_report.derive(result) if r["kind"] == "metadata" and r["gbps"] is not None]
    if not rows:
        return None
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(10, 6))
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    variants = variants_of(rows)
    for variant in variants:
        for mode in modes:
            pts = [(r["live_bytes"], r["gbps"]) for r in rows if r["variant"] == variant and r["mode"] == mode]
            if pts:
                xs, ys = zip(*pts)
                ax.scatter(xs, ys, s=16, marker=MODE_MARKERS.get(mode, "o"), color=COLORS.get(variant), alpha=0.7)
    copy = result["meta"].get("copy_gbps")
    by_variant = [Line2D([], [], color=COLORS.get(v), marker="o", linestyle="", label=v) for v in reversed(variants)]
    if copy:
        ax.axhline(copy, color="black", linestyle=":")
        by_variant.append(Line2D([], [], color="black", linestyle=":", label=f"device-to-device copy, {copy:.0f} GB/s"))
    by_mode = [Line2D([], [], color="gray", marker=MODE_MARKERS.get(m, "o"), linestyle="", label=m) for m in modes]
    ax.add_artist(ax.legend(handles=by_variant, title="variant (colour)", fontsize=8, title_fontsize=8, loc="upper left"))
    ax.legend(handles=by_mode, title="mode (marker)", fontsize=8, title_fontsize=8, loc="lower right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_numbers(ax, ())
    ax.set_xlabel("live bytes per call (bytes any implementation must read and write)")
    ax.set_ylabel("GB/s (live bytes / in-graph device time)")
    ax.set_title(f"Effective bandwidth of the whole metadata, in a CUDA graph: {result['meta']['device']}", fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    return save(plt, fig, out_dir, "gbps_vs_live_bytes.png")


def scaling_plot(plt, result, out_dir):
    rows = [r for r in result["rows"] if r["kind"] == "metadata" and r["reference"] and r["graph_us"] is not None]
    if not rows:
        return None
    bs = nearest([r["bs"] for r in rows], suite_report.HEADLINE["bs"])
    n = nearest([r["n"] for r in rows], suite_report.HEADLINE["n"])
    width = nearest([r["width"] for r in rows], suite_report.HEADLINE["width"])
    fig, (by_n, by_w) = plt.subplots(1, 2, figsize=(13, 5))
    for mode in dict.fromkeys(r["mode"] for r in rows):
        pts = sorted((r["n"], r["graph_us"]) for r in rows if r["mode"] == mode and r["bs"] == bs and r["width"] == width
                     and r["n"] is not None)
        if pts:
            by_n.plot(*zip(*pts), marker=MODE_MARKERS.get(mode, "o"), label=mode)
        pts = sorted((r["width"], r["graph_us"]) for r in rows if r["mode"] == mode and r["bs"] == bs
                     and r["n"] in (n, None))
        if pts:
            by_w.plot(*zip(*pts), marker=MODE_MARKERS.get(mode, "o"), label=mode)
    style_axes(by_n, f"against N (bs = {bs}, W = {width})", "draft tokens per request N", "microseconds per call, in-graph",
               [r["n"] for r in rows if r["n"] is not None])
    style_axes(by_w, f"against table width W (bs = {bs}, N = {n})", "table width W (tokens)", "microseconds per call, in-graph",
               [r["width"] for r in rows], base=1024)
    for ax in (by_n, by_w):
        ax.legend(fontsize=8)
    fig.suptitle(f"specmeta Builder, the whole metadata: how device time grows: {result['meta']['device']}", fontsize=11)
    return save(plt, fig, out_dir, "scaling.png")


def figure_legend(fig, axes):
    """One legend for every panel, below them: variant -> line style, whichever panels it appears in."""
    handles = {}
    for row in axes:
        for ax in row:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, handle)
    order = list(COLORS)
    labels = sorted(handles, key=lambda v: order.index(v) if v in order else len(order))
    fig.legend([handles[v] for v in labels], labels, loc="lower center", ncol=min(len(labels), 7), fontsize=9,
               title="variant (solid: specmeta; dashed: baselines; markers: o call + sync, s eager, ^ in-graph)",
               title_fontsize=9)
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, LEGEND_IN / height, 1, 1 - TITLE_IN / height))


def save(plt, fig, out_dir, name):
    if not fig.legends:
        fig.tight_layout()
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python bench/plot.py DIR   (DIR holds bench/bench_suite.py's results.json or .json.gz)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = argv[0]
    result = suite_report.read(out_dir)
    written = [p for p in (seqlens_plot(plt, result, out_dir), metadata_plot(plt, result, out_dir),
                           bandwidth_plot(plt, result, out_dir), scaling_plot(plt, result, out_dir)) if p]
    for path in written:
        print(f"wrote {path}")
    return written


if __name__ == "__main__":
    main()
