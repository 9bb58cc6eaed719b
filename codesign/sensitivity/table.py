"""SensitivityTable: what the allocator reads. One YAML file per (model, method).

Schema (version 1)::

    format: codesign-sensitivity/1
    method: hessian            # hessian | joint | probe
    model: digits_cnn          # as the user named it
    dataset: digits
    bits: [2, 3, 4, 6, 8]      # candidate widths, every layer has an entry for each
    settings: {...}            # how it was measured (estimator settings, samples, seconds)
    layers:                    # hardware (IR) layer names, in graph order
      conv2d_0:
        kind: conv2d
        params: 72             # weights in the layer (biases excluded), 0 if no weights
        score: 0.0123          # the width-free per-layer sensitivity of the method
                               # (hessian: Tr/n, joint: Tr, probe: float probe accuracy)
        weight: {2: 1.2e-2, 3: ...}   # Omega_l(b) when this layer's weights get b bits
        act: {2: 3.4e-3, 3: ...}      # Omega when this layer's result gets b bits
        extra: {...}           # method-specific figures (std errors, probe accuracies)

Omega is an expected loss increase (larger = more sensitive; comparable across layers and
widths within one table; hessian/joint are in units of 2x the mean cross-entropy
increase, probe in probe-loss units). `weight` is present on weighted layers, `act` on
layers that round their result. Unknown keys are refused on load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from codesign.errors import CodesignError
from codesign.yamlio import read_yaml

FORMAT = "codesign-sensitivity/1"
METHODS = ("hessian", "joint", "probe")
_TOP_KEYS = {"format", "method", "model", "dataset", "bits", "settings", "layers"}
_LAYER_KEYS = {"kind", "params", "score", "weight", "act", "extra"}


@dataclass(frozen=True)
class LayerSensitivity:
    kind: str
    params: int
    score: float | None = None
    weight: dict[int, float] | None = None
    act: dict[int, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "params": int(self.params)}
        if self.score is not None:
            out["score"] = float(self.score)
        if self.weight is not None:
            out["weight"] = {int(b): float(v) for b, v in self.weight.items()}
        if self.act is not None:
            out["act"] = {int(b): float(v) for b, v in self.act.items()}
        if self.extra:
            out["extra"] = _plain(self.extra)
        return out


@dataclass(frozen=True)
class SensitivityTable:
    """Per layer, per candidate width: Omega. See the module docstring for the YAML."""

    method: str
    model: str | None
    dataset: str | None
    bits: tuple[int, ...]
    layers: dict[str, LayerSensitivity]
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise CodesignError(f"unknown sensitivity method {self.method!r}; valid: "
                                f"{', '.join(METHODS)}")
        if not self.bits or any(not isinstance(b, int) or b < 1 for b in self.bits):
            raise CodesignError(f"bits must be positive integers, not {list(self.bits)}")
        for name, layer in self.layers.items():
            for what in ("weight", "act"):
                table = getattr(layer, what)
                if table is None:
                    continue
                if set(table) != set(self.bits):
                    raise CodesignError(f"layer {name!r} has {what} entries for widths "
                                        f"{sorted(table)}, the table's widths are "
                                        f"{list(self.bits)}")
                bad = [b for b, v in table.items() if not math.isfinite(v)]
                if bad:
                    raise CodesignError(f"layer {name!r} {what} Omega at {bad[0]} bits is "
                                        f"{table[bad[0]]}, not a finite number")

    # -- queries --------------------------------------------------------------------
    def omega(self, name: str, bits: int, what: str = "weight") -> float:
        """Omega of layer `name` at `bits` for its weights ("weight") or result ("act")."""
        if name not in self.layers:
            raise CodesignError(f"no layer {name!r} in the sensitivity table; layers: "
                                f"{', '.join(self.layers)}")
        table = getattr(self.layers[name], what, None) if what in ("weight", "act") else None
        if table is None:
            raise CodesignError(f"layer {name!r} has no {what!r} sensitivity "
                                "(weight: weighted layers, act: layers that round results)")
        if bits not in table:
            raise CodesignError(f"{bits} bits is not a candidate width of this table "
                                f"({list(self.bits)})")
        return table[bits]

    def weighted(self) -> list[str]:
        return [n for n, s in self.layers.items() if s.weight is not None]

    # -- files ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "method": self.method, "model": self.model,
                "dataset": self.dataset, "bits": [int(b) for b in self.bits],
                "settings": _plain(self.settings),
                "layers": {n: s.to_dict() for n, s in self.layers.items()}}

    def save(self, path: str | Path, *, force: bool = False) -> Path:
        path = Path(path)
        if path.exists() and not force:
            raise CodesignError(f"{path} exists; pass --force (force=True) to overwrite it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path

    @classmethod
    def load(cls, path: str | Path) -> SensitivityTable:
        data = read_yaml(path, "sensitivity table")
        try:
            return cls.from_dict(data)
        except CodesignError as exc:
            raise CodesignError(f"{path}: {exc}") from exc

    @classmethod
    def from_dict(cls, data: Any) -> SensitivityTable:
        if not isinstance(data, dict):
            raise CodesignError("a sensitivity table is a mapping")
        _refuse_unknown(data, _TOP_KEYS, "the table")
        if data.get("format") != FORMAT:
            raise CodesignError(f"format is {data.get('format')!r}, expected {FORMAT!r}")
        missing = [k for k in ("method", "bits", "layers") if k not in data]
        if missing:
            raise CodesignError(f"missing key(s) {missing}")
        layers = {}
        for name, entry in (data["layers"] or {}).items():
            if not isinstance(entry, dict):
                raise CodesignError(f"layer {name!r} is not a mapping")
            _refuse_unknown(entry, _LAYER_KEYS, f"layer {name!r}")
            layers[str(name)] = LayerSensitivity(
                kind=str(entry.get("kind", "")), params=int(entry.get("params", 0)),
                score=None if entry.get("score") is None else float(entry["score"]),
                weight=_widths(entry.get("weight"), name, "weight"),
                act=_widths(entry.get("act"), name, "act"),
                extra=dict(entry.get("extra") or {}))
        return cls(method=data["method"], model=data.get("model"), dataset=data.get("dataset"),
                   bits=tuple(int(b) for b in data["bits"]), layers=layers,
                   settings=dict(data.get("settings") or {}))


def _refuse_unknown(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise CodesignError(f"unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}")


def _widths(value: Any, name: str, what: str) -> dict[int, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise CodesignError(f"layer {name!r} {what} must map widths to Omega")
    try:
        return {int(b): float(v) for b, v in value.items()}
    except (TypeError, ValueError) as exc:
        raise CodesignError(f"layer {name!r} {what}: {exc}") from exc


def _plain(value: Any) -> Any:
    """numpy scalars/arrays and tuples -> plain YAML types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return value
