"""Data-free calibration inputs (S3): images whose batch statistics at every BatchNorm
match the running mean and variance it stored during training (ZeroQ / DeepInversion).

The IR folds BatchNorm away, so this runs on the torch model with forward hooks. Inputs
are optimised by Adam on the statistics mismatch plus a small total-variation prior, and
kept in the data's range [lo, hi] (digits: [0, 1]) by projection after each step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from codesign.errors import CodesignError


def synthesize_inputs(model: nn.Module, input_shape: tuple[int, ...], n: int = 256, *,
                      steps: int = 300, lr: float = 0.05, tv_weight: float = 1e-3,
                      value_range: tuple[float, float] = (0.0, 1.0), seed: int = 0,
                      progress: bool = False) -> tuple[np.ndarray, float]:
    """n synthetic inputs (float32, batch first) and the final mean BN-statistics loss."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        raise CodesignError("data-free calibration matches BatchNorm statistics, but the torch "
                            "model has no BatchNorm layer; calibrate on real data instead")
    if any(m.running_mean is None or m.running_var is None for m in bns):
        raise CodesignError("a BatchNorm layer keeps no running statistics "
                            "(track_running_stats=False); data-free calibration needs them")
    captured: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: captured.append(inp[0]))
             for m in bns]
    was_training = model.training
    model.eval()
    params = {p: p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)
    lo, hi = value_range
    x = (lo + (hi - lo) * torch.rand((n, *input_shape), generator=gen)).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    bar = tqdm(range(steps), desc="synthesize", disable=None if progress else True, leave=False)
    loss_value = float("nan")
    try:
        for _ in bar:
            captured.clear()
            model(x)
            loss = bn_loss(captured, bns) + tv_weight * total_variation(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(lo, hi)
            loss_value = float(loss.detach())
            bar.set_postfix(loss=f"{loss_value:.4f}")
        with torch.no_grad():
            captured.clear()
            model(x)
            loss_value = float(bn_loss(captured, bns))
    finally:
        for h in hooks:
            h.remove()
        for p, flag in params.items():
            p.requires_grad_(flag)
        model.train(was_training)
    return x.detach().numpy().astype(np.float32), loss_value


def bn_loss(inputs: list[torch.Tensor], bns: list[nn.Module]) -> torch.Tensor:
    """Mean over BN layers of ||mu_batch - mu_run||^2 + ||sigma_batch - sigma_run||^2 per
    channel (batch statistics over every axis but the channel)."""
    total = torch.zeros(())
    for x, bn in zip(inputs, bns, strict=True):
        dims = [d for d in range(x.ndim) if d != 1]
        mean = x.mean(dim=dims)
        std = torch.sqrt(x.var(dim=dims, unbiased=False) + bn.eps)
        run_std = torch.sqrt(bn.running_var + bn.eps)
        total = total + ((mean - bn.running_mean) ** 2).mean() + ((std - run_std) ** 2).mean()
    return total / len(bns)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of neighbouring pixels (an image-smoothness prior)."""
    tv = torch.zeros(())
    if x.ndim >= 3:
        tv = tv + (x[..., 1:] - x[..., :-1]).abs().mean()
    if x.ndim >= 4:
        tv = tv + (x[..., 1:, :] - x[..., :-1, :]).abs().mean()
    return tv
