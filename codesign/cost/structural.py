"""Structural cost estimate: the RTL generator's plan, read engine by engine.

`codesign.rtl.network.plan_network(qnet)` builds the same Plan `generate_rtl` writes (engines,
adder graphs with every adder's width, line buffers, casts, FIFO depths) without writing
a file. Each engine module has one rule here (RULES, keyed by the hw/ module the engine
instantiates: one engine, one place), which turns the engine's parameters and graph into

- features: bits of each kind of logic (adder bits, line-buffer bits, cast bits, ...);
  LUT and FF are the features times per-family coefficients fitted against Yosys
  (hw/devices/structural_fit.yaml, with the Yosys version and date of the fit);
- which streams are constants by their types (codesign.cost.ranges): Yosys folds them
  and the logic that only feeds them, so an engine whose output is constant or unread
  keeps only its handshake (an accumulator loop at RF > 1 is kept: Yosys cannot see it
  holds a constant; a fork FIFO's output always varies: its memory starts unknown); the
  low bits a cast appends as zeros are not register bits;
- counts Yosys's mapping fixes exactly: DSP blocks (codesign.hwrules.dsp_mapped on each
  `*` of a MAC plan, the operands as Yosys trims them), block RAM (the weight ROMs
  hwrules.rom_plan puts there and the fork FIFOs hwrules.fifo_plan puts there: their
  18 Kbit blocks in the device's units), distributed RAM (the other fork FIFOs' LUTRAM
  primitives), carry cells (an
  adder of w bits is ceil(w/4) CARRY4 on xc7 / UltraScale, ceil(w/2) CCU2C on ECP5) and,
  on Xilinx, the SRL16E/SRLC32E that `shregmap` makes of a line buffer's untapped runs
  (ECP5 keeps them as flip-flops).

Engines are cs_graph_engine (an adder graph, Engine.graph, pipelined to the clock by
Engine.stages) and cs_mac_engine (a generated multiply-accumulate, Engine.mac: product
slots with their widths and casts, the weight ROM); both plans are read as the emitter
wrote them, so a change there moves the estimate with it.

A rule sees the engine, the plan and the device; it never dispatches on layer kinds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codesign.cost.ranges import varying_bits
from codesign.cost.report import family_coefficients, load_fit
from codesign.cost.weightstats import csd_digits
from codesign.devices import Device
from codesign.errors import CodesignError
from codesign.hwrules import BLOCK_BITS, dsp_mapped, fifo_plan
from codesign.qnet import QuantizedNet, retarget
from codesign.rtl.adder_graph import AdderGraph, signed_width
from codesign.rtl.engines import Engine
from codesign.rtl.mac import MacPlan, Slot
from codesign.rtl.network import Plan, plan_network

SRL_MIN = 3  # synth_xilinx: shregmap -minlen 3
SRL_DEPTH = 32  # SRLC32E
LUT_FEATURES = ("adder", "constadd", "macadd", "dspadd", "dspadd1", "csdadd", "table", "accsel",
                "lutmul", "rom", "xmux", "round", "sat", "relu", "cmp", "pooladd", "div", "fifo",
                "ctrl")
FF_FEATURES = ("lbuf", "pipe", "out", "acc", "romreg", "fifo", "ctrl")


@dataclass
class Structure:
    """What one engine is made of: feature bits and the cells counted exactly."""

    lut: dict[str, float] = field(default_factory=dict)
    ff: dict[str, float] = field(default_factory=dict)
    dsp: int = 0
    bram: float = 0.0
    carry_bits: list[int] = field(default_factory=list)  # width of every carry-chain adder
    srl: int = 0  # shift-register LUTs (Xilinx)
    lutram: int = 0

    def add(self, other: Structure) -> None:
        for mine, theirs in ((self.lut, other.lut), (self.ff, other.ff)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0.0) + v
        self.dsp += other.dsp
        self.bram += other.bram
        self.carry_bits += other.carry_bits
        self.srl += other.srl
        self.lutram += other.lutram


# -- fitted constants -------------------------------------------------------------------
def fit_file() -> dict:
    """hw/devices/structural_fit.yaml: coefficients per family, Yosys version, date."""
    return load_fit("structural_fit.yaml")


def coefficients(family: str) -> dict[str, dict[str, float]]:
    return family_coefficients(fit_file(), family)


# -- shared pieces ----------------------------------------------------------------------
def xilinx(device: Device) -> bool:
    return device.family in ("xc7", "xcup")


def carry_cells(bits: list[int], device: Device) -> int:
    """Carry cells of adders of these widths: CARRY4 (xc7), CARRY8 (UltraScale+), CCU2C
    (ECP5, two bits each)."""
    per = {"xc7": 4, "xcup": 8, "ecp5": 2}.get(device.family, 4)
    return int(sum(math.ceil(b / per) for b in bits if b > 1))


def cast_structure(c: int, iw: int, is_signed: int, shift: int, ow: int, os_: int, rnd: int,
                   ovf: int) -> Structure:
    """cs_cast of c channels: a rounding increment (when bits are dropped and the mode
    rounds) and a saturation (when the kept value can exceed the output type)."""
    drop = max(-shift, 0)
    up = max(shift, 0)
    kept = iw + (0 if is_signed else 1) - drop + up  # signed bits left after the shift
    s = Structure()
    if drop and rnd != 0:
        s.lut["round"] = c * (ow + 1.0)
        s.carry_bits = [ow + 1] * c
    over = kept - (ow + (0 if os_ else 1))
    if ovf != 0 and (over > 0 or (is_signed and not os_)):
        s.lut["sat"] = c * (ow + max(over, 0) + 1.0)
    return s


def _cast_of(e: Engine, c: int, iw: int, is_signed: int, prefix: str, shift: str) -> Structure:
    p = e.params
    return cast_structure(c, iw, is_signed, p[shift], p[f"{prefix}W"], p[f"{prefix}S"],
                          p[f"{prefix}RND"], p[f"{prefix}OVF"])


def divider(n: int, device: Device) -> Structure:
    """An n-bit unsigned divide (or modulo) by a constant that is not a power of two:
    Yosys's restoring divider ($__div_mod_u), n stages of an n-bit compare and an n-bit
    subtract, mapped to carry chains before ABC could fold them (measured on Yosys 0.70:
    an 18-bit pool mean 195 CARRY4, a 32-bit `%` 649, against n^2/2 = 180 and 512). The
    feature `div` is those 2n^2 carry-chain bits. synth_ecp5 folds the 32-bit `%` by a
    small stride to a few LUTs and maps the mean's divide in far fewer cells: ECP5 gets
    the LUT feature only (its own coefficient)."""
    s = Structure(lut={"div": 2.0 * n * n})
    if xilinx(device):
        s.carry_bits = [n] * (2 * n)
    return s


def _pow2(v: int) -> bool:
    return v & (v - 1) == 0


def window_structure(t: dict[str, int], pxw: int, device: Device,
                     read: np.ndarray | None = None) -> Structure:
    """cs_window: a (KH-1) rows x WP + KW pixel shift register, its taps, two counters.

    On Xilinx each run of untapped pixels between two taps (WP - KW of them, KH - 1
    times) plus the tap it feeds becomes SRLs (SRLC32E: 32 deep) per bit, when at least
    SRL_MIN long; the rest are flip-flops. pxw: the bits of a pixel that vary. read:
    which window terms (stream order kh, kw, c) the engine reads; a channel's shift
    register ends at the oldest pixel whose field is read (None: all read)."""
    kh, kw, wp, hp, rf = t["KH"], t["KW"], t["WP"], t["HP"], t["RF"]
    length = (kh - 1) * wp + kw
    s = Structure()
    run = wp - kw  # untapped pixels between rows of taps
    srl_pixels = 0
    if xilinx(device) and kh > 1 and run + 1 >= SRL_MIN and pxw:
        s.srl = (kh - 1) * pxw * math.ceil((run + 1) / SRL_DEPTH)
        srl_pixels = (kh - 1) * (run + 1)
    kept = length * pxw
    if read is not None and read.size:
        cin = read.size // (kh * kw)
        taps = read.reshape(kh, kw, cin)
        pos = ((kh - 1 - np.arange(kh))[:, None] * wp + (kw - 1 - np.arange(kw))[None, :])
        oldest = [int(pos[taps[:, :, c]].max()) + 1 if taps[:, :, c].any() else 0
                  for c in range(cin)]
        kept = sum(oldest) * pxw / cin
    s.ff["lbuf"] = float(max(kept - srl_pixels * pxw, 0))
    ctrl = math.ceil(math.log2(hp + 1)) + math.ceil(math.log2(wp + 1)) + 2
    ctrl += math.ceil(math.log2(rf)) if rf > 1 else 0
    s.ff["ctrl"] = float(ctrl)
    s.lut["ctrl"] = float(ctrl)
    s.carry_bits = [math.ceil(math.log2(hp + 1)), math.ceil(math.log2(wp + 1))]
    for stride in (t.get("SH", 1), t.get("SW", 1)):
        if xilinx(device) and not _pow2(stride):
            # `(r - (KH-1)) % SH == 0` is sized by the integer 0: a 32-bit modulo
            s.add(divider(32, device))
    return s


def _tiles(a: int, b: int, device: Device) -> int:
    """DSP blocks of a signed a x b product (the device's multiplier shape)."""
    big, small = max(a, b), min(a, b)
    return (math.ceil(big / max(device.dsp_a_bits, device.dsp_b_bits))
            * math.ceil(small / min(device.dsp_a_bits, device.dsp_b_bits)))


# -- what the hardware keeps: bits that vary, engines whose output is read ----------------
@dataclass
class Context:
    """What a rule may read: the plan, the device, and which bits the hardware keeps."""

    plan: Plan
    device: Device
    live_bits: dict[int, int]  # stream id -> bits per beat that vary and are read
    alive: set[int]  # engine indices whose datapath survives (output varies and is read)

    @classmethod
    def of(cls, plan: Plan, device: Device, varying: dict[str, np.ndarray] | None) -> Context:
        vary = {s.id: (int(varying[s.layer].sum()) if varying is not None and s.layer in varying
                       else s.bits) for s in plan.streams}
        for e in plan.engines:
            if e.module == "cs_fifo":
                # a FIFO's memory keeps its unknown initial bits until written (each write
                # masks one word in): what it reads out varies whatever is written
                vary[e.output] = plan.streams[e.output].bits
        readers: dict[int, list[int]] = {}
        for i, e in enumerate(plan.engines):
            for sid in e.inputs:
                readers.setdefault(sid, []).append(i)
        alive: set[int] = set()
        changed = True
        while changed:  # an engine lives when its output varies and something live reads it
            changed = False
            for i, e in enumerate(plan.engines):
                read = e.output == plan.output or any(r in alive for r in readers.get(e.output, []))
                if i not in alive and vary[e.output] > 0 and read:
                    alive.add(i)
                    changed = True
        read_bits = {sid: (vary[sid] if sid == plan.output
                           or any(r in alive for r in readers.get(sid, [])) else 0)
                     for sid in vary}
        return cls(plan, device, read_bits, alive)

    def in_bits(self, e: Engine, k: int = 0) -> int:
        return self.live_bits[e.inputs[k]]

    def out_bits(self, e: Engine) -> int:
        return self.live_bits[e.output]


# -- per-engine rules -------------------------------------------------------------------
def graph_adder_bits(g: AdderGraph) -> tuple[list[int], list[int]]:
    """(carry-chain bits of every adder, of every output's bias adder) as the emitter
    writes them: a positive operand at offset 0 whose partner sits k bits higher passes
    its low k bits through as wires (codesign.rtl.adder_sv._sum)."""
    bits = []
    for ad in g.adders:
        w = ad.width
        la = g.node_range(ad.a)[2] - ad.lsb
        lb = g.node_range(ad.b)[2] + ad.shift - ad.lsb
        (_, da), (_, db) = sorted([(ad.sign_a, la), (ad.sign_b, lb)], key=lambda t: (-t[0], t[1]))
        k = db - da
        bits.append(w - k if da == 0 and 0 < k < w else w)
    const = []
    for o in g.outputs:
        if o.node >= 0 and o.const != 0:
            k = g.node_range(o.node)[2] + o.shift
            c_lsb = (o.const & -o.const).bit_length() - 1
            const.append(max(o.width - max(c_lsb - k, 0), 1))
    return bits, const


def _graph_engine(e: Engine, ctx: Context) -> Structure:
    p, g = e.params, e.graph
    assert g is not None
    read = np.zeros(g.n_in, dtype=bool)
    for ad in g.adders:
        for node in (ad.a, ad.b):
            if node < g.n_in:
                read[node] = True
    for o in g.outputs:
        if 0 <= o.node < g.n_in:
            read[o.node] = True
    s = window_structure(e.timing, ctx.in_bits(e), ctx.device, read)
    bits, const = graph_adder_bits(g)
    s.add(Structure(lut={"adder": float(sum(bits)), "constadd": float(sum(const))},
                    carry_bits=bits + const))
    s.add(post_structure(p, ctx.out_bits(e)))
    if e.stages is not None and e.stages.stages > 0:
        s.ff["pipe"] = float(pipeline_register_bits(g, e.stages.node_stage, e.stages.stages,
                                                    p["XW"], read))
        s.ff["ctrl"] = s.ff.get("ctrl", 0.0) + 2 * e.stages.stages  # each stage's valid
        s.lut["ctrl"] = s.lut.get("ctrl", 0.0) + 2 * e.stages.stages
    return s


def pipeline_register_bits(g: AdderGraph, node_stage: tuple[int, ...], stages: int, xw: int,
                           read: np.ndarray) -> int:
    """Flip-flops of a pipelined graph (codesign.rtl.adder_sv `_Registers`): a value
    made in stage s and read in a later stage s' is registered at boundaries s+1..s', at
    its full width (an input field xw bits, an adder its width); the outputs read in the
    last stage."""
    need: dict[int, int] = {}
    for i, ad in enumerate(g.adders):
        s = node_stage[g.n_in + i]
        for m in (ad.a, ad.b):
            if node_stage[m] < s:
                need[m] = max(need.get(m, 0), s)
    for o in g.outputs:
        if o.node >= 0 and node_stage[o.node] < stages:
            need[o.node] = max(need.get(o.node, 0), stages)
    bits = 0
    for node, last in need.items():
        width = xw if node < g.n_in else g.adders[node - g.n_in].width
        if node < g.n_in and not read[node]:
            continue
        bits += width * (last - node_stage[node])
    return bits


def _out_width(e: Engine) -> int:
    p = e.params
    return p["QW"] if p.get("RELU") else p["RW"]


def _relu_params(p: dict[str, Any], c: int) -> Structure:
    if not p.get("RELU"):
        return Structure()
    s = cast_structure(c, p["RW"], p["RS"], p["QSHIFT"], p["QW"], p["QS"], p["QRND"], p["QOVF"])
    s.lut["relu"] = s.lut.get("relu", 0.0) + c * p["QW"]
    return s


def _slot_reads(mac: MacPlan) -> np.ndarray:
    """Which window fields (stream order) the MAC module reads: slot i's mux reads the
    field of every term m = t*T + i when any output has a product in slot i."""
    t_slots = mac.slots_per_out
    live = [any(mac.slot(o, i).w_bits for o in range(mac.cout)) for i in range(t_slots)]
    read = np.zeros(mac.terms, dtype=bool)
    for m, src in enumerate(mac.source):
        if live[m % t_slots]:
            read[src] = True
    return read


def _unsigned_bits(v: int) -> int:
    return max(int(v).bit_length(), 1)


def _table_luts(n_inputs: int, out_bits: int, device: Device) -> int:
    """LUTs of any function of n_inputs bits with out_bits outputs: per output bit, one
    LUT when its inputs fit a LUT, else 2**(n - lut_inputs) of them (ABC collapses a
    product of a narrow input into such a table, whatever the RTL writes)."""
    return out_bits * (1 << max(n_inputs - device.lut_inputs, 0))


def table_product(mac: MacPlan, s: Slot, device: Device) -> bool:
    """Whether slot s's product (and its cast) is a LUT table of its input alone: an RF 1
    product of a constant by an input that fits a LUT."""
    return mac.rf == 1 and mac.x_width <= device.lut_inputs


def mac_product(mac: MacPlan, s: Slot, device: Device) -> Structure:
    """Slot s's product (codesign.rtl.mac `_Writer.product`). A `*` (s.dsp) is a DSP
    when hwrules.dsp_mapped says Yosys maps it (one per multiplier tile of the device),
    else LUTs; at RF 1 a constant's canonical signed digits as shift-adds; at RF > 1
    partial products of the weight's bits; either at most the LUTs of a table of its
    inputs (_table_luts). Operands as Yosys sees them after opt_expr / wreduce: the
    product trimmed to its planned width p_bits; a constant without its trailing zeros (a
    shift) and in its own bits (a power of two is a shift); and when neither operand can
    be negative (an unsigned input, a slot of nonnegative weights) the multiply made
    unsigned, each operand losing its zero sign bit."""
    unsigned = not mac.x_signed and s.w_lo >= 0
    xe = mac.x_width + (0 if unsigned or mac.x_signed else 1)
    pw = s.p_bits
    if mac.rf == 1:
        w = mac.weights[s.out][s.i]
        if w == 0 or abs(w) & (abs(w) - 1) == 0:  # a shift: wires (a negation at most)
            return Structure(lut={"csdadd": float(pw) if w < 0 else 0.0})
        tz = (abs(w) & -abs(w)).bit_length() - 1
        odd = w >> tz
        wb = _unsigned_bits(odd) if unsigned else signed_width(odd, odd) + (odd > 0)
        if s.dsp and dsp_mapped(xe, wb, pw - tz, device.family):
            return Structure(dsp=_tiles(xe, wb, device))
        if table_product(mac, s, device):
            return Structure(lut={"table": float(_table_luts(mac.x_width, pw - tz, device))})
        digits = int(csd_digits(np.array([w]))[0])
        return Structure(lut={"csdadd": float((digits - 1) * pw)}, carry_bits=[pw] * (digits - 1))
    w_op = s.w_bits + (0 if unsigned or s.w_lo < 0 else 1)
    if s.dsp and dsp_mapped(xe, w_op, pw, device.family):
        return Structure(dsp=_tiles(xe, w_op, device))
    table = _table_luts(mac.x_width + s.w_bits, pw, device)
    if s.dsp:  # a `*` Yosys leaves to LUTs: an array of w_bits rows of the input's width
        return Structure(lut={"lutmul": float(min(s.w_bits * xe, table))},
                         carry_bits=[pw] * (s.w_bits - 1))
    # shift-and-add rows: row b is the input sign-extended to pw bits, shifted by b and
    # ANDed with ROM bit b, so pw - b bits; a row whose ROM bit is 0 in every cycle folds
    rows = [b for b in range(s.w_bits)
            if any((mac.weight(s.out, t, s.i) >> b) & 1 for t in range(mac.rf))]
    luts = min(sum(max(pw - b, 0) for b in rows), table)
    return Structure(lut={"lutmul": float(luts)}, carry_bits=[pw] * max(len(rows) - 1, 0))


def rom_columns(mac: MacPlan) -> int:
    """Distinct ROM output bits that vary over the cycles (a constant bit is a wire, equal
    bits one signal): what a distributed ROM costs, in LUTs per 2**lut_inputs words."""
    return len({c for c in mac.rom_columns() if 0 < sum(c) < mac.rf})


def mac_structure(mac: MacPlan, device: Device, x_live: bool = True) -> Structure:
    """The generated MAC module of a plan (codesign.rtl.mac): per output, every
    product, its cast where planned, the sequential sums at their planned widths (an
    add after a DSP product is `dspadd`: Xilinx folds it into the DSP's post-adder), the
    sums' overflow casts, the cycle's input selects and the accumulator-select at RF > 1,
    and the weight ROM where hwrules put it. x_live False: a constant input, every
    product folds away (the accumulator loop stays)."""
    s = Structure()
    aw, a_s = mac.acc_width, mac.acc_signed
    if mac.rf > 1:
        tw = max(1, (mac.rf - 1).bit_length())
        live_slots = sum(any(mac.slot(o, i).w_bits for o in range(mac.cout))
                         for i in range(mac.slots_per_out))
        if x_live:  # each slot's RF:1 input select (a LUT6 is a 4:1 mux bit)
            s.lut["xmux"] = float(live_slots * mac.x_width * (mac.rf - 1) / 3)
        rom = mac.rom
        if rom is not None and x_live:
            if rom.style == "block":
                s.bram += rom.blocks * BLOCK_BITS / device.bram_bits
                s.lut["ctrl"] = s.lut.get("ctrl", 0.0) + tw  # the prefetch address
                s.carry_bits.append(tw)
            else:  # Yosys moves t's register through the ROM (memory_dff): a register
                # per output bit that varies, one per distinct column (opt_merge)
                cols = rom_columns(mac)
                s.lut["rom"] = float(cols * math.ceil(rom.depth / (1 << device.lut_inputs)))
                s.ff["romreg"] = float(cols)
    for o in range(mac.cout):
        z = mac.slot(o, 0).lsb
        if mac.rf == 1:
            lo = hi = mac.bias[o]
            const = True
        else:
            lo, hi = mac.carry[o]
            sw = signed_width(lo >> z, hi >> z)
            s.lut["accsel"] = s.lut.get("accsel", 0.0) + sw  # t == 0 ? bias : acc_in
            s.ff["acc"] = s.ff.get("acc", 0.0) + sw  # the acc bits slot 0 reads back
            const = False
        for i in range(mac.slots_per_out):
            sl = mac.slot(o, i)
            if not sl.w_bits or not x_live:
                continue
            prod = mac_product(mac, sl, device)
            s.add(prod)
            if sl.c_cast and not table_product(mac, sl, device):  # a table's cast is in it
                full = sl.c_cast == "full"
                cw = aw if full else signed_width(sl.c_lo, sl.c_hi)
                s.add(cast_structure(1, sl.p_bits, int(sl.p_lo < 0), mac.pshift, cw,
                                     int(a_s if full else sl.c_lo < 0), mac.acc_rounding,
                                     mac.acc_overflow if full else 0))
            sw = signed_width((lo + sl.c_lo) >> z, (hi + sl.c_hi) >> z)
            if not (const and mac.bias[o] == 0):  # the first term onto a zero bias: wires
                # after a DSP product: xc7 folds the add into the DSP's post-adder at RF > 1
                # (the sum feeds the accumulator register), not as well at RF 1; after a
                # LUT product Yosys merges the add into the product's adder tree ($macc);
                # a cast between the product and the add (even a plain shift) stops both:
                # a plain two-operand adder
                dsp_sum = "dspadd" if mac.rf > 1 else "dspadd1"
                kind = ("constadd" if const else "adder" if sl.c_cast
                        else dsp_sum if prod.dsp else "macadd")
                s.lut[kind] = s.lut.get(kind, 0.0) + sw
                s.carry_bits.append(sw)
            if sl.s_cast:
                s.add(cast_structure(1, sw, int(lo + sl.c_lo < 0), 0, aw, int(a_s), 0,
                                     mac.acc_overflow))
            const = False
            lo, hi = sl.s_lo, sl.s_hi
    return s


def _mac_engine(e: Engine, ctx: Context) -> Structure:
    """cs_mac_engine: window, the generated MAC module (mac_structure), the accumulator
    register between cycles, cs_post's cast and fused ReLU, the output register."""
    p, mac = e.params, e.mac
    assert mac is not None
    x_live = ctx.in_bits(e) > 0
    s = window_structure(e.timing, ctx.in_bits(e), ctx.device, _slot_reads(mac))
    s.add(mac_structure(mac, ctx.device, x_live))
    s.add(post_structure(p, ctx.out_bits(e)))
    return s


def post_structure(p: dict[str, Any], out_bits: int) -> Structure:
    """cs_post of a weighted engine with parameters p: the result cast from its sum (an
    adder graph's YW-bit output, a MAC's accumulator), the fused ReLU and the output
    register of out_bits. The only part of the engine that depends on the result's type:
    the allocator re-costs it per result width (codesign.alloc.layercost)."""
    iw, is_signed = (p["YW"], 1) if "YW" in p else (p["AW"], p["AS"])
    s = cast_structure(p["COUT"], iw, is_signed, p["RSHIFT"], p["RW"], p["RS"], p["RRND"],
                       p["ROVF"])
    s.add(_relu_params(p, p["COUT"]))
    s.ff["out"] = s.ff.get("out", 0.0) + out_bits
    return s


def _pool(e: Engine, ctx: Context) -> Structure:
    p, t = e.params, e.timing
    c, xw, n = p["C"], p["XW"], p["KH"] * p["KW"]
    s = window_structure(t, ctx.in_bits(e), ctx.device)
    if p["MODE"] == 0:
        s.lut["cmp"] = float((n - 1) * c * (xw + 1))
        s.carry_bits += [xw + 1] * ((n - 1) * c)
        s.add(cast_structure(c, xw + 1, 1, p["AFRAC_X"], p["AW"], p["AS"], p["ARND"], p["AOVF"]))
    else:
        s.lut["pooladd"] = float(n * c * (p["AW"] + 2))
        s.carry_bits += [p["AW"] + 2] * (n * c)
        if not _pow2(n):  # the mean: `mag / N` per channel, an (AW+1)-bit divide
            for _ in range(c):
                s.add(divider(p["AW"] + 1, ctx.device))
    s.add(cast_structure(c, p["AW"], p["AS"], p["RSHIFT"], p["RW"], p["RS"], p["RRND"],
                         p["ROVF"]))
    s.ff["out"] = float(ctx.out_bits(e))
    return s


def _gap(e: Engine, ctx: Context) -> Structure:
    """cs_gap: per channel one accumulator (its adder on the finer grid, its cast to the
    accumulator type and its register), the mean's divide when H*W is not a power of two
    and the result cast; a beat counter and the output register. No line buffer. An
    accumulator finer than its input (the lossless default) holds AFRAC_X low bits that
    are always zero: Yosys keeps neither their flip-flops nor their adder bits (measured
    on Yosys 0.70, xc7: 16 channels over 8x8, 8-bit signed input, 1470 LUT, 360 FF,
    338 CARRY4)."""
    p = e.params
    c, aw, n = p["C"], p["AW"], p["H"] * p["W"]
    gf, gx = max(-p["AFRAC_X"], 0), max(p["AFRAC_X"], 0)
    swk = max(aw + gf, p["XW"] + gx) + 2
    s = cast_structure(c, swk, 1, -gf, aw, p["AS"], p["ARND"], p["AOVF"])
    s.lut["pooladd"] = float(c * (swk - gx))
    s.carry_bits += [swk - gx] * c
    if p["AS"]:  # the mean of a signed sum: |s|, then the quotient's sign back (two negates)
        s.lut["pooladd"] += 2.0 * c * (aw + 1)
        s.carry_bits += [aw + 1] * (2 * c)
    if not _pow2(n):
        for _ in range(c):
            s.add(divider(aw + 1, ctx.device))
    s.add(cast_structure(c, aw, p["AS"], p["RSHIFT"], p["RW"], p["RS"], p["RRND"], p["ROVF"]))
    count = max(math.ceil(math.log2(n)), 1)
    s.ff["acc"] = float(c * (aw - gx))
    s.ff["out"] = float(ctx.out_bits(e))
    s.ff["ctrl"] = float(count + 1)
    s.lut["ctrl"] = float(count + 1)
    s.carry_bits.append(count)
    return s


def _relu_engine(e: Engine, ctx: Context) -> Structure:
    p = e.params
    s = cast_structure(p["C"], p["IW"], p["IS"], p["SHIFT"], p["OW"], p["OS"], p["RND"], p["OVF"])
    s.lut["relu"] = s.lut.get("relu", 0.0) + p["C"] * p["OW"]
    s.ff["out"] = float(ctx.out_bits(e) + 1)
    s.lut["ctrl"] = 1.0
    return s


def _add_engine(e: Engine, ctx: Context) -> Structure:
    p = e.params
    swa = max(p["AW_"] + p["ASH"], p["BW_"] + p["BSH"]) + 2
    s = cast_structure(p["C"], swa, 1, p["FSHIFT"], p["RW"], p["RS"], p["RRND"], p["ROVF"])
    s.lut["adder"] = s.lut.get("adder", 0.0) + p["C"] * swa
    s.carry_bits += [swa] * p["C"]
    s.ff["out"] = float(ctx.out_bits(e) + 1)
    s.lut["ctrl"] = 2.0
    return s


def _fifo(e: Engine, ctx: Context) -> Structure:
    return fifo_structure(e.params["W"], e.params["DEPTH"], ctx.device)


def fifo_structure(w: int, depth: int, device: Device) -> Structure:
    """cs_fifo of w bits and depth words (a fork's copy of one stream), its memory where
    codesign.hwrules.fifo_plan puts it (the RTL reads the same rule): distributed RAM
    primitives counted exactly (LUTRAM), with a read mux between banks stacked in depth
    (a LUT6 selects 4 on Xilinx, a LUT4 2 on ECP5); or block RAM, exactly, with the
    bypass register and its mux (and on ECP5 the read register Yosys keeps outside the
    block). Pointers and count: the ctrl bits."""
    plan = fifo_plan(depth, w, device)
    ab = max(math.ceil(math.log2(depth)), 1)
    cb = math.ceil(math.log2(depth + 1))
    ctrl = float(3 * ab + cb)  # rd, wr, count and the next read address
    if plan.style == "block":
        held, mux = (w + 1, w) if xilinx(device) else (2 * w + 1, 2 * w)  # ECP5: measured
        return Structure(lut={"fifo": float(mux), "ctrl": ctrl},
                         ff={"fifo": float(held), "ctrl": float(2 * ab + cb)},
                         bram=plan.blocks * BLOCK_BITS / device.bram_bits,
                         carry_bits=[ab, ab, cb])
    per_bit = plan.banks - 1 if device.family == "ecp5" else math.ceil((plan.banks - 1) / 3)
    return Structure(lut={"fifo": float(w * per_bit), "ctrl": ctrl},
                     ff={"ctrl": float(2 * ab + cb)}, lutram=plan.luts,
                     carry_bits=[ab, ab, cb])


Rule = Callable[[Engine, Context], Structure]
RULES: dict[str, Rule] = {
    "cs_graph_engine": _graph_engine,
    "cs_mac_engine": _mac_engine,
    "cs_pool": _pool,
    "cs_gap": _gap,
    "cs_relu": _relu_engine,
    "cs_add": _add_engine,
    "cs_fifo": _fifo,
}


def _control(e: Engine, ctx: Context) -> Structure:
    """What is left of an engine whose output is constant or unread: its handshake."""
    if e.kind == "window":
        return window_structure(e.timing, 0, ctx.device)
    return Structure(lut={"ctrl": 2.0}, ff={"ctrl": 1.0})


def engine_structure(e: Engine, ctx: Context) -> Structure:
    rule = RULES.get(e.module)
    if rule is None:
        raise CodesignError(f"the structural cost model has no rule for engine module "
                            f"{e.module!r} ({e.name}); add one to "
                            "codesign.cost.structural.RULES")
    if ctx.plan.engines.index(e) not in ctx.alive:
        return _control(e, ctx)
    return rule(e, ctx)


def weighted_logic(s: Structure, coef: dict) -> tuple[float, float]:
    """LUT and FF of a structure's feature bits before the per-engine constant, the SRLs
    and the rounding: linear, so the parts of an engine can be costed apart and added."""
    return (sum(coef["lut"].get(k, 0.0) * v for k, v in s.lut.items()),
            sum(coef["ff"].get(k, 0.0) * v for k, v in s.ff.items()))


def resources(s: Structure, device: Device, coef: dict | None = None) -> dict[str, Any]:
    """LUT, FF, DSP, BRAM, CARRY, SRL, LUTRAM of a structure on a device."""
    coef = coef or coefficients(device.family)
    logic, ff = weighted_logic(s, coef)
    return {"lut": int(round(logic + coef["lut"].get("const", 0.0))) + s.srl + s.lutram,
            "ff": int(round(ff + coef["ff"].get("const", 0.0))),
            "dsp": int(s.dsp), "bram": float(s.bram),
            "carry": carry_cells(s.carry_bits, device),
            "srl": s.srl if xilinx(device) else 0, "lutram": s.lutram}


def plan_structures(qnet: QuantizedNet, plan: Plan, device: Device
                    ) -> list[tuple[Engine, Structure]]:
    """Every engine of the plan with its structure."""
    ctx = Context.of(plan, device, varying_bits(qnet))  # constants by type (cost.ranges)
    return [(e, engine_structure(e, ctx)) for e in plan.engines]


def on_device(qnet: QuantizedNet, device: Device) -> QuantizedNet:
    """qnet as generated for this part (what `codesign synth --device` builds): the adder
    graphs' pipelines and the weight ROMs' placement follow the part, not the part the
    design was made for."""
    return retarget(qnet, device, None)


def design_structure(qnet: QuantizedNet, device: Device) -> tuple[Plan, Structure]:
    """The plan of qnet's RTL on the device and the structure of all its engines."""
    qnet = on_device(qnet, device)
    plan = plan_network(qnet)
    total = Structure()
    for _, s in plan_structures(qnet, plan, device):
        total.add(s)
    return plan, total
