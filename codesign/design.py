"""LayerImpl and DesignPoint: how every layer is built, as one YAML contract.

The allocator writes a DesignPoint, the quantizer fills in values under it, and the
bit-accurate model, the hls4ml emitter, the RTL generator and the cost model all read
it. Keys are checked: a misspelled key or layer name is an error that lists the valid
ones, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from codesign.devices import get_device
from codesign.errors import DesignError
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.hwrules import ROM_STYLES
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.registry import LayerRegistry
from codesign.yamlio import read_yaml

MULTIPLIERS = ("auto", "lut", "dsp")
STRATEGIES = ("latency", "resource")
MAX_MODEL_BITS = 62  # the bit-accurate model computes in int64


@dataclass(frozen=True)
class LayerImpl:
    """Types and parallelism of one layer. Unused types stay None (a ReLU has no weight)."""

    result: FixedType
    weight: FixedType | None = None
    bias: FixedType | None = None
    accum: FixedType | None = None
    reuse: int = 1  # cycles per output pixel/vector: multipliers = ceil(MACs per output / reuse)
    multiplier: str = "auto"  # auto | lut (shift-add at reuse 1) | dsp (the * operator)
    strategy: str = "latency"  # hls4ml Strategy: latency | resource
    # where a folded layer's weight ROM lives: auto (codesign.hwrules' rule) | lut | bram
    weight_rom: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.reuse, int) or isinstance(self.reuse, bool) or self.reuse < 1:
            raise DesignError(f"reuse must be a positive integer, not {self.reuse!r}")
        if self.multiplier not in MULTIPLIERS:
            raise DesignError(f"multiplier must be one of {MULTIPLIERS}, not {self.multiplier!r}")
        if self.strategy not in STRATEGIES:
            raise DesignError(f"strategy must be one of {STRATEGIES}, not {self.strategy!r}")
        if self.weight_rom not in ROM_STYLES:
            raise DesignError(f"weight_rom must be one of {ROM_STYLES}, not {self.weight_rom!r}")

    def to_dict(self) -> dict[str, Any]:
        """Only what differs from the defaults, so a design file reads as its decisions."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == f.default:
                continue
            out[f.name] = str(value) if isinstance(value, FixedType) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> LayerImpl:
        _check_keys(data, {f.name for f in fields(cls)}, where)
        if "result" not in data:
            raise DesignError(f"{where}: 'result' type is required")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in ("result", "weight", "bias", "accum"):
                kwargs[key] = FixedType.parse(str(value))
            else:
                kwargs[key] = value
        try:
            return cls(**kwargs)
        except DesignError as exc:
            raise DesignError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class DesignPoint:
    """Input type + a LayerImpl for every layer + target device and clock."""

    input: FixedType
    layers: dict[str, LayerImpl]
    device: str = "xc7a35t"
    clock_mhz: float = 100.0
    model: str | None = None  # the model spec it was made for (provenance)
    input_shape: tuple[int, ...] | None = None
    weights: str | None = None  # the QuantizedNet's .npz, relative to the YAML file
    notes: dict[str, Any] = field(default_factory=dict)  # free-form: method, accuracy...
    dataset: str | None = None  # the data it was made from: what commands read by default

    def __post_init__(self) -> None:
        get_device(self.device)
        clock = self.clock_mhz
        if (not isinstance(clock, (int, float)) or isinstance(clock, bool)
                or not (clock > 0 and math.isfinite(clock))):
            raise DesignError(f"clock_mhz must be a positive number, not {clock!r}")

    def __getitem__(self, name: str) -> LayerImpl:
        try:
            return self.layers[name]
        except KeyError:
            raise DesignError(
                f"design has no layer {name!r}; its layers are: {', '.join(self.layers)}"
            ) from None

    def with_layer(self, name: str, **changes: Any) -> DesignPoint:
        """A copy with one layer's implementation changed."""
        return replace(self, layers={**self.layers, name: replace(self[name], **changes)})

    def type_of(self, name: str) -> FixedType:
        """The type of the values a layer outputs ('input' for the graph input)."""
        return self.input if name == "input" else self[name].result

    # -- validation against a graph -------------------------------------------------
    def validate(self, graph: Graph) -> None:
        """Check every layer is present with the types its kind needs and sane widths."""
        expected = [layer.name for layer in graph if not isinstance(layer, L.Input)]
        unknown = [n for n in self.layers if n not in expected]
        if unknown:
            raise DesignError(f"design names layers the graph does not have: {unknown}; "
                              f"valid layer names: {', '.join(expected)}")
        missing = [n for n in expected if n not in self.layers]
        if missing:
            raise DesignError(f"design lacks layers {missing}; every layer needs an entry")
        if self.input_shape is not None and tuple(self.input_shape) != graph.input_shape:
            raise DesignError(f"design is for input shape {list(self.input_shape)} but the "
                              f"model takes {list(graph.input_shape)}")
        for layer in graph:
            if not isinstance(layer, L.Input):
                _validate_layer(layer, self[layer.name], self, graph)

    # -- YAML -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.model is not None:
            out["model"] = self.model
        if self.dataset is not None:
            out["dataset"] = self.dataset
        if self.input_shape is not None:
            out["input_shape"] = list(self.input_shape)
        out.update(device=self.device, clock_mhz=self.clock_mhz, input=str(self.input))
        if self.weights is not None:
            out["weights"] = self.weights
        out["layers"] = {name: impl.to_dict() for name, impl in self.layers.items()}
        if self.notes:
            out["notes"] = self.notes
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "design") -> DesignPoint:
        if not isinstance(data, dict):
            raise DesignError(f"{where}: expected a mapping at the top level")
        _check_keys(data, {f.name for f in fields(cls)}, where)
        for key in ("input", "layers"):
            if key not in data:
                raise DesignError(f"{where}: missing required key {key!r}")
        if not isinstance(data["layers"], dict):
            raise DesignError(f"{where}: 'layers' must map layer names to their settings")
        layers = {
            str(name): LayerImpl.from_dict(spec or {}, f"{where}: layer {name!r}")
            for name, spec in data["layers"].items()
        }
        shape = data.get("input_shape")
        return cls(
            input=FixedType.parse(str(data["input"])),
            layers=layers,
            device=str(data.get("device", "xc7a35t")),
            clock_mhz=data.get("clock_mhz", 100.0),
            model=data.get("model"),
            dataset=None if data.get("dataset") is None else str(data["dataset"]),
            input_shape=tuple(int(s) for s in shape) if shape is not None else None,
            weights=data.get("weights"),
            notes=dict(data.get("notes") or {}),
        )

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path

    @classmethod
    def load(cls, path: str | Path) -> DesignPoint:
        data = read_yaml(path, "design file", DesignError)
        return cls.from_dict(data, where=str(path))


# -- defaults -----------------------------------------------------------------------
def lossless_accum(weight: FixedType, x: FixedType, bias: FixedType, terms: int, *,
                   layer: str | None = None) -> FixedType:
    """The accumulator that never rounds or overflows (docs/arithmetic.md, "Lossless
    accumulators by default"):
    W_acc = W_w + W_x + ceil(log2(terms)) + 1, with the bias aligned to the product grid.
    One the bit-accurate model cannot compute is refused here, naming `layer`."""
    frac = max(weight.frac + x.frac, bias.frac)
    product_int = weight.integer + x.integer + (0 if weight.signed and x.signed else 1)
    integer = max(product_int + math.ceil(math.log2(max(terms, 1))),
                  bias.integer + (0 if bias.signed else 1)) + 1
    if integer + frac > MAX_MODEL_BITS:
        where = f"layer {layer!r}: " if layer is not None else ""
        raise DesignError(
            f"{where}products of {weight} and {x} summed over {terms} terms need a "
            f"{integer + frac}-bit lossless accumulator; the bit-accurate model computes in "
            f"{MAX_MODEL_BITS}-bit integers. Narrow the weight or input types.")
    return FixedType(integer + frac, integer, True, Rounding.TRN, Overflow.WRAP)


def lossless_avg_accum(x: FixedType, window: int) -> FixedType:
    """Average-pool accumulator: the window sum never overflows and the division by the
    window keeps ceil(log2(window)) more fraction bits (exact for power-of-two windows)."""
    extra = math.ceil(math.log2(max(window, 1)))
    integer = x.integer + extra + (0 if x.signed else 1)
    frac = x.frac + extra
    return FixedType(integer + frac, integer, True, Rounding.TRN, Overflow.WRAP)


def is_lossless_accum(impl: LayerImpl, x: FixedType, terms: int) -> bool:
    """True when the accumulator holds every product and partial sum exactly."""
    assert impl.accum is not None and impl.weight is not None and impl.bias is not None
    acc = impl.accum
    if acc.frac < impl.weight.frac + x.frac or acc.frac < impl.bias.frac:
        return False
    w_max = max(abs(impl.weight.min_int), abs(impl.weight.max_int))
    x_max = max(abs(x.min_int), abs(x.max_int))
    b_max = max(abs(impl.bias.min_int), abs(impl.bias.max_int))
    bound = (terms * w_max * x_max << (acc.frac - impl.weight.frac - x.frac)) + (
        b_max << (acc.frac - impl.bias.frac))
    return bound <= acc.max_int and -bound >= acc.min_int


# -- validation helpers -------------------------------------------------------------
def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise DesignError(f"{where}: unknown key(s) {unknown}; allowed keys: {sorted(allowed)}")


def _validate_layer(layer: L.Layer, impl: LayerImpl, design: DesignPoint, graph: Graph) -> None:
    where = f"layer {layer.name!r} ({layer.kind})"
    if impl.weight_rom != "auto" and not layer.has_weights:
        raise DesignError(f"{where}: has no weights, so no weight ROM; remove weight_rom: "
                          f"{impl.weight_rom}")
    CHECKS(layer)(layer, impl, design.type_of(layer.inputs[0]), where)


def _types(impl: LayerImpl, where: str, needs: tuple[str, ...]) -> None:
    """impl has the types in `needs` and no other weight, bias or accumulator type."""
    for key in needs:
        if getattr(impl, key) is None:
            raise DesignError(f"{where}: needs a {key!r} type")
    extra = [k for k in ("weight", "bias", "accum")
             if k not in needs and getattr(impl, k) is not None]
    if extra:
        raise DesignError(f"{where}: has no use for {extra} types; remove them")


# -- the rules by kind ------------------------------------------------------------------
Check = Callable[[Any, LayerImpl, FixedType, str], None]
CHECKS: LayerRegistry[Check] = LayerRegistry("design validation", __name__)
"""Per kind: (layer, its LayerImpl, its input type, where) -> None, or a DesignError saying
what the layer's entry lacks or holds wrongly."""
CHECKS.skip(L.Input, "the input has no layer entry: its type is the design's `input`")
CHECKS.skip(L.BatchNorm, "folded into the conv by fold_batchnorm before quantization")


@CHECKS.rule(L.WeightedLayer)
def _weighted(layer: L.WeightedLayer, impl: LayerImpl, x: FixedType, where: str) -> None:
    _types(impl, where, ("weight", "bias", "accum"))
    assert impl.weight is not None and impl.accum is not None
    product_bits = impl.weight.width + x.width
    sum_bits = product_bits + math.ceil(math.log2(layer.terms)) + 1
    if max(sum_bits, impl.accum.width) > MAX_MODEL_BITS:
        raise DesignError(
            f"{where}: products of {impl.weight} and {x} summed over {layer.terms} terms "
            f"need {sum_bits} bits (accumulator {impl.accum.width}); the bit-accurate model "
            f"computes in {MAX_MODEL_BITS}-bit integers. Narrow the weight or input types.")
    mults = layer.terms * layer.out_channels
    if impl.reuse > mults:
        raise DesignError(f"{where}: reuse {impl.reuse} exceeds the {mults} multiplications "
                          "per output; nothing is left to share")
    if impl.weight_rom == "bram" and impl.reuse == 1:
        raise DesignError(f"{where}: weight_rom: bram needs reuse > 1; at reuse 1 the weights "
                          "are constants in the logic and there is no ROM to put in block RAM "
                          "(set reuse >= 2, or weight_rom: auto)")


@CHECKS.rule(L.Pool2d)
def _pool(layer: L.Pool2d, impl: LayerImpl, x: FixedType, where: str) -> None:
    _types(impl, where, ("accum",))


@CHECKS.rule(L.ReLU, L.Add)
def _activation(layer: L.Layer, impl: LayerImpl, x: FixedType, where: str) -> None:
    _types(impl, where, ())


@CHECKS.rule(L.Flatten)
def _flatten(layer: L.Flatten, impl: LayerImpl, x: FixedType, where: str) -> None:
    _types(impl, where, ())
    if impl.result != x:
        raise DesignError(f"{where}: a flatten only re-reads its input, so its result type "
                          f"must equal its input type {x}, not {impl.result}")
