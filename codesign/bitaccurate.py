"""The bit-accurate model: the integers the hardware computes, in numpy.

Values travel as integer mantissas (int64) together with the fraction bits of their
type. Every rule is the arithmetic contract of docs/arithmetic.md; the hls4ml C
simulation and the RTL are checked against this, element by element.

Layout: batch first, channels first (as PyTorch), like the float Graph forward.

Speed: a conv2d followed by (ReLU and) max pooling runs fused (run_conv2d_maxpool) when
every cast on the way is order-preserving: then max over a window commutes with the
casts, so the window max is taken on the accumulator sums and the casts run on a
quarter of the elements (2x2 pools). The integers are the same; tests check both paths.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from codesign.design import LayerImpl, is_lossless_accum
from codesign.fixed import FixedType, Overflow
from codesign.ir import layers as L
from codesign.ir.registry import LayerRegistry

# Integer products and sums below these magnitudes are exact in BLAS float arithmetic
# (every partial sum is an integer the format holds), whatever order BLAS adds in.
FLOAT32_EXACT = 2**24
FLOAT64_EXACT = 2**53


def holds_exactly(dst: FixedType, src: FixedType) -> bool:
    """Whether every value of src is a value of dst that casting leaves alone: the same
    grid and a range that covers it (SAT_SYM's -2**(W-1) counts as outside)."""
    sym = dst.signed and dst.overflow is Overflow.SAT_SYM and dst.width > 1
    return (dst.frac == src.frac and src.max_int <= dst.max_int
            and src.min_int >= dst.min_int + int(sym))


def cast(dst: FixedType, m: np.ndarray, src: FixedType) -> np.ndarray:
    """dst.cast_int of int64 mantissas of type src; no work when dst holds src exactly."""
    return m if holds_exactly(dst, src) else dst.cast_int(m, src.frac)


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController().select(user_api="blas")


def one_blas_thread() -> AbstractContextManager:
    """Run BLAS on one thread inside the block. Our matmuls are small (terms x outputs per
    window) and memory-bound: a second BLAS thread adds synchronization, not speed, and
    on a busy machine it waits for a core (digits_cnn: ~35% less CPU time per forward)."""
    return _blas().limit(limits=1)


# -- windows (im2col), from the layer's Window ------------------------------------------
def to_nhwc(x: np.ndarray, layer: L.WeightedLayer) -> np.ndarray:
    """A batch of the layer's inputs as the (N, H, W, C) pixels its Window slides over
    (L.as_image: a sequence is one row, a dense layer's input vectors are pixels)."""
    c, h, w = L.as_image(x.shape[1:], layer.channels_last)
    if layer.channels_last:
        return x.reshape(len(x), h, w, c)
    return x.reshape(len(x), c, h, w).transpose(0, 2, 3, 1)


def from_nhwc(y: np.ndarray, layer: L.WeightedLayer) -> np.ndarray:
    """(N, OH, OW, out) per-pixel results -> the layer's (N, *out_shape)."""
    if not layer.channels_last:
        y = y.transpose(0, 3, 1, 2)
    return y.reshape((len(y),) + layer.out_shape)


def windows(xl: np.ndarray, geo: L.Window) -> np.ndarray:
    """(N, H, W, C) -> (N, OH, OW, KH*KW*C): every window, in the Window's order (kh, kw, c).

    That order is hls4ml's (channels last, kernel row-major), which matters only for
    accumulators that saturate.
    """
    ph, pw = geo.padding
    if ph or pw:
        xl = np.pad(xl, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    kh, kw = geo.kernel
    view = np.lib.stride_tricks.sliding_window_view(xl, (kh, kw), axis=(1, 2))
    # view: N, H', W', C, kh, kw  -> take strides, reorder to (kh, kw, c)
    view = view[:, :: geo.stride[0], :: geo.stride[1]]
    n, oh, ow, c = view.shape[:4]
    return view.transpose(0, 1, 2, 4, 5, 3).reshape(n, oh, ow, kh * kw * c)


def weight_matrix(layer: L.WeightedLayer, w: np.ndarray) -> np.ndarray:
    """Integer weights as a (terms, out) matrix in the window order above."""
    return w.reshape(layer.conv2d_weight_shape).transpose(2, 3, 1, 0).reshape(-1, w.shape[0])


# -- multiply-accumulate --------------------------------------------------------------
def exact_dtype(wmat: np.ndarray, x_t: FixedType, terms: int) -> type:
    """The cheapest dtype whose matmul of these weights with any x_t inputs is exact."""
    x_max = max(-x_t.min_int, x_t.max_int)
    bound = terms * int(np.abs(wmat).max(initial=0)) * x_max
    if bound < FLOAT32_EXACT:
        return np.float32
    if bound < FLOAT64_EXACT:
        return np.float64
    return np.int64


Reduce = Callable[[np.ndarray], np.ndarray]


def mac(cols: np.ndarray, wmat: np.ndarray, bias: np.ndarray, x_t: FixedType,
        impl: LayerImpl, terms: int, *, reduce: Reduce | None = None) -> np.ndarray:
    """sum_k cols[..., k] * wmat[k, o] + bias[o], on the accumulator's grid and rules.

    cols: (..., terms) input mantissas (any dtype holding them exactly); returns
    (..., out) accumulator mantissas (int64). `reduce` (an order-preserving reduction
    over the leading axes, such as a window max) is applied to the sums before the
    per-channel shift and bias add, which preserve order, so it equals applying it after.
    """
    assert impl.weight is not None and impl.bias is not None and impl.accum is not None
    acc, p_frac = impl.accum, impl.weight.frac + x_t.frac
    if is_lossless_accum(impl, x_t, terms):
        dtype = exact_dtype(wmat, x_t, terms)
        flat = cols.reshape(-1, cols.shape[-1]).astype(dtype, copy=False)
        with one_blas_thread():  # one product for every window at once, not one per row
            sums = (flat @ wmat.astype(dtype)).reshape(cols.shape[:-1] + wmat.shape[1:])
        if reduce is not None:
            sums = reduce(sums)
        sums = sums.astype(np.int64)
        return (sums << (acc.frac - p_frac)) + (bias << (acc.frac - impl.bias.frac))
    if reduce is not None:
        return reduce(mac(cols, wmat, bias, x_t, impl, terms))
    # Lossy accumulator: each product is cast to accum_t, the bias too, then summed in order.
    cols = cols.astype(np.int64, copy=False)
    b = acc.cast_int(bias, impl.bias.frac)
    total = np.broadcast_to(b, cols.shape[:-1] + b.shape).copy()
    if acc.overflow is Overflow.WRAP:
        # Wrapping is modular: wrapping once at the end equals wrapping after every add.
        for k in range(terms):
            total += acc.cast_int(cols[..., k, None] * wmat[k], p_frac)
        return acc.cast_int(total, acc.frac)
    for k in range(terms):
        total = acc.cast_int(total + acc.cast_int(cols[..., k, None] * wmat[k], p_frac),
                             acc.frac)
    return total


# -- one function per layer kind ------------------------------------------------------
Value = tuple[np.ndarray, FixedType]  # mantissas and the type they are on


def run_weighted(layer: L.WeightedLayer, x: Value, impl: LayerImpl, w: np.ndarray,
                 b: np.ndarray) -> np.ndarray:
    xm, xt = x
    wmat = weight_matrix(layer, w)
    assert impl.accum is not None
    if is_lossless_accum(impl, xt, layer.terms):  # windows in the matmul's dtype: less copying
        xm = xm.astype(exact_dtype(wmat, xt, layer.terms), copy=False)
    acc = mac(windows(to_nhwc(xm, layer), layer.geometry), wmat, b, xt, impl, layer.terms)
    return impl.result.cast_int(from_nhwc(acc, layer), impl.accum.frac)


def order_preserving(t: FixedType | None) -> bool:
    """Whether casting into t keeps order (a <= b => cast(a) <= cast(b)). Every rounding
    mode does; saturation does; wrapping and SAT_ZERO (overflow -> 0) do not."""
    return t is not None and t.overflow in (Overflow.SAT, Overflow.SAT_SYM)


def max_pool_nhwc(a: np.ndarray, geo: L.Window) -> np.ndarray:
    """Window max of an (N, H, W, C) array by strided slices, without window copies."""
    (kh, kw), (sh, sw) = geo.kernel, geo.stride
    oh, ow = geo.out_size(a.shape[1], a.shape[2])
    out: np.ndarray | None = None
    for i in range(kh):
        for j in range(kw):
            part = a[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            out = part.copy() if out is None else np.maximum(out, part, out=out)
    assert out is not None
    return out


def run_conv2d_maxpool(layer: L.Conv2d, x: Value, impl: LayerImpl, w: np.ndarray,
                       b: np.ndarray, pool: L.MaxPool2d, pool_impl: LayerImpl,
                       relu_impl: LayerImpl | None = None) -> np.ndarray:
    """maxpool(relu(conv)) (relu optional) with the window max taken first, on the sums.

    Equal to running the layers one by one when every cast after the accumulator is
    order-preserving (the caller checks: fusable_casts): max(f(a_i)) = f(max(a_i)) for a
    non-decreasing f, and conv result cast, ReLU, its cast and the pool's two casts are.
    """
    xm, xt = x
    wmat = weight_matrix(layer, w)
    assert impl.accum is not None and pool_impl.accum is not None
    if is_lossless_accum(impl, xt, layer.terms):
        xm = xm.astype(exact_dtype(wmat, xt, layer.terms), copy=False)
    acc = mac(windows(to_nhwc(xm, layer), layer.geometry), wmat, b, xt, impl, layer.terms,
              reduce=lambda a: max_pool_nhwc(a, pool.geometry))
    out, t = impl.result.cast_int(acc.transpose(0, 3, 1, 2), impl.accum.frac), impl.result
    if relu_impl is not None:
        out, t = relu_impl.result.cast_int(np.maximum(out, 0), t.frac), relu_impl.result
    m = cast(pool_impl.accum, out, t)
    return cast(pool_impl.result, m, pool_impl.accum)


def fusable(conv: LayerImpl, relu: LayerImpl | None, pool: LayerImpl) -> bool:
    """Whether run_conv2d_maxpool equals the layers run one by one: every cast after the
    conv's accumulator (its result, the ReLU's, the pool's accumulator and result) keeps
    order."""
    types = [conv.result, pool.accum, pool.result] + ([relu.result] if relu else [])
    return all(order_preserving(t) for t in types)


def run_relu(x: Value, impl: LayerImpl) -> np.ndarray:
    xm, xt = x
    return impl.result.cast_int(np.maximum(xm, 0), xt.frac)


def pool_windows(xm: np.ndarray, layer: L.Pool2d) -> np.ndarray:
    """(N, C, H, W) -> (N, C, OH, OW, KH*KW), windows in row-major (kh, kw) order (the
    Window's order; a pool reads each channel alone)."""
    geo = layer.geometry
    (kh, kw), (sh, sw) = geo.kernel, geo.stride
    if (kh, kw) == (sh, sw):  # non-overlapping: a reshape, no window copies
        n, c, h, w = xm.shape
        oh, ow = geo.out_size(h, w)
        tiles = xm[:, :, : oh * kh, : ow * kw].reshape(n, c, oh, kh, ow, kw)
        return tiles.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw)
    view = np.lib.stride_tricks.sliding_window_view(xm, geo.kernel, axis=(2, 3))
    view = view[:, :, ::sh, ::sw]
    return view.reshape(view.shape[:4] + (-1,))


def run_maxpool(layer: L.MaxPool2d, x: Value, impl: LayerImpl) -> np.ndarray:
    """Max in the input type, cast to the accumulator, then to the result."""
    xm, xt = x
    assert impl.accum is not None
    m = cast(impl.accum, pool_windows(xm, layer).max(axis=-1), xt)
    return cast(impl.result, m, impl.accum)


def run_avgpool(layer: L.AvgPool2d, x: Value, impl: LayerImpl) -> np.ndarray:
    """hls4ml's avg(): `accum_t y = 0; y += x[i] ...; y /= N`. Each add is exact, then cast
    to the accumulator; the division truncates the accumulator's mantissa toward zero (C
    integer division); the quotient is then cast to the result type."""
    xm, xt = x
    acc = impl.accum
    assert acc is not None
    cols = pool_windows(xm, layer)
    frac = max(acc.frac, xt.frac)
    total = np.zeros(cols.shape[:-1], dtype=np.int64)
    for k in range(cols.shape[-1]):
        exact = (total << (frac - acc.frac)) + (cols[..., k] << (frac - xt.frac))
        total = acc.cast_int(exact, frac)
    n = layer.window
    quotient = np.sign(total) * (np.abs(total) // n)
    return impl.result.cast_int(quotient, acc.frac)


def run_add(a: Value, b: Value, impl: LayerImpl) -> np.ndarray:
    """Exact sum on the finer grid, then one cast to the result type."""
    (am, at), (bm, bt) = a, b
    frac = max(at.frac, bt.frac)
    total = (am << (frac - at.frac)) + (bm << (frac - bt.frac))
    return impl.result.cast_int(total, frac)


def run_flatten(x: Value) -> np.ndarray:
    return x[0].reshape(x[0].shape[0], -1)


# -- the rules by kind ----------------------------------------------------------------
Params = tuple[np.ndarray, np.ndarray] | None  # a weighted layer's weight and bias mantissas
Rule = Callable[[Any, list[Value], LayerImpl, Params], np.ndarray]

ARITHMETIC: LayerRegistry[Rule] = LayerRegistry("the bit-accurate model", __name__)
"""Per kind: (layer, its inputs' values, its types, its integer parameters) -> its
output mantissas. QuantizedNet.forward_int runs the network through these."""
ARITHMETIC.skip(L.Input, "the input is cast by QuantizedNet.quantize_input, not computed")
ARITHMETIC.skip(L.BatchNorm, "folded into the conv by fold_batchnorm before quantization")


@ARITHMETIC.rule(L.WeightedLayer)
def _weighted(layer: L.WeightedLayer, xs: list[Value], impl: LayerImpl, p: Params
              ) -> np.ndarray:
    assert p is not None
    return run_weighted(layer, xs[0], impl, *p)


@ARITHMETIC.rule(L.ReLU)
def _relu(layer: L.ReLU, xs: list[Value], impl: LayerImpl, p: Params) -> np.ndarray:
    return run_relu(xs[0], impl)


@ARITHMETIC.rule(L.MaxPool2d)
def _maxpool(layer: L.MaxPool2d, xs: list[Value], impl: LayerImpl, p: Params) -> np.ndarray:
    return run_maxpool(layer, xs[0], impl)


@ARITHMETIC.rule(L.AvgPool2d)
def _avgpool(layer: L.AvgPool2d, xs: list[Value], impl: LayerImpl, p: Params) -> np.ndarray:
    return run_avgpool(layer, xs[0], impl)


@ARITHMETIC.rule(L.Add)
def _add(layer: L.Add, xs: list[Value], impl: LayerImpl, p: Params) -> np.ndarray:
    return run_add(xs[0], xs[1], impl)


@ARITHMETIC.rule(L.Flatten)
def _flatten(layer: L.Flatten, xs: list[Value], impl: LayerImpl, p: Params) -> np.ndarray:
    return run_flatten(xs[0])
