"""Fast cost estimate: whole candidate tables at once, no RTL built.

A first screen (`codesign cost --fast`) and the allocator's source of cycles (closed
form, exact); the allocator's LUT/FF/DSP/BRAM come from the structural rules instead
(codesign.alloc.layercost), so no "fits" rests on this model alone.

For every layer of a Graph, `FastCostModel.layer_costs` takes numpy arrays of candidate
weight bits, input bits, output bits, reuse factors and multiplier styles (broadcast
together) and returns the LUT, FF, DSP and BRAM of that layer's engine and its cycles.

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
  fifo      bits held by the FIFOs of a fork (a residual skip)
  taps, out, acc  window-tap, output and accumulator register bits
  pipe      an adder graph's pipeline registers at the part's clock: estimated stages
            (codesign.rtl.pipeline's delay model along one output's adder tree) x the
            outputs' accumulator bits
  const     one per engine (its control)

DSP counts follow Yosys's rule (both operands at least 2 bits, widths summing to at
least 9 - on Xilinx the product's trimmed width, x_bits + w_bits - a power of two is a
shift) on the products written with `*` (`multiplier:
dsp`; LUT multipliers at RF > 1 are shift-and-add rows of the weights' bits, no DSP)
and are not fitted; today's RTL infers no block RAM.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codesign.cost.report import family_coefficients, load_fit
from codesign.cost.weightstats import MAX_BITS, WeightTables
from codesign.devices import Device, get_device
from codesign.errors import CodesignError
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.rtl.latency import latency_shares
from codesign.rtl.network import plan_timing
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

    hp: int
    wp: int
    outs: int
    p_first_in: int
    p_last_in: int
    p_last_out: int
    before_first_in: int  # outputs completed before the first interior position
    before_last_in: int
    out_span: int  # edges from its first to its last output at reuse 1
    feed_span: int = 0  # edges its producer takes to deliver an image (at reuse 1)

    @classmethod
    def of(cls, h: int, w: int, kh: int, kw: int, sh: int, sw: int, ph: int,
           pw: int) -> _Window:
        hp, wp = h + 2 * ph, w + 2 * pw
        r = np.arange(hp)[:, None]
        c = np.arange(wp)[None, :]
        done = ((r >= kh - 1) & (c >= kw - 1) & ((r - kh + 1) % sh == 0)
                & ((c - kw + 1) % sw == 0)).ravel()
        pos = np.flatnonzero(done)
        if pos.size == 0:
            raise CodesignError(f"a {kh}x{kw} window never fits a {h}x{w} image")
        first_in = ph * wp + pw
        last_in = (ph + h - 1) * wp + pw + w - 1
        return cls(hp, wp, int(pos.size), first_in, last_in, int(pos[-1]),
                   int((pos < first_in).sum()), int((pos < last_in).sum()),
                   int(pos[-1] - pos[0]))

    def cycles(self, reuse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(latency contribution, interval) at reuse factor(s) `reuse`."""
        extra = reuse - 1
        interval = self.hp * self.wp + self.outs * extra
        tail = (self.p_last_out - self.p_last_in + extra * (self.outs - 1 - self.before_last_in)
                + reuse + 1)
        span = self.p_last_in - self.p_first_in + extra * (self.before_last_in
                                                           - self.before_first_in)
        return tail + np.maximum(0, span - self.feed_span), interval


@dataclass
class _LayerInfo:
    layer: L.Layer
    kind: str  # weighted | relu | relu_fused | maxpool | avgpool | add | none | input
    channels: int = 1  # channels of the stream it reads (per beat)
    x_unsigned: bool = False
    window: _Window | None = None
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    gap_px: int = 0  # line-buffer pixels between taps
    beats: int = 1
    terms: int = 1
    cout: int = 1
    out_channels: int = 1  # channels of the stream it writes
    fifo_count: int = 0  # FIFOs on its output when that stream forks
    fifo_depth: int = 0
    weights: WeightTables | None = field(default=None, repr=False)
    const_tables: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)


def _pow2(v: int) -> bool:
    return v & (v - 1) == 0


def _pixels(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(channels, height, width) of a tensor streamed as pixels."""
    if len(shape) == 3:
        return shape[0], shape[1], shape[2]
    if len(shape) == 2:
        return shape[0], 1, shape[1]
    return shape[0], 1, 1


class FastCostModel:
    """Vectorized per-layer cost of the generated RTL, from a Graph's float weights."""

    def __init__(self, graph: Graph, device: Device | str) -> None:
        self.graph = graph
        self.device = get_device(device) if isinstance(device, str) else device
        self.coef = coefficients(self.device.family)
        self._info: dict[str, _LayerInfo] = {}
        stream_shape: dict[str, tuple[int, ...]] = {}  # what each layer's stream looks like
        unsigned: dict[str, bool] = {}
        span: dict[str, int] = {}  # edges from a stream's first to its last beat (reuse 1)
        for layer in graph.layers:
            info = self._describe(layer, stream_shape, unsigned)
            if info.window is not None:
                info.window.feed_span = span[layer.inputs[0]]
                span[layer.name] = info.window.out_span
            elif info.kind == "input":
                span[layer.name] = info.beats - 1
            else:
                span[layer.name] = max(span[i] for i in layer.inputs)
            self._info[layer.name] = info
            info.out_channels = _pixels(stream_shape[layer.name])[0]
        self._add_forks()

    # -- structure ------------------------------------------------------------------
    def _describe(self, layer: L.Layer, stream_shape: dict, unsigned: dict) -> _LayerInfo:
        g = self.graph
        if isinstance(layer, L.Input):
            stream_shape[layer.name] = layer.out_shape
            unsigned[layer.name] = True  # images: calibration gives non-negative data unsigned
            c, h, w = _pixels(layer.out_shape)
            return _LayerInfo(layer, "input", beats=h * w)
        src = layer.inputs[0]
        in_shape = stream_shape[src]
        c, h, w = _pixels(in_shape)
        x_uns = unsigned[src]
        if isinstance(layer, L.Flatten):
            stream_shape[layer.name] = in_shape  # a re-reading of its input stream
            unsigned[layer.name] = x_uns
            return _LayerInfo(layer, "none")
        stream_shape[layer.name] = layer.out_shape
        unsigned[layer.name] = isinstance(layer, L.ReLU) or (
            isinstance(layer, (L.MaxPool2d, L.AvgPool2d)) and x_uns)
        if isinstance(layer, L.WeightedLayer):
            if isinstance(layer, L.Conv2d):
                (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.stride, layer.padding
            elif isinstance(layer, L.Conv1d):
                kh, kw, sh, sw, ph, pw = 1, layer.kernel, 1, layer.stride, 0, layer.padding
            else:  # dense: the whole input stream is one window
                kh, kw, sh, sw, ph, pw = 1, h * w, 1, 1, 0, 0
                c, h, w = c, 1, h * w
            win = _Window.of(h, w, kh, kw, sh, sw, ph, pw)
            return _LayerInfo(layer, "weighted", channels=c, x_unsigned=x_uns, window=win,
                              kernel=(kh, kw), stride=(sh, sw),
                              gap_px=(kh - 1) * max(win.wp - kw, 0),
                              beats=h * w, terms=layer.terms, cout=layer.out_channels,
                              weights=WeightTables.of(layer.weight))
        if isinstance(layer, L.ReLU):
            producer = g[src]
            fused = (isinstance(producer, L.WeightedLayer) and len(g.consumers(src)) == 1
                     and producer is not g.output)
            return _LayerInfo(layer, "relu_fused" if fused else "relu", channels=c,
                              x_unsigned=x_uns, beats=h * w)
        if isinstance(layer, L.Pool2d):
            (kh, kw), (sh, sw) = layer.kernel, layer.stride
            win = _Window.of(h, w, kh, kw, sh, sw, 0, 0)
            kind = "maxpool" if isinstance(layer, L.MaxPool2d) else "avgpool"
            return _LayerInfo(layer, kind, channels=c, x_unsigned=x_uns, window=win,
                              kernel=(kh, kw), stride=(sh, sw),
                              gap_px=(kh - 1) * max(w - kw, 0), beats=h * w)
        if isinstance(layer, L.Add):
            return _LayerInfo(layer, "add", channels=c, x_unsigned=x_uns, beats=h * w)
        raise CodesignError(f"the cost model has no rule for {layer.kind} layers "
                            f"({layer.name!r})")

    def _add_forks(self) -> None:
        """A stream read by several engines forks through one FIFO per reader, each as
        deep as what every engine downstream of the fork can hold, plus two (the RTL
        planner's rule); their cost goes to the layer whose stream forks."""
        g = self.graph
        for layer in g.layers:
            readers = g.consumers(layer.name)
            if len(readers) < 2 or isinstance(layer, L.Input):
                continue
            down: set[str] = set()
            todo = [r.name for r in readers]
            while todo:
                n = todo.pop()
                if n not in down:
                    down.add(n)
                    todo.extend(c.name for c in g.consumers(n))
            info = self._info[layer.name]
            info.fifo_count = len(readers)
            info.fifo_depth = 2 + sum(self._capacity(self._info[n]) for n in down)

    @staticmethod
    def _capacity(info: _LayerInfo) -> int:
        """Beats an engine can hold (codesign.rtl.engines.Engine.capacity)."""
        if info.window is not None:
            return (info.kernel[0] - 1) * info.window.wp + info.kernel[1] + 2 + (
                info.fifo_count * info.fifo_depth)
        if info.kind in ("relu", "add"):
            return 1 + info.fifo_count * info.fifo_depth
        return info.fifo_count * info.fifo_depth

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
        feats = {name: zero for name in FEATURES}
        dsps = zero
        latency, interval = zero, zero
        xe = xb + int(info.x_unsigned)  # an unsigned input is one bit wider as a signed operand
        c = info.channels
        if info.kind == "input":
            latency = zero + (info.beats - 1)
        elif info.kind == "weighted":
            feats, dsps = self._weighted(info, wb, xb, xe, ob, rf, use_dsp, accum_bits, lossy)
            assert info.window is not None
            latency, interval = info.window.cycles(np.maximum(rf, 1))
        elif info.kind in ("relu", "relu_fused"):
            feats = {**feats, "cast": c * ob * 1.0}
            if info.kind == "relu":
                feats.update(out=c * ob * 1.0, const=zero + 1)
                latency, interval = zero + 1, zero + info.beats
        elif info.kind in ("maxpool", "avgpool"):
            assert info.window is not None
            kh, kw = info.kernel
            window = kh * kw
            grow = math.ceil(math.log2(window)) if info.kind == "avgpool" else 0
            feats = {**feats, "cast": c * ob * 1.0, "gap": info.gap_px * c * xb * 1.0,
                     "taps": window * c * xb * 1.0, "out": c * ob * 1.0, "const": zero + 1,
                     ("cmp" if info.kind == "maxpool" else "pooladd"):
                     (window - 1) * c * (xb + grow) * 1.0}
            if info.kind == "avgpool" and not _pow2(window):
                # the mean: per channel an AW+1-bit divide, AW the lossless window sum
                # with grow more fraction bits (codesign.design.lossless_avg_accum)
                aw = xb + 2 * grow + int(info.x_unsigned)
                feats["div"] = c * 2.0 * (aw + 1) ** 2 + zero
            latency, interval = info.window.cycles(np.ones_like(rf))
        elif info.kind == "add":
            feats = {**feats, "accadd": c * (xb + 1) * 1.0, "cast": c * ob * 1.0,
                     "out": c * ob * 1.0, "const": zero + 1}
            latency, interval = zero + 2, zero + info.beats  # its register and a fork FIFO
        if info.window is not None and self.device.family in ("xc7", "xcup"):
            odd = sum(not _pow2(v) for v in info.stride)
            if odd:
                feats = {**feats, "div": feats["div"] + 2.0 * DIV_BITS ** 2 * odd}
        if info.fifo_count:
            feats = {**feats, "fifo": feats["fifo"] + 1.0 * info.fifo_count * info.fifo_depth
                     * info.out_channels * ob}
        return feats, dsps, latency, interval

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
        c, (kh, kw) = info.channels, info.kernel
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
            "gap": info.gap_px * c * xb * 1.0,
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
        out["dsp"] = dsps
        out["bram"] = np.zeros(np.shape(dsps))
        out["latency"] = latency * 1.0
        out["interval"] = interval * 1.0
        return out
