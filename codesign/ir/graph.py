"""Graph: the network as an ordered list of layers with known shapes.

Layers are kept in a topological order (the order the torch model computes them), so a
single pass over `graph.layers` evaluates the network. A Graph is immutable: passes
return new Graphs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from codesign.errors import CodesignError, DesignError
from codesign.ir.layers import LAYER_KINDS, Input, Layer, Shape, WeightedLayer


@dataclass(frozen=True, eq=False)
class Graph:
    layers: tuple[Layer, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for layer in self.layers:
            if layer.name in seen:
                raise DesignError(f"duplicate layer name {layer.name!r} in graph")
            missing = [i for i in layer.inputs if i not in seen]
            if missing:
                raise DesignError(
                    f"layer {layer.name!r} reads {missing} before they are computed"
                )
            seen.add(layer.name)
        if not self.layers or not isinstance(self.layers[0], Input):
            raise DesignError("a graph starts with its Input layer")

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_torch(cls, model: torch.nn.Module, input_shape: Shape) -> Graph:
        """Trace a torch model with torch.fx, fold BatchNorm, drop Dropout/Identity."""
        from codesign.ir.passes import fold_batchnorm
        from codesign.ir.trace import trace

        return fold_batchnorm(trace(model, tuple(input_shape)))

    # -- lookup -----------------------------------------------------------------------
    @property
    def input(self) -> Input:
        return self.layers[0]  # type: ignore[return-value]

    @property
    def input_shape(self) -> Shape:
        return self.input.out_shape

    @property
    def output(self) -> Layer:
        return self.layers[-1]

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise DesignError(f"no layer named {name!r}; the layers are: {', '.join(self.names)}")

    def consumers(self, name: str) -> list[Layer]:
        return [layer for layer in self.layers if name in layer.inputs]

    def in_shapes(self, layer: Layer) -> list[Shape]:
        return [self[i].out_shape for i in layer.inputs]

    @property
    def weighted(self) -> list[WeightedLayer]:
        return [layer for layer in self.layers if isinstance(layer, WeightedLayer)]

    # -- evaluation -------------------------------------------------------------------
    def forward(
        self, x: np.ndarray | torch.Tensor, *, return_all: bool = False, dtype=torch.float32
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        """Float forward of the IR (batch first). Proves the IR equals the torch model."""
        values: dict[str, torch.Tensor] = {}
        xt = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        with torch.no_grad():
            for layer in self.layers:
                if isinstance(layer, Input):
                    values[layer.name] = xt.to(dtype)
                else:
                    values[layer.name] = layer.forward_float(*(values[i] for i in layer.inputs))
        return values if return_all else values[self.output.name]

    # -- tables -----------------------------------------------------------------------
    def summary(self) -> list[dict]:
        """One row per layer: name, kind, inputs, output shape, parameters, MACs."""
        return [
            {
                "name": layer.name,
                "kind": layer.kind,
                "inputs": list(layer.inputs),
                "out_shape": list(layer.out_shape),
                "params": layer.params,
                "macs": layer.macs(self.in_shapes(layer)),
                "source": layer.source,
            }
            for layer in self.layers
        ]

    # -- serialization ----------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The whole graph as named numpy arrays (structure as JSON text): one .npz."""
        spec = []
        arrays: dict[str, np.ndarray] = {}
        for layer in self.layers:
            entry = {
                "name": layer.name, "kind": layer.kind, "inputs": list(layer.inputs),
                "out_shape": list(layer.out_shape), "source": layer.source,
                "fields": {},
            }
            for key, value in vars(layer).items():
                if key in ("name", "inputs", "out_shape", "source"):
                    continue
                if isinstance(value, np.ndarray):
                    arrays[f"float/{layer.name}/{key}"] = value
                else:
                    entry["fields"][key] = list(value) if isinstance(value, tuple) else value
            spec.append(entry)
        arrays["graph.json"] = np.array(json.dumps(spec))
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray] | np.lib.npyio.NpzFile) -> Graph:
        try:
            spec = json.loads(str(arrays["graph.json"]))
        except KeyError as exc:
            raise CodesignError("file holds no graph (no 'graph.json' entry)") from exc
        layers: list[Layer] = []
        for entry in spec:
            kind = LAYER_KINDS.get(entry["kind"])
            if kind is None:
                raise CodesignError(f"unknown layer kind {entry['kind']!r} in saved graph")
            fields = {
                k: tuple(v) if isinstance(v, list) else v for k, v in entry["fields"].items()
            }
            prefix = f"float/{entry['name']}/"
            for key in arrays.keys() if hasattr(arrays, "keys") else arrays:
                if key.startswith(prefix):
                    fields[key[len(prefix):]] = np.asarray(arrays[key])
            layers.append(kind(entry["name"], tuple(entry["inputs"]), tuple(entry["out_shape"]),
                               source=entry.get("source", ""), **fields))
        return cls(tuple(layers))
