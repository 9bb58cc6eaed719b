"""Frontier monotonicity and optimality; the named methods on the same tables."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.alloc import Budget, Solver, frontier, method_frontier, run, synthetic_chain
from codesign.alloc.methods import METHODS, ascend_descend, available
from codesign.sensitivity.table import LayerSensitivity, SensitivityTable


def test_frontier_is_monotone_and_each_point_optimal():
    cands = synthetic_chain(5, bits=(2, 4, 8), reuse=(1, 2), seed=2)
    solver = Solver(cands, ("lut", "dsp"))
    points = frontier(cands, Budget({"dsp": 10}), "lut", 15, solver=solver)
    assert len(points) >= 4
    luts = [p.cost["lut"] for p in points]
    omegas = [p.omega for p in points]
    assert luts == sorted(luts) and len(set(luts)) == len(luts)
    assert all(a > b for a, b in zip(omegas, omegas[1:], strict=False))
    for p in points:  # nothing better exists at the point's own cost
        best = solver.solve(Budget({"dsp": 10, "lut": p.cost["lut"]}))
        assert best.omega == pytest.approx(p.omega, rel=1e-9)
        assert p.cost["dsp"] <= 10


def _tables(cands):
    """hessian and probe tables whose Omega agrees with the candidates' weight Omega."""
    out = {}
    for method in ("hessian", "probe"):
        layers = {}
        for x in cands.layers:
            w = {int(b): float(x.omega[np.argmax(x.w_bits == b)]) for b in np.unique(x.w_bits)}
            layers[x.name] = LayerSensitivity("conv2d", x.params, score=w[min(w)] / x.params,
                                              weight=w)
        out[method] = SensitivityTable(method, None, None, tuple(sorted(w)), layers)
    return out


@pytest.mark.parametrize("seed", range(3))
def test_exact_beats_or_ties_every_method_and_all_fit(seed):
    cands = synthetic_chain(4, bits=(2, 4, 8), reuse=(1, 2), seed=seed)
    tables = _tables(cands)
    assert available(tables) == list(METHODS)
    solver = Solver(cands, ("lut", "dsp"))
    lo = solver.minimum("lut", Budget({"dsp": 0}))
    for factor in (1.2, 2.0, 4.0):
        budget = Budget({"lut": lo * factor, "dsp": 0})
        best = run("exact", cands, budget, tables, solver=solver)
        for method in METHODS[1:]:
            try:
                alloc = run(method, cands, budget, tables, solver=solver)
            except Exception as exc:  # only "nothing of this method fits" is acceptable
                assert "no design fits" in str(exc)
                continue
            assert alloc.cost["lut"] <= budget.limits["lut"] and alloc.cost["dsp"] == 0
            assert best.omega <= alloc.omega * (1 + 1e-9)
        uni = run("uniform", cands, budget, tables, solver=solver)
        widths = set(uni.tensor_bits) | set(uni.weight_bits(cands).values())
        assert len(widths) == 1


def test_every_method_frontier_point_is_matched_by_exact():
    cands = synthetic_chain(4, bits=(2, 4, 8), reuse=(1, 2), seed=7)
    tables = _tables(cands)
    solver = Solver(cands, ("lut", "dsp"))
    for method in ("uniform", "size-ilp", "ascend-descend"):
        mine = method_frontier(method, cands, Budget({"dsp": 0}), "lut", 12, tables,
                               solver=solver)
        assert mine
        for p in mine:  # the exact design at that LUT is at least as good
            best = solver.solve(Budget({"dsp": 0, "lut": p.cost["lut"]}))
            assert best.omega <= p.omega * (1 + 1e-9)


def test_ascend_descend_holds_the_average_and_favours_sensitive_layers():
    cands = synthetic_chain(5, bits=(2, 4, 6, 8), seed=4)
    trace = {x.name: float(i) for i, x in enumerate(cands.layers)}  # l4 most sensitive
    for target in (3.0, 4.0, 5.5):
        wb = ascend_descend(cands, trace, target)
        avg = sum(x.params * wb[x.name] for x in cands.layers) / cands.total_params
        assert avg <= target + 1e-9
    wb = ascend_descend(cands, trace, 5.0)
    assert wb["l4"] >= wb["l0"]


@pytest.mark.parametrize("seed", range(4))
def test_chain_dynamic_program_equals_the_solver_at_every_cap(seed):
    from codesign.alloc.chain import applies, chain_frontier

    cands = synthetic_chain(5, bits=(2, 4, 8), reuse=(1, 2), seed=seed)
    budget = Budget({"dsp": 0} if seed % 2 else {"dsp": 0, "interval": 20})
    assert applies(cands, budget, "lut") and not applies(cands, Budget({"dsp": 5}), "lut")
    solver = Solver(cands, ("lut", "dsp"))
    lo = solver.minimum("lut", budget)
    caps = np.linspace(lo, lo * 5, 9)
    front = chain_frontier(cands, budget, "lut", caps=caps)
    for cap in caps:
        best = min(a.omega for a in front if a.cost["lut"] <= cap)
        assert best == pytest.approx(solver.solve(budget.with_limit("lut", cap)).omega,
                                     rel=1e-9)


def test_uniform_sweeps_weight_widths_when_activations_are_held_at_one_width():
    """A weights-only table (activations fixed at 8 bits, as the Quickstart flow's) still
    gives uniform precision at every weight width, not only the 8-bit design."""
    from dataclasses import replace

    from codesign.alloc.methods import members

    cands = synthetic_chain(3, bits=(2, 4, 8), reuse=(1,), seed=1, dsp=False)
    held = replace(cands, tensors=[replace(t, bits=np.array([8]), omega=np.zeros(1))
                                   for t in cands.tensors])
    family = members(held, "uniform", _tables(held))
    assert sorted({b for m in family for b in m.weight_bits.values()}) == [2, 4, 8]
    assert all(len(set(m.weight_bits.values())) == 1 and set(m.tensor_bits) == {8}
               for m in family)
    solver = Solver(held, ("lut", "dsp"))
    mine = method_frontier("uniform", held, Budget({"dsp": 0}), "lut", 6, _tables(held),
                           solver=solver)
    assert len(mine) >= 2  # the baseline has a frontier, not one point


def test_no_constant_star_that_cannot_be_a_dsp_is_offered(cnn_graph, make_table):
    """At RF 1 `multiplier: dsp` writes a `*` per constant weight; where no product can be
    a DSP (a 2-bit weight is a shift; narrow operands stay in LUTs) it is the lut style's
    function built worse, and the allocator must not pick it for a lower estimate."""
    from codesign.alloc.candidates import COST_KEYS, build_candidates

    def no_cost(name, w, x, o, r, d, **extra):
        return {k: np.zeros(np.shape(w)) for k in COST_KEYS}

    cands = build_candidates(cnn_graph, make_table(cnn_graph, "digits_cnn", bits=(2, 4, 8)),
                             no_cost, reuse=(1, 4))
    for layer in cands.layers:
        if layer.kind not in ("conv2d", "dense"):
            continue
        star1 = layer.dsp & (layer.reuse == 1)
        assert not (star1 & (layer.w_bits <= 2)).any(), layer.name
        assert not (star1 & (layer.w_bits + layer.x_bits < 9)).any(), layer.name
        assert (star1 & (layer.w_bits == 8)).any(), layer.name  # still offered where it may map
        assert (layer.dsp & (layer.reuse == 4) & (layer.w_bits == 2)).any()  # folded: a ROM
