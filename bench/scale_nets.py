"""The networks bench/scale.py sizes besides the zoo's cifar_like (3.1M MACs): a smaller
and a larger residual CNN for 32x32 RGB, loaded by the flows as `file: scale_nets.py:NAME`
and trained on the generated shapes32 data."""

from __future__ import annotations

from torch import nn

from codesign.zoo import BasicBlock


def _cbr(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]


def small32() -> nn.Module:
    """About 1.8M MACs: conv 12/24 with pools, a residual block at 24 on 8x8, conv 48."""
    return nn.Sequential(*_cbr(3, 12), nn.MaxPool2d(2), *_cbr(12, 24), nn.MaxPool2d(2),
                         BasicBlock(24), nn.MaxPool2d(2), *_cbr(24, 48),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(48, 10))


def large32() -> nn.Module:
    """About 4.0M MACs: conv 16/32 with pools, a residual block at 32 on 8x8, conv 64 on
    8x8 (not 4x4 as cifar_like), then a pool to 4x4 and a global pool."""
    return nn.Sequential(*_cbr(3, 16), nn.MaxPool2d(2), *_cbr(16, 32), nn.MaxPool2d(2),
                         BasicBlock(32), *_cbr(32, 64), nn.MaxPool2d(2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
