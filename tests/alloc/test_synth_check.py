"""`allocate --synth-check`: the loop that corrects the costs by what Yosys measured and
re-solves until the designs fit by Yosys (here with a stand-in for Yosys, so the loop's
logic is checked in milliseconds; tests/alloc/test_synth_check_yosys.py runs the real one)."""

from __future__ import annotations

import pytest

from codesign.alloc import Budget, Solver, synthetic_chain
from codesign.alloc.budget import RESOURCES
from codesign.alloc.pipeline import designs
from codesign.alloc.synthcheck import synth_loop


def _setup(seed: int = 1):
    cands = synthetic_chain(4, bits=(2, 4, 8), reuse=(1, 2), seed=seed)
    solver = Solver(cands, ("lut", "dsp"))
    lo = solver.minimum("lut", Budget({"dsp": 0}))
    limits = Budget({"lut": 3 * lo, "ff": 1e9, "dsp": 0, "bram": 1e9})
    return cands, limits


def _yosys(lut_ratio: float, lut_extra: float = 0.0):
    """A stand-in synthesizer: LUT off the allocator's estimate by a fixed ratio, the rest
    exact, measured on the allocation's own choice in the uncorrected table."""
    calls = []

    def measure(checked, n):
        calls.append(n)
        return [{**{k: a.cost[k] for k in RESOURCES}, "lut": a.cost["lut"] * lut_ratio
                 + lut_extra} for _, _, a in checked]

    return measure, calls


def test_a_miss_is_corrected_and_the_returned_design_fits_by_yosys():
    cands, limits = _setup()
    truth = 1.4  # Yosys says 40% more LUT than the estimate
    solve = lambda c: designs(c, limits, ("exact",), {})  # noqa: E731
    first = solve(cands)[0]["exact"][0]
    assert first.cost["lut"] * truth > limits.limits["lut"]  # the estimate alone misses
    measure, calls = _yosys(truth)
    # the stand-in measures on the table it was given: scale back by the correction
    found, _, table, check = synth_loop(cands, limits, 1, "lut", solve,
                                       _on_raw(measure, cands))
    (final,) = found["exact"]
    raw_lut = sum(x.cost["lut"][i] for x, i in zip(cands.layers, final.choice, strict=True))
    assert raw_lut * truth <= limits.limits["lut"]  # fits by (stand-in) Yosys
    assert check["fits"] and check["claim"].startswith("fits by Yosys")
    its = check["iterations"]
    assert len(its) == 2 and its[0]["designs"][0]["over"] and not its[1]["designs"][0]["over"]
    assert its[0]["next_correction"]["lut"] == pytest.approx(truth)
    assert its[1]["correction"]["lut"] == pytest.approx(truth)
    assert table.notes["correction"]["lut"] == pytest.approx(truth)
    assert calls == [1, 2]


def _on_raw(measure, cands):
    """Measure each allocation on the uncorrected table's costs of its choice."""
    from codesign.alloc.solver import evaluate

    def raw(checked, n):
        again = [(m, i, evaluate(cands, a.choice, a.tensor_bits)) for m, i, a in checked]
        return measure(again, n)

    return raw


def test_a_design_that_never_fits_says_so_and_by_how_much():
    cands, limits = _setup()
    solve = lambda c: designs(c, limits, ("exact",), {})  # noqa: E731
    measure, calls = _yosys(1.0, lut_extra=10 * limits.limits["lut"])
    _, _, _, check = synth_loop(cands, limits, 1, "lut", solve, _on_raw(measure, cands),
                                max_iterations=3)
    assert not check["fits"]
    assert check["claim"].startswith("does NOT fit by Yosys")
    assert "lut" in check["claim"] and "(budget" in check["claim"] and "%" in check["claim"]
    assert 1 <= len(calls) <= 3  # bounded


def test_a_design_that_fits_is_synthesized_once():
    cands, limits = _setup()
    solve = lambda c: designs(c, limits, ("exact",), {}, points=5)  # noqa: E731
    measure, calls = _yosys(0.9)
    found, _, _, check = synth_loop(cands, limits, 2, "lut", solve, measure)
    assert check["fits"] and calls == [1]
    checked = check["iterations"][0]["designs"]
    luts = sorted(a.cost["lut"] for a in found["exact"])
    assert sorted(d["estimate"]["lut"] for d in checked) == luts[-2:]  # nearest the budget
