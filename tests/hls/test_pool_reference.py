"""Pooling, lossy accumulators included, against an independent numpy reference.

The bit-accurate model pools on integer mantissas with shifts (cast_int); hls4ml's C
simulation is checked against it elsewhere. Here a second, plain implementation works on
real values with FixedType.quantize (the real-valued, frexp-based path), one window
position and one element at a time in hls4ml's order: average = running sum, each exact
add cast to the accumulator, then `y /= N` (the accumulator's mantissa divided toward
zero), cast to the result; max = the largest input, cast to the accumulator, then to the
result. Every output element of every pool layer must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from randnet import random_qnet, stress_qnet

from codesign.fixed import FixedType
from codesign.ir import layers as L
from codesign.qnet import QuantizedNet


def avgpool_reference(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                      acc: FixedType, res: FixedType) -> np.ndarray:
    """x: real values (N, C, H, W) on the input grid -> real values of the result."""
    (kh, kw), (sh, sw) = kernel, stride
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            y = np.zeros((n, c))
            for a in range(kh):
                for b in range(kw):
                    y = acc.quantize(y + x[:, :, i * sh + a, j * sw + b])
            quotient = np.fix(y / acc.lsb / (kh * kw)) * acc.lsb
            out[:, :, i, j] = res.quantize(quotient)
    return out


def maxpool_reference(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                      acc: FixedType, res: FixedType) -> np.ndarray:
    (kh, kw), (sh, sw) = kernel, stride
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            m = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].max(axis=(2, 3))
            out[:, :, i, j] = res.quantize(acc.quantize(m))
    return out


def _check_pools(qnet: QuantizedNet, x: np.ndarray) -> int:
    """Compare every pool layer; returns how many lossy ones were checked."""
    values = qnet.forward(x, return_all=True)
    assert isinstance(values, dict)
    lossy = 0
    for layer in qnet.graph.layers:
        if not isinstance(layer, L.Pool2d):
            continue
        impl = qnet.design[layer.name]
        src = layer.inputs[0]
        ref_fn = avgpool_reference if isinstance(layer, L.AvgPool2d) else maxpool_reference
        want = ref_fn(values[src], layer.kernel, layer.stride, impl.accum, impl.result)
        got = values[layer.name]
        bad = np.argwhere(got != want)
        assert not len(bad), (f"{layer.name}: first difference at {tuple(bad[0])}: model "
                              f"{got[tuple(bad[0])]}, reference {want[tuple(bad[0])]}")
        exact = (qnet.design.type_of(src).frac <= impl.accum.frac
                 and impl.accum.width >= qnet.design.type_of(src).width + 8)
        lossy += not exact
    return lossy


def test_lossy_average_pool_stress() -> None:
    qnet, x = stress_qnet("avgpool")
    assert _check_pools(qnet, x[:300]) >= 1


@pytest.mark.parametrize("seed", [100, 101, *range(8)])
def test_random_pools(seed: int) -> None:
    qnet, x = random_qnet(seed, parallel_only=seed >= 100)
    _check_pools(qnet, x[:200])


def test_reference_catches_a_wrong_division() -> None:
    """The reference is not a copy: rounding the division instead of truncating it
    differs on a window whose sum is not a multiple of N."""
    acc = FixedType.parse("ap_fixed<10,4,AP_RND,AP_SAT>")
    res = FixedType.parse("ap_fixed<12,4>")
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 0, 0] = 8 * acc.lsb  # sum 8 lsb, divided by 9: 0 by truncation (0.89 rounded: 1)
    assert avgpool_reference(x, (3, 3), (3, 3), acc, res)[0, 0, 0, 0] == 0.0
