"""The Pareto frontier: exact allocations swept along one budget axis.

Every point is the minimum-Omega design under the other limits with the axis capped at a
value between the smallest feasible one and the given cap (or, without a cap, what the
unconstrained optimum uses). Identical designs are merged and a design that another beats
or ties on both Omega and the axis is dropped, so the frontier is strictly monotone.
"""

from __future__ import annotations

import numpy as np

from codesign.alloc import chain
from codesign.alloc.budget import Budget
from codesign.alloc.candidates import AllocationError, Candidates
from codesign.alloc.solver import Allocation, Solver, infeasible

AXES = ("lut", "ff", "dsp", "bram", "latency", "interval", "size", "wbits")


def axis_range(solver: Solver, budget: Budget, axis: str) -> tuple[float, float]:
    """(smallest feasible axis value, the axis cap or what the best design uses; a cap that
    is only the device's capacity counts as no cap)."""
    others = budget.without(axis)
    lo = solver.minimum(axis, others)
    if lo is None:
        raise infeasible(solver, budget)
    if axis in budget.limits and budget.origin(axis).startswith("device"):
        best = solver.solve(budget)
        if best is None:
            raise infeasible(solver, budget)
        return lo, max(lo, best.cost[axis])
    if axis in budget.limits:
        hi = budget.limits[axis]
        if hi < lo:
            raise infeasible(solver, budget)
        return lo, hi
    best = solver.solve(others)
    assert best is not None
    return lo, max(lo, best.cost[axis])


def non_dominated(points: list[Allocation], axis: str) -> list[Allocation]:
    """Distinct designs, sorted by the axis, each with strictly lower Omega than every
    cheaper one (ties on Omega keep the cheapest)."""
    unique = {p.key(): p for p in points}
    ordered = sorted(unique.values(), key=lambda p: (p.cost[axis], p.omega))
    out: list[Allocation] = []
    for p in ordered:
        if not out or p.omega < out[-1].omega * (1 - 1e-12) - 1e-15:
            if out and p.cost[axis] == out[-1].cost[axis]:
                continue  # same cost, worse or equal Omega: already have the better one
            out.append(p)
    return out


def frontier(cands: Candidates, budget: Budget, axis: str = "lut", points: int = 20, *,
             solver: Solver | None = None) -> list[Allocation]:
    """Up to `points` exact designs along `axis`, non-dominated (Omega vs axis)."""
    if axis not in AXES:
        raise AllocationError(f"unknown frontier axis {axis!r}; choose one of {', '.join(AXES)}")
    if points < 1:
        raise AllocationError(f"a frontier needs at least one point, not {points}")
    solver = solver or Solver(cands, (*budget.limits, axis))
    found = chain.frontier_if_exact(cands, budget, axis, points=points)
    if found is not None:
        if not found:
            raise infeasible(solver, budget)
        return non_dominated(found, axis)
    lo, hi = axis_range(solver, budget, axis)
    caps = np.linspace(lo, hi, points) if points > 1 else np.array([hi])
    found = []
    for cap in caps:
        alloc = solver.solve(budget.with_limit(axis, float(cap)))
        if alloc is not None:
            found.append(alloc)
    return non_dominated(found, axis)


def frontier_row(allocate_outputs: dict, device: str, method: str, index: int) -> dict:
    """Frontier point `index` of `method` on `device` in an allocate stage's outputs
    (what a flow's allocated sweep point and its report read back)."""
    rows = allocate_outputs["devices"][device]["points"]
    return next(r for r in rows if r["method"] == method and r["point"] == index)
