"""Fixtures for the sensitivity tests: a network small enough to form its full Hessian."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

TINY_SHAPE = (1, 4, 4)


def tiny_model() -> nn.Module:
    """conv(1->2, 3x3) + BN + ReLU + maxpool + dense(8->3): 18 + 24 = 42 weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3))
        bn = model[1]
        bn.running_mean.copy_(torch.tensor([0.1, -0.2]))
        bn.running_var.copy_(torch.tensor([0.5, 2.0]))  # scales far from 1: folding matters
        bn.weight.data.copy_(torch.tensor([1.5, 0.4]))
        bn.bias.data.copy_(torch.tensor([0.2, 0.1]))
    return model.eval()


def tiny_folded(model: nn.Module) -> nn.Module:
    """The same network with BatchNorm folded by hand (an independent path to W_f)."""
    model = copy.deepcopy(model).double()  # fold in float64, like the IR
    conv, bn, lin = model[0], model[1], model[5]
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(1, 2, 3, padding=1)
    folded.weight.data = (conv.weight * scale.view(-1, 1, 1, 1)).detach().clone()
    folded.bias.data = ((conv.bias - bn.running_mean) * scale + bn.bias).detach().clone()
    dense = nn.Linear(8, 3)
    dense.load_state_dict(lin.state_dict())
    return nn.Sequential(folded, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), dense).double().eval()


@pytest.fixture(scope="session")
def tiny():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, *TINY_SHAPE)).astype(np.float32)
    y = rng.integers(0, 3, size=32)
    return tiny_model(), x, y


@pytest.fixture(scope="session")
def tiny_exact(tiny):
    """Exact Hessian of the mean cross-entropy w.r.t. the folded weights (conv, dense)."""
    model, x, y = tiny
    folded = tiny_folded(model)
    conv_w, dense_w = folded[0].weight.detach(), folded[4].weight.detach()
    n0 = conv_w.numel()
    xt, yt = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y)

    def loss(flat: torch.Tensor) -> torch.Tensor:
        w0 = flat[:n0].view_as(conv_w)
        w1 = flat[n0:].view_as(dense_w)
        h = torch.nn.functional.conv2d(xt, w0, folded[0].bias, padding=1)
        h = torch.nn.functional.max_pool2d(torch.relu(h), 2).flatten(1)
        return torch.nn.functional.cross_entropy(h @ w1.T + folded[4].bias, yt)

    flat = torch.cat([conv_w.flatten(), dense_w.flatten()])
    hess = torch.autograd.functional.hessian(loss, flat).numpy()
    return hess, [slice(0, n0), slice(n0, flat.numel())]


@pytest.fixture(scope="session")
def tiny_gn_sigma(tiny, tiny_exact) -> list[float]:
    """Exact std of one Gauss-Newton draw (gaussnewton.py) per layer of the tiny network,
    from each sample's Jacobian of the logits: a draw is 1/N sum_i u_i^T M_i u_i with
    M_i = B_i^T J_i J_i^T B_i, so its variance is 1/N^2 sum_i 2 sum_{j != k} (M_i)_jk^2."""
    model, x, _ = tiny
    _, slices = tiny_exact
    folded = tiny_folded(model)
    conv, dense = folded[0], folded[4]
    n0 = conv.weight.numel()
    flat = torch.cat([conv.weight.detach().flatten(), dense.weight.detach().flatten()])
    xt = torch.as_tensor(x, dtype=torch.float64)

    def logits(w: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        h = torch.nn.functional.conv2d(xi[None], w[:n0].view_as(conv.weight), conv.bias,
                                       padding=1)
        h = torch.nn.functional.max_pool2d(torch.relu(h), 2).flatten(1)
        return (h @ w[n0:].view_as(dense.weight).T + dense.bias)[0]

    var = np.zeros(len(slices))
    for xi in xt:
        jac = torch.autograd.functional.jacobian(lambda w, xi=xi: logits(w, xi), flat).numpy()
        p = torch.softmax(logits(flat, xi), dim=0).detach().numpy()
        lam, q = np.linalg.eigh(np.diag(p) - np.outer(p, p))
        b = q * np.sqrt(np.clip(lam, 0, None))
        for k, s in enumerate(slices):
            m = b.T @ jac[:, s] @ jac[:, s].T @ b
            var[k] += 2 * (np.sum(m ** 2) - np.sum(np.diag(m) ** 2))
    return list(np.sqrt(var) / len(x))
