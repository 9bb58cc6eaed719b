"""Structural cost estimate: the RTL generator's plan, read engine by engine.

`codesign.emit.rtl.plan_network(qnet)` builds the same Plan `generate_rtl` writes (engines,
adder graphs with every adder's width, line buffers, casts, FIFO depths) without writing
a file. Each engine module has one rule here (RULES, keyed by the hw/ module the engine
instantiates: one engine, one place), which turns the engine's parameters and graph into

- features: bits of each kind of logic (adder bits, line-buffer bits, cast bits, ...);
  LUT and FF are the features times per-family coefficients fitted against Yosys
  (hw/devices/structural_fit.yaml, with the Yosys version and date of the fit);
- which streams are constants by their types (codesign.cost.ranges): Yosys folds them
  and the logic that only feeds them, so an engine whose output is constant or unread
  keeps only its handshake (an accumulator loop at RF > 1 is kept: Yosys cannot see it
  holds a constant);
- counts Yosys's mapping fixes exactly: DSP blocks (Yosys's mul2dsp rule), block RAM
  (none in today's RTL), carry cells (an adder of w bits is ceil(w/4) CARRY4 on xc7 /
  UltraScale, ceil(w/2) CCU2C on ECP5) and, on Xilinx, the SRL16E/SRLC32E that
  `shregmap` makes of a line buffer's untapped runs (ECP5 keeps them as flip-flops).

A rule sees the engine, the plan and the device; it never dispatches on layer kinds.
"""

from __future__ import annotations

import importlib.resources
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import yaml

from codesign.cost.ranges import varying_bits
from codesign.devices import Device
from codesign.emit.adder_graph import AdderGraph
from codesign.emit.rtl import Plan, plan_network
from codesign.emit.rtl_engines import Engine
from codesign.errors import CodesignError
from codesign.qnet import QuantizedNet

DSP_MIN_OPERAND = 2  # Yosys's mul2dsp: both operands >= 2 bits ...
DSP_MIN_SUM = {"xc7": 9, "xcup": 9}  # ... and on Xilinx widths summing to >= 9 (not ECP5)
SRL_MIN = 3  # synth_xilinx: shregmap -minlen 3
SRL_DEPTH = 32  # SRLC32E
LUT_FEATURES = ("adder", "constadd", "macadd", "dspadd", "lossy", "lutmul", "rom", "xmux",
                "round", "sat", "relu", "cmp", "pooladd", "fifo", "ctrl")
FF_FEATURES = ("lbuf", "out", "acc", "fifo", "ctrl")


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
@lru_cache(maxsize=1)
def fit_file() -> dict:
    """hw/devices/structural_fit.yaml: coefficients per family, Yosys version, date."""
    path = importlib.resources.files("codesign.hw") / "devices" / "structural_fit.yaml"
    return yaml.safe_load(path.read_text())


def coefficients(family: str) -> dict[str, dict[str, float]]:
    fams = fit_file()["families"]
    return fams.get(family, fams["default"])


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
    return s


def _tiles(a: int, b: int, device: Device) -> int:
    """DSP blocks of a signed a x b product (the device's multiplier shape)."""
    big, small = max(a, b), min(a, b)
    return (math.ceil(big / max(device.dsp_a_bits, device.dsp_b_bits))
            * math.ceil(small / min(device.dsp_a_bits, device.dsp_b_bits)))


def _big(a: int, b: int, device: Device) -> bool:
    return (a >= DSP_MIN_OPERAND and b >= DSP_MIN_OPERAND
            and a + b >= DSP_MIN_SUM.get(device.family, 0))


def product_dsps(a: int, b: int, device: Device) -> int:
    """DSPs Yosys gives a signed a x b `*` (0: built in LUTs)."""
    return _tiles(a, b, device) if _big(a, b, device) else 0


def constant_product_dsps(w: int, xw: int, x_signed: bool, device: Device) -> int:
    """DSPs of x * w for a constant integer w (RF 1, `multiplier: dsp`): a zero or a
    power of two is wiring; a positive constant times an unsigned x is an unsigned
    product (mapped as signed a+1 x b+1); otherwise signed x (xw + 1 bits when x is
    unsigned) times the constant's signed width (the fast model's rule, on real ints)."""
    if w == 0 or (abs(w) & (abs(w) - 1)) == 0:
        return 0
    if w > 0 and not x_signed:
        ub = int(w).bit_length()
        return _tiles(xw + 1, ub + 1, device) if _big(xw, ub, device) else 0
    mag = -w - 1 if w < 0 else w
    lb = int(mag).bit_length() + 1
    return product_dsps(xw + (0 if x_signed else 1), lb, device)


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
            if e.timing.get("RF", 1) > 1:
                # an accumulator loop: Yosys cannot see that it only ever holds a constant
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
    its low k bits through as wires (codesign.emit.rtl_graph._sum)."""
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
    s.add(_cast_of(e, p["COUT"], p["YW"], 1, "R", "RSHIFT"))
    s.add(_relu(e, p["COUT"]))
    s.ff["out"] = s.ff.get("out", 0.0) + ctx.out_bits(e)
    return s


def _out_width(e: Engine) -> int:
    p = e.params
    return p["QW"] if p.get("RELU") else p["RW"]


def _relu(e: Engine, c: int) -> Structure:
    p = e.params
    if not p.get("RELU"):
        return Structure()
    s = cast_structure(c, p["RW"], p["RS"], p["QSHIFT"], p["QW"], p["QS"], p["QRND"], p["QOVF"])
    s.lut["relu"] = s.lut.get("relu", 0.0) + c * p["QW"]
    return s


def _weights(e: Engine) -> np.ndarray:
    """The engine's integer weights (COUT, TERMS) from its packed WEIGHTS literal."""
    p = e.params
    ww, ws = p["WW"], p["WS"]
    lit = str(p["WEIGHTS"])
    total = int(lit.split("'h")[1], 16)
    n = int(lit.split("'h")[0]) // ww
    mask = (1 << ww) - 1
    vals = [(total >> (j * ww)) & mask for j in range(n)]
    if ws:
        vals = [v - (1 << ww) if v >> (ww - 1) else v for v in vals]
    return np.array(vals, dtype=np.int64).reshape(p["COUT"], -1)


def _mac_engine(e: Engine, ctx: Context) -> Structure:
    """cs_conv / cs_dense: window, cs_mac (CSD shift-add or `*` at RF 1; a weight ROM
    indexed by the cycle and COUT*T `*` multipliers at RF > 1), cast, ReLU."""
    p, t, device = e.params, e.timing, ctx.device
    rf, cout, xw, ww, aw = p["RF"], p["COUT"], p["XW"], p["WW"], p["AW"]
    cin = p["CIN"]
    terms = cin * t["KH"] * t["KW"]
    per_out = math.ceil(terms / rf)
    pw = xw + ww + 2
    sw = max(aw, pw) + 1
    w = _weights(e)
    read = None
    if rf == 1:  # a zero column's window field is never read
        used = (w != 0).any(axis=0)  # model order
        perm = p.get("P", 0) if e.module == "cs_dense" else 0
        read = np.zeros(terms, dtype=bool)
        for m in range(terms):
            src = (m % perm) * (terms // perm) + m // perm if perm > 1 else m
            read[src] = used[m]
    s = window_structure(t, ctx.in_bits(e), device, read)
    xsig = bool(p["XS"])
    if not ctx.in_bits(e):  # a constant input: every product folds away
        w = np.zeros_like(w)
    if rf == 1:
        nz = w != 0
        if p["CSD"]:
            from codesign.cost.weightstats import csd_digits

            digits = csd_digits(w)
            s.lut["adder"] = float(((digits - 1) * nz).sum() * pw)
            s.carry_bits += [pw] * int(((digits - 1) * nz).sum())
            dsp_products = 0
        else:
            dsps = [constant_product_dsps(int(v), xw, xsig, device) for v in w.ravel()]
            s.dsp = int(sum(dsps))
            dsp_products = int(sum(d > 0 for d in dsps))
            small = [(int(v), d) for v, d in zip(w.ravel(), dsps, strict=True)
                     if v != 0 and d == 0 and abs(int(v)) & (abs(int(v)) - 1)]
            s.lut["lutmul"] = float(sum(xw * int(abs(v)).bit_length() for v, _ in small))
        products = int(nz.sum())
    elif not w.any():  # the accumulator loop stays (and a lossy chain's casts)
        products = dsp_products = 0
        s.ff["acc"] = float(cout * aw)
        if not p["LOSSLESS"]:
            s.lut["lossy"] = float(cout * per_out * aw)
    else:
        products = cout * per_out
        xe = xw + (0 if xsig else 1)  # x enters the product sign-extended
        each = product_dsps(xe, ww, device)
        s.dsp = products * each
        dsp_products = products if each else 0
        if not each:
            s.lut["lutmul"] = float(products * xw * ww)
        # the cycle t (TW bits) indexes the weights and the window: Yosys sees 2**TW
        # entries (a 64-entry ROM bit per LUT6; a 4:1 mux bit per LUT6, shared by outputs)
        entries = 1 << math.ceil(math.log2(rf))
        s.lut["rom"] = float(products * ww * math.ceil(entries / 64))
        s.lut["xmux"] = float(per_out * xw * (entries - 1) / 3)
        s.ff["acc"] = float(cout * aw)
    if p["LOSSLESS"]:
        s.lut["macadd"] = float((products - dsp_products) * sw)
        s.lut["dspadd"] = float(dsp_products * sw)
        s.carry_bits += [sw] * (products - dsp_products)
    else:
        s.lut["lossy"] = s.lut.get("lossy", 0.0) + products * aw
        s.carry_bits += [aw + 2] * products
    s.add(_cast_of(e, cout, aw, p["AS"], "R", "RSHIFT"))
    s.add(_relu(e, cout))
    s.ff["out"] = s.ff.get("out", 0.0) + ctx.out_bits(e)
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
    s.add(cast_structure(c, p["AW"], p["AS"], p["RSHIFT"], p["RW"], p["RS"], p["RRND"],
                         p["ROVF"]))
    s.ff["out"] = float(ctx.out_bits(e))
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
    p = e.params
    bits = ctx.in_bits(e) * p["DEPTH"]
    ab = max(math.ceil(math.log2(p["DEPTH"])), 1)
    cb = math.ceil(math.log2(p["DEPTH"] + 1))
    return Structure(lut={"fifo": float(bits), "ctrl": float(2 * ab + cb)},
                     ff={"fifo": float(bits), "ctrl": float(2 * ab + cb)},
                     carry_bits=[ab, ab, cb])


Rule = Callable[[Engine, Context], Structure]
RULES: dict[str, Rule] = {
    "cs_graph_engine": _graph_engine,
    "cs_conv": _mac_engine,
    "cs_dense": _mac_engine,
    "cs_pool": _pool,
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


def resources(s: Structure, device: Device, coef: dict | None = None) -> dict[str, Any]:
    """LUT, FF, DSP, BRAM, CARRY, SRL, LUTRAM of a structure on a device."""
    coef = coef or coefficients(device.family)
    logic = sum(coef["lut"].get(k, 0.0) * v for k, v in s.lut.items())
    ff = sum(coef["ff"].get(k, 0.0) * v for k, v in s.ff.items())
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


def design_structure(qnet: QuantizedNet, device: Device) -> tuple[Plan, Structure]:
    """The plan of qnet's RTL and the structure of all its engines together."""
    plan = plan_network(qnet)
    total = Structure()
    for _, s in plan_structures(qnet, plan, device):
        total.add(s)
    return plan, total
