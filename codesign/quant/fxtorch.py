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

import numpy as np
import torch
import torch.nn.functional as F

from codesign.design import DesignPoint, is_lossless_accum
from codesign.errors import DesignError
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.ir import layers as L
from codesign.ir.graph import Graph

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


# -- layers ------------------------------------------------------------------------------
def _accumulate(layer: L.WeightedLayer, x: Tensor, w: Tensor, b: Tensor, x_t: FixedType,
                impl) -> Tensor:
    """conv/dense + bias on the accumulator grid; exact and order-free when lossless."""
    if isinstance(layer, L.Conv2d):
        y = F.conv2d(x, w, None, layer.stride, layer.padding)
        shape = (1, -1, 1, 1)
    elif isinstance(layer, L.Conv1d):
        y = F.conv1d(x, w, None, layer.stride, layer.padding)
        shape = (1, -1, 1)
    else:
        y = F.linear(x, w)
        shape = (1, -1)
    if impl is not None and not is_lossless_accum(impl, x_t, layer.terms):
        return _lossy_accumulate(layer, x, w, b, x_t, impl)
    return y + b.reshape(shape)


def _lossy_accumulate(layer: L.WeightedLayer, x: Tensor, w: Tensor, b: Tensor,
                      x_t: FixedType, impl) -> Tensor:
    """Each product cast to accum_t, the bias too, summed in hls4ml's window order
    (kh, kw, cin) with a cast after each add when saturating (as bitaccurate.mac)."""
    acc = impl.accum
    if isinstance(layer, L.Conv2d):
        kh, kw = layer.kernel
        cols = F.unfold(x, (kh, kw), padding=layer.padding, stride=layer.stride)
        n, _, positions = cols.shape
        cin = x.shape[1]
        cols = cols.reshape(n, cin, kh * kw, positions).permute(0, 3, 2, 1).reshape(
            n, positions, kh * kw * cin)
        wmat = w.permute(2, 3, 1, 0).reshape(-1, w.shape[0])
        oh = (x.shape[2] + 2 * layer.padding[0] - kh) // layer.stride[0] + 1
        ow = (x.shape[3] + 2 * layer.padding[1] - kw) // layer.stride[1] + 1
        out = _ordered_sum(cols, wmat, b, acc)
        return out.reshape(n, oh, ow, -1).permute(0, 3, 1, 2)
    if isinstance(layer, L.Conv1d):
        k = layer.kernel
        xp = F.pad(x, (layer.padding, layer.padding))
        cols = xp.unfold(2, k, layer.stride)  # N, C, OL, K
        n, cin, ol, _ = cols.shape
        cols = cols.permute(0, 2, 3, 1).reshape(n, ol, k * cin)
        wmat = w.permute(2, 1, 0).reshape(-1, w.shape[0])
        return _ordered_sum(cols, wmat, b, acc).permute(0, 2, 1)
    return _ordered_sum(x, w.T, b, acc)


def _ordered_sum(cols: Tensor, wmat: Tensor, b: Tensor, acc: FixedType) -> Tensor:
    total = cast(b, acc).expand(cols.shape[:-1] + b.shape)
    for k in range(cols.shape[-1]):
        total = total + cast(cols[..., k, None] * wmat[k], acc)
        if acc.overflow is not Overflow.WRAP:
            total = cast(total, acc)
    return cast(total, acc) if acc.overflow is Overflow.WRAP else total


def _avgpool(layer: L.AvgPool2d, x: Tensor, x_t: FixedType, impl) -> Tensor:
    """bitaccurate.run_avgpool: window sum cast to accum at each add, truncating division."""
    acc = impl.accum
    kh, kw = layer.kernel
    n, c = x.shape[:2]
    cols = F.unfold(x, (kh, kw), stride=layer.stride)  # N, C*kh*kw, P
    cols = cols.reshape(n, c, kh * kw, -1)
    total = torch.zeros_like(cols[:, :, 0])
    for k in range(kh * kw):
        total = cast(total + cols[:, :, k], acc)
    m = total * (2.0 ** acc.frac)
    window = float(layer.window)
    q = torch.floor(m.abs() / window)
    q = q - (q * window > m.abs()).to(q.dtype) + ((q + 1) * window <= m.abs()).to(q.dtype)
    quotient = torch.sign(m) * q
    exact = quotient * (2.0 ** -acc.frac)
    # straight-through: gradient of the plain average
    value = ste(exact, cols.mean(dim=2))
    oh = (x.shape[2] - kh) // layer.stride[0] + 1
    ow = (x.shape[3] - kw) // layer.stride[1] + 1
    return cast(value, impl.result).reshape(n, c, oh, ow)


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
        if isinstance(layer, L.WeightedLayer):
            b = biases[layer.name]
            if exact:
                b = cast(b, impl.bias)
            acc = _accumulate(layer, ins[0], weights[layer.name], b, x_t,
                              impl if exact else None)
            out = post(acc)
        elif isinstance(layer, L.ReLU):
            out = post(torch.relu(ins[0]))
        elif isinstance(layer, L.MaxPool2d):
            out = F.max_pool2d(ins[0], layer.kernel, layer.stride)
            if exact:
                out = cast(cast(out, impl.accum), impl.result)
        elif isinstance(layer, L.AvgPool2d):
            if exact:
                out = _avgpool(layer, ins[0], x_t, impl)
            else:
                out = F.avg_pool2d(ins[0], layer.kernel, layer.stride)
        elif isinstance(layer, L.Add):
            out = post(ins[0] + ins[1])
        elif isinstance(layer, L.Flatten):
            out = ins[0].reshape(ins[0].shape[0], -1)
        else:
            raise DesignError(f"the fixed-point torch forward has no rule for {layer.kind} "
                              f"({layer.name!r})")
        values[layer.name] = out
    return values if return_all else values[graph.output.name]


def to_mantissas(values: Tensor, t: FixedType) -> np.ndarray:
    """Real values on t's grid -> int64 mantissas, refusing anything off the grid."""
    m = values.detach().to(torch.float64) * (2.0 ** t.frac)
    out = m.numpy()
    if not np.all(out == np.rint(out)):
        raise DesignError(f"values are not on the grid of {t}")
    return np.rint(out).astype(np.int64)
