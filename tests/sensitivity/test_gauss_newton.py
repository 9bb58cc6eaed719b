"""The Gauss-Newton draws against an exact Hessian, per-layer stopping, and the reported
convergence.

The exact side never goes through the code under test: the Hessian block by
torch.autograd.functional.hessian (conftest.tiny_exact), and the estimator's variance
from each sample's Jacobian of the logits (autograd.functional.jacobian on the hand-folded
network): a draw is 1/N sum_i u_i^T M_i u_i with M_i = B_i^T J_i J_i^T B_i, so its
variance is 1/N^2 sum_i 2 sum_{j != k} (M_i)_jk^2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from codesign.cli.main import main
from codesign.errors import CodesignError
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.sensitivity.activations import activation_traces
from codesign.sensitivity.hessian import resolve_estimator, weight_traces
from codesign.sensitivity.hutchinson import HutchinsonSettings
from codesign.sensitivity.perturbation import hessian_table

TINY_SHAPE = (1, 4, 4)  # as in conftest.tiny_model
F64 = torch.float64


def test_gauss_newton_trace_within_statistical_bound_of_exact(tiny, tiny_exact, tiny_gn_sigma):
    model, x, y = tiny
    hess, slices = tiny_exact
    draws = 60
    settings = HutchinsonSettings(min_iters=draws, max_iters=draws, tol=0.0, batches=2,
                                  batch_size=16, seed=5, estimator="gauss-newton")
    est = weight_traces(model, TINY_SHAPE, x, y, settings, cache=False, dtype=F64)
    assert est.estimator == "gauss-newton" and est.iterations == draws
    for i, (s, sigma) in enumerate(zip(slices, tiny_gn_sigma, strict=True)):
        exact = np.trace(hess[s, s])
        assert abs(est.trace[i] - exact) <= 4 * sigma / np.sqrt(draws) + 1e-12 * abs(exact), (
            i, est.trace[i], exact)
        assert est.samples[:, i].std() == pytest.approx(sigma, rel=0.3, abs=1e-12)
        # the isolated double-backprop draw's exact std, 2 sum_{j != k} (H_ll)_jk^2:
        # Gauss-Newton's is several times smaller, which is where its speed comes from
        block = hess[s, s]
        hvp_sigma = np.sqrt(2 * (np.sum(block ** 2) - np.sum(np.diag(block) ** 2)))
        assert sigma < 0.5 * hvp_sigma


def _sequence_model() -> tuple[torch.nn.Module, np.ndarray, np.ndarray]:
    """Conv1d (strided, BN folded) and a Linear over the last axis of a (C, L) map: the
    window geometries a per-sample weight gradient must unfold besides conv2d's."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Conv1d(2, 4, 3, padding=1, stride=2), torch.nn.BatchNorm1d(4),
            torch.nn.ReLU(), torch.nn.Linear(5, 6), torch.nn.ReLU(), torch.nn.Flatten(),
            torch.nn.Linear(24, 3)).eval()
        model[1].running_var.fill_(0.5)
    rng = np.random.default_rng(0)
    return model, rng.normal(size=(32, 2, 10)).astype(np.float32), rng.integers(0, 3, 32)


@pytest.mark.parametrize("net", ["tiny", "sequence"])
def test_gauss_newton_and_hvp_agree_within_their_errors(tiny, net):
    """The two estimators of one trace, weights and activations, agree within 4 joint
    standard errors."""
    model, x, y = tiny if net == "tiny" else _sequence_model()
    shape = tuple(x.shape[1:])
    graph = Graph.from_torch(model, shape)
    for traces in (lambda s: weight_traces(model, shape, x, y, s, cache=False, dtype=F64),
                   lambda s: activation_traces(graph, x, y, s, cache=False, dtype=F64)):
        ests = [traces(HutchinsonSettings(min_iters=60, max_iters=60, tol=0.0, batches=2,
                                          batch_size=16, estimator=e))
                for e in ("gauss-newton", "hvp")]
        z = (ests[0].trace - ests[1].trace) / np.hypot(ests[0].stderr, ests[1].stderr)
        assert np.all(np.abs(z) < 4), (ests[0].names, z)


def test_each_layer_stops_on_its_own_and_skipping_changes_no_other_draw(tiny):
    """hvp isolated draws: the conv's relative spread is ~4x smaller than the dense's
    (tests/test_hessian), so the conv meets tol long before the dense and is no longer
    computed (NaN); the draws it took are the ones a fixed-count run takes."""
    model, x, y = tiny
    kw = dict(batches=1, batch_size=32, estimator="hvp", seed=2)
    est = weight_traces(model, TINY_SHAPE, x, y, HutchinsonSettings(
        min_iters=4, max_iters=1000, tol=0.08, **kw), cache=False, dtype=F64)
    conv, dense = (int(k) for k in est.draws)
    assert est.converged and conv < dense == est.iterations < 1000
    assert np.all(est.relative_stderr() <= 0.08)
    assert np.all(np.isnan(est.samples[conv:, 0])) and not np.isnan(est.samples).any(axis=0)[1]
    fixed = weight_traces(model, TINY_SHAPE, x, y, HutchinsonSettings(
        min_iters=dense, max_iters=dense, tol=0.0, **kw), cache=False, dtype=F64)
    np.testing.assert_array_equal(fixed.samples[:conv, 0], est.samples[:conv, 0])
    np.testing.assert_array_equal(fixed.samples[:, 1], est.samples[:, 1])


def test_stops_at_min_iters_when_every_layer_converged(tiny):
    model, x, y = tiny
    est = weight_traces(model, TINY_SHAPE, x, y, HutchinsonSettings(
        min_iters=5, max_iters=500, tol=0.1, batches=1, batch_size=32), cache=False)
    assert est.estimator == "gauss-newton"  # auto picks it: every tiny layer is piecewise linear
    assert est.converged and est.iterations == 5


@dataclass(frozen=True, eq=False)
class _Smooth(L.Layer):
    """A stand-in for a layer kind that is not piecewise linear (say a sigmoid)."""

    kind = "smooth"

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(xs[0])


def test_gauss_newton_only_where_exact(tiny):
    model, _, _ = tiny
    graph = Graph.from_torch(model, TINY_SHAPE)
    last = graph.output
    smooth = Graph((*graph.layers, _Smooth("smooth", (last.name,), last.out_shape)))
    assert resolve_estimator(HutchinsonSettings(), graph) == "gauss-newton"
    assert resolve_estimator(HutchinsonSettings(), smooth) == "hvp"
    with pytest.raises(CodesignError, match=r"exact only for piecewise-linear layers; this "
                       r"network has kinds \[.*'smooth'.*\]. Use estimator 'hvp'"):
        resolve_estimator(HutchinsonSettings(estimator="gauss-newton"), smooth)
    with pytest.raises(CodesignError, match="estimator must be one of auto, gauss-newton, "
                       "hvp, not 'magic'"):
        HutchinsonSettings(estimator="magic")


def test_convergence_is_in_the_table(tiny):
    model, x, y = tiny
    settings = HutchinsonSettings(min_iters=3, max_iters=3, tol=0.0, batches=1, batch_size=32)
    table = hessian_table(model, TINY_SHAPE, x, y, (2, 4), settings=settings, cache=False)
    conv = table.layers["conv2d_0"].extra
    assert conv["weight_trace_draws"] == 3
    assert conv["weight_trace_relative_stderr"] == pytest.approx(
        conv["weight_trace_stderr"] / abs(conv["weight_trace"]))
    assert table.layers["relu_2"].extra["act_trace_draws"] == 3
    assert table.settings["weight_draws_by"] == table.settings["act_draws_by"] == "gauss-newton"
    assert table.settings["weight_worst_relative_stderr"] >= conv["weight_trace_relative_stderr"]


@pytest.mark.usefixtures("digits_cnn_trained")
def test_cli_reports_convergence(capsys):
    args = ["sensitivity", "digits_cnn", "--bits", "2,8", "--no-activations", "--min-iters",
            "3", "--max-iters", "3", "--batches", "1", "--batch-size", "32", "--no-cache",
            "--tol", "0"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "weight traces: 3 draws by gauss-newton in " in text
    assert main([*args, "--json", "--estimator", "hvp"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["settings"]["weight_draws_by"] == "hvp"
    assert printed["layers"]["conv2d_0"]["extra"]["weight_trace_draws"] == 3


@pytest.mark.parametrize("estimator", ["gauss-newton", "hvp"])
def test_nonfinite_data_is_refused_by_name(tiny, estimator):
    """A NaN image made the Gauss-Newton draw fail inside torch.linalg.eigh and the hvp
    draw return zeros; both now refuse the data, saying where the NaN is."""
    model, x, y = tiny
    x = x.copy()
    x[3, 0, 1, 2] = np.nan
    settings = HutchinsonSettings(min_iters=2, max_iters=2, batches=1, batch_size=32,
                                  estimator=estimator)
    with pytest.raises(CodesignError, match=r"the sensitivity data's images \(its first 32 "
                       r"training samples\) hold 1 non-finite value \(1 NaN, 0 Inf\), the "
                       r"first at index \(3, 0, 1, 2\); clean the dataset"):
        weight_traces(model, TINY_SHAPE, x, y, settings, cache=False)

