"""Budgets: what a design may use, parsed from `lut=0.5,dsp=0,latency=2000`.

Resource values written as a fraction (a number with a decimal point in [0, 1], or a
percentage like `50%`) are a share of the device; other numbers are absolute counts.
`latency` and `interval` are clock cycles; `wbits` is the parameter-weighted average
weight width; `size` is the model's weight storage in bits (suffixes kb / KiB accepted).
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
    """Absolute limits (a missing key is unconstrained)."""

    limits: dict[str, float] = field(default_factory=dict)

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
        if value is not None:
            limits[key] = float(value)
        return Budget(limits)

    def without(self, key: str) -> Budget:
        return self.with_limit(key, None)

    def text(self) -> str:
        return ",".join(f"{k}={v:g}" for k, v in self.limits.items()) or "none"


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
