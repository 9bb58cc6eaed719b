"""Random small networks with random per-layer types, for bit-exactness tests.

Each seed gives a Graph (random conv shapes, strides, padding, pooling, residual adds,
dense layers), random float weights and a DesignPoint whose types are drawn at random:
widths 2-16, signed and unsigned, TRN/RND rounding, WRAP/SAT overflow, integer bits
near (and sometimes below) the values' range so overflow happens, and some narrow lossy
accumulators. Pool accumulators stay valid for io_stream unless parallel_only is set
(then average pools get lossy accumulators and max pools narrower wrapping ones).
"""

from __future__ import annotations

import numpy as np

from codesign.design import DesignPoint, LayerImpl, lossless_accum, lossless_avg_accum
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.layers import pool_out
from codesign.qnet import QuantizedNet


class _Gen:
    def __init__(self, seed: int, parallel_only: bool) -> None:
        self.rng = np.random.default_rng(seed)
        self.residual = seed % 3 == 0  # every third network has a residual block
        self.parallel_only = parallel_only
        self.layers: list[L.Layer] = []
        self.count = 0

    # -- structure --------------------------------------------------------------------
    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}_{self.count}"

    def add(self, layer: L.Layer) -> str:
        self.layers.append(layer)
        return layer.name

    def conv(self, src: str, shape: tuple, cout: int, k: int, stride: int, pad: int) -> tuple:
        c, h, w = shape
        k = min(k, h + 2 * pad, w + 2 * pad)
        weight = self.rng.normal(0, 1 / np.sqrt(c * k * k), (cout, c, k, k))
        bias = self.rng.normal(0, 0.3, cout)
        out = (cout, pool_out(h, k, stride, pad), pool_out(w, k, stride, pad))
        name = self.add(L.Conv2d(self.name("conv"), (src,), out, weight=weight, bias=bias,
                                 stride=(stride, stride), padding=(pad, pad)))
        return name, out

    def build(self) -> Graph:
        r = self.rng
        shape = (int(r.integers(1, 4)), int(r.integers(5, 9)), int(r.integers(5, 9)))
        self.layers = [L.Input("input", (), shape)]
        src = "input"
        # first conv (a residual skip never comes straight from the model input)
        src, shape = self.conv(src, shape, int(r.integers(2, 7)), int(r.integers(1, 4)),
                               int(r.integers(1, 3)), int(r.integers(0, 2)))
        for _ in range(int(r.integers(1, 3))):
            choice = r.random()
            if choice < 0.35:
                src = self.add(L.ReLU(self.name("relu"), (src,), shape))
            if (self.residual or r.random() < 0.3) and min(shape[1:]) >= 3:  # residual
                self.residual = False
                mid, _ = self.conv(src, shape, shape[0], 3, 1, 1)
                if r.random() < 0.5:
                    mid = self.add(L.ReLU(self.name("relu"), (mid,), shape))
                mid2, _ = self.conv(mid, shape, shape[0], 1, 1, 0)
                src = self.add(L.Add(self.name("add"), (mid2, src), shape))
            elif r.random() < 0.6 and min(shape[1:]) >= 2:  # pooling
                k = int(r.integers(2, min(3, min(shape[1:])) + 1))
                s = int(r.integers(1, k + 1)) if self.parallel_only else k  # stream: s == k
                cls = L.MaxPool2d if r.random() < 0.5 else L.AvgPool2d
                out = (shape[0], pool_out(shape[1], k, s), pool_out(shape[2], k, s))
                src = self.add(cls(self.name(cls.kind), (src,), out, kernel=(k, k),
                                   stride=(s, s)))
                shape = out
            else:
                src, shape = self.conv(src, shape, int(r.integers(1, 6)),
                                       int(r.integers(1, 4)), int(r.integers(1, 3)),
                                       int(r.integers(0, 2)))
        if r.random() < 0.8:  # flatten + dense head (else the output is a conv map)
            if r.random() < 0.5:
                src = self.add(L.ReLU(self.name("relu"), (src,), shape))
            n = int(np.prod(shape))
            src = self.add(L.Flatten(self.name("flatten"), (src,), (n,)))
            for _ in range(int(r.integers(1, 3))):
                out = int(r.integers(2, 11))
                weight = r.normal(0, 1 / np.sqrt(n), (out, n))
                src = self.add(L.Dense(self.name("dense"), (src,), (out,), weight=weight,
                                       bias=r.normal(0, 0.3, out)))
                n = out
        return Graph(tuple(self.layers))

    # -- types ------------------------------------------------------------------------
    def fixed(self, magnitude: float, signed: bool, width: int | None = None,
              slack: int | None = None) -> FixedType:
        r = self.rng
        width = int(r.integers(2, 17)) if width is None else width
        need = int(np.ceil(np.log2(max(magnitude, 2.0**-8)) + 1e-9)) + (1 if signed else 0)
        slack = int(r.integers(-2, 2)) if slack is None else slack
        integer = int(np.clip(need + slack, -4, width + 4))
        return FixedType(width, integer, signed, r.choice([Rounding.TRN, Rounding.RND]),
                         r.choice([Overflow.WRAP, Overflow.SAT]))

    def design(self, graph: Graph, x: np.ndarray) -> DesignPoint:
        r = self.rng
        values = graph.forward(x, return_all=True, dtype=__import__("torch").float64)
        mag = {k: float(v.abs().max()) for k, v in values.items()}
        types: dict[str, FixedType] = {"input": FixedType(int(r.integers(4, 13)), 1,
                                                          bool(r.random() < 0.3),
                                                          r.choice(list(Rounding)[:2]),
                                                          Overflow.SAT)}
        layers: dict[str, LayerImpl] = {}
        for layer in graph.layers[1:]:
            x_t = types[layer.inputs[0]]
            signed = not (isinstance(layer, L.ReLU) or r.random() < 0.15)
            result = self.fixed(mag[layer.name], signed)
            if isinstance(layer, L.Flatten):
                impl = LayerImpl(result=x_t)
            elif isinstance(layer, L.WeightedLayer):
                w = self.fixed(float(np.abs(layer.weight).max()), True, int(r.integers(2, 11)),
                               0)
                b = self.fixed(float(np.abs(layer.bias).max()) + 1e-3, True,
                               int(r.integers(2, 13)), 0)
                acc = lossless_accum(w, x_t, b, layer.terms)
                if r.random() < 0.3:  # a narrow lossy accumulator
                    cut = int(r.integers(1, 7))
                    drop = int(r.integers(0, 4))
                    acc = FixedType(max(2, acc.width - cut), acc.integer - (cut - drop), True,
                                    r.choice([Rounding.TRN, Rounding.RND]),
                                    r.choice([Overflow.WRAP, Overflow.SAT]))
                impl = LayerImpl(result=result, weight=w, bias=b, accum=acc,
                                 reuse=1)
            elif isinstance(layer, L.MaxPool2d):
                acc = x_t
                if self.parallel_only:  # narrower and wrapping: max first, then the cast
                    acc = FixedType(max(2, x_t.width - 2), x_t.integer - 1, x_t.signed,
                                    Rounding.RND, Overflow.WRAP)
                elif r.random() < 0.3:  # wider, or narrower but saturating
                    acc = x_t.with_(width=x_t.width + 2, integer=x_t.integer + 1) if r.random(
                        ) < 0.5 else FixedType(max(2, x_t.width - 1), x_t.integer - 1,
                                               x_t.signed, x_t.rounding, Overflow.SAT)
                impl = LayerImpl(result=result, accum=acc)
            elif isinstance(layer, L.AvgPool2d):
                acc = lossless_avg_accum(x_t, layer.window)
                if self.parallel_only and r.random() < 0.7:
                    acc = FixedType(max(2, acc.width - int(r.integers(1, 4))), acc.integer - 1,
                                    True, r.choice([Rounding.TRN, Rounding.RND]),
                                    r.choice([Overflow.WRAP, Overflow.SAT]))
                impl = LayerImpl(result=result, accum=acc)
            else:
                impl = LayerImpl(result=result)
            layers[layer.name] = impl
            types[layer.name] = impl.result
        return DesignPoint(input=types["input"], layers=layers)


def random_qnet(seed: int, *, parallel_only: bool = False) -> tuple[QuantizedNet, np.ndarray]:
    """A random QuantizedNet and 1,000 random inputs for it (a few beyond its input range,
    so input saturation is exercised too)."""
    gen = _Gen(seed, parallel_only)
    graph = gen.build()
    x = gen.rng.uniform(-0.2, 1.2, (1000,) + graph.input_shape).astype(np.float32)
    design = gen.design(graph, x[:200])
    return QuantizedNet.from_float(graph, design), x


def set_strategies(qnet: QuantizedNet, seed: int) -> QuantizedNet:
    """Random Resource strategy / reuse factors hls4ml accepts, where the order of
    additions cannot matter (hls4ml's Resource order differs) and not on 1x1 convs (its
    io_parallel pointwise Resource conv is wrong): both refused by hls_checks."""
    from codesign.hls.checks import order_matters

    r = np.random.default_rng(seed + 7919)
    design = qnet.design
    for layer in qnet.graph.weighted:
        impl = design[layer.name]
        x_t = design.type_of(layer.inputs[0])
        if r.random() < 0.5:
            continue
        n_in, n_out = layer.terms, layer.out_channels
        valid = [rf for rf in range(1, min(n_in * n_out, 64) + 1)
                 if _valid_rf(n_in, n_out, rf)]
        rf = int(r.choice(valid))
        strategy = "resource" if r.random() < 0.5 else "latency"
        pointwise = isinstance(layer, L.Conv2d) and layer.kernel == (1, 1)
        if strategy == "resource" and rf > 1 and (order_matters(impl, x_t, n_in) or pointwise):
            strategy = "latency"
        design = design.with_layer(layer.name, reuse=rf, strategy=strategy)
    return QuantizedNet(qnet.graph, design, qnet.weights, qnet.biases)


def _valid_rf(n_in: int, n_out: int, rf: int) -> bool:
    """hls4ml's FPGABackend._validate_reuse_factor."""
    mult = min(n_in, rf)
    limit = -(-(n_in * n_out) // mult)
    ok = (limit % n_out == 0) or rf >= n_in
    ok = ok and (rf % n_in == 0 or rf < n_in)
    return ok and (n_in * n_out) % rf == 0


def stress_qnet(kind: str) -> tuple[QuantizedNet, np.ndarray]:
    """Networks built to hit the order- and rounding-sensitive rules hard.

    'order': saturating accumulators one bit narrower than the sums need, with result
    types as fine as the accumulators, so partial sums saturate often and the order of
    additions shows (conv windows (kh, kw, c); dense after flatten in torch order).
    'avgpool': 3x3 average pools (division by 9 truncates) on signed inputs, one with a
    lossless accumulator, one with a narrow rounding/saturating one (io_parallel only).
    """
    import math

    import torch

    rng = np.random.default_rng(1234 if kind == "order" else 4321)
    c, h, w = (3, 6, 6)
    conv_w = rng.normal(0, 0.5, (4, c, 3, 3))
    layers: list[L.Layer] = [L.Input("input", (), (c, h, w)),
                             L.Conv2d("conv", ("input",), (4, h, w), weight=conv_w,
                                      bias=rng.normal(0, 0.3, 4), padding=(1, 1))]
    if kind == "order":
        layers.append(L.Flatten("flatten", ("conv",), (4 * h * w,)))
        layers.append(L.Dense("dense", ("flatten",), (6,),
                              weight=rng.normal(0, 0.3, (6, 4 * h * w)),
                              bias=rng.normal(0, 0.3, 6)))
    elif kind == "avgpool":
        layers.append(L.AvgPool2d("pool_exact", ("conv",), (4, h - 2, w - 2), kernel=(3, 3),
                                  stride=(1, 1)))
        layers.append(L.AvgPool2d("pool_lossy", ("pool_exact",), (4, h - 4, w - 4),
                                  kernel=(3, 3), stride=(1, 1)))
        n = 4 * (h - 4) * (w - 4)
        layers.append(L.Flatten("flatten", ("pool_lossy",), (n,)))
        layers.append(L.Dense("dense", ("flatten",), (5,), weight=rng.normal(0, 0.5, (5, n)),
                              bias=rng.normal(0, 0.3, 5)))
    else:
        raise ValueError(kind)
    graph = Graph(tuple(layers))
    x = rng.uniform(-1, 1, (1000, c, h, w)).astype(np.float32)
    values = graph.forward(x[:300], return_all=True, dtype=torch.float64)
    x_t = FixedType(10, 1, True, Rounding.RND, Overflow.SAT)
    design_layers: dict[str, LayerImpl] = {}
    types = {"input": x_t}
    for layer in graph.layers[1:]:
        src = types[layer.inputs[0]]
        if isinstance(layer, L.WeightedLayer):
            wt = FixedType(8, 1, True, Rounding.RND, Overflow.SAT)
            bt = FixedType(10, 1, True, Rounding.RND, Overflow.SAT)
            need = math.ceil(math.log2(float(values[layer.name].abs().max()))) + 1
            frac = wt.frac + src.frac
            acc = FixedType(need - 1 + frac, need - 1, True, Rounding.TRN, Overflow.SAT)
            if kind == "order":
                impl = LayerImpl(result=acc, weight=wt, bias=bt, accum=acc)
            else:
                impl = LayerImpl(result=FixedType(12, 4, True, Rounding.RND, Overflow.SAT),
                                 weight=wt, bias=bt, accum=lossless_accum(wt, src, bt,
                                                                          layer.terms))
        elif isinstance(layer, L.AvgPool2d):
            acc = lossless_avg_accum(src, layer.window)
            if layer.name == "pool_lossy":
                acc = FixedType(src.width - 2, src.integer + 1, True, Rounding.RND, Overflow.SAT)
            impl = LayerImpl(result=FixedType(14, 3, True, Rounding.TRN, Overflow.WRAP),
                             accum=acc)
        else:
            impl = LayerImpl(result=src)
        design_layers[layer.name] = impl
        types[layer.name] = impl.result
    design = DesignPoint(input=x_t, layers=design_layers)
    return QuantizedNet.from_float(graph, design), x
