"""From a method's quantizers to a QuantizedNet, and the proof that they agree.

Every method ends here: the types its quantizers settled on become a DesignPoint (the
derived types - bias, lossless accumulator, pools, flatten - follow calibrate.py's rules),
its on-grid weights become integer mantissas, and `verify_export` compares the method's own
torch forward with the bit-accurate model, every layer, every sample, every element.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from codesign.design import DesignPoint, LayerImpl, lossless_accum, lossless_avg_accum
from codesign.errors import DesignError, MismatchError
from codesign.fixed import FixedType
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.registry import LayerRegistry
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import bias_type
from codesign.quant.fxtorch import to_mantissas

# A method's own forward: float inputs -> every layer's real-valued output, by name.
TorchForward = Callable[[np.ndarray], Mapping[str, torch.Tensor]]


def derive_design(graph: Graph, base: DesignPoint, *, biases: Mapping[str, np.ndarray],
                  weight_types: Mapping[str, FixedType] | None = None,
                  result_types: Mapping[str, FixedType] | None = None,
                  input_type: FixedType | None = None, notes: dict | None = None
                  ) -> DesignPoint:
    """`base` with some weight/result types replaced and every derived type recomputed."""
    weight_types, result_types = weight_types or {}, result_types or {}
    types: dict[str, FixedType] = {"input": input_type or base.input}
    layers: dict[str, LayerImpl] = {}
    for layer in graph.layers[1:]:
        name = layer.name
        new = EXPORT(layer)(layer, Chosen(base[name], types[layer.inputs[0]],
                                          weight_types.get(name), result_types.get(name),
                                          biases.get(name)))
        layers[name] = new
        types[name] = new.result
    return dataclasses.replace(base, input=types["input"], layers=layers,
                               notes={**base.notes, **(notes or {})})


# -- the rules by kind ------------------------------------------------------------------
@dataclass(frozen=True)
class Chosen:
    """What deriving one layer's types reads: its base entry, its input's (new) type, and
    what the method chose for it (None: keep the base's)."""

    impl: LayerImpl
    x_t: FixedType
    weight: FixedType | None
    result: FixedType | None
    bias: np.ndarray | None  # a weighted layer's real bias (its type follows its range)

    def kept_result(self) -> FixedType:
        return self.result or self.impl.result


ExportRule = Callable[[Any, Chosen], LayerImpl]
EXPORT: LayerRegistry[ExportRule] = LayerRegistry("export (derive_design)", __name__)
"""Per kind: (layer, Chosen) -> its LayerImpl, the derived types following calibrate.py's
rules (its CALIBRATION registry)."""
EXPORT.skip(L.Input, "the input's type is the method's input_type, not a layer entry")
EXPORT.skip(L.BatchNorm, "folded into the conv by fold_batchnorm before quantization")


@EXPORT.rule(L.WeightedLayer)
def _weighted(layer: L.WeightedLayer, c: Chosen) -> LayerImpl:
    w_t = c.weight or c.impl.weight
    assert w_t is not None and c.bias is not None
    b_t = bias_type(np.asarray(c.bias), w_t.frac + c.x_t.frac)
    return dataclasses.replace(c.impl, weight=w_t, bias=b_t, result=c.kept_result(),
                               accum=lossless_accum(w_t, c.x_t, b_t, layer.terms,
                                                    layer=layer.name))


@EXPORT.rule(L.ReLU, L.Add)
def _activation(layer: L.Layer, c: Chosen) -> LayerImpl:
    return dataclasses.replace(c.impl, result=c.kept_result())


@EXPORT.rule(L.MaxPool2d)
def _maxpool(layer: L.MaxPool2d, c: Chosen) -> LayerImpl:
    return dataclasses.replace(c.impl, result=c.x_t, accum=c.x_t)


@EXPORT.rule(L.AvgPool2d)
def _avgpool(layer: L.AvgPool2d, c: Chosen) -> LayerImpl:
    return dataclasses.replace(c.impl, result=c.x_t,
                               accum=lossless_avg_accum(c.x_t, layer.window))


@EXPORT.rule(L.Flatten)
def _flatten(layer: L.Flatten, c: Chosen) -> LayerImpl:
    return dataclasses.replace(c.impl, result=c.x_t)


def export_qnet(graph: Graph, design: DesignPoint, weights: Mapping[str, torch.Tensor],
                biases: Mapping[str, torch.Tensor | np.ndarray]) -> QuantizedNet:
    """A QuantizedNet from on-grid real weights (refused if off the grid or out of range)
    and real biases (cast to their type). The graph keeps the quantized values as its
    float parameters, so graph.forward is the float model of what was exported."""
    w_int, b_int, layers = {}, {}, []
    for layer in graph.layers:
        if isinstance(layer, L.WeightedLayer):
            impl = design[layer.name]
            assert impl.weight is not None and impl.bias is not None
            try:
                w_int[layer.name] = to_mantissas(weights[layer.name], impl.weight)
            except DesignError as exc:
                raise DesignError(f"layer {layer.name!r}: weight {exc}") from None
            b = biases[layer.name]
            b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
            b_int[layer.name] = impl.bias.to_int(b)
            layer = dataclasses.replace(layer, weight=w_int[layer.name] * impl.weight.lsb,
                                        bias=b_int[layer.name] * impl.bias.lsb)
        layers.append(layer)
    return QuantizedNet(Graph(tuple(layers)), design, w_int, b_int)


def verify_export(qnet: QuantizedNet, forward: TorchForward, x: np.ndarray,
                  batch_size: int = 512) -> int:
    """Raise MismatchError naming the first layer, sample and element where the method's
    torch forward and the bit-accurate model differ; returns the samples checked."""
    design = qnet.design
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        ints = qnet.forward_int(xb, return_all=True)
        assert isinstance(ints, dict)
        with torch.no_grad():
            reals = forward(xb)
        for name in qnet.graph.names:
            t = design.type_of(name)
            got = reals[name].detach().to(torch.float64).numpy() * 2.0 ** t.frac
            want = ints[name]
            bad = got != want
            if bad.any():
                idx = np.argwhere(bad)[0]
                raise MismatchError(
                    f"layer {name!r}, sample {start + int(idx[0])}, element "
                    f"{tuple(int(i) for i in idx[1:])}: the method's torch forward gives "
                    f"mantissa {got[tuple(idx)]!r}, the bit-accurate model {int(want[tuple(idx)])}"
                    f" (type {t})")
    return len(x)
