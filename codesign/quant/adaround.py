"""Adaptive rounding (S3, AdaRound - Nagel et al. 2020): per weight, round down or up so
the layer's output on calibration data moves least, instead of rounding to nearest.

Layers are done in graph order; each sees the inputs the already-rounded fixed-point
network gives it (so earlier errors are compensated), and is fitted to the float
weights' output on those same inputs. The rounding variable h(V) is a rectified sigmoid
pushed to 0 or 1 by an annealed regulariser; at the end h >= 1/2 rounds up.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from codesign.design import DesignPoint
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.quant.fxtorch import fixed_forward

ZETA, GAMMA = 1.1, -0.1


def _h(v: torch.Tensor) -> torch.Tensor:
    return torch.clamp(torch.sigmoid(v) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def _linear(layer: L.WeightedLayer, x: torch.Tensor, w: torch.Tensor,
            b: torch.Tensor) -> torch.Tensor:
    if isinstance(layer, L.Conv2d):
        return F.conv2d(x, w, b, layer.stride, layer.padding)
    if isinstance(layer, L.Conv1d):
        return F.conv1d(x, w, b, layer.stride, layer.padding)
    return F.linear(x, w, b)


def adaround_layer(layer: L.WeightedLayer, x_q: torch.Tensor, design: DesignPoint, *,
                   iters: int = 500, lr: float = 0.05, reg: float = 0.01,
                   batch_size: int = 128, seed: int = 0) -> torch.Tensor:
    """Real weights on the layer's weight grid, chosen by adaptive rounding.

    The relaxation is optimised in float32 (it is a search, not the exact forward); the
    result is then compared in float64 with round-to-nearest on all of x_q and the
    better of the two is kept, so the layer's reconstruction error never gets worse.
    """
    t = design[layer.name].weight
    assert t is not None
    w64 = torch.tensor(layer.weight, dtype=torch.float64)
    b64 = torch.tensor(layer.bias, dtype=torch.float64)
    lo, hi = float(t.min_int), float(t.max_int)
    scaled = w64 * 2.0**t.frac
    w_floor = torch.floor(scaled)
    rest = (scaled - w_floor).clamp(1e-4, 1 - 1e-4)
    v = torch.nn.Parameter((-torch.log((ZETA - GAMMA) / (rest - GAMMA) - 1)).float())
    x32, b32, floor32 = x_q.float(), b64.float(), w_floor.float()
    with torch.no_grad():
        target64 = _linear(layer, x_q, w64, b64)
    target32 = target64.float()
    opt = torch.optim.Adam([v], lr=lr)
    gen = torch.Generator().manual_seed(seed)
    warmup = int(0.2 * iters)
    for it in range(iters):
        idx = torch.randperm(len(x32), generator=gen)[:batch_size]
        hv = _h(v)
        w_soft = torch.clamp(floor32 + hv, lo, hi) * 2.0**-t.frac
        out = _linear(layer, x32[idx], w_soft, b32)
        rec = ((out - target32[idx]) ** 2).reshape(len(idx), -1).sum(dim=1).mean()
        if it < warmup:
            loss = rec
        else:
            beta = 20 + (2 - 20) * (it - warmup) / max(1, iters - warmup)
            loss = rec + reg * (1 - (2 * hv - 1).abs() ** beta).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        up = (_h(v) >= 0.5).to(torch.float64)
        ada = torch.clamp(w_floor + up, lo, hi) * 2.0**-t.frac
        nearest = torch.tensor(t.quantize(layer.weight))
        errors = [float(((_linear(layer, x_q, w, b64) - target64) ** 2).mean())
                  for w in (ada, nearest)]
    return ada if errors[0] <= errors[1] else nearest


def adaround(graph: Graph, design: DesignPoint, calib_x: np.ndarray, *, iters: int = 500,
             seed: int = 0, progress: bool = False) -> dict[str, torch.Tensor]:
    """Adaptively rounded real weights for every weighted layer of `design`."""
    weights = {}
    for layer in graph.weighted:
        t = design[layer.name].weight
        assert t is not None
        weights[layer.name] = torch.tensor(t.quantize(layer.weight))  # nearest to start
    biases = {layer.name: torch.tensor(layer.bias) for layer in graph.weighted}
    bar = tqdm(graph.weighted, desc="adaround", disable=not progress, leave=False)
    for layer in bar:
        with torch.no_grad():
            values = fixed_forward(graph, design, weights, biases, calib_x, return_all=True)
        assert isinstance(values, dict)
        x_q = values[layer.inputs[0]]
        weights[layer.name] = adaround_layer(layer, x_q, design, iters=iters, seed=seed)
    return weights
