"""Hessian trace of the loss with respect to the activations the hardware rounds.

An activation is rounded wherever a layer gets its own result width (calibrate_design:
the input, every weighted layer, ReLU and Add; pools and Flatten keep their input's type).
We add a zero perturbation to each such layer's output in the IR's float forward (the IR
is proven equal to the torch model, and its layer names are the hardware's), and take
Hessian-vector products with respect to those perturbations.

Samples are independent, so the Hessian of the mean loss over N samples with respect to
all N activation maps is block diagonal with blocks H_i / N. Its trace divided by the
elements per sample, h = Tr / n, is the per-element curvature of one sample's loss,
averaged over samples; h * E_i ||delta_i||^2 then estimates (twice) the loss increase
from rounding errors delta_i, like Tr/n * ||dW||^2 does for weights.

A draw is the Gauss-Newton form by default (gaussnewton.py): the ordinary backward of
sum_i w_i . z_i gives every sample's gradient with respect to every perturbation at once
(samples do not mix), one backward per batch for all rounded layers and no cross-layer
terms. The `hvp` estimator keeps the double backward with one Rademacher vector over all
of them (the reference).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.sensitivity.gaussnewton import GaussNewtonDraws, forward_perturbed
from codesign.sensitivity.hessian import (
    batches_of,
    cache_key,
    cached,
    estimator_id,
    resolve_estimator,
)
from codesign.sensitivity.hutchinson import (
    HutchinsonSettings,
    TraceEstimate,
    estimate,
    rademacher,
    warn_if_unconverged,
)

_ROUNDED = (L.Input, L.WeightedLayer, L.ReLU, L.Add)


def rounded_layers(graph: Graph) -> list[L.Layer]:
    """Layers whose output the hardware rounds to a width of their own."""
    return [layer for layer in graph if isinstance(layer, _ROUNDED)]


def act_signed(layer: L.Layer, graph: Graph, values: np.ndarray) -> bool | None:
    """Signedness calibrate_design gives the layer's result type (None: from the data)."""
    if isinstance(layer, L.WeightedLayer):
        return True
    if isinstance(layer, L.ReLU):
        return False
    if isinstance(layer, L.Add):
        return None  # signed iff an input can be negative; the data says
    return None


class ActivationHessian:
    def __init__(self, graph: Graph, x: np.ndarray, y: np.ndarray, settings: HutchinsonSettings,
                 *, loss_fn: Callable = F.cross_entropy, dtype: torch.dtype = torch.float32):
        self.graph = graph
        self.points = rounded_layers(graph)
        self.loss_fn = loss_fn
        self.dtype = dtype
        self.batches = batches_of(x, y, settings, dtype)
        self.estimator = resolve_estimator(settings, graph)
        self._gn = GaussNewtonDraws(graph, self.batches, loss_fn, dtype, outputs=self.names)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.points)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(int(np.prod(p.out_shape)) for p in self.points)

    def draw(self, gen: torch.Generator, active: np.ndarray | None = None) -> np.ndarray:
        """One sample per rounded layer (all of them: one backward serves every layer)."""
        if self.estimator == "gauss-newton":
            return self.gauss_newton_draw(gen)
        return self.hvp_draw(gen)

    def _perturbed(self, xb: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The logits of a forward with a zero perturbation at every rounded layer, and
        the perturbations (to differentiate with respect to)."""
        deltas = {p.name: torch.zeros((len(xb), *p.out_shape), dtype=self.dtype,
                                      requires_grad=True) for p in self.points}
        out = forward_perturbed(self.graph, xb, deltas)[self.graph.output.name]
        return out, list(deltas.values())

    def gauss_newton_draw(self, gen: torch.Generator) -> np.ndarray:
        """sum over batches of share_b / n_b * sum_i ||d(w_i . z_i)/d delta_{i,l}||^2."""
        return self._gn.draw(gen)

    def hvp_draw(self, gen: torch.Generator) -> np.ndarray:
        """v^T (H v) per rounded layer, one Rademacher v over all of them per batch."""
        total = np.zeros(len(self.points))
        for xb, yb, share in self.batches:
            out, ds = self._perturbed(xb)
            grads = torch.autograd.grad(self.loss_fn(out, yb) * share, ds, create_graph=True,
                                        allow_unused=True)
            vs = [rademacher(tuple(d.shape), gen, self.dtype) for d in ds]
            used = [(g, d, v) for g, d, v in zip(grads, ds, vs, strict=True) if g is not None]
            dot = sum((g * v).sum() for g, _, v in used)
            hvs = torch.autograd.grad(dot, [d for _, d, _ in used], allow_unused=True)
            it = iter(hvs)
            for i, g in enumerate(grads):
                if g is not None:
                    hv = next(it)
                    if hv is not None:
                        total[i] += float((vs[i] * hv).sum())
        return total


def activation_traces(graph: Graph, x: np.ndarray, y: np.ndarray,
                      settings: HutchinsonSettings | None = None, *, progress: bool = False,
                      cache: Path | None | bool = True,
                      dtype: torch.dtype = torch.float32) -> TraceEstimate:
    """Per rounded layer: Hutchinson estimate of Tr of the loss Hessian w.r.t. its output
    (sizes are elements per sample, so `per_element` is h above). Cached like weights."""
    settings = settings or HutchinsonSettings()
    hess = ActivationHessian(graph, x, y, settings, dtype=dtype)
    key = cache_key(estimator_id("activation", hess.loss_fn, dtype, hess.estimator),
                    graph.to_arrays(), x[:settings.samples], y[:settings.samples], settings)
    est = cached(key, cache, lambda: estimate(hess.draw, hess.names, hess.sizes, settings,
                                              progress=progress,
                                              desc="activation Hessian trace",
                                              estimator=hess.estimator))
    warn_if_unconverged(est, settings, "activation Hessian trace")
    return est
