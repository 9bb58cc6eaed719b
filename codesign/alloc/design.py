"""From an allocation to a valid DesignPoint: the chosen widths through the existing
calibration (which picks every binary point), then the chosen reuse and multipliers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from codesign.alloc.candidates import Candidates
from codesign.alloc.solver import Allocation
from codesign.design import DesignPoint, lossless_accum
from codesign.fixed import FixedType
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.quant.calibrate import (
    ACT_MODES,
    WEIGHT_MODES,
    Widths,
    bias_type,
    calibrate_design,
    calibration_ranges,
)


def allocation_widths(cands: Candidates, alloc: Allocation) -> Widths:
    acts = alloc.act_bits(cands)
    return Widths(max(acts.values()), acts.get("input", max(acts.values())),
                  alloc.weight_bits(cands), acts)


def to_design(graph: Graph, cands: Candidates, alloc: Allocation, calib_x: np.ndarray, *,
              device: str, clock_mhz: float, model: str | None = None,
              calibration: str = "max", dataset: str | None = None) -> DesignPoint:
    act_fn, weight_fn = calibration_ranges(calibration)
    design = calibrate_design(graph, calib_x, allocation_widths(cands, alloc),
                              range_fn=act_fn, weight_range_fn=weight_fn, device=device,
                              clock_mhz=clock_mhz, model=model)
    for name, spec in alloc.layers(cands).items():
        if name in design.layers and design[name].weight is not None:
            design = design.with_layer(name, reuse=spec["reuse"],
                                       multiplier=spec["multiplier"],
                                       weight_rom=spec.get("weight_rom", "auto"))
    notes = {"allocator": alloc.method, "omega": float(alloc.omega),
             "objective": cands.objective,
             "estimate": {k: float(v) for k, v in alloc.cost.items()}, **alloc.notes}
    design = replace(design, notes=notes, dataset=dataset)
    design.validate(graph)
    return design


def accum_widths(graph: Graph, calib_x: np.ndarray, calibration: str = "max"):
    """accum(layer, w_bits, x_bits) -> the width of the lossless accumulator to_design will
    give each candidate, so the costs the allocator optimizes are the costs of the design
    it writes. With max-abs ranges a tensor's integer bits do not depend on its width, so
    one calibration gives every candidate's weight, input and bias types."""
    act_fn, weight_fn = calibration_ranges(calibration)
    base = calibrate_design(graph, calib_x, Widths(8, 8), range_fn=act_fn,
                            weight_range_fn=weight_fn)
    cache: dict[tuple[str, int, int], int] = {}

    def accum(name: str, w_bits: np.ndarray, x_bits: np.ndarray) -> np.ndarray:
        layer = graph[name]
        impl, x0 = base[name], base.type_of(layer.inputs[0])
        assert impl.weight is not None and isinstance(layer, L.WeightedLayer)
        out = np.empty(len(w_bits), dtype=int)
        for i, (wb, xb) in enumerate(zip(w_bits.tolist(), x_bits.tolist(), strict=True)):
            key = (name, wb, xb)
            if key not in cache:
                w_t = FixedType(wb, impl.weight.integer, True, **WEIGHT_MODES)
                x_t = FixedType(xb, x0.integer, x0.signed, **ACT_MODES)
                b_t = bias_type(layer.bias, w_t.frac + x_t.frac)
                cache[key] = lossless_accum(w_t, x_t, b_t, layer.terms).width
            out[i] = cache[key]
        return out

    return accum
