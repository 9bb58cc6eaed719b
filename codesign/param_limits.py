"""The weight and bias types every back end can take, checked where a design is made
(`quantize`, flows' quantize stage) as well as where it is emitted, so that quantize
never writes a design that `emit` or `rtl` would refuse.

- At most PARAM_MAX_BITS = 24 bits: hls4ml's PyTorch frontend reads weights and biases
  as float32, whose 24-bit significand holds every value of such a type exactly (and
  the RTL's adder graphs, da4ml's solver, take integer constants of at most 24 bits).

Negative fraction bits are no limit (a 1-2 bit weight covering a range beyond +-1, e.g.
ap_fixed<2,3>): hls4ml 1.3 writes such values as whole numbers ('{:.0f}', exact), its
ap_fixed computes with them exactly, and the RTL takes them as integer constants.

Light on purpose (no hls4ml import): codesign.quant reads it.
"""

from __future__ import annotations

from codesign.design import DesignPoint
from codesign.errors import DesignError
from codesign.fixed import FixedType
from codesign.ir.graph import Graph

PARAM_MAX_BITS = 24
WHY_WIDTH = ("hls4ml reads weights and biases as float32, exact only up to 24 significant "
             "bits, and the RTL's adder graphs take constants of at most 24 bits")


def param_type_problem(what: str, t: FixedType) -> str | None:
    """Why no back end can take `t` as the type of a layer's `what` (weight or bias), or
    None when every one can."""
    if t.width > PARAM_MAX_BITS:
        return (f"the {what} type {t} has {t.width} bits; {WHY_WIDTH}. Give it at most "
                f"{PARAM_MAX_BITS} bits")
    return None


def check_weight_widths(graph: Graph, widths: dict[str, int]) -> None:
    """Refuse weight widths (layer name -> bits) no back end takes, before any work."""
    for layer in graph.weighted:
        bits = widths.get(layer.name)
        if bits is not None and bits > PARAM_MAX_BITS:
            raise DesignError(f"layer {layer.name!r} ({layer.kind}): weights of {bits} bits; "
                              f"{WHY_WIDTH}. Use at most {PARAM_MAX_BITS}-bit weights")


def check_param_types(graph: Graph, design: DesignPoint) -> None:
    """Refuse a design whose weight or bias types some back end cannot take, by layer."""
    for layer in graph.weighted:
        impl = design[layer.name]
        for what, t in (("weight", impl.weight), ("bias", impl.bias)):
            problem = None if t is None else param_type_problem(what, t)
            if problem is not None:
                raise DesignError(f"layer {layer.name!r} ({layer.kind}): {problem}")
