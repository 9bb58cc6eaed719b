"""Bar plot of a SensitivityTable: per layer, Omega at each width (log scale)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.errors import CodesignError
from codesign.sensitivity.table import SensitivityTable


def plot_table(table: SensitivityTable, path: str | Path, *, what: str = "weight",
               force: bool = False) -> Path:
    """Grouped bars (one group per layer, one bar per width) written to `path` (.png/.pdf/.svg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.exists() and not force:
        raise CodesignError(f"{path} exists; pass --force to overwrite it")
    names = [n for n, s in table.layers.items() if getattr(s, what) is not None]
    if not names:
        raise CodesignError(f"the table has no {what!r} sensitivities to plot")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(names) + 2), 4))
    x = np.arange(len(names))
    width = 0.8 / len(table.bits)
    positive = True
    for k, b in enumerate(table.bits):
        vals = np.array([getattr(table.layers[n], what)[b] for n in names])
        positive &= bool(np.all(vals > 0))
        ax.bar(x + (k - (len(table.bits) - 1) / 2) * width, vals, width, label=f"{b} bits")
    if positive:
        ax.set_yscale("log")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel(f"Omega ({what})")
    ax.set_title(f"{table.model or 'model'}: {table.method} sensitivity of {what}s")
    ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
