"""Post-training calibration: choose every tensor's fixed-point type from data.

Widths come from the caller (uniform or per layer); calibration only chooses the integer
bits (where the binary point sits) from the range each tensor takes on calibration data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from codesign.design import DesignPoint, LayerImpl, lossless_accum, lossless_avg_accum
from codesign.errors import DesignError
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.registry import LayerRegistry
from codesign.param_limits import PARAM_MAX_BITS

MAX_BIAS_BITS = PARAM_MAX_BITS  # wider is not exact in hls4ml's float32 (param_limits)
WEIGHT_MODES = dict(rounding=Rounding.RND_CONV, overflow=Overflow.SAT)
ACT_MODES = dict(rounding=Rounding.RND, overflow=Overflow.SAT)

# A range estimator maps a tensor's values to the magnitude its type must hold.
RangeFn = Callable[[np.ndarray], float]


def max_abs(values: np.ndarray) -> float:
    return float(np.max(np.abs(values))) if values.size else 0.0


def percentile_abs(p: float = 99.99) -> RangeFn:
    """A range estimator that ignores the rarest outliers: the p-th percentile of |x|."""
    if not 0 < p <= 100:
        raise DesignError(f"percentile must be in (0, 100], not {p!r}")

    def fn(values: np.ndarray) -> float:
        return float(np.percentile(np.abs(values), p)) if values.size else 0.0

    fn.__name__ = f"percentile_{p:g}"
    return fn


class MseRange:
    """MSE-optimal integer bits: of the candidates from the max-abs choice down to
    `search` bits fewer, the one whose quantization error (mean square, with the type's
    rounding and saturation) on the tensor is smallest. Width-aware, so fit_type passes
    the width and signedness (plain calls fall back to max-abs)."""

    width_aware = True

    def __init__(self, search: int = 6, max_values: int = 200_000, seed: int = 0):
        self.search, self.max_values, self.seed = search, max_values, seed
        self.__name__ = "mse"

    def __call__(self, values: np.ndarray, width: int | None = None,
                 signed: bool | None = None, modes: Mapping | None = None) -> float:
        if width is None or not values.size:
            return max_abs(values)
        signed = bool(values.min() < 0) if signed is None else signed
        flat = values.ravel().astype(np.float64)
        if flat.size > self.max_values:
            flat = np.random.default_rng(self.seed).choice(flat, self.max_values, replace=False)
        top = integer_bits(max_abs(flat), signed)
        best, best_err = top, math.inf
        for integer in range(top, top - self.search - 1, -1):
            t = FixedType(width, integer, signed, **(modes or ACT_MODES))
            err = float(np.mean((t.quantize(flat) - flat) ** 2))
            if err < best_err:
                best, best_err = integer, err
        # the magnitude whose integer_bits() is `best`
        return 2.0 ** (best - (2 if signed else 1))


mse_range = MseRange()

CALIBRATIONS = ("max", "percentile", "mse")


def calibration_ranges(name: str) -> tuple[RangeFn, RangeFn]:
    """(activation range_fn, weight range_fn) for a calibration name: max uses max-abs for
    both; percentile clips activations at the 99.99th percentile (weights keep max-abs,
    as a clipped weight changes the model for every input); mse picks the MSE-optimal
    integer bits for both."""
    if name == "max":
        return max_abs, max_abs
    if name == "percentile":
        return percentile_abs(99.99), max_abs
    if name == "mse":
        return mse_range, mse_range
    raise DesignError(f"unknown calibration {name!r}; choose one of {', '.join(CALIBRATIONS)}")


def integer_bits(magnitude: float, signed: bool) -> int:
    """Fewest integer bits whose range reaches `magnitude` (sign bit included if signed).

    Signed I holds [-2^(I-1), 2^(I-1)); unsigned I holds [0, 2^I).
    """
    if magnitude <= 0 or not math.isfinite(magnitude):
        return 1 if signed else 0
    return math.floor(math.log2(magnitude)) + (2 if signed else 1)


def fit_type(values: np.ndarray, width: int, *, signed: bool | None = None,
             range_fn: RangeFn = max_abs, modes: Mapping | None = None) -> FixedType:
    """A `width`-bit type whose range covers range_fn(values)."""
    if signed is None:
        signed = bool(values.size and values.min() < 0)
    if getattr(range_fn, "width_aware", False):  # e.g. MseRange: the best bits depend on W
        magnitude = range_fn(values, width=width, signed=signed, modes=modes)  # type: ignore
    else:
        magnitude = range_fn(values)
    return FixedType(width, integer_bits(magnitude, signed), signed, **(modes or ACT_MODES))


@dataclass(frozen=True)
class Widths:
    """Weight and activation widths, uniform or per layer name (missing names use default)."""

    weight: int
    act: int
    per_layer_weight: Mapping[str, int] | None = None
    per_layer_act: Mapping[str, int] | None = None

    def w(self, name: str) -> int:
        return (self.per_layer_weight or {}).get(name, self.weight)

    def a(self, name: str) -> int:
        return (self.per_layer_act or {}).get(name, self.act)

    @classmethod
    def from_design(cls, design: DesignPoint) -> Widths:
        """The widths a DesignPoint fixes (what `--design` means for a quantizer)."""
        weights = {n: i.weight.width for n, i in design.layers.items() if i.weight is not None}
        acts = {n: i.result.width for n, i in design.layers.items()}
        return cls(8, design.input.width, weights, {"input": design.input.width, **acts})


def bias_type(values: np.ndarray, product_frac: int) -> FixedType:
    """Bias on the product grid (it then adds exactly), capped at MAX_BIAS_BITS."""
    integer = integer_bits(max_abs(values), True)
    frac = max(min(product_frac, MAX_BIAS_BITS - integer), 2 - integer)
    return FixedType(integer + frac, integer, True, **WEIGHT_MODES)


def calibrate_design(graph: Graph, calib_x: np.ndarray, widths: Widths, *,
                     range_fn: RangeFn = max_abs, weight_range_fn: RangeFn = max_abs,
                     device: str = "xc7a35t", clock_mhz: float = 100.0,
                     model: str | None = None, base: DesignPoint | None = None) -> DesignPoint:
    """A DesignPoint whose types cover the ranges seen on `calib_x` (float, batch first).

    With `base`, its reuse factors, multiplier styles, weight ROMs and strategies are kept.
    """
    if calib_x.shape[1:] != graph.input_shape:
        raise DesignError(f"calibration inputs have shape {list(calib_x.shape[1:])}, the "
                          f"network takes {list(graph.input_shape)}")
    acts = {k: v.numpy() for k, v in graph.forward(calib_x, return_all=True).items()}
    return design_from_activations(graph, acts, widths, range_fn=range_fn,
                                   weight_range_fn=weight_range_fn, device=device,
                                   clock_mhz=clock_mhz, model=model, base=base)


def design_from_activations(graph: Graph, acts: Mapping[str, np.ndarray], widths: Widths, *,
                            range_fn: RangeFn = max_abs, weight_range_fn: RangeFn = max_abs,
                            device: str = "xc7a35t", clock_mhz: float = 100.0,
                            model: str | None = None,
                            base: DesignPoint | None = None) -> DesignPoint:
    """calibrate_design on activations already computed (layer name -> values), so a
    caller that needs the design at many widths runs the forward pass once."""
    types: dict[str, FixedType] = {}
    input_t = fit_type(acts["input"], widths.a("input"), range_fn=range_fn)
    types["input"] = input_t
    layers: dict[str, LayerImpl] = {}
    for layer in graph.layers[1:]:
        seen = Seen([types[i] for i in layer.inputs], acts[layer.name], widths, range_fn,
                    weight_range_fn)
        impl = CALIBRATION(layer)(layer, seen)
        if base is not None and layer.name in base.layers:
            b = base.layers[layer.name]
            impl = LayerImpl(**{**vars(impl), "reuse": b.reuse, "multiplier": b.multiplier,
                                "strategy": b.strategy, "weight_rom": b.weight_rom})
        layers[layer.name] = impl
        types[layer.name] = impl.result
    return DesignPoint(input=input_t, layers=layers, device=device, clock_mhz=clock_mhz,
                       model=model, input_shape=graph.input_shape)


# -- the rules by kind ------------------------------------------------------------------
@dataclass(frozen=True)
class Seen:
    """What calibrating one layer reads: its inputs' types, its output on the calibration
    data, the widths and the range estimators."""

    in_types: list[FixedType]
    out: np.ndarray
    widths: Widths
    range_fn: RangeFn
    weight_range_fn: RangeFn

    def result(self, name: str, signed: bool) -> FixedType:
        """The result type covering the layer's calibration output at its width."""
        return fit_type(self.out, self.widths.a(name), signed=signed, range_fn=self.range_fn)


CalibrationRule = Callable[[Any, Seen], LayerImpl]
CALIBRATION: LayerRegistry[CalibrationRule] = LayerRegistry("calibration", __name__)
"""Per kind: (layer, Seen) -> its LayerImpl; calibrate_design runs the graph through these."""
CALIBRATION.skip(L.Input, "the input's type is fitted before the layers (the design's input)")
CALIBRATION.skip(L.BatchNorm, "folded into the conv by fold_batchnorm before quantization")


@CALIBRATION.rule(L.WeightedLayer)
def _weighted(layer: L.WeightedLayer, s: Seen) -> LayerImpl:
    x_t, name = s.in_types[0], layer.name
    w_t = fit_type(layer.weight, s.widths.w(name), signed=True, range_fn=s.weight_range_fn,
                   modes=WEIGHT_MODES)
    b_t = bias_type(layer.bias, w_t.frac + x_t.frac)
    return LayerImpl(result=s.result(name, True), weight=w_t, bias=b_t,
                     accum=lossless_accum(w_t, x_t, b_t, layer.terms, layer=name))


@CALIBRATION.rule(L.ReLU)
def _relu(layer: L.ReLU, s: Seen) -> LayerImpl:
    return LayerImpl(result=s.result(layer.name, False))


@CALIBRATION.rule(L.MaxPool2d)
def _maxpool(layer: L.MaxPool2d, s: Seen) -> LayerImpl:
    return LayerImpl(result=s.in_types[0], accum=s.in_types[0])


@CALIBRATION.rule(L.AvgPool2d)
def _avgpool(layer: L.AvgPool2d, s: Seen) -> LayerImpl:
    x_t = s.in_types[0]
    return LayerImpl(result=x_t, accum=lossless_avg_accum(x_t, layer.window))


@CALIBRATION.rule(L.Flatten)
def _flatten(layer: L.Flatten, s: Seen) -> LayerImpl:
    return LayerImpl(result=s.in_types[0])


@CALIBRATION.rule(L.Add)
def _add(layer: L.Add, s: Seen) -> LayerImpl:
    return LayerImpl(result=s.result(layer.name, any(t.signed for t in s.in_types)))
