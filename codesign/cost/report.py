"""What `codesign cost` and `codesign synth` both print: resource totals, their share of
the device and the cycles, under the same field names so they compare one to one."""

from __future__ import annotations

import importlib.resources
from functools import cache
from typing import Any

import yaml

from codesign.devices import Device

BUDGETED = ("lut", "ff", "dsp", "bram")


def utilization(totals: dict[str, Any], device: Device) -> dict[str, float | None]:
    """Percent of the device each resource takes; None where the design uses a resource
    the device has none of (no percentage says that, and JSON has no infinity)."""
    out: dict[str, float | None] = {}
    for key in BUDGETED:
        have = getattr(device, key)
        used = float(totals[key])
        out[key] = round(100.0 * used / have, 2) if have else (0.0 if used == 0 else None)
    return out


def over_budget(util: dict[str, float | None]) -> list[str]:
    """Warnings for every resource above 100% of the device, or that it lacks."""
    return [f"{key.upper()}: the design uses some and the device has none: the design "
            "does not fit" if pct is None else
            f"{key.upper()} at {pct:.1f}% of the device: the design does not fit"
            for key, pct in util.items() if pct is None or pct > 100.0]


@cache
def load_fit(name: str) -> dict:
    """hw/devices/NAME: a cost model's coefficients per family, with the Yosys version and
    date they were fitted against (one loader for both models' fit files)."""
    path = importlib.resources.files("codesign.hw") / "devices" / name
    return yaml.safe_load(path.read_text())


def family_coefficients(fit: dict, family: str) -> dict[str, dict[str, float]]:
    """The LUT and FF coefficients of `family` in a fit file (`default` if unfitted)."""
    fams = fit["families"]
    return fams.get(family, fams["default"])


def fit_info(fit: dict, family: str) -> dict[str, Any]:
    """What an estimate records of its constants: Yosys version, date, family used."""
    return {"yosys": fit.get("yosys"), "date": fit.get("date"),
            "family": family if family in fit["families"] else "default"}
