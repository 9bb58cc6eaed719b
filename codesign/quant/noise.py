"""Accuracy under Gaussian weight noise (analog / in-memory hardware, S1).

Noise scale, exactly: every integer weight mantissa m of a layer becomes m + sigma * e with
e ~ N(0, 1) drawn independently per weight and per trial, i.e. a standard deviation of
sigma weight lsbs (sigma steps of that layer's weight grid). Biases and every activation
cast stay digital and exact; only the products see the perturbed weights.
"""

from __future__ import annotations

import numpy as np
import torch

from codesign.qnet import QuantizedNet
from codesign.quant.fxtorch import fixed_forward


def noisy_accuracy(qnet: QuantizedNet, x: np.ndarray, y: np.ndarray, sigma: float, *,
                   trials: int = 5, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation over `trials` of the test accuracy with weight noise."""
    rng = np.random.default_rng(seed)
    design = qnet.design
    biases = {n: torch.tensor(b * design[n].bias.lsb) for n, b in qnet.biases.items()}
    accs = []
    for _ in range(trials):
        weights = {}
        for name, m in qnet.weights.items():
            noisy = m + sigma * rng.standard_normal(m.shape)
            weights[name] = torch.tensor(noisy * design[name].weight.lsb)
        with torch.no_grad():
            out = fixed_forward(qnet.graph, design, weights, biases, x)
        accs.append(float((out.argmax(dim=1).numpy() == y).mean()))
    return float(np.mean(accs)), float(np.std(accs))
