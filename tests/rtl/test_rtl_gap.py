"""GlobalAvgPool2d end to end: traced from torch, the bit-accurate mean within the result's
quantization of the float mean, and the accumulator engine (hw/cs_gap.sv) bit- and
cycle-exact under Verilator (tests/rtl/gapnet.py: a 6x6 mean, whose divide is not a
shift, and a 2x2 mean behind a slower dense layer, with a narrow rounding accumulator),
both networks in one build."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.errors import CodesignError
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.rtl.latency import network_timing
from codesign.rtl.network import plan_network, plan_timing

from .gapnet import global_pool, mean_6x6, stalled_2x2
from .multinet import Member, build_all, simulate_all


@pytest.fixture(scope="module")
def nets():
    return {"mean_6x6": mean_6x6(), "stalled_2x2": stalled_2x2()}


def test_adaptive_pool_and_mean_trace_to_the_global_kind(nets):
    for qnet, _ in nets.values():
        pool = global_pool(qnet)
        _, h, w = qnet.graph[pool.inputs[0]].out_shape
        assert pool.kernel == pool.stride == (h, w) and pool.out_shape[1:] == (1, 1)
        assert not any(type(layer) is L.AvgPool2d for layer in qnet.graph.layers)


def test_bit_accurate_mean_is_the_float_mean_within_one_lsb(nets):
    """With a lossless accumulator the mean of the input's integers is exact but for
    the truncated division (below the accumulator's lsb) and the result's rounding."""
    qnet, x = nets["mean_6x6"]
    pool = global_pool(qnet)
    d = qnet.design
    values = qnet.forward_int(x, return_all=True)
    x_t, r_t = d.type_of(pool.inputs[0]), d[pool.name].result
    seen = values[pool.inputs[0]].astype(np.float64) * 2.0 ** -x_t.frac
    exact = seen.mean(axis=(2, 3), keepdims=True)
    got = values[pool.name].astype(np.float64) * 2.0 ** -r_t.frac
    assert np.abs(got - exact).max() <= 2.0 ** -r_t.frac
    assert np.abs(got - exact).max() > 0  # the result does round


def test_rtl_is_bit_and_cycle_exact(nets, tmp_path):
    members = [Member(name, q, prefix=f"g{i}_") for i, (name, (q, _)) in enumerate(nets.items())]
    for m in members:
        modules = [e.module for e in plan_network(m.qnet).engines]
        assert "cs_gap" in modules and "cs_pool" not in modules
    stalled = nets["stalled_2x2"][0]
    # the dense layer (RF 6) sets the interval; the pool's 4 beats per image wait for it
    assert network_timing(plan_network(stalled), 3).summary()["interval"] == 6
    xs = [x for _, x in nets.values()]
    build_dir, _ = build_all(members, tmp_path)
    for mode, n in (("timing", 48), ("stress", 16)):
        verdicts = simulate_all(members, [x[:n] for x in xs], build_dir, tmp_path / mode,
                                mode=mode, seed=3)
        bad = [v.explain() for v in verdicts if not v.ok]
        assert not bad, "\n".join(bad)


def test_a_global_pool_over_part_of_its_image_is_refused_by_name():
    graph = Graph((L.Input("input", (), (2, 4, 4)),
                   L.GlobalAvgPool2d("gap", ("input",), (2, 2, 2), kernel=(2, 2),
                                     stride=(2, 2))))
    with pytest.raises(CodesignError, match=r"global average pool 'gap': its kernel "
                                            r"\(2, 2\) is not its input's 4x4 image"):
        plan_timing(graph)
