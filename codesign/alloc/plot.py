"""One figure per allocation run: Omega (and measured accuracy, when there is any)
against the resource axis, every method on the same axes."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_frontier(points: list[dict[str, Any]], axis: str, path: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    accuracy = any(p.get("val_accuracy") is not None for p in points)
    fig, axes = plt.subplots(1, 2 if accuracy else 1, figsize=(11 if accuracy else 6, 4),
                             squeeze=False)
    methods = list(dict.fromkeys(p["method"] for p in points))
    for method in methods:
        mine = sorted((p for p in points if p["method"] == method), key=lambda p: p[axis])
        xs = [p[axis] for p in mine]
        axes[0][0].step(xs, [p["omega"] for p in mine], where="post", marker="o", ms=3,
                        label=method)
        if accuracy:
            acc = [(p[axis], 100 * p["val_accuracy"]) for p in mine
                   if p.get("val_accuracy") is not None]
            axes[0][1].plot(*zip(*acc, strict=True), marker="o", ms=3, label=method)
    axes[0][0].set_yscale("log")
    axes[0][0].set_xlabel(axis)
    axes[0][0].set_ylabel("total Omega (predicted loss increase)")
    axes[0][0].legend(fontsize=8)
    if accuracy:
        axes[0][1].set_xlabel(axis)
        axes[0][1].set_ylabel("bit-accurate validation accuracy (%)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
