"""Generated MAC modules (codesign.rtl.mac) and the memory/DSP rule (codesign.hwrules).

In Python: the plan of random layers (lossy accumulators of every rounding and overflow
mode, narrow and wide, RF 1 and RF > 1) replayed in hls4ml's sequential order equals the
bit-accurate model, with every product, cast product and partial sum inside the range
the plan sized it for; narrow sums really are carried in fewer bits than the
accumulator. Under Verilator: random networks whose layers cover narrow chains at RF 1,
wrapping and saturating accumulators, distributed and block-RAM weight ROMs, LUT and DSP
multipliers, bit-exact and cycle-exact (one build per network, cached by content hash).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from codesign import bitaccurate as ba
from codesign.design import DesignPoint, LayerImpl, lossless_accum
from codesign.devices import get_device
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.hwrules import dsp_inferred, rom_blocks, rom_plan
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet
from codesign.rtl.mac import MacPlan, plan_mac
from codesign.verify.rtlsim import verify_rtl

XC7 = get_device("xc7a35t")


def test_dsp_threshold():
    """Yosys's mul2dsp: both operands >= 2 bits, widths summing to >= 9."""
    assert dsp_inferred(2, 7) and dsp_inferred(8, 8)
    assert not dsp_inferred(1, 16) and not dsp_inferred(16, 1) and not dsp_inferred(4, 4)


def test_rom_rule():
    """Shallow ROMs stay in LUTs; a deep, wide one goes to block RAM; block counts follow
    the 18 Kbit aspect ratios (512 x 36 ... 16K x 1)."""
    assert rom_blocks(512, 36) == 1 and rom_blocks(512, 37) == 2 and rom_blocks(1024, 18) == 1
    assert rom_blocks(16384, 1) == 1 and rom_blocks(2048, 9) == 1 and rom_blocks(8, 200) == 6
    assert rom_plan(8, 500, XC7).style == "distributed"
    assert rom_plan(64, 36, XC7).style == "distributed"  # one LUT6 per bit
    deep = rom_plan(512, 36, XC7)
    assert deep.style == "block" and deep.blocks == 1 and deep.luts == 0
    assert rom_plan(320, 36, XC7).style == "distributed"  # 5 LUT6 x 36 = 180 < 208
    assert rom_plan(384, 36, XC7).style == "block"  # 6 x 36 = 216 >= 208


def test_rom_where_the_design_asks():
    """weight_rom lut/bram override the rule at any depth; a block ROM counts the
    columns that vary (Yosys drops constant ones), 36 per 18 Kbit block up to 512 words."""
    assert rom_plan(4, 40, XC7).style == "distributed"  # auto: shallow stays in LUTs
    shallow = rom_plan(4, 40, XC7, "bram")
    assert (shallow.style, shallow.blocks, shallow.luts) == ("block", 2, 0)
    assert rom_plan(4, 40, XC7, "bram", live=30).blocks == 1
    assert rom_plan(4, 40, XC7, "bram", live=0).blocks == 0
    assert rom_plan(512, 36, XC7, "lut").style == "distributed"
    with pytest.raises(ValueError, match="weight ROM style"):
        rom_plan(4, 4, XC7, "block")


def random_layer(seed: int):
    """A random weight matrix with types: narrow lossy accumulators of any mode."""
    rng = np.random.default_rng(seed)
    terms, cout = int(rng.integers(1, 40)), int(rng.integers(1, 6))
    x_t = FixedType(int(rng.integers(2, 9)), int(rng.integers(-1, 4)), bool(rng.random() < 0.5))
    w_t = FixedType(int(rng.integers(1, 9)), int(rng.integers(-2, 3)))
    b_t = FixedType(int(rng.integers(2, 11)), int(rng.integers(-1, 5)))
    wmat = rng.integers(w_t.min_int, w_t.max_int + 1, (terms, cout))
    wmat[rng.random(wmat.shape) < 0.3] = 0
    if seed % 4 == 0:
        wmat[:, 0] = 0
    bias = rng.integers(b_t.min_int, b_t.max_int + 1, cout)
    full = lossless_accum(w_t, x_t, b_t, terms)
    if seed % 5 == 4:
        acc = full
    else:
        acc = FixedType(max(2, full.width - int(rng.integers(0, 8)) + int(rng.integers(0, 4))),
                        full.integer - int(rng.integers(0, 5)), bool(rng.random() < 0.85),
                        rng.choice(list(Rounding)), rng.choice(list(Overflow)))
    rf = 1 if rng.random() < 0.4 else int(rng.integers(2, terms + 1)) if terms > 1 else 1
    return wmat, bias, x_t, w_t, b_t, acc, rf


def replay(plan: MacPlan, cols: np.ndarray, acc: FixedType, p_frac: int) -> np.ndarray:
    """The plan evaluated in its own order (cols in model order), checking every value
    against the range the plan sized it for."""
    out = np.zeros((cols.shape[0], plan.cout), dtype=np.int64)
    for o in range(plan.cout):
        v = np.full(cols.shape[0], plan.bias[o], dtype=np.int64)
        for t in range(plan.rf):
            assert plan.carry[o][0] <= v.min() and v.max() <= plan.carry[o][1]
            for i in range(plan.slots_per_out):
                s = plan.slot(o, i)
                if s.w_bits == 0:
                    continue
                m = t * plan.slots_per_out + i
                p = plan.weight(o, t, i) * (cols[:, m] if m < plan.terms else np.zeros_like(v))
                assert s.p_lo <= p.min() and p.max() <= s.p_hi
                c = acc.cast_int(p, p_frac)
                assert s.c_lo <= c.min() and c.max() <= s.c_hi, (o, i, s)
                v = acc.cast_int(v + c, acc.frac)
                assert s.s_lo <= v.min() and v.max() <= s.s_hi, (o, i, s)
                assert s.s_bits <= acc.width
        out[:, o] = v
    return out


@pytest.mark.parametrize("seed", range(30))
def test_plan_follows_the_model_within_its_ranges(seed):
    wmat, bias, x_t, w_t, b_t, acc, rf = random_layer(seed)
    terms = wmat.shape[0]
    plan = plan_mac(wmat, list(range(terms)), bias, x_t, w_t, b_t, acc, rf, seed % 2 == 0, XC7)
    rng = np.random.default_rng(seed + 1000)
    cols = np.concatenate([rng.integers(x_t.min_int, x_t.max_int + 1, (300, terms)),
                           np.full((1, terms), x_t.min_int), np.full((1, terms), x_t.max_int)])
    impl = LayerImpl(result=acc, weight=w_t, bias=b_t, accum=acc, reuse=rf)
    want = ba.mac(cols, wmat, bias, x_t, impl, terms)
    assert np.array_equal(replay(plan, cols, acc, w_t.frac + x_t.frac), want)
    assert MacPlan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


def test_narrow_sums_are_carried_in_fewer_bits():
    """A saturating 20-bit accumulator over small products: the first partial sums need
    far fewer bits, and no cast is built until the range can reach the accumulator's."""
    x_t, w_t, b_t = FixedType(4, 1, False), FixedType(3, 1), FixedType(4, 2)
    acc = FixedType(20, 10, True, Rounding.TRN, Overflow.SAT)
    wmat = np.full((16, 1), 3)
    plan = plan_mac(wmat, list(range(16)), np.array([1]), x_t, w_t, b_t, acc, 1, False, XC7)
    widths = [s.s_bits for s in plan.slots]
    assert widths[0] < 8 and max(widths) < acc.width and not any(s.s_cast for s in plan.slots)
    tight = FixedType(7, 4, True, Rounding.TRN, Overflow.SAT)  # overflows after a few terms
    plan = plan_mac(wmat, list(range(16)), np.array([1]), x_t, w_t, b_t, tight, 1, False, XC7)
    assert not plan.slots[0].s_cast and plan.slots[-1].s_cast


# -- Verilator: random networks covering every MAC variant ------------------------------
def mac_network(seed: int, bram: bool = False) -> tuple[QuantizedNet, np.ndarray]:
    """input (4, 8, 8) -> conv 3x3 (RF 1, narrow saturating accumulator: a chain) + ReLU
    -> conv 3x3 (RF 4, wrapping accumulator, distributed ROM, LUT multipliers) -> flatten
    (512) -> dense (RF 512: a block-RAM ROM, DSP multipliers) -> dense (RF 3, saturating
    symmetric accumulator, distributed ROM, DSP multipliers). `bram`: the two shallow
    ROMs (RF 4 and 3) in block RAM (weight_rom: bram), the deep one in LUTs."""
    shallow, deep = ("bram", "lut") if bram else ("auto", "auto")
    rng = np.random.default_rng(seed)
    c1, c2, n3, n4 = 5, 8, 6, 5

    def w(*shape, zeros=0.3):
        v = rng.normal(0, 1 / np.sqrt(np.prod(shape[1:])), shape)
        v[rng.random(shape) < zeros] = 0
        return v

    layers = (L.Input("input", (), (4, 8, 8)),
              L.Conv2d("conv_a", ("input",), (c1, 8, 8), weight=w(c1, 4, 3, 3),
                       bias=rng.normal(0, 0.3, c1), stride=(1, 1), padding=(1, 1)),
              L.ReLU("relu_a", ("conv_a",), (c1, 8, 8)),
              L.Conv2d("conv_b", ("relu_a",), (c2, 8, 8), weight=w(c2, c1, 3, 3),
                       bias=rng.normal(0, 0.3, c2), stride=(1, 1), padding=(1, 1)),
              L.Flatten("flat", ("conv_b",), (c2 * 64,)),
              L.Dense("dense_c", ("flat",), (n3,), weight=w(n3, c2 * 64, zeros=0.1),
                      bias=rng.normal(0, 0.3, n3)),
              L.Dense("dense_d", ("dense_c",), (n4,), weight=w(n4, n3),
                      bias=rng.normal(0, 0.3, n4)))
    graph = Graph(layers)
    x = rng.uniform(-0.2, 1.2, (40, 4, 8, 8)).astype(np.float32)
    rnd = lambda: rng.choice(list(Rounding))  # noqa: E731
    xin = FixedType(6, 1, False, Rounding.RND, Overflow.SAT)
    r1 = FixedType(8, 3, True, rnd(), Overflow.SAT)
    q1 = FixedType(6, 2, False, rnd(), Overflow.SAT)
    r2 = FixedType(9, 4, True, rnd(), Overflow.WRAP)
    r3 = FixedType(10, 5, True, rnd(), Overflow.SAT)
    w8, b8 = FixedType(8, 1, True, Rounding.RND, Overflow.SAT), FixedType(8, 3)
    wide = lossless_accum(w8, q1, b8, 36)
    design = DesignPoint(input=xin, layers={
        "conv_a": LayerImpl(result=r1, weight=FixedType(6, 1, True, Rounding.RND, Overflow.SAT),
                            bias=b8, accum=FixedType(11, 4, True, rnd(), Overflow.SAT),
                            multiplier="lut"),
        "relu_a": LayerImpl(result=q1),
        "conv_b": LayerImpl(result=r2, weight=w8, bias=b8, reuse=4, multiplier="lut",
                            weight_rom=shallow,
                            accum=FixedType(wide.width - 5, wide.integer - 3, True, rnd(),
                                            Overflow.WRAP)),
        "flat": LayerImpl(result=r2),
        "dense_c": LayerImpl(result=r3, weight=w8, bias=b8, reuse=c2 * 64, multiplier="dsp",
                             weight_rom=deep,
                             accum=lossless_accum(w8, r2, b8, c2 * 64)),
        "dense_d": LayerImpl(result=FixedType(10, 4, True, rnd(), Overflow.SAT), weight=w8,
                             bias=b8, reuse=3, multiplier="dsp", weight_rom=shallow,
                             accum=FixedType(12, 6, True, rnd(), Overflow.SAT_SYM)),
    })
    return QuantizedNet.from_float(graph, design), x


@pytest.mark.parametrize("seed", [1, 2])
def test_mac_network_bit_and_cycle_exact(seed, built, tmp_path):
    """Seed 1: the rule's ROMs (auto); seed 2: every ROM where weight_rom asks the
    opposite (shallow ones in block RAM, the deep one in LUTs)."""
    from codesign.rtl.network import Plan, plan_network

    qnet, x = mac_network(seed, bram=seed == 2)
    plan = plan_network(qnet)
    macs = {e.layers[0]: e.mac for e in plan.engines if e.mac is not None}
    assert set(macs) == {"conv_a", "conv_b", "dense_c", "dense_d"}
    shallow, deep = ("block", "distributed") if seed == 2 else ("distributed", "block")
    assert macs["conv_a"].rom is None and macs["conv_b"].rom.style == shallow
    assert macs["dense_c"].rom.style == deep and macs["dense_d"].rom.style == shallow
    assert any(s.dsp for s in macs["dense_c"].slots)
    assert not any(s.dsp for s in macs["conv_b"].slots)
    rtl, build_dir = built(qnet, tmp_path)
    back = Plan.from_json(json.loads((rtl / "manifest.json").read_text()))
    assert [e.mac for e in back.engines] == [e.mac for e in plan.engines]
    r = verify_rtl(qnet, rtl, build_dir, x[:24], mode="timing", work_dir=tmp_path / "t")
    assert r.mismatch is None and r.layer_mismatch is None, r.to_dict()
    assert r.equal == 24 and r.cycles_equal, (r.predicted, r.measured)
    r = verify_rtl(qnet, rtl, build_dir, x[24:], mode="stress", seed=seed,
                   work_dir=tmp_path / "s")
    assert r.equal == 16, r.to_dict()


# -- Yosys: what the rule says is what synthesis builds ---------------------------------
def _synth_cells(plan: MacPlan, tmp_path) -> dict[str, int]:
    """synth_xilinx (xc7) of one generated MAC module; its cell counts."""
    import shutil

    from codesign.rtl.mac import render_mac_module
    from codesign.rtl.network import hw_dir

    from .test_hw_yosys import yosys

    tmp_path.mkdir(parents=True, exist_ok=True)
    shutil.copy(hw_dir() / "cs_cast.sv", tmp_path / "cs_cast.sv")
    (tmp_path / "cs_mac0.sv").write_text(render_mac_module("cs_mac0", plan, "Yosys test."))
    yosys("read_verilog -sv cs_cast.sv cs_mac0.sv; synth_xilinx -family xc7 -top cs_mac0 "
          "-noiopad -noclkbuf; tee -q -o stat.json stat -json", tmp_path)
    return json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]


def test_yosys_maps_block_rom_dsp_and_luts(tmp_path):
    """A deep ROM the rule sends to block RAM becomes a RAMB18/RAMB36; DSP products wide
    enough become DSP48E1s (one per product); the same layer with LUT multipliers and a
    shallow ROM has neither."""
    rng = np.random.default_rng(7)
    x2, w8, b8 = FixedType(2, 1, False), FixedType(8, 1), FixedType(8, 3)
    deep = rng.integers(-120, 121, (400, 4))
    plan = plan_mac(deep, list(range(400)), np.zeros(4, int), x2, w8, b8,
                    lossless_accum(w8, x2, b8, 400), 400, False, XC7)
    assert plan.rom is not None and plan.rom.style == "block"
    cells = _synth_cells(plan, tmp_path / "block")
    assert cells.get("RAMB18E1", 0) + cells.get("RAMB36E1", 0) >= 1, cells
    assert "DSP48E1" not in cells
    x8, w6 = FixedType(8, 3), FixedType(6, 1)
    small = rng.integers(-31, 32, (12, 2))
    small[small == 0] = 1
    for mult in (True, False):
        plan = plan_mac(small, list(range(12)), np.ones(2, int), x8, w6, b8,
                        lossless_accum(w6, x8, b8, 12), 3, mult, XC7)
        assert plan.rom is not None and plan.rom.style == "distributed"
        cells = _synth_cells(plan, tmp_path / f"dsp{int(mult)}")
        assert not any(c.startswith("RAMB") for c in cells), cells
        assert cells.get("DSP48E1", 0) == (8 if mult else 0), cells
        assert sum(n for c, n in cells.items() if c.startswith("LUT")) > 0


def test_yosys_block_count_of_a_shallow_bram_rom(tmp_path):
    """weight_rom: bram at RF 3 and RF 8: Yosys builds the ROM in block RAM, and its
    RAMB18 + 2 x RAMB36 equal the plan's 18 Kbit blocks (constant columns dropped: the
    RF 8 ROM has some; 37-72 live bits take a RAMB36)."""
    rng = np.random.default_rng(11)
    x4, w6, b8 = FixedType(4, 1), FixedType(6, 1), FixedType(8, 3)
    for rf, terms, cout in ((3, 12, 2), (8, 16, 6)):
        wmat = rng.integers(-31, 32, (terms, cout))
        wmat[:, 0] |= 1  # odd: output 0's low weight bits are 1 in every cycle
        plan = plan_mac(wmat, list(range(terms)), np.zeros(cout, int), x4, w6, b8,
                        lossless_accum(w6, x4, b8, terms), rf, False, XC7, "bram")
        assert plan.rom is not None and plan.rom.style == "block"
        live = sum(0 < sum(c) < rf for c in plan.rom_columns())
        assert live < plan.rom.width
        cells = _synth_cells(plan, tmp_path / f"rf{rf}")
        ramb = cells.get("RAMB18E1", 0) + 2 * cells.get("RAMB36E1", 0)
        assert ramb == plan.rom.blocks == -(-live // 36), (cells, plan.rom)


def test_yosys_frees_what_the_model_credits_a_deep_rom(tmp_path):
    """A 200-deep ROM (4 LUT6 slices a column, joined by MUXF7/F8) feeding DSP products:
    what moving it from LUTs to block RAM frees in synth_xilinx (90 LUTs) is within a
    third of what the structural model frees (the LUT ROM less the prefetch address),
    so the allocator's trade is the one synthesis sees; the model credits less, never
    more (deeper ROMs free more still: docs/cost.md)."""
    from codesign.cost import structural as st

    rng = np.random.default_rng(5)
    x8, w6, b8 = FixedType(8, 3), FixedType(6, 1), FixedType(8, 3)
    wmat = rng.integers(-31, 32, (200, 3))
    coef = st.coefficients(XC7.family)
    luts, est = {}, {}
    for rom in ("lut", "bram"):
        plan = plan_mac(wmat, list(range(200)), np.zeros(3, int), x8, w6, b8,
                        lossless_accum(w6, x8, b8, 200), 200, True, XC7, rom)
        cells = _synth_cells(plan, tmp_path / rom)
        luts[rom] = sum(n for c, n in cells.items() if c.startswith("LUT"))
        est[rom] = st.weighted_logic(st.mac_structure(plan, XC7), coef)[0]
    freed, credit = luts["lut"] - luts["bram"], est["lut"] - est["bram"]
    assert 0 < credit <= freed and credit == pytest.approx(freed, rel=0.35), (est, luts)
