"""What each method reads: train for the Hessian and for imprinting, val for scoring the
probes, never test; and the probes' Omega is monotone and ranks layers like the truth."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from codesign.cli import cmd_sensitivity
from codesign.cli.main import main
from codesign.data import load_dataset
from codesign.ir.graph import Graph
from codesign.sensitivity.hutchinson import HutchinsonSettings
from codesign.sensitivity.measure import sensitivity_table
from codesign.sensitivity.perturbation import quantize_weight
from codesign.sensitivity.probes import forward, monotone_envelope, with_weight

FAST = HutchinsonSettings(min_iters=2, max_iters=2, tol=0.0, batches=1, batch_size=32)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def poisoned(data):
    """The same dataset with a test split no method may depend on: NaN images, wrong labels."""
    rng = np.random.default_rng(0)
    return dataclasses.replace(data, x_test=np.full_like(data.x_test, np.nan),
                               y_test=rng.permutation(data.y_test)[::-1].copy())


@pytest.mark.parametrize("method", ["hessian", "joint", "probe"])
def test_no_method_reads_the_test_split(digits_cnn_trained, digits, method):
    clean, dirty = (sensitivity_table(digits_cnn_trained, (1, 8, 8), d, method, (2, 4),
                                      settings=FAST, cache=False).to_dict()
                    for d in (digits, poisoned(digits)))
    for table in (clean, dirty):
        for name in table["settings"]:  # seconds differ from run to run
            if name.endswith("seconds"):
                table["settings"][name] = 0
    assert clean == dirty
    layer = clean["layers"]["conv2d_0"]
    assert all(np.isfinite(v) for v in layer["weight"].values())


def test_probes_score_on_the_validation_split(digits_cnn_trained, digits):
    """Changing val changes the probe table (so val is what they are scored on)."""
    args = (digits_cnn_trained, (1, 8, 8))
    table = sensitivity_table(*args, digits, "probe", (2,), activations=False)
    half = dataclasses.replace(digits, x_val=digits.x_val[::2], y_val=digits.y_val[::2])
    other = sensitivity_table(*args, half, "probe", (2,), activations=False)
    assert table.settings["val_samples"] == len(digits.x_val)
    assert other.settings["val_samples"] == len(half.x_val)
    assert table.layers["conv2d_0"].score != other.layers["conv2d_0"].score


def test_cli_never_reads_the_test_split(digits_cnn_trained, digits, monkeypatch, capsys):
    args = ["sensitivity", "digits_cnn", "--method", "probe", "--bits", "2,8", "--json"]
    outputs = []
    for data in (digits, poisoned(digits)):
        monkeypatch.setattr(cmd_sensitivity, "dataset_from_args", lambda a, m, d=data: d)
        assert main(args) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1]


def test_monotone_envelope():
    assert monotone_envelope({8: 0.1, 2: 0.5, 4: 0.7, 3: -0.2}) == {2: 0.7, 3: 0.7, 4: 0.7,
                                                                    8: 0.1}
    assert monotone_envelope({4: -0.3, 6: -0.1}) == {4: 0.0, 6: 0.0}


def test_probe_omega_is_monotone_in_width(digits_cnn_trained, digits):
    table = sensitivity_table(digits_cnn_trained, (1, 8, 8), digits, "probe", (2, 3, 4, 8))
    assert table.layers["relu_2"].act is not None
    for name, s in table.layers.items():
        for what in ("weight", "act"):
            omega = getattr(s, what)
            if omega is None:
                continue
            values = [omega[b] for b in table.bits]
            assert values == sorted(values, reverse=True) and values[-1] >= 0, (name, what)
            assert omega == monotone_envelope(s.extra[f"{what}_raw"])


def _loss(graph: Graph, x: np.ndarray, y: np.ndarray) -> float:
    return float(F.cross_entropy(forward(graph, x)[graph.output.name], torch.as_tensor(y)))


def test_probes_rank_layers_like_the_measured_loss_increase(digits_cnn_trained, digits):
    """Pooled over 2 and 3 bits, Spearman of probe Omega against the loss increase each
    layer's quantization causes on the training split (the scoring read val)."""
    graph = Graph.from_torch(digits_cnn_trained, (1, 8, 8))
    table = sensitivity_table(digits_cnn_trained, (1, 8, 8), digits, "probe", (2, 3),
                              activations=False)
    base = _loss(graph, digits.x_train, digits.y_train)
    keys = [(layer, b) for layer in graph.weighted for b in (2, 3)]
    truth = [_loss(with_weight(graph, layer.name, quantize_weight(layer.weight, b)),
                   digits.x_train, digits.y_train) - base for layer, b in keys]
    omega = [table.omega(layer.name, b) for layer, b in keys]
    assert spearmanr(omega, truth).statistic >= 0.8
