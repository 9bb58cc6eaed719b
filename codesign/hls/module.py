"""The torch module hls4ml converts: our IR rebuilt layer for layer, weights on their grids.

hls4ml's PyTorch frontend traces a module with torch.fx. Rebuilding the module from the
QuantizedNet (instead of handing over the user's model) means hls4ml sees exactly our
graph: BatchNorm already folded, global pooling already an AvgPool2d, every weight
already a value of its fixed-point type (so the decimal text hls4ml writes is exact).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from codesign.errors import UnsupportedLayerError
from codesign.ir import layers as L
from codesign.ir.registry import LayerRegistry
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
        if is_operator(layer):
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
            module = MODULES(layer)(layer)
            if module is None:  # an operator add
                self._plan.append((layer.name, "", layer.inputs))
                continue
            if layer.has_weights:
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


Make = Callable[[Any], "nn.Module | None"]
MODULES: LayerRegistry[Make] = LayerRegistry("the hls4ml export (torch module rebuild)",
                                             "codesign.hls.module")
MODULES.skip(L.Input, "the module's argument, not a submodule")
MODULES.skip(L.BatchNorm, "folded into the conv by fold_batchnorm before quantization")


@MODULES.rule(L.Conv2d)
def _conv2d(layer: L.Conv2d) -> nn.Module:
    return nn.Conv2d(layer.weight.shape[1], layer.out_channels, layer.kernel,
                     stride=layer.stride, padding=layer.padding)


@MODULES.rule(L.Conv1d)
def _conv1d(layer: L.Conv1d) -> nn.Module:
    return nn.Conv1d(layer.weight.shape[1], layer.out_channels, layer.kernel,
                     stride=layer.stride, padding=layer.padding)


@MODULES.rule(L.Dense)
def _dense(layer: L.Dense) -> nn.Module:
    return nn.Linear(layer.terms, layer.out_channels)


@MODULES.rule(L.ReLU)
def _relu(layer: L.ReLU) -> nn.Module:
    return nn.ReLU()


@MODULES.rule(L.MaxPool2d)
def _max_pool(layer: L.MaxPool2d) -> nn.Module:
    return nn.MaxPool2d(layer.kernel, layer.stride)


@MODULES.rule(L.AvgPool2d)
def _avg_pool(layer: L.AvgPool2d) -> nn.Module:
    return nn.AvgPool2d(layer.kernel, layer.stride)


@MODULES.rule(L.Flatten)
def _flatten(layer: L.Flatten) -> nn.Module:
    return nn.Flatten()


@MODULES.rule(L.Add)
def _add(layer: L.Add) -> None:
    """No submodule: `+` in forward, which fx traces as the call hls4ml makes a Merge of."""
    return None


def is_operator(layer: L.Layer) -> bool:
    """Whether the rebuilt module computes the layer with an operator (an fx
    call_function node), not a submodule."""
    return MODULES(layer) is _add


def _check_float32_exact(name: str, w: np.ndarray, b: np.ndarray) -> None:
    """hls4ml reads the torch state_dict (float32): every grid value must survive it."""
    for what, arr in (("weight", w), ("bias", b)):
        if np.any(np.asarray(arr, dtype=np.float32).astype(np.float64) != arr):
            raise UnsupportedLayerError(
                f"layer {name!r}: a {what} value is not exact in float32 (the precision "
                "hls4ml's PyTorch frontend reads); use a weight/bias type of at most 24 "
                "significant bits")
