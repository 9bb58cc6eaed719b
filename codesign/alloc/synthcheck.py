"""Measurement in the loop: the allocator's per-candidate costs propose, a measure of the
whole design decides. Two measures share this loop: the whole structural estimate (always
on: `codesign cost`'s figure, inter-layer effects included, and the network's exact
latency and interval from the cycle model, which stalls between engines can lift above
the slowest layer's) and Yosys (`--synth-check K`, resources only).

The K designs nearest the budget (the single design of each method, or the frontier points
using most of the axis) are synthesized. When one misses a limit of the budget or the part
in Yosys, every candidate's cost of that resource is scaled by the ratio Yosys measured to
the allocator's estimate on that design (a per-design correction, compounded over the
iterations) and the problem is solved again, at most MAX_ITERATIONS times. A design that
missed carries its measured figure into the next solve, so the loop cannot return it
again. "fits by Yosys" is claimed only when every checked design of the last iteration
fits by Yosys' own figures; otherwise the claim says by how much it does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from codesign.alloc.budget import RESOURCES, Budget
from codesign.alloc.candidates import Candidates
from codesign.alloc.solver import Allocation, InfeasibleBudget

MAX_ITERATIONS = 4
CHECKED = (*RESOURCES, "latency", "interval")
"""What a measure may report; each is checked against the limits where the measure gives it."""

Found = dict[str, list[Allocation]]
# solve(cands) -> (each method's designs, refused methods)
Solve = Callable[[Candidates], tuple[Found, dict[str, str]]]
# measure([(method, point, allocation)], iteration) -> measured figures (lut/ff/dsp/bram) each
Measure = Callable[[list[tuple[str, int, Allocation]], int], list[dict[str, float]]]


# the two measures: row key in the record, and the name the claim gives it
YOSYS = ("yosys", "Yosys")
WHOLE = ("whole", "the whole structural estimate")


def nearest(found: Found, k: int | None, axis: str) -> list[tuple[str, int, Allocation]]:
    """The `k` designs nearest the budget: those using most of the axis, all methods (every
    design with `k` None)."""
    pairs = [(m, i, a) for m, allocs in found.items() for i, a in enumerate(allocs)]
    pairs.sort(key=lambda t: (-t[2].cost.get(axis, 0.0), t[0], t[1]))
    return pairs[:k]


def misses(figures: dict[str, float], limits: Budget) -> dict[str, float]:
    """resource -> how far `figures` exceed its limit (only the resources over)."""
    return {k: figures[k] - limits.limits[k] for k in CHECKED
            if k in limits.limits and figures.get(k) is not None
            and figures[k] > limits.limits[k] * (1 + 1e-9)}


def corrected(cands: Candidates, factors: dict[str, float]) -> Candidates:
    """`cands` with every candidate's cost of each resource scaled by its factor."""
    layers = [replace(x, cost={k: v * factors.get(k, 1.0) for k, v in x.cost.items()})
              for x in cands.layers]
    return Candidates(layers, cands.tensors, cands.objective, cands.model,
                      {**cands.notes, "correction": dict(factors)})


def synth_loop(cands: Candidates, limits: Budget, k: int | None, axis: str, solve: Solve,
               measure: Measure, max_iterations: int = MAX_ITERATIONS,
               by: tuple[str, str] = YOSYS
               ) -> tuple[Found, dict[str, str], Candidates, dict[str, Any]]:
    """Solve, measure the `k` nearest designs (all with None) `by` YOSYS or WHOLE, correct
    and re-solve until they fit (or the iterations run out); nothing is re-solved while
    every measured design fits. Returns the last designs, refused methods, the corrected
    table and the record: iterations (estimate, measured, misses, correction), fits, and
    the claim a user reads."""
    by_key, _ = by
    factors = {key: 1.0 for key in CHECKED}
    iterations: list[dict[str, Any]] = []
    table = cands
    found, refused = solve(table)
    for n in range(1, max_iterations + 1):
        checked = nearest(found, k, axis)
        measured = measure(checked, n)
        rows, over = [], {}
        for (method, point, alloc), figures in zip(checked, measured, strict=True):
            miss = misses(figures, limits)
            shown = [r for r in CHECKED if r in RESOURCES or figures.get(r) is not None]
            rows.append({"method": method, "point": point,
                         "estimate": {r: alloc.cost[r] for r in shown},
                         by_key: {r: figures.get(r) for r in shown}, "over": miss})
            for r in miss:
                if alloc.cost[r] > 0:
                    over[r] = max(over.get(r, 1.0), figures[r] / alloc.cost[r])
        record: dict[str, Any] = {"iteration": n, "designs": rows,
                                  "correction": {r: f for r, f in factors.items() if f != 1}}
        iterations.append(record)
        if not any(row["over"] for row in rows):
            return found, refused, table, _record(iterations, True, limits, by)
        uncorrectable = [r for row in rows for r in row["over"] if r not in over]
        if uncorrectable or n == max_iterations:
            break
        factors = {r: f * over.get(r, 1.0) for r, f in factors.items()}
        record["next_correction"] = {r: f for r, f in factors.items() if f != 1}
        try:
            new = solve(corrected(cands, factors))
        except InfeasibleBudget as exc:
            record["infeasible"] = str(exc)
            break
        table = corrected(cands, factors)
        found, refused = new
    return found, refused, table, _record(iterations, False, limits, by)


def _record(iterations: list[dict[str, Any]], fits: bool, limits: Budget,
            by: tuple[str, str]) -> dict[str, Any]:
    key, name = by
    last = iterations[-1]
    if fits:
        claim = (f"fits by {name}: the {len(last['designs'])} checked design(s) are within the "
                 f"budget and the device (iteration {last['iteration']})")
    else:
        worst = []
        for row in last["designs"]:
            for r, extra in row["over"].items():
                limit = limits.limits[r]
                share = f", {100 * extra / limit:+.1f}%" if limit else ""
                worst.append(f"{row['method']} point {row['point']}: {r} "
                             f"{row[key][r]:g} > {limit:g} "
                             f"({limits.origin(r).split()[0]}){share}")
        why = last.get("infeasible")
        claim = (f"does NOT fit by {name} after "
                 f"{len(iterations)} iteration(s): {'; '.join(worst)}"
                 + (f" (and with its corrections no design fits: {why})" if why else ""))
    return {"measure": key, "iterations": iterations, "fits": fits, "claim": claim}


def synth_figures(qnet: Any, folder: str, device: Any) -> dict[str, float]:
    """Yosys' LUT/FF/DSP/BRAM of one design (through `codesign synth`'s cached run); a
    top-level function, so a process pool or Dask worker can run it."""
    from codesign.synth.run import synthesize

    result = synthesize(qnet, folder, device)
    return {k: float(result[k]) for k in RESOURCES} | {"cached": bool(result["cached"])}
