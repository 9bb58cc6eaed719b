"""The multiply-accumulate of a conv/dense engine that is not an adder graph: reuse
RF > 1, a narrow (lossy) accumulator the user chose, or `multiplier: dsp`.

`plan_mac` sizes everything by its range, following hls4ml's sequential cast order
(codesign/bitaccurate.py mac): per output, the bias cast to the accumulator, then every
product cast to the accumulator and added, each sum cast to the accumulator. A value
whose range provably fits the accumulator needs no cast and is carried in just the bits
its range needs (a product, a partial sum); only where the range may overflow (or bits
are rounded off) is the cast built, and then into the accumulator's width. With a
lossless accumulator every cast vanishes and every node is exact.

At RF > 1 the engine spends RF cycles per output, T = ceil(terms / RF) products per
output per cycle; term m = t*T + i (model order) is slot i at cycle t. The weights sit
in a ROM of RF words (block RAM or LUTs: the layer's weight_rom, by codesign.hwrules'
rule at `auto`); each slot's field
is as wide as the weights it holds need, and a slot whose weights are all zero has no
field and no product. The register between cycles is accumulator-wide.

`render_mac_module` writes the plan as one SystemVerilog module (the engine shell
hw/cs_mac_engine.sv holds the window, the accumulator register and the output cast).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from codesign.devices import Device
from codesign.fixed import FixedType, Overflow
from codesign.hwrules import RomPlan, dsp_inferred, rom_plan
from codesign.rtl.adder_graph import signed_width
from codesign.rtl.engines import OVERFLOW_CODES, ROUNDING_CODES


@dataclass(frozen=True)
class Slot:
    """Product slot i of output o: its weights' range, the product, its cast, the sum."""

    out: int
    i: int
    w_lo: int  # weights this slot multiplies (over all cycles; 0 where m >= terms)
    w_hi: int
    p_lo: int  # product mantissa range (weight frac + input frac)
    p_hi: int
    dsp: bool  # written with `*` (hwrules.uses_star) and wide enough for a DSP
    c_lo: int  # the product cast to the accumulator: its range
    c_hi: int
    c_cast: str  # "" (exact shift), "round" (rounding, no overflow), "full" (overflow too)
    s_lo: int  # the partial sum after this slot (cast to the accumulator)
    s_hi: int
    s_cast: bool  # whether the sum may overflow the accumulator (its cast is built)
    lsb: int = 0  # output o's sums are multiples of 2**lsb: its low lsb bits are not carried

    @property
    def w_bits(self) -> int:
        """Width of the slot's ROM field (0: every weight zero, no product)."""
        return 0 if self.w_lo == self.w_hi == 0 else signed_width(self.w_lo, self.w_hi)

    @property
    def p_bits(self) -> int:
        return signed_width(self.p_lo, self.p_hi)

    @property
    def s_bits(self) -> int:
        """Bits the partial sum is carried in (above its always-zero low bits)."""
        return signed_width(self.s_lo >> self.lsb, self.s_hi >> self.lsb)


@dataclass(frozen=True)
class MacPlan:
    """Everything the generated MAC module is made of (the cost model reads it too)."""

    terms: int
    cout: int
    rf: int
    slots_per_out: int  # T
    x_width: int
    x_signed: bool
    x_lo: int
    x_hi: int
    source: tuple[int, ...]  # window field (stream order) of each model-order term
    weights: tuple[tuple[int, ...], ...]  # [o][m], model order
    bias: tuple[int, ...]  # bias cast to the accumulator, per output (its mantissa)
    acc_width: int
    acc_signed: bool
    acc_lo: int
    acc_hi: int
    acc_rounding: int  # codes as cs_cast's
    acc_overflow: int
    pshift: int  # accumulator frac - product frac
    slots: tuple[Slot, ...]  # [o * T + i]
    carry: tuple[tuple[int, int], ...]  # per output: range of the value entering slot 0
    rom: RomPlan | None  # None at RF 1 (constants) or when every weight is zero

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MacPlan:
        return cls(**{**d, "source": tuple(d["source"]),
                      "weights": tuple(tuple(w) for w in d["weights"]),
                      "bias": tuple(d["bias"]), "slots": tuple(Slot(**s) for s in d["slots"]),
                      "carry": tuple(tuple(c) for c in d["carry"]),
                      "rom": RomPlan(**d["rom"]) if d["rom"] else None})

    def slot(self, o: int, i: int) -> Slot:
        return self.slots[o * self.slots_per_out + i]

    def weight(self, o: int, t: int, i: int) -> int:
        m = t * self.slots_per_out + i
        return self.weights[o][m] if m < self.terms else 0

    def rom_columns(self) -> list[tuple[int, ...]]:
        """Every ROM output bit (word order) as its values over the RF cycles."""
        return [tuple((self.weight(s.out, t, s.i) >> b) & 1 for t in range(self.rf))
                for s, _ in self.rom_fields() for b in range(s.w_bits)]

    def rom_fields(self) -> list[tuple[Slot, int]]:
        """(slot, bit offset) of every slot with a ROM field, in word order."""
        out, off = [], 0
        for s in self.slots:
            if s.w_bits:
                out.append((s, off))
                off += s.w_bits
        return out


# -- ranges ---------------------------------------------------------------------------
def _fits(lo: int, hi: int, acc: FixedType) -> bool:
    """Whether every value in [lo, hi] (accumulator grid) is left alone by its cast."""
    sym = acc.signed and acc.overflow is Overflow.SAT_SYM and acc.width > 1
    return lo >= acc.min_int + int(sym) and hi <= acc.max_int


def _clip(lo: int, hi: int, acc: FixedType) -> tuple[int, int]:
    """The range of the overflow rule's output for inputs in [lo, hi]."""
    if acc.overflow is Overflow.WRAP:
        return acc.min_int, acc.max_int
    sym = int(acc.signed and acc.overflow is Overflow.SAT_SYM and acc.width > 1)
    a, b = acc.min_int + sym, acc.max_int
    clo, chi = min(max(lo, a), b), min(max(hi, a), b)
    if acc.overflow is Overflow.SAT_ZERO:
        return min(clo, 0), max(chi, 0)
    return clo, chi


def _rounded(v: int, frac_from: int, acc: FixedType) -> int:
    """v on grid frac_from rounded onto the accumulator's grid (its rounding, no overflow);
    rounding is monotone, so the ends of a range map to the ends."""
    wide = FixedType(62, 62 - acc.frac, True, acc.rounding, Overflow.WRAP)
    return int(wide.cast_int(np.array([v], dtype=np.int64), frac_from)[0])


def _zero_bits(pshift: int, bias: int, slots: list[Slot], acc: FixedType) -> int:
    """Low bits of an output's partial sums that are always zero: a product shifted up
    onto a finer accumulator grid (pshift > 0) adds zeros below it, unless a cast may
    saturate (a clamp lands on odd values) or the bias has fewer zeros."""
    if pshift <= 0 or any(s.c_cast or s.s_cast for s in slots if s.w_bits):
        return 0
    z = pshift if bias == 0 else min(pshift, (bias & -bias).bit_length() - 1)
    if acc.width - z < 2:
        return 0
    return z


def _union(a: tuple[int, int] | None, lo: int, hi: int) -> tuple[int, int]:
    return (lo, hi) if a is None else (min(a[0], lo), max(a[1], hi))


def _plan_output(weights: tuple[int, ...], bias: int, x_t: FixedType, acc: FixedType,
                 p_frac: int, rf: int, t_slots: int) -> tuple[list[Slot], tuple[int, int]]:
    """Output o's slots: every cycle followed with its own weights (exact ranges), each
    slot's ranges the union over the cycles; and the range of the value entering slot 0
    (the bias at t = 0, the carried partial sum after)."""
    terms = len(weights)
    pshift = acc.frac - p_frac
    x_lo, x_hi = x_t.min_int, x_t.max_int
    ws: list[tuple[int, int] | None] = [None] * t_slots
    ps: list[tuple[int, int] | None] = [None] * t_slots
    cs: list[tuple[int, int] | None] = [None] * t_slots
    ss: list[tuple[int, int] | None] = [None] * t_slots
    how = [""] * t_slots
    s_cast = [False] * t_slots
    start: tuple[int, int] | None = None
    lo = hi = bias
    for t in range(rf):
        start = _union(start, lo, hi)
        for i in range(t_slots):
            m = t * t_slots + i
            w = weights[m] if m < terms else 0
            ws[i] = _union(ws[i], w, w)
            p_lo, p_hi = min(w * x_lo, w * x_hi), max(w * x_lo, w * x_hi)
            ps[i] = _union(ps[i], p_lo, p_hi)
            if pshift >= 0:
                r_lo, r_hi, kind = p_lo << pshift, p_hi << pshift, ""
            else:
                r_lo, r_hi = _rounded(p_lo, p_frac, acc), _rounded(p_hi, p_frac, acc)
                kind = "round"
            if not _fits(r_lo, r_hi, acc):
                (r_lo, r_hi), kind = _clip(r_lo, r_hi, acc), "full"
            if w == 0:  # adds nothing: the cast of 0 is 0 and the sum passes through
                r_lo = r_hi = 0
                kind = ""
            cs[i] = _union(cs[i], r_lo, r_hi)
            how[i] = max(how[i], kind, key=("", "round", "full").index)
            lo, hi = lo + r_lo, hi + r_hi
            if not _fits(lo, hi, acc):
                s_cast[i] = True
                lo, hi = _clip(lo, hi, acc)
            ss[i] = _union(ss[i], lo, hi)
    slots = []
    for i in range(t_slots):
        (w_lo, w_hi), (p_lo, p_hi), (c_lo, c_hi), (s_lo, s_hi) = ws[i], ps[i], cs[i], ss[i]
        if w_lo == w_hi == 0:
            how[i], s_cast[i] = "", False
        slots.append(Slot(0, i, w_lo, w_hi, p_lo, p_hi, False, c_lo, c_hi, how[i], s_lo, s_hi,
                          s_cast[i]))
    assert start is not None
    return slots, start


def plan_mac(wmat: np.ndarray, source: list[int], bias: np.ndarray, x_t: FixedType,
             w_t: FixedType, b_t: FixedType, acc: FixedType, rf: int, dsp: bool,
             device: Device, rom: str = "auto") -> MacPlan:
    """The MAC of y[o] = sum_m x[source[m]] * wmat[m, o] + bias[o] in hls4ml's order;
    its weight ROM where `rom` (a layer's weight_rom) asks."""
    terms, cout = wmat.shape
    t_slots = -(-terms // rf)
    x_lo, x_hi = x_t.min_int, x_t.max_int
    p_frac = w_t.frac + x_t.frac
    pshift = acc.frac - p_frac
    bias_acc = [int(v) for v in acc.cast_int(np.asarray(bias, dtype=np.int64), b_t.frac)]
    weights = tuple(tuple(int(v) for v in wmat[:, o]) for o in range(cout))
    x_bits = x_t.width + (0 if x_t.signed else 1)  # the input as a signed operand
    slots: list[Slot] = []
    carry: list[tuple[int, int]] = []
    for o in range(cout):
        mine, start = _plan_output(weights[o], bias_acc[o], x_t, acc, p_frac, rf, t_slots)
        lsb = _zero_bits(pshift, bias_acc[o], mine, acc)
        for sl in mine:
            w_bits = signed_width(sl.w_lo, sl.w_hi) + (0 if sl.w_lo < 0 else 1)
            slots.append(replace(sl, out=o, lsb=lsb, dsp=dsp and dsp_inferred(x_bits, w_bits)))
        carry.append(start)
    plan = MacPlan(terms, cout, rf, t_slots, x_t.width, x_t.signed, x_lo, x_hi, tuple(source),
                   weights, tuple(bias_acc), acc.width, acc.signed, acc.min_int, acc.max_int,
                   ROUNDING_CODES[acc.rounding], OVERFLOW_CODES[acc.overflow], pshift,
                   tuple(slots), tuple(carry), None)
    return with_rom(plan, rom, device)


def with_rom(plan: MacPlan, style: str, device: Device) -> MacPlan:
    """The plan with its weight ROM where `style` (a layer's weight_rom) puts it, counted
    on the columns that vary over the cycles; nothing else depends on it, so the allocator
    costs every style from one plan."""
    width = sum(s.w_bits for s in plan.slots)
    if plan.rf == 1 or not width:
        return plan
    live = sum(0 < sum(c) < plan.rf for c in plan.rom_columns())
    return replace(plan, rom=rom_plan(plan.rf, width, device, style, live))


# -- SystemVerilog ----------------------------------------------------------------------
def _ext(expr: str, width: int, signed: bool, n: int) -> str:
    """n bits of the width-bit vector expr, sign- or zero-extended (or truncated: only
    where the value provably fits n bits)."""
    if n <= width:
        return expr if n == width else f"{expr}[{n - 1}:0]"
    pad = n - width
    if signed:
        msb = f"{expr}[{width - 1}]"
        return f"{{{{{pad}{{{msb}}}}}, {expr}}}"
    return f"{{{pad}'b0, {expr}}}"


def _const(v: int, n: int) -> str:
    return f"{n}'h{v & ((1 << n) - 1):x}"


def _csd(v: int) -> list[tuple[int, int]]:
    """Canonical signed digits of v: (bit, +1/-1)."""
    out, b = [], 0
    while v:
        if v & 1:
            d = 2 - (v & 3)
            out.append((b, d))
            v -= d
        v >>= 1
        b += 1
    return out


class _Writer:
    def __init__(self, plan: MacPlan) -> None:
        self.p = plan
        self.lines: list[str] = []
        self.xe_bits = plan.x_width + (0 if plan.x_signed else 1)

    def decl(self, name: str, width: int, expr: str) -> None:
        self.lines.append(f"  logic [{width - 1}:0] {name};")
        self.lines.append(f"  assign {name} = {expr};")

    def slot_inputs(self) -> None:
        """xe<i>: the input slot i multiplies (muxed by the cycle at RF > 1), signed."""
        p = self.p
        xw = p.x_width
        for i in range(p.slots_per_out):
            if all(p.slot(o, i).w_bits == 0 for o in range(p.cout)):
                continue
            if p.rf == 1:
                raw = f"x[{p.source[i] * xw + xw - 1}:{p.source[i] * xw}]"
            else:
                raw = f"xs{i}"
                self.lines.append(f"  logic [{xw - 1}:0] xs{i};")
                self.lines.append("  always_comb begin")
                self.lines.append("    case (t)")
                for t in range(p.rf):
                    m = t * p.slots_per_out + i
                    src = p.source[m] if m < p.terms else 0
                    self.lines.append(f"      {t}: xs{i} = x[{src * xw + xw - 1}:{src * xw}];")
                self.lines.append(f"      default: xs{i} = '0;")
                self.lines += ["    endcase", "  end"]
            self.decl(f"xe{i}", self.xe_bits, _ext(raw, xw, p.x_signed, self.xe_bits))

    def rom(self) -> None:
        p = self.p
        rom = p.rom
        if rom is None:
            return
        tw = max(1, (p.rf - 1).bit_length())
        self.lines.append(f"  logic [{rom.width - 1}:0] wq;  // this cycle's weights")
        # Yosys: "block" maps to block RAM (synchronous read); "logic" to LUTs (its
        # distributed-RAM mapping wants a write port a ROM does not have)
        style = "block" if rom.style == "block" else "logic"
        self.lines.append(f"  (* rom_style = \"{style}\" *) logic [{rom.width - 1}:0] "
                          f"rom [0:{p.rf - 1}];")
        self.lines.append("  initial begin")
        fields = p.rom_fields()
        for t in range(p.rf):
            word = 0
            for s, off in fields:
                word |= (p.weight(s.out, t, s.i) & ((1 << s.w_bits) - 1)) << off
            self.lines.append(f"    rom[{t}] = {_const(word, rom.width)};")
        self.lines.append("  end")
        if rom.style == "block":
            # synchronous read of the next cycle's word: the address t takes next
            self.lines.append(f"  logic [{tw - 1}:0] a_next;")
            self.lines.append(f"  assign a_next = acc_en ? t + {tw}'d1 : (load ? '0 : t);")
            self.lines.append("  always_ff @(posedge clk) wq <= rom[a_next];")
        else:
            self.lines.append("  assign wq = rom[t];")

    def product(self, s: Slot, off: int) -> tuple[str, int, bool] | None:
        """The product of slot s as (name, width, signed); None when it is zero."""
        p = self.p
        if s.w_bits == 0:
            return None
        n = f"p{s.out}_{s.i}"
        pw = s.p_bits
        xe = f"xe{s.i}"
        xp = _ext(xe, self.xe_bits, True, pw)
        if p.rf == 1:
            w = p.weights[s.out][s.i]
            if s.dsp:
                expr = f"$signed({xe}) * $signed({_const(w, s.w_bits + 1)})"
            else:
                terms = [(("- " if d < 0 else "+ ") + (f"({xp} << {b})" if b else xp))
                         for b, d in _csd(w)]
                expr = " ".join(terms).removeprefix("+ ")
                if expr.startswith("- "):
                    expr = f"{pw}'d0 {expr}"
        else:
            wf = f"wq[{off + s.w_bits - 1}:{off}]"
            w_signed = s.w_lo < 0
            if s.dsp:
                ws = wf if w_signed else f"{{1'b0, {wf}}}"
                expr = f"$signed({xe}) * $signed({ws})"
            else:
                # shift-and-add partial products: LUTs, never a DSP
                terms = []
                for b in range(s.w_bits):
                    neg = w_signed and b == s.w_bits - 1
                    shifted = f"({xp} << {b})" if b else xp
                    terms.append(("- " if neg else "+ ")
                                 + f"({{{pw}{{wq[{off + b}]}}}} & {shifted})")
                expr = " ".join(terms).removeprefix("+ ")
                if expr.startswith("- "):
                    expr = f"{pw}'d0 {expr}"
        self.decl(n, pw, f"{pw}'({expr})")
        return n, pw, s.p_lo < 0

    def cast(self, name: str, src: tuple[str, int, bool], shift: int, rnd: int, ovf: int,
             out_w: int, out_s: bool) -> None:
        n, w, sg = src
        self.lines.append(f"  logic [{out_w - 1}:0] {name};")
        self.lines.append(f"  cs_cast #(.C(1), .IW({w}), .IS({int(sg)}), .SHIFT({shift}), "
                          f".OW({out_w}), .OS({int(out_s)}), .RND({rnd}), .OVF({ovf})) "
                          f"u_{name} (.x({n}), .y({name}));")

    def output_chain(self, o: int, fields: dict[tuple[int, int], int]) -> str:
        """The sequential sum of output o; returns the accumulator-wide expression."""
        p = self.p
        aw, a_s = p.acc_width, p.acc_signed
        z = p.slot(o, 0).lsb  # sums are carried above their z always-zero bits
        const: int | None = None  # the running value while it is still a constant
        cur: tuple[str, int, bool] = ("", 0, False)
        if p.rf == 1:
            const, lo, hi = p.bias[o] >> z, p.bias[o], p.bias[o]
        else:
            lo, hi = p.carry[o]
            sw = signed_width(lo >> z, hi >> z)
            self.decl(f"s{o}_0", sw, f"(t == '0) ? {_const(p.bias[o] >> z, sw)} : "
                      f"acc_in[{o * aw + z + sw - 1}:{o * aw + z}]")
            cur = (f"s{o}_0", sw, lo < 0)
        for i in range(p.slots_per_out):
            s = p.slot(o, i)
            prod = self.product(s, fields.get((o, i), 0))
            if prod is None:
                continue
            if s.c_cast == "":
                c, shift = prod, p.pshift - z
            else:
                full = s.c_cast == "full"
                cw = aw if full else signed_width(s.c_lo, s.c_hi)
                cs = a_s if full else s.c_lo < 0
                self.cast(f"c{o}_{i}", prod, p.pshift, p.acc_rounding,
                          p.acc_overflow if full else 0, cw, cs)
                c, shift = (f"c{o}_{i}", cw, cs), 0
            lo_sum, hi_sum = lo + s.c_lo, hi + s.c_hi
            sw = signed_width(lo_sum >> z, hi_sum >> z)
            if sw <= shift:
                c_term = f"{sw}'b0"
            else:
                c_ext = _ext(c[0], c[1], c[2], sw - shift)
                c_term = f"{{{c_ext}, {shift}'b0}}" if shift else c_ext
            if const is None:
                expr = f"{_ext(cur[0], cur[1], cur[2], sw)} + {c_term}"
            else:
                expr = c_term if const == 0 else f"{_const(const, sw)} + {c_term}"
            name = f"s{o}_{i + 1}"
            self.decl(f"{name}x" if s.s_cast else name, sw, expr)
            if s.s_cast:
                self.cast(name, (f"{name}x", sw, lo_sum < 0), 0, 0, p.acc_overflow, aw, a_s)
                cur = (name, aw, a_s)
            else:
                cur = (name, sw, lo_sum < 0)
            const = None
            lo, hi = s.s_lo, s.s_hi
        if const is not None:
            return _const(const << z, aw)
        value = _ext(cur[0], cur[1], cur[2], aw - z)
        return f"{{{value}, {z}'b0}}" if z else value


def render_mac_module(name: str, plan: MacPlan, comment: str) -> str:
    """The module `name`: window x in, accumulator acc_in/acc_out (AW bits per output)."""
    p = plan
    aw, xw = p.acc_width, p.x_width
    tw = max(1, (p.rf - 1).bit_length())
    rom = p.rom
    w = _Writer(p)
    if p.rf == 1:
        weights = "constants"
    elif rom is None:
        weights = "all zero"
    else:
        weights = f"a {rom.style} ROM of {rom.depth} x {rom.width}"
    head = [f"// {name}: generated by codesign.rtl.mac. {comment}",
            f"// {p.cout} outputs x {p.terms} terms, {p.slots_per_out} products per output per "
            f"cycle over RF = {p.rf} cycles;",
            "// every product and partial sum sized by its range, casts only where they can "
            "act.",
            f"// Weights: {weights}. Do not edit: regenerate instead.",
            f"module {name} (",
            "  /* verilator lint_off UNUSEDSIGNAL */",
            "  input  logic clk,",
            f"  input  logic [{p.terms * xw - 1}:0] x,",
            f"  input  logic [{tw - 1}:0] t,",
            "  input  logic acc_en,",
            "  input  logic load,",
            f"  input  logic [{p.cout * aw - 1}:0] acc_in,",
            "  /* verilator lint_on UNUSEDSIGNAL */",
            f"  output logic [{p.cout * aw - 1}:0] acc_out",
            ");",
            "  /* verilator lint_off UNUSEDSIGNAL */  // bits some readers drop"]
    w.slot_inputs()
    w.rom()
    fields = {(s.out, s.i): off for s, off in p.rom_fields()}
    outs = [w.output_chain(o, fields) for o in range(p.cout)]
    body = w.lines
    body.append("  /* verilator lint_on UNUSEDSIGNAL */")
    body += [f"  assign acc_out[{o * aw + aw - 1}:{o * aw}] = {e};" for o, e in enumerate(outs)]
    return "\n".join(head + body + ["endmodule"]) + "\n"
