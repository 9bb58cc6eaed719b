"""Small networks ending in a global average pool (GlobalAvgPool2d, hw/cs_gap.sv), from
torch models, for the RTL, hls4ml and cost tests of that kind.

- `mean_6x6`: conv -> relu -> AdaptiveAvgPool2d(1) -> flatten -> linear over a 6x6 image:
  36 beats per mean (not a power of two: cs_gap's divider), a lossless accumulator.
- `stalled_2x2`: 1x1 conv -> x.mean((2, 3)) -> linear at RF 6 over a 2x2 image: the dense
  layer is slower (6 cycles) than an image (4 beats), so the pool's last beat waits for
  its output register; a narrow accumulator that rounds (to even) and saturates.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from codesign.fixed import FixedType, Overflow, Rounding
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, calibrate_design


class _MeanHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 6, 1)
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean((2, 3)))


def _quantized(model: nn.Module, shape: tuple[int, ...], seed: int, bits: int
               ) -> tuple[QuantizedNet, np.ndarray]:
    """The traced model calibrated at `bits` on 64 random inputs, and 48 others (some
    beyond the calibrated range)."""
    graph = Graph.from_torch(model.eval(), shape)
    r = np.random.default_rng(seed)
    calib = r.uniform(-0.2, 1.0, (64, *shape)).astype(np.float32)
    x = r.uniform(-0.4, 1.3, (48, *shape)).astype(np.float32)
    return QuantizedNet.from_float(graph, calibrate_design(graph, calib, Widths(bits, bits))), x


def global_pool(qnet: QuantizedNet) -> L.GlobalAvgPool2d:
    (pool,) = [layer for layer in qnet.graph.layers if isinstance(layer, L.GlobalAvgPool2d)]
    return pool


def mean_6x6() -> tuple[QuantizedNet, np.ndarray]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(8, 3))
    return _quantized(model, (1, 6, 6), 0, 8)


def stalled_2x2() -> tuple[QuantizedNet, np.ndarray]:
    torch.manual_seed(1)
    qnet, x = _quantized(_MeanHead(), (2, 2, 2), 1, 7)
    d = qnet.design
    pool, fc = global_pool(qnet).name, qnet.graph.weighted[-1].name
    acc = d[pool].accum
    assert acc is not None
    # two fraction bits fewer than its input's (every add rounds), one integer bit fewer
    narrow = FixedType(acc.width - 4, acc.integer - 1, True, Rounding.RND_CONV, Overflow.SAT)
    d = d.with_layer(pool, accum=narrow).with_layer(fc, reuse=6)
    return QuantizedNet.from_float(qnet.graph, d), x
