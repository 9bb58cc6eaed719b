"""The structural estimate: rules on known cases (adder graphs, line buffers, DSPs,
constant streams), `codesign cost` JSON, and the rules against a real Yosys synthesis
of the tiny design (tests/synth's session fixture)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from codesign.cli.main import main
from codesign.cost import structural as st
from codesign.devices import get_device
from codesign.emit.adder_graph import Adder, AdderGraph, Output, solve_cmvm
from codesign.emit.rtl import plan_network
from codesign.emit.rtl_engines import window_timing
from tests.synth.conftest import tiny_qnet

XC7 = get_device("xc7a35t")
ECP5 = get_device("lfe5u-25f")


def _graph(adders: list[Adder]) -> AdderGraph:
    return AdderGraph(0, 15, 2, tuple(adders), (Output(2 + len(adders) - 1, 0, 1, 0, 0, 1),))


def test_adder_bits_follow_the_emitter():
    # x0 + x1: [0, 30], 5 bits, all added; x0 + (x1 << 2): [0, 75], 7 bits, of which the
    # low 2 are x0's wires (a positive operand at offset 0 below its partner)
    plain = Adder(0, 1, 0, 1, 1, 0, 30, 0)
    shifted = Adder(0, 1, 2, 1, 1, 0, 75, 0)
    # (x1 << 2) - x0: [-15, 60]; the negated operand is the low one, all 7 bits added
    diff = Adder(0, 1, 2, -1, 1, -15, 60, 0)
    assert (plain.width, shifted.width, diff.width) == (5, 7, 7)
    bits, const = st.graph_adder_bits(_graph([plain, shifted, diff]))
    assert bits == [5, 5, 7] and const == []


def test_adder_graph_lut_scales_with_its_adder_bits():
    """Doubling a layer's outputs (the same columns twice, no sharing across them by
    construction of a block-diagonal kernel) doubles the adder bits and the LUT term."""
    rng = np.random.default_rng(3)
    k = rng.integers(-40, 40, (6, 3))
    one = solve_cmvm(k, 0, 15, np.zeros(3, dtype=np.int64))
    two = solve_cmvm(np.block([[k, np.zeros_like(k)], [np.zeros_like(k), k]]), 0, 15,
                     np.zeros(6, dtype=np.int64))
    b1, b2 = sum(st.graph_adder_bits(one)[0]), sum(st.graph_adder_bits(two)[0])
    assert b2 == 2 * b1 > 0
    coef = {"lut": {"adder": 0.8}, "ff": {}}
    s1, s2 = st.Structure(lut={"adder": b1}), st.Structure(lut={"adder": b2})
    assert st.resources(s2, XC7, coef)["lut"] == pytest.approx(
        2 * st.resources(s1, XC7, coef)["lut"], abs=1)
    assert st.resources(s1, XC7, coef)["lut"] == round(0.8 * b1)


def test_line_buffer_srls_on_xilinx_flip_flops_on_ecp5():
    t = window_timing(8, 10, 3, 3, 1, 1, 0, 0, 1)  # 3x3 window over 10-pixel rows
    x = st.window_structure(t, 8, XC7)
    # two runs of 10 - 3 untapped pixels + the tap they feed: 8 deep, one SRL per bit
    assert x.srl == 2 * 8
    assert x.ff["lbuf"] == ((3 - 1) * 10 + 3 - 2 * 8) * 8
    e = st.window_structure(t, 8, ECP5)
    assert e.srl == 0 and e.ff["lbuf"] == ((3 - 1) * 10 + 3) * 8
    wide = st.window_structure(window_timing(4, 40, 3, 3, 1, 1, 0, 0, 1), 4, XC7)
    assert wide.srl == 2 * 4 * math.ceil(38 / 32)
    short = st.window_structure(window_timing(4, 4, 3, 3, 1, 1, 0, 0, 1), 4, XC7)
    assert short.srl == 0  # runs of 2: below shregmap's minimum, flip-flops


def test_dsp_rule():
    assert st.product_dsps(8, 8, XC7) == 1 and st.product_dsps(3, 4, XC7) == 0
    assert st.product_dsps(3, 4, ECP5) == 1  # synth_ecp5's mul2dsp has no minimum sum
    assert st.product_dsps(1, 8, ECP5) == 0
    assert st.product_dsps(30, 20, XC7) == 4  # two tiles each way of a 25x18 block
    assert st.constant_product_dsps(64, 8, True, XC7) == 0  # a power of two is a shift
    assert st.constant_product_dsps(0, 8, True, XC7) == 0
    assert st.constant_product_dsps(-45, 8, True, XC7) == 1


def test_type_ranges_find_constant_casts():
    from codesign.cost.ranges import cast_range
    from codesign.fixed import FixedType, Overflow, Rounding

    coarse = FixedType(3, 3, True, Rounding.TRN, Overflow.SAT)  # integers only
    lo, hi = cast_range(coarse, np.array([0]), np.array([31]), 6)  # [0, 31/64]: all dropped
    assert lo[0] == hi[0] == 0
    sat = FixedType(4, 4, True, Rounding.TRN, Overflow.SAT)
    lo, hi = cast_range(sat, np.array([-1000, 100]), np.array([1000, 120]), 0)
    assert lo.tolist() == [-8, 7] and hi.tolist() == [7, 7]  # the second saturates: constant
    wrap = FixedType(4, 4, True, Rounding.TRN, Overflow.WRAP)
    lo, hi = cast_range(wrap, np.array([100, 2]), np.array([120, 5]), 0)
    assert lo.tolist() == [-8, 2] and hi.tolist() == [7, 5]  # a wrap that can overflow: any


def test_a_constant_pool_output_kills_what_feeds_it():
    """randnet 2: the max pool's result type is coarser than its accumulator's whole
    range, so the pool output is 0; Yosys folds the pool, the conv before it (its only
    reader) and the graph dense after it; the RF 3 dense's accumulator loop stays."""
    from tests.rtl.randnet import random_qnet

    q, _ = random_qnet(2, residual=False)
    plan = plan_network(q)
    ctx = st.Context.of(plan, XC7, st.varying_bits(q))
    alive = {plan.engines[i].layers[0] for i in ctx.alive}
    assert alive == {"dense_6"}
    assert [st.engine_structure(e, ctx).dsp for e in plan.engines] == [0] * len(plan.engines)


def test_constant_stream_takes_its_producer_with_it():
    """A result type too coarse for its values is all zeros: Yosys folds the layer and
    everything feeding only it; the estimate keeps just the handshake."""
    q = tiny_qnet()
    plan = plan_network(q)
    varying = st.varying_bits(q)
    ctx = st.Context.of(plan, XC7, varying)
    assert ctx.alive == set(range(len(plan.engines)))
    dead = {k: np.zeros_like(v) if k == "conv" or k == "relu" else v
            for k, v in varying.items()}
    ctx = st.Context.of(plan, XC7, dead)
    conv = next(i for i, e in enumerate(plan.engines) if "conv" in e.layers)
    assert conv not in ctx.alive
    s = st.engine_structure(plan.engines[conv], ctx)
    assert set(s.lut) == {"ctrl"} and s.dsp == 0 and s.ff["lbuf"] == 0


@pytest.fixture(scope="module")
def tiny_design_file(tmp_path_factory):
    return tiny_qnet().save(tmp_path_factory.mktemp("cost_struct") / "d")


def test_cost_cli_structural_json(tiny_design_file, capsys):
    assert main(["cost", str(tiny_design_file), "--device", "xc7a35t", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["model"] == "structural" and r["source"] == "estimate"
    for key in ("lut", "ff", "dsp", "bram", "carry", "srl", "lutram", "latency", "interval",
                "utilization", "warnings", "fit"):
        assert key in r
    assert [row["module"] for row in r["layers"]] == ["cs_graph_engine", "cs_dense"]
    for key in ("lut", "ff", "dsp", "srl"):
        assert r[key] == sum(row[key] for row in r["layers"])
    assert r["dsp"] == 27  # 3 outputs x 9 multipliers (18 terms, RF 2), 7x4 bits: DSPs
    assert r["fit"]["yosys"] == st.fit_file()["yosys"]
    assert main(["cost", str(tiny_design_file), "--device", "xc7a35t"]) == 0
    text = capsys.readouterr().out
    assert "structural model" in text and "cs_graph_engine" in text
