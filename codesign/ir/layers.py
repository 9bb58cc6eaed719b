"""The layers of the IR: the network as the hardware sees it.

Each layer is a frozen dataclass holding its shape and float parameters, plus its float
forward (torch functional, used to prove the IR equals the traced model). Shapes are
per sample, without the batch dimension, channels first like PyTorch: (C, H, W) for
images, (C, L) for sequences, (F,) for vectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Window:
    """A sliding window over an image, the one geometry every stage reads: a Conv1d is
    one row (kernel (1, K)), a pool has no padding. Windows are visited in raster order
    and read in (kh, kw, channel) order, channel fastest (what the RTL line buffer
    presents and the bit-accurate model's weight matrix rows follow)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)

    def out_size(self, height: int, width: int) -> tuple[int, int]:
        """Output rows and columns over a height x width input (floor mode)."""
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        return pool_out(height, kh, sh, ph), pool_out(width, kw, sw, pw)


def as_image(shape: Shape, channels_last: bool = False) -> tuple[int, int, int]:
    """A per-sample shape as the (C, H, W) image a Window slides over: a sequence (C, L)
    is one row (C, 1, L), a vector (F,) one pixel of F channels (F, 1, 1). channels_last
    (a Dense: torch's Linear reads the last axis) takes the last axis as the channels and
    every other position as one pixel of a row: (C, L) -> (L, 1, C). With it one window
    code serves conv2d, conv1d and dense alike."""
    if channels_last:
        return (shape[-1], 1, int(np.prod(shape[:-1])))
    if len(shape) == 3:
        return (shape[0], shape[1], shape[2])
    if len(shape) == 2:
        return (shape[0], 1, shape[1])
    if len(shape) == 1:
        return (shape[0], 1, 1)
    raise ValueError(f"no image view of a shape of rank {len(shape)}: {shape}")


@dataclass(frozen=True, eq=False)
class Layer:
    """One node of the Graph: a name, the names of its inputs and its output shape."""

    name: str
    inputs: tuple[str, ...]
    out_shape: Shape
    source: str = field(default="", kw_only=True)  # module path or function in the torch model

    kind: ClassVar[str] = "layer"
    has_weights: ClassVar[bool] = False

    @property
    def params(self) -> int:
        return 0

    def macs(self, in_shapes: list[Shape]) -> int:
        return 0

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(self.kind)

    def attrs(self) -> dict:
        """Shape-defining attributes (no arrays), for serialization and tables."""
        return {}


@dataclass(frozen=True, eq=False)
class Input(Layer):
    kind: ClassVar[str] = "input"

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        return xs[0]


@dataclass(frozen=True, eq=False)
class WeightedLayer(Layer):
    """A layer with a weight tensor and a bias vector (Conv1d, Conv2d, Dense)."""

    weight: np.ndarray = field(kw_only=True)  # float64, torch layout
    bias: np.ndarray = field(kw_only=True)  # float64, (out,)

    has_weights: ClassVar[bool] = True
    channels_last: ClassVar[bool] = False  # its input's channels: first axis, or last (as_image)

    @property
    def params(self) -> int:
        return int(self.weight.size + self.bias.size)

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def terms(self) -> int:
        """Products summed per output element (the accumulator's depth)."""
        return int(np.prod(self.weight.shape[1:]))

    @property
    def geometry(self) -> Window:
        """Its window over the as_image view of its input (every weighted kind has one)."""
        raise NotImplementedError(self.kind)

    @property
    def conv2d_weight_shape(self) -> tuple[int, int, int, int]:
        """The weight as a conv2d kernel (out, in, kh, kw) over the as_image view."""
        kh, kw = self.geometry.kernel
        return (self.out_channels, int(self.weight.shape[1]), kh, kw)

    def macs(self, in_shapes: list[Shape]) -> int:
        out_positions = int(np.prod(self.out_shape)) // self.out_channels
        return out_positions * self.out_channels * self.terms

    def _w(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            torch.as_tensor(self.weight, dtype=like.dtype),
            torch.as_tensor(self.bias, dtype=like.dtype),
        )


@dataclass(frozen=True, eq=False)
class Conv2d(WeightedLayer):
    stride: tuple[int, int] = field(default=(1, 1), kw_only=True)
    padding: tuple[int, int] = field(default=(0, 0), kw_only=True)

    kind: ClassVar[str] = "conv2d"

    @property
    def kernel(self) -> tuple[int, int]:
        return (int(self.weight.shape[2]), int(self.weight.shape[3]))

    @property
    def geometry(self) -> Window:
        return Window(self.kernel, self.stride, self.padding)

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        w, b = self._w(xs[0])
        return F.conv2d(xs[0], w, b, stride=self.stride, padding=self.padding)

    def attrs(self) -> dict:
        return {"kernel": list(self.kernel), "stride": list(self.stride),
                "padding": list(self.padding), "in_channels": int(self.weight.shape[1]),
                "out_channels": self.out_channels}


@dataclass(frozen=True, eq=False)
class Conv1d(WeightedLayer):
    stride: int = field(default=1, kw_only=True)
    padding: int = field(default=0, kw_only=True)

    kind: ClassVar[str] = "conv1d"

    @property
    def kernel(self) -> int:
        return int(self.weight.shape[2])

    @property
    def geometry(self) -> Window:
        return Window((1, self.kernel), (1, self.stride), (0, self.padding))

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        w, b = self._w(xs[0])
        return F.conv1d(xs[0], w, b, stride=self.stride, padding=self.padding)

    def attrs(self) -> dict:
        return {"kernel": self.kernel, "stride": self.stride, "padding": self.padding,
                "in_channels": int(self.weight.shape[1]), "out_channels": self.out_channels}


@dataclass(frozen=True, eq=False)
class Dense(WeightedLayer):
    kind: ClassVar[str] = "dense"
    channels_last: ClassVar[bool] = True  # torch's Linear: over the last axis, per position

    @property
    def geometry(self) -> Window:
        """A 1x1 window: each vector of its input's last axis is one pixel (as_image), in
        model order (after a Flatten, torch's channel-major order; the RTL reads the same
        terms from the stream before the Flatten, reordered: rtl/network)."""
        return Window((1, 1), (1, 1))

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        w, b = self._w(xs[0])
        return F.linear(xs[0], w, b)

    def attrs(self) -> dict:
        return {"in_features": self.terms, "out_features": self.out_channels}


@dataclass(frozen=True, eq=False)
class BatchNorm(Layer):
    """Only lives between tracing and the fold_batchnorm pass; no back end accepts it."""

    scale: np.ndarray = field(kw_only=True)  # gamma / sqrt(var + eps)
    shift: np.ndarray = field(kw_only=True)  # beta - mean * scale

    kind: ClassVar[str] = "batchnorm"

    @property
    def params(self) -> int:
        return int(self.scale.size * 2)

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        x = xs[0]
        view = (1, -1) + (1,) * (x.dim() - 2)
        s = torch.as_tensor(self.scale, dtype=x.dtype).view(view)
        t = torch.as_tensor(self.shift, dtype=x.dtype).view(view)
        return x * s + t


@dataclass(frozen=True, eq=False)
class ReLU(Layer):
    kind: ClassVar[str] = "relu"

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.relu(xs[0])


@dataclass(frozen=True, eq=False)
class Pool2d(Layer):
    """Max or average pooling without padding (the only kind the back ends build)."""

    kernel: tuple[int, int] = field(kw_only=True)
    stride: tuple[int, int] = field(kw_only=True)

    @property
    def window(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @property
    def geometry(self) -> Window:
        return Window(self.kernel, self.stride)

    def attrs(self) -> dict:
        return {"kernel": list(self.kernel), "stride": list(self.stride)}


@dataclass(frozen=True, eq=False)
class MaxPool2d(Pool2d):
    kind: ClassVar[str] = "maxpool2d"

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(xs[0], self.kernel, self.stride)


@dataclass(frozen=True, eq=False)
class AvgPool2d(Pool2d):
    kind: ClassVar[str] = "avgpool2d"

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(xs[0], self.kernel, self.stride)


@dataclass(frozen=True, eq=False)
class GlobalAvgPool2d(AvgPool2d):
    """The mean of each channel over the whole image (AdaptiveAvgPool2d(1), a mean over
    H and W): an AvgPool2d whose kernel and stride are the input's H x W, so every stage
    that only needs its arithmetic takes AvgPool2d's rule; the RTL builds it as one
    accumulator per channel (hw/cs_gap.sv) instead of a full-image window."""

    kind: ClassVar[str] = "globalavgpool2d"


@dataclass(frozen=True, eq=False)
class Flatten(Layer):
    """(C, H, W) -> (C*H*W,) in PyTorch's channel-major order."""

    kind: ClassVar[str] = "flatten"

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.flatten(xs[0], 1)


@dataclass(frozen=True, eq=False)
class Add(Layer):
    """Elementwise sum of two tensors of the same shape (residual connections)."""

    kind: ClassVar[str] = "add"

    def forward_float(self, *xs: torch.Tensor) -> torch.Tensor:
        return xs[0] + xs[1]


LAYER_KINDS: dict[str, type[Layer]] = {
    cls.kind: cls
    for cls in (Input, Conv2d, Conv1d, Dense, BatchNorm, ReLU, MaxPool2d, AvgPool2d,
                GlobalAvgPool2d, Flatten, Add)
}


def pool_out(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Output length of a conv/pool along one axis (floor mode, as PyTorch)."""
    return math.floor((size + 2 * padding - kernel) / stride) + 1
