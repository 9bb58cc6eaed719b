"""What hls4ml 1.3 would get wrong without a word: refused here, by name, before emitting.

Each rule names the layer, the setting and what to change. The arithmetic itself is
codesign.bitaccurate's; these rules only say where hls4ml's C++ departs from it.
"""

from __future__ import annotations

from codesign.design import LayerImpl, is_lossless_accum
from codesign.errors import UnsupportedLayerError
from codesign.fixed import FixedType, Overflow
from codesign.ir import layers as L
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
    graph, design = qnet.graph, qnet.design
    for layer in graph.layers[1:]:
        where = f"layer {layer.name!r} ({layer.kind})"
        impl = design[layer.name]
        x_t = design.type_of(layer.inputs[0])
        if isinstance(layer, L.Conv1d):
            raise UnsupportedLayerError(
                f"{where}: codesign has not verified hls4ml's Conv1D against the bit-accurate "
                "model yet, so it does not emit it (use the RTL back end)")
        if isinstance(layer, L.Add):
            _check_add(layer, qnet)
        elif isinstance(layer, L.Pool2d) and io_type == "io_stream" and (
                layer.stride != layer.kernel):
            raise UnsupportedLayerError(
                f"{where}: hls4ml's io_stream pooling only handles stride == kernel (its C "
                f"simulation aborts otherwise); this one has kernel {list(layer.kernel)}, "
                f"stride {list(layer.stride)}. Use --io parallel or a non-overlapping pool.")
        elif isinstance(layer, L.MaxPool2d) and io_type == "io_stream":
            assert impl.accum is not None
            if impl.accum.overflow in (Overflow.WRAP, Overflow.SAT_ZERO) and cast_can_overflow(
                    x_t, impl.accum):
                raise UnsupportedLayerError(
                    f"{where}: in io_stream hls4ml casts every input to the accumulator "
                    f"{impl.accum} before taking the max, and that cast can overflow "
                    f"({impl.accum.overflow}) for inputs of {x_t}, so the max would differ "
                    "from the bit-accurate model. Use an accumulator that holds the input "
                    "range (e.g. the input type), a saturating one, or --io parallel.")
        elif isinstance(layer, L.AvgPool2d) and io_type == "io_stream":
            assert impl.accum is not None
            if not _window_sum_exact(x_t, impl.accum, layer.window):
                raise UnsupportedLayerError(
                    f"{where}: in io_stream hls4ml casts every input to the accumulator "
                    f"{impl.accum} and adds them in a tree, so the window sum must be exact "
                    f"there: the accumulator needs at least {x_t.frac} fraction bits and "
                    f"room for {layer.window} x the range of {x_t}. Widen it (see "
                    "codesign.design.lossless_avg_accum) or use --io parallel.")
        elif isinstance(layer, L.WeightedLayer):
            _check_weighted(layer, impl, x_t, io_type)


def _check_add(layer: L.Add, qnet: QuantizedNet) -> None:
    graph = qnet.graph
    if "input" in layer.inputs and len(graph.input_shape) > 1 and graph.input_shape[0] > 1:
        raise UnsupportedLayerError(
            f"layer {layer.name!r} (add): its skip input comes straight from the "
            f"{graph.input_shape[0]}-channel model input; hls4ml 1.3 builds that add "
            "wrongly in io_parallel and refuses it in io_stream. Put a layer (e.g. a 1x1 "
            "conv) between the input and the add.")


def _window_sum_exact(x_t: FixedType, acc: FixedType, window: int) -> bool:
    if acc.frac < x_t.frac:
        return False
    shift = acc.frac - x_t.frac
    return (window * x_t.max_int << shift) <= acc.max_int and (
        window * x_t.min_int << shift) >= acc.min_int


def _check_weighted(layer: L.WeightedLayer, impl: LayerImpl, x_t: FixedType,
                    io_type: str) -> None:
    where = f"layer {layer.name!r} ({layer.kind})"
    assert impl.weight is not None and impl.bias is not None
    for what, t in (("weight", impl.weight), ("bias", impl.bias)):
        problem = param_type_problem(what, t)
        if problem is not None:
            raise UnsupportedLayerError(f"{where}: {problem}.")
    if (io_type == "io_parallel" and isinstance(layer, L.Conv2d) and layer.kernel == (1, 1)
            and impl.strategy == "resource" and impl.reuse > 1):
        raise UnsupportedLayerError(
            f"{where}: hls4ml 1.3 turns a 1x1 conv into a PointwiseConv2D whose io_parallel "
            f"Resource implementation computes wrong outputs at reuse {impl.reuse} (found by "
            "codesign's randomized C-simulation tests). Use strategy latency, reuse 1, or "
            "--io stream.")
    if impl.strategy == "resource" and impl.reuse > 1 and order_matters(impl, x_t, layer.terms):
        raise UnsupportedLayerError(
            f"{where}: hls4ml's Resource strategy at reuse {impl.reuse} adds the products "
            f"in an interleaved order, and the saturating accumulator {impl.accum} makes the "
            "sum depend on that order. Use a lossless or wrapping accumulator, reuse 1, or "
            "strategy latency.")

