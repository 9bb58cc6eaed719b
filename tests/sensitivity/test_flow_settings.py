"""The digits_cnn flows' Hessian settings converge on their model (issue 23, item 10):
`codesign run flows/digits.yaml`, the Quickstart, must not print an UnconvergedWarning,
for the weight traces nor for the activation traces it also measures.

Trained weights differ a little between machines, and the draws a trace needs vary with
them, so the check asks each flow's draw cap to hold for several draw seeds, not only the
one it uses."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from codesign.data import load_dataset
from codesign.flow.schema import load_flow
from codesign.ir.graph import Graph
from codesign.sensitivity.activations import activation_traces
from codesign.sensitivity.hessian import weight_traces
from codesign.sensitivity.hutchinson import HutchinsonSettings, UnconvergedWarning

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def digits_cnn_settings() -> list[HutchinsonSettings]:
    """The distinct weight-Hessian settings of the shipped digits_cnn flows."""
    found = []
    for path in sorted(FLOWS.glob("*.yaml")):
        flow = load_flow(path)
        s = flow.sensitivity
        if flow.model.zoo != "digits_cnn" or s is None or s.method == "probe":
            continue
        assert s.activations  # the Quickstart allocates activation widths too
        settings = HutchinsonSettings(min_iters=s.min_iters, max_iters=s.max_iters, tol=s.tol,
                                      batches=s.batches, batch_size=s.batch_size, seed=s.seed)
        if settings not in found:
            found.append(settings)
    assert found and FLOWS / "digits.yaml" in FLOWS.glob("*.yaml")
    return found


@pytest.mark.parametrize("seed_offset", range(5))
def test_digits_flows_hessian_converges_at_their_settings(digits_cnn_trained, seed_offset):
    data = load_dataset("digits")
    for settings in digits_cnn_settings():
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnconvergedWarning)
            est = weight_traces(digits_cnn_trained, (1, 8, 8), data.x_train, data.y_train,
                                replace(settings, seed=settings.seed + seed_offset),
                                cache=False)
            acts = activation_traces(Graph.from_torch(digits_cnn_trained, (1, 8, 8)),
                                     data.x_train, data.y_train,
                                     replace(settings, seed=settings.seed + seed_offset),
                                     cache=False)
        assert est.converged and acts.converged
