"""Random mixed networks for the many-network RTL test (test_rtl_random_many.py).

One seed -> one small QuantizedNet of one family (conv2d, conv1d or dense only), with
random shapes, residual adds, standalone and fused ReLUs, max/avg/global average pools,
flatten + dense heads, and a random design: signed or unsigned inputs, binary / ternary /
2-8-bit weights with zeros, all-zero output channels and unused inputs, RF 1 or RF > 1,
lossless or narrow (lossy) accumulators, auto / LUT / DSP multipliers, every rounding and
overflow mode, a random clock and device.

Every choice is drawn from `Draws`: to cover a new knob (a DesignPoint or LayerImpl
field), add its range there and draw it in `_design` / `_impl`; widening a range is a
one-line change. The draws happen in a fixed order per seed, so a seed names a network
for as long as the draws are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.design import DesignPoint, LayerImpl, lossless_accum, lossless_avg_accum
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.layers import pool_out
from codesign.qnet import QuantizedNet


@dataclass(frozen=True)
class Draws:
    """What the generator draws from (probabilities and inclusive ranges)."""

    families: tuple[str, ...] = ("conv2d", "conv2d", "conv1d", "dense")
    p_residual: float = 0.4
    p_relu: float = 0.7
    p_pool: float = 0.6
    p_global_pool: float = 0.25  # of the pools: a global average pool (an accumulator)
    p_second_conv: float = 0.4
    dense_layers: tuple[int, int] = (1, 2)
    # weights: a fraction zeroed, an all-zero output channel, an input no output reads
    p_zero_weights: float = 0.5
    p_zero_channel: float = 0.4
    p_zero_input: float = 0.3
    weight_kinds: tuple[str, ...] = ("binary", "ternary", "wide", "wide")
    weight_bits: tuple[int, int] = (2, 8)
    # implementation
    p_rf1: float = 0.5
    max_rf: int = 6
    multipliers: tuple[str, ...] = ("auto", "lut", "dsp")
    p_lossy_accum: float = 0.3
    p_lossy_avg_accum: float = 0.5
    p_signed_input: float = 0.5
    input_bits: tuple[int, int] = (2, 9)
    result_bits: tuple[int, int] = (3, 12)
    clock_mhz: tuple[float, ...] = (100.0, 200.0, 300.0)  # drawn per network
    devices: tuple[str, ...] = ("xc7a35t", "xczu3eg", "lfe5u-25f")  # one per family


DRAWS = Draws()


@dataclass
class MixedNet:
    seed: int
    family: str
    qnet: QuantizedNet
    x: np.ndarray  # float inputs, batch first (some beyond the input type's range)

    def describe(self) -> str:
        """One line: the seed, the family and each layer's implementation."""
        d = self.qnet.design
        parts = []
        for layer in self.qnet.graph.weighted:
            impl = d[layer.name]
            assert impl.weight is not None and impl.accum is not None
            parts.append(f"{layer.name} w{impl.weight.width} rf{impl.reuse} "
                         f"{impl.multiplier} acc{impl.accum.width}")
        return (f"seed {self.seed} {self.family} {d.device} @{d.clock_mhz:g}MHz: "
                + ", ".join(parts))


class _Gen:
    def __init__(self, seed: int, draws: Draws) -> None:
        self.rng = np.random.default_rng(seed)
        self.draws = draws
        self.layers: list[L.Layer] = []
        self.count = 0

    # -- graph ----------------------------------------------------------------------
    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}_{self.count}"

    def add(self, layer: L.Layer) -> str:
        self.layers.append(layer)
        return layer.name

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def between(self, lo_hi: tuple[int, int]) -> int:
        return int(self.rng.integers(lo_hi[0], lo_hi[1] + 1))

    def weights(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Random weights (out first) with the draws' zeros, and a bias."""
        r, dr = self.rng, self.draws
        fan_in = int(np.prod(shape[1:]))
        w = r.normal(0, 1 / np.sqrt(fan_in), shape)
        if self.chance(dr.p_zero_weights):
            w[r.random(shape) < 0.3] = 0.0
        if self.chance(dr.p_zero_channel):
            w[int(r.integers(shape[0]))] = 0.0
        if self.chance(dr.p_zero_input) and shape[1] > 1:
            w[:, int(r.integers(shape[1]))] = 0.0
        return w, r.normal(0, 0.3, shape[0])

    def relu(self, src: str, shape: tuple) -> str:
        return self.add(L.ReLU(self.name("relu"), (src,), shape))

    def conv2d(self, src: str, shape: tuple, cout: int, k: int, stride: int, pad: int):
        c, h, w = shape
        k = min(k, h + 2 * pad, w + 2 * pad)
        weight, bias = self.weights((cout, c, k, k))
        out = (cout, pool_out(h, k, stride, pad), pool_out(w, k, stride, pad))
        return self.add(L.Conv2d(self.name("conv"), (src,), out, weight=weight, bias=bias,
                                 stride=(stride, stride), padding=(pad, pad))), out

    def conv1d(self, src: str, shape: tuple, cout: int, k: int, stride: int, pad: int):
        c, n = shape
        k = min(k, n + 2 * pad)
        weight, bias = self.weights((cout, c, k))
        out = (cout, pool_out(n, k, stride, pad))
        return self.add(L.Conv1d(self.name("conv1d"), (src,), out, weight=weight, bias=bias,
                                 stride=stride, padding=pad)), out

    def dense(self, src: str, n_in: int, n_out: int) -> str:
        weight, bias = self.weights((n_out, n_in))
        return self.add(L.Dense(self.name("dense"), (src,), (n_out,), weight=weight,
                                bias=bias))

    def residual(self, src: str, shape: tuple) -> str:
        """src + conv(relu(conv(src))), same shape (3-wide then 1-wide kernels)."""
        if len(shape) == 3:
            mid, _ = self.conv2d(src, shape, shape[0], 3, 1, 1)
            mid, _ = self.conv2d(self.relu(mid, shape), shape, shape[0], 1, 1, 0)
        elif len(shape) == 2:
            mid, _ = self.conv1d(src, shape, shape[0], 3, 1, 1)
            mid, _ = self.conv1d(self.relu(mid, shape), shape, shape[0], 1, 1, 0)
        else:
            mid = self.dense(src, shape[0], shape[0])
            mid = self.dense(self.relu(mid, shape), shape[0], shape[0])
        return self.add(L.Add(self.name("add"), (mid, src), shape))

    def graph(self, family: str) -> Graph:
        dr = self.draws
        if family == "conv2d":
            shape: tuple = (self.between((1, 3)), self.between((4, 8)), self.between((4, 8)))
        elif family == "conv1d":
            shape = (self.between((1, 4)), self.between((5, 16)))
        else:
            shape = (self.between((3, 24)),)
        self.layers = [L.Input("input", (), shape)]
        src = "input"
        if family == "conv2d":
            src, shape = self.conv2d(src, shape, self.between((1, 5)), self.between((1, 3)),
                                     self.between((1, 2)), self.between((0, 1)))
        elif family == "conv1d":
            src, shape = self.conv1d(src, shape, self.between((1, 5)), self.between((1, 5)),
                                     self.between((1, 2)), self.between((0, 2)))
        else:
            n_out = self.between((2, 12))
            src, shape = self.dense(src, shape[0], n_out), (n_out,)
        if self.chance(dr.p_relu):
            src = self.relu(src, shape)
        if self.chance(dr.p_residual) and (len(shape) == 1 or min(shape[1:]) >= 2):
            src = self.relu(self.residual(src, shape), shape)
        if family == "conv1d" and self.chance(dr.p_second_conv) and shape[1] >= 2:
            src, shape = self.conv1d(src, shape, self.between((1, 4)), self.between((1, 3)),
                                     self.between((1, 2)), self.between((0, 1)))
        if family == "conv2d" and self.chance(dr.p_pool) and min(shape[1:]) >= 2:
            k = self.between((2, min(3, min(shape[1:]))))
            s = self.between((1, k))
            u = self.rng.random()  # one draw for the kind: adding a kind kept other seeds
            if u >= 1 - dr.p_global_pool:
                kernel = stride = (shape[1], shape[2])
                out = (shape[0], 1, 1)
                cls: type[L.Pool2d] = L.GlobalAvgPool2d
            else:
                kernel, stride = (k, k), (s, s)
                out = (shape[0], pool_out(shape[1], k, s), pool_out(shape[2], k, s))
                cls = L.MaxPool2d if u < 0.5 else L.AvgPool2d
            src = self.add(cls(self.name(cls.kind), (src,), out, kernel=kernel,
                               stride=stride))
            shape = out
        n = int(np.prod(shape))
        if len(shape) > 1:
            src = self.add(L.Flatten(self.name("flatten"), (src,), (n,)))
        for _ in range(self.between(dr.dense_layers) - (family == "dense")):
            out_f = self.between((2, 8))
            src, n = self.dense(src, n, out_f), out_f
            if self.chance(0.3):
                src = self.relu(src, (n,))
        return Graph(tuple(self.layers))

    # -- design ---------------------------------------------------------------------
    def fixed(self, magnitude: float, signed: bool, width: int) -> FixedType:
        """A type of `width` bits around magnitude (a little too narrow or too wide)."""
        r = self.rng
        need = int(np.ceil(np.log2(max(magnitude, 2.0**-8)) + 1e-9)) + (1 if signed else 0)
        integer = int(np.clip(need + int(r.integers(-2, 2)), -3, width + 3))
        return FixedType(width, integer, signed, r.choice(list(Rounding)),
                         r.choice(list(Overflow)))

    def weight_type(self, magnitude: float) -> FixedType:
        """binary ({-1, 0} scaled, 1 bit), ternary ({-1, 0, 1}: 2 bits saturating
        symmetrically) or 2-8 bits."""
        kind = str(self.rng.choice(self.draws.weight_kinds))
        integer = int(np.ceil(np.log2(magnitude + 1e-9))) + 1
        if kind == "binary":
            return FixedType(1, integer, True, Rounding.RND, Overflow.SAT)
        if kind == "ternary":
            return FixedType(2, integer, True, Rounding.RND, Overflow.SAT_SYM)
        return self.fixed(magnitude, True, self.between(self.draws.weight_bits))

    def weighted_impl(self, layer: L.WeightedLayer, x_t: FixedType,
                      result: FixedType) -> LayerImpl:
        dr = self.draws
        w = self.weight_type(float(np.abs(layer.weight).max()) + 1e-6)
        b = self.fixed(float(np.abs(layer.bias).max()) + 1e-3, True, self.between((2, 10)))
        acc = lossless_accum(w, x_t, b, layer.terms)
        if self.chance(dr.p_lossy_accum):  # a narrow lossy accumulator
            r = self.rng
            acc = FixedType(max(2, acc.width - self.between((1, 5))),
                            acc.integer - self.between((0, 2)), True,
                            r.choice(list(Rounding)), r.choice(list(Overflow)))
        rf = 1 if self.chance(dr.p_rf1) else min(layer.terms, self.between((2, dr.max_rf)))
        return LayerImpl(result=result, weight=w, bias=b, accum=acc, reuse=rf,
                         multiplier=str(self.rng.choice(dr.multipliers)))

    def design(self, graph: Graph, x: np.ndarray) -> DesignPoint:
        import torch

        r, dr = self.rng, self.draws
        values = graph.forward(x, return_all=True, dtype=torch.float64)
        mag = {k: float(v.abs().max()) for k, v in values.items()}
        types = {"input": FixedType(self.between(dr.input_bits), 1,
                                    self.chance(dr.p_signed_input),
                                    r.choice(list(Rounding)), Overflow.SAT)}
        layers: dict[str, LayerImpl] = {}
        for layer in graph.layers[1:]:
            x_t = types[layer.inputs[0]]
            signed = not (isinstance(layer, L.ReLU) and self.chance(0.7))
            result = self.fixed(mag[layer.name], signed, self.between(dr.result_bits))
            if isinstance(layer, L.Flatten):
                impl = LayerImpl(result=x_t)
            elif isinstance(layer, L.WeightedLayer):
                impl = self.weighted_impl(layer, x_t, result)
            elif isinstance(layer, L.MaxPool2d):
                impl = LayerImpl(result=result,
                                 accum=self.fixed(mag[layer.name], x_t.signed,
                                                  self.between(dr.result_bits)))
            elif isinstance(layer, L.AvgPool2d):
                acc = lossless_avg_accum(x_t, layer.window)
                if self.chance(dr.p_lossy_avg_accum):
                    acc = FixedType(max(2, acc.width - self.between((1, 3))), acc.integer - 1,
                                    True, r.choice(list(Rounding)), r.choice(list(Overflow)))
                impl = LayerImpl(result=result, accum=acc)
            else:
                impl = LayerImpl(result=result)
            layers[layer.name] = impl
            types[layer.name] = impl.result
        return DesignPoint(input=types["input"], layers=layers,
                           clock_mhz=float(r.choice(dr.clock_mhz)),
                           device=str(r.choice(dr.devices)))


def mixed_net(seed: int, samples: int = 64, draws: Draws = DRAWS) -> MixedNet:
    """The random network of a seed (its types calibrated on 32 random inputs) and
    `samples` other random inputs, some beyond the input type's range."""
    gen = _Gen(seed, draws)
    family = str(gen.rng.choice(draws.families))
    graph = gen.graph(family)
    calib = np.random.default_rng([seed, 1]).uniform(-0.3, 1.3, (32,) + graph.input_shape)
    design = gen.design(graph, calib.astype(np.float32))
    x = np.random.default_rng([seed, 2]).uniform(-0.3, 1.3, (samples,) + graph.input_shape)
    return MixedNet(seed, family, QuantizedNet.from_float(graph, design), x.astype(np.float32))


def features(net: MixedNet) -> set[str]:
    """What a network exercises (the many-network test asserts its group covers them)."""
    from codesign.design import is_lossless_accum
    from codesign.rtl.network import plan_network

    q, d = net.qnet, net.qnet.design
    out = {net.family, "signed input" if d.input.signed else "unsigned input"}
    kinds = {layer.kind for layer in q.graph.layers}
    out |= {k for k in ("add", "maxpool2d", "avgpool2d", "globalavgpool2d", "relu")
            if k in kinds}
    for e in plan_network(q).engines:
        if e.module == "cs_graph_engine":
            out.add("adder graph")
    for layer in q.graph.weighted:
        impl = d[layer.name]
        assert impl.weight is not None
        w = q.weights[layer.name]
        out.add("rf 1" if impl.reuse == 1 else "rf > 1")
        out.add(f"multiplier {impl.multiplier}")
        if impl.reuse > 1:
            out.add(f"rf > 1, multiplier {impl.multiplier}")
        x_t = d.type_of(layer.inputs[0])
        if is_lossless_accum(impl, x_t, layer.terms):
            out.add("lossless accum")
        else:
            out.add("narrow accum" + (" at rf 1" if impl.reuse == 1 else " at rf > 1"))
        if impl.weight.width == 1:
            out.add("binary weights")
        elif impl.weight.width == 2 and impl.weight.overflow == Overflow.SAT_SYM:
            out.add("ternary weights")
        else:
            out.add("2-8-bit weights")
        if (w.reshape(w.shape[0], -1) == 0).all(axis=1).any():
            out.add("all-zero output channel")
        if (np.moveaxis(w, 1, 0).reshape(w.shape[1], -1) == 0).all(axis=1).any():
            out.add("unused input")
    return out
