"""Calibration ranges, data-free inputs, adaptive rounding, noise evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codesign.errors import DesignError
from codesign.fixed import FixedType
from codesign.qnet import QuantizedNet
from codesign.quant import adaround as A
from codesign.quant.calibrate import (
    Widths,
    calibrate_design,
    calibration_ranges,
    fit_type,
    max_abs,
    mse_range,
    percentile_abs,
)
from codesign.quant.datafree import bn_loss, synthesize_inputs
from codesign.quant.fxtorch import fixed_forward, weighted_sum
from codesign.quant.noise import noisy_accuracy


def _heavy_tail() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(100_000)
    x[:5] = 60.0  # a few outliers
    return x


def test_percentile_ignores_outliers() -> None:
    x = _heavy_tail()
    assert percentile_abs(99.9)(x) < 5 < max_abs(x)
    assert fit_type(x, 4, range_fn=percentile_abs(99.9)).integer < fit_type(x, 4).integer


def test_mse_picks_the_smallest_error() -> None:
    x = _heavy_tail()
    t = fit_type(x, 4, signed=True, range_fn=mse_range)
    errors = {i: np.mean((FixedType(4, i, True, "RND", "SAT").quantize(x) - x) ** 2)
              for i in range(t.integer - 3, t.integer + 4)}
    assert min(errors, key=errors.get) == t.integer
    assert mse_range(x) == max_abs(x)  # without a width it is max-abs


def test_unknown_calibration_is_refused() -> None:
    with pytest.raises(DesignError, match="max, percentile, mse"):
        calibration_ranges("kl")
    with pytest.raises(DesignError, match="percentile"):
        percentile_abs(0)


def test_synthetic_inputs_match_batchnorm_statistics(quant_module) -> None:
    x0, loss0 = synthesize_inputs(quant_module, (1, 8, 8), 64, steps=1, seed=1)
    x, loss = synthesize_inputs(quant_module, (1, 8, 8), 64, steps=60, seed=1)
    assert x.shape == (64, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    assert loss < loss0 / 3
    assert all(p.requires_grad for p in quant_module.parameters())  # model restored


def test_bn_loss_zero_at_running_stats() -> None:
    bn = torch.nn.BatchNorm2d(3).eval()
    bn.running_mean[:] = torch.tensor([1.0, -2.0, 0.5])
    bn.running_var[:] = torch.tensor([4.0, 1.0, 0.25])
    z = torch.randn(4096, 3, 4, 4)
    z = (z - z.mean(dim=(0, 2, 3), keepdim=True)) / z.std(dim=(0, 2, 3), unbiased=False,
                                                         keepdim=True)
    x = z * bn.running_var.sqrt().view(1, 3, 1, 1) + bn.running_mean.view(1, 3, 1, 1)
    assert float(bn_loss([x], [bn])) < 1e-8


def test_adaround_never_increases_layer_error(quant_graph, quant_digits) -> None:
    cx = quant_digits.x_train[:256]
    design = calibrate_design(quant_graph, cx, Widths(3, 3))
    layer = quant_graph["conv2d_4"]
    weights = {lay.name: torch.tensor(design[lay.name].weight.quantize(lay.weight))
               for lay in quant_graph.weighted}
    biases = {lay.name: torch.tensor(lay.bias) for lay in quant_graph.weighted}
    xq = fixed_forward(quant_graph, design, weights, biases, cx, return_all=True)["maxpool2d_3"]
    xf = quant_graph.forward(cx, return_all=True, dtype=torch.float64)["maxpool2d_3"]
    b = biases[layer.name]
    target = torch.relu(weighted_sum(layer, xf, torch.tensor(layer.weight), b))
    ada, rec = A.adaround_layer(layer, xq, target, design, relu=True, iters=150)
    err = [float(((torch.relu(weighted_sum(layer, xq, w, b)) - target) ** 2).sum() / len(cx))
           for w in (ada, weights[layer.name])]
    assert err[0] < err[1]
    assert rec["kept"] == "adaround" and rec["adaround"] == pytest.approx(err[0], rel=1e-9)
    assert torch.equal(ada, torch.tensor(design[layer.name].weight.quantize(ada.numpy())))


def test_adaround_objective_is_asymmetric_with_the_relu_inside(quant_graph, quant_digits) -> None:
    """Target: the float layer's output on float inputs, through the ReLU; the rounded
    layer sees the fixed-point network's input (for the first layer: the input cast)."""
    cx = quant_digits.x_train[:128]
    design = calibrate_design(quant_graph, cx, Widths(2, 2))
    layer = quant_graph["conv2d_0"]
    records: dict = {}
    A.adaround(quant_graph, design, cx, iters=5, records=records)
    x = torch.tensor(cx, dtype=torch.float64)
    x_q = torch.tensor(design.input.quantize(cx.astype(np.float64)))
    b = torch.tensor(layer.bias)
    target = torch.relu(weighted_sum(layer, x, torch.tensor(layer.weight), b))
    nearest = torch.tensor(design["conv2d_0"].weight.quantize(layer.weight))
    want = float(((torch.relu(weighted_sum(layer, x_q, nearest, b)) - target) ** 2).sum() / len(cx))
    assert records["conv2d_0"]["nearest"] == pytest.approx(want, rel=1e-9)
    # symmetric (both sides on quantized inputs) would give a different number
    sym = torch.relu(weighted_sum(layer, x_q, torch.tensor(layer.weight), b))
    other = float(((torch.relu(weighted_sum(layer, x_q, nearest, b)) - sym) ** 2).sum() / len(cx))
    assert other != pytest.approx(want, rel=1e-3)
    assert set(records) == {lay.name for lay in quant_graph.weighted}


def test_adaround_refuses_zero_iterations(quant_graph, quant_digits) -> None:
    design = calibrate_design(quant_graph, quant_digits.x_train[:64], Widths(3, 3))
    with pytest.raises(DesignError, match="at least 1 iteration"):
        A.adaround(quant_graph, design, quant_digits.x_train[:64], iters=0)


def test_noise_free_accuracy_is_the_bit_accurate_one(quant_graph, quant_digits) -> None:
    design = calibrate_design(quant_graph, quant_digits.x_train[:256], Widths(4, 4))
    qnet = QuantizedNet.from_float(quant_graph, design)
    x, y = quant_digits.x_test, quant_digits.y_test
    exact = float((qnet.predict(x) == y).mean())
    assert noisy_accuracy(qnet, x, y, 0.0, trials=1) == (exact, 0.0)
    noisy, _ = noisy_accuracy(qnet, x, y, 2.0, trials=2)
    assert noisy < exact
