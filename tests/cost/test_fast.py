"""The fast estimate: its weight statistics, its shape on known cases, its cycles against
the RTL planner and the handshake simulation, and its speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from rtl.randnet import random_qnet  # tests/ is on sys.path (rootdir of tests/cost)

from codesign.cost import FastCostModel
from codesign.cost.weightstats import csd_digits, quantize_weights
from codesign.errors import CodesignError
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet
from codesign.rtl.engines import csd_masks
from codesign.rtl.latency import simulate
from codesign.rtl.network import plan_network, plan_timing


def test_csd_digits_match_the_rtl_generators_digits():
    values = np.random.default_rng(0).integers(-2000, 2000, 500)
    pos, neg = csd_masks(values, 14)
    expected = bin(int(pos.split("'h")[1], 16)).count("1") + bin(
        int(neg.split("'h")[1], 16)).count("1")
    assert int(csd_digits(values).sum()) == expected


def test_weights_quantize_like_calibration(digits_qnet8):
    layer = digits_qnet8.graph.weighted[1]
    assert np.array_equal(quantize_weights(layer.weight, 8).reshape(layer.weight.shape),
                          digits_qnet8.weights[layer.name])


def _dense_graph(weight: np.ndarray) -> Graph:
    cout, n = weight.shape
    return Graph((L.Input("input", (), (n,)),
                  L.Dense("fc", ("input",), (cout,), weight=weight, bias=np.zeros(cout))))


def test_zero_weights_cost_no_multiplier_logic():
    w = np.zeros((4, 16))
    w[0, 0] = 0.75  # one nonzero weight: 0.75 = 1 - 1/4, two signed digits
    m = FastCostModel(_dense_graph(w), "xc7a35t")
    feats, dsp, _, _ = m.features("fc", 8, 8, 8, 1, False)
    # lossless at RF 1: the adder graph engine, its two digits at the accumulator width
    # (8 + 8 bits, log2(16) + 1 of growth, one for the unsigned input)
    assert float(feats["graphadd"]) == 2 * (8 + 8 + 4 + 1 + 1)
    assert float(feats["shiftadd"]) == 0 and float(dsp) == 0
    feats, dsp, _, _ = m.features("fc", 8, 8, 8, 1, False, accum_bits=12, lossy=True)
    assert float(feats["shiftadd"]) == (2 - 1) * (8 + 8 + 2)  # one adder of the product width
    assert float(feats["graphadd"]) == 0 and float(dsp) == 0


def test_dsp_count_follows_the_multiplier_shape():
    w = np.random.default_rng(1).normal(size=(6, 20))
    m = FastCostModel(_dense_graph(w), "xc7a35t")
    rf = np.array([1, 2, 3, 7, 20])
    c = m.layer_costs("fc", 8, 8, 8, rf, True)
    # RF > 1 multiplies cycle-indexed weights: cout * ceil(terms / RF) 8x8 products on DSPs
    # (RF 1: 6 x 20 products by constants, each on a DSP unless a shift or zero)
    assert c["dsp"].tolist()[1:] == [6 * 10, 6 * 7, 6 * 3, 6 * 1]
    # LUT multipliers write no `*` at RF > 1 (shift-and-add rows; Yosys 0.70 gave 0
    # DSPs on all 14 such designs of bench/cost_model.py), nor shift-adds at RF 1
    assert m.layer_costs("fc", 8, 8, 8, rf, False)["dsp"].tolist() == [0] * 5
    # 3-bit x 3-bit products stay in LUTs (Yosys maps to DSPs from a 9-bit width sum)
    assert m.layer_costs("fc", 3, 3, 8, 4, True)["dsp"] == 0
    # 30-bit operands need two 25x18 tiles in one direction
    assert m.layer_costs("fc", 18, 30, 8, 20, True)["dsp"] == 6 * 2
    assert FastCostModel(_dense_graph(w), "lfe5u-25f").layer_costs(
        "fc", 18, 30, 8, 20, True)["dsp"] == 6 * 2


def test_costs_broadcast_and_grow_with_width_and_parallelism(digits_qnet8):
    g = digits_qnet8.graph
    m = FastCostModel(g, "xc7z020")
    name = g.weighted[1].name
    bits = np.arange(2, 17)[:, None]
    rf = np.array([1, 2, 4, 8])[None, :]
    c = m.layer_costs(name, bits, bits, 8, rf, False)
    for key in ("lut", "ff", "dsp", "bram", "latency", "interval"):
        assert c[key].shape == (15, 4), key
    assert np.all(np.diff(c["lut"][:, 0]) > 0)  # wider weights and inputs: more logic
    assert np.all(np.diff(c["interval"], axis=1) > 0)  # more reuse: slower
    assert np.all(np.diff(c["dsp"][8:, 1:], axis=1) <= 0)  # more reuse: fewer multipliers
    assert np.all(c["bram"] == 0)  # today's RTL keeps its weights in logic


def test_unknown_layer_is_refused(digits_qnet8):
    m = FastCostModel(digits_qnet8.graph, "xc7z020")
    with pytest.raises(CodesignError, match="no layer named 'nope'"):
        m.layer_costs("nope", 8, 8, 8, 1, False)


@pytest.mark.parametrize("seed,residual", [(3, True), (11, False), (5, False), (7, False),
                                           (2, True)])
def test_intervals_equal_the_engines_and_latency_tracks_the_simulation(seed, residual):
    qnet, _ = random_qnet(seed, residual)
    g, d = qnet.graph, qnet.design
    m = FastCostModel(g, "xc7a35t")
    plan = plan_network(qnet)
    total_latency = 0.0
    for layer in g.layers:
        impl = d.layers.get(layer.name)
        x_t = d.type_of(layer.inputs[0]) if layer.inputs else d.input
        w = impl.weight.width if impl is not None and impl.weight is not None else 8
        c = m.layer_costs(layer.name, w, x_t.width, impl.result.width if impl else 8,
                          impl.reuse if impl else 1, impl is not None and
                          impl.multiplier == "dsp")
        total_latency += float(c["latency"])
        engine = next((e for e in plan.engines
                       if e.layers[0] == layer.name and e.kind != "fifo"), None)
        if engine is not None:
            assert float(c["interval"]) == engine.cycles_per_image(), layer.name
    measured = simulate(plan, 2).summary()["latency"]
    assert abs(total_latency - measured) <= 0.25 * measured


@pytest.mark.parametrize("seed,residual", [(3, True), (11, False), (5, False), (2, True),
                                           (8, True)])
def test_network_cycles_are_exact(seed, residual):
    """From the float graph and the reuse factors alone: the latency and interval the
    handshake simulation counts on the quantized design's own plan; shares add up."""
    qnet, _ = random_qnet(seed, residual)
    reuse = {w.name: qnet.design[w.name].reuse for w in qnet.graph.weighted}
    got = FastCostModel(qnet.graph, "xc7a35t").network_cycles(reuse)
    want = simulate(plan_network(qnet), 2).summary()
    assert (got["latency"], got["interval"]) == (want["latency"], want["interval"])
    assert sum(got["layers"].values()) == got["latency"]
    assert set(got["layers"]) == set(qnet.graph.names)


def test_at_least_100k_candidates_per_second(digits_qnet8):
    g = digits_qnet8.graph
    m = FastCostModel(g, "xc7z020")
    n = 200_000
    rng = np.random.default_rng(0)
    args = (rng.integers(2, 17, n), rng.integers(2, 17, n), rng.integers(2, 17, n),
            rng.integers(1, 30, n), rng.random(n) < 0.5)
    for layer in g.weighted:
        m.layer_costs(layer.name, *args)  # warm the per-layer tables
        start = time.perf_counter()
        m.layer_costs(layer.name, *args)
        assert n / (time.perf_counter() - start) >= 100_000


def test_quantized_net_round_trip_unaffected(digits_qnet8):
    """The model reads only the float graph: the QuantizedNet is untouched."""
    before = {k: v.copy() for k, v in digits_qnet8.weights.items()}
    FastCostModel(digits_qnet8.graph, "xc7z020")
    assert all(np.array_equal(before[k], v) for k, v in digits_qnet8.weights.items())
    assert isinstance(digits_qnet8, QuantizedNet)


@pytest.mark.parametrize("seed", [3, 9])
def test_fork_fifos_sized_like_the_planner(seed):
    qnet, _ = random_qnet(seed, True)
    # the depths at reuse 1 (the skew moves with the reuse factors, which a per-layer
    # candidate table does not fix; `codesign cost` reads the design's own plan)
    depths = [e.timing["depth"] for e in plan_timing(qnet.graph).engines if e.kind == "fifo"]
    fork = next(layer for layer in qnet.graph.layers if len(qnet.graph.consumers(layer.name)) > 1)
    m = FastCostModel(qnet.graph, "xc7a35t")
    assert _fifo_costs(m, fork.name, 5) == _structural_fifos(fork.out_shape[0] * 5, depths, m)
    with_fifos = m.layer_costs(fork.name, 8, 8, 5, 1, False)
    feats, _, _, _ = m.features(fork.name, 8, 8, 5, 1, False)
    assert float(feats["fifo"]) == 0  # not fitted: the structural rule's figures instead
    m._info[fork.name].fifo_depths = []
    without = m.layer_costs(fork.name, 8, 8, 5, 1, False)
    assert float(with_fifos["lut"] - without["lut"]) == _structural_fifos(
        fork.out_shape[0] * 5, depths, m)[0]


def _fifo_costs(m: FastCostModel, layer: str, bits: int) -> tuple[float, float, float]:
    c = m.fifo_costs(layer, np.array([bits]))
    return float(c["lut"][0]), float(c["ff"][0]), float(c["bram"][0])


def _structural_fifos(width: int, depths: list[int], m: FastCostModel
                      ) -> tuple[float, float, float]:
    """What codesign cost's structural model charges for those FIFOs (LUT, FF, BRAM)."""
    from codesign.cost import structural as st

    rs = [st.resources(st.fifo_structure(width, d, m.device), m.device) for d in depths]
    return (float(sum(r["lut"] for r in rs)), float(sum(r["ff"] for r in rs)),
            float(sum(r["bram"] for r in rs)))


def test_dividers_are_counted_as_the_structural_model_counts_them():
    """randnet 9 has a 3x3 average pool of stride 3 over 3 channels: on Xilinx the
    window's `% 3` per dimension is a 32-bit restoring divider and the mean's divide by
    9 one of AW + 1 bits per channel; synth_ecp5 folds the `% 3`. The fast model's `div`
    feature must follow the structural model's (codesign.cost.structural.divider), or
    the 2,000-LUT dividers of a design vanish from the allocator's budget. The strides'
    dividers are exact; the mean's width is the lossless window sum's, where the fast
    model, which never sees the design's types, takes a ReLU's output as unsigned (one
    bit wider than this design's signed type)."""
    from codesign.cost import structural as st
    from codesign.cost.estimate import layer_args
    from codesign.devices import get_device

    q, _ = random_qnet(9, residual=True)
    plan = plan_network(q)
    pool = next(e for e in plan.engines if e.module == "cs_pool")
    aw, c = pool.params["AW"], 3
    want, got = {}, {}
    for part in ("xc7a100t", "lfe5u-85f"):
        dev = get_device(part)
        ctx = st.Context.of(plan, dev, st.varying_bits(q))
        want[part] = st.engine_structure(pool, ctx).lut["div"]
        m = FastCostModel(q.graph, dev)
        per_layer = {layer.name: float(m.features(layer.name, *layer_args(q, layer))[0]["div"])
                     for layer in q.graph.layers}
        got[part] = per_layer[pool.layers[0]]
        assert sum(per_layer.values()) == got[part]  # no other layer divides
    assert want["lfe5u-85f"] == c * 2 * (aw + 1) ** 2  # the mean only
    assert got["lfe5u-85f"] == c * 2 * (aw + 2) ** 2  # one bit wider: unsigned input
    stride_div = 2 * 2 * 32**2  # `% 3` in both dimensions, Xilinx only
    assert want["xc7a100t"] - want["lfe5u-85f"] == stride_div
    assert got["xc7a100t"] - got["lfe5u-85f"] == stride_div
    # a power-of-two stride and window build none
    g = Graph((L.Input("input", (), (2, 8, 8)),
               L.AvgPool2d("pool", ("input",), (2, 4, 4), kernel=(2, 2), stride=(2, 2))))
    feats = FastCostModel(g, "xc7a100t").features("pool", 0, 8, 8, 1, False)[0]
    assert float(feats["div"]) == 0


def test_lut_multipliers_at_reuse_take_no_dsp():
    """At RF > 1 `multiplier: lut` is written as shift-and-add rows of the ROM's weight
    bits (codesign.rtl.mac: no `*`, so no DSP whatever the widths); `dsp` writes
    `*`, which Yosys maps to DSPs when both operands are wide enough. 8 outputs x 16
    terms at RF 4: 32 multipliers of 8-bit weights by the unsigned 8-bit input (9 bits
    as a signed operand)."""
    rng = np.random.default_rng(0)
    m = FastCostModel(_dense_graph(rng.normal(0, 0.3, (8, 16))), "xc7a35t")
    feats, dsp, _, _ = m.features("fc", 8, 8, 8, 4, True)
    assert float(dsp) == 32 and float(feats["lutmul"]) == 0
    feats, dsp, _, _ = m.features("fc", 8, 8, 8, 4, False)
    assert float(dsp) == 0
    # row b of a 9 x 8 product (17 bits) keeps 17 - b bits: 8 * 17 - (0 + ... + 7)
    assert float(feats["lutmul"]) == 32 * (8 * 17 - 28)
    assert float(feats["dspacc"]) == 0 and float(feats["accadd"]) > 0


def test_adder_graph_pipeline_registers_follow_the_planners_stages():
    """The `pipe` feature is an adder graph's estimated pipeline stages at the part's
    clock x its outputs' accumulator bits (the registers the structural model counts at
    every stage boundary). On the all-adder-graph random networks the estimated stages
    are the planner's (codesign.rtl.pipeline on the solved graph) within one on every
    layer and exactly on most: an xc7 graph at 100 MHz rarely needs a stage, an ECP5 one
    up to three."""
    from codesign.cost.estimate import accum_args, layer_args
    from codesign.cost.structural import on_device
    from codesign.devices import get_device
    from codesign.rtl.engine_kinds import pipe_stages

    exact = total = 0
    for part in ("xc7a100t", "lfe5u-85f"):
        dev = get_device(part)
        for seed in range(1, 12):
            q = on_device(random_qnet(seed, graphs=True)[0], dev)
            planned = {name: pipe_stages(e.timing) for e in plan_network(q).engines
                       for name in e.layers}
            m = FastCostModel(q.graph, dev)
            for layer in q.graph.weighted:
                w_bits, x_bits, out_bits, reuse, dsp = layer_args(q, layer)
                acc = accum_args(q, layer)
                feats = m.features(layer.name, w_bits, x_bits, out_bits, reuse, dsp, **acc)[0]
                stages = float(feats["pipe"]) / (layer.out_channels * acc["accum_bits"])
                assert stages == int(stages)
                assert abs(stages - planned[layer.name]) <= 1, (part, seed, layer.name)
                exact += stages == planned[layer.name]
                total += 1
                # the same layer on DSPs is no adder graph: no pipeline
                dsp_feats = m.features(layer.name, w_bits, x_bits, out_bits, reuse, True,
                                       **acc)[0]
                assert float(dsp_feats["pipe"]) == 0
    assert total >= 50 and exact >= 0.75 * total


def test_products_of_an_input_that_fits_a_lut_are_tables():
    """A shift-add product (RF 1, LUT style, narrow accumulator) of an input no wider
    than a LUT's inputs is a table of that input, one LUT per product bit, however many
    signed digits the constant has (ABC collapses it; structural.table_product): on a
    6-input LUT a 6-bit input is a table, a 7-bit one is shift-adds; on ECP5's 4-input
    LUTs the 6-bit one is shift-adds too."""
    w = np.zeros((1, 4))
    w[0] = [0.671875, -0.421875, 0.0, 0.25]  # 0.101011b (4 digits), -0.011011b (3), 0, 2^-2
    for part, x_bits, table in (("xc7a35t", 6, True), ("xc7a35t", 7, False),
                                ("lfe5u-25f", 6, False), ("lfe5u-25f", 4, True)):
        feats = FastCostModel(_dense_graph(w), part).features(
            "fc", 8, x_bits, 8, 1, False, accum_bits=12, lossy=True)[0]
        pw = 8 + x_bits + 2
        if table:  # the three nonzero weights, each a pw-bit table
            assert (float(feats["table"]), float(feats["shiftadd"])) == (3 * pw, 0)
        else:  # (4 - 1) + (3 - 1) + 0 adders of the product's width
            assert (float(feats["table"]), float(feats["shiftadd"])) == (0, 5 * pw)


def test_xilinx_maps_a_product_to_a_dsp_by_its_trimmed_width():
    """synth_xilinx's mul2dsp needs a 9-bit product after wreduce trims it
    (hwrules.dsp_mapped): an unsigned 3-bit input times 5-bit weights is an 8-bit product
    (LUTs, as Yosys 0.70 built bench/cost_model.py's `conv w5 x3 rf2 dsp`), though its
    signed operands (4 + 5 bits) would reach 9; a 4-bit input makes 9 bits: a DSP."""
    w = np.random.default_rng(2).normal(0, 0.3, (2, 8))
    m = FastCostModel(_dense_graph(w), "xc7a35t")
    assert float(m.features("fc", 5, 3, 8, 2, True)[1]) == 0
    assert float(m.features("fc", 5, 4, 8, 2, True)[1]) == 2 * 4


def test_fork_fifos_hold_the_pipeline_stages_below_them():
    """A pipelined adder graph below a fork holds more beats (engine_kinds.WindowEngine.
    capacity) and skews its branch further, so the planner deepens the fork's FIFOs
    (on ECP5 at 100 MHz randnet 1's graphs take one or two stages); given those stages,
    the fast model's FIFO costs are the structural model's at the planner's depths."""
    from codesign.cost.structural import on_device
    from codesign.devices import get_device
    from codesign.rtl.engine_kinds import pipe_stages

    dev = get_device("lfe5u-85f")
    q = on_device(random_qnet(1, residual=True, graphs=True)[0], dev)
    plan = plan_network(q)
    stages = {e.layers[0]: pipe_stages(e.timing) for e in plan.engines if pipe_stages(e.timing)}
    depths = [e.timing["depth"] for e in plan.engines if e.kind == "fifo"]
    unstaged = [e.timing["depth"] for e in plan_timing(q.graph).engines if e.kind == "fifo"]
    assert stages and sum(depths) > sum(unstaged)  # the stages matter on this design
    fork = next(layer for layer in q.graph.layers if len(q.graph.consumers(layer.name)) > 1)
    for pipe, want in ((stages, depths), (None, unstaged)):
        m = FastCostModel(q.graph, dev, pipe)
        assert _fifo_costs(m, fork.name, 5) == _structural_fifos(fork.out_shape[0] * 5, want, m)


def test_a_forking_input_stream_pays_for_its_fifos():
    """The network's input read by two engines forks through two FIFOs in the RTL (and in
    the allocator's structural costs): the fast model charges them to the input."""
    g = Graph((L.Input("input", (), (2, 4, 4)),
               L.ReLU("relu", ("input",), (2, 4, 4)),
               L.Add("add", ("input", "relu"), (2, 4, 4))))
    depths = [e.timing["depth"] for e in plan_timing(g).engines if e.kind == "fifo"]
    assert len(depths) == 2
    m = FastCostModel(g, "xc7a35t")
    assert _fifo_costs(m, "input", 6) == _structural_fifos(2 * 6, depths, m)
    assert _fifo_costs(m, "input", 6)[0] > 0


def test_a_kind_the_model_never_sees_is_refused_by_name():
    g = Graph((L.Input("input", (), (4,)),
               L.BatchNorm("bn1", ("input",), (4,), scale=np.ones(4), shift=np.zeros(4))))
    with pytest.raises(CodesignError) as info:
        FastCostModel(g, "xc7a35t")
    for part in ("cost model", "batchnorm", "'bn1'", "fold_batchnorm"):
        assert part in str(info.value)
