"""The fixed-point forward of a design in torch: exact, and differentiable by straight-through.

Why it exists: every quantization method trains or checks a network through the casts the
hardware makes (input cast, weights on their grid, bias on its grid, result casts with the
types' rounding and overflow modes, ReLU, pools, add). Values are real numbers that are
small integers times powers of two, held in float64, so every cast, product and (lossless)
sum here is exact while mantissas stay below 2**53; the result therefore equals the
bit-accurate model (codesign/bitaccurate.py) bit for bit, which the tests check. The
arithmetic rules are the bit-accurate model's; this module only replays them in torch so
gradients can flow (each cast passes the gradient straight through, zero where it saturates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from codesign.design import DesignPoint, LayerImpl, is_lossless_accum
from codesign.errors import DesignError
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.ir.registry import LayerRegistry

EXACT_BITS = 53  # float64 holds every integer below 2**53 exactly

Tensor = torch.Tensor
Override = Callable[[Tensor], Tensor]


# -- one cast, exact ----------------------------------------------------------------------
def round_mantissa(m: Tensor, rounding: Rounding) -> Tensor:
    """Round real-valued mantissas to integers with an ap_fixed rounding mode."""
    if rounding is Rounding.TRN:
        return torch.floor(m)
    if rounding is Rounding.TRN_ZERO:
        return torch.trunc(m)
    if rounding is Rounding.RND:
        return torch.floor(m + 0.5)
    if rounding is Rounding.RND_MIN_INF:
        return torch.ceil(m - 0.5)
    if rounding is Rounding.RND_CONV:
        return torch.round(m)
    if rounding is Rounding.RND_ZERO:
        return torch.sign(m) * torch.ceil(m.abs() - 0.5)
    if rounding is Rounding.RND_INF:
        return torch.sign(m) * torch.floor(m.abs() + 0.5)
    raise AssertionError(rounding)


def overflow_mantissa(m: Tensor, t: FixedType) -> Tensor:
    """Apply t's overflow mode to integer mantissas m (float64, exact below 2**53)."""
    lo, hi = float(t.min_int), float(t.max_int)
    if t.overflow is Overflow.WRAP:
        span = float(2**t.width)
        return torch.remainder(m - lo, span) + lo
    if t.overflow is Overflow.SAT_ZERO:
        return torch.where((m < lo) | (m > hi), torch.zeros_like(m), m)
    if t.overflow is Overflow.SAT_SYM and t.signed and t.width > 1:
        return m.clamp(lo + 1, hi)
    return m.clamp(lo, hi)


def cast_value(x: Tensor, t: FixedType) -> Tensor:
    """x (float64 reals) as type t holds them, exactly (like ``T y = x``)."""
    m = round_mantissa(x * (2.0 ** t.frac), t.rounding)
    m = overflow_mantissa(m, t)
    return m * (2.0 ** -t.frac)


class _CastSTE(torch.autograd.Function):
    """Exact cast forward; straight-through gradient, zero where the value saturated."""

    @staticmethod
    def forward(ctx, x: Tensor, t: FixedType) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward((x >= t.min_value) & (x <= t.max_value))
        return cast_value(x, t)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (inside,) = ctx.saved_tensors
        return grad * inside, None


def cast(x: Tensor, t: FixedType) -> Tensor:
    """The hardware cast to t, with a straight-through gradient."""
    return _CastSTE.apply(x, t)


def ste(exact: Tensor, surrogate: Tensor) -> Tensor:
    """exact's value, surrogate's gradient. Written as exact + (s - s), which is exactly
    `exact` in floating point (s - s == 0), unlike the usual s + (exact - s).detach()."""
    return exact.detach() + (surrogate - surrogate.detach())


def ste_round(x: Tensor) -> Tensor:
    """round-half-up (RND) with an identity gradient."""
    return ste(torch.floor(x + 0.5), x)


def ste_round_even(x: Tensor) -> Tensor:
    """round-half-even (RND_CONV) with an identity gradient."""
    return ste(torch.round(x), x)


# -- windows, from the layer's Window -----------------------------------------------------
def image(x: Tensor, layer: L.WeightedLayer) -> Tensor:
    """A batch of the layer's inputs as the (N, C, H, W) images its Window slides over
    (L.as_image: a sequence is one row, a dense layer's input vectors are pixels)."""
    c, h, w = L.as_image(tuple(x.shape[1:]), layer.channels_last)
    if layer.channels_last:
        return x.reshape(len(x), h * w, c).transpose(1, 2).reshape(len(x), c, h, w)
    return x.reshape(len(x), c, h, w)


def windows(x: Tensor, geo: L.Window) -> Tensor:
    """(N, C, H, W) -> (N, OH*OW, KH*KW*C): every window in the Window's order (kh, kw, c),
    as bitaccurate.windows."""
    (kh, kw), n, c = geo.kernel, x.shape[0], x.shape[1]
    cols = F.unfold(x, (kh, kw), padding=geo.padding, stride=geo.stride)  # N, C*kh*kw, P
    return cols.reshape(n, c, kh * kw, -1).permute(0, 3, 2, 1).reshape(n, -1, kh * kw * c)


def from_pixels(y: Tensor, layer: L.WeightedLayer, x: Tensor) -> Tensor:
    """(N, OH*OW, out) per-pixel results over image x -> the layer's (N, *out_shape)."""
    if not layer.channels_last:
        oh, ow = layer.geometry.out_size(x.shape[2], x.shape[3])
        y = y.reshape(len(y), oh, ow, -1).permute(0, 3, 1, 2)
    return y.reshape((len(y),) + layer.out_shape)


def weighted_sum(layer: L.WeightedLayer, x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """conv2d, conv1d or dense, then + bias, of real tensors, by the layer's Window over
    as_image's view (a 1x1 window over channels-last pixels is torch's Linear)."""
    geo = layer.geometry
    if layer.channels_last and geo == L.Window((1, 1), (1, 1)):
        y = F.linear(x, w)
    else:
        y = F.conv2d(image(x, layer), w.reshape(layer.conv2d_weight_shape), None, geo.stride,
                     geo.padding).reshape((len(x),) + layer.out_shape)
    if layer.channels_last:
        return y + b  # the channels are the last axis: plain broadcasting
    return y + b.reshape((-1,) + (1,) * (y.dim() - 2))


def _accumulate(layer: L.WeightedLayer, x: Tensor, w: Tensor, b: Tensor, x_t: FixedType,
                impl) -> Tensor:
    """conv/dense + bias on the accumulator grid; exact and order-free when lossless."""
    if impl is not None and not is_lossless_accum(impl, x_t, layer.terms):
        return _lossy_accumulate(layer, x, w, b, impl.accum)
    return weighted_sum(layer, x, w, b)


def _lossy_accumulate(layer: L.WeightedLayer, x: Tensor, w: Tensor, b: Tensor,
                      acc: FixedType) -> Tensor:
    """Each product cast to accum_t, the bias too, summed in hls4ml's window order
    (kh, kw, cin) with a cast after each add when saturating (as bitaccurate.mac)."""
    xi = image(x, layer)
    wmat = w.reshape(layer.conv2d_weight_shape).permute(2, 3, 1, 0).reshape(-1, w.shape[0])
    return from_pixels(_ordered_sum(windows(xi, layer.geometry), wmat, b, acc), layer, xi)


def _ordered_sum(cols: Tensor, wmat: Tensor, b: Tensor, acc: FixedType) -> Tensor:
    total = cast(b, acc).expand(cols.shape[:-1] + b.shape)
    for k in range(cols.shape[-1]):
        total = total + cast(cols[..., k, None] * wmat[k], acc)
        if acc.overflow is not Overflow.WRAP:
            total = cast(total, acc)
    return cast(total, acc) if acc.overflow is Overflow.WRAP else total


def _avgpool(layer: L.AvgPool2d, x: Tensor, impl) -> Tensor:
    """bitaccurate.run_avgpool: window sum cast to accum at each add, truncating division."""
    acc, geo = impl.accum, layer.geometry
    n, c = x.shape[:2]
    cols = F.unfold(x, geo.kernel, stride=geo.stride)  # N, C*kh*kw, P
    cols = cols.reshape(n, c, layer.window, -1)
    total = torch.zeros_like(cols[:, :, 0])
    for k in range(layer.window):
        total = cast(total + cols[:, :, k], acc)
    m = total * (2.0 ** acc.frac)
    window = float(layer.window)
    q = torch.floor(m.abs() / window)
    q = q - (q * window > m.abs()).to(q.dtype) + ((q + 1) * window <= m.abs()).to(q.dtype)
    quotient = torch.sign(m) * q
    exact = quotient * (2.0 ** -acc.frac)
    # straight-through: gradient of the plain average
    value = ste(exact, cols.mean(dim=2))
    return cast(value, impl.result).reshape((n,) + layer.out_shape)


# -- the rules by kind ------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """What a layer's rule in fixed_forward reads."""

    ins: list[Tensor]  # its inputs' values
    x_t: FixedType  # its first input's type
    impl: LayerImpl
    post: Override  # its result cast, or the override that replaces it
    exact: bool  # False: pools skip their casts, biases stay unrounded (see fixed_forward)
    params: tuple[Tensor, Tensor] | None  # a weighted layer's real weight and bias


FixedRule = Callable[[Any, Step], Tensor]
FIXED_FORWARD: LayerRegistry[FixedRule] = LayerRegistry("the fixed-point torch forward",
                                                        __name__)
"""Per kind: (layer, Step) -> its real-valued output; the arithmetic is bitaccurate's
(its ARITHMETIC registry), replayed in torch."""
FIXED_FORWARD.skip(L.Input, "the input is cast (or overridden) before the layers run")
FIXED_FORWARD.skip(L.BatchNorm, "folded into the conv by fold_batchnorm before quantization")


@FIXED_FORWARD.rule(L.WeightedLayer)
def _weighted(layer: L.WeightedLayer, s: Step) -> Tensor:
    assert s.params is not None
    w, b = s.params
    if s.exact:
        b = cast(b, s.impl.bias)
    return s.post(_accumulate(layer, s.ins[0], w, b, s.x_t, s.impl if s.exact else None))


@FIXED_FORWARD.rule(L.ReLU)
def _relu(layer: L.ReLU, s: Step) -> Tensor:
    return s.post(torch.relu(s.ins[0]))


@FIXED_FORWARD.rule(L.MaxPool2d)
def _maxpool(layer: L.MaxPool2d, s: Step) -> Tensor:
    geo = layer.geometry
    out = F.max_pool2d(s.ins[0], geo.kernel, geo.stride)
    return cast(cast(out, s.impl.accum), s.impl.result) if s.exact else out


@FIXED_FORWARD.rule(L.AvgPool2d)
def _avgpool_rule(layer: L.AvgPool2d, s: Step) -> Tensor:
    if s.exact:
        return _avgpool(layer, s.ins[0], s.impl)
    geo = layer.geometry
    return F.avg_pool2d(s.ins[0], geo.kernel, geo.stride)


@FIXED_FORWARD.rule(L.Add)
def _add(layer: L.Add, s: Step) -> Tensor:
    return s.post(s.ins[0] + s.ins[1])


@FIXED_FORWARD.rule(L.Flatten)
def _flatten(layer: L.Flatten, s: Step) -> Tensor:
    return s.ins[0].reshape(s.ins[0].shape[0], -1)


def check_exact(graph: Graph, design: DesignPoint) -> None:
    """Refuse designs whose sums would exceed float64's exact integers."""
    for layer in graph.weighted:
        acc = design[layer.name].accum
        if acc is not None and acc.width > EXACT_BITS:
            raise DesignError(
                f"layer {layer.name!r}: accumulator {acc} is wider than {EXACT_BITS} bits; the "
                "torch fixed-point forward is exact only below that. Narrow the types.")


def fixed_forward(graph: Graph, design: DesignPoint, weights: Mapping[str, Tensor],
                  biases: Mapping[str, Tensor], x: Tensor | np.ndarray, *,
                  overrides: Mapping[str, Override] | None = None, exact: bool = True,
                  return_all: bool = False, start: Mapping[str, Tensor] | None = None
                  ) -> Tensor | dict[str, Tensor]:
    """Real-valued outputs of the fixed-point network (float64 torch).

    weights/biases: real values per weighted layer (on their type's grid for an exact
    run; the bias is cast to its type here). overrides: a layer name -> function that
    replaces that layer's result cast (a learned quantizer during training). With
    exact=False pools skip their casts and biases stay unrounded (training with steps
    that are not yet powers of two); with exact=True the output equals the bit-accurate
    model's mantissas times the output type's lsb. start: values already known for some
    layers (a prefix of the graph, e.g. cached while only later layers train); those
    layers are not recomputed.
    """
    overrides = overrides or {}
    xt = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x).to(torch.float64)
    values: dict[str, Tensor] = {}
    inp = overrides.get("input")
    values["input"] = inp(xt) if inp is not None else cast(xt, design.input)
    for layer in graph.layers[1:]:
        if start is not None and layer.name in start:
            values[layer.name] = start[layer.name]
            continue
        impl = design[layer.name]
        ins = [values[i] for i in layer.inputs]
        x_t = design.type_of(layer.inputs[0])
        post = overrides.get(layer.name) or (lambda v, t=impl.result: cast(v, t))
        params = (weights[layer.name], biases[layer.name]) if layer.has_weights else None
        out = FIXED_FORWARD(layer)(layer, Step(ins, x_t, impl, post, exact, params))
        values[layer.name] = out
    return values if return_all else values[graph.output.name]


def to_mantissas(values: Tensor, t: FixedType) -> np.ndarray:
    """Real values on t's grid -> int64 mantissas, refusing anything off the grid."""
    m = values.detach().to(torch.float64) * (2.0 ** t.frac)
    out = m.numpy()
    if not np.all(out == np.rint(out)):
        raise DesignError(f"values are not on the grid of {t}")
    return np.rint(out).astype(np.int64)
