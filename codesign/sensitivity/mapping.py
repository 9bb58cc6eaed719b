"""Which torch parameter is each weighted layer the hardware sees, and how it is folded.

The IR names a weighted layer after its fx node and records the module path in
``layer.source``; BatchNorm is folded into the conv/linear before it, so the hardware's
weight is ``W_f = s * W`` with ``s`` the BatchNorm scale per output channel. Sensitivity
is measured with respect to ``W_f`` (what gets quantized), so we keep ``s`` alongside the
module path and check that ``s * W`` really equals the IR's folded weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from codesign.errors import CodesignError
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.passes import fold_batchnorm
from codesign.ir.trace import trace

_WEIGHTED_MODULES = (nn.Conv1d, nn.Conv2d, nn.Linear)


@dataclass(frozen=True, eq=False)
class HardwareWeight:
    """One weighted IR layer tied to its torch module parameter."""

    name: str  # IR layer name (what DesignPoint.layers is keyed by)
    kind: str  # IR kind: conv2d, conv1d, dense
    module_path: str  # e.g. "3.conv1"; model.get_submodule(module_path).weight
    scale: np.ndarray | None  # folded BatchNorm scale per output channel, None if no BN
    folded: np.ndarray  # the IR's folded weight (float64, torch layout)

    @property
    def param_name(self) -> str:
        return f"{self.module_path}.weight"

    @property
    def size(self) -> int:
        return int(self.folded.size)

    def scale_view(self, like: torch.Tensor) -> torch.Tensor | None:
        """The BN scale shaped to broadcast over the weight (out channels first)."""
        if self.scale is None:
            return None
        shape = (-1,) + (1,) * (self.folded.ndim - 1)
        return torch.as_tensor(self.scale, dtype=like.dtype).reshape(shape)


def hardware_weights(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[Graph,
                                                                               list[HardwareWeight]]:
    """The folded Graph and, for each weighted layer in it, its torch parameter and BN scale.

    Raises if a weighted layer does not come from a Conv1d/Conv2d/Linear module, if one
    module is called twice (its weight would be shared by two hardware layers), or if the
    folding cannot be reproduced from the module's weight.
    """
    raw = trace(model, tuple(input_shape))
    graph = fold_batchnorm(raw)
    modules = dict(model.named_modules())
    seen: dict[str, str] = {}
    out: list[HardwareWeight] = []
    for layer in graph.weighted:
        mod = modules.get(layer.source)
        if not isinstance(mod, _WEIGHTED_MODULES):
            raise CodesignError(
                f"weighted layer {layer.name!r} comes from {layer.source!r}, which is not a "
                "Conv1d/Conv2d/Linear module of the model; sensitivity needs module weights")
        if layer.source in seen:
            raise CodesignError(
                f"module {layer.source!r} is called twice (layers {seen[layer.source]!r} and "
                f"{layer.name!r}); a shared weight has no per-layer sensitivity. Use two modules.")
        seen[layer.source] = layer.name
        bns = [c for c in raw.consumers(layer.name) if isinstance(c, L.BatchNorm)]
        scale = bns[0].scale.astype(np.float64) if bns else None
        weight = mod.weight.detach().double().numpy()
        rebuilt = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1)) if bns else weight
        if rebuilt.shape != layer.weight.shape or not np.allclose(rebuilt, layer.weight,
                                                                  rtol=1e-9, atol=1e-12):
            raise CodesignError(
                f"cannot reproduce the folded weight of {layer.name!r} from module "
                f"{layer.source!r}; the module's weight changed after tracing?")
        out.append(HardwareWeight(layer.name, layer.kind, layer.source, scale,
                                  layer.weight.copy()))
    if not out:
        raise CodesignError("the model has no Conv/Linear layer: nothing to measure")
    return graph, out
