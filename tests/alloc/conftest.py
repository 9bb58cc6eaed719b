"""Sensitivity tables for the zoo graphs without running an estimator: Omega falls 4x per
bit, scaled per layer by a seeded random factor (the allocator only reads the numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from codesign.alloc.candidates import tensor_groups
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.sensitivity.table import LayerSensitivity, SensitivityTable


def fake_table(graph: Graph, model: str, method: str = "hessian",
               bits: tuple[int, ...] = (2, 4, 8), seed: int = 0) -> SensitivityTable:
    rng = np.random.default_rng(seed)
    tensor_groups(graph)  # the graph is one the allocator supports
    layers = {}
    for layer in graph:
        rounded = isinstance(layer, (L.Input, L.WeightedLayer, L.ReLU, L.Add))
        if not rounded:
            continue
        weight = None
        if isinstance(layer, L.WeightedLayer):
            s = rng.uniform(0.1, 3.0) * layer.params / 100
            weight = {b: float(s * 4.0 ** -b) for b in bits}
        a = rng.uniform(0.05, 2.0)
        act = {b: float(a * 4.0 ** -b) for b in bits}
        layers[layer.name] = LayerSensitivity(layer.kind, layer.params,
                                              float(rng.uniform(0.1, 1)), weight, act)
    return SensitivityTable(method, model, "digits", bits, layers)


@pytest.fixture(scope="session")
def make_table():
    return fake_table


@pytest.fixture(scope="session")
def cnn_graph():
    from codesign.models import load_model

    return load_model("digits_cnn", progress=False).graph()


@pytest.fixture(scope="session")
def cnn_job(cnn_graph, make_table):
    """An allocation of digits_cnn on an xc7z020 with 100 DSPs, LUT budget 0.2."""
    from dataclasses import replace

    from codesign.alloc.budget import parse_budget
    from codesign.alloc.pipeline import AllocateJob
    from codesign.data import load_dataset
    from codesign.devices import get_device
    from codesign.models import load_model

    model = load_model("digits_cnn", progress=False)
    # the repro: a budget on LUT only; a part with fewer DSPs than the designs
    # that budget alone admits would use
    dev = replace(get_device("xc7z020"), dsp=100)
    return AllocateJob("digits_cnn", cnn_graph, load_dataset(model.dataset),
                       [make_table(cnn_graph, "digits_cnn")], dev,
                       parse_budget("lut=0.2", dev), methods=("exact", "uniform"),
                       points=5, calib_samples=64)
