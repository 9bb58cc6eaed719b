"""The hls4ml configuration of a QuantizedNet: every type, reuse factor and strategy set
per layer, and the map between our layer names and hls4ml's.

Nothing is left 'auto'. After conversion, `check_applied` reads the types back from
hls4ml's graph: a setting hls4ml did not apply is an error, never a silent default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from codesign.errors import CodesignError, UnsupportedLayerError
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.ir import layers as L
from codesign.ir.registry import LayerRegistry
from codesign.qnet import QuantizedNet

BACKENDS = ("Vitis", "Vivado")
# A full part number for each Xilinx device we know (Vitis HLS wants package and grade).
XILINX_PARTS = {
    "xc7a35t": "xc7a35tcpg236-1",
    "xc7a100t": "xc7a100tcsg324-1",
    "xc7a200t": "xc7a200tsbg484-1",
    "xc7z020": "xc7z020clg400-1",
    "xczu3eg": "xczu3eg-sbva484-1-e",
    "xczu9eg": "xczu9eg-ffvb1156-2-e",
    "xcvu9p": "xcvu9p-flga2104-2L-e",
}
# hls4ml layers that only move data: they must carry their input's type unchanged.
PASS_THROUGH = ("Transpose", "ZeroPadding1D", "ZeroPadding2D", "Reshape", "Clone")


@dataclass(frozen=True)
class HlsLayer:
    """How a layer kind appears in hls4ml: the classes it may become, which of our types
    codesign sets on it (hls4ml's precision keys <key>_t) and whether hls4ml may build it
    as no layer at all (a flatten can be a mere re-reading)."""

    classes: tuple[str, ...]
    types: tuple[str, ...]
    may_vanish: bool = False


HLS: LayerRegistry[HlsLayer] = LayerRegistry("hls4ml configuration", "codesign.hls.config")
HLS.skip(L.Input, "the model input: its type is the design's input type, set apart")
HLS.skip(L.BatchNorm, "folded into the conv by fold_batchnorm before quantization")
_WEIGHTED = ("weight", "bias", "accum", "result")
HLS.add(L.Conv2d, HlsLayer(("Conv2D", "PointwiseConv2D"), _WEIGHTED))
HLS.add(L.Conv1d, HlsLayer(("Conv1D", "PointwiseConv1D"), _WEIGHTED))
HLS.add(L.Dense, HlsLayer(("Dense",), _WEIGHTED))
HLS.add(L.Pool2d, HlsLayer(("Pooling2D",), ("accum", "result")))  # max and average
HLS.add(L.ReLU, HlsLayer(("Activation",), ("result",)))
HLS.add(L.Add, HlsLayer(("Merge",), ("result",)))
HLS.add(L.Flatten, HlsLayer(("Reshape",), ("result",), may_vanish=True))


@dataclass(frozen=True)
class NameMap:
    """Our layer names <-> hls4ml's ('input' is the model input)."""

    to_hls: dict[str, str]

    @property
    def to_ir(self) -> dict[str, str]:
        return {v: k for k, v in self.to_hls.items()}


# A full Xilinx part number: family and device, then package and speed grade (and
# temperature), e.g. xc7a35tcpg236-1, xczu9eg-ffvb1156-2-e (xa/xq: automotive/defense).
PART_NUMBER = re.compile(r"x[acq][a-z0-9]+(-[a-z0-9]+)+", re.IGNORECASE)


def hls_part(device: str, part: str | None) -> str:
    """The part number the HLS project targets: `part` (a full Xilinx part number, or a
    device of our table), else the design's device's."""
    if part:
        if part.lower() in XILINX_PARTS:
            return XILINX_PARTS[part.lower()]
        if not PART_NUMBER.fullmatch(part):
            raise CodesignError(
                f"--part {part!r} is not a Xilinx part number (device, package and speed "
                f"grade, e.g. {XILINX_PARTS['xc7a35t']} or {XILINX_PARTS['xczu9eg']}), nor "
                f"a device codesign knows the part number of ({', '.join(XILINX_PARTS)})")
        return part
    if device not in XILINX_PARTS:
        raise CodesignError(f"device {device!r} is not a Xilinx part hls4ml can target; name "
                            f"one with --part (known: {', '.join(XILINX_PARTS)})")
    return XILINX_PARTS[device]


def hls_precision(t: FixedType) -> str:
    """Our type in hls4ml's config spelling (ap_fixed<W,I,AP_Q,AP_O>; always explicit)."""
    kind = "ap_fixed" if t.signed else "ap_ufixed"
    return f"{kind}<{t.width},{t.integer},AP_{t.rounding},AP_{t.overflow}>"


def layer_config(qnet: QuantizedNet, names: NameMap, base: dict[str, Any]) -> dict[str, Any]:
    """Fill hls4ml's per-name config (from config_from_pytorch_model) with our settings."""
    design = qnet.design
    by_hls = names.to_ir
    layers = base["LayerName"]
    unknown = [n for n in layers if n not in by_hls]
    if unknown:
        raise CodesignError(f"hls4ml made layers codesign cannot map to the graph: {unknown}")
    for hls_name, cfg in layers.items():
        ir_name = by_hls[hls_name]
        prec = cfg.setdefault("Precision", {})
        cfg["Trace"] = True
        if ir_name == "input":
            prec["result"] = hls_precision(design.input)
            continue
        layer, impl = qnet.graph[ir_name], design[ir_name]
        for key in HLS(layer).types:
            t = getattr(impl, key) if key != "result" else impl.result
            prec[key] = hls_precision(t)
        if layer.has_weights:
            cfg["ReuseFactor"] = impl.reuse
            cfg["Strategy"] = impl.strategy.capitalize()
        left = [k for k, v in prec.items() if str(v) == "auto"]
        if left:
            raise CodesignError(f"layer {ir_name!r}: hls4ml expects precision(s) {left} that "
                                "codesign does not set; refusing to leave them 'auto'")
    return base


def _from_hls(p: Any) -> FixedType:
    """hls4ml's FixedPrecisionType/IntegerPrecisionType -> FixedType."""
    rounding = Rounding(str(p.rounding_mode).split(".")[-1].upper().replace("AP_", ""))
    overflow = Overflow(str(p.saturation_mode).split(".")[-1].upper().replace("AP_", ""))
    integer = getattr(p, "integer", p.width)
    return FixedType(p.width, integer, bool(p.signed), rounding, overflow)


def check_applied(qnet: QuantizedNet, names: NameMap, hls_model: Any) -> None:
    """Every hls4ml layer carries exactly our types and reuse, or this raises by name."""
    design, graph = qnet.design, qnet.graph
    by_hls = names.to_ir
    seen = set()
    for hls_name, layer in hls_model.graph.items():
        types = {k[:-2]: _from_hls(v.precision) for k, v in layer.types.items()}
        if hls_name not in by_hls:
            if layer.class_name not in PASS_THROUGH:
                raise UnsupportedLayerError(
                    f"hls4ml inserted a {layer.class_name} layer {hls_name!r} that codesign "
                    "does not model; refusing to emit a project that may differ")
            src = _from_hls(hls_model.output_vars[layer.inputs[0]].type.precision)
            for var in layer.get_variables():
                if _from_hls(var.type.precision) != src:
                    raise UnsupportedLayerError(
                        f"hls4ml's {layer.class_name} layer {hls_name!r} changes the type "
                        f"{src} to {_from_hls(var.type.precision)}")
            continue
        ir_name = by_hls[hls_name]
        seen.add(ir_name)
        if ir_name == "input":
            _same(ir_name, "result", types["result"], design.input)
            continue
        ir_layer, impl = graph[ir_name], design[ir_name]
        kind = HLS(ir_layer)
        if layer.class_name not in kind.classes:
            raise UnsupportedLayerError(
                f"layer {ir_name!r} ({ir_layer.kind}) became hls4ml {layer.class_name}")
        for key in kind.types:
            ours = impl.result if key == "result" else getattr(impl, key)
            if key not in types:
                raise UnsupportedLayerError(f"layer {ir_name!r}: hls4ml's {layer.class_name} "
                                            f"has no {key} type to set")
            _same(ir_name, key, types[key], ours)
        if isinstance(ir_layer, L.WeightedLayer):  # has_weights, typed for terms
            rf = layer.get_attr("reuse_factor")
            if rf != impl.reuse:
                valid = hls_model.config.backend.get_valid_reuse_factors(
                    ir_layer.terms, ir_layer.out_channels)
                raise UnsupportedLayerError(
                    f"layer {ir_name!r}: hls4ml does not build reuse {impl.reuse} with "
                    f"strategy {impl.strategy} (it would use {rf}); valid reuse factors "
                    f"here: {valid}")
            strategy = str(layer.get_attr("strategy")).lower()
            if strategy != impl.strategy:
                raise UnsupportedLayerError(f"layer {ir_name!r}: hls4ml uses strategy "
                                            f"{strategy}, the design says {impl.strategy}")
    missing = [n for n in graph.names if n not in seen and not _may_vanish(graph[n])]
    if missing:
        raise UnsupportedLayerError(f"layers {missing} have no counterpart in hls4ml's graph")


def _may_vanish(layer: L.Layer) -> bool:
    kind = HLS.find(type(layer))
    return kind is not None and kind.may_vanish


def _same(name: str, key: str, got: FixedType, want: FixedType | None) -> None:
    if got != want:
        raise UnsupportedLayerError(f"layer {name!r}: hls4ml uses {key} type {got}, the design "
                                    f"says {want}; refusing a project that ignores the design")
