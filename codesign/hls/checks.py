"""What hls4ml 1.3 would get wrong without a word: refused here, by name, before emitting.

Each rule names the layer, the setting and what to change. The arithmetic itself is
codesign.bitaccurate's; these rules only say where hls4ml's C++ departs from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from codesign.design import LayerImpl, is_lossless_accum
from codesign.errors import UnsupportedLayerError
from codesign.fixed import FixedType, Overflow
from codesign.ir import layers as L
from codesign.ir.registry import LayerRegistry
from codesign.param_limits import param_type_problem
from codesign.qnet import QuantizedNet

IO_TYPES = {"parallel": "io_parallel", "stream": "io_stream"}


def order_matters(impl: LayerImpl, x_t: FixedType, terms: int) -> bool:
    """True when the order products are added in changes the sum: a lossy accumulator
    that saturates (wrapping is modular and products are cast one by one, so WRAP and
    lossless accumulators give the same sum in any order)."""
    assert impl.accum is not None
    return impl.accum.overflow is not Overflow.WRAP and not is_lossless_accum(impl, x_t, terms)


def cast_can_overflow(src: FixedType, dst: FixedType) -> bool:
    """Whether casting some value of src into dst overflows dst's range (its rounding
    applied first, as ap_fixed does)."""
    integer = max(src.integer, 1) + 2
    width = integer + dst.frac
    if not 1 <= width <= 62:
        return True  # cannot prove it cheaply; assume it may
    wide = FixedType(width, integer, True, dst.rounding, Overflow.SAT)  # frac == dst.frac
    ends = wide.cast_int([src.min_int, src.max_int], src.frac)
    return bool(ends[0] < dst.min_int or ends[1] > dst.max_int)


def check_emittable(qnet: QuantizedNet, io_type: str) -> None:
    """Raise UnsupportedLayerError for anything hls4ml would build differently from the
    bit-accurate model (io_type: 'io_parallel' or 'io_stream')."""
    design = qnet.design
    for layer in qnet.graph.layers[1:]:
        CHECKS(layer)(layer, design[layer.name], design.type_of(layer.inputs[0]), io_type,
                      qnet)


Check = Callable[[Any, LayerImpl, FixedType, str, QuantizedNet], None]
CHECKS: LayerRegistry[Check] = LayerRegistry("the hls4ml export check", "codesign.hls.checks")
CHECKS.skip(L.Input, "the model input: no layer of hls4ml's to check")
CHECKS.skip(L.BatchNorm, "folded into the conv by fold_batchnorm before quantization")


def _where(layer: L.Layer) -> str:
    return f"layer {layer.name!r} ({layer.kind})"


@CHECKS.rule(L.ReLU, L.Flatten)
def _as_modelled(layer: L.Layer, impl: LayerImpl, x_t: FixedType, io_type: str,
                 qnet: QuantizedNet) -> None:
    """hls4ml builds these as the bit-accurate model computes them."""


@CHECKS.rule(L.Conv1d)
def _conv1d(layer: L.Conv1d, impl: LayerImpl, x_t: FixedType, io_type: str,
            qnet: QuantizedNet) -> None:
    raise UnsupportedLayerError(
        f"{_where(layer)}: codesign has not verified hls4ml's Conv1D against the bit-accurate "
        "model yet, so it does not emit it (use the RTL back end)")


@CHECKS.rule(L.Add)
def _check_add(layer: L.Add, impl: LayerImpl, x_t: FixedType, io_type: str,
               qnet: QuantizedNet) -> None:
    graph = qnet.graph
    if "input" in layer.inputs and len(graph.input_shape) > 1 and graph.input_shape[0] > 1:
        raise UnsupportedLayerError(
            f"layer {layer.name!r} (add): its skip input comes straight from the "
            f"{graph.input_shape[0]}-channel model input; hls4ml 1.3 builds that add "
            "wrongly in io_parallel and refuses it in io_stream. Put a layer (e.g. a 1x1 "
            "conv) between the input and the add.")


def _check_stream_pool(layer: L.Pool2d) -> None:
    if layer.stride != layer.kernel:
        raise UnsupportedLayerError(
            f"{_where(layer)}: hls4ml's io_stream pooling only handles stride == kernel (its "
            f"C simulation aborts otherwise); this one has kernel {list(layer.kernel)}, "
            f"stride {list(layer.stride)}. Use --io parallel or a non-overlapping pool.")


@CHECKS.rule(L.MaxPool2d)
def _max_pool(layer: L.MaxPool2d, impl: LayerImpl, x_t: FixedType, io_type: str,
              qnet: QuantizedNet) -> None:
    if io_type != "io_stream":
        return
    _check_stream_pool(layer)
    assert impl.accum is not None
    if impl.accum.overflow in (Overflow.WRAP, Overflow.SAT_ZERO) and cast_can_overflow(
            x_t, impl.accum):
        raise UnsupportedLayerError(
            f"{_where(layer)}: in io_stream hls4ml casts every input to the accumulator "
            f"{impl.accum} before taking the max, and that cast can overflow "
            f"({impl.accum.overflow}) for inputs of {x_t}, so the max would differ "
            "from the bit-accurate model. Use an accumulator that holds the input "
            "range (e.g. the input type), a saturating one, or --io parallel.")


@CHECKS.rule(L.AvgPool2d)
def _avg_pool(layer: L.AvgPool2d, impl: LayerImpl, x_t: FixedType, io_type: str,
              qnet: QuantizedNet) -> None:
    if io_type != "io_stream":
        return
    _check_stream_pool(layer)
    assert impl.accum is not None
    if not _window_sum_exact(x_t, impl.accum, layer.window):
        raise UnsupportedLayerError(
            f"{_where(layer)}: in io_stream hls4ml casts every input to the accumulator "
            f"{impl.accum} and adds them in a tree, so the window sum must be exact "
            f"there: the accumulator needs at least {x_t.frac} fraction bits and "
            f"room for {layer.window} x the range of {x_t}. Widen it (see "
            "codesign.design.lossless_avg_accum) or use --io parallel.")


def _window_sum_exact(x_t: FixedType, acc: FixedType, window: int) -> bool:
    if acc.frac < x_t.frac:
        return False
    shift = acc.frac - x_t.frac
    return (window * x_t.max_int << shift) <= acc.max_int and (
        window * x_t.min_int << shift) >= acc.min_int


@CHECKS.rule(L.Dense)
def _dense(layer: L.Dense, impl: LayerImpl, x_t: FixedType, io_type: str,
           qnet: QuantizedNet) -> None:
    _check_params(layer, impl)
    _check_order(layer, impl, x_t)


@CHECKS.rule(L.Conv2d)
def _conv2d(layer: L.Conv2d, impl: LayerImpl, x_t: FixedType, io_type: str,
            qnet: QuantizedNet) -> None:
    _check_params(layer, impl)
    if (io_type == "io_parallel" and layer.kernel == (1, 1) and impl.strategy == "resource"
            and impl.reuse > 1):
        raise UnsupportedLayerError(
            f"{_where(layer)}: hls4ml 1.3 turns a 1x1 conv into a PointwiseConv2D whose "
            f"io_parallel Resource implementation computes wrong outputs at reuse "
            f"{impl.reuse} (found by codesign's randomized C-simulation tests). Use strategy "
            "latency, reuse 1, or --io stream.")
    _check_order(layer, impl, x_t)


def _check_params(layer: L.WeightedLayer, impl: LayerImpl) -> None:
    assert impl.weight is not None and impl.bias is not None
    for what, t in (("weight", impl.weight), ("bias", impl.bias)):
        problem = param_type_problem(what, t)
        if problem is not None:
            raise UnsupportedLayerError(f"{_where(layer)}: {problem}.")


def _check_order(layer: L.WeightedLayer, impl: LayerImpl, x_t: FixedType) -> None:
    if impl.strategy == "resource" and impl.reuse > 1 and order_matters(impl, x_t, layer.terms):
        raise UnsupportedLayerError(
            f"{_where(layer)}: hls4ml's Resource strategy at reuse {impl.reuse} adds the "
            f"products in an interleaved order, and the saturating accumulator {impl.accum} "
            "makes the sum depend on that order. Use a lossless or wrapping accumulator, "
            "reuse 1, or strategy latency.")
