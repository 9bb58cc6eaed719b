"""Which ReLU the RTL fuses into the engine before it: the one rule, read by the planner
(codesign.rtl.network) and by the cost models that price a design without planning it
(codesign.cost.fast, codesign.alloc.layercost).

A ReLU right after a conv or dense layer that feeds only it (and is not the network's
output) is computed by that layer's engine (its RELU cast), so it has no engine, stream
or output register of its own.
"""

from __future__ import annotations

from codesign.ir import layers as L
from codesign.ir.graph import Graph


def fused_relu(graph: Graph, layer: L.Layer) -> L.ReLU | None:
    """The ReLU fused into `layer`'s engine, or None."""
    if not isinstance(layer, L.WeightedLayer):
        return None
    users = graph.consumers(layer.name)
    relu = users[0] if len(users) == 1 else None
    if isinstance(relu, L.ReLU) and layer is not graph.output:
        return relu
    return None


def fused_into(graph: Graph) -> dict[str, str]:
    """Every fused ReLU -> the weighted layer whose engine computes it."""
    return {relu.name: layer.name for layer in graph.weighted
            if (relu := fused_relu(graph, layer)) is not None}
