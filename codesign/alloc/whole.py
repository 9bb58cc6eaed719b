"""The whole-design measure: each returned allocation costed as `codesign cost` does.

The allocator's candidate costs are per layer, so inter-layer effects (fork FIFOs, the
streams between engines) are approximated. Every returned design is therefore costed
whole by the structural estimate on the DesignPoint the run writes, its weights rounded
to it; the correction loop (codesign.alloc.synthcheck) re-solves where that breaks a
limit, and the output's figures are these, so "fits" never rests on the per-layer sum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codesign.alloc.budget import RESOURCES
from codesign.alloc.candidates import Candidates
from codesign.alloc.design import to_design
from codesign.alloc.solver import Allocation
from codesign.devices import Device
from codesign.ir.graph import Graph


class WholeEstimate:
    """`codesign cost`'s structural LUT/FF/DSP/BRAM of allocations and the network's exact
    latency and interval (the closed-form cycle model of the same plan), memoized by choice
    (a corrected table scales costs, not designs, so the same choice is the same design)."""

    def __init__(self, graph: Graph, cands: Candidates, calib_x: np.ndarray, device: Device,
                 model: str | None = None) -> None:
        self.graph, self.cands, self.calib_x = graph, cands, calib_x
        self.device, self.model = device, model
        self._seen: dict[tuple, dict[str, float]] = {}

    def figures(self, alloc: Allocation) -> dict[str, float]:
        """The whole structural estimate of one allocation's design."""
        key = alloc.key()
        if key not in self._seen:
            from codesign.cost.estimate import estimate_structural
            from codesign.qnet import QuantizedNet

            design = to_design(self.graph, self.cands, alloc, self.calib_x,
                               device=self.device.part,
                               clock_mhz=self.device.default_clock_mhz, model=self.model)
            est = estimate_structural(QuantizedNet.from_float(self.graph, design),
                                      self.device)
            self._seen[key] = {k: float(est[k]) for k in (*RESOURCES, "latency", "interval")}
        return self._seen[key]

    def measure(self, checked: list[tuple[str, int, Allocation]], n: int
                ) -> list[dict[str, float]]:
        """The correction loop's Measure: every checked design's whole estimate."""
        return [self.figures(alloc) for _, _, alloc in checked]


def whole_fields(alloc: Allocation, figures: dict[str, float], correction: dict[str, float]
                 ) -> dict[str, Any]:
    """A point's row: the whole estimate as its figures, the allocator's own beside them,
    and the correction its table carried (empty when none was needed)."""
    return {**{k: figures[k] for k in RESOURCES},
            **{f"allocator_{k}": alloc.cost[k] for k in RESOURCES},
            "whole_correction": dict(correction)}
