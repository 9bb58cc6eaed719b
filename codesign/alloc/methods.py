"""The allocators by name, all on the same candidates table and budget.

`exact` is the hardware-aware MILP. The others choose widths by their own rule (a family
of width assignments indexed by a knob, such as the average weight width), and only then
the hardware (reuse, multiplier style) is fitted to the budget by the same solver, with
the widths fixed; under a budget each method gets its best member that fits. So every
method is compared at equal or lower cost, with Omega from the same table.

  uniform         every weight and activation at one width (the usual baseline); with a
                  weights-only table (activations held at one width), every weight at
                  one width, each width the table has
  ascend-descend  S1: from a uniform weight width, lower the least Hessian-trace-sensitive
                  layers and raise the most sensitive, one step at a time, while the
                  average weight width holds
  probe           S2: weight widths from probe importance (the probe-loss increase at the
                  lowest width): log2 of a layer's importance relative to the mean decides
                  how many bits above or below the knob it gets
  pareto          S4: the (trace x size) Omega vs model size Pareto frontier of weight
                  widths, solved exactly
  size-ilp        HAWQ-v3-like: minimum Omega under a model-size limit only (hardware-blind)
The width-driven methods keep activations uniform (a second knob).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from codesign.alloc import chain
from codesign.alloc.budget import Budget
from codesign.alloc.candidates import AllocationError, Candidates, LayerCandidates, Tensor
from codesign.alloc.frontier import axis_range, frontier, non_dominated
from codesign.alloc.solver import Allocation, Solver, allocate, infeasible
from codesign.sensitivity.table import SensitivityTable

METHODS = ("exact", "uniform", "ascend-descend", "probe", "pareto", "size-ilp")


@dataclass(frozen=True)
class Member:
    """One width assignment of a width-driven method."""

    weight_bits: dict[str, int]
    tensor_bits: tuple[int, ...]
    knob: str


# -- families of width assignments ---------------------------------------------------------
def _weighted(cands: Candidates) -> list[LayerCandidates]:
    return [x for x in cands.layers if x.params]


def _w_options(layer: LayerCandidates) -> list[int]:
    return sorted({int(b) for b in layer.w_bits})


def _uniform_tensors(cands: Candidates, a: int) -> tuple[int, ...]:
    return tuple(a if a in t.bits else int(_nearest(t.bits, a)) for t in cands.tensors)


def _nearest(options, value: float) -> int:
    options = np.asarray(sorted(options))
    return int(options[np.argmin(np.abs(options - value) + 1e-9 * options)])


def _act_widths(cands: Candidates) -> list[int]:
    return sorted({int(b) for t in cands.tensors for b in t.bits})


def _avg(cands: Candidates, wb: Mapping[str, int]) -> float:
    total = cands.total_params or 1
    return sum(x.params * wb[x.name] for x in _weighted(cands)) / total


def _w_omega(layer: LayerCandidates, b: int) -> float:
    return float(layer.omega[np.argmax(layer.w_bits == b)])


def family_uniform(cands: Candidates, tables: Mapping[str, SensitivityTable]) -> list[Member]:
    """One member per width any tensor or weight may take: weights and activations at
    that width, or the nearest they allow. Activation widths alone would leave a
    weights-only table (activations held at 8 bits) a single, 8-bit uniform design."""
    widths = set(_act_widths(cands)) | {b for x in _weighted(cands) for b in _w_options(x)}
    return [Member({x.name: _nearest(_w_options(x), b) for x in _weighted(cands)},
                   _uniform_tensors(cands, b), f"uniform {b}")
            for b in sorted(widths)]


def _trace_table(tables: Mapping[str, SensitivityTable], name: str) -> SensitivityTable:
    for method in ("hessian", "joint"):
        if method in tables:
            return tables[method]
    raise AllocationError(f"method {name} needs a hessian or joint sensitivity table "
                          f"(its Hessian traces); given: {', '.join(tables) or 'none'}")


def ascend_descend(cands: Candidates, trace: Mapping[str, float], target: float
                   ) -> dict[str, int]:
    """S1 (our reading): start uniform at the widest width whose average fits `target`;
    ascend the most trace-sensitive layers while the average holds; then repeatedly descend
    the least sensitive layer one step and ascend the most sensitive ones it pays for,
    keeping the move only if total Omega falls."""
    layers = _weighted(cands)
    order = sorted(layers, key=lambda x: -trace.get(x.name, 0.0))  # most sensitive first
    opts = {x.name: _w_options(x) for x in layers}
    common = sorted(set.intersection(*(set(o) for o in opts.values())))
    start = max([b for b in common if b <= target] or [common[0]])
    wb = {x.name: start for x in layers}

    def omega(w: dict[str, int]) -> float:
        return sum(_w_omega(x, w[x.name]) for x in layers)

    def ascend(w: dict[str, int]) -> dict[str, int]:
        w = dict(w)
        moved = True
        while moved:
            moved = False
            for x in order:
                o = opts[x.name]
                i = o.index(w[x.name])
                if i + 1 < len(o):
                    trial = {**w, x.name: o[i + 1]}
                    if _avg(cands, trial) <= target + 1e-9:
                        w, moved = trial, True
                        break
        return w

    wb = ascend(wb)
    for _ in range(4 * len(layers) * max(len(o) for o in opts.values())):
        improved = False
        for x in reversed(order):  # least sensitive first
            o = opts[x.name]
            i = o.index(wb[x.name])
            if i == 0:
                continue
            trial = ascend({**wb, x.name: o[i - 1]})
            if omega(trial) < omega(wb) - 1e-15:
                wb, improved = trial, True
                break
        if not improved:
            break
    return wb


def _targets(cands: Candidates) -> list[float]:
    widths = sorted({b for x in _weighted(cands) for b in _w_options(x)})
    mids = [(a + b) / 2 for a, b in zip(widths, widths[1:], strict=False)]
    return sorted(set(widths) | set(mids))


def family_ascend_descend(cands: Candidates, tables: Mapping[str, SensitivityTable]
                          ) -> list[Member]:
    table = _trace_table(tables, "ascend-descend")
    trace = {n: float(s.score or 0.0) for n, s in table.layers.items()}
    out = []
    for target in _targets(cands):
        wb = ascend_descend(cands, trace, target)
        out += [Member(wb, _uniform_tensors(cands, a), f"avg {target:g} bits, act {a}")
                for a in _act_widths(cands)]
    return out


def family_probe(cands: Candidates, tables: Mapping[str, SensitivityTable]) -> list[Member]:
    if "probe" not in tables:
        raise AllocationError("method probe needs a probe sensitivity table "
                              "(`codesign sensitivity MODEL --method probe`)")
    table = tables["probe"]
    layers = _weighted(cands)
    importance = {}
    for x in layers:
        w = table.layers[x.name].weight or {}
        importance[x.name] = max(w.get(min(w), 0.0) if w else 0.0, 1e-12)
    mean_log = float(np.mean([math.log2(v) for v in importance.values()]))
    out = []
    for k in _act_widths(cands):
        wb = {x.name: _nearest(_w_options(x), k + round(math.log2(importance[x.name])
                                                         - mean_log) / 2)
              for x in layers}
        out += [Member(wb, _uniform_tensors(cands, a), f"probe knob {k}, act {a}")
                for a in _act_widths(cands)]
    return out


def _weights_problem(cands: Candidates, omega_of: Callable[[LayerCandidates, int], float]
                     ) -> Candidates:
    """Weights alone as a candidates table (for the model-size frontiers of S4/HAWQ-v3)."""
    layers = []
    dummy = Tensor("none", (), np.array([0]), np.zeros(1))
    for x in _weighted(cands):
        w = np.array(_w_options(x))
        zeros = np.zeros(len(w))
        layers.append(LayerCandidates(
            x.name, x.kind, x.params, None, 0, w, zeros.astype(int), zeros.astype(int),
            np.ones(len(w), int), zeros.astype(bool),
            np.array([omega_of(x, int(b)) for b in w]),
            {k: zeros.copy() for k in ("lut", "ff", "dsp", "bram", "latency", "interval")}))
    return Candidates(layers, [dummy], cands.objective)


def _size_family(cands: Candidates, omega_of: Callable[[LayerCandidates, int], float],
                 name: str, points: int = 24) -> list[Member]:
    problem = _weights_problem(cands, omega_of)
    out = []
    for p in frontier(problem, Budget({}), "size", points):
        wb = p.weight_bits(problem)
        out += [Member(wb, _uniform_tensors(cands, a), f"{name} size {p.cost['size']:g}, "
                                                       f"act {a}")
                for a in _act_widths(cands)]
    return out


def family_pareto(cands: Candidates, tables: Mapping[str, SensitivityTable]) -> list[Member]:
    if "joint" in tables:
        joint = tables["joint"]

        def omega_of(x: LayerCandidates, b: int) -> float:
            w = joint.layers[x.name].weight
            assert w is not None
            return w[b]
    else:
        # trace x size weighting from a hessian table: Tr/n x n x (relative) 4^-b
        table = _trace_table(tables, "pareto")

        def omega_of(x: LayerCandidates, b: int) -> float:
            return float(table.layers[x.name].score or 0.0) * x.params * 4.0 ** -b
    return _size_family(cands, omega_of, "pareto")


def family_size_ilp(cands: Candidates, tables: Mapping[str, SensitivityTable]) -> list[Member]:
    return _size_family(cands, _w_omega, "size-ilp")


FAMILIES = {"uniform": family_uniform, "ascend-descend": family_ascend_descend,
            "probe": family_probe, "pareto": family_pareto, "size-ilp": family_size_ilp}


# -- from a width assignment to a design under a budget ------------------------------------
def member_mask(cands: Candidates, m: Member) -> list[np.ndarray]:
    masks = []
    for x in cands.layers:
        ok = x.out_bits == m.tensor_bits[x.out_tensor]
        if x.in_tensor is not None:
            ok &= x.x_bits == m.tensor_bits[x.in_tensor]
        if x.params:
            ok &= x.w_bits == m.weight_bits[x.name]
        masks.append(ok)
    return masks


def member_omega(cands: Candidates, m: Member) -> float:
    total = sum(_w_omega(x, m.weight_bits[x.name]) for x in _weighted(cands))
    for t, b in zip(cands.tensors, m.tensor_bits, strict=True):
        total += float(t.omega[list(t.bits).index(b)])
    return total


def _unique(members: list[Member]) -> list[Member]:
    seen, out = set(), []
    for m in members:
        key = (tuple(sorted(m.weight_bits.items())), m.tensor_bits)
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def members(cands: Candidates, method: str, tables: Mapping[str, SensitivityTable]
            ) -> list[Member]:
    if method not in FAMILIES:
        raise AllocationError(f"unknown allocation method {method!r}; choose one of "
                              f"{', '.join(METHODS)}")
    found = _unique(FAMILIES[method](cands, tables))
    return sorted(found, key=lambda m: member_omega(cands, m))


def run(method: str, cands: Candidates, budget: Budget,
        tables: Mapping[str, SensitivityTable] | None = None, *,
        solver: Solver | None = None) -> Allocation:
    """The method's design under `budget` (InfeasibleBudget when none of its fits)."""
    solver = solver or Solver(cands, tuple(budget.limits))
    if method == "exact":
        return allocate(cands, budget, solver=solver)
    for m in members(cands, method, tables or {}):  # best Omega first
        alloc = solver.solve(budget, "lut", method=method, mask=member_mask(cands, m))
        if alloc is not None:
            return replace(alloc, notes={"knob": m.knob})
    raise infeasible(solver, budget)


def method_frontier(method: str, cands: Candidates, budget: Budget, axis: str = "lut",
                    points: int = 20, tables: Mapping[str, SensitivityTable] | None = None,
                    *, solver: Solver | None = None,
                    span: tuple[float, float] | None = None) -> list[Allocation]:
    """The method's best design at each of `points` caps on `axis` (the exact frontier's
    caps unless `span` is given), non-dominated."""
    solver = solver or Solver(cands, (*budget.limits, axis))
    if method == "exact":
        if span is None:
            return frontier(cands, budget, axis, points, solver=solver)
    lo, hi = span or axis_range(solver, budget, axis)
    caps = np.linspace(lo, hi, points) if points > 1 else np.array([hi])
    if method == "exact":
        found = chain.frontier_if_exact(cands, budget, axis, caps=caps)
        if found is not None:
            return non_dominated(found, axis)
        found = [solver.solve(budget.with_limit(axis, float(c))) for c in caps]
        return non_dominated([a for a in found if a is not None], axis)
    others = budget.without(axis)
    cheapest = []  # per member: its cheapest hardware on the axis, other limits held
    for m in members(cands, method, tables or {}):
        alloc = solver.solve(others, axis, method=method, mask=member_mask(cands, m))
        if alloc is not None:
            cheapest.append(replace(alloc, notes={"knob": m.knob}))
    found = []
    for cap in caps:
        fitting = [a for a in cheapest if a.cost[axis] <= cap * (1 + 1e-9)]
        if fitting:
            found.append(min(fitting, key=lambda a: (a.omega, a.cost[axis])))
    return non_dominated(found, axis)


def available(tables: Mapping[str, SensitivityTable]) -> list[str]:
    """The methods the given tables support (probe needs a probe table, the trace-driven
    ones a hessian or joint table)."""
    out = ["exact", "uniform"]
    if "hessian" in tables or "joint" in tables:
        out += ["ascend-descend", "pareto"]
    if "probe" in tables:
        out.append("probe")
    out.append("size-ilp")
    return [m for m in METHODS if m in out]
