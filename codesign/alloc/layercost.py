"""The allocator's per-candidate costs from the rules `codesign cost` applies.

`StructuralLayerCosts.layer_costs` has the FastCostModel interface (codesign.alloc.
candidates.CostFn) but its LUT, FF, DSP and BRAM are the structural estimate
(codesign.cost.structural) of the layer's own engine, planned by the RTL planner
(codesign.rtl.network.plan_layer) on the design the allocator writes for that choice: the
widths through calibration (codesign.quant.calibrate, max-abs ranges as
codesign.alloc.design.to_design uses), the float weights rounded on that grid
(QuantizedNet.from_float), the reuse factor and multiplier style set. So the allocator
and `codesign cost` estimate a design with one model.

A weighted engine is planned per (weight bits, input bits, reuse, multiplier, weight
ROM style: the design's weight_rom, so LUT-ROM and block-RAM choices cost what
hwrules.rom_plan makes of them): its
result type only changes its output cast, fused ReLU and output register
(structural.post_structure), re-costed per result width; LUT and FF are linear in the
feature bits (structural.weighted_logic), so the parts add up. MAC engines are planned
at every width (tens of ms each; their DSP and BRAM counts are steps). RF 1 adder graphs
(da4ml, bounded: codesign.rtl.solver_settings) take seconds at wide weights: they are
solved at the narrow half of the weight widths and the widest, at the narrowest and
widest input, and the rest interpolated - linearly in the input width, on the weights'
canonical signed digits (codesign.cost.weightstats) across weight widths: a surrogate
calibrated on that layer's own solves, one per weight width (at the widest input,
re-ranged to the others; bench/solve_speed.py prints the error at the widths it
interpolates); `codesign cost` solves the chosen design's own. Results are cached on
disk per layer (cache/layercost) by a hash of the weights, the ranges, the part, the
clock, the fit, the rules' sources, the solver setting and RULE_VERSION.

Inter-layer terms, exact per candidate: a fork's FIFOs at the forking tensor's width
(their depth from the timing plan, without the pipeline stages of adder graphs at fast
clocks); the low bits a tensor's types make constant (cost.ranges.varying_bits), which
its readers' line buffers and a passing pool's register do not hold, as a term of the
layer whose widths decide them. Cycles come from FastCostModel (closed form).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from codesign import bitaccurate as ba
from codesign.alloc.candidates import passes_input, tensor_groups
from codesign.cost import structural as st
from codesign.cost.fast import FastCostModel
from codesign.cost.ranges import varying_bits
from codesign.cost.weightstats import WeightTables
from codesign.design import DesignPoint
from codesign.devices import Device
from codesign.fixed import FixedType
from codesign.hwrules import ROM_STYLES
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.registry import LayerRegistry
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, design_from_activations
from codesign.rtl.adder_graph import signed_width
from codesign.rtl.engines import type_params
from codesign.rtl.fusion import fused_into
from codesign.rtl.mac import with_rom
from codesign.rtl.network import plan_layer, plan_timing
from codesign.rtl.solve_cache import solved_at
from codesign.rtl.solver_settings import current_solver

RULE_VERSION = 7  # 6: table keys carry the weight ROM style; 7: RF-1 graphs re-ranged
MAC_EXACT_PARAMS = 2500  # weights up to which a MAC engine is planned at every width


def _lut_ff(s: st.Structure, coef: dict) -> np.ndarray:
    """[LUT, FF, DSP, BRAM, SRL] of a structure, LUT and FF before constant and rounding."""
    lut, ff = st.weighted_logic(s, coef)
    return np.array([lut, ff, s.dsp, s.bram, s.srl + s.lutram], dtype=float)


class StructuralLayerCosts:
    """Per-candidate cost of every layer's engine by the structural rules."""

    def __init__(self, graph: Graph, device: Device, calib_x: np.ndarray, *,
                 cache: Path | None = None, clock_mhz: float | None = None) -> None:
        self.graph, self.device = graph, device
        self.clock_mhz = clock_mhz or device.default_clock_mhz
        acts = graph.forward(calib_x, return_all=True)
        # max-abs calibration reads a tensor's min and max only: keep those
        self.ranges = {k: np.array([float(v.min()), float(v.max())]) for k, v in acts.items()}
        self.groups, self.of_layer = tensor_groups(graph)
        self.fast = FastCostModel(graph, device)
        self.coef = st.coefficients(device.family)
        self.const = (self.coef["lut"].get("const", 0.0), self.coef["ff"].get("const", 0.0))
        self.cache = cache
        self.fused = fused_into(graph)  # fused ReLU -> the weighted layer it sits in
        timing = plan_timing(graph)
        self.streamed = {s.layer for s in timing.streams}  # layers whose values a stream carries
        self.forks: dict[str, list[int]] = {}  # layer -> depths of the FIFOs its stream feeds
        self.readers: dict[str, list[dict[str, int]]] = {}  # stream's layer -> its windows
        for e in timing.engines:
            if e.kind == "fifo":
                self.forks.setdefault(e.layers[0], []).append(int(e.timing["depth"]))
            elif e.kind == "window":
                for sid in e.inputs:
                    self.readers.setdefault(timing.streams[sid].layer, []).append(e.timing)
        self._tables: dict[str, dict[tuple, list]] = {}
        self._zero_memo: dict[tuple, np.ndarray] = {}
        self.solved = 0  # adder graphs / MAC plans built (not from the cache)

    # -- designs ---------------------------------------------------------------------
    def _design(self, acts: Mapping[str, int], weights: Mapping[str, int] | None = None
                ) -> DesignPoint:
        return design_from_activations(self.graph, self.ranges,
                                       Widths(8, 8, dict(weights or {}), dict(acts)),
                                       device=self.device.part, clock_mhz=self.clock_mhz)

    def qnet(self, acts: Mapping[str, int], weights: Mapping[str, int] | None = None,
             impl: Mapping[str, Any] | None = None, name: str | None = None) -> QuantizedNet:
        """The design the allocator writes at these widths (others 8 bits), rounded."""
        d = self._design(acts, weights)
        if name is not None and impl:
            d = d.with_layer(name, **impl)
        return QuantizedNet.from_float(self.graph, d)

    def _tensor(self, layer: str, bits: int) -> dict[str, int]:
        return dict.fromkeys(self.groups[self.of_layer[layer]], int(bits))

    def _engine(self, name: str, acts: Mapping[str, int], weights=None, impl=None):
        """The layer's engine planned on that design, the structure `codesign cost` gives
        it with every input bit live (constant bits are the producer's term: _zeros), and
        its output bits."""
        q = self.qnet(acts, weights, impl, name)
        plan = plan_layer(q, name)
        ctx = st.Context.of(plan, self.device, None)
        (e,) = plan.engines
        return e, st.engine_structure(e, ctx), ctx.out_bits(e), q, plan

    # -- cache -----------------------------------------------------------------------
    def _key(self, layer: L.Layer) -> str:
        h = hashlib.sha256()
        parts: list[Any] = [RULE_VERSION, _rules_digest(), current_solver(),
                            self.device.part, self.clock_mhz,
                            repr(layer), json.dumps(st.fit_file(), sort_keys=True, default=str),
                            list(self.fused.items())]
        for i in (*layer.inputs, layer.name, *[r for r, p in self.fused.items()
                                               if p == layer.name]):
            parts.append((i, self.ranges[i].tolist()))
        h.update(json.dumps(parts, default=str).encode())
        if isinstance(layer, L.WeightedLayer):
            h.update(np.ascontiguousarray(layer.weight, dtype=np.float64).tobytes())
            h.update(np.ascontiguousarray(layer.bias, dtype=np.float64).tobytes())
        return h.hexdigest()[:24]

    def _load(self, layer: L.Layer) -> dict[tuple, list]:
        if layer.name in self._tables:
            return self._tables[layer.name]
        table: dict[tuple, list] = {}
        path = self._path(layer)
        if path is not None and path.exists():
            try:
                raw = json.loads(path.read_text())
                table = {tuple(json.loads(k)): v for k, v in raw.items()}
            except (OSError, ValueError):
                table = {}
        self._tables[layer.name] = table
        return table

    def _path(self, layer: L.Layer) -> Path | None:
        if self.cache is None:
            return None
        return self.cache / "layercost" / f"{layer.name}-{self._key(layer)}.json"

    def _save(self, layer: L.Layer) -> None:
        path = self._path(layer)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # another process may write it too
        tmp.write_text(json.dumps({json.dumps(list(k)): v
                                   for k, v in self._tables[layer.name].items()}))
        tmp.replace(path)

    # -- weighted engines ------------------------------------------------------------
    def _core(self, layer: L.WeightedLayer, w: int, x: int, r: int, d: bool,
              rom: str) -> list:
        """[LUT, FF, DSP, BRAM, SRL] of the engine without its output part, and the
        parameters of that part (post_structure) at this weight and input width."""
        return self._cores(layer, w, x, r, d)[rom]

    def _cores(self, layer: L.WeightedLayer, w: int, x: int, r: int, d: bool
               ) -> dict[str, list]:
        """_core of every weight ROM style, from one plan (only its ROM differs)."""
        impl = {"reuse": int(r), "multiplier": "dsp" if d else "lut"}
        acts = self._tensor(layer.inputs[0], x)
        e, s, out_bits, q, plan = self._engine(layer.name, acts, {layer.name: int(w)}, impl)
        self.solved += 1
        post = _lut_ff(st.post_structure(e.params, out_bits), self.coef)
        keep = {k: int(v) for k, v in e.params.items() if k in _POST_KEYS}
        keep["RFRAC"] = q.design[layer.name].result.frac
        if e.mac is None or e.mac.rom is None:  # no ROM: one engine whatever the style
            return dict.fromkeys(ROM_STYLES, [(_lut_ff(s, self.coef) - post).tolist(), keep])
        out = {}
        for rom in ROM_STYLES:
            e = dataclasses.replace(e, mac=with_rom(e.mac, rom, self.device))
            ctx = st.Context.of(dataclasses.replace(plan, engines=[e]), self.device, None)
            out[rom] = [(_lut_ff(st.engine_structure(e, ctx), self.coef) - post).tolist(),
                        keep]
        return out

    def _weighted(self, layer: L.WeightedLayer, w, x, o, r, d, rom) -> np.ndarray:
        table = self._load(layer)
        combos = sorted({(int(a), int(b), int(c), bool(e), str(f)) for a, b, c, e, f
                         in zip(w, x, r, d, rom, strict=True)})
        missing = [k for k in combos if k not in table]
        if missing:
            self._fill(layer, missing, table)
            self._save(layer)
        out = np.zeros((len(w), 5))
        res = {b: self._result_type(layer.name, b) for b in set(o.tolist())}
        for i, key in enumerate(zip(w.tolist(), x.tolist(), r.tolist(), d.tolist(),
                                    rom.tolist(), strict=True)):
            core, keep = table[(key[0], key[1], key[2], bool(key[3]), str(key[4]))][:2]
            p = _retyped(keep, res[int(o[i])])
            out[i] = np.asarray(core) + _lut_ff(
                st.post_structure(p, p["COUT"] * p["RW"]), self.coef)
        return out

    def _fill(self, layer: L.WeightedLayer, keys: list[tuple], table: dict) -> None:
        """Cores of these (w, x, r, d, rom): per (r, d, rom), the engine is planned at a grid of
        widths and the rest interpolated, linearly in the input width and, across weight
        widths, on the weights' CSD digits at RF 1 LUT style (the adder graph's adders)
        or on the width (ROM and product bits). MACs: every weight width, every input
        width up to MAC_EXACT_PARAMS weights (else the narrowest, middle and widest).
        Adder graphs: the narrow half of the weight widths (few digits: fast) and the
        widest, each solved once at the widest input and re-ranged to the narrowest.
        Where a DSP or BRAM count differs across the grid cell, that point is planned:
        counts are exact. The output part (post_structure) is exact."""
        stats = WeightTables.of(layer.weight)
        by_rd: dict[tuple[int, bool, str], list[tuple]] = {}
        for k in keys:
            by_rd.setdefault(k[2:], []).append(k)
        for (r, d, rom), ks in by_rd.items():
            ws = sorted({k[0] for k in ks} | {k[0] for k in table if k[2:] == (r, d, rom)})
            xs = sorted({k[1] for k in ks} | {k[1] for k in table if k[2:] == (r, d, rom)})
            if r > 1 or d:  # a MAC plan is cheap (tens of ms) and its DSP/BRAM are steps
                gw, gx = ws, xs
                if layer.params > MAC_EXACT_PARAMS:
                    gx = sorted({xs[0], xs[len(xs) // 2], xs[-1]})
            else:  # adder graphs: seconds each (bounded search), linear in the input width
                gw = sorted({*ws[:len(ws) // 2 + 1], ws[-1]})
                gx = sorted({xs[0], xs[-1]})
            solved = {}
            for w in gw:
                for x in gx[::-1]:  # an adder graph at the widest input first
                    key = (w, x, r, d, rom)
                    if key not in table or len(table[key]) < 3:  # not an exact entry
                        if r == 1 and not d:  # no ROM: one entry
                            table[key] = [*self._graph_core(layer, w, x, gx[-1], rom),
                                          "reranged"]
                        else:
                            self._exact(layer, w, x, r, d, table)
                    solved[(w, x)] = np.asarray(table[key][0])
            axis = (np.array([stats.digits[w - 1] for w in gw], dtype=float)
                    if r == 1 and not d else np.array(gw, dtype=float))
            for w, x, _, _, _ in ks:
                if (w, x, r, d, rom) in table:
                    continue
                near = [g for g in gw if g <= w][-1:] + [g for g in gw if g >= w][:1]
                blocks = {tuple(solved[(g, gxi)][2:4]) for g in near for gxi in gx}
                if len(blocks) > 1:  # DSP or BRAM change in between: counts are exact
                    self._exact(layer, w, x, r, d, table)
                    continue
                at_w = np.array([_interp(x, gx, [solved[(g, gxi)] for gxi in gx])
                                 for g in gw])
                pos = stats.digits[w - 1] if r == 1 and not d else w
                core = _interp(pos, axis, list(at_w))
                core[2:4] = blocks.pop()
                table[(w, x, r, d, rom)] = [core.tolist(), self._keep_at(layer, w, x, r, d)]

    def _exact(self, layer: L.WeightedLayer, w: int, x: int, r: int, d: bool,
               table: dict) -> None:
        """Plan the engine at (w, x, r, d): an exact entry for every ROM style."""
        for rom, core in self._cores(layer, w, x, r, d).items():
            table[(w, x, r, d, rom)] = [*core, "exact"]

    def _graph_core(self, layer: L.WeightedLayer, w: int, x: int, widest: int,
                    rom: str) -> list:
        """_core of an RF 1 adder graph: the graph solved at the widest input, re-ranged
        (solve_cache.solved_at): one da4ml solve per weight width."""
        q = self.qnet(self._tensor(layer.inputs[0], widest), {layer.name: w})
        xt = q.design.type_of(layer.inputs[0])
        with solved_at(xt.min_int, xt.max_int):
            return self._core(layer, w, x, 1, False, rom)

    def _keep_at(self, layer: L.WeightedLayer, w: int, x: int, r: int, d: bool) -> dict:
        """The output part's parameters of an engine not planned, from the types
        calibration gives: a MAC's cast reads its accumulator; an adder graph's reads
        its outputs' field (AdderGraph.out_width: the exact range of x @ W + b over the
        input's range, in the grid of max(weight + input, bias) fraction bits)."""
        q = self.qnet(self._tensor(layer.inputs[0], x), {layer.name: w})
        impl = q.design[layer.name]
        acc, res, xt = impl.accum, impl.result, q.design.type_of(layer.inputs[0])
        base = {"COUT": layer.out_channels, "RFRAC": res.frac, **type_params("R", res, True)}
        if r == 1 and not d:
            f0 = impl.weight.frac + xt.frac
            frac = max(f0, impl.bias.frac)
            k = ba.weight_matrix(layer, q.weights[layer.name]).astype(np.int64) << (frac - f0)
            b = q.biases[layer.name].astype(np.int64) << (frac - impl.bias.frac)
            lo = np.minimum(k * xt.min_int, k * xt.max_int).sum(axis=0) + b
            hi = np.maximum(k * xt.min_int, k * xt.max_int).sum(axis=0) + b
            yw = max(signed_width(min(int(a), -1), int(c)) for a, c in zip(lo, hi, strict=True))
            return {**base, "YW": yw, "RSHIFT": res.frac - frac}
        return {**base, "AW": acc.width, "AS": int(acc.signed), "RSHIFT": res.frac - acc.frac}

    def _result_type(self, name: str, bits: int) -> FixedType:
        return self._design(self._tensor(name, bits))[name].result

    # -- the interface ---------------------------------------------------------------
    def layer_costs(self, layer: str, w_bits, x_bits, out_bits, reuse, dsp, rom=None,
                    **extra: Any) -> dict[str, np.ndarray]:
        """FastCostModel.layer_costs' arrays, LUT/FF/DSP/BRAM from the structural rules;
        `rom`: each candidate's weight_rom (default `auto`)."""
        out = self.fast.layer_costs(layer, w_bits, x_bits, out_bits, reuse, dsp, **extra)
        w, x, o, r, d = (np.ravel(a) for a in np.broadcast_arrays(
            np.asarray(w_bits), np.asarray(x_bits), np.asarray(out_bits),
            np.asarray(reuse), np.asarray(dsp, dtype=bool)))
        shape = np.broadcast_shapes(*(np.shape(a) for a in (w_bits, x_bits, out_bits, reuse,
                                                              dsp)))
        node = self.graph[layer]
        # a weighted engine's rule also reads each candidate's ROM style
        roms = {"rom": np.broadcast_to(np.asarray("auto" if rom is None else rom), shape)
                .ravel()} if node.has_weights else {}
        c, engine = ENGINES(node)(self, node, w, x, o, r, d, **roms)
        if self._streams(layer):
            c = c + self._zeros(node, w, x, o)
        for depth in self.forks.get(layer, []):
            ch = self._channels(layer)
            c = c + np.array([_lut_ff(st.fifo_structure(ch * int(b), depth, self.device),
                                      self.coef) for b in o.tolist()])
            engine += 1.0
        lut = np.round(c[:, 0] + engine * self.const[0]) + c[:, 4]
        ff = np.round(c[:, 1] + engine * self.const[1])
        for k, v in (("lut", lut), ("ff", ff), ("dsp", c[:, 2]), ("bram", c[:, 3])):
            out[k] = v.reshape(shape)
        return out

    def _streams(self, name: str) -> list[str]:
        """The streams that carry this layer's tensor: its own (none when a ReLU is fused
        into it: that is the ReLU's) and those of the pools that pass it on."""
        node = self.graph[name]
        if name in self.fused.values() or not node.inputs or passes_input(node):
            return []  # a fused producer's, the network's input, a pool's or flatten's input's
        out, todo = [], [name]
        while todo:
            n = todo.pop()
            out.append(n)
            todo += [c.name for c in self.graph.consumers(n) if passes_input(c)]
        return [n for n in out if n in self.streamed]  # a flatten has no stream of its own

    def _zeros(self, node: L.Layer, w, x, o) -> np.ndarray:
        """What the engines writing and reading this layer's tensor save on the bits its
        types make constant (cost.ranges.varying_bits: low zeros a cast appends, constant
        channels): output registers (this layer's, a passing pool's) and the readers'
        line buffers (window_structure) hold only the live bits. A term of this layer's
        choice, since its widths decide it."""
        out = np.zeros((len(x), 5))
        for i, key in enumerate(zip(w.tolist(), x.tolist(), o.tolist(), strict=True)):
            memo = (node.name, *key)
            if memo not in self._zero_memo:
                self._zero_memo[memo] = self._zero_term(node, *key)
            out[i] = self._zero_memo[memo]
        return out

    def _zero_term(self, node: L.Layer, w: int, x: int, o: int) -> np.ndarray:
        acts = {**self._tensor(node.inputs[0], x), **self._tensor(node.name, o)}
        q = self.qnet(acts, {node.name: w} if isinstance(node, L.WeightedLayer) else None)
        vary = varying_bits(q)
        term = np.zeros(5)
        for n in self._streams(node.name):
            full, live = q.design.type_of(n).width * len(vary[n]), int(vary[n].sum())
            if live == full:
                continue
            for t in self.readers.get(n, []):
                term += (_lut_ff(st.window_structure(t, live, self.device), self.coef)
                         - _lut_ff(st.window_structure(t, full, self.device), self.coef))
            # the output register of the engine that writes it (this layer's, a pool's)
            term[1] += self.coef["ff"].get("out", 0.0) * (live - full)
        return term

    def _channels(self, layer: str) -> int:
        shape = self.graph[layer].out_shape
        return int(shape[0])

    def _fused_relu(self, name: str, x: np.ndarray, o: np.ndarray) -> np.ndarray:
        """A fused ReLU: its cast, its LUTs and the output register it makes q bits wide,
        less the register of the result it replaces (structural.post_structure)."""
        producer = self.graph[self.fused[name]]
        out = np.zeros((len(x), 5))
        for i, (a, b) in enumerate(zip(x.tolist(), o.tolist(), strict=True)):
            q = self._design({**self._tensor(producer.name, a), **self._tensor(name, b)})
            res, qt = q[producer.name].result, q[name].result
            base = {"COUT": producer.out_channels, "AW": 32, "AS": 1, "RSHIFT": 0,
                    **type_params("R", res, True)}
            with_relu = {**base, "RELU": 1, **type_params("Q", qt, True),
                         "QSHIFT": qt.frac - res.frac}
            c = producer.out_channels
            out[i] = (_lut_ff(st.post_structure(with_relu, c * b), self.coef)
                      - _lut_ff(st.post_structure(base, c * a), self.coef))
        return out

    def _plain(self, node: L.Layer, x: np.ndarray, o: np.ndarray) -> np.ndarray:
        """ReLU, pool and add engines: planned per (input, result) width (cheap)."""
        table = self._load(node)
        keys = sorted({(int(a), int(b)) for a, b in zip(x, o, strict=True)})
        missing = [k for k in keys if k not in table]
        for a, b in missing:
            acts = self._tensor(node.inputs[0], a)
            if not passes_input(node):  # a pool's result is its input's tensor
                acts.update(self._tensor(node.name, b))
            _, s, _, _, _ = self._engine(node.name, acts)
            table[(a, b)] = [_lut_ff(s, self.coef).tolist(), {}]
        if missing:
            self._save(node)
        return np.array([table[(int(a), int(b))][0] for a, b in zip(x, o, strict=True)])


_Engine = tuple[np.ndarray, float]  # [LUT, FF, DSP, BRAM, SRL] per candidate, engines
ENGINES: LayerRegistry[Callable[..., _Engine]] = LayerRegistry(
    "the allocator's structural costs", "codesign.alloc.layercost")
"""Per kind: the cost of the engine that computes a layer, and how many engines it is
(each adds the fit's per-engine constant); a weighted layer's rule also gets `rom`, each
candidate's weight_rom. Fork FIFOs and constant bits are added on top."""
ENGINES.skip(L.BatchNorm, "it is folded into the conv by fold_batchnorm when the graph is "
                          "built (fold BatchNorm first)")


@ENGINES.rule(L.WeightedLayer)
def _weighted_engine(m: StructuralLayerCosts, node: L.Layer, w, x, o, r, d,
                     rom: np.ndarray) -> _Engine:
    assert isinstance(node, L.WeightedLayer)
    return m._weighted(node, w, x, o, r, d, rom), 1.0


@ENGINES.rule(L.ReLU)
def _relu_engine(m: StructuralLayerCosts, node: L.Layer, w, x, o, r, d) -> _Engine:
    if node.name in m.fused:  # a cast in its producer's engine (codesign.rtl.fusion)
        return m._fused_relu(node.name, x, o), 0.0
    return m._plain(node, x, o), 1.0


@ENGINES.rule(L.Pool2d, L.Add)
def _plain_engine(m: StructuralLayerCosts, node: L.Layer, w, x, o, r, d) -> _Engine:
    return m._plain(node, x, o), 1.0


@ENGINES.rule(L.Input, L.Flatten)
def _no_engine(m: StructuralLayerCosts, node: L.Layer, w, x, o, r, d) -> _Engine:
    return np.zeros((len(w), 5)), 0.0  # the input port; a re-reading of a stream


@functools.cache
def _rules_digest() -> str:
    """The sources that decide an engine's plan and structure, and da4ml's version: a
    change to any of them is another cache entry."""
    import da4ml

    from codesign import hwrules
    from codesign.rtl import (
        adder_graph,
        engines,
        fusion,
        mac,
        network,
        pipeline,
        solve_cache,
        solver_settings,
    )

    h = hashlib.sha256(getattr(da4ml, "__version__", "?").encode())
    for mod in (st, network, fusion, engines, mac, adder_graph, solver_settings, solve_cache,
                pipeline, hwrules, sys.modules[__name__]):
        h.update(Path(inspect.getfile(mod)).read_bytes())
    return h.hexdigest()[:16]


_POST_KEYS = ("YW", "AW", "AS", "COUT", "RSHIFT", "RW", "RS", "RRND", "ROVF")


def _retyped(keep: dict, res) -> dict:
    """The output part's parameters (no fused ReLU: that is the ReLU layer's cost) at
    another result type: the shift from the sum moves with its fraction bits."""
    p = {k: v for k, v in keep.items() if k != "RFRAC"}
    p["RSHIFT"] = keep["RSHIFT"] + res.frac - keep["RFRAC"]
    p.update(type_params("R", res, True))
    return p


def _interp(v: float, at: list | np.ndarray, values: list) -> np.ndarray:
    """Piecewise-linear interpolation of vectors `values` given at increasing `at`,
    extended linearly past the ends (equal or single positions: the nearest)."""
    at = np.asarray(at, dtype=float)
    vals = np.stack([np.asarray(x, dtype=float) for x in values])
    if len(at) == 1 or np.any(np.diff(at) <= 0):
        return vals[int(np.argmin(np.abs(at - v)))].copy()
    i = int(np.clip(np.searchsorted(at, v) - 1, 0, len(at) - 2))
    t = (v - at[i]) / (at[i + 1] - at[i])
    return vals[i] + t * (vals[i + 1] - vals[i])
