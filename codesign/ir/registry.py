"""Per-stage rules keyed by layer class: what each stage does with each layer kind.

Every stage that treats layer kinds differently (the arithmetic, calibration, ranges,
cost, RTL planning, hls4ml configuration, allocator candidates) holds one
`LayerRegistry`. A rule is registered next to the code it belongs to:

    SHAPES = LayerRegistry("RTL planning", "codesign.rtl.network")

    @SHAPES.rule(L.ReLU)
    def _relu(layer, ...): ...

and a kind the stage never sees says so, with the reason (`SHAPES.skip(L.BatchNorm,
"folded into the conv before quantization")`). tests/test_registries.py asserts that
every registry decides every kind in `codesign.ir.layers.LAYER_KINDS`, so a new kind
cannot be half added: the test names each registry that lacks it. docs/contributing.md
walks through one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from codesign.errors import UnsupportedLayerError
from codesign.ir.layers import Layer

R = TypeVar("R")

REGISTRIES: list[LayerRegistry] = []
"""Every registry created, in import order (the coverage test imports the stages)."""


class LayerRegistry(Generic[R]):
    """Rules of one stage, keyed by layer class; a subclass without its own rule takes its
    closest base class's (MaxPool2d and AvgPool2d may share Pool2d's)."""

    def __init__(self, stage: str, home: str) -> None:
        self.stage = stage  # what the user reads: "the RTL generator", "hls4ml configuration"
        self.home = home  # the module that holds the rules: where a new kind's rule goes
        self.rules: dict[type[Layer], R] = {}
        self.skipped: dict[type[Layer], str] = {}
        REGISTRIES.append(self)

    def rule(self, *kinds: type[Layer]) -> Callable[[R], R]:
        """Decorator: register the decorated function (or object) for these kinds."""
        def register(fn: R) -> R:
            for kind in kinds:
                self.add(kind, fn)
            return fn
        return register

    def add(self, kind: type[Layer], rule: R) -> None:
        if kind in self.rules or kind in self.skipped:
            raise ValueError(f"{self.stage}: {kind.__name__} is registered twice")
        self.rules[kind] = rule

    def skip(self, kind: type[Layer], reason: str) -> None:
        """This stage never sees `kind`: say why (the coverage test reads it)."""
        if kind in self.rules or kind in self.skipped:
            raise ValueError(f"{self.stage}: {kind.__name__} is registered twice")
        self.skipped[kind] = reason

    def find(self, kind: type[Layer]) -> R | None:
        for cls in kind.__mro__:
            if cls in self.rules:
                return self.rules[cls]
            if cls in self.skipped:
                return None
        return None

    def __contains__(self, kind: type[Layer]) -> bool:
        return self.find(kind) is not None

    def decides(self, kind: type[Layer]) -> bool:
        """A rule or a stated reason to skip exists for this kind (or a base class)."""
        return any(c in self.rules or c in self.skipped for c in kind.__mro__)

    def __call__(self, layer: Layer) -> R:
        """The rule for this layer; a clear error naming the layer when there is none."""
        rule = self.find(type(layer))
        if rule is None:
            why = next((self.skipped[c] for c in type(layer).__mro__ if c in self.skipped),
                       None)
            detail = f": {why}" if why else f" (add a rule in {self.home})"
            raise UnsupportedLayerError(f"{self.stage} has no rule for {layer.kind} layers "
                                        f"({layer.name!r}){detail}")
        return rule
