"""A bring-your-own model for flows/byo.yaml: any file with a function returning an
nn.Module works the same way (`model: {file: net.py:make, input_shape: [1, 8, 8]}`)."""

from torch import nn


def make() -> nn.Module:
    """A small CNN for 8x8 single-channel images, 10 classes."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 2 * 2, 10),
    )
