"""From an allocation to a valid DesignPoint: the chosen widths through the existing
calibration (which picks every binary point), then the chosen reuse and multipliers."""

from __future__ import annotations

import numpy as np

from codesign.alloc.candidates import Candidates
from codesign.alloc.solver import Allocation
from codesign.design import DesignPoint
from codesign.ir.graph import Graph
from codesign.quant.calibrate import Widths, calibrate_design, calibration_ranges


def allocation_widths(cands: Candidates, alloc: Allocation) -> Widths:
    acts = alloc.act_bits(cands)
    return Widths(max(acts.values()), acts.get("input", max(acts.values())),
                  alloc.weight_bits(cands), acts)


def to_design(graph: Graph, cands: Candidates, alloc: Allocation, calib_x: np.ndarray, *,
              device: str, clock_mhz: float, model: str | None = None,
              calibration: str = "max") -> DesignPoint:
    act_fn, weight_fn = calibration_ranges(calibration)
    design = calibrate_design(graph, calib_x, allocation_widths(cands, alloc),
                              range_fn=act_fn, weight_range_fn=weight_fn, device=device,
                              clock_mhz=clock_mhz, model=model)
    for name, spec in alloc.layers(cands).items():
        if name in design.layers and design[name].weight is not None:
            design = design.with_layer(name, reuse=spec["reuse"],
                                       multiplier=spec["multiplier"])
    notes = {"allocator": alloc.method, "omega": float(alloc.omega),
             "objective": cands.objective,
             "estimate": {k: float(v) for k, v in alloc.cost.items()}, **alloc.notes}
    design = DesignPoint(design.input, design.layers, design.device, design.clock_mhz,
                         design.model, design.input_shape, design.weights, notes)
    design.validate(graph)
    return design
