"""The Hutchinson estimator against an exact Hessian.

Three checks, each with a reason:
- the Hessian-vector product is exact (it equals H v for the explicit H, w.r.t. folded
  weights, to float64 rounding), so any error left is sampling error;
- Hutchinson is exact in one draw when H is diagonal (a linear layer, squared error,
  one-hot inputs): every draw equals the trace;
- on a general H, the mean of K draws lies within 4 standard errors of the trace, with
  the standard error computed exactly from H: Var(v^T S v) = 2 sum_{i != j} S_ij^2
  (S = H_ll with isolated draws, the default; the symmetrized rows of H without).
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from codesign.errors import CodesignError
from codesign.ir.graph import Graph
from codesign.sensitivity.activations import activation_traces
from codesign.sensitivity.hessian import WeightHessian, cache_key, estimator_id, weight_traces
from codesign.sensitivity.hutchinson import HutchinsonSettings, UnconvergedWarning, estimate

TINY_SHAPE = (1, 4, 4)  # as in conftest.tiny_model

F64 = torch.float64


def _hess(model, x, y, **kw) -> WeightHessian:
    settings = HutchinsonSettings(batches=kw.pop("batches", 1), batch_size=kw.pop("bs", 32))
    return WeightHessian(model, TINY_SHAPE, x, y, settings, dtype=F64, **kw)


def test_hvp_equals_exact_hessian_times_v_for_folded_weights(tiny, tiny_exact):
    model, x, y = tiny
    hess, slices = tiny_exact
    h = _hess(model, x, y)
    assert h.names == ("conv2d_0", "dense_5")
    rng = np.random.default_rng(1)
    for _ in range(3):
        v = rng.normal(size=hess.shape[0])
        vs = [torch.as_tensor(v[s]).view_as(t) for s, t in zip(slices, h.theta, strict=True)]
        got = np.concatenate([t.detach().numpy().ravel() for t in h.hvp(vs)])
        np.testing.assert_allclose(got, hess @ v, rtol=1e-9, atol=1e-12)


def test_isolated_draw_is_each_layers_own_block_quadratic(tiny, tiny_exact):
    """block_quadratics gives v_l^T H_ll v_l exactly: no cross-layer term v_l^T H_lm v_m."""
    model, x, y = tiny
    hess, slices = tiny_exact
    h = _hess(model, x, y)
    v = np.random.default_rng(3).choice([-1.0, 1.0], size=hess.shape[0])
    vs = [torch.as_tensor(v[s]).view_as(t) for s, t in zip(slices, h.theta, strict=True)]
    want = [v[s] @ hess[s, s] @ v[s] for s in slices]
    np.testing.assert_allclose(h.block_quadratics(vs, 0), want, rtol=1e-9)
    joint = [v[s] @ (hess @ v)[s] for s in slices]
    assert not np.allclose(want, joint, rtol=1e-3)  # the cross terms are really there


def test_batches_sum_to_the_full_hessian(tiny):
    model, x, y = tiny
    h = _hess(model, x, y, batches=4, bs=8)
    vs = [torch.ones_like(t) for t in h.theta]
    full = h.hvp(vs)
    parts = [h.hvp(vs, batch=b) for b in range(4)]
    for i, t in enumerate(full):
        np.testing.assert_allclose(sum(p[i] for p in parts).numpy(), t.numpy(), rtol=1e-10)


@pytest.mark.parametrize("isolate", [True, False])
def test_hvp_trace_within_statistical_tolerance_of_exact(tiny, tiny_exact, isolate):
    model, x, y = tiny
    hess, slices = tiny_exact
    draws = 100
    settings = HutchinsonSettings(min_iters=draws, max_iters=draws, tol=0.0, batches=1,
                                  batch_size=32, seed=7, isolate=isolate, estimator="hvp")
    est = weight_traces(model, TINY_SHAPE, x, y, settings, cache=False, dtype=F64)
    assert est.iterations == draws
    for i, s in enumerate(slices):
        exact = np.trace(hess[s, s])
        rows = np.zeros_like(hess)
        if isolate:  # only the layer's own block H_ll adds variance
            rows[s, s] = hess[s, s]
        else:
            rows[s] = hess[s]
        sym = (rows + rows.T) / 2
        sigma = np.sqrt(2 * (np.sum(sym ** 2) - np.sum(np.diag(sym) ** 2)))
        assert abs(est.trace[i] - exact) <= 4 * sigma / np.sqrt(draws), (i, est.trace[i], exact)
        # the sample standard deviation agrees with the exact one
        assert est.samples[:, i].std() == pytest.approx(sigma, rel=0.3)
        assert est.per_element[i] == pytest.approx(est.trace[i] / (s.stop - s.start))


def test_exact_in_one_draw_when_hessian_is_diagonal():
    """0.5 ||W x - t||^2 with one-hot x: H = I_out (x) sum_n x_n x_n^T / N, diagonal."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3, bias=False)).eval()
    x = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0, 1]].reshape(6, 1, 2, 2)
    t = np.random.default_rng(0).normal(size=(6, 3))

    def mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return 0.5 * ((out - target) ** 2).sum(dim=1).mean()

    settings = HutchinsonSettings(min_iters=3, max_iters=50, tol=1e-12, batches=2, batch_size=4)
    h = WeightHessian(model, (1, 2, 2), x, t, settings, loss_fn=mse, dtype=F64)
    est = estimate(h.draw, h.names, h.sizes, settings)
    # each sample contributes x x^T with one 1 on the diagonal, times 3 outputs, / N
    np.testing.assert_allclose(est.samples, 3.0, rtol=1e-12)
    assert est.converged and est.iterations == 3


def test_cache_returns_the_same_estimate(tiny, tmp_path):
    model, x, y = tiny
    settings = HutchinsonSettings(min_iters=5, max_iters=5, batches=1, batch_size=32)
    first = weight_traces(model, TINY_SHAPE, x, y, settings, cache=tmp_path)
    assert len(list((tmp_path / "sensitivity").glob("*.npz"))) == 1
    again = weight_traces(model, TINY_SHAPE, x, y, settings, cache=tmp_path)
    np.testing.assert_array_equal(first.samples, again.samples)
    other = weight_traces(model, TINY_SHAPE, x, y, HutchinsonSettings(
        min_iters=5, max_iters=5, batches=1, batch_size=32, seed=1), cache=tmp_path)
    assert len(list((tmp_path / "sensitivity").glob("*.npz"))) == 2
    assert not np.array_equal(first.samples, other.samples)


def test_stopping_rule(tiny):
    model, x, y = tiny
    loose = weight_traces(model, TINY_SHAPE, x, y, HutchinsonSettings(
        min_iters=4, max_iters=500, tol=0.5, batches=1, batch_size=32), cache=False)
    assert loose.converged and loose.iterations < 500
    assert np.all(loose.relative_stderr() <= 0.5)
    capped = weight_traces(model, TINY_SHAPE, x, y, HutchinsonSettings(
        min_iters=4, max_iters=6, tol=0.0, batches=1, batch_size=32), cache=False)
    assert not capped.converged and capped.iterations == 6


@pytest.mark.parametrize("kw, message", [
    (dict(min_iters=0), "min_iters must be a positive integer, not 0"),
    (dict(min_iters=10, max_iters=5), "min_iters (10) exceeds max_iters (5)"),
    (dict(tol=-1.0), "tol must be a non-negative number, not -1.0"),
    (dict(batch_size=2.5), "batch_size must be a positive integer, not 2.5"),
    (dict(isolate=1), "isolate must be True or False, not 1"),
])
def test_settings_refuse_bad_values(kw, message):
    with pytest.raises(CodesignError) as exc:
        HutchinsonSettings(**kw)
    assert message in str(exc.value)


def test_unconverged_estimate_warns_fresh_and_cached(tiny, tmp_path):
    model, x, y = tiny
    tight = HutchinsonSettings(min_iters=2, max_iters=3, tol=1e-6, batches=1, batch_size=32)
    with pytest.warns(UnconvergedWarning, match=r"stopped at max_iters = 3 draws unconverged; "
                      r"'(conv2d_0|dense_5)' has a relative standard error"):
        first = weight_traces(model, TINY_SHAPE, x, y, tight, cache=tmp_path)
    assert not first.converged
    with pytest.warns(UnconvergedWarning):  # loading the cached estimate says it again
        weight_traces(model, TINY_SHAPE, x, y, tight, cache=tmp_path)
    graph = Graph.from_torch(model, TINY_SHAPE)
    with pytest.warns(UnconvergedWarning, match="activation Hessian trace"):
        activation_traces(graph, x, y, tight, cache=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tol 0 asks for exactly max_iters draws: no warning
        weight_traces(model, TINY_SHAPE, x, y, HutchinsonSettings(
            min_iters=2, max_iters=3, tol=0.0, batches=1, batch_size=32), cache=False)
        loose = weight_traces(model, TINY_SHAPE, x, y, HutchinsonSettings(
            min_iters=4, max_iters=500, tol=0.5, batches=1, batch_size=32), cache=False)
    assert loose.converged


def test_cache_is_keyed_by_method_and_every_setting(tiny):
    _, x, y = tiny
    state = {"w": np.arange(6.0).reshape(2, 3)}
    base = HutchinsonSettings()
    weight_id = estimator_id("weight", F.cross_entropy, torch.float32)
    key = cache_key(weight_id, state, x, y, base)
    assert key == cache_key(dict(weight_id), state, x, y, HutchinsonSettings())
    others = {cache_key(estimator_id("activation", F.cross_entropy, torch.float32), state, x,
                        y, base),
              cache_key(estimator_id("weight", F.mse_loss, torch.float32), state, x, y, base),
              cache_key(estimator_id("weight", F.cross_entropy, torch.float64), state, x, y,
                        base)}
    for field, value in [("min_iters", 21), ("max_iters", 201), ("tol", 0.03), ("batches", 9),
                         ("batch_size", 65), ("seed", 1), ("isolate", False),
                         ("estimator", "hvp"), ("threads", 2)]:
        others.add(cache_key(weight_id, state, x, y, replace(base, **{field: value})))
    others.add(cache_key(estimator_id("weight", F.cross_entropy, torch.float32, "gauss-newton"),
                         state, x, y, base))
    assert key not in others and len(others) == 13
