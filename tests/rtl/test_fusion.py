"""The ReLU-fusion rule (codesign.rtl.fusion): one rule for the planner and the cost models."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.cost.fast import FastCostModel
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.rtl.fusion import fused_into, fused_relu
from codesign.rtl.network import plan_timing

from .randnet import random_qnet


def _conv(name: str, src: str) -> L.Conv2d:
    return L.Conv2d(name, (src,), (2, 4, 4), weight=np.ones((2, 2, 1, 1)), bias=np.zeros(2),
                    stride=(1, 1), padding=(0, 0))


def test_a_relu_is_fused_only_into_a_weighted_layer_it_alone_reads():
    g = Graph((L.Input("input", (), (2, 4, 4)),
               _conv("c1", "input"), L.ReLU("r1", ("c1",), (2, 4, 4)),  # fused
               _conv("c2", "r1"), L.ReLU("r2", ("c2",), (2, 4, 4)),  # c2 also feeds the add
               L.Add("add", ("c2", "r2"), (2, 4, 4)),
               L.ReLU("r3", ("add",), (2, 4, 4))))  # after an add: an engine of its own
    assert fused_into(g) == {"r1": "c1"}
    assert fused_relu(g, g["c1"]) is g["r1"]
    assert fused_relu(g, g["c2"]) is None and fused_relu(g, g["add"]) is None


@pytest.mark.parametrize("seed,residual", [(3, True), (5, False), (9, True)])
def test_planner_and_fast_model_fuse_the_same_relus(seed, residual):
    g = random_qnet(seed, residual)[0].graph
    planned = {e.layers[1]: e.layers[0] for e in plan_timing(g).engines if len(e.layers) == 2}
    assert planned == fused_into(g) and planned
    m = FastCostModel(g, "xc7a35t")
    for relu in g.layers:
        if isinstance(relu, L.ReLU):  # a fused ReLU has no register and no cycles
            c = m.layer_costs(relu.name, 0, 8, 8, 1, False)
            assert (float(c["interval"]) == 0) == (relu.name in planned), relu.name
