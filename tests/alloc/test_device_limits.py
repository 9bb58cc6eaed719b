"""The part is always a limit: no method returns a design over any device resource,
whatever resources the budget names, and every point says which limit binds."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesign.alloc import Budget, Solver, synthetic_chain
from codesign.alloc.budget import RESOURCES, on_device
from codesign.alloc.methods import METHODS
from codesign.alloc.pipeline import designs, run_allocate
from codesign.devices import Device
from tests.alloc.test_frontier_methods import _tables


def _tight_device(cands) -> Device:
    """A part with 60% of what the unconstrained best design uses of every resource (at
    least the cheapest design's need), so each capacity can bind."""
    solver = Solver(cands, RESOURCES)
    best = solver.solve(Budget({})).cost
    least = {k: solver.minimum(k, Budget({})) for k in RESOURCES}
    cap = {k: int(max(least[k], 0.6 * best[k], 1)) for k in RESOURCES}
    return Device("tiny", "xc7", cap["lut"], cap["ff"], cap["dsp"], cap["bram"])


def _over(cost: dict, dev: Device) -> dict:
    return {k: cost[k] for k in RESOURCES if cost[k] > getattr(dev, k)}


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("asked", [{}, {"lut": 0.9}, {"lut": 0.9, "ff": 10, "dsp": 10,
                                                     "bram": 0.9}])
def test_no_method_returns_a_design_over_the_device(seed, asked):
    """Budgets on none, one or all resources (as device shares; 10 = ten times the part,
    which is clamped)."""
    cands = synthetic_chain(4, bits=(2, 4, 8), reuse=(1, 2), seed=seed)
    dev = _tight_device(cands)
    budget = Budget({k: share * getattr(dev, k) for k, share in asked.items()})
    limits, notes = on_device(budget, dev)
    assert set(RESOURCES) <= set(limits.limits)
    assert len(notes) == sum(share > 1 for share in asked.values())  # the clamped ones
    tables = _tables(cands)
    solver = Solver(cands, tuple(limits.limits))
    for points in (0, 6):
        found, _ = designs(cands, limits, METHODS, tables, points=points)
        assert found["exact"]
        for method, allocs in found.items():
            for a in allocs:
                assert not _over(a.cost, dev), (method, points)
                if method == "exact" and points:  # still optimal at its own LUT
                    best = solver.solve(limits.with_limit("lut", a.cost["lut"]))
                    assert best.omega == pytest.approx(a.omega, rel=1e-9)
                bind = limits.binding(a.cost)
                assert bind is not None and bind["slack"] >= -1e-9
                assert bind["slack"] == min((limits.limits[k] - a.cost[k]) / limits.limits[k]
                                            for k in limits.limits if limits.limits[k] > 0)


def test_binding_names_the_least_slack_limit_and_its_source():
    dev = Device("tiny", "xc7", lut=1000, ff=2000, dsp=10, bram=4)
    limits, notes = on_device(Budget({"lut": 4200, "dsp": 0}), dev)
    assert limits.limits["lut"] == 1000 and "clamped" in notes[0] and "lut=4200" in notes[0]
    cost = {"lut": 900, "ff": 100, "dsp": 0, "bram": 1}
    assert limits.binding(cost)["text"] == "lut (device 1000), 10% free"
    limits, _ = on_device(Budget({"lut": 950}), dev)
    assert limits.binding(cost)["text"] == "lut (budget 950), 5% free"
    assert limits.binding({**cost, "dsp": 10})["text"] == "dsp (device 10), 0% free"
    # under an error band the solver held lut 950 / 1.25 = 760: the slack is measured there
    held = Budget({**limits.limits, "lut": 760.0}, limits.source)
    bind = limits.binding({**cost, "lut": 700}, held)
    assert bind["key"] == "lut" and bind["slack"] == pytest.approx(60 / 760)
    assert bind["text"] == "lut (budget 950, planned 760), 8% free"


def test_a_real_frontier_stays_within_the_part(cnn_job, tmp_path: Path):
    result = run_allocate(cnn_job, tmp_path)
    dev = cnn_job.device
    assert result["points"]
    for p in result["points"]:
        assert not _over(p, dev), p
        assert p["binding"]
    assert any(p["binding"].startswith("dsp (device 100)") for p in result["points"])
    assert result["limit_source"]["dsp"] == "device xc7z020"
    assert "binding" in (tmp_path / "frontier.csv").read_text().splitlines()[0]
