"""A design file means what it says: its types kept as written, or every change shown.

`keep_types` quantizes a network onto a DesignPoint's own types (nothing recalibrated)
and reports every tensor whose values do not fit: each weight and bias tensor, and each
activation the float model takes on the calibration inputs (the values calibration would
have fitted the types to). `type_changes` lists what a recalibration changed, type by
type, so the default path of `codesign quantize --design` is not silent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.design import DesignPoint
from codesign.errors import DesignError
from codesign.fixed import MAX_WIDTH, FixedType, Overflow
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet

TYPE_FIELDS = ("result", "weight", "bias", "accum")


@dataclass(frozen=True)
class Saturation:
    """Values of one tensor that its type cannot hold (they saturate, or wrap under
    AP_WRAP): how many of how many, the extremes seen and the type's range."""

    layer: str  # layer name, or 'input'
    tensor: str  # weight | bias | result (an activation on the calibration inputs)
    type: str
    effect: str  # saturate | wrap (the type's overflow mode)
    count: int
    total: int
    low: float  # smallest value seen
    high: float  # largest value seen
    type_min: float
    type_max: float

    def __str__(self) -> str:
        what = {"weight": "weights", "bias": "biases",
                "result": "values on the calibration inputs"}[self.tensor]
        return (f"layer {self.layer!r}: {self.count} of {self.total} {what} {self.effect} in "
                f"{self.type} (values from {self.low:g} to {self.high:g}; the type holds "
                f"{self.type_min:g} to {self.type_max:g})")

    def to_dict(self) -> dict:
        return dict(vars(self))


@dataclass(frozen=True)
class TypeChange:
    layer: str  # layer name, or 'input'
    field: str  # result | weight | bias | accum
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.layer} {self.field}: {self.old} -> {self.new}"

    def to_dict(self) -> dict:
        return {"layer": self.layer, "field": self.field, "from": self.old, "to": self.new}


@dataclass(frozen=True, eq=False)
class KeptTypes:
    qnet: QuantizedNet
    saturations: list[Saturation]


def keep_types(graph: Graph, design: DesignPoint, calib_x: np.ndarray) -> KeptTypes:
    """The graph's weights on `design`'s own types (each type's rounding and overflow),
    with every tensor that does not fit them: weights and biases, and activations on
    calib_x (float inputs, batch first)."""
    design.validate(graph)
    if calib_x.shape[1:] != graph.input_shape:
        raise DesignError(f"calibration inputs have shape {list(calib_x.shape[1:])}, the "
                          f"network takes {list(graph.input_shape)}")
    found = weight_saturations(graph, design) + activation_saturations(graph, design, calib_x)
    return KeptTypes(QuantizedNet.from_float(graph, design), found)


def weight_saturations(graph: Graph, design: DesignPoint) -> list[Saturation]:
    out = []
    for layer in graph.weighted:
        impl = design[layer.name]
        for tensor, values, t in (("weight", layer.weight, impl.weight),
                                  ("bias", layer.bias, impl.bias)):
            assert t is not None
            found = saturation(layer.name, tensor, np.asarray(values), t)
            if found is not None:
                out.append(found)
    return out


def activation_saturations(graph: Graph, design: DesignPoint, calib_x: np.ndarray
                           ) -> list[Saturation]:
    """Each type that activations take on: the input's, and every layer's result where the
    layer sets one (a flatten or max pool only passes its input's values on)."""
    acts = graph.forward(calib_x, return_all=True)
    out = []
    for name in graph.names:
        layer = graph[name]
        if isinstance(layer, (L.Flatten, L.MaxPool2d)) and \
                design.type_of(name) == design.type_of(layer.inputs[0]):
            continue
        found = saturation(name, "result", acts[name].numpy(), design.type_of(name))
        if found is not None:
            out.append(found)
    return out


def saturation(layer: str, tensor: str, values: np.ndarray, t: FixedType) -> Saturation | None:
    """How many values leave t's range once rounded onto its grid (None if none do)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    if not flat.size:
        return None
    outside = _outside(flat, t)
    count = int(outside.sum())
    if not count:
        return None
    effect = "wrap" if t.overflow is Overflow.WRAP else "saturate"
    return Saturation(layer, tensor, str(t), effect, count, int(flat.size),
                      float(flat.min()), float(flat.max()), t.min_value, t.max_value)


def _outside(flat: np.ndarray, t: FixedType) -> np.ndarray:
    """Rounded with t's own rounding on t's grid, but with room for every value, then
    compared with t's mantissa range: exactly the values t saturates (or wraps)."""
    magnitude = float(np.max(np.abs(flat)))
    need = int(np.ceil(np.log2(magnitude))) + 2 if magnitude > 0 else 1
    room = max(t.integer + 1, need)  # signed integer bits holding every rounded value
    width = room + t.frac
    if width <= min(MAX_WIDTH, 64):
        wide = FixedType(width, room, True, rounding=t.rounding, overflow=Overflow.WRAP)
        m = wide.to_int(flat)
        return (m < t.min_int) | (m > t.max_int)
    return (flat < t.min_value) | (flat > t.max_value)  # beyond int64: compare reals


def type_changes(old: DesignPoint, new: DesignPoint) -> list[TypeChange]:
    """Every type that differs between two designs of the same graph, in layer order."""
    out = []
    if old.input != new.input:
        out.append(TypeChange("input", "result", str(old.input), str(new.input)))
    for name, impl in new.layers.items():
        before = old.layers.get(name)
        if before is None:
            continue
        for field in TYPE_FIELDS:
            a, b = getattr(before, field), getattr(impl, field)
            if a != b:
                out.append(TypeChange(name, field, str(a), str(b)))
    return out
