"""Random small networks for the RTL tests: random shapes (conv with stride and padding,
max/avg pooling, residual adds, standalone and fused ReLUs, flatten + dense heads),
random types over every rounding and overflow mode, narrow lossy accumulators, random
reuse factors and multiplier styles."""

from __future__ import annotations

import numpy as np

from codesign.design import DesignPoint, LayerImpl, lossless_accum, lossless_avg_accum
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.layers import pool_out
from codesign.qnet import QuantizedNet


class _Gen:
    def __init__(self, seed: int, graphs: bool = False) -> None:
        self.rng = np.random.default_rng(seed)
        self.graphs = graphs  # every weighted layer an adder graph (RF 1, lossless)
        self.layers: list[L.Layer] = []
        self.count = 0

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}_{self.count}"

    def add(self, layer: L.Layer) -> str:
        self.layers.append(layer)
        return layer.name

    def conv(self, src: str, shape: tuple, cout: int, k: int, stride: int, pad: int):
        c, h, w = shape
        k = min(k, h + 2 * pad, w + 2 * pad)
        weight = self.rng.normal(0, 1 / np.sqrt(c * k * k), (cout, c, k, k))
        if self.rng.random() < 0.5:  # some zero weights: pruned shift-add terms
            weight[self.rng.random(weight.shape) < 0.3] = 0.0
        if self.graphs and self.rng.random() < 0.5:  # an all-zero output channel
            weight[self.rng.integers(cout)] = 0.0
        out = (cout, pool_out(h, k, stride, pad), pool_out(w, k, stride, pad))
        name = self.add(L.Conv2d(self.name("conv"), (src,), out, weight=weight,
                                 bias=self.rng.normal(0, 0.3, cout),
                                 stride=(stride, stride), padding=(pad, pad)))
        return name, out

    def build(self, residual: bool) -> Graph:
        r = self.rng
        shape = (int(r.integers(1, 4)), int(r.integers(5, 8)), int(r.integers(5, 8)))
        self.layers = [L.Input("input", (), shape)]
        src, shape = self.conv("input", shape, int(r.integers(2, 6)), int(r.integers(1, 4)),
                               int(r.integers(1, 3)), int(r.integers(0, 2)))
        if r.random() < 0.7:
            src = self.add(L.ReLU(self.name("relu"), (src,), shape))
        if residual and min(shape[1:]) >= 3:
            mid, _ = self.conv(src, shape, shape[0], 3, 1, 1)
            mid = self.add(L.ReLU(self.name("relu"), (mid,), shape))
            mid2, _ = self.conv(mid, shape, shape[0], 1, 1, 0)
            src = self.add(L.Add(self.name("add"), (mid2, src), shape))
            src = self.add(L.ReLU(self.name("relu"), (src,), shape))
        if min(shape[1:]) >= 2:
            k = int(r.integers(2, min(3, min(shape[1:])) + 1))
            s = int(r.integers(1, k + 1))
            cls = L.MaxPool2d if r.random() < 0.5 else L.AvgPool2d
            out = (shape[0], pool_out(shape[1], k, s), pool_out(shape[2], k, s))
            src = self.add(cls(self.name(cls.kind), (src,), out, kernel=(k, k), stride=(s, s)))
            shape = out
        n = int(np.prod(shape))
        src = self.add(L.Flatten(self.name("flatten"), (src,), (n,)))
        for _ in range(int(r.integers(1, 3))):
            out_f = int(r.integers(2, 8))
            src = self.add(L.Dense(self.name("dense"), (src,), (out_f,),
                                   weight=r.normal(0, 1 / np.sqrt(n), (out_f, n)),
                                   bias=r.normal(0, 0.3, out_f)))
            n = out_f
        return Graph(tuple(self.layers))

    def fixed(self, magnitude: float, signed: bool, width: int | None = None) -> FixedType:
        r = self.rng
        width = int(r.integers(3, 13)) if width is None else width
        need = int(np.ceil(np.log2(max(magnitude, 2.0**-8)) + 1e-9)) + (1 if signed else 0)
        integer = int(np.clip(need + int(r.integers(-2, 2)), -3, width + 3))
        return FixedType(width, integer, signed, r.choice(list(Rounding)),
                         r.choice(list(Overflow)))

    def design(self, graph: Graph, x: np.ndarray) -> DesignPoint:
        import torch

        r = self.rng
        values = graph.forward(x, return_all=True, dtype=torch.float64)
        mag = {k: float(v.abs().max()) for k, v in values.items()}
        types = {"input": FixedType(int(r.integers(4, 10)), 1, bool(r.random() < 0.5),
                                    r.choice(list(Rounding)), Overflow.SAT)}
        layers: dict[str, LayerImpl] = {}
        for layer in graph.layers[1:]:
            x_t = types[layer.inputs[0]]
            signed = not (isinstance(layer, L.ReLU) and r.random() < 0.7)
            result = self.fixed(mag[layer.name], signed)
            if isinstance(layer, L.Flatten):
                impl = LayerImpl(result=x_t)
            elif isinstance(layer, L.WeightedLayer) and self.graphs:
                impl = self._graph_impl(layer, x_t, result)
            elif isinstance(layer, L.WeightedLayer):
                w = self.fixed(float(np.abs(layer.weight).max()), True, int(r.integers(2, 9)))
                b = self.fixed(float(np.abs(layer.bias).max()) + 1e-3, True,
                               int(r.integers(2, 11)))
                acc = lossless_accum(w, x_t, b, layer.terms)
                if r.random() < 0.35:  # a narrow lossy accumulator
                    cut = int(r.integers(1, 6))
                    acc = FixedType(max(2, acc.width - cut), acc.integer - int(r.integers(0, 3)),
                                    True, r.choice(list(Rounding)), r.choice(list(Overflow)))
                rf = 1 if r.random() < 0.4 else int(r.integers(2, min(layer.terms, 6) + 1))
                impl = LayerImpl(result=result, weight=w, bias=b, accum=acc, reuse=rf,
                                 multiplier=str(r.choice(["auto", "lut", "dsp"])))
            elif isinstance(layer, L.MaxPool2d):
                impl = LayerImpl(result=result, accum=self.fixed(mag[layer.name], x_t.signed))
            elif isinstance(layer, L.AvgPool2d):
                acc = lossless_avg_accum(x_t, layer.window)
                if r.random() < 0.5:
                    acc = FixedType(max(2, acc.width - int(r.integers(1, 4))), acc.integer - 1,
                                    True, r.choice(list(Rounding)), r.choice(list(Overflow)))
                impl = LayerImpl(result=result, accum=acc)
            else:
                impl = LayerImpl(result=result)
            layers[layer.name] = impl
            types[layer.name] = impl.result
        return DesignPoint(input=types["input"], layers=layers)


    def _graph_impl(self, layer: L.WeightedLayer, x_t: FixedType, result: FixedType):
        """RF 1 with the lossless accumulator: an adder graph, weights binary ({-1, 0}
        scaled, 1 bit), ternary ({-1, 0, 1}: 2 bits saturating symmetrically) or 2-8 bits."""
        r = self.rng
        mag = float(np.abs(layer.weight).max())
        kind = r.integers(3)
        integer = int(np.ceil(np.log2(mag + 1e-9))) + 1
        if kind == 0:
            w = FixedType(1, integer, True, Rounding.RND, Overflow.SAT)
        elif kind == 1:
            w = FixedType(2, integer, True, Rounding.RND, Overflow.SAT_SYM)
        else:
            w = self.fixed(mag, True, int(r.integers(2, 9)))
        b = self.fixed(float(np.abs(layer.bias).max()) + 1e-3, True, int(r.integers(2, 11)))
        return LayerImpl(result=result, weight=w, bias=b,
                         accum=lossless_accum(w, x_t, b, layer.terms), reuse=1,
                         multiplier=str(r.choice(["auto", "lut"])))


def random_qnet(seed: int, residual: bool = False,
                graphs: bool = False) -> tuple[QuantizedNet, np.ndarray]:
    """A random QuantizedNet and 300 random inputs (some beyond the input range); with
    graphs, every conv and dense layer is an adder graph."""
    gen = _Gen(seed, graphs)
    graph = gen.build(residual)
    x = gen.rng.uniform(-0.3, 1.3, (300,) + graph.input_shape).astype(np.float32)
    design = gen.design(graph, x[:100])
    return QuantizedNet.from_float(graph, design), x
