"""The exact frontier of a chain network by dynamic programming (no solver calls).

When every layer reads the tensor the previous one wrote (plain CNNs: no residual adds)
and the only additive limit besides the swept axis is a zero (dsp=0, bram=0: those just
forbid candidates) or an interval (a per-layer bound), the optimum over the whole axis
can be built layer by layer: for each width of the current tensor keep the partial
designs that no other beats on both axis cost and Omega. The end state holds the exact
Pareto set, every cap's optimum is read off it, and one sweep serves all caps. Tests
check it against the HiGHS solver point by point; other problems use the solver.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from codesign.alloc.budget import Budget
from codesign.alloc.candidates import Candidates
from codesign.alloc.solver import REL_TOL, Allocation, evaluate, fits

ADDITIVE_AXES = ("lut", "ff", "dsp", "bram", "latency", "size", "wbits")


def applies(cands: Candidates, budget: Budget, axis: str) -> bool:
    if axis not in ADDITIVE_AXES:
        return False
    for key, value in budget.limits.items():
        if key != axis and key != "interval" and value != 0:
            return False
    for prev, layer in zip(cands.layers, cands.layers[1:], strict=False):
        if layer.in_tensor != prev.out_tensor:
            return False
    return all(np.all(x.cost[k] >= 0) for x in cands.layers for k in x.cost)


def relaxed(budget: Budget, axis: str) -> Budget:
    """The limits the dynamic program handles (the axis, zero limits, the interval): a
    frontier of this relaxation whose every point fits the whole budget is that budget's
    exact frontier (each point is optimal for a looser problem and feasible for this one),
    which is the usual case when the other limits are the device's capacity."""
    keep = {k: v for k, v in budget.limits.items()
            if k in (axis, "interval") or v == 0}
    return Budget(keep, {k: v for k, v in budget.source.items() if k in keep})


def frontier_if_exact(cands: Candidates, budget: Budget, axis: str,
                      caps: Sequence[float] | None = None, points: int = 20
                      ) -> list[Allocation] | None:
    """The chain frontier under `budget` when the dynamic program gives it exactly: [] when
    nothing fits, None when it cannot say (not a chain, or a point of the relaxation
    breaks a limit it does not handle; the caller then asks the solver)."""
    loose = relaxed(budget, axis)
    if not applies(cands, loose, axis):
        return None
    found = chain_frontier(cands, loose, axis, caps=caps, points=points)
    if all(fits(a, budget) for a in found):
        return found
    return None


def _axis_cost(layer, axis: str, total_params: int) -> np.ndarray:
    if axis in ("size", "wbits"):
        size = layer.params * layer.w_bits.astype(float)
        return size / total_params if axis == "wbits" else size
    return layer.cost[axis]


def _allowed(layer, budget: Budget, axis: str) -> np.ndarray:
    ok = np.ones(len(layer), bool)
    for key, value in budget.limits.items():
        if key == "interval":
            ok &= layer.cost["interval"] <= value * (1 + REL_TOL)
        elif key != axis:  # a zero limit: the candidate must cost nothing of it
            ok &= (layer.params * layer.w_bits if key in ("size", "wbits")
                   else layer.cost[key]) <= 0
    return ok


def _pareto(cost: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """Indices of the entries that no cheaper (or equally cheap, earlier) entry beats or
    ties on Omega, cheapest first: the Pareto set (ties in cost may keep a dominated entry,
    which is harmless)."""
    order = np.argsort(cost, kind="stable")
    best = np.minimum.accumulate(omega[order])
    keep = np.ones(len(order), bool)
    keep[1:] = omega[order][1:] < best[:-1] * (1 - 1e-12)
    return order[keep]


def chain_frontier(cands: Candidates, budget: Budget, axis: str,
                   caps: Sequence[float] | None = None, points: int = 20
                   ) -> list[Allocation]:
    """Optimal designs at `caps` on `axis` (default: `points` caps from the cheapest design
    to the axis limit or the best design's cost), non-dominated, cheapest first."""
    total = cands.total_params or 1
    cap_max = budget.limits.get(axis, np.inf)
    first = cands.layers[0]
    # state: width of the current tensor -> entry arrays (cost, omega, parent entry, cand)
    history: list[tuple[np.ndarray, np.ndarray]] = []  # per layer: (parent, cand) of entries
    if first.in_tensor is None:
        states = {None: (np.zeros(1), np.zeros(1), np.array([-1]))}
    else:
        t = cands.tensors[first.in_tensor]
        states = {int(b): (np.zeros(1), np.array([float(o)]), np.array([-1]))
                  for b, o in zip(t.bits, t.omega, strict=True)}
    for layer in cands.layers:
        ok = _allowed(layer, budget, axis)
        c_axis = _axis_cost(layer, axis, total)
        t_out = cands.tensors[layer.out_tensor]
        new_t = layer.out_tensor != layer.in_tensor
        t_omega = dict(zip(t_out.bits.tolist(), t_out.omega.tolist(), strict=True))
        # global entry index of each state's entries in the previous layer's table
        flat_parent, flat_cand, buckets = [], [], {}
        base = 0
        offsets = {}
        for s, (cost, _, _) in states.items():
            offsets[s] = base
            base += len(cost)
        for c in np.flatnonzero(ok):
            s = None if layer.in_tensor is None else int(layer.x_bits[c])
            if s not in states:
                continue
            cost, omega, _ = states[s]
            add = float(layer.omega[c]) + (t_omega[int(layer.out_bits[c])] if new_t else 0.0)
            out = int(layer.out_bits[c])
            buckets.setdefault(out, []).append(
                (cost + c_axis[c], omega + add, offsets[s] + np.arange(len(cost)), c))
        new_states = {}
        for out, parts in buckets.items():
            cost = np.concatenate([p[0] for p in parts])
            omega = np.concatenate([p[1] for p in parts])
            parent = np.concatenate([p[2] for p in parts])
            cand = np.concatenate([np.full(len(p[0]), p[3]) for p in parts])
            keep = cost <= cap_max * (1 + REL_TOL) + 1e-9
            idx = np.flatnonzero(keep)[_pareto(cost[keep], omega[keep])]
            new_states[out] = (cost[idx], omega[idx], np.arange(len(idx)))
            flat_parent.append(parent[idx])
            flat_cand.append(cand[idx])
        if not new_states:
            return []
        history.append((np.concatenate(flat_parent), np.concatenate(flat_cand)))
        states = new_states
    cost = np.concatenate([s[0] for s in states.values()])
    omega = np.concatenate([s[1] for s in states.values()])
    front = _pareto(cost, omega)
    if caps is None:
        lo, hi = float(cost[front[0]]), min(cap_max, float(cost[front[-1]]))
        caps = np.linspace(lo, hi, points) if points > 1 else [hi]
    chosen = []
    for cap in caps:
        fitting = front[cost[front] <= cap * (1 + REL_TOL) + 1e-9]
        if len(fitting):
            chosen.append(int(fitting[-1]))  # the cheapest-first order: last = best Omega
    out = []
    for entry in dict.fromkeys(chosen):
        choice = []
        for parent, cand in reversed(history):
            choice.append(int(cand[entry]))
            entry = int(parent[entry])
        choice.reverse()
        tbits = [0] * len(cands.tensors)
        for layer, c in zip(cands.layers, choice, strict=True):
            tbits[layer.out_tensor] = int(layer.out_bits[c])
            if layer.in_tensor is not None:
                tbits[layer.in_tensor] = int(layer.x_bits[c])
        out.append(evaluate(cands, choice, tbits))
    return sorted(out, key=lambda a: a.cost[axis])
