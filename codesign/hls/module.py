"""The torch module hls4ml converts: our IR rebuilt layer for layer, weights on their grids.

hls4ml's PyTorch frontend traces a module with torch.fx. Rebuilding the module from the
QuantizedNet (instead of handing over the user's model) means hls4ml sees exactly our
graph: BatchNorm already folded, global pooling already an AvgPool2d, every weight
already a value of its fixed-point type (so the decimal text hls4ml writes is exact).
"""

from __future__ import annotations

import keyword
import re

import numpy as np
import torch
from torch import nn

from codesign.errors import UnsupportedLayerError
from codesign.ir import layers as L
from codesign.qnet import QuantizedNet

# fx names operator.add nodes add, add_1, ...; hls4ml treats nodes named like merge ops
# (add, mul, sub, fmin, fmax) specially: module names must never look like those.
_RESERVED_PREFIXES = ("add", "mul", "sub", "fmin", "fmax", "const", "x")
_SAFE = re.compile(r"^[a-z][a-z0-9_]*$")


def module_names(qnet: QuantizedNet) -> dict[str, str]:
    """IR layer name -> name of its torch submodule (and so of its hls4ml layer).

    IR names are kept where fx would keep them unchanged (lowercase identifiers that
    cannot collide with fx's own names); others get 'l<index>_<kind>'.
    """
    names: dict[str, str] = {}
    used: set[str] = set()
    for index, layer in enumerate(qnet.graph.layers[1:], start=1):
        if isinstance(layer, L.Add):
            continue
        name = layer.name
        if (not _SAFE.match(name) or keyword.iskeyword(name) or name in used
                or name.split("_")[0] in _RESERVED_PREFIXES or "__" in name):
            name = f"l{index}_{layer.kind}"
        used.add(name)
        names[layer.name] = name
    return names


class GraphModule(nn.Module):
    """Evaluates the IR in its topological order; submodules are named after the layers."""

    def __init__(self, qnet: QuantizedNet, names: dict[str, str]) -> None:
        super().__init__()
        self._plan: list[tuple[str, str, tuple[str, ...]]] = []  # (ir name, module, inputs)
        floats = qnet.float_weights()
        for layer in qnet.graph.layers[1:]:
            if isinstance(layer, L.Add):
                self._plan.append((layer.name, "", layer.inputs))
                continue
            module = _make_module(layer)
            if isinstance(layer, L.WeightedLayer):
                w, b = floats[layer.name]
                with torch.no_grad():
                    module.weight.copy_(torch.as_tensor(np.asarray(w, dtype=np.float32)))
                    module.bias.copy_(torch.as_tensor(np.asarray(b, dtype=np.float32)))
                _check_float32_exact(layer.name, w, b)
            self.add_module(names[layer.name], module)
            self._plan.append((layer.name, names[layer.name], layer.inputs))
        self._output = qnet.graph.output.name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = {"input": x}
        for name, module, inputs in self._plan:
            if module:
                values[name] = getattr(self, module)(values[inputs[0]])
            else:
                values[name] = values[inputs[0]] + values[inputs[1]]
        return values[self._output]


def _make_module(layer: L.Layer) -> nn.Module:
    if isinstance(layer, L.Conv2d):
        return nn.Conv2d(layer.weight.shape[1], layer.out_channels, layer.kernel,
                         stride=layer.stride, padding=layer.padding)
    if isinstance(layer, L.Conv1d):
        return nn.Conv1d(layer.weight.shape[1], layer.out_channels, layer.kernel,
                         stride=layer.stride, padding=layer.padding)
    if isinstance(layer, L.Dense):
        return nn.Linear(layer.terms, layer.out_channels)
    if isinstance(layer, L.ReLU):
        return nn.ReLU()
    if isinstance(layer, L.MaxPool2d):
        return nn.MaxPool2d(layer.kernel, layer.stride)
    if isinstance(layer, L.AvgPool2d):
        return nn.AvgPool2d(layer.kernel, layer.stride)
    if isinstance(layer, L.Flatten):
        return nn.Flatten()
    raise UnsupportedLayerError(f"layer {layer.name!r} ({layer.kind}) has no hls4ml equivalent "
                                "that codesign can emit")


def _check_float32_exact(name: str, w: np.ndarray, b: np.ndarray) -> None:
    """hls4ml reads the torch state_dict (float32): every grid value must survive it."""
    for what, arr in (("weight", w), ("bias", b)):
        if np.any(np.asarray(arr, dtype=np.float32).astype(np.float64) != arr):
            raise UnsupportedLayerError(
                f"layer {name!r}: a {what} value is not exact in float32 (the precision "
                "hls4ml's PyTorch frontend reads); use a weight/bias type of at most 24 "
                "significant bits")
