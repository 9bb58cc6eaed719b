"""The model zoo: small reference CNNs with their dataset and training recipe.

Every model is a plain ``torch.nn.Module`` made only of layers the hardware flow
understands (Conv2d, BatchNorm2d, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1),
Flatten, Linear, and a residual add), so each one can go through trace -> quantize ->
HLS/RTL unchanged. The digits models train in seconds on a CPU and are the examples and
test fixtures; ``cifar_like`` is the real-size example on the generated ``shapes32``
data; the MNIST/CIFAR-10 ones need the user's local data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from codesign.errors import CodesignError


@dataclass(frozen=True)
class TrainSettings:
    """The recipe :func:`codesign.train.train_model` follows; part of the cache key."""

    epochs: int
    lr: float
    batch_size: int
    seed: int = 0


@dataclass(frozen=True)
class ZooEntry:
    """One zoo model: how to build it, what it eats, and how to train it."""

    name: str
    factory: Callable[[], nn.Module]
    input_shape: tuple[int, int, int]
    dataset: str
    description: str
    train: TrainSettings
    target_accuracy: float | None = None
    """Test accuracy the recipe is known to reach (checked by the tests), if trained here."""


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]


class BasicBlock(nn.Module):
    """ResNet basic block with an identity skip: relu(bn2(conv2(relu(bn1(conv1 x)))) + x)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(self.bn2(self.conv2(out)) + x)


def digits_cnn() -> nn.Module:
    """The built-in example: two conv blocks and one dense layer, ~2k parameters."""
    return nn.Sequential(
        *_conv_bn_relu(1, 8),
        nn.MaxPool2d(2),
        *_conv_bn_relu(8, 16),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 2 * 2, 10),
    )


def digits_wide() -> nn.Module:
    """Four convs (16-32 channels) and a hidden dense layer: more layers to allocate bits over."""
    return nn.Sequential(
        *_conv_bn_relu(1, 16),
        *_conv_bn_relu(16, 16),
        nn.MaxPool2d(2),
        *_conv_bn_relu(16, 32),
        *_conv_bn_relu(32, 32),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )


def digits_resnet() -> nn.Module:
    """Stem conv, two identity-skip basic blocks, full-kernel average pool, dense."""
    return nn.Sequential(
        *_conv_bn_relu(1, 16),
        BasicBlock(16),
        nn.MaxPool2d(2),
        BasicBlock(16),
        nn.AvgPool2d(4),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


def mnist_cnn() -> nn.Module:
    """Three conv blocks for 28x28 MNIST-format images (28 -> 14 -> 7 -> 3)."""
    return nn.Sequential(
        *_conv_bn_relu(1, 16),
        nn.MaxPool2d(2),
        *_conv_bn_relu(16, 32),
        nn.MaxPool2d(2),
        *_conv_bn_relu(32, 32),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 3 * 3, 10),
    )


def cifar10_cnn() -> nn.Module:
    """A VGG-style 3-stage CNN for 32x32 RGB (32 -> 16 -> 8 -> 4)."""
    return nn.Sequential(
        *_conv_bn_relu(3, 32),
        *_conv_bn_relu(32, 32),
        nn.MaxPool2d(2),
        *_conv_bn_relu(32, 64),
        *_conv_bn_relu(64, 64),
        nn.MaxPool2d(2),
        *_conv_bn_relu(64, 64),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 4 * 4, 10),
    )


def cifar_like() -> nn.Module:
    """A CIFAR-class CNN of about 3.1M MACs for 32x32 RGB: conv 16 and 32 with pools, a
    residual block at 32 channels on 8x8, conv 64 on 4x4, a global average pool and a
    linear head (32 -> 16 -> 8 -> 4 -> 1). The real-size example: too big to unroll, it
    must be folded to fit a mid-range part."""
    return nn.Sequential(
        *_conv_bn_relu(3, 16),
        nn.MaxPool2d(2),
        *_conv_bn_relu(16, 32),
        nn.MaxPool2d(2),
        BasicBlock(32),
        nn.MaxPool2d(2),
        *_conv_bn_relu(32, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )


ZOO: dict[str, ZooEntry] = {
    e.name: e
    for e in [
        ZooEntry(
            "digits_cnn",
            digits_cnn,
            (1, 8, 8),
            "digits",
            "tiny 2-conv CNN for 8x8 digits; the built-in example",
            TrainSettings(epochs=30, lr=1e-2, batch_size=32),
            target_accuracy=0.97,
        ),
        ZooEntry(
            "digits_wide",
            digits_wide,
            (1, 8, 8),
            "digits",
            "4-conv + hidden-dense digits CNN for sensitivity studies",
            TrainSettings(epochs=20, lr=5e-3, batch_size=32),
            target_accuracy=0.97,
        ),
        ZooEntry(
            "digits_resnet",
            digits_resnet,
            (1, 8, 8),
            "digits",
            "small residual net (2 identity-skip basic blocks) for 8x8 digits",
            TrainSettings(epochs=20, lr=5e-3, batch_size=32),
            target_accuracy=0.95,
        ),
        ZooEntry(
            "cifar_like",
            cifar_like,
            (3, 32, 32),
            "shapes32",
            "3.1M-MAC residual CNN for 32x32 RGB on the generated shapes32 data; the "
            "real-size example",
            TrainSettings(epochs=12, lr=3e-3, batch_size=64),
        ),
        ZooEntry(
            "mnist_cnn",
            mnist_cnn,
            (1, 28, 28),
            "mnist",
            "3-conv CNN for MNIST (needs the MNIST IDX files locally)",
            TrainSettings(epochs=10, lr=2e-3, batch_size=128),
        ),
        ZooEntry(
            "cifar10_cnn",
            cifar10_cnn,
            (3, 32, 32),
            "cifar10",
            "5-conv VGG-style CNN for CIFAR-10 (needs the python batches locally)",
            TrainSettings(epochs=30, lr=2e-3, batch_size=128),
        ),
    ]
}


def get_entry(name: str) -> ZooEntry:
    """The zoo entry called ``name``; the error lists the valid names."""
    try:
        return ZOO[name]
    except KeyError:
        raise CodesignError(f"unknown zoo model {name!r}; valid names: {', '.join(ZOO)}") from None


def build_model(name: str, seed: int | None = None) -> nn.Module:
    """A fresh, untrained zoo model whose initial weights come from ``seed``
    (the entry's training seed by default), so every build is the same.

    Seeding happens inside a forked RNG so the caller's global torch RNG is untouched.
    """
    entry = get_entry(name)
    seed = entry.train.seed if seed is None else seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return entry.factory()
