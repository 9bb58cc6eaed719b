"""A small network for the regression-suite tests: cheap to verilate, yet with a conv (DSP
products, fused ReLU), a max pool and a dense head, so weights, casts and registers of
every engine kind are there to mutate."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from codesign.ir import Graph
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, calibrate_design

SHAPE = (1, 6, 6)


def small_qnet() -> tuple[QuantizedNet, np.ndarray]:
    """The network at 6 bits (first conv on DSP multipliers) and 24 test inputs."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(27, 4)).eval()
    rng = np.random.default_rng(0)
    x = rng.random((88, *SHAPE))
    graph = Graph.from_torch(model, SHAPE)
    design = calibrate_design(graph, x[:64], Widths(6, 6), model="small")
    design = design.with_layer(graph.weighted[0].name, multiplier="dsp")
    return QuantizedNet.from_float(graph, design), x[64:]
