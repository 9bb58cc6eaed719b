"""Does the synthesized design meet its clock? What `codesign synth` answers, in its output
and its exit status (the flow report reads the same Fmax against the same target).

On ECP5 nextpnr places and routes the design, so its Fmax is a measurement: below the
target, the design fails the clock. No open place and route exists for Xilinx parts;
there the longest combinational path Yosys's `ltp` counts (LUT and carry cells) is shown
beside the LUT levels the delay model (hw/devices/delays.yaml) fits in one period: a
reference for the reader, not a verdict (a carry cell ripples far faster than a LUT level,
so a depth above it does not by itself miss the clock), and never a pass.
"""

from __future__ import annotations

import math
from typing import Any

from codesign.devices import Device
from codesign.rtl.pipeline import delay_model

TIMING_EXIT = 3
"""`codesign synth`'s exit status when place and route misses the clock (1 is an error,
2 a usage error): scripts and CI can tell a slow design from a broken run."""


def depth_budget(device: Device, clock_mhz: float) -> int:
    """Cells (a LUT level and its route each) that fit between two registers at the
    clock, by the family's delay model."""
    model = delay_model(device.family)
    return max(1, math.floor((1000.0 / clock_mhz - model.reg_ns) / model.level_ns))


def clock_check(result: dict[str, Any], device: Device, clock_mhz: float
                ) -> dict[str, Any] | None:
    """{"by", "met", ...} for a synthesis result, or None when nothing was measured
    (an ASIC run, ECP5 without place and route)."""
    if result.get("fmax_mhz") is not None:
        fmax = float(result["fmax_mhz"])
        return {"by": "nextpnr-ecp5 place and route", "met": fmax >= clock_mhz,
                "fmax_mhz": fmax, "target_mhz": clock_mhz,
                "slack_pct": round(100.0 * (fmax - clock_mhz) / clock_mhz, 1)}
    if result.get("logic_depth") is not None:
        budget = depth_budget(device, clock_mhz)
        return {"by": "not measured: no open place and route for this part",
                "met": None,
                "logic_depth": int(result["logic_depth"]), "depth_budget": budget,
                "target_mhz": clock_mhz}
    return None


def clock_banner(check: dict[str, Any]) -> str | None:
    """The line a user must not miss when place and route measured a missed clock."""
    if check["met"] is not False:
        return None
    return (f"TIMING NOT MET: Fmax {check['fmax_mhz']} MHz < target "
            f"{check['target_mhz']} MHz ({check['slack_pct']}%, {check['by']}); "
            "pipeline deeper (a higher --clock-mhz when generating) or lower the clock")
