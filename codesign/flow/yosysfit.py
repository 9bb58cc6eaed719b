"""The chosen design fits by Yosys, not only by the estimate.

The allocator plans each design against the estimate's upper error band, and the cost
stage re-estimates it after quantization-aware training has moved its weights; both are
estimates, and a design near its budget can still land over it in synthesis (the
Quickstart's chosen design once did, by 4 LUTs). When a flow synthesizes, the candidates
the selection rule would take, in its order, are synthesized one by one (at most
MAX_TRIES) and the first whose Yosys figures are within the budget and the part is the
chosen design; the ones that missed are recorded with their figures. Only the chosen
design then goes through hls4ml and Verilator.
"""

from __future__ import annotations

from typing import Any

from codesign.alloc.budget import RESOURCES
from codesign.devices import get_device

MAX_TRIES = 3


def limits_for(summary: dict[str, Any], device: str) -> dict[str, float]:
    """The resource limits a design on `device` must meet: the allocation's (budget within
    the part) when the flow allocated, else the part's capacity."""
    alloc = (summary.get("allocate") or {}).get("devices", {}).get(device.lower())
    if alloc and alloc.get("limits"):
        return {k: float(v) for k, v in alloc["limits"].items() if k in RESOURCES}
    dev = get_device(device)
    return {k: float(getattr(dev, k)) for k in RESOURCES}


def yosys_misses(synth: dict[str, Any], limits: dict[str, float]) -> dict[str, float] | None:
    """resource -> how far Yosys' figure exceeds its limit; None when synthesis gave no
    figures (failed or timed out: the design cannot be judged)."""
    if not synth or "error" in synth or synth.get("timed_out") or synth.get("lut") is None:
        return None
    return {k: float(synth[k]) - v for k, v in limits.items()
            if synth.get(k) is not None and float(synth[k]) > v}
