"""The exact allocator: one mixed-integer program over the candidates table, by HiGHS.

Variables: z[l, c] = 1 when layer l takes candidate c, y[t, b] = 1 when tensor t gets
width b. Each layer takes one candidate, each tensor one width, and a layer's candidate
agrees with the tensors it reads and writes (sum of z over candidates reading width b of
tensor t equals y[t, b]). Budgets are linear rows over z (resources and latency add over
layers, model size is params x weight bits); the network's interval is the slowest
layer's, so `interval <= T` removes the candidates slower than T. The objective is total
Omega (weights on z, activations on y) or, to find the smallest feasible budget, one cost.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np

from codesign.alloc.budget import BUDGET_KEYS, Budget
from codesign.alloc.candidates import COST_KEYS, AllocationError, Candidates

ADDITIVE = ("lut", "ff", "dsp", "bram", "latency")
REL_TOL = 1e-9  # budgets hold to this relative slack (floating point of the solver)


class InfeasibleBudget(AllocationError):
    """No candidate combination fits; `smallest` holds, per limited key, the smallest value
    of that limit that is feasible with the other limits held (None: not even then)."""

    def __init__(self, message: str, smallest: dict[str, float | None]):
        super().__init__(message)
        self.smallest = smallest


@dataclass(frozen=True, eq=False)
class Allocation:
    """One solution: the chosen candidate per layer and width per tensor, with totals."""

    choice: tuple[int, ...]
    tensor_bits: tuple[int, ...]
    omega: float
    cost: dict[str, float]  # COST_KEYS totals (interval: max) + size (bits) + wbits
    method: str = "exact"
    notes: dict = field(default_factory=dict)

    def key(self) -> tuple:
        return self.choice + self.tensor_bits

    def layers(self, cands: Candidates) -> dict[str, dict]:
        return {layer.name: layer.describe(i)
                for layer, i in zip(cands.layers, self.choice, strict=True)}

    def act_bits(self, cands: Candidates) -> dict[str, int]:
        """Width of every rounded layer's result (tied members share their tensor's)."""
        return {m: int(b) for t, b in zip(cands.tensors, self.tensor_bits, strict=True)
                for m in t.members}

    def weight_bits(self, cands: Candidates) -> dict[str, int]:
        return {layer.name: int(layer.w_bits[i])
                for layer, i in zip(cands.layers, self.choice, strict=True) if layer.params}

    def to_dict(self, cands: Candidates) -> dict:
        return {"method": self.method, "omega": self.omega,
                "cost": {k: float(v) for k, v in self.cost.items()},
                "layers": self.layers(cands), "act_bits": self.act_bits(cands),
                **({"notes": self.notes} if self.notes else {})}


def evaluate(cands: Candidates, choice: Sequence[int], tensor_bits: Sequence[int],
             method: str = "exact") -> Allocation:
    """Totals of a choice, computed straight from the table (no solver arithmetic)."""
    for layer, i in zip(cands.layers, choice, strict=True):
        want_in = None if layer.in_tensor is None else tensor_bits[layer.in_tensor]
        if (want_in is not None and layer.x_bits[i] != want_in) or \
                layer.out_bits[i] != tensor_bits[layer.out_tensor]:
            raise AllocationError(f"layer {layer.name!r}: candidate {i} disagrees with the "
                                  "tensor widths")
    omega = sum(float(layer.omega[i]) for layer, i in zip(cands.layers, choice, strict=True))
    for t, b in zip(cands.tensors, tensor_bits, strict=True):
        omega += float(t.omega[list(t.bits).index(b)])
    cost = {k: float(sum(layer.cost[k][i] for layer, i in
                         zip(cands.layers, choice, strict=True))) for k in ADDITIVE}
    cost["interval"] = float(max(layer.cost["interval"][i]
                                 for layer, i in zip(cands.layers, choice, strict=True)))
    size = float(sum(layer.params * int(layer.w_bits[i])
                     for layer, i in zip(cands.layers, choice, strict=True)))
    cost["size"] = size
    cost["wbits"] = size / cands.total_params if cands.total_params else 0.0
    return Allocation(tuple(int(i) for i in choice), tuple(int(b) for b in tensor_bits),
                      omega, cost, method)


def fits(alloc: Allocation, budget: Budget) -> bool:
    return all(alloc.cost[k] <= v * (1 + REL_TOL) + 1e-9 for k, v in budget.limits.items())


class Solver:
    """One HiGHS model per candidates table; solve() re-bounds it for each budget, so a
    frontier sweep builds the model once. solve()'s `mask` (per layer, bool per candidate)
    restricts the choices (how the width-driven methods fix their widths)."""

    def __init__(self, cands: Candidates, keys: Sequence[str] = BUDGET_KEYS):
        self.cands = cands
        self.offsets = np.cumsum([0] + [len(x) for x in cands.layers])
        self.n_z = int(self.offsets[-1])
        self.y_offsets = self.n_z + np.cumsum([0] + [len(t.bits) for t in cands.tensors])
        self.n = int(self.y_offsets[-1])
        self.keys = [k for k in BUDGET_KEYS if k in keys and k != "interval"]
        rows: list[tuple[np.ndarray, np.ndarray, float, float]] = []
        for li, layer in enumerate(cands.layers):
            rows.append((self._z(li), np.ones(len(layer)), 1.0, 1.0))
        for ti, t in enumerate(cands.tensors):
            rows.append((self._y(ti), np.ones(len(t.bits)), 1.0, 1.0))
        for li, layer in enumerate(cands.layers):
            sides = [(layer.in_tensor, layer.x_bits), (layer.out_tensor, layer.out_bits)]
            if layer.in_tensor == layer.out_tensor or layer.in_tensor is None:
                sides = sides[1:] if layer.in_tensor is None else sides[:1]
            for ti, chosen in sides:
                assert ti is not None
                for j, b in enumerate(cands.tensors[ti].bits):
                    idx = self._z(li)[chosen == b]
                    rows.append((np.append(idx, self.y_offsets[ti] + j),
                                 np.append(np.ones(len(idx)), -1.0), 0.0, 0.0))
        self.budget_rows: dict[str, int] = {}
        for key in self.keys:
            self.budget_rows[key] = len(rows)
            rows.append((np.arange(self.n_z), self._coeffs(key), -highspy.kHighsInf,
                         highspy.kHighsInf))
        self._build(rows)
        self._objective: str | None = None

    # -- model --------------------------------------------------------------------------
    def _z(self, li: int) -> np.ndarray:
        return np.arange(self.offsets[li], self.offsets[li + 1])

    def _y(self, ti: int) -> np.ndarray:
        return np.arange(self.y_offsets[ti], self.y_offsets[ti + 1])

    def _coeffs(self, key: str) -> np.ndarray:
        if key in ("size", "wbits"):
            return np.concatenate([layer.params * layer.w_bits.astype(float)
                                   for layer in self.cands.layers])
        return np.concatenate([layer.cost[key] for layer in self.cands.layers])

    def _build(self, rows: list) -> None:
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n, len(rows)
        lp.col_cost_ = np.zeros(self.n)
        lp.col_lower_ = np.zeros(self.n)
        lp.col_upper_ = np.ones(self.n)
        lp.row_lower_ = np.array([r[2] for r in rows])
        lp.row_upper_ = np.array([r[3] for r in rows])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.cumsum([0] + [len(r[0]) for r in rows]).astype(np.int32)
        lp.a_matrix_.index_ = np.concatenate([r[0] for r in rows]).astype(np.int32)
        lp.a_matrix_.value_ = np.concatenate([r[1] for r in rows]).astype(float)
        lp.integrality_ = [highspy.HighsVarType.kInteger] * self.n
        h = _new_highs()
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 1e-12)
        h.setOptionValue("primal_feasibility_tolerance", 1e-9)
        h.setOptionValue("mip_feasibility_tolerance", 1e-9)
        h.setOptionValue("threads", 1)
        h.passModel(lp)
        self.h = h

    def _set_objective(self, objective: str) -> None:
        if objective == self._objective:
            return
        if objective == "omega":
            cost = np.concatenate([layer.omega for layer in self.cands.layers]
                                  + [t.omega for t in self.cands.tensors])
            scale = sum(float(np.max(np.abs(x.omega))) for x in self.cands.layers) + sum(
                float(np.max(np.abs(t.omega))) for t in self.cands.tensors)
            cost = cost / (scale or 1.0)
        elif objective in COST_KEYS or objective in ("size", "wbits"):
            cost = np.concatenate([self._coeffs(objective), np.zeros(self.n - self.n_z)])
            cost = cost / (float(np.max(np.abs(cost))) or 1.0)
        else:
            raise AllocationError(f"unknown objective {objective!r}")
        self.h.changeColsCost(self.n, np.arange(self.n, dtype=np.int32), cost)
        self._objective = objective

    def _col_upper(self, budget: Budget, mask: Sequence[np.ndarray] | None) -> np.ndarray:
        upper = np.ones(self.n)
        limit = budget.limits.get("interval")
        for li, layer in enumerate(self.cands.layers):
            ok = np.isin(layer.x_bits, self.cands.tensors[layer.in_tensor].bits) \
                if layer.in_tensor is not None else np.ones(len(layer), bool)
            if limit is not None:
                ok &= layer.cost["interval"] <= limit * (1 + REL_TOL)
            if mask is not None:
                ok &= mask[li]
            upper[self._z(li)] = ok
        return upper

    # -- solving ------------------------------------------------------------------------
    def solve(self, budget: Budget, objective: str = "omega", method: str = "exact",
              mask: Sequence[np.ndarray] | None = None) -> Allocation | None:
        """The optimum under `budget`, or None when nothing fits."""
        missing = [k for k in budget.limits if k != "interval" and k not in self.budget_rows]
        if missing:
            raise AllocationError(f"this solver was built without rows for {missing}")
        total = self.cands.total_params
        for key, row in self.budget_rows.items():
            limit = budget.limits.get(key)
            upper = highspy.kHighsInf if limit is None else (
                limit * total if key == "wbits" else limit)
            self.h.changeRowBounds(row, -highspy.kHighsInf, upper)
        upper = self._col_upper(budget, mask)
        self.h.changeColsBounds(self.n, np.arange(self.n, dtype=np.int32), np.zeros(self.n),
                                upper)
        self._set_objective(objective)
        self.h.run()
        status = self.h.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            return None
        if status != highspy.HighsModelStatus.kOptimal:
            raise AllocationError(f"HiGHS stopped with {self.h.modelStatusToString(status)}")
        x = np.asarray(self.h.getSolution().col_value)
        choice = [int(np.argmax(x[self._z(li)])) for li in range(len(self.cands.layers))]
        tbits = [int(t.bits[np.argmax(x[self._y(ti)])])
                 for ti, t in enumerate(self.cands.tensors)]
        alloc = evaluate(self.cands, choice, tbits, method)
        if not fits(alloc, budget):
            raise AllocationError(f"solver returned a design over budget ({alloc.cost})")
        return alloc

    def minimum(self, key: str, budget: Budget,
                mask: Sequence[np.ndarray] | None = None) -> float | None:
        """The smallest total of `key` (a budget key) any design under `budget` reaches."""
        if key == "interval":
            values = np.unique(np.concatenate([x.cost["interval"] for x in self.cands.layers]))
            lo, hi, best = 0, len(values) - 1, None
            while lo <= hi:  # the slowest layer's interval: bisect over the distinct values
                mid = (lo + hi) // 2
                if self.solve(budget.with_limit("interval", values[mid]), "lut",
                              mask=mask) is not None:
                    best, hi = float(values[mid]), mid - 1
                else:
                    lo = mid + 1
            return best
        alloc = self.solve(budget, key, mask=mask)
        return None if alloc is None else alloc.cost[key]


def allocate(cands: Candidates, budget: Budget, *, solver: Solver | None = None) -> Allocation:
    """Minimum total Omega under `budget`; raises InfeasibleBudget with the smallest
    feasible value of every limit when nothing fits."""
    solver = solver or Solver(cands, tuple(budget.limits))
    alloc = solver.solve(budget)
    if alloc is None:
        raise infeasible(solver, budget)
    return alloc


def infeasible(solver: Solver, budget: Budget) -> InfeasibleBudget:
    smallest: dict[str, float | None] = {}
    for key in budget.limits:
        smallest[key] = solver.minimum(key, budget.without(key))
    parts = []
    for key, value in smallest.items():
        if value is None:
            alone = solver.minimum(key, Budget({}))
            parts.append(f"{key}: none while the other limits hold (they conflict by "
                         f"themselves; on its own {key} needs >= {_fmt(alone or 0)})")
        else:
            parts.append(f"{key} >= {_fmt(value)} (asked {_fmt(budget.limits[key])})")
    return InfeasibleBudget(
        f"no design fits the budget {budget.text()}. Smallest feasible value of each limit "
        f"with the other limits held: {'; '.join(parts)}", smallest)


def _new_highs() -> highspy.Highs:
    """A silent HiGHS. Its first construction in a process prints a banner ("Running
    HiGHS ... Copyright ...") on file descriptor 1 before any option can be set: that
    would break `--json` (one object on stdout) and is noise on stderr, so it goes to
    the null device; output_flag off then silences every later run."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("log_to_console", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
    return h


def _fmt(value: float) -> str:
    return f"{value:.6g}"
