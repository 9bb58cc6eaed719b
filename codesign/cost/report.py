"""What `codesign cost` and `codesign synth` both print: resource totals, their share of
the device and the cycles, under the same field names so they compare one to one."""

from __future__ import annotations

from typing import Any

from codesign.devices import Device

BUDGETED = ("lut", "ff", "dsp", "bram")


def utilization(totals: dict[str, Any], device: Device) -> dict[str, float]:
    """Percent of the device each resource takes (a device with none of it: inf if used)."""
    out = {}
    for key in BUDGETED:
        have = getattr(device, key)
        used = float(totals[key])
        out[key] = round(100.0 * used / have, 2) if have else (0.0 if used == 0 else float("inf"))
    return out


def over_budget(util: dict[str, float]) -> list[str]:
    """Warnings for every resource above 100% of the device."""
    return [f"{key.upper()} at {pct:.1f}% of the device: the design does not fit"
            for key, pct in util.items() if pct > 100.0]
