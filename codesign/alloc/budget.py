"""Budgets: what a design may use, parsed from `lut=0.5,dsp=0,latency=2000`.

Resource values written as a fraction (a number with a decimal point in [0, 1], or a
percentage like `50%`) are a share of the device; other numbers are absolute counts.
`latency` and `interval` are clock cycles; `wbits` is the parameter-weighted average
weight width; `size` is the model's weight storage in bits (suffixes kb / KiB accepted).

The part itself is always a limit: `on_device` adds the device's LUT, FF, DSP and BRAM
counts to a budget (a budget may only tighten them), so no design the allocator returns
needs more of the part than it has, whatever resources the user named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from codesign.alloc.candidates import AllocationError
from codesign.devices import Device, get_device

RESOURCES = ("lut", "ff", "dsp", "bram")
BUDGET_KEYS = (*RESOURCES, "latency", "interval", "wbits", "size")
_SIZE_SUFFIX = {"b": 1, "kb": 8 * 1000, "kib": 8 * 1024, "mb": 8 * 10 ** 6, "mib": 8 * 2 ** 20}


@dataclass(frozen=True)
class Budget:
    """Absolute limits (a missing key is unconstrained). `source` names where a limit
    comes from ("device <part>" for the part's capacity; a key not in it is the user's
    budget), so a binding limit can be named."""

    limits: dict[str, float] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [k for k in self.limits if k not in BUDGET_KEYS]
        if unknown:
            raise AllocationError(f"unknown budget key(s) {unknown}; valid keys: "
                                  f"{', '.join(BUDGET_KEYS)}")
        bad = {k: v for k, v in self.limits.items() if not v >= 0}
        if bad:
            raise AllocationError(f"budgets must be non-negative numbers, not {bad}")

    def with_limit(self, key: str, value: float | None) -> Budget:
        limits = {k: v for k, v in self.limits.items() if k != key}
        source = {k: v for k, v in self.source.items() if k != key}
        if value is not None:
            limits[key] = float(value)
            if key in self.source and float(value) == self.limits.get(key):
                source[key] = self.source[key]
        return Budget(limits, source)

    def without(self, key: str) -> Budget:
        return self.with_limit(key, None)

    def text(self) -> str:
        """key=value,... with the device's own limits marked, e.g. `ff=41600 (device)`."""
        return ",".join(f"{k}={v:g}" + (" (device)" if self.origin(k) != "budget" else "")
                        for k, v in self.limits.items()) or "none"

    def origin(self, key: str) -> str:
        """Where limit `key` comes from: "budget" or "device <part>"."""
        return self.source.get(key, "budget")

    def binding(self, cost: dict[str, float], held: Budget | None = None
                ) -> dict[str, object] | None:
        """The limit a design's `cost` is closest to (least relative slack, measured on the
        limits the solver `held` when they differ, e.g. planned under an error band), e.g.
        {"key": "dsp", "limit": 220, "slack": 0.0, "text": "dsp (device 220)"}. Zero limits
        (dsp=0: a style forbidden) bind only when no positive limit is set."""
        held = held or self
        rows = []
        for key, limit in held.limits.items():
            if key not in cost or key not in self.limits:
                continue
            slack = (limit - cost[key]) / limit if limit > 0 else 0.0
            rows.append((limit <= 0, slack, key))
        if not rows:
            return None
        _, slack, key = min(rows)
        limit, plan = self.limits[key], held.limits[key]
        where = self.origin(key).split()[0]
        planned = f", planned {plan:.0f}" if plan != limit else ""
        return {"key": key, "limit": limit, "held": plan, "slack": slack,
                "source": self.origin(key),
                "text": f"{key} ({where} {limit:g}{planned}), {100 * slack:.0f}% free"}


def on_device(budget: Budget, device: Device) -> tuple[Budget, list[str]]:
    """`budget` with the device's capacity as the limit of every resource it leaves open
    and as a ceiling on those it sets (a limit above the part is clamped to it); also the
    notes that say which limits were clamped."""
    limits, source, notes = dict(budget.limits), dict(budget.source), []
    for key in RESOURCES:
        capacity = float(getattr(device, key))
        asked = limits.get(key)
        if asked is None or asked > capacity:
            limits[key], source[key] = capacity, f"device {device.part}"
        if asked is not None and asked > capacity:
            notes.append(f"budget {key}={asked:g} is more than {device.part} has "
                         f"({capacity:g}): clamped to the device")
    return Budget(limits, source), notes


def parse_budget(text: str | None, device: Device | str | None = None) -> Budget:
    """`key=value,...` -> Budget, resolving device fractions against `device`."""
    dev = get_device(device) if isinstance(device, str) else device
    limits: dict[str, float] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip().lower()
        if not sep or not value:
            raise AllocationError(f"budget item {item!r} is not key=value (e.g. lut=0.5,dsp=0)")
        if key not in BUDGET_KEYS:
            raise AllocationError(f"unknown budget key {key!r} in {text!r}; valid keys: "
                                  f"{', '.join(BUDGET_KEYS)}")
        limits[key] = _value(key, value, dev)
    return Budget(limits)


def _value(key: str, value: str, dev: Device | None) -> float:
    scale = 1.0
    if key == "size":
        for suffix in sorted(_SIZE_SUFFIX, key=len, reverse=True):
            if value.endswith(suffix):
                value, scale = value[: -len(suffix)], _SIZE_SUFFIX[suffix]
                break
    fraction = value.endswith("%")
    try:
        number = float(value.rstrip("%"))
    except ValueError:
        raise AllocationError(f"budget {key}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise AllocationError(f"budget {key}={value} is not a finite number; leave {key} out "
                              "of --budget for no limit on it")
    if fraction:
        number /= 100
    elif key in RESOURCES and "." in value and number <= 1:
        fraction = True
    if number < 0:
        raise AllocationError(f"budget {key} must not be negative, not {number:g}")
    if fraction:
        if key not in RESOURCES:
            raise AllocationError(f"{key} is not a device resource; give it in "
                                  f"{'cycles' if key in ('latency', 'interval') else 'bits'}")
        if dev is None:
            raise AllocationError(f"{key}={value} is a fraction of a device; name the device")
        return number * getattr(dev, key)
    return number * scale


def planned(limits: Budget, margins: dict[str, float]) -> Budget:
    """The limits the solver plans against: each resource limit divided by (1 + its
    upper error band), so the estimate's upper band, not the estimate, fits the limit."""
    return Budget({k: v / (1 + margins.get(k, 0.0)) for k, v in limits.limits.items()},
                  dict(limits.source))
