"""The structural estimate: rules on known cases (adder graphs, line buffers, DSPs,
constant streams), `codesign cost` JSON, and the rules against a real Yosys synthesis
of the tiny design (tests/synth's session fixture)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from codesign import hwrules
from codesign.cli.main import main
from codesign.cost import structural as st
from codesign.design import lossless_accum
from codesign.devices import get_device
from codesign.fixed import FixedType
from codesign.qnet import QuantizedNet
from codesign.rtl.adder_graph import Adder, AdderGraph, Output, solve_cmvm
from codesign.rtl.engines import window_timing
from codesign.rtl.mac import plan_mac
from codesign.rtl.network import plan_network
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


def _mac(wmat, x_t, w_t, rf, dsp, device=XC7, bias=None):
    """A MAC plan of y = x @ wmat (+ bias) with a lossless accumulator."""
    terms, cout = wmat.shape
    b_t = FixedType(8, 3)
    bias = np.zeros(cout, dtype=int) if bias is None else bias
    return plan_mac(np.asarray(wmat), list(range(terms)), bias, x_t, w_t, b_t,
                    lossless_accum(w_t, x_t, b_t, terms), rf, dsp, device)


def _signed_bits(lo: int, hi: int) -> int:
    """Bits of the narrowest field holding [lo, hi]: two's complement when lo < 0."""
    n = 1
    while not (0 <= lo and hi < 2 ** n or -(2 ** (n - 1)) <= lo and hi < 2 ** (n - 1)):
        n += 1
    return n


def test_block_rom_layer_counts_its_block_rams():
    """400 cycles x 4 outputs of 8-bit weights: one 512 x 36 18 Kbit block (half a
    RAMB36, the unit Xilinx parts count in; one DP16KD on ECP5), no LUT ROM; a 3-deep ROM
    of the same layer is LUTs: one per distinct ROM bit that varies over the 3 cycles (a
    LUT6 holds 64 words; a constant bit is a wire; equal bits are one LUT), and as many
    registers (Yosys moves the cycle counter's register through the ROM)."""
    rng = np.random.default_rng(7)
    deep = rng.integers(-120, 121, (400, 4))
    x2, w8 = FixedType(2, 1, False), FixedType(8, 1)
    for device, blocks in ((XC7, 0.5), (ECP5, 1.0)):
        plan = _mac(deep, x2, w8, 400, False, device)
        assert plan.rom is not None and plan.rom.style == "block"
        s = st.mac_structure(plan, device)
        assert s.bram == blocks and "rom" not in s.lut and "romreg" not in s.ff
    w = deep[:12]
    shallow = _mac(w, x2, w8, 3, False)
    assert shallow.rom is not None and shallow.rom.style == "distributed"
    columns = {tuple((int(w[t * 4 + i, o]) >> b) & 1 for t in range(3))
               for o in range(4) for i in range(4) for b in range(8)}
    varying = len(columns - {(0, 0, 0), (1, 1, 1)})
    assert varying == 6  # all a 3-deep column can be
    s = st.mac_structure(shallow, XC7)
    assert s.bram == 0 and s.lut["rom"] == s.ff["romreg"] == varying


def test_dsp_products_follow_hwrules():
    """8-bit signed x 6-bit weights at RF 3 (12 terms, 2 outputs: 8 products): one DSP
    each with `*` (Yosys maps 8 DSP48E1, tests/rtl/test_rtl_mac.py), none with LUT
    multipliers; a 3-bit x 4-bit product is under mul2dsp's 9-bit sum: LUTs; at RF 1 a
    power-of-two weight is a shift."""
    rng = np.random.default_rng(7)
    small = rng.integers(-31, 32, (12, 2))
    small[small == 0] = 1
    x8, w6 = FixedType(8, 3), FixedType(6, 1)
    for device in (XC7, ECP5):
        assert st.mac_structure(_mac(small, x8, w6, 3, True, device), device).dsp == 8
        lut = st.mac_structure(_mac(small, x8, w6, 3, False, device), device)
        assert lut.dsp == 0 and lut.lut["lutmul"] > 0
    narrow = _mac(rng.integers(-7, 8, (12, 2)), FixedType(2, 1, False), FixedType(4, 1), 3,
                  True)
    assert not hwrules.dsp_inferred(3, 4)
    assert st.mac_structure(narrow, XC7).dsp == 0
    pow2 = np.array([[64, 5], [-32, 0], [1, 16]])
    s = st.mac_structure(_mac(pow2, x8, FixedType(8, 8), 1, True), XC7)
    assert s.dsp == 1  # only the 5: 64, -32, 1, 16 are shifts, 0 no product


def test_mac_luts_scale_with_slot_widths():
    """LUT multipliers: one shift-and-add row per weight bit whose ROM column is not all
    zero, row b as wide as the product less b (the input sign-extended to the product's
    planned width, shifted by b); a wider input widens every product and sum; the same
    layer with its outputs repeated doubles every per-output term and shares the input
    selects and the ROM's LUTs."""
    rng = np.random.default_rng(5)
    w = rng.integers(-100, 101, (16, 3))
    w[1::4, 2] &= ~4  # bit 2 of slot (2, 1) is 0 in every cycle: its row folds
    w8 = FixedType(8, 1)
    x4, x8 = FixedType(4, 1, False), FixedType(8, 1, False)
    ma, mb = _mac(w, x4, w8, 4, False), _mac(w, x8, w8, 4, False)
    a, b = st.mac_structure(ma, XC7), st.mac_structure(mb, XC7)
    for s, mac in ((a, ma), (b, mb)):
        rows = 0
        for o in range(3):
            for i in range(4):
                sl = mac.slot(o, i)
                assert sl.w_bits == _signed_bits(int(w[i::4, o].min()), int(w[i::4, o].max()))
                live = [bit for bit in range(sl.w_bits) if any((w[i::4, o] >> bit) & 1)]
                assert (o, i) != (2, 1) or 2 not in live
                rows += sum(sl.p_bits - bit for bit in live)
        assert s.lut["lutmul"] == rows
    assert b.lut["lutmul"] > a.lut["lutmul"]
    assert b.lut["macadd"] > a.lut["macadd"]
    twice = st.mac_structure(_mac(np.hstack([w, w]), x4, w8, 4, False), XC7)
    for key in ("lutmul", "macadd", "accsel"):
        assert twice.lut[key] == 2 * a.lut[key], key
    assert twice.ff["acc"] == 2 * a.ff["acc"]
    assert twice.lut["xmux"] == a.lut["xmux"]  # the input selects are shared by outputs
    assert twice.lut["rom"] == a.lut["rom"]  # the repeated ROM bits are the same LUTs


def test_an_add_behind_a_product_cast_is_a_plain_adder():
    """A DSP product added straight into the running sum goes into the DSP's post-adder
    (dspadd / dspadd1); a narrow accumulator casts each product first (pshift < 0), and
    the cast, even a plain shift, keeps the add out of the DSP: a two-operand LUT adder
    (measured on Yosys 0.70: 0 LUTs without the cast, 20 LUTs and 6 CARRY4 with it)."""
    from codesign.fixed import Overflow, Rounding

    rng = np.random.default_rng(7)
    w = rng.integers(-120, 121, (8, 2))
    x_t, w_t, b_t = FixedType(10, 1, False), FixedType(8, 1), FixedType(8, 3)
    full = lossless_accum(w_t, x_t, b_t, 8)
    narrow = FixedType(full.width - 4, full.integer, True, Rounding.RND, Overflow.SAT)
    for rf, dsp_sum in ((1, "dspadd1"), (2, "dspadd")):
        plans = [plan_mac(w, list(range(8)), np.zeros(2, dtype=int), x_t, w_t, b_t, acc, rf,
                          True, XC7) for acc in (full, narrow)]
        wide, cast = (st.mac_structure(m, XC7) for m in plans)
        assert plans[1].pshift < 0 and "round" in {sl.c_cast for sl in plans[1].slots}
        assert wide.dsp == cast.dsp > 0
        assert wide.lut[dsp_sum] > 0 and "adder" not in wide.lut
        assert cast.lut["adder"] > 0 and dsp_sum not in cast.lut


def test_pipeline_registers_are_counted():
    """A value is registered across each stage boundary it is live over: x0 and x1 (4
    bits) read in stage 1, the 7-bit output node made in stage 1 and read in stage 2."""
    plain = Adder(0, 1, 0, 1, 1, 0, 30, 0)
    shifted = Adder(0, 1, 2, 1, 1, 0, 75, 0)
    diff = Adder(0, 1, 2, -1, 1, -15, 60, 0)
    g = _graph([plain, shifted, diff])
    read = np.ones(2, dtype=bool)
    assert st.pipeline_register_bits(g, (0, 0, 0, 1, 1), 2, 4, read) == 2 * 4 + 7
    assert st.pipeline_register_bits(g, (0, 0, 0, 0, 0), 1, 4, read) == 7
    assert st.pipeline_register_bits(g, (0, 0, 0, 0, 0), 0, 4, read) == 0


def test_pipelined_graph_engine_counts_its_registers():
    """The tiny design's conv at a clock that pipelines its graph: its FF grow by the
    pipeline registers (and each stage's valid); LUT logic is the same."""
    from dataclasses import replace

    q = tiny_qnet()
    fast = QuantizedNet.from_float(q.graph, replace(q.design, clock_mhz=900.0))
    slow_e, slow = st.plan_structures(q, plan_network(q), XC7)[0]
    fast_e, piped = st.plan_structures(fast, plan_network(fast), XC7)[0]
    assert slow_e.module == fast_e.module == "cs_graph_engine"
    assert fast_e.stages is not None and fast_e.stages.stages > 0
    assert "pipe" not in slow.ff and piped.ff["pipe"] > 0
    assert piped.lut["adder"] == slow.lut["adder"]


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


def test_a_cast_that_appends_its_width_of_zeros_is_constant():
    """cs_cast keeps v[OW-1:0] of the shifted value: an up-shift of OW or more leaves only
    appended zeros (a wrap, or SAT_ZERO's 0 on overflow); a saturation still varies."""
    from codesign.cost.ranges import cast_range
    from codesign.fixed import FixedType, Overflow, Rounding

    x_lo, x_hi = np.array([0]), np.array([3])  # integers 0..3 (frac 0)
    for ovf in (Overflow.WRAP, Overflow.SAT_ZERO):
        t = FixedType(6, 0, True, Rounding.TRN, ovf)  # frac 6: shift 6 >= width 6
        lo, hi = cast_range(t, x_lo, x_hi, 0)
        assert lo[0] == hi[0] == 0
        narrower = FixedType(7, 1, True, Rounding.TRN, ovf)  # frac 6, width 7: bit 6 kept
        lo, hi = cast_range(narrower, x_lo, x_hi, 0)
        assert lo[0] < hi[0]
    sat = FixedType(6, 0, True, Rounding.TRN, Overflow.SAT)
    lo, hi = cast_range(sat, x_lo, x_hi, 0)
    assert lo[0] == 0 and hi[0] == sat.max_int


def test_fork_fifo_output_varies_and_keeps_its_readers():
    """randnet 5: relu_2 (fused into conv_1) is constant by its cast, so conv_1 folds;
    but the stream forks through two FIFOs whose memories hold unknown bits until
    written, so conv_3 and the add behind them stay, and each FIFO counts its memory
    (distributed RAM at these sizes: a RAM32M per 6 bits of width, 4 LUTs)."""
    from tests.rtl.randnet import random_qnet

    q, _ = random_qnet(5, residual=True)
    assert not st.varying_bits(q)["relu_2"].any()
    plan = plan_network(q)
    ctx = st.Context.of(plan, XC7, st.varying_bits(q))
    alive = {plan.engines[i].name for i in ctx.alive}
    assert "u_conv_1" not in alive
    assert {"u_conv_3", "u_add_6", "u_fork1_conv_3", "u_fork1_add_6"} <= alive
    fifo = next(e for e in plan.engines if e.name == "u_fork1_conv_3")
    s = st.engine_structure(fifo, ctx)
    assert fifo.params["DEPTH"] <= 32 and fifo.params["BRAM"] == 0
    assert s.lutram == 4 * math.ceil(fifo.params["W"] / 6)


def test_fifo_memory_counts_the_primitives_yosys_maps():
    """cs_fifo's memory as Yosys 0.70 maps it (tests/rtl/test_hw_yosys.py synthesizes
    two): xc7 RAM32M (32 x 6) up to 32 words, else RAM64M (64 x 3) banks read through a
    mux, 4 LUTs each; ECP5 TRELLIS_DPR16X4 (16 x 4); block RAM in 18 Kbit blocks
    (measured: 48 x 1000 three RAMB18E1 / three DP16KD); no DSP (the address is a
    RAM index, no multiply)."""
    s = st.fifo_structure(128, 24, XC7)
    assert (s.lutram, s.bram, s.dsp) == (22 * 4, 0, 0)
    s = st.fifo_structure(16, 100, XC7)
    assert s.lutram == 12 * 4 and s.lut["fifo"] == 16  # two banks: one mux LUT per bit
    assert st.fifo_structure(16, 100, ECP5).lutram == 28 * 4
    s = st.fifo_structure(48, 1000, XC7)
    assert s.lutram == 0 and s.bram == 3 * 0.5  # RAMB18 = half the RAMB36 XC7 counts in
    assert st.fifo_structure(48, 1000, ECP5).bram == 3


def test_zero_weight_output_is_its_bias_at_rf1():
    """randnet 9: conv_5 (RF 1) has no nonzero weight, so its outputs are its bias; Yosys
    folds it and what only feeds it: relu_4, conv_3 (RF 6) and conv_3's fork FIFO."""
    from tests.rtl.randnet import random_qnet

    q, _ = random_qnet(9, residual=True)
    assert not st.varying_bits(q)["conv_5"].any()
    plan = plan_network(q)
    ctx = st.Context.of(plan, XC7, st.varying_bits(q))
    dead = {e.name for i, e in enumerate(plan.engines) if i not in ctx.alive}
    assert {"u_conv_5", "u_conv_3", "u_fork1_conv_3"} <= dead
    assert "u_fork1_add_6" not in dead


def test_non_power_of_two_strides_and_means_build_dividers_on_xilinx():
    """cs_window's `(r - (KH-1)) % SH == 0` is a 32-bit modulo (sized by the integer 0),
    a restoring divider in carry chains for a stride that is not a power of two (n
    stages of an n-bit compare and subtract: 512 CARRY4 per dimension, 649 measured); an
    average pool of N not a power of two divides by N per channel. synth_ecp5 folds the
    modulo."""
    t3 = window_timing(5, 5, 3, 3, 3, 3, 0, 0, 1)
    t2 = window_timing(5, 5, 3, 3, 2, 2, 0, 0, 1)
    s3, s2 = st.window_structure(t3, 4, XC7), st.window_structure(t2, 4, XC7)
    assert "div" not in s2.lut and s3.lut["div"] > 0
    assert (st.carry_cells(s3.carry_bits, XC7) - st.carry_cells(s2.carry_bits, XC7)
            == 2 * 512)
    assert "div" not in st.window_structure(t3, 4, ECP5).lut
    assert st.carry_cells(st.divider(19, XC7).carry_bits, XC7) == 19 * 2 * 5
    assert st.divider(19, ECP5).carry_bits == []
    from tests.rtl.randnet import random_qnet

    q, _ = random_qnet(9, residual=True)  # a 3x3 average pool, stride 3, 3 channels
    plan = plan_network(q)
    ctx = st.Context.of(plan, XC7, st.varying_bits(q))
    pool = next(e for e in plan.engines if e.module == "cs_pool")
    aw = pool.params["AW"]
    assert st.engine_structure(pool, ctx).lut["div"] == 2 * 2 * 32**2 + 3 * 2 * (aw + 1)**2


def test_appended_zeros_are_not_register_bits():
    """randnet 8: the max pool's result (frac 4) is cast up 5 bits from its accumulator
    (frac -1): 5 of its 6 bits are appended zeros, constant wires that Yosys drops from
    the output register and from the dense layer's line buffer behind it."""
    from codesign.cost.ranges import low_zeros
    from tests.rtl.randnet import random_qnet

    q, _ = random_qnet(8, residual=False)
    assert low_zeros(q)["maxpool2d_3"].tolist() == [5] * 5
    assert st.varying_bits(q)["maxpool2d_3"].tolist() == [1] * 5
    plan = plan_network(q)
    ctx = st.Context.of(plan, XC7, st.varying_bits(q))
    pool = next(e for e in plan.engines if e.module == "cs_pool")
    assert st.engine_structure(pool, ctx).ff["out"] == 5


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
    assert [row["module"] for row in r["layers"]] == ["cs_graph_engine", "cs_mac_engine"]
    for key in ("lut", "ff", "dsp", "srl"):
        assert r[key] == sum(row[key] for row in r["layers"])
    assert r["dsp"] == 9  # the 9 of 27 products wide enough for a DSP (tests/synth: Yosys)
    assert r["fit"]["yosys"] == st.fit_file()["yosys"]
    assert main(["cost", str(tiny_design_file), "--device", "xc7a35t"]) == 0
    text = capsys.readouterr().out
    assert "structural model" in text and "cs_graph_engine" in text
