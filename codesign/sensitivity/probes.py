"""Task-predictor probes (S2, MSQ): how much task information each layer's output keeps.

At the input and after every layer (Flatten excepted: it only reorders), the feature
map is pyramid-pooled (average over 1x1, 2x2, 4x4 grids, the grids that fit,
concatenated) and classified by weight imprinting: class prototypes are the normalized
means of the centred, normalized training features of each class; a sample's class is
the prototype of highest cosine similarity. No training, one forward pass per variant.

A predictor's accuracy A_p says how much task information its layer carries; how it
falls when layer l is quantized says how much that quantization hurts. S2 ranks layers
by both, and so do we: quantize layer l's weights (or round its result) to b bits with
the toolkit's quantizer, keep the predictors imprinted on the float network, and
score every predictor from layer l's own onwards (the damage travels down the network)
on the *validation* split:

    raw_l(b)   = sum_{p >= l} A_p * dL_p(l, b) / sum_{p >= l} A_p
    Omega_l(b) = max(0, max_{b' >= b} raw_l(b'))

dL_p is predictor p's loss increase (cross-entropy of softmax(T * cosine), a smooth
stand-in for its accuracy drop, which on a validation set of a few hundred images moves
in steps and ties), weighted by A_p so predictors that carry the task count most. The
envelope makes Omega monotone in width (fewer bits never scores as less harmful) and
non-negative: a measured decrease is the evaluation set's noise, not a gain. `extra`
keeps the raw values, the layer's own predictor's accuracy drop and loss increase (the
own-predictor-only score this module used before, for comparison). The test split is
never read here.
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


def monotone_envelope(raw: dict[int, float]) -> dict[int, float]:
    """Omega(b) = max(0, max over b' >= b of raw(b')): never lower at fewer bits, never < 0."""
    out, running = {}, 0.0
    for b in sorted(raw, reverse=True):
        running = max(running, float(raw[b]))
        out[b] = running
    return {b: out[b] for b in sorted(raw)}


class _Scorer:
    """The float predictors, their validation accuracy/loss, and the downstream score."""

    def __init__(self, graph: Graph, x_train: np.ndarray, y_train: np.ndarray,
                 x_val: np.ndarray, y_val: np.ndarray, num_classes: int) -> None:
        self.points = [p.name for p in probe_points(graph)]
        train = forward(graph, x_train)
        self.train = train
        self.probes = {n: ImprintedProbe.imprint(pyramid_pool(train[n]), y_train, num_classes)
                       for n in self.points}
        self.x_val, self.y_val = x_val, y_val
        val = forward(graph, x_val)
        self.base = {n: self.probes[n].evaluate(pyramid_pool(val[n]), y_val)
                     for n in self.points}

    def downstream(self, name: str) -> list[str]:
        return self.points[self.points.index(name):]

    def score(self, name: str, values: dict[str, torch.Tensor]
              ) -> tuple[float, dict[str, tuple[float, float]]]:
        """(accuracy-weighted loss increase over the predictors from `name` on, and per
        predictor its (accuracy drop, loss increase))."""
        total = weights = 0.0
        changes = {}
        for p in self.downstream(name):
            acc, loss = self.probes[p].evaluate(pyramid_pool(values[p]), self.y_val)
            base_acc, base_loss = self.base[p]
            total += base_acc * (loss - base_loss)
            weights += base_acc
            changes[p] = (base_acc - acc, loss - base_loss)
        return (total / weights if weights > 0 else 0.0), changes


def probe_table(graph: Graph, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                y_val: np.ndarray, bits: Sequence[int], num_classes: int, *,
                model_name: str | None = None, dataset: str | None = None,
                activations: bool = True) -> SensitivityTable:
    """The probe SensitivityTable: predictors imprinted on (x_train, y_train), scored on
    the validation split (x_val, y_val); Omega as in the module docstring."""
    bits = tuple(int(b) for b in bits)
    scorer = _Scorer(graph, x_train, y_train, x_val, y_val, num_classes)
    rounded = {layer.name for layer in rounded_layers(graph)}

    def measure(name: str, variants: dict[int, dict[str, torch.Tensor]]
                ) -> tuple[dict[int, float], dict]:
        raw, own_drop, own_loss = {}, {}, {}
        for b, values in variants.items():
            raw[b], changes = scorer.score(name, values)
            own_drop[b], own_loss[b] = changes[name]
        return monotone_envelope(raw), {"raw": raw, "accuracy_drop": own_drop,
                                        "own_loss_increase": own_loss}

    layers: dict[str, LayerSensitivity] = {}
    for layer in probe_points(graph):
        weight = act = None
        base_acc, base_loss = scorer.base[layer.name]
        extra: dict = {"probe_accuracy": base_acc, "probe_loss": base_loss}
        if isinstance(layer, L.WeightedLayer):
            weight, found = measure(layer.name, {b: forward(with_weight(
                graph, layer.name, quantize_weight(layer.weight, b)), x_val) for b in bits})
            extra.update({f"weight_{k}": v for k, v in found.items()})
        if activations and layer.name in rounded:
            cal = scorer.train[layer.name].numpy()
            signed = act_signed(layer, graph, cal)
            act, found = measure(layer.name, {b: forward(graph, x_val, act_quant={
                layer.name: act_type(cal, b, signed)}) for b in bits})
            extra.update({f"act_{k}": v for k, v in found.items()})
        if weight is None and act is None:
            continue
        params = int(layer.weight.size) if isinstance(layer, L.WeightedLayer) else 0
        layers[layer.name] = LayerSensitivity(layer.kind, params, base_acc, weight, act, extra)
    settings = {"grids": list(GRIDS), "temperature": TEMPERATURE, "imprint_samples":
                len(x_train), "val_samples": len(x_val), "scored_on": "validation split",
                "quantizer": "calibrate.fit_type (max-abs range) with WEIGHT_MODES / ACT_MODES",
                "omega": "predictor-accuracy-weighted loss increase of the predictors from "
                         "the layer on, monotone envelope over widths, floored at 0"}
    return SensitivityTable("probe", model_name, dataset, bits, layers, settings)
