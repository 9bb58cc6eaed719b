"""Fast cost estimate: whole candidate tables at once, no RTL built.

A first screen (`codesign cost --fast`) and the allocator's source of cycles (closed
form, exact); the allocator's LUT/FF/DSP/BRAM come from the structural rules instead
(codesign.alloc.layercost), so no "fits" rests on this model alone.

For every layer of a Graph, `FastCostModel.layer_costs` takes numpy arrays of candidate
weight bits, input bits, output bits, reuse factors and multiplier styles (broadcast
together) and returns the LUT, FF, DSP and BRAM of that layer's engine and its cycles.

The layer kinds are rules of two registries (SHAPES: what the model reads of a layer's
engine; COSTS: its features and cycles); the geometry, streams, fused ReLUs and fork
FIFOs are the RTL planner's (codesign.rtl.network.plan_timing, codesign.rtl.fusion),
read, not re-derived.

How: each resource is a sum of structural features of today's RTL (hw/cs_*.sv) times
a coefficient per family (hw/devices/cost_fit.yaml), fitted by bench/fast_fit.py to the
structural estimate (codesign.cost.structural, itself fitted against Yosys) of hundreds
of single-layer designs and random networks: far more configurations than can be
synthesized, each labelled by a model that reads the RTL plan. The features come from
the layer's shape and its float weights: the weights quantized at each candidate width
give the number of nonzero weights and of their canonical signed digits (the shift-add
adders a constant multiplier costs), and which products are big enough for Yosys to put
on a DSP. Features (bits of logic):

  shiftadd  adder bits of the CSD shift-add products (RF 1, LUT style, lossy accumulator)
  table     product bits of those products when the input fits a LUT (x_bits <= LUT
            inputs): ABC makes each a table of the input, whatever the weight's digits
  graphadd  CSD digits x accumulator bits: the adder graph of an RF 1, LUT-style, lossless
            layer (codesign.rtl.adder_graph: products and their sum, shared by da4ml)
  accadd    adder bits summing the products (one accumulator-wide add per product)
  dspacc    the same for products on DSPs (Yosys may absorb the add into the DSP)
  lossy     accumulator bits cast after every add (only a narrow, lossy accumulator)
  lutmul    x_bits * w_bits of every product Yosys builds in LUTs from `*`; at RF > 1
            with LUT multipliers the bits of the partial-product rows (no DSP)
  rom       weight bits read from the cycle-indexed weights (RF > 1)
  xmux      window bits multiplexed onto the shared multipliers (RF > 1)
  cast      bits requantized at the engine's output (rounding, saturation)
  gap       line-buffer bits between window taps (shift registers: SRL or FF)
  cmp, pooladd  max-pool comparator and average-pool adder bits
  div       carry-chain bits (2 n^2) of Yosys's restoring dividers: on Xilinx a window's
            32-bit `% stride` per dimension whose stride is not a power of two, and
            per channel an average pool's mean over a window that is not a power of two
            (codesign.cost.structural.divider)
  fifo      (not fitted: 0) the FIFOs of a fork (a residual skip) are added as the
            structural model costs them (codesign.cost.structural.fifo_structure:
            LUTRAM, block RAM, read mux, pointers), at the depths of the RTL planner's
            timing-only plan at reuse 1 (the adder graphs' pipeline stages given as
            `pipe`): the same FIFOs as the structural model of that design. A branch's
            skew moves with the reuse factors, which a per-layer table does not fix:
            `codesign cost` reads the chosen design's own depths
  taps, out, acc  window-tap, output and accumulator register bits
  pipe      an adder graph's pipeline registers at the part's clock: estimated stages
            (codesign.rtl.pipeline's delay model along one output's adder tree) x the
            outputs' accumulator bits
  const     one per engine (its control)

DSP counts follow Yosys's rule (both operands at least 2 bits, widths summing to at
least 9 - on Xilinx the product's trimmed width, x_bits + w_bits - a power of two is a
shift) on the products written with `*` (`multiplier:
dsp`; LUT multipliers at RF > 1 are shift-and-add rows of the weights' bits, no DSP)
and are not fitted; block RAM is the fork FIFOs' (the structural rule's blocks; weight ROMs in
block RAM are left to the structural model).

Cycles are closed form in the layer's shape and reuse (codesign.rtl.engines'
window timing): "interval" is the engine's cycles per image; "latency" is the delay it
adds: the cycles from its last input to its last output, plus the cycles it holds its
producer back (its walk over the input beyond the time its producer takes to deliver
them at reuse 1). The Input layer contributes its beats - 1, so the sum over the layers
estimates the network's first-input-to-last-output latency, per candidate, for the
allocator's linear budget rows. `network_cycles` gives the exact latency and interval of
a whole design (codesign.rtl.latency's closed form over the planner's timing-only plan:
equal to the handshake simulation and Verilator); `codesign cost` reports that one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codesign.cost import structural as st
from codesign.cost.report import family_coefficients, load_fit
from codesign.cost.weightstats import MAX_BITS, WeightTables
from codesign.devices import Device, get_device
from codesign.errors import CodesignError
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.registry import LayerRegistry
from codesign.rtl.engine_kinds import WindowEngine, window_geometry
from codesign.rtl.engines import Engine
from codesign.rtl.fusion import fused_relu
from codesign.rtl.latency import latency_shares
from codesign.rtl.network import Stream, plan_timing
from codesign.rtl.pipeline import delay_model

DSP_MIN_OPERAND = 2  # Yosys maps `*` to a DSP when both operands have >= 2 bits ...
DSP_MIN_SUM = 9  # ... and their widths sum to >= 9
RESOURCES = ("lut", "ff", "dsp", "bram")
FEATURES = ("shiftadd", "table", "graphadd", "accadd", "dspacc", "lossy", "lutmul", "rom", "xmux",
            "cast", "gap", "cmp", "pooladd", "div", "fifo", "taps", "out", "acc", "pipe", "const")
DIV_BITS = 32  # a window's `% SH` by a stride that is not a power of two is 32 bits wide


def fit_file() -> dict:
    """The fitted coefficients (hw/devices/cost_fit.yaml), with their Yosys version/date."""
    return load_fit("cost_fit.yaml")


def coefficients(family: str) -> dict[str, dict[str, float]]:
    """LUT and FF coefficients per feature for a device family (`default` if unfitted)."""
    return family_coefficients(fit_file(), family)


@dataclass
class _Window:
    """Shape-only quantities of a window engine (conv, dense, pool) for its cycles."""

    timing: dict[str, int]  # the planner's window timing (H, W, KH, ... HP, WP)
    outs: int
    p_first_in: int
    p_last_in: int
    p_last_out: int
    before_first_in: int  # outputs completed before the first interior position
    before_last_in: int
    out_span: int  # edges from its first to its last output at reuse 1
    feed_span: int = 0  # edges its producer takes to deliver an image (at reuse 1)

    @classmethod
    def of(cls, t: dict[str, int]) -> _Window:
        """From the engine's timing in the planner's timing-only plan (its geometry is
        the layer's, codesign.rtl.network.layer_timing) and the engines' own window mask
        (codesign.rtl.engine_kinds.window_geometry)."""
        interior, completes = window_geometry(t)
        pos = np.flatnonzero(completes)
        if pos.size == 0:
            raise CodesignError(f"a {t['KH']}x{t['KW']} window never fits a "
                                f"{t['H']}x{t['W']} image")
        inside = np.flatnonzero(interior)
        first_in, last_in = int(inside[0]), int(inside[-1])
        return cls(t, int(pos.size), first_in, last_in, int(pos[-1]),
                   int((pos < first_in).sum()), int((pos < last_in).sum()),
                   int(pos[-1] - pos[0]))

    @property
    def kernel(self) -> tuple[int, int]:
        return self.timing["KH"], self.timing["KW"]

    @property
    def stride(self) -> tuple[int, int]:
        return self.timing["SH"], self.timing["SW"]

    @property
    def gap_px(self) -> int:
        """Line-buffer pixels between the window's taps."""
        return (self.timing["KH"] - 1) * max(self.timing["WP"] - self.timing["KW"], 0)

    def cycles(self, reuse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(latency contribution, interval) at reuse factor(s) `reuse`."""
        extra = reuse - 1
        interval = WindowEngine().cycles_per_image({**self.timing, "RF": reuse})
        tail = (self.p_last_out - self.p_last_in + extra * (self.outs - 1 - self.before_last_in)
                + reuse + 1)
        span = self.p_last_in - self.p_first_in + extra * (self.before_last_in
                                                           - self.before_first_in)
        return tail + np.maximum(0, span - self.feed_span), interval


@dataclass
class _LayerInfo:
    layer: L.Layer
    channels: int = 1  # channels of the stream it reads (per beat)
    x_unsigned: bool = False
    window: _Window | None = None
    fused: bool = False  # a ReLU computed by the engine before it (codesign.rtl.fusion)
    span: int | None = None  # edges from its stream's first to last beat (None: its input's)
    beats: int = 1
    terms: int = 1
    cout: int = 1
    fifo_depths: list[int] = field(default_factory=list)  # FIFOs on its forking stream
    fifo_channels: int = 0  # channels of that stream
    weights: WeightTables | None = field(default=None, repr=False)
    const_tables: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)


def _pow2(v: int) -> bool:
    return v & (v - 1) == 0


class FastCostModel:
    """Vectorized per-layer cost of the generated RTL, from a Graph's float weights."""

    def __init__(self, graph: Graph, device: Device | str,
                 pipe: Mapping[str, int] | None = None) -> None:
        """pipe: pipeline stages of adder graphs (layer -> stages, as `network_cycles`
        takes them; none by default): they deepen the FIFOs of the forks above them."""
        self.graph = graph
        self.device = get_device(device) if isinstance(device, str) else device
        self.coef = coefficients(self.device.family)
        self.pipe = dict(pipe or {})
        rules = [SHAPES(layer) for layer in graph.layers]  # refuse an unknown kind first
        # the planner's timing-only plan: the engines' geometry, streams and fork FIFOs
        self.plan = plan_timing(graph, {}, self.pipe)
        self._engine: dict[str, Engine] = {name: e for e in self.plan.engines
                                           if e.kind != "fifo" for name in e.layers}
        self.unsigned: dict[str, bool] = {}  # per tensor, as calibration types it
        self._info: dict[str, _LayerInfo] = {}
        span: dict[str, int] = {}  # edges from a stream's first to its last beat (reuse 1)
        for layer, rule in zip(graph.layers, rules, strict=True):
            info = rule(self, layer)
            if info.window is not None:
                info.window.feed_span = span[layer.inputs[0]]
                span[layer.name] = info.window.out_span
            elif info.span is not None:
                span[layer.name] = info.span
            else:
                span[layer.name] = max(span[i] for i in layer.inputs)
            self._info[layer.name] = info
        for e in self.plan.engines:  # a forking stream's cost goes to the layer it carries
            if e.kind == "fifo":
                info = self._info[e.layers[0]]
                info.fifo_depths.append(int(e.timing["depth"]))
                info.fifo_channels = self.plan.streams[e.inputs[0]].channels

    # -- structure ------------------------------------------------------------------
    def stream_in(self, layer: L.Layer) -> Stream:
        """The stream a layer's engine reads (a fused ReLU: its engine's output stream)."""
        e = self._engine[layer.name]
        sid = e.inputs[0] if e.layers[0] == layer.name else e.output
        return self.plan.streams[sid]

    def window(self, layer: L.Layer) -> _Window:
        return _Window.of(self._engine[layer.name].timing)

    def x_unsigned(self, layer: L.Layer) -> bool:
        return self.unsigned[layer.inputs[0]]

    # -- the estimate ---------------------------------------------------------------
    def features(self, layer: str, w_bits, x_bits, out_bits, reuse, dsp, *,
                 accum_bits=None, lossy: bool = False
                 ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """Structural features (bits of logic, see the module doc), DSPs, latency and
        interval of one layer over broadcast candidate arrays. accum_bits: the
        accumulator's width when known (default: the lossless width); lossy: a narrow
        accumulator that rounds and saturates every product and partial sum."""
        info = self._info.get(layer)
        if info is None:
            raise CodesignError(f"no layer named {layer!r}; the layers are: "
                                f"{', '.join(self._info)}")
        wb, xb, ob, rf, use_dsp = np.broadcast_arrays(
            np.asarray(w_bits, dtype=np.int64), np.asarray(x_bits, dtype=np.int64),
            np.asarray(out_bits, dtype=np.int64), np.asarray(reuse, dtype=np.int64),
            np.asarray(dsp, dtype=bool))
        zero = np.zeros(wb.shape)
        xe = xb + int(info.x_unsigned)  # an unsigned input is one bit wider as a signed operand
        cost = COSTS(info.layer)(self, info, _Choice(wb, xb, xe, ob, rf, use_dsp, accum_bits,
                                                     lossy))
        feats = {name: zero + cost.feats.get(name, 0.0) for name in FEATURES}
        dsps, latency, interval = zero + cost.dsp, zero + cost.latency, zero + cost.interval
        if info.window is not None and self.device.family in ("xc7", "xcup"):
            odd = sum(not _pow2(v) for v in info.window.stride)
            if odd:
                feats["div"] = feats["div"] + 2.0 * DIV_BITS ** 2 * odd
        return feats, dsps, latency, interval

    def fifo_costs(self, layer: str, out_bits) -> dict[str, np.ndarray]:
        """LUT, FF and BRAM of the fork FIFOs on a layer's stream at each candidate
        output width: the structural rule (codesign.cost.structural.fifo_structure) at
        the planner's depths, before the per-design constant."""
        info = self._info[layer]
        ob = np.asarray(out_bits, dtype=np.int64)
        out = {k: np.zeros(ob.shape) for k in ("lut", "ff", "bram")}
        if not info.fifo_depths:
            return out
        coef = st.coefficients(self.device.family)
        for b in np.unique(ob).tolist():
            lut = ff = bram = 0.0
            for depth in info.fifo_depths:
                s = st.fifo_structure(info.fifo_channels * int(b), depth, self.device)
                logic, regs = st.weighted_logic(s, coef)
                lut, ff, bram = lut + round(logic) + s.lutram, ff + round(regs), bram + s.bram
            hit = ob == b
            out["lut"][hit], out["ff"][hit], out["bram"][hit] = lut, ff, bram
        return out

    def _weighted(self, info: _LayerInfo, wb, xb, xe, ob, rf, use_dsp, accum_bits, lossy):
        t = info.weights
        assert t is not None and info.window is not None
        row = np.clip(wb, 1, MAX_BITS) - 1
        k, cout = info.terms, info.cout
        rf = np.clip(rf, 1, k)
        per_out = -(-k // rf)  # ceil(terms / reuse): multipliers per output
        mults = cout * per_out
        pw = xb + wb + 2
        aw = (wb + xb + math.ceil(math.log2(max(k, 1))) + 1 + int(info.x_unsigned)
              if accum_bits is None else np.asarray(accum_bits) + 0 * wb)
        one = rf == 1
        graph = one & ~use_dsp & (not lossy)  # the RTL's adder-graph engine
        # RF 1, constants: CSD shift-add, or `*` by a constant (DSP when big enough)
        const_dsp, const_lutmul = self._constant_products(info)
        xrow = np.clip(xe, 0, MAX_BITS + 1)
        const_dsp, const_lutmul = const_dsp[row, xrow], const_lutmul[row, xrow]
        nonzero = t.nonzero[row]
        shiftadd = (t.digits[row] - nonzero) * pw
        # an input that fits a LUT: ABC makes each product by a constant a table of it
        # (one LUT per product bit), whatever its digits (structural.table_product)
        narrow_x = xb <= self.device.lut_inputs
        # RF > 1: cycle-indexed weights feeding `*` multipliers (DSP when big enough)
        # `multiplier: dsp` writes `*` (a DSP when big enough, else a LUT array of w x x
        # bits); `lut` writes shift-and-add rows of the ROM's weight bits: row b is the
        # input sign-extended to the product's width, shifted by b (pw - b bits), at most
        # a table of the x + w input bits (codesign.cost.structural.mac_product)
        # (on Xilinx, hwrules.dsp_mapped: mul2dsp needs the product, x_bits + w_bits wide
        # as wreduce trims it, to reach 9 bits, where the operands' sum counts the sign
        # bit an unsigned input gains; elsewhere the operands' widths as before)
        sum_bits = xb + wb if self.device.family in ("xc7", "xcup") else xe + wb
        var_big = (use_dsp & (xe >= DSP_MIN_OPERAND) & (wb >= DSP_MIN_OPERAND)
                   & (sum_bits >= DSP_MIN_SUM))
        var_dsp = mults * var_big * self._tiles(xe, wb)
        prod = xe + wb  # the product's width
        rows = np.minimum(wb * prod - wb * (wb - 1) // 2,
                          prod * 2.0 ** np.maximum(xb + wb - self.device.lut_inputs, 0))
        var_lutmul = mults * np.where(use_dsp, ~var_big * xe * wb, rows)
        dsp = np.where(one, np.where(use_dsp, const_dsp, 0), var_dsp)
        # products on DSPs: the add after each can go into the DSP's post-adder
        dsp_products = np.where(one, np.where(use_dsp, np.minimum(const_dsp, nonzero), 0),
                                mults * var_big)
        c, (kh, kw) = info.channels, info.window.kernel
        feats = {
            "shiftadd": np.where(one & ~use_dsp & ~graph & ~narrow_x, shiftadd, 0) * 1.0,
            "table": np.where(one & ~use_dsp & ~graph & narrow_x, nonzero * pw, 0) * 1.0,
            "graphadd": np.where(graph, t.digits[row] * aw, 0) * 1.0,
            "accadd": np.where(graph, 0, (np.where(one, nonzero, mults) - dsp_products) * aw)
            * 1.0,
            "dspacc": dsp_products * aw * 1.0,
            "lutmul": np.where(one, np.where(use_dsp, const_lutmul, 0), var_lutmul) * 1.0,
            "rom": np.where(one, 0, mults * wb * np.ceil(rf / 64)) * 1.0,
            "xmux": np.where(one, 0, per_out * xb * (rf - 1) / 3) * 1.0,
            "cast": cout * aw * 1.0,
            "gap": info.window.gap_px * c * xb * 1.0,
            # a narrow accumulator casts every product and every partial sum (round, saturate)
            "lossy": (np.where(one, nonzero, mults) * aw * 1.0 if lossy
                      else np.zeros(wb.shape)),
            "cmp": np.zeros(wb.shape), "pooladd": np.zeros(wb.shape), "div": np.zeros(wb.shape),
            "fifo": np.zeros(wb.shape),
            "taps": kh * kw * c * xb * 1.0,
            "out": cout * ob * 1.0,
            "acc": np.where(one, 0, cout * aw) * 1.0,
            "pipe": np.where(graph, self._graph_stages(t.digits[row] / max(cout, 1), aw, ob)
                             * cout * aw, 0) * 1.0,
            "const": np.ones(wb.shape),
        }
        return feats, dsp * 1.0

    def _graph_stages(self, digits_per_out, aw, ob) -> np.ndarray:
        """Register stages an adder graph gets when pipelined to the part's clock
        (codesign.rtl.pipeline's delay model) along one output's adder graph: about
        1.5 log2(digits) adder levels (da4ml's graphs are deeper than a balanced tree),
        two more for the bias adder and the cast, and the carry ripple of the
        accumulator and the output; a stage per period the path exceeds. On 74 RF 1
        lossless LUT layers of bench/fast_fit.py's set at 100 MHz this is the planner's
        stage count on 68 (xc7; within one on all) and 48 (ECP5; within one on 72)."""
        m = delay_model(self.device.family)
        levels = np.ceil(1.5 * np.log2(np.maximum(digits_per_out, 1))) + 2
        path = levels * m.level_ns + m.carry_ns * (aw + ob)
        budget = 1000.0 / self.device.default_clock_mhz - m.reg_ns
        return np.maximum(np.ceil(path / budget) - 1, 0)

    def _constant_products(self, info: _LayerInfo) -> tuple[np.ndarray, np.ndarray]:
        """Tables [weight bits - 1, x bits] of the DSPs and the LUT-multiplier bits (x bits
        * constant bits) of a layer's products by constants, built once per layer."""
        if info.const_tables is None:
            t = info.weights
            assert t is not None
            xs = np.arange(MAX_BITS + 2)[:, None]  # signed x operand bits
            ls = np.arange(MAX_BITS + 2)[None, :]  # signed constant bits
            big = (xs >= DSP_MIN_OPERAND) & (ls >= DSP_MIN_OPERAND) & (xs + ls >= DSP_MIN_SUM)
            dsp_each = big * self._tiles(xs, ls)  # (x, L)
            lut_each = ~big * xs * ls
            if info.x_unsigned:
                # x zero-extended: Yosys multiplies a positive constant unsigned (x_bits
                # wide, the row below the signed one) and a negative one signed
                xb = np.maximum(xs - 1, 0)  # row xs holds x_bits + 1 (the signed width)
                dsp_u = self._unsigned_dsp(xb, ls)
                lut_u = (dsp_u == 0) * xb * ls
                info.const_tables = (t.pos_bits @ dsp_u.T + t.neg_bits @ dsp_each.T,
                                     t.pos_bits @ lut_u.T + t.neg_bits @ lut_each.T)
            else:
                info.const_tables = (t.mult_bits @ dsp_each.T, t.mult_bits @ lut_each.T)
        return info.const_tables

    def _unsigned_dsp(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """DSPs of an unsigned a x b product (mapped as signed a+1 x b+1 when it fits)."""
        big = (a >= DSP_MIN_OPERAND) & (b >= DSP_MIN_OPERAND) & (a + b >= DSP_MIN_SUM)
        return big * self._tiles(a + 1, b + 1)

    def _tiles(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """DSP blocks a signed a x b product takes (the device's multiplier shape)."""
        big, small = np.maximum(a, b), np.minimum(a, b)
        d = self.device
        return np.ceil(big / max(d.dsp_a_bits, d.dsp_b_bits)) * np.ceil(
            small / min(d.dsp_a_bits, d.dsp_b_bits))

    def network_cycles(self, reuse: Mapping[str, int] | None = None,
                       pipe: Mapping[str, int] | None = None) -> dict[str, Any]:
        """Exact cycles of the whole network at per-layer reuse factors (1 where not
        given): the RTL planner's timing-only plan (codesign.rtl.network.plan_timing)
        through the closed-form cycle model (codesign.rtl.latency), so "latency" and
        "interval" are what the handshake simulation and Verilator count, backpressure and
        residual joins included; "layers" is every layer's share of the latency (its
        edges along the critical path; they add up to it). Milliseconds per network: for
        checking a chosen design, where layer_costs' additive latency guides the search.
        Pipeline stages of adder graphs registered for a fast clock come from the solved
        graphs, which this model does not build: pass them as `pipe` (layer -> stages;
        none by default, exact for every design whose graphs meet its clock unpipelined)."""
        plan = plan_timing(self.graph, dict(reuse or {}), dict(pipe or {}))
        return latency_shares(plan, [(layer.name, layer.inputs) for layer in self.graph])

    def layer_costs(self, layer: str, w_bits, x_bits, out_bits, reuse, dsp, *,
                    accum_bits=None, lossy: bool = False) -> dict[str, np.ndarray]:
        """Vectorized over numpy arrays that broadcast together (w_bits ignored for layers
        without weights; dsp is bool: the `*` operator on DSPs vs LUT shift-add).
        Keys: "lut", "ff", "dsp", "bram" (resources of this layer's engine),
        "latency" (its additive contribution to the network's first-input-to-last-output
        cycles: an estimate; network_cycles gives the exact figure), "interval" (its cycles
        per image; the network's interval is the max)."""
        feats, dsps, latency, interval = self.features(layer, w_bits, x_bits, out_bits,
                                                       reuse, dsp, accum_bits=accum_bits,
                                                       lossy=lossy)
        out = {}
        for res in ("lut", "ff"):
            coef = self.coef[res]
            total = np.zeros(np.shape(dsps))
            for name, value in feats.items():
                weight = coef.get(name, 0.0)
                if weight:
                    total = total + weight * value
            out[res] = np.rint(total)
        fifo = self.fifo_costs(layer, np.broadcast_to(np.asarray(out_bits), np.shape(dsps)))
        out["lut"] = out["lut"] + fifo["lut"]
        out["ff"] = out["ff"] + fifo["ff"]
        out["dsp"] = dsps
        out["bram"] = fifo["bram"]
        out["latency"] = latency * 1.0
        out["interval"] = interval * 1.0
        return out


# -- per kind: what the model needs of a layer's engine ------------------------------
SHAPES: LayerRegistry[Callable[[FastCostModel, L.Layer], _LayerInfo]] = LayerRegistry(
    "the fast cost model", "codesign.cost.fast")
"""Per kind: what the model needs of a layer's engine (its stream, window, weights)."""


SHAPES.skip(L.BatchNorm, "folded into the conv by fold_batchnorm before quantization")


@SHAPES.rule(L.Input)
def _input_shape(m: FastCostModel, layer: L.Layer) -> _LayerInfo:
    m.unsigned[layer.name] = True  # images: calibration gives non-negative data unsigned
    beats = m.plan.streams[m.plan.input].beats
    return _LayerInfo(layer, beats=beats, span=beats - 1)


@SHAPES.rule(L.Flatten)
def _flatten_shape(m: FastCostModel, layer: L.Layer) -> _LayerInfo:
    m.unsigned[layer.name] = m.x_unsigned(layer)  # a re-reading of its input stream
    return _LayerInfo(layer)


@SHAPES.rule(L.WeightedLayer)
def _weighted_shape(m: FastCostModel, layer: L.Layer) -> _LayerInfo:
    assert isinstance(layer, L.WeightedLayer)
    m.unsigned[layer.name] = False
    x = m.stream_in(layer)
    return _LayerInfo(layer, channels=x.channels, x_unsigned=m.x_unsigned(layer),
                      window=m.window(layer), beats=x.beats, terms=layer.terms,
                      cout=layer.out_channels, weights=WeightTables.of(layer.weight))


@SHAPES.rule(L.ReLU)
def _relu_shape(m: FastCostModel, layer: L.Layer) -> _LayerInfo:
    m.unsigned[layer.name] = True
    x = m.stream_in(layer)
    return _LayerInfo(layer, channels=x.channels, x_unsigned=m.x_unsigned(layer),
                      fused=fused_relu(m.graph, m.graph[layer.inputs[0]]) is layer,
                      beats=x.beats)


@SHAPES.rule(L.Pool2d)
def _pool_shape(m: FastCostModel, layer: L.Layer) -> _LayerInfo:
    m.unsigned[layer.name] = m.x_unsigned(layer)
    x = m.stream_in(layer)
    return _LayerInfo(layer, channels=x.channels, x_unsigned=m.x_unsigned(layer),
                      window=m.window(layer), beats=x.beats)


@SHAPES.rule(L.GlobalAvgPool2d)
def _global_pool_shape(m: FastCostModel, layer: L.Layer) -> _LayerInfo:
    """An accumulator engine (cs_gap), not a window: one output beat per image."""
    m.unsigned[layer.name] = m.x_unsigned(layer)
    x = m.stream_in(layer)
    return _LayerInfo(layer, channels=x.channels, x_unsigned=m.x_unsigned(layer),
                      beats=x.beats, span=0)


@SHAPES.rule(L.Add)
def _add_shape(m: FastCostModel, layer: L.Layer) -> _LayerInfo:
    m.unsigned[layer.name] = False
    x = m.stream_in(layer)
    return _LayerInfo(layer, channels=x.channels, x_unsigned=m.x_unsigned(layer),
                      beats=x.beats)


# -- per kind: its features, DSPs and cycles over a layer's candidates -------------------
@dataclass(frozen=True)
class _Choice:
    """One layer's candidate arrays, broadcast together."""

    wb: np.ndarray
    xb: np.ndarray
    xe: np.ndarray  # the input's width as a signed operand
    ob: np.ndarray
    rf: np.ndarray
    dsp: np.ndarray
    accum_bits: Any
    lossy: bool


@dataclass
class _Cost:
    """What one layer's rule gives: the features it has (the others are 0), its DSPs,
    its latency contribution and its interval (arrays or scalars)."""

    feats: dict[str, Any] = field(default_factory=dict)
    dsp: Any = 0.0
    latency: Any = 0.0
    interval: Any = 0.0


COSTS: LayerRegistry[Callable[[FastCostModel, _LayerInfo, _Choice], _Cost]] = LayerRegistry(
    "the fast cost model's features", "codesign.cost.fast")
COSTS.skip(L.BatchNorm, "folded into the conv by fold_batchnorm before quantization")


@COSTS.rule(L.Input)
def _input_cost(m: FastCostModel, info: _LayerInfo, c: _Choice) -> _Cost:
    return _Cost(latency=info.beats - 1)


@COSTS.rule(L.Flatten)
def _flatten_cost(m: FastCostModel, info: _LayerInfo, c: _Choice) -> _Cost:
    return _Cost()  # a re-reading of its input stream: no engine


@COSTS.rule(L.WeightedLayer)
def _weighted_cost(m: FastCostModel, info: _LayerInfo, c: _Choice) -> _Cost:
    feats, dsps = m._weighted(info, c.wb, c.xb, c.xe, c.ob, c.rf, c.dsp, c.accum_bits, c.lossy)
    assert info.window is not None
    return _Cost(feats, dsps, *info.window.cycles(np.maximum(c.rf, 1)))


@COSTS.rule(L.ReLU)
def _relu_cost(m: FastCostModel, info: _LayerInfo, c: _Choice) -> _Cost:
    cast = info.channels * c.ob * 1.0
    if info.fused:  # a cast in the engine before it: no register, no cycles of its own
        return _Cost({"cast": cast})
    return _Cost({"cast": cast, "out": cast, "const": 1.0}, latency=1, interval=info.beats)


def _pool_cost(info: _LayerInfo, c: _Choice, grow: int, adders: str) -> _Cost:
    """A pool's window registers and its comparators (max) or adders (average)."""
    assert info.window is not None
    kh, kw = info.window.kernel
    window, ch = kh * kw, info.channels
    feats = {"cast": ch * c.ob * 1.0, "gap": info.window.gap_px * ch * c.xb * 1.0,
             "taps": window * ch * c.xb * 1.0, "out": ch * c.ob * 1.0, "const": 1.0,
             adders: (window - 1) * ch * (c.xb + grow) * 1.0}
    return _Cost(feats, 0.0, *info.window.cycles(np.ones_like(c.rf)))


@COSTS.rule(L.MaxPool2d)
def _maxpool_cost(m: FastCostModel, info: _LayerInfo, c: _Choice) -> _Cost:
    return _pool_cost(info, c, 0, "cmp")


@COSTS.rule(L.AvgPool2d)
def _avgpool_cost(m: FastCostModel, info: _LayerInfo, c: _Choice) -> _Cost:
    assert info.window is not None
    kh, kw = info.window.kernel
    grow = math.ceil(math.log2(kh * kw))
    cost = _pool_cost(info, c, grow, "pooladd")
    if not _pow2(kh * kw):
        # the mean: per channel an AW+1-bit divide, AW the lossless window sum with grow
        # more fraction bits (codesign.design.lossless_avg_accum)
        aw = c.xb + 2 * grow + int(info.x_unsigned)
        cost.feats["div"] = info.channels * 2.0 * (aw + 1) ** 2
    return cost


@COSTS.rule(L.GlobalAvgPool2d)
def _global_pool_cost(m: FastCostModel, info: _LayerInfo, c: _Choice) -> _Cost:
    """cs_gap: per channel one accumulator of the lossless window sum's width (its adder
    and register), the mean's divide when the image is not a power of two, the result
    cast; it takes a beat per cycle and offers the mean one cycle after the last."""
    ch, n = info.channels, info.beats
    grow = math.ceil(math.log2(n)) if n > 1 else 0
    aw = c.xb + 2 * grow + int(info.x_unsigned)  # codesign.design.lossless_avg_accum
    # its low `grow` bits are always zero; the signed mean negates twice (|s|, the sign back)
    feats = {"pooladd": ch * (aw + 2 - grow + 2 * (aw + 1)) * 1.0, "acc": ch * (aw - grow) * 1.0,
             "cast": ch * c.ob * 1.0, "out": ch * c.ob * 1.0, "const": 1.0}
    if not _pow2(n):
        feats["div"] = ch * 2.0 * (aw + 1) ** 2
    return _Cost(feats, 0.0, latency=1, interval=n)


@COSTS.rule(L.Add)
def _add_cost(m: FastCostModel, info: _LayerInfo, c: _Choice) -> _Cost:
    ch = info.channels
    return _Cost({"accadd": ch * (c.xb + 1) * 1.0, "cast": ch * c.ob * 1.0,
                  "out": ch * c.ob * 1.0, "const": 1.0},
                 latency=2, interval=info.beats)  # its register and a fork FIFO
