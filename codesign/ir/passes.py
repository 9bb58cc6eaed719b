"""Small rewrites over the IR. Each takes a Graph and returns a new one."""

from __future__ import annotations

import dataclasses

from codesign.errors import UnsupportedLayerError
from codesign.ir.graph import Graph
from codesign.ir.layers import BatchNorm, Layer, WeightedLayer


def _rename_inputs(layer: Layer, renames: dict[str, str]) -> Layer:
    if not any(i in renames for i in layer.inputs):
        return layer
    return dataclasses.replace(layer, inputs=tuple(renames.get(i, i) for i in layer.inputs))


def fold_batchnorm(graph: Graph) -> Graph:
    """Fold every BatchNorm into the conv/linear that feeds it (eval-mode statistics).

    The producer must feed nothing else, otherwise its unnormalized output would be
    lost; such a BatchNorm is refused by name.
    """
    folded: dict[str, Layer] = {layer.name: layer for layer in graph}
    renames: dict[str, str] = {}
    drop: set[str] = set()
    for layer in graph:
        if not isinstance(layer, BatchNorm):
            continue
        producer = folded[layer.inputs[0]]
        if not isinstance(producer, WeightedLayer) or len(graph.consumers(producer.name)) != 1:
            raise UnsupportedLayerError(
                f"BatchNorm at '{layer.source}' does not directly follow a Conv/Linear whose "
                "output feeds nothing else, so it cannot be folded; put it right after one."
            )
        shape = (-1,) + (1,) * (producer.weight.ndim - 1)
        folded[producer.name] = dataclasses.replace(
            producer,
            weight=producer.weight * layer.scale.reshape(shape),
            bias=producer.bias * layer.scale + layer.shift,
        )
        renames[layer.name] = producer.name
        drop.add(layer.name)
    if not drop:
        return graph
    return Graph(tuple(_rename_inputs(folded[layer.name], renames)
                       for layer in graph if layer.name not in drop))


def uses_batchnorm(graph: Graph) -> bool:
    return any(isinstance(layer, BatchNorm) for layer in graph)


__all__ = ["fold_batchnorm", "uses_batchnorm"]
