"""QuantizedNet -> SystemVerilog: a top module with one hw/ engine per layer.

Streams carry one pixel (all channels) per transfer, raster order, channel c at
bits [c*W +: W]. A Flatten is a re-reading of its input stream (the dense engine after it
maps torch's channel-major order onto the pixels). A ReLU right after a conv/dense that
feeds only it is fused into that engine. A stream read by several engines forks through
one cs_fifo per reader, as deep as the cycle model measures that branch's skew (the
beats it holds while the other branch's engines produce; `_size_forks`), in distributed
or block RAM by codesign.hwrules.fifo_plan.

What each layer kind becomes is its rule in RULES (one small function per kind: the
engine's kind, the window it slides, which is the IR layer's `geometry`, and the builder
of its module's parameters); what each hw/ module takes and exposes is its EngineSpec
(codesign.rtl.specs), from which render_top wires every instance.

`generate_rtl(qnet, out_dir)` writes cs_top.sv, the hw/ files it uses, files.f (the
file list, in compile order) and manifest.json (streams, engines, cycle parameters:
what the testbench and codesign.rtl.latency read).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from codesign import bitaccurate as ba
from codesign.design import LayerImpl, is_lossless_accum
from codesign.devices import get_device
from codesign.errors import CodesignError
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.hwrules import fifo_plan, uses_star
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.registry import LayerRegistry
from codesign.qnet import QuantizedNet
from codesign.rtl.adder_graph import AdderGraph, solve_cmvm, wrapped
from codesign.rtl.adder_sv import render_graph_module
from codesign.rtl.engines import (
    OVERFLOW_CODES,
    ROUNDING_CODES,
    Engine,
    type_params,
    window_timing,
)
from codesign.rtl.fusion import fused_relu
from codesign.rtl.mac import MacPlan, plan_mac, render_mac_module
from codesign.rtl.pipeline import Stages, assign_stages, delay_model
from codesign.rtl.specs import HW_FILES, HW_INCLUDES, SPECS, spec_of

TOP = "cs_top"
FIFO = SPECS["cs_fifo"]  # a fork's copy of a stream, one per reader
MIN_FIFO_DEPTH = 2  # a 1-deep cs_fifo takes a beat only every other edge


@dataclass
class Stream:
    """A valid/ready stream: beats per image of `channels` fields of `width` bits."""

    id: int
    layer: str  # the layer whose values it carries (as the model names them)
    source: str  # the layer whose tensor, laid out as pixels, gives the beats
    beats: int
    channels: int
    width: int
    signed: bool
    frac: int
    height: int = 1  # spatial size when it is an image (beats = height * width_px)
    width_px: int = 1

    @property
    def bits(self) -> int:
        return self.channels * self.width


@dataclass
class Plan:
    streams: list[Stream]
    engines: list[Engine]
    input: int
    output: int

    def to_json(self) -> dict[str, Any]:
        return {"top": TOP, "input": self.input, "output": self.output,
                "streams": [asdict(s) for s in self.streams],
                "engines": [{k: v for k, v in asdict(e).items() if k != "params"}
                            for e in self.engines]}  # graphs included: the cost model reads them

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        streams = [Stream(**s) for s in data["streams"]]
        engines = [Engine(name=e["name"], module=e["module"], layers=tuple(e["layers"]),
                          inputs=tuple(e["inputs"]), output=e["output"], kind=e["kind"],
                          timing=e["timing"], graph_module=e.get("graph_module", ""),
                          graph=AdderGraph.from_json(e["graph"]) if e.get("graph") else None,
                          stages=Stages.from_json(e["stages"]) if e.get("stages") else None,
                          mac=MacPlan.from_json(e["mac"]) if e.get("mac") else None)
                   for e in data["engines"]]
        return cls(streams, engines, data["input"], data["output"])


def hw_dir() -> Path:
    """Where the engines live (installed as codesign.hw)."""
    return Path(str(importlib.resources.files("codesign.hw")))


# -- planning: what each layer kind becomes ------------------------------------------
@dataclass(frozen=True)
class Slide:
    """A window engine's window over its input stream, read as a height x width image.
    The window is the IR layer's (`layer.geometry`); a dense layer's is its whole input,
    one row of all the stream's beats."""

    height: int
    width: int
    window: L.Window
    # weighted engines: each model-order term's field in the window (stream order
    # (kh, kw, c)); a dense layer after a flatten reads torch's channel-major m = c*P + p
    # from beat p, channel c
    source: tuple[int, ...] = ()

    @property
    def knobs(self) -> tuple[int, int, int, int, int, int]:
        """(KH, KW, SH, SW, PH, PW)."""
        w = self.window
        return (*w.kernel, *w.stride, *w.padding)  # type: ignore[return-value]

    def timing(self, rf: int) -> dict[str, int]:
        return window_timing(self.height, self.width, *self.knobs, rf)

    def params(self, channels: int) -> dict[str, int]:
        """The window parameters of a weighted engine (cs_graph_engine, cs_mac_engine)."""
        kh, kw, sh, sw, ph, pw = self.knobs
        return dict(H=self.height, W=self.width, CIN=channels, KH=kh, KW=kw, SH=sh, SW=sw,
                    PH=ph, PW=pw)


Built = tuple[str, dict[str, Any], AdderGraph | None, MacPlan | None]  # module, params, ...
Build = Callable[["_Planner", L.Layer, Stream, Slide | None, FixedType, LayerImpl,
                  L.ReLU | None], Built]


@dataclass(frozen=True)
class Draft:
    """What a layer becomes in the accelerator before any type is known: its engine's
    kind (codesign.rtl.engine_kinds), the window it slides (window engines) and how the
    full plan builds its module and parameters. The timing-only plan reads kind and
    timing alone, so both plans share every cycle number."""

    kind: str
    build: Build
    slide: Slide | None = None

    def timing(self, x: Stream, rf: int) -> dict[str, int]:
        """Cycle parameters of the engine reading stream x at reuse rf."""
        return self.slide.timing(rf) if self.slide is not None else {"beats": x.beats}


Rule = Callable[[L.Layer, "Stream"], Draft | None]
RULES: LayerRegistry[Rule] = LayerRegistry("the RTL generator", "codesign.rtl.network")
RULES.skip(L.Input, "the network's input is the top's input stream, not an engine")
RULES.skip(L.BatchNorm, "folded into the conv by fold_batchnorm before quantization")


@RULES.rule(L.Flatten)
def _reread(layer: L.Layer, x: Stream) -> None:
    """No engine: a flatten re-reads its input's stream (the dense engine after it maps
    torch's channel-major order onto the pixels)."""
    return None


def rereads(layer: L.Layer) -> bool:
    """Whether the layer has no engine and its values are its input's stream (the
    network's input, which has no rule, is a stream of its own)."""
    return RULES.find(type(layer)) is _reread


@RULES.rule(L.Conv2d, L.Conv1d)
def _conv(layer: L.Conv2d | L.Conv1d, x: Stream) -> Draft:
    slide = Slide(x.height, x.width_px, layer.geometry, tuple(range(layer.terms)))
    return Draft("window", _Planner.weighted, slide)


@RULES.rule(L.Dense)
def _dense(layer: L.Dense, x: Stream) -> Draft:
    p = x.beats
    if p * x.channels != layer.terms:
        raise CodesignError(f"dense {layer.name!r} takes {layer.terms} inputs, its "
                            f"stream carries {p}x{x.channels}")
    source = tuple((m % p) * x.channels + m // p for m in range(layer.terms))
    return Draft("window", _Planner.weighted, Slide(1, p, L.Window((1, p), (1, 1)), source))


def _pool(mode: int, p: _Planner, layer: L.Layer, x: Stream, slide: Slide | None,
          xt: FixedType, impl: LayerImpl, relu: L.ReLU | None) -> Built:
    assert slide is not None
    kh, kw, sh, sw, _, _ = slide.knobs  # a pool has no padding
    params = {"H": x.height, "W": x.width_px, "C": x.channels, "KH": kh, "KW": kw,
              "SH": sh, "SW": sw, "MODE": mode, **_pool_types(xt, impl)}
    return "cs_pool", params, None, None


def _pool_types(xt: FixedType, impl: LayerImpl) -> dict[str, int]:
    """The input, accumulator and result types of a pool engine (cs_pool, cs_gap)."""
    acc, res = impl.accum, impl.result
    assert acc is not None
    return {**type_params("X", xt), **type_params("A", acc, True),
            "AFRAC_X": acc.frac - xt.frac, **type_params("R", res, True),
            "RSHIFT": res.frac - acc.frac}


@RULES.rule(L.MaxPool2d)
def _max_pool(layer: L.MaxPool2d, x: Stream) -> Draft:
    return Draft("window", partial(_pool, 0), Slide(x.height, x.width_px, layer.geometry))


@RULES.rule(L.AvgPool2d)
def _avg_pool(layer: L.AvgPool2d, x: Stream) -> Draft:
    return Draft("window", partial(_pool, 1), Slide(x.height, x.width_px, layer.geometry))


def _global_pool(p: _Planner, layer: L.Layer, x: Stream, slide: Slide | None,
                 xt: FixedType, impl: LayerImpl, relu: L.ReLU | None) -> Built:
    params = {"H": x.height, "W": x.width_px, "C": x.channels, **_pool_types(xt, impl)}
    return "cs_gap", params, None, None


@RULES.rule(L.GlobalAvgPool2d)
def _gap(layer: L.GlobalAvgPool2d, x: Stream) -> Draft:
    """One accumulator per channel (hw/cs_gap.sv), not AvgPool2d's full-image window: no
    line buffer, one adder per channel."""
    if layer.kernel != (x.height, x.width_px):
        raise CodesignError(f"global average pool {layer.name!r}: its kernel {layer.kernel} "
                            f"is not its input's {x.height}x{x.width_px} image")
    return Draft("accumulate", _global_pool)


def _relu_engine(p: _Planner, layer: L.Layer, x: Stream, slide: Slide | None,
                 xt: FixedType, impl: LayerImpl, relu: L.ReLU | None) -> Built:
    params = {"C": x.channels, "IW": xt.width, "IS": int(xt.signed),
              "SHIFT": impl.result.frac - xt.frac, "OW": impl.result.width,
              "OS": int(impl.result.signed), "RND": ROUNDING_CODES[impl.result.rounding],
              "OVF": OVERFLOW_CODES[impl.result.overflow]}
    return "cs_relu", params, None, None


@RULES.rule(L.ReLU)
def _relu(layer: L.ReLU, x: Stream) -> Draft:
    return Draft("relu", _relu_engine)


def _add_engine(p: _Planner, layer: L.Layer, x: Stream, slide: Slide | None,
                xt: FixedType, impl: LayerImpl, relu: L.ReLU | None) -> Built:
    b = p._in(layer, 1)
    at, bt = xt, p.d.type_of(layer.inputs[1])
    if (x.beats, x.channels) != (b.beats, b.channels):
        raise CodesignError(f"add {layer.name!r}: its inputs stream differently "
                            f"({x.beats}x{x.channels} vs {b.beats}x{b.channels})")
    f = max(at.frac, bt.frac)
    r = impl.result
    params = {"C": x.channels, "AW_": at.width, "AS_": int(at.signed),
              "ASH": f - at.frac, "BW_": bt.width, "BS_": int(bt.signed),
              "BSH": f - bt.frac, "FSHIFT": r.frac - f, **type_params("R", r, True)}
    return "cs_add", params, None, None


@RULES.rule(L.Add)
def _add(layer: L.Add, x: Stream) -> Draft:
    return Draft("add", _add_engine)


class _Planner:
    """Streams and engines of a network. With a QuantizedNet: the full plan (module
    parameters, adder graphs); with a Graph and reuse factors only: the same streams,
    engines and timing without parameters (what the cycle model needs)."""

    def __init__(self, qnet: QuantizedNet | None, graph: Graph | None = None,
                 reuse: dict[str, int] | None = None,
                 pipe: dict[str, int] | None = None, size_forks: bool = True) -> None:
        self.size_forks = size_forks
        self.q = qnet
        self.g = qnet.graph if qnet is not None else graph
        self.d = qnet.design if qnet is not None else None
        self.reuse = reuse or {}
        self.pipe = pipe or {}  # timing-only plan: pipeline stages of an adder graph
        self.streams: list[Stream] = []
        self.engines: list[Engine] = []
        self.stream_of: dict[str, int] = {}  # layer -> stream carrying its values

    def new_stream(self, layer: str, source: str, shape: tuple[int, ...], t) -> int:
        if len(shape) == 3:
            c, h, w = shape
        elif len(shape) == 2:
            (c, w), h = shape, 1
        else:
            (c,), h, w = shape, 1, 1
        width, signed, frac = (t.width, t.signed, t.frac) if t is not None else (0, False, 0)
        s = Stream(len(self.streams), layer, source, h * w, c, width, signed, frac, h, w)
        self.streams.append(s)
        return s.id

    def plan(self) -> Plan:
        g = self.g
        inp = g.input
        self.stream_of["input"] = self.new_stream("input", "input", inp.out_shape,
                                                  self.d.input if self.d is not None else None)
        fused: set[str] = set()
        for layer in g.layers[1:]:
            if layer.name in fused:
                continue
            if rereads(layer):
                self.stream_of[layer.name] = self.stream_of[layer.inputs[0]]
                continue
            relu = self._fusable_relu(layer)
            if relu is not None:
                fused.add(relu.name)
            if self.q is None:
                self._timing_engine(layer, relu)
            else:
                self._engine_for(layer, relu)
        self._insert_forks()
        out = self.stream_of[g.output.name]
        plan = Plan(self.streams, self.engines, self.stream_of["input"], out)
        if self.size_forks:
            self._size_forks(plan)
        return plan

    def _fusable_relu(self, layer: L.Layer) -> L.ReLU | None:
        return fused_relu(self.g, layer)  # codesign.rtl.fusion: the cost models read it too

    def _in(self, layer: L.Layer, k: int = 0) -> Stream:
        return self.streams[self.stream_of[layer.inputs[k]]]

    def _draft(self, layer: L.Layer) -> Draft:
        draft = RULES(layer)(layer, self._in(layer))
        assert draft is not None, layer.name  # plan() gives re-reading layers no engine
        return draft

    def _timing_engine(self, layer: L.Layer, relu: L.ReLU | None) -> None:
        """An engine with its kind and timing only (no types, weights or parameters)."""
        draft = self._draft(layer)
        rf = self.reuse.get(layer.name, 1) if layer.has_weights else 1
        kind, timing = draft.kind, draft.timing(self._in(layer), rf)
        if self.pipe.get(layer.name):
            timing["PIPE"] = self.pipe[layer.name]
        last = relu if relu is not None else layer
        sid = self.new_stream(last.name, last.name, last.out_shape, None)
        names = (layer.name,) + ((relu.name,) if relu is not None else ())
        self.engines.append(Engine(f"u_{layer.name}", "", names,
                                   tuple(self.stream_of[i] for i in layer.inputs), sid, {},
                                   kind, timing))
        self.stream_of[last.name] = sid

    def _engine_for(self, layer: L.Layer, relu: L.ReLU | None) -> None:
        d = self.d
        impl = d[layer.name]
        x = self._in(layer)
        xt = d.type_of(layer.inputs[0])
        last = relu if relu is not None else layer
        out_t = d[last.name].result
        draft = self._draft(layer)
        module, params, graph, mac = draft.build(self, layer, x, draft.slide, xt, impl, relu)
        rf = impl.reuse if layer.has_weights and graph is None else 1
        kind, timing = draft.kind, draft.timing(x, rf)
        assert spec_of(module).kind == kind, (module, kind)  # tests/rtl/test_specs.py
        stages = None
        if graph is not None:
            stages = self._pipeline(graph, params, timing)
        shape = last.out_shape
        source = last.name
        sid = self.new_stream(last.name, source, shape, out_t)
        inputs = tuple(self.stream_of[i] for i in layer.inputs)
        names = (layer.name,) + ((relu.name,) if relu is not None else ())
        generated = ""
        if graph is not None:
            generated = f"cs_mvm{len(self.engines)}"
        elif mac is not None:
            generated = f"cs_mac{len(self.engines)}"
        self.engines.append(Engine(f"u_{layer.name}", module, names, inputs, sid, params,
                                   kind, timing, graph, generated, stages, mac))
        self.stream_of[last.name] = sid

    def weighted(self, layer: L.Layer, x: Stream, slide: Slide | None, xt: FixedType,
                 impl: LayerImpl, relu: L.ReLU | None) -> Built:
        """A conv or dense engine (the Build of their rules): an adder graph at RF 1 with
        a lossless accumulator and no DSP products, else a generated MAC."""
        assert isinstance(layer, L.WeightedLayer) and slide is not None
        assert impl.weight is not None and impl.bias is not None and impl.accum is not None
        terms, cout = layer.terms, layer.out_channels
        rf = impl.reuse
        if rf > terms:
            raise CodesignError(
                f"layer {layer.name!r}: reuse {rf} exceeds its {terms} terms per output; the "
                f"RTL engines share multipliers over terms only (use reuse <= {terms})")
        wmat = ba.weight_matrix(layer, self.q.weights[layer.name])  # (terms, out), model order
        acc, res = impl.accum, impl.result
        lossless = is_lossless_accum(impl, xt, terms)
        if rf == 1 and lossless and impl.multiplier != "dsp":
            return (*self._graph_engine(layer, x, slide, xt, impl, relu, wmat), None)
        mac = plan_mac(wmat, list(slide.source), self.q.biases[layer.name], xt, impl.weight,
                       impl.bias, acc, rf, uses_star(impl.multiplier, rf),
                       get_device(self.d.device), impl.weight_rom)
        params: dict[str, Any] = {**slide.params(x.channels), "COUT": cout, "RF": rf,
                                  "XW": xt.width,
                                  **type_params("A", acc), **type_params("R", res, True),
                                  "RSHIFT": res.frac - acc.frac, **self._relu_params(relu, res)}
        return "cs_mac_engine", params, None, mac

    def _relu_params(self, relu: L.ReLU | None, res) -> dict[str, Any]:
        if relu is None:
            return {}
        q = self.d[relu.name].result
        return {"RELU": 1, **type_params("Q", q, True), "QSHIFT": q.frac - res.frac}

    def _graph_engine(self, layer: L.WeightedLayer, x: Stream, slide: Slide, xt, impl,
                      relu: L.ReLU | None, wmat):
        """RF 1, lossless: the window times the weights as an adder graph, bias folded in,
        computed exactly in the grid F = max(weight frac + input frac, bias frac)."""
        geo = slide.params(x.channels)
        wmat = wmat[np.argsort(slide.source)]  # stream order (kh, kw, c) <- model order
        wt, bt, res = impl.weight, impl.bias, impl.result
        f0 = wt.frac + xt.frac
        frac = max(f0, bt.frac)
        bias = [int(b) << (frac - bt.frac) for b in self.q.biases[layer.name].tolist()]
        kernel = wmat.astype(np.int64) << (frac - f0)
        graph = solve_cmvm(kernel, xt.min_int, xt.max_int, np.array(bias, dtype=np.int64))
        if cast_reads_low_bits(res):
            # the cast keeps bits below res.width - RSHIFT of the sum: no adder needs more
            graph = wrapped(graph, max(1, res.width - (res.frac - frac)))
        params: dict[str, Any] = {**geo, "COUT": layer.out_channels, "XW": xt.width,
                                  "YW": graph.out_width, **type_params("R", res, True),
                                  "RSHIFT": res.frac - frac, **self._relu_params(relu, res)}
        return "cs_graph_engine", params, graph

    def _pipeline(self, graph: AdderGraph, params: dict[str, Any],
                  timing: dict[str, int]) -> Stages:
        """Register stages in the graph for the design's clock (codesign.rtl.pipeline):
        PIPE in the engine's parameters (when > 0) and its timing."""
        model = delay_model(get_device(self.d.device).family)
        stages = assign_stages(graph, model, self.d.clock_mhz)
        if stages.stages:  # no key at 0: the plan of an unpipelined engine is unchanged
            params["PIPE"] = stages.stages
            timing["PIPE"] = stages.stages
        return stages

    # -- forks ----------------------------------------------------------------------
    def _insert_forks(self) -> None:
        readers: dict[int, list[tuple[int, int]]] = {}
        for ei, e in enumerate(self.engines):
            for port, s in enumerate(e.inputs):
                readers.setdefault(s, []).append((ei, port))
        for sid, users in readers.items():
            if len(users) < 2:
                continue
            depth = self._fork_depth(sid)
            src = self.streams[sid]
            for ei, port in users:
                copy = Stream(len(self.streams), src.layer, src.source, src.beats, src.channels,
                              src.width, src.signed, src.frac, src.height, src.width_px)
                self.streams.append(copy)
                user = self.engines[ei]
                ins = list(user.inputs)
                ins[port] = copy.id
                user.inputs = tuple(ins)
                self.engines.append(Engine(f"u_fork{sid}_{user.name[2:]}", FIFO.module,
                                           (src.layer,), (sid,), copy.id,
                                           {"W": src.bits, "DEPTH": depth, "BRAM": 0},
                                           FIFO.kind, {"depth": depth, "beats": src.beats}))

    def _size_forks(self, plan: Plan) -> None:
        """Every fork FIFO as deep as the cycle model measures its branch's skew, from
        the plan with `_fork_depth`'s bound (which never deadlocks), at least
        MIN_FIFO_DEPTH, with no output transfer of the network moved
        (codesign.rtl.latency.fifo_depths); then its storage by
        codesign.hwrules.fifo_plan. The cycle model imports this module, hence the
        import here."""
        from codesign.rtl.latency import NoFixpoint, fifo_depths

        try:
            depths = fifo_depths(plan, MIN_FIFO_DEPTH)
        except NoFixpoint:  # keep the bound: network_timing then names the deadlock
            depths = {}
        device = get_device(self.d.device) if self.d is not None else None
        for e in plan.engines:
            if e.kind != "fifo":
                continue
            depth = depths.get(e.name, e.timing["depth"])
            e.timing["depth"] = depth
            e.params["DEPTH"] = depth
            if device is not None:
                e.params["BRAM"] = int(fifo_plan(depth, e.params["W"], device).style == "block")

    def _fork_depth(self, sid: int) -> int:
        """An upper bound on what a fork FIFO needs: every beat the engines between the
        fork and its join can hold, plus two (what `_size_forks` starts from)."""
        down: set[int] = set()
        frontier = {sid}
        while frontier:
            nxt = set()
            for i, e in enumerate(self.engines):
                if i not in down and frontier & set(e.inputs):
                    down.add(i)
                    nxt.add(e.output)
            frontier = nxt
        return 2 + sum(self.engines[i].capacity() for i in down)


# roundings whose decision reads only the dropped bits and the kept lsb, never the sign
_LOW_BIT_ROUNDINGS = (Rounding.TRN, Rounding.RND, Rounding.RND_MIN_INF, Rounding.RND_CONV)


def cast_reads_low_bits(t: FixedType) -> bool:
    """Whether a cast to t (cs_cast) depends only on its input mod 2**(t.width + dropped
    bits): it wraps and its rounding never looks at the sign."""
    return t.overflow is Overflow.WRAP and t.rounding in _LOW_BIT_ROUNDINGS


def plan_network(qnet: QuantizedNet) -> Plan:
    """The engines and streams of the accelerator for a QuantizedNet."""
    return _Planner(qnet).plan()


def plan_layer(qnet: QuantizedNet, name: str) -> Plan:
    """The engine of one layer (a weighted layer with the ReLU fused into it, as the full
    plan fuses it) reading fresh streams of its inputs' types: what the allocator costs a
    layer by, without planning (and solving the adder graphs of) the rest of the network.
    No fork FIFOs: they belong to the stream that forks."""
    p = _Planner(qnet)
    layer = p.g[name]
    for i in layer.inputs:
        src = i
        while rereads(p.g[src]):  # a flatten re-reads its input's stream
            src = p.g[src].inputs[0]
        shape = p.g.input.out_shape if src == "input" else p.g[src].out_shape
        p.stream_of[i] = p.new_stream(src, src, shape, p.d.type_of(i))
    p._engine_for(layer, p._fusable_relu(layer))
    return Plan(p.streams, p.engines, p.stream_of[layer.inputs[0]], p.engines[-1].output)


def plan_timing(graph: Graph, reuse: dict[str, int] | None = None,
                pipe: dict[str, int] | None = None, size_forks: bool = True) -> Plan:
    """The accelerator's streams and engines for a float Graph at per-layer reuse
    factors (1 where not given), with timing only: no types, weights or module
    parameters. Its cycles equal plan_network's for any design with those reuse factors
    and those pipeline stages per weighted layer (`pipe`, 0 where not given: the stages
    of an adder graph at the design's clock come from the solved graph, which this plan
    does not build; each stage adds one edge of latency and deepens fork FIFOs).
    size_forks=False keeps every fork FIFO at its deadlock-free bound: the same output
    edges, without the cycle-model runs that size them (seconds on a CIFAR-size residual
    network), for a caller that reads one engine's cycles."""
    return _Planner(None, graph, reuse, pipe, size_forks).plan()


# -- rendering --------------------------------------------------------------------------
def _sv_param(v: Any) -> str:
    return v if isinstance(v, str) else str(int(v))


def render_top(plan: Plan, prefix: str = "") -> str:
    s_in, s_out = plan.streams[plan.input], plan.streams[plan.output]
    lines = [
        f"// {prefix}{TOP}: generated by codesign.rtl.network. One engine per layer, "
        "valid/ready streams",
        "// of one pixel (all channels) per beat. Do not edit: regenerate instead.",
        f"module {prefix}{TOP} (",
        "  input  logic clk,",
        "  input  logic rst,",
        "  input  logic in_valid,",
        "  output logic in_ready,",
        f"  input  logic [{s_in.bits - 1}:0] in_data,",
        "  output logic out_valid,",
        "  input  logic out_ready,",
        f"  output logic [{s_out.bits - 1}:0] out_data",
        ");",
    ]
    for s in plan.streams:
        lines.append(f"  logic s{s.id}_valid, s{s.id}_ready;  // {s.layer}")
        lines.append(f"  logic [{s.bits - 1}:0] s{s.id}_data;")
    lines += [f"  assign s{plan.input}_valid = in_valid;",
              f"  assign in_ready = s{plan.input}_ready;",
              f"  assign s{plan.input}_data = in_data;",
              f"  assign out_valid = s{plan.output}_valid;",
              f"  assign s{plan.output}_ready = out_ready;",
              f"  assign out_data = s{plan.output}_data;"]
    # fork wiring: a stream read by several fifos transfers when all of them are ready
    readers: dict[int, list[Engine]] = {}
    for e in plan.engines:
        for s in e.inputs:
            readers.setdefault(s, []).append(e)
    fork_valid: dict[tuple[str, int], str] = {}
    for sid, users in readers.items():
        if len(users) == 1:
            continue
        readies = [f"{u.name}_in_ready" for u in users]
        for u in users:
            lines.append(f"  logic {u.name}_in_ready;")
        lines.append(f"  assign s{sid}_ready = {' && '.join(readies)};")
        for u in users:
            others = [r for r in readies if r != f"{u.name}_in_ready"]
            fork_valid[(u.name, sid)] = " && ".join([f"s{sid}_valid"] + others)
    for e in plan.engines:
        spec = spec_of(e.module)
        unknown = [k for k in e.params if k not in spec.params]
        if unknown:
            raise CodesignError(f"engine {e.name}: {e.module} takes no parameter(s) {unknown} "
                                "(codesign.rtl.specs lists what it takes)")
        lines.append("")
        params = ",\n".join(f"    .{k}({_sv_param(v)})" for k, v in e.params.items())
        lines.append(f"  {e.module} #(\n{params}\n  ) {e.name} (")
        ports = ["    .clk(clk)", "    .rst(rst)"]
        for pname, sid in zip(spec.inputs, e.inputs, strict=True):
            forked = (e.name, sid) in fork_valid
            valid = fork_valid.get((e.name, sid), f"s{sid}_valid")
            ready = f"{e.name}_in_ready" if forked else f"s{sid}_ready"
            ports += [f"    .{pname}_valid({valid})", f"    .{pname}_ready({ready})",
                      f"    .{pname}_data(s{sid}_data)"]
        o, out = e.output, spec.output
        ports += [f"    .{out}_valid(s{o}_valid)", f"    .{out}_ready(s{o}_ready)",
                  f"    .{out}_data(s{o}_data)"]
        ports += [f"    .{port}({e.name}_{wire})" for port, wire in spec.generated]
        lines.append(",\n".join(ports))
        lines.append("  );")
        if e.graph is not None:
            lines += _graph_wiring(e)
        if e.mac is not None:
            lines += _mac_wiring(e)
    lines += _trace_block(plan, prefix)
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def _graph_wiring(e: Engine) -> list[str]:
    """The adder-graph module of an RF 1 engine, between its window and its cast."""
    g = e.graph
    assert g is not None
    yw = e.params["YW"]
    lines = [f"  logic [{g.n_in * e.params['XW'] - 1}:0] {e.name}_win;",
             f"  logic [{len(g.outputs) * yw - 1}:0] {e.name}_y;"]
    if _pipe(e):  # pipelined: the engine loads the graph's stage registers
        lines += [f"  logic [{_pipe(e) - 1}:0] {e.name}_pen;",
                  f"  {e.graph_module} {e.name}_mvm (.clk(clk), .en({e.name}_pen), "
                  f".x({e.name}_win), .y({e.name}_y));"]
    else:  # combinational graph: the engine's register loads go nowhere
        lines += ["  /* verilator lint_off UNUSEDSIGNAL */",
                  f"  logic {e.name}_pen;",
                  "  /* verilator lint_on UNUSEDSIGNAL */",
                  f"  {e.graph_module} {e.name}_mvm (.x({e.name}_win), .y({e.name}_y));"]
    return lines


def _pipe(e: Engine) -> int:
    """Register stages of an engine's adder graph (0: combinational)."""
    return e.stages.stages if e.stages is not None else 0


def _mac_wiring(e: Engine) -> list[str]:
    """The generated MAC module of an engine, between its window and its accumulator."""
    m = e.mac
    assert m is not None
    n = e.name
    tw = max(1, (m.rf - 1).bit_length())
    return [f"  logic [{m.terms * m.x_width - 1}:0] {n}_win;",
            f"  logic [{tw - 1}:0] {n}_t;",
            f"  logic {n}_acc_en, {n}_load;",
            f"  logic [{m.cout * m.acc_width - 1}:0] {n}_acc_q, {n}_acc_d;",
            f"  {e.graph_module} {n}_mac (.clk(clk), .x({n}_win), .t({n}_t), "
            f".acc_en({n}_acc_en), .load({n}_load), .acc_in({n}_acc_q), .acc_out({n}_acc_d));"]


def _trace_block(plan: Plan, prefix: str = "") -> list[str]:
    """Simulation only: with +<prefix>cs_trace=FILE every transfer of every stream is logged
    as `stream cycle hexdata`, so a mismatch can be pinned on the first layer that differs
    (the prefix keeps the traces of several accelerators in one simulation apart)."""
    out = ["", "`ifndef SYNTHESIS", "  integer cs_fd;", "  logic [63:0] cs_cyc;",
           "  string cs_fn;", "  initial begin", "    cs_fd = 0;",
           f"    if ($value$plusargs(\"{prefix}cs_trace=%s\", cs_fn))"
           " cs_fd = $fopen(cs_fn, \"w\");",
           "  end",
           "  always_ff @(posedge clk) cs_cyc <= rst ? 64'd0 : cs_cyc + 64'd1;",
           "  always_ff @(posedge clk) begin", "    if (!rst && cs_fd != 0) begin"]
    for s in plan.streams:
        out.append(f"      if (s{s.id}_valid && s{s.id}_ready) "
                   f"$fwrite(cs_fd, \"{s.id} %0d %h\\n\", cs_cyc, s{s.id}_data);")
    out += ["    end", "  end", "  final if (cs_fd != 0) $fclose(cs_fd);", "`endif"]
    return out


# -- writing ----------------------------------------------------------------------------
def generate_rtl(qnet: QuantizedNet, out_dir: str | Path, prefix: str = "") -> Path:
    """Write the accelerator for qnet into out_dir; returns the path of files.f.

    prefix goes before the name of every module generated for this network (the top,
    `<prefix>cs_top`, and its adder graphs) and of the trace plusarg, so several
    accelerators can be compiled into one design; the hw/ engines are shared as they are.
    """
    if prefix and not (prefix.isascii() and prefix.isidentifier()):
        raise CodesignError(f"RTL module prefix {prefix!r} is not a SystemVerilog identifier "
                            "(letters, digits and _, not starting with a digit)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_network(qnet)
    for e in plan.engines:
        if e.graph_module:
            e.graph_module = prefix + e.graph_module
    src = hw_dir()
    for name in HW_FILES + HW_INCLUDES:
        (out_dir / name).write_text((src / name).read_text())
    graphs = []
    for e in plan.engines:
        if e.graph is not None:
            xw = e.params["XW"]
            text = render_graph_module(e.graph_module, e.graph, xw, e.graph.x_lo < 0,
                                       e.params["YW"], f"Layer {'+'.join(e.layers)}.",
                                       e.stages if _pipe(e) else None)
            (out_dir / f"{e.graph_module}.sv").write_text(text)
            graphs.append(f"{e.graph_module}.sv")
        elif e.mac is not None:
            text = render_mac_module(e.graph_module, e.mac, f"Layer {'+'.join(e.layers)}.")
            (out_dir / f"{e.graph_module}.sv").write_text(text)
            graphs.append(f"{e.graph_module}.sv")
    top = prefix + TOP
    (out_dir / f"{top}.sv").write_text(render_top(plan, prefix))
    files = [*HW_FILES, *graphs, f"{top}.sv"]
    (out_dir / "files.f").write_text("".join(f"{f}\n" for f in files))
    manifest = plan.to_json()
    manifest["top"] = top
    manifest["files"] = files
    manifest["includes"] = list(HW_INCLUDES)
    manifest["digest"] = content_digest(out_dir, files + list(HW_INCLUDES))
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out_dir / "files.f"


def content_digest(folder: Path, names: list[str]) -> str:
    """Hash of the sources: the key of the Verilator build cache."""
    h = hashlib.sha256()
    for name in sorted(names):
        h.update(name.encode())
        h.update((folder / name).read_bytes())
    return h.hexdigest()[:20]


def multipliers(plan: Plan, engine: Engine) -> int:
    """Multipliers in a weighted engine's MAC module: its product slots (COUT x
    ceil(TERMS / RF), less the slots whose weights are all zero); none in an adder-graph
    engine (its adders are engine.graph)."""
    if engine.mac is None:
        return 0
    return sum(1 for s in engine.mac.slots if s.w_bits)
