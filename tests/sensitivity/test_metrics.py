"""Omega uses the toolkit's own quantizer; probes and the mapping behave on real nets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from codesign.data import load_dataset
from codesign.errors import CodesignError
from codesign.ir.graph import Graph
from codesign.quant.calibrate import Widths, calibrate_design
from codesign.sensitivity.activations import activation_traces
from codesign.sensitivity.hutchinson import HutchinsonSettings
from codesign.sensitivity.mapping import hardware_weights
from codesign.sensitivity.perturbation import hessian_table, quantize_weight, weight_type
from codesign.sensitivity.probes import ImprintedProbe, probe_table, pyramid_pool
from codesign.zoo import build_model

TINY_SHAPE = (1, 4, 4)  # as in conftest.tiny_model

FAST = HutchinsonSettings(min_iters=3, max_iters=3, batches=1, batch_size=32)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_weight_quantizer_is_the_one_calibrate_uses(digits_cnn_trained, digits):
    graph = Graph.from_torch(digits_cnn_trained, (1, 8, 8))
    for b in (2, 3, 6):
        design = calibrate_design(graph, digits.x_train[:64], Widths(b, 8))
        for layer in graph.weighted:
            assert weight_type(layer.weight, b) == design.layers[layer.name].weight
            q = quantize_weight(layer.weight, b)
            assert np.all(design.layers[layer.name].weight.to_int(q) * 2.0 ** -
                          design.layers[layer.name].weight.frac == q)


def test_hessian_table_is_tr_over_n_times_error(tiny):
    model, x, y = tiny
    t = hessian_table(model, TINY_SHAPE, x, y, (2, 4), settings=FAST, cache=False)
    joint = hessian_table(model, TINY_SHAPE, x, y, (2, 4), method="joint", settings=FAST,
                          cache=False)
    graph = Graph.from_torch(model, TINY_SHAPE)
    assert list(t.layers) == ["input", "conv2d_0", "relu_2", "dense_5"]
    for layer in graph.weighted:
        s = t.layers[layer.name]
        assert s.params == layer.weight.size
        assert s.score == pytest.approx(s.extra["weight_trace"] / layer.weight.size)
        for b in (2, 4):
            err = np.sum((quantize_weight(layer.weight, b) - layer.weight) ** 2)
            assert s.weight[b] == pytest.approx(s.score * err)
            lsb = weight_type(layer.weight, b).lsb
            assert joint.layers[layer.name].weight[b] == pytest.approx(
                s.extra["weight_trace"] * lsb ** 2 / 12)
        assert abs(s.weight[2]) > abs(s.weight[4]) > 0  # the tiny net is untrained: Tr may be < 0
    assert t.layers["relu_2"].weight is None and t.layers["relu_2"].act[2] > 0


@pytest.mark.parametrize("estimator", ["hvp", "gauss-newton"])
def test_activation_trace_of_logits_matches_closed_form(tiny, estimator):
    """Hessian of cross-entropy w.r.t. logits is diag(p) - p p^T: trace sum p(1-p), / N.
    Gauss-Newton draws at the output are ||B u||^2 = Tr(A) whatever u: exact every draw."""
    model, x, y = tiny
    graph = Graph.from_torch(model, TINY_SHAPE)
    draws = 60
    est = activation_traces(graph, x, y, HutchinsonSettings(
        min_iters=draws, max_iters=draws, tol=0, batches=1, batch_size=32,
        estimator=estimator), cache=False, dtype=torch.float64)
    p = torch.softmax(graph.forward(x, dtype=torch.float64), dim=1).numpy()
    exact = float(np.sum(p * (1 - p)) / len(x))
    i = est.names.index("dense_5")
    if estimator == "gauss-newton":
        np.testing.assert_allclose(est.samples[:, i], exact, rtol=1e-12)
        return
    assert abs(est.trace[i] - exact) <= 4 * est.stderr[i]
    assert est.stderr[i] < 0.2 * exact


def test_mapping_follows_module_paths_through_nested_blocks():
    model = build_model("digits_resnet").eval()
    graph, weights = hardware_weights(model, (1, 8, 8))
    paths = {w.name: w.module_path for w in weights}
    assert paths["conv2d_3_conv1"] == "3.conv1" and paths["dense_8"] == "8"
    assert all(w.scale is not None for w in weights if w.kind == "conv2d")
    assert [w.name for w in weights] == [layer.name for layer in graph.weighted]


def test_mapping_refuses_a_shared_module():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(self.fc(x.flatten(1)))

    with pytest.raises(CodesignError, match="module 'fc' is called twice"):
        hardware_weights(Twice(), (4,))


def test_pyramid_pool_and_imprinting():
    a = torch.arange(2 * 3 * 8 * 8, dtype=torch.float64).view(2, 3, 8, 8)
    assert pyramid_pool(a).shape == (2, 3 * (1 + 4 + 16))
    assert pyramid_pool(a[:, :, :2, :2]).shape == (2, 3 * (1 + 4))
    assert pyramid_pool(a[:, :, 0]).shape == (2, 3 * (1 + 2 + 4))
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 16)) * 5
    labels = rng.integers(0, 4, size=200)
    feats = torch.as_tensor(centers[labels] + rng.normal(size=(200, 16)))
    probe = ImprintedProbe.imprint(feats, labels, 4)
    acc, loss = probe.evaluate(feats, labels)
    assert acc > 0.98 and loss < 1.5


def test_probe_table_on_digits(digits_cnn_trained, digits):
    graph = Graph.from_torch(digits_cnn_trained, (1, 8, 8))
    t = probe_table(graph, digits.x_train[:400], digits.y_train[:400], digits.x_val,
                    digits.y_val, (2, 8), digits.num_classes)
    assert t.weighted() == [layer.name for layer in graph.weighted]
    for name in t.weighted():
        s = t.layers[name]
        assert 0.5 < s.score <= 1.0  # trained features carry the task
        assert s.weight[2] > s.weight[8]  # 2 bits hurts more than 8
        assert abs(s.weight[8]) < 0.02
