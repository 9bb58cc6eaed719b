"""Which streams Yosys can fold to constants: value ranges from the types alone.

A cast whose output type cannot tell apart any two values its input type can hold (a
result grid coarser than the whole input range, a saturation every input hits) gives a
constant stream; Yosys folds it and everything that only feeds it. The ranges here are
what the widths tell (a weighted layer's sum spans its accumulator type unless its input
is constant), never sampled values nor weight-exact bounds: a stream that is constant
only on the data, or only by arithmetic Yosys does not do, is kept, as Yosys keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from codesign import bitaccurate as ba
from codesign.design import is_lossless_accum
from codesign.fixed import FixedType, Overflow
from codesign.ir import layers as L
from codesign.ir.registry import LayerRegistry
from codesign.qnet import QuantizedNet

Range = tuple[np.ndarray, np.ndarray]  # per-channel lowest and highest mantissa


def cast_range(dst: FixedType, lo: np.ndarray, hi: np.ndarray, frac: int) -> Range:
    """The range of dst.cast_int over [lo, hi] (mantissas at frac): rounding keeps order;
    saturation too; a wrap or SAT_ZERO that can overflow spans the whole type, unless
    the cast appends at least the output's width of zeros: every bit it keeps is one of
    them, so it is 0 whatever the input (cs_cast: `v[OW-1:0]` or 0)."""
    lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    if dst.overflow in (Overflow.SAT, Overflow.SAT_SYM):
        return dst.cast_int(lo, frac), dst.cast_int(hi, frac)
    if dst.frac - frac >= dst.width:
        return np.zeros_like(lo), np.zeros_like(hi)
    wide = replace(dst, width=62, integer=62 - dst.frac, overflow=Overflow.SAT)
    r_lo, r_hi = wide.cast_int(lo, frac), wide.cast_int(hi, frac)
    inside = (r_lo >= dst.min_int) & (r_hi <= dst.max_int)
    return (np.where(inside, r_lo, dst.min_int), np.where(inside, r_hi, dst.max_int))


def _weighted(qnet: QuantizedNet, layer: L.WeightedLayer, x: Range, xt: FixedType) -> Range:
    impl = qnet.design[layer.name]
    assert impl.weight is not None and impl.bias is not None and impl.accum is not None
    acc = impl.accum
    n = layer.out_channels
    w = ba.weight_matrix(layer, qnet.weights[layer.name]).astype(np.int64)  # (terms, out)
    up = acc.frac - impl.bias.frac
    b = np.asarray(qnet.biases[layer.name], dtype=np.int64)
    bias = b << up if up >= 0 else b >> -up
    # an RF 1 output without a nonzero weight is its bias (no product to keep); at RF > 1
    # its accumulator loop stays
    alone = ~np.any(w != 0, axis=0) & (impl.reuse == 1)
    const = cast_range(impl.result, bias, bias, acc.frac)

    def whole() -> Range:
        r = cast_range(impl.result, np.full(n, acc.min_int), np.full(n, acc.max_int),
                       acc.frac)
        return np.where(alone, const[0], r[0]), np.where(alone, const[1], r[1])

    if not is_lossless_accum(impl, xt, layer.terms):
        return whole()
    if np.any(x[0] != x[1]) or impl.reuse > 1:
        # Yosys does not bound a sum of products by its weights, nor see that an
        # accumulator loop (RF > 1) over a constant input holds a constant: only the
        # accumulator's width tells it anything
        return whole()
    lo, hi = int(x[0].min()), int(x[1].max())
    if max(layer.geometry.padding) > 0:  # padded windows also read zeros
        lo, hi = min(lo, 0), max(hi, 0)
    s_lo = np.minimum(w * lo, w * hi).sum(axis=0)
    s_hi = np.maximum(w * lo, w * hi).sum(axis=0)
    shift = acc.frac - impl.weight.frac - xt.frac
    return cast_range(impl.result, (s_lo << shift) + bias, (s_hi << shift) + bias, acc.frac)


def cast_zeros(dst: FixedType, z: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               frac: int) -> np.ndarray:
    """Low bits always 0 after dst.cast_int of values with z low zero bits in [lo, hi]
    (at frac): a finer grid appends zeros, a coarser one drops them (a dropped bit that
    can be 1 lets the rounding set any bit); a saturation that can happen gives its
    bounds (no zero bits); SAT_ZERO's 0 and a wrap keep them."""
    d = dst.frac - frac
    z = np.where(z + d >= 0, z + d, 0) if d < 0 else z + d
    if dst.overflow in (Overflow.SAT, Overflow.SAT_SYM):
        wide = replace(dst, width=62, integer=62 - dst.frac)
        r_lo, r_hi = wide.cast_int(lo, frac), wide.cast_int(hi, frac)
        z = np.where((r_lo >= dst.min_int) & (r_hi <= dst.max_int), z, 0)
    return np.minimum(z, dst.width)


def type_ranges(qnet: QuantizedNet) -> dict[str, Range]:
    """Per layer, per output channel: the lowest and highest mantissa its type allows."""
    return _analyse(qnet)[0]


def low_zeros(qnet: QuantizedNet) -> dict[str, np.ndarray]:
    """Per layer, per output channel: how many low bits of its field are always 0 (zeros a
    cast appended, carried through the layers that keep the grid)."""
    return _analyse(qnet)[1]


def _analyse(qnet: QuantizedNet) -> tuple[dict[str, Range], dict[str, np.ndarray]]:
    d, g = qnet.design, qnet.graph
    t = d.input
    c = g.input.out_shape[0]
    out: dict[str, Range] = {"input": (np.full(c, t.min_int), np.full(c, t.max_int))}
    zeros: dict[str, np.ndarray] = {"input": np.zeros(c, dtype=np.int64)}
    readers: dict[str, int] = {}
    for layer in g.layers[1:]:
        for src in layer.inputs:
            readers[src] = readers.get(src, 0) + 1

    def read(src: str) -> Range:
        """A stream read by several layers reaches each through a fork FIFO (rtl
        _insert_forks), whose memory holds unknown bits until written: any value of its
        type."""
        if readers[src] < 2:
            return out[src]
        st = d.type_of(src)
        n = len(out[src][0])
        return np.full(n, st.min_int), np.full(n, st.max_int)

    def read_z(src: str) -> np.ndarray:
        return zeros[src] if readers[src] < 2 else np.zeros_like(zeros[src])

    for layer in g.layers[1:]:
        ins = [Operand(read(src), d.type_of(src), read_z(src)) for src in layer.inputs]
        r, z = RANGES(layer)(layer, qnet, ins)
        out[layer.name] = r
        zeros[layer.name] = z
    return out, zeros


# -- the rules by kind ------------------------------------------------------------------
@dataclass(frozen=True)
class Operand:
    """One input stream of a layer as the analysis sees it."""

    r: Range  # per channel, its lowest and highest mantissa
    t: FixedType
    z: np.ndarray  # per channel, its low bits always 0


RangeRule = Callable[[Any, QuantizedNet, list[Operand]], tuple[Range, np.ndarray]]
RANGES: LayerRegistry[RangeRule] = LayerRegistry("the constant-stream analysis", __name__)
"""Per kind: (layer, qnet, its operands) -> its output's range and low zero bits."""
RANGES.skip(L.Input, "the input spans its whole type; _analyse starts from it")
RANGES.skip(L.BatchNorm, "folded into the conv by fold_batchnorm before quantization")


@RANGES.rule(L.WeightedLayer)
def _weighted_rule(layer: L.WeightedLayer, qnet: QuantizedNet, ins: list[Operand]
                   ) -> tuple[Range, np.ndarray]:
    impl, n = qnet.design[layer.name], layer.out_shape[0]
    acc = impl.accum
    assert acc is not None
    z = cast_zeros(impl.result, np.zeros(n, dtype=np.int64), np.full(n, acc.min_int),
                   np.full(n, acc.max_int), acc.frac)
    return _weighted(qnet, layer, ins[0].r, ins[0].t), z


@RANGES.rule(L.ReLU)
def _relu(layer: L.ReLU, qnet: QuantizedNet, ins: list[Operand]) -> tuple[Range, np.ndarray]:
    impl, (x, xt, xz) = qnet.design[layer.name], (ins[0].r, ins[0].t, ins[0].z)
    pos = np.maximum(x[0], 0), np.maximum(x[1], 0)
    return cast_range(impl.result, *pos, xt.frac), cast_zeros(impl.result, xz, *pos, xt.frac)


def _pool(layer: L.Pool2d, qnet: QuantizedNet, x: Operand, keeps_grid: bool
          ) -> tuple[Range, np.ndarray]:
    impl = qnet.design[layer.name]
    assert impl.accum is not None
    a = cast_range(impl.accum, x.r[0], x.r[1], x.t.frac)
    r = cast_range(impl.result, a[0], a[1], impl.accum.frac)
    az = (cast_zeros(impl.accum, x.z, x.r[0], x.r[1], x.t.frac) if keeps_grid
          else np.zeros_like(x.z))
    return r, cast_zeros(impl.result, az, a[0], a[1], impl.accum.frac)


@RANGES.rule(L.MaxPool2d)
def _maxpool(layer: L.MaxPool2d, qnet: QuantizedNet, ins: list[Operand]
             ) -> tuple[Range, np.ndarray]:
    return _pool(layer, qnet, ins[0], keeps_grid=True)  # a max keeps the grid


@RANGES.rule(L.AvgPool2d)
def _avgpool(layer: L.AvgPool2d, qnet: QuantizedNet, ins: list[Operand]
             ) -> tuple[Range, np.ndarray]:
    return _pool(layer, qnet, ins[0], keeps_grid=False)  # a mean's divide does not


@RANGES.rule(L.Add)
def _add(layer: L.Add, qnet: QuantizedNet, ins: list[Operand]) -> tuple[Range, np.ndarray]:
    impl, (a, b) = qnet.design[layer.name], ins
    f = max(a.t.frac, b.t.frac)
    s_lo = (a.r[0] << (f - a.t.frac)) + (b.r[0] << (f - b.t.frac))
    s_hi = (a.r[1] << (f - a.t.frac)) + (b.r[1] << (f - b.t.frac))
    sz = np.minimum(a.z + f - a.t.frac, b.z + f - b.t.frac)
    return cast_range(impl.result, s_lo, s_hi, f), cast_zeros(impl.result, sz, s_lo, s_hi, f)


@RANGES.rule(L.Flatten)
def _flatten(layer: L.Flatten, qnet: QuantizedNet, ins: list[Operand]
             ) -> tuple[Range, np.ndarray]:
    return ins[0].r, ins[0].z  # a re-reading of its input stream


def varying_bits(qnet: QuantizedNet) -> dict[str, np.ndarray]:
    """Per layer, per channel: the bits of its field that can change, 0 when the types
    make it constant: the width less the low bits always 0 (low_zeros: zeros a cast
    appended are constant wires, and Yosys drops them from every register they reach).
    High bits a range never reaches are kept: an adder makes them (sign copies), and
    Yosys does not see that they repeat."""
    ranges, zeros = _analyse(qnet)
    out = {}
    for name, (lo, hi) in ranges.items():
        width = qnet.design.type_of(name).width
        bits = np.clip(width - zeros[name], 1, None)
        out[name] = np.where(lo == hi, 0, bits)
    return out
