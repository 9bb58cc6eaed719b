"""The RTL planner's per-kind rules: a kind it never sees is refused with its reason, and a
dense layer's window is its whole input stream, in the timing-only plan and the full one."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.errors import UnsupportedLayerError
from codesign.ir import Graph
from codesign.ir import layers as L
from codesign.rtl.network import plan_network, plan_timing
from tests.synth.conftest import tiny_qnet


def test_an_unfolded_batchnorm_is_refused_with_the_reason():
    graph = Graph((L.Input("input", (), (2, 4, 4)),
                   L.BatchNorm("bn1", ("input",), (2, 4, 4), scale=np.ones(2),
                               shift=np.zeros(2))))
    with pytest.raises(UnsupportedLayerError,
                       match=r"RTL generator .* batchnorm .*'bn1'.*folded into the conv"):
        plan_timing(graph)


def test_a_dense_window_is_its_whole_input_stream():
    """tiny_qnet: conv 1x5x5 -> 2x3x3, relu, flatten, dense 18 -> 3 at reuse 2. The dense
    engine reads the conv's 9-beat stream of 2 channels as one 1 x 9 window."""
    qnet = tiny_qnet()
    want = {"H": 1, "W": 9, "KH": 1, "KW": 9, "SH": 1, "SW": 1, "PH": 0, "PW": 0,
            "HP": 1, "WP": 9}
    full = plan_network(qnet).engines[-1]
    timing = plan_timing(qnet.graph, {"fc": 2}).engines[-1]
    for e in (full, timing):
        assert e.layers == ("fc",) and e.kind == "window"
        assert {k: e.timing[k] for k in want} == want and e.timing["RF"] == 2
    assert {k: full.params[k] for k in ("H", "W", "CIN", "KH", "KW")} == {
        "H": 1, "W": 9, "CIN": 2, "KH": 1, "KW": 9}


def test_a_first_layer_is_planned_alone_at_any_reuse():
    """plan_layer walks back over re-read streams to the network's input, which has no
    planning rule: the walk stops there (the allocator plans each layer alone)."""
    from codesign.models import load_model
    from codesign.qnet import QuantizedNet
    from codesign.quant.calibrate import Widths, calibrate_design
    from codesign.rtl.network import plan_layer

    graph = load_model("digits_cnn", trained=False, progress=False).graph()
    first = next(layer for layer in graph if layer.has_weights)
    design = calibrate_design(graph, np.zeros((4, *graph.input_shape), np.float32),
                              Widths(4, 4)).with_layer(first.name, reuse=3)
    plan = plan_layer(QuantizedNet.from_float(graph, design), first.name)
    assert any(first.name in e.layers and e.timing["RF"] == 3 for e in plan.engines)
