"""The report's figures, as PNG bytes (matplotlib, no display needed)."""

from __future__ import annotations

import io
from typing import Any


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    _plt().close(fig)
    return buf.getvalue()


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points when smaller x and larger y are better,
    ordered by x."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def series(point: dict[str, Any]) -> str:
    """The frontier plot's legend entry of a point: its method(s)."""
    if point.get("alloc_method"):
        return f"{point['alloc_method']} + {point['method']}"
    return point["method"]


def frontier(records: list[dict[str, Any]], chosen: str | None, float_acc: float | None,
             x_key: str = "weight_bits", x_label: str = "total weight bits") -> bytes:
    """Validation accuracy against size, one marker per method (allocator + quantizer for
    allocated points), the points that do not fit their device crossed out, the Pareto
    front of those that do as a step line, the uniform-precision points joined as the
    baseline, the chosen point starred."""
    plt = _plt()
    ok = [r for r in records if r.get("eval")]
    fig, ax = plt.subplots(figsize=(9.5, 4.2))
    methods = list(dict.fromkeys(series(r["point"]) for r in ok))  # the flow's order
    markers = "osD^v<>ph"
    for k, m in enumerate(methods):
        rs = [r for r in ok if series(r["point"]) == m]
        ax.scatter([r["eval"][x_key] for r in rs],
                   [100 * r["eval"]["bit_accurate_val_accuracy"] for r in rs],
                   marker=markers[k % len(markers)], s=42, label=m, zorder=3)
    # a point that does not fit its device is on no front a user can build
    fit = [r for r in ok if (r.get("cost") or {}).get("fits", True)]
    over = [r for r in ok if r not in fit]
    if over:
        ax.scatter([r["eval"][x_key] for r in over],
                   [100 * r["eval"]["bit_accurate_val_accuracy"] for r in over],
                   marker="x", s=90, color="0.25", linewidths=1.4, zorder=4,
                   label="does not fit its device")
    xy = [(r["eval"][x_key], 100 * r["eval"]["bit_accurate_val_accuracy"]) for r in fit]
    front = pareto(xy)
    if len(front) > 1:
        ax.step([xy[i][0] for i in front], [xy[i][1] for i in front], where="post",
                color="0.5", lw=1, zorder=2, label="Pareto front (designs that fit)")
    for r in ok:
        if r["label"] == chosen:
            ax.scatter([r["eval"][x_key]], [100 * r["eval"]["bit_accurate_val_accuracy"]],
                       marker="*", s=260, facecolors="none", edgecolors="crimson",
                       linewidths=1.6, zorder=4, label=f"chosen: {chosen}")
    base = sorted((r for r in ok if r["point"].get("alloc_method") == "uniform"),
                  key=lambda r: r["eval"][x_key])
    if len(base) > 1:
        ax.plot([r["eval"][x_key] for r in base],
                [100 * r["eval"]["bit_accurate_val_accuracy"] for r in base],
                color="0.35", ls=":", lw=1.4, zorder=2, label="uniform precision (baseline)")
    if float_acc is not None:
        ax.axhline(100 * float_acc, color="0.3", ls="--", lw=1, label="float model")
    ax.set_xlabel(x_label)
    ax.set_ylabel("bit-accurate validation accuracy (%)")
    ax.grid(alpha=0.3)
    # beside the axes, not over the points
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _png(fig)


def layer_bits(layers: list[dict[str, Any]]) -> bytes:
    """Weight and result widths per layer of the chosen design."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.5, 0.55 * len(layers) + 1.5), 3.6))
    xs = range(len(layers))
    ax.bar([x - 0.2 for x in xs], [r.get("weight_bits", 0) for r in layers], 0.4,
           label="weight bits")
    ax.bar([x + 0.2 for x in xs], [r["result_bits"] for r in layers], 0.4, label="result bits")
    ax.set_xticks(list(xs), [r["name"] for r in layers], rotation=30, ha="right")
    ax.set_ylabel("bits")
    top = max([r["result_bits"] for r in layers] + [r.get("weight_bits", 0) for r in layers])
    ax.set_ylim(0, top * 1.3)
    ax.legend(fontsize="small", loc="upper center", ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


STATE_COLORS = {"computed": "tab:blue", "cached": "0.75", "timed out": "tab:orange"}


def stage_times(rows: list[tuple[str, float, str]]) -> bytes:
    """Horizontal bars: seconds per stage, coloured by what this run did (computed, took
    from the cache, or stopped at the stage's time limit)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(rows) + 1.2))
    ys = range(len(rows))
    ax.barh(list(ys), [r[1] for r in rows], color=[STATE_COLORS[r[2]] for r in rows])
    ax.set_yticks(list(ys), [r[0] for r in rows], fontsize="small")
    ax.invert_yaxis()
    label = "seconds to compute (grey: reused from the cache in this run)"
    if any(r[2] == "timed out" for r in rows):
        label += "\n(orange: stopped at its time limit)"
    ax.set_xlabel(label)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def compare(runs: list[tuple[str, list[dict[str, Any]], str | None]]) -> bytes:
    """Several runs on one frontier plot: (name, costed points, chosen label) each, one
    colour per run, its Pareto front as a step line, its chosen design starred."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9.5, 4.6))
    for k, (name, points, chosen) in enumerate(runs):
        colour = f"C{k % 10}"
        xy = [(float(r["cost"]["lut"]), 100 * r["eval"]["bit_accurate_val_accuracy"])
              for r in points]
        if not xy:
            continue
        ax.scatter([p[0] for p in xy], [p[1] for p in xy], color=colour, s=36, zorder=3,
                   label=name)
        front = pareto(xy)
        if len(front) > 1:
            ax.step([xy[i][0] for i in front], [xy[i][1] for i in front], where="post",
                    color=colour, lw=1, zorder=2)
        for r, (x, y) in zip(points, xy, strict=True):
            if r["label"] == chosen:
                ax.scatter([x], [y], marker="*", s=260, facecolors="none",
                           edgecolors=colour, linewidths=1.6, zorder=4)
    ax.set_xlabel("estimated LUTs (star: each run's chosen design)")
    ax.set_ylabel("bit-accurate validation accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _png(fig)
