"""The intermediate representation: Graph and its layers."""

from codesign.ir.graph import Graph
from codesign.ir.layers import (
    Add,
    AvgPool2d,
    BatchNorm,
    Conv1d,
    Conv2d,
    Dense,
    Flatten,
    GlobalAvgPool2d,
    Input,
    Layer,
    MaxPool2d,
    ReLU,
    WeightedLayer,
)

__all__ = ["Graph", "Layer", "Input", "Conv2d", "Conv1d", "Dense", "BatchNorm", "ReLU",
           "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d", "Flatten", "Add", "WeightedLayer"]
