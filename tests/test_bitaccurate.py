"""The bit-accurate model against independent references.

Two references that share nothing with codesign/bitaccurate.py but FixedType:
- lossless designs: exact float64 torch arithmetic on the on-grid real values (all values
  are small integers times powers of two, so float64 is exact), cast once to the result;
- lossy accumulators: scalar Python loops over the terms in hls4ml's order.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from codesign import bitaccurate as ba
from codesign import qnet as qnet_module
from codesign.design import DesignPoint, LayerImpl, lossless_accum, lossless_avg_accum
from codesign.errors import DesignError
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.ir import Graph
from codesign.qnet import QuantizedNet

ROUNDINGS = list(Rounding)
OVERFLOWS = list(Overflow)


def random_type(rng: np.random.Generator, lo: int = 2, hi: int = 10,
                signed: bool | None = None) -> FixedType:
    width = int(rng.integers(lo, hi + 1))
    return FixedType(width, int(rng.integers(-1, width + 2)),
                     bool(rng.integers(2)) if signed is None else signed,
                     ROUNDINGS[rng.integers(len(ROUNDINGS))],
                     OVERFLOWS[rng.integers(len(OVERFLOWS))])


class Net(nn.Module):
    """conv(stride/pad) -> relu -> maxpool -> conv -> add(skip) -> avgpool -> flatten -> dense."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(2, 3, 3, stride=1, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.c2 = nn.Conv2d(3, 3, 3, padding=1)
        self.avg = nn.AvgPool2d(3, stride=1)
        self.fc = nn.Linear(3 * 2 * 2, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.c1(x)))
        x = self.c2(x) + x
        return self.fc(torch.flatten(self.avg(x), 1))


def random_design(graph: Graph, rng: np.random.Generator, *, lossless: bool) -> DesignPoint:
    types = {"input": random_type(rng)}
    layers = {}
    for layer in graph.layers[1:]:
        x_t = types[layer.inputs[0]]
        result = random_type(rng)
        if layer.kind in ("conv2d", "dense"):
            w, b = random_type(rng, signed=True), random_type(rng, signed=True)
            acc = lossless_accum(w, x_t, b, layer.terms) if lossless else random_type(rng, 6, 20)
            impl = LayerImpl(result=result, weight=w, bias=b, accum=acc)
        elif layer.kind == "maxpool2d":
            impl = LayerImpl(result=result, accum=random_type(rng) if not lossless else x_t)
        elif layer.kind == "avgpool2d":
            acc = lossless_avg_accum(x_t, layer.window) if lossless else random_type(rng, 6, 14)
            impl = LayerImpl(result=result, accum=acc)
        elif layer.kind == "flatten":
            impl = LayerImpl(result=x_t)
        else:
            impl = LayerImpl(result=result)
        layers[layer.name] = impl
        types[layer.name] = impl.result
    return DesignPoint(input=types["input"], layers=layers)


def scaled_weights(graph: Graph, rng: np.random.Generator) -> Graph:
    """Weights spread over a few octaves so narrow types see rounding and overflow."""
    model = Net()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.as_tensor(rng.normal(0, 2.0, p.shape)))
    return Graph.from_torch(model, graph.input_shape)


def exact_reference(q: QuantizedNet, x: np.ndarray) -> dict[str, np.ndarray]:
    """Lossless designs: exact real arithmetic in float64, one cast per layer output."""
    d = q.design
    vals = {"input": torch.as_tensor(d.input.quantize(x))}
    fw = q.float_weights()
    for layer in q.graph.layers[1:]:
        impl, xin = d[layer.name], [vals[i] for i in layer.inputs]
        if layer.kind == "conv2d":
            w, b = (torch.as_tensor(a) for a in fw[layer.name])
            y = F.conv2d(xin[0], w, b, stride=layer.stride, padding=layer.padding)
        elif layer.kind == "dense":
            w, b = (torch.as_tensor(a) for a in fw[layer.name])
            y = F.linear(xin[0], w, b)
        elif layer.kind == "relu":
            y = torch.relu(xin[0])
        elif layer.kind == "maxpool2d":
            y = F.max_pool2d(xin[0], layer.kernel, layer.stride)
        elif layer.kind == "avgpool2d":
            # sum exactly, then C-style truncating division on the accumulator's grid
            s = F.avg_pool2d(xin[0], layer.kernel, layer.stride) * layer.window
            m = s.numpy() / impl.accum.lsb
            y = torch.as_tensor(np.trunc(m / layer.window) * impl.accum.lsb)
        elif layer.kind == "add":
            y = xin[0] + xin[1]
        else:
            y = torch.flatten(xin[0], 1)
        vals[layer.name] = torch.as_tensor(impl.result.quantize(y.numpy()))
    return {k: (v.numpy() / d.type_of(k).lsb).round().astype(np.int64) for k, v in vals.items()}


@pytest.mark.parametrize("seed", range(12))
def test_lossless_designs_equal_exact_arithmetic(seed: int) -> None:
    rng = np.random.default_rng(seed)
    graph = scaled_weights(Graph.from_torch(Net(), (2, 8, 8)), rng)
    q = QuantizedNet.from_float(graph, random_design(graph, rng, lossless=True))
    x = rng.normal(0, 3, (16, 2, 8, 8))
    got = q.forward_int(x, return_all=True)
    want = exact_reference(q, x)
    for name in graph.names:
        np.testing.assert_array_equal(got[name], want[name], err_msg=f"layer {name}")


def _scalar_mac(cols: list[int], ws: list[int], bias: int, x_t: FixedType, impl: LayerImpl
                ) -> int:
    acc = impl.accum
    p_frac = impl.weight.frac + x_t.frac
    total = int(acc.cast_int(np.array([bias]), impl.bias.frac)[0])
    for c, w in zip(cols, ws, strict=True):
        p = int(acc.cast_int(np.array([c * w]), p_frac)[0])
        total = int(acc.cast_int(np.array([total + p]), acc.frac)[0])
    return int(impl.result.cast_int(np.array([total]), acc.frac)[0])


@pytest.mark.parametrize("seed", range(6))
def test_lossy_accumulator_follows_hls4ml_order(seed: int) -> None:
    """Products cast to accum_t, the bias first, saturation after every add, (kh, kw, c)."""
    rng = np.random.default_rng(100 + seed)
    conv = nn.Conv2d(2, 2, 2, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.as_tensor(rng.normal(0, 2, conv.weight.shape)))
        conv.bias.copy_(torch.as_tensor(rng.normal(0, 2, 2)))
    graph = Graph.from_torch(nn.Sequential(conv), (2, 3, 3))
    x_t = random_type(rng, 3, 6)
    name = graph.names[1]
    impl = LayerImpl(result=random_type(rng, 4, 8), weight=random_type(rng, 3, 6, True),
                     bias=random_type(rng, 3, 6, True),
                     accum=FixedType(int(rng.integers(5, 9)), int(rng.integers(2, 5)), True,
                                     ROUNDINGS[seed % 7], OVERFLOWS[seed % 4]))
    q = QuantizedNet.from_float(graph, DesignPoint(input=x_t, layers={name: impl}))
    x = rng.normal(0, 3, (3, 2, 3, 3))
    got = q.forward_int(x)
    xm = np.pad(x_t.to_int(x), ((0, 0), (0, 0), (1, 1), (1, 1)))
    w, b = q.weights[name], q.biases[name]
    for n in range(3):
        for o in range(2):
            for i in range(4):
                for j in range(4):
                    cols = [int(xm[n, c, i + a, j + e]) for a in range(2) for e in range(2)
                            for c in range(2)]
                    ws = [int(w[o, c, a, e]) for a in range(2) for e in range(2) for c in range(2)]
                    want = _scalar_mac(cols, ws, int(b[o]), x_t, impl)
                    assert got[n, o, i, j] == want, (n, o, i, j)


@pytest.mark.parametrize("seed", range(3))
def test_dense_on_a_sequence_sums_each_position_in_order(seed: int) -> None:
    """A Linear over a sequence's last axis (torch's rule): each position is one vector
    whose terms are summed in order, as the lossy accumulator test above."""
    rng = np.random.default_rng(200 + seed)
    dense = nn.Linear(4, 3)
    with torch.no_grad():
        dense.weight.copy_(torch.as_tensor(rng.normal(0, 2, dense.weight.shape)))
        dense.bias.copy_(torch.as_tensor(rng.normal(0, 2, 3)))
    graph = Graph.from_torch(nn.Sequential(dense), (2, 4))
    x_t, name = random_type(rng, 3, 6), graph.names[1]
    impl = LayerImpl(result=random_type(rng, 4, 8), weight=random_type(rng, 3, 6, True),
                     bias=random_type(rng, 3, 6, True),
                     accum=FixedType(int(rng.integers(5, 9)), int(rng.integers(2, 5)), True,
                                     ROUNDINGS[seed % 7], OVERFLOWS[seed % 4]))
    q = QuantizedNet.from_float(graph, DesignPoint(input=x_t, layers={name: impl}))
    x = rng.normal(0, 3, (3, 2, 4))
    got, xm = q.forward_int(x), x_t.to_int(x)
    w, b = q.weights[name], q.biases[name]
    assert got.shape == (3, 2, 3)
    for n in range(3):
        for p in range(2):
            for o in range(3):
                want = _scalar_mac([int(v) for v in xm[n, p]], [int(v) for v in w[o]],
                                   int(b[o]), x_t, impl)
                assert got[n, p, o] == want, (n, p, o)


def test_lossless_accum_formula_is_lossless() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        w, x, b = random_type(rng), random_type(rng), random_type(rng)
        terms = int(rng.integers(1, 600))
        impl = LayerImpl(result=x, weight=w, bias=b, accum=lossless_accum(w, x, b, terms))
        from codesign.design import is_lossless_accum

        assert is_lossless_accum(impl, x, terms), (w, x, b, terms)
        bits = w.width + x.width + math.ceil(math.log2(terms)) + 1
        assert impl.accum.width <= max(bits, b.width + 2) + abs(w.frac + x.frac - b.frac) + 1


def test_too_wide_for_int64_is_refused() -> None:
    graph = Graph.from_torch(nn.Sequential(nn.Linear(300, 2)), (300,))
    name = graph.names[1]
    wide = FixedType(40, 4)
    impl = LayerImpl(result=FixedType(8, 4), weight=wide, bias=FixedType(8, 4),
                     accum=FixedType(60, 20))
    with pytest.raises(DesignError, match="64|62-bit integers"):
        QuantizedNet.from_float(graph, DesignPoint(input=FixedType(30, 2), layers={name: impl}))


def test_wrong_input_shape_is_refused() -> None:
    graph = Graph.from_torch(nn.Sequential(nn.Linear(3, 2)), (3,))
    name = graph.names[1]
    w = FixedType(8, 2)
    impl = LayerImpl(result=w, weight=w, bias=w, accum=lossless_accum(w, w, w, 3))
    q = QuantizedNet.from_float(graph, DesignPoint(input=w, layers={name: impl}))
    with pytest.raises(Exception, match=r"shape \[4\] per sample"):
        q.forward_int(np.zeros((2, 4)))


def saturating(graph: Graph, design: DesignPoint, rng: np.random.Generator) -> DesignPoint:
    """The design with every result and pool accumulator saturating (SAT or SAT_SYM), so
    the conv -> ReLU -> max pool chain may run fused (a flatten keeps its input's type)."""
    def sat(t: FixedType | None) -> FixedType | None:
        return None if t is None else replace(t, overflow=(Overflow.SAT, Overflow.SAT_SYM)[
            int(rng.integers(2))])
    types, layers = {"input": design.input}, {}
    for layer in graph.layers[1:]:
        impl = design[layer.name]
        result = types[layer.inputs[0]] if layer.kind == "flatten" else sat(impl.result)
        layers[layer.name] = replace(impl, result=result, accum=sat(impl.accum)
                                     if impl.weight is None else impl.accum)
        types[layer.name] = result
    return replace(design, layers=layers)


@pytest.mark.parametrize("seed", range(16))
def test_fused_conv_relu_maxpool_equals_layer_by_layer(seed: int) -> None:
    """forward_int fuses conv -> ReLU -> max pool (window max first) only where that gives
    the integers of the layer-by-layer run (return_all) and of the exact reference."""
    rng = np.random.default_rng(300 + seed)
    graph = scaled_weights(Graph.from_torch(Net(), (2, 8, 8)), rng)
    lossless = seed % 2 == 0
    design = random_design(graph, rng, lossless=lossless)
    if seed % 4 < 2:
        design = saturating(graph, design, rng)
    q = QuantizedNet.from_float(graph, design)
    chains = q.fused_chains()
    if seed % 4 < 2:
        assert {c: (r.name, p.name) for c, (r, p) in chains.items()} == {"c1": ("relu", "pool")}
    x = rng.normal(0, 3, (16, 2, 8, 8))
    fused = q.forward_int(x)
    layered = q.forward_int(x, return_all=True)
    np.testing.assert_array_equal(fused, layered[graph.output.name])
    if lossless:
        np.testing.assert_array_equal(fused, exact_reference(q, x)[graph.output.name])


def test_fusion_needs_order_keeping_casts_and_sole_consumers() -> None:
    rng = np.random.default_rng(5)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(8, 3))
    graph = Graph.from_torch(model, (1, 4, 4))
    design = saturating(graph, random_design(graph, rng, lossless=True), rng)
    q = QuantizedNet.from_float(graph, design)
    assert {c: (r, p.name) for c, (r, p) in q.fused_chains().items()} == {
        "conv2d_0": (None, "maxpool2d_1")}
    x = rng.normal(0, 2, (8, 1, 4, 4))
    np.testing.assert_array_equal(q.forward_int(x), q.forward_int(x, return_all=True)[
        graph.output.name])
    for overflow in (Overflow.WRAP, Overflow.SAT_ZERO):  # not order-preserving: no fusion
        conv = design["conv2d_0"]
        bad = replace(design, layers={**design.layers, "conv2d_0": replace(
            conv, result=replace(conv.result, overflow=overflow))})
        assert QuantizedNet.from_float(graph, bad).fused_chains() == {}


def test_cast_skips_work_only_where_the_type_holds_its_input() -> None:
    rng = np.random.default_rng(11)
    skipped = 0
    for _ in range(400):
        src = random_type(rng, 1, 8)
        dst = (replace(src, width=src.width + int(rng.integers(0, 2)),
                       integer=src.integer + int(rng.integers(0, 2)),
                       signed=src.signed or bool(rng.integers(2)),
                       overflow=OVERFLOWS[rng.integers(len(OVERFLOWS))])
               if rng.integers(2) else random_type(rng, 1, 8))
        m = rng.integers(src.min_int, src.max_int + 1, size=64)
        want = dst.cast_int(m, src.frac)
        np.testing.assert_array_equal(ba.cast(dst, m, src), want, err_msg=f"{src} -> {dst}")
        skipped += ba.holds_exactly(dst, src)
    assert 40 < skipped < 360


def test_big_batches_run_in_chunks_with_the_same_integers(monkeypatch) -> None:
    rng = np.random.default_rng(21)
    graph = scaled_weights(Graph.from_torch(Net(), (2, 8, 8)), rng)
    design = saturating(graph, random_design(graph, rng, lossless=True), rng)
    x = rng.normal(0, 3, (37, 2, 8, 8))
    whole = QuantizedNet.from_float(graph, design).forward_int(x)
    monkeypatch.setattr(qnet_module, "CHUNK_ELEMENTS", 5000)  # c1: 1,152 per sample -> 4
    q = QuantizedNet.from_float(graph, design)
    assert q._chunk == 4
    np.testing.assert_array_equal(q.forward_int(x), whole)
    np.testing.assert_array_equal(q.forward_int(x), q.forward_int(x, return_all=True)[
        graph.output.name])
