"""Which reuse factors each layer may take: up to its terms per output, chosen from a
throughput target.

A conv/dense engine at reuse RF shares ceil(terms / RF) multipliers over the terms of each
output, so for a given number of multipliers m only the smallest RF, ceil(terms / m), is
worth considering: a larger one is slower for the same hardware. The candidates are those
RFs for m = terms, terms/2, terms/4, ... multipliers (RF 1 is the adder graph).

With a throughput target (an interval in cycles, or images per second at the clock) a
layer whose engine would take longer than the interval at some RF may not take it, and
RFs far below what the target needs buy speed no one asked for: each layer gets the
slowest RF that meets the target and the next few faster ones (twice, four times, eight
times the multipliers), plus RF 1. The cycles are the RTL's (codesign.rtl.network's
timing-only plan), so what the allocator admits is what the hardware does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from codesign.errors import CodesignError
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.rtl.network import plan_timing

FASTER_STEPS = 3
"""Under a target: how many doublings of multipliers beyond the slowest RF that meets it."""

AUTO = "auto"


def multiplier_rfs(terms: int) -> list[int]:
    """The smallest RF of each multiplier count m = terms, terms/2, ..., 1: ceil(terms/m)."""
    rfs, m = set(), terms
    while m >= 1:
        rfs.add(math.ceil(terms / m))
        m //= 2
    rfs.add(terms)
    return sorted(rfs)


def _cycles(graph: Graph, layer: str, rf: int) -> int:
    engine = next(e for e in plan_timing(graph, {layer: rf}, size_forks=False).engines
                  if layer in e.layers)
    return engine.cycles_per_image()


def slowest_fitting_rf(graph: Graph, layer: L.WeightedLayer, interval: float) -> int | None:
    """The largest RF (<= terms) whose engine takes at most `interval` cycles per image,
    or None when even RF 1 is slower (the target cannot be met by folding this layer)."""
    if _cycles(graph, layer.name, 1) > interval:
        return None
    lo, hi = 1, layer.terms  # cycles grow with RF: find the last RF within the interval
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _cycles(graph, layer.name, mid) <= interval:
            lo = mid
        else:
            hi = mid - 1
    return lo


def reuse_options(graph: Graph, reuse: Sequence[int] | str = AUTO,
                  interval: float | None = None) -> dict[str, tuple[int, ...]]:
    """Candidate RFs of every weighted layer. An explicit list is cut to each layer's
    terms; `auto` follows the module doc."""
    out: dict[str, tuple[int, ...]] = {}
    for layer in graph:
        if not isinstance(layer, L.WeightedLayer):
            continue
        if not isinstance(reuse, str):
            out[layer.name] = tuple(sorted({int(r) for r in reuse if int(r) <= layer.terms})
                                    or [1])
            continue
        rfs = multiplier_rfs(layer.terms)
        if interval is not None:
            fit = slowest_fitting_rf(graph, layer, interval)
            if fit is None:
                rfs = [1]  # the budget's interval limit then says what cannot be met
            else:
                m_fit = math.ceil(layer.terms / fit)  # multipliers at the slowest fit
                near = {math.ceil(layer.terms / min(layer.terms, m_fit << k))
                        for k in range(FASTER_STEPS + 1)}
                rfs = sorted(near | {1})
        out[layer.name] = tuple(rfs)
    return out


def parse_reuse(text: str) -> Sequence[int] | str:
    """`auto` or R,R,...: what --reuse and a flow's `reuse:` take."""
    if str(text).strip() == AUTO:
        return AUTO
    try:
        values = [int(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise CodesignError(f"reuse must be 'auto' or positive integers like 1,2,4,8, "
                            f"not {text!r}")
    return values


def interval_for_fps(fps: float, clock_mhz: float) -> float:
    """Cycles between images that give `fps` images per second at the clock."""
    if not fps > 0:
        raise CodesignError(f"--fps must be positive, not {fps}")
    return clock_mhz * 1e6 / fps
