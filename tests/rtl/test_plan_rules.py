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
