"""Task-predictor probes (S2, MSQ): how much task information each layer's output keeps.

At the input and after every layer (Flatten excepted: it only reorders), the feature
map is pyramid-pooled (average over 1x1, 2x2, 4x4 grids, the grids that fit,
concatenated) and classified by weight imprinting: class prototypes are the normalized
means of the centred, normalized training features of each class; a sample's class is
the prototype of highest cosine similarity. No training, one forward pass per variant.

A layer's importance at width b: the probe right after it, re-imprinted on nothing
(prototypes stay those of the float network), evaluated on test data with that layer's
weights (or result) rounded to b bits with the toolkit's quantizer. Omega is the increase
of the probe's loss, cross-entropy of softmax(T * cosine); the accuracy drop is kept in
`extra` (on a few hundred test images it moves in steps and ties often, so it ranks
worse).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from codesign.fixed import FixedType
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.sensitivity.activations import act_signed, rounded_layers
from codesign.sensitivity.perturbation import act_type, quantize_weight
from codesign.sensitivity.table import LayerSensitivity, SensitivityTable

GRIDS = (1, 2, 4)
TEMPERATURE = 10.0


def pyramid_pool(a: torch.Tensor, grids: Sequence[int] = GRIDS) -> torch.Tensor:
    """(N, C, H, W) / (N, C, L) / (N, F) -> (N, features): grid averages concatenated."""
    if a.ndim == 2:
        return a
    if a.ndim == 3:
        parts = [F.adaptive_avg_pool1d(a, g) for g in grids if g <= a.shape[2]]
    elif a.ndim == 4:
        parts = [F.adaptive_avg_pool2d(a, g) for g in grids if g <= min(a.shape[2:])]
    else:
        raise ValueError(f"cannot pool a tensor of shape {tuple(a.shape)}")
    return torch.cat([p.flatten(1) for p in parts], dim=1)


@dataclasses.dataclass(frozen=True, eq=False)
class ImprintedProbe:
    """Cosine classifier with imprinted prototypes (no training)."""

    center: torch.Tensor  # (D,) mean training feature, removed before normalizing
    prototypes: torch.Tensor  # (K, D) unit rows

    @classmethod
    def imprint(cls, feats: torch.Tensor, labels: np.ndarray, num_classes: int
                ) -> ImprintedProbe:
        center = feats.mean(dim=0)
        z = F.normalize(feats - center, dim=1)
        y = torch.as_tensor(labels)
        protos = torch.stack([z[y == k].mean(dim=0) if bool((y == k).any())
                              else torch.zeros(z.shape[1], dtype=z.dtype)
                              for k in range(num_classes)])
        return cls(center, F.normalize(protos, dim=1))

    def cosine(self, feats: torch.Tensor) -> torch.Tensor:
        return F.normalize(feats - self.center, dim=1) @ self.prototypes.T

    def evaluate(self, feats: torch.Tensor, labels: np.ndarray) -> tuple[float, float]:
        """(accuracy, loss) on features of labelled samples."""
        cos = self.cosine(feats)
        y = torch.as_tensor(labels)
        acc = float((cos.argmax(dim=1) == y).double().mean())
        return acc, float(F.cross_entropy(TEMPERATURE * cos, y))


def forward(graph: Graph, x: np.ndarray, *, act_quant: dict[str, FixedType] | None = None
            ) -> dict[str, torch.Tensor]:
    """Float64 forward of the IR, optionally rounding named layers' outputs to a type."""
    values: dict[str, torch.Tensor] = {}
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    with torch.no_grad():
        for layer in graph:
            out = xt if isinstance(layer, L.Input) else layer.forward_float(
                *(values[i] for i in layer.inputs))
            if act_quant and layer.name in act_quant:
                out = torch.as_tensor(act_quant[layer.name].quantize(out.numpy()))
            values[layer.name] = out
    return values


def with_weight(graph: Graph, name: str, weight: np.ndarray) -> Graph:
    return Graph(tuple(dataclasses.replace(layer, weight=weight) if layer.name == name
                       else layer for layer in graph))


def probe_points(graph: Graph) -> list[L.Layer]:
    return [layer for layer in graph if not isinstance(layer, L.Flatten)]


def probe_table(graph: Graph, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                y_test: np.ndarray, bits: Sequence[int], num_classes: int, *,
                model_name: str | None = None, dataset: str | None = None,
                activations: bool = True) -> SensitivityTable:
    """The probe SensitivityTable: Omega = probe loss increase at the layer's own probe."""
    bits = tuple(int(b) for b in bits)
    train = forward(graph, x_train)
    probes = {p.name: ImprintedProbe.imprint(pyramid_pool(train[p.name]), y_train, num_classes)
              for p in probe_points(graph)}
    test = forward(graph, x_test)
    base = {n: probe.evaluate(pyramid_pool(test[n]), y_test) for n, probe in probes.items()}
    rounded = {layer.name for layer in rounded_layers(graph)}

    def drop(name: str, values: dict[str, torch.Tensor]) -> tuple[float, float]:
        acc, loss = probes[name].evaluate(pyramid_pool(values[name]), y_test)
        return loss - base[name][1], base[name][0] - acc

    layers: dict[str, LayerSensitivity] = {}
    for layer in probe_points(graph):
        weight = act = None
        extra: dict = {"probe_accuracy": base[layer.name][0], "probe_loss": base[layer.name][1]}
        if isinstance(layer, L.WeightedLayer):
            res = {b: drop(layer.name, forward(with_weight(
                graph, layer.name, quantize_weight(layer.weight, b)), x_test)) for b in bits}
            weight = {b: r[0] for b, r in res.items()}
            extra["weight_accuracy_drop"] = {b: r[1] for b, r in res.items()}
        if activations and layer.name in rounded:
            signed = act_signed(layer, graph, train[layer.name].numpy())
            res = {b: drop(layer.name, forward(graph, x_test, act_quant={
                layer.name: act_type(train[layer.name].numpy(), b, signed)})) for b in bits}
            act = {b: r[0] for b, r in res.items()}
            extra["act_accuracy_drop"] = {b: r[1] for b, r in res.items()}
        if weight is None and act is None:
            continue
        params = int(layer.weight.size) if isinstance(layer, L.WeightedLayer) else 0
        layers[layer.name] = LayerSensitivity(layer.kind, params, base[layer.name][0], weight,
                                              act, extra)
    settings = {"grids": list(GRIDS), "temperature": TEMPERATURE, "imprint_samples":
                len(x_train), "test_samples": len(x_test),
                "quantizer": "calibrate.fit_type (max-abs range) with WEIGHT_MODES / ACT_MODES",
                "omega": "probe cross-entropy increase at the layer's own probe"}
    return SensitivityTable("probe", model_name, dataset, bits, layers, settings)
