"""Adaptive rounding (S3; AdaRound, Nagel et al. 2020): per weight, round down or up so
the layer's output moves least, instead of rounding to nearest.

The objective is the paper's asymmetric reconstruction (its section 4, eq. 25):

    min_V || f_a(W x) - f_a(W~(V) x~) ||_F^2 + lambda * f_reg(V)

- the target f_a(W x) is the *float* network's layer output computed from the *float*
  network's input to that layer (BatchNorm folded, nothing quantized upstream);
- the rounded layer W~(V) sees x~, the input the already-rounded fixed-point network gives
  it (every earlier layer rounded, every activation cast), so it learns to compensate the
  error accumulated upstream;
- f_a, the activation function, is inside the objective: a layer whose every consumer is a
  ReLU is compared after the ReLU (errors on outputs the ReLU zeroes cost nothing).

Layers are done in graph order. h(V) is the rectified sigmoid, pushed to 0 or 1 by the
annealed regulariser (beta from 20 to 2 after a 20% warm-up, lambda = 0.01, as in the
paper); at the end h >= 1/2 rounds up. The relaxation runs in float32 (a search); the
result is then compared in float64 with round-to-nearest on the same objective over all
calibration inputs, and the better of the two is kept.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from codesign.design import DesignPoint
from codesign.errors import DesignError
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.quant.fxtorch import fixed_forward, weighted_sum
from codesign.quant.qat import relu_consumers_only

ZETA, GAMMA = 1.1, -0.1
DEFAULT_ITERS = 1000
"""Iterations per layer: on the zoo's digits models the objective stops improving by
1000 (bench/adaround_iters.py shows where it levels off)."""


def _h(v: torch.Tensor) -> torch.Tensor:
    return torch.clamp(torch.sigmoid(v) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def _reconstruction(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius error per sample, averaged over the batch."""
    return ((out - target) ** 2).reshape(len(out), -1).sum(dim=1).mean()


def adaround_layer(layer: L.WeightedLayer, x_q: torch.Tensor, target: torch.Tensor,
                   design: DesignPoint, *, relu: bool = False, iters: int = DEFAULT_ITERS,
                   lr: float = 0.01, reg: float = 0.01, batch_size: int = 128,
                   seed: int = 0) -> tuple[torch.Tensor, dict]:
    """Real weights on the layer's weight grid chosen by adaptive rounding, and a record of
    the objective (float64, all inputs): before (nearest), after, and per 10% of iters.

    x_q: the layer's input in the quantized network; target: f_a(W x) of the float network
    (already through the ReLU when relu=True).
    """
    if iters < 1:
        raise DesignError(f"adaround needs at least 1 iteration, not {iters}")
    t = design[layer.name].weight
    assert t is not None
    act = torch.relu if relu else (lambda v: v)
    w64 = torch.tensor(layer.weight, dtype=torch.float64)
    b64 = torch.tensor(layer.bias, dtype=torch.float64)
    lo, hi = float(t.min_int), float(t.max_int)
    scaled = w64 * 2.0**t.frac
    w_floor = torch.floor(scaled)
    rest = (scaled - w_floor).clamp(1e-4, 1 - 1e-4)
    v = torch.nn.Parameter((-torch.log((ZETA - GAMMA) / (rest - GAMMA) - 1)).float())
    x32, b32, floor32 = x_q.float(), b64.float(), w_floor.float()
    target32 = target.float()
    opt = torch.optim.Adam([v], lr=lr)
    gen = torch.Generator().manual_seed(seed)
    warmup = int(0.2 * iters)
    trace = []
    for it in range(iters):
        idx = torch.randperm(len(x32), generator=gen)[:batch_size]
        hv = _h(v)
        w_soft = torch.clamp(floor32 + hv, lo, hi) * 2.0**-t.frac
        rec = _reconstruction(act(weighted_sum(layer, x32[idx], w_soft, b32)), target32[idx])
        if it < warmup:
            loss = rec
        else:
            beta = 20 + (2 - 20) * (it - warmup) / max(1, iters - warmup)
            loss = rec + reg * (1 - (2 * hv - 1).abs() ** beta).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (it + 1) % max(1, iters // 10) == 0:
            trace.append(float(rec.detach()))

    def objective(w: torch.Tensor) -> float:
        return float(_reconstruction(act(weighted_sum(layer, x_q, w, b64)), target))

    with torch.no_grad():
        up = (_h(v) >= 0.5).to(torch.float64)
        ada = torch.clamp(w_floor + up, lo, hi) * 2.0**-t.frac
        nearest = torch.tensor(t.quantize(layer.weight))
        errors = (objective(ada), objective(nearest))
    record = {"nearest": errors[1], "adaround": errors[0], "batch_trace": trace,
              "kept": "adaround" if errors[0] <= errors[1] else "nearest"}
    return (ada if errors[0] <= errors[1] else nearest), record


def adaround(graph: Graph, design: DesignPoint, calib_x: np.ndarray, *,
             iters: int = DEFAULT_ITERS, seed: int = 0, progress: bool = False,
             records: dict | None = None) -> dict[str, torch.Tensor]:
    """Adaptively rounded real weights for every weighted layer of `design` (asymmetric
    reconstruction, see the module doc). records: filled with each layer's objective."""
    # the target side: the float network on float inputs
    floats = graph.forward(calib_x, return_all=True, dtype=torch.float64)
    weights = {}
    for layer in graph.weighted:
        t = design[layer.name].weight
        assert t is not None
        weights[layer.name] = torch.tensor(t.quantize(layer.weight))  # nearest to start
    biases = {layer.name: torch.tensor(layer.bias) for layer in graph.weighted}
    bar = tqdm(graph.weighted, desc="adaround", disable=None if progress else True, leave=False)
    for layer in bar:
        with torch.no_grad():
            values = fixed_forward(graph, design, weights, biases, calib_x, return_all=True)
        assert isinstance(values, dict)
        relu = relu_consumers_only(graph, layer.name)
        target = floats[layer.name].to(torch.float64)
        if relu:
            target = torch.relu(target)
        weights[layer.name], rec = adaround_layer(
            layer, values[layer.inputs[0]], target, design, relu=relu, iters=iters, seed=seed)
        if records is not None:
            records[layer.name] = rec
    return weights
