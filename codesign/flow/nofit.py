"""Why a flow chose no design, in words a user can act on.

"chosen design: None" says nothing: when no point fits its device, the user needs to know
which resources are over, by how much on the point that came closest, and which settings
of the flow move it.
"""

from __future__ import annotations

from typing import Any

from codesign.devices import get_device


def why_none(records: list[dict[str, Any]], fit_only: bool) -> str:
    """The reason `select` found no candidate among the sweep's point records."""
    ok = [r for r in records if r["error"] is None]
    if not ok:
        return (f"all {len(records)} point(s) failed (their errors are listed with the "
                "points); fix the first one and run again")
    costed = [r for r in ok if r.get("cost")]
    if not fit_only or not costed:  # select() chooses among these: not reached
        return "no point was a candidate"
    closest = min(costed, key=lambda r: max(r["cost"]["utilization"].values()))
    cost, device = closest["cost"], get_device(closest["point"]["device"])
    over = []
    for key, pct in cost["utilization"].items():
        if pct > 100.0:
            have, used = getattr(device, key), int(round(cost[key]))
            over.append(f"{key.upper()} {used:,} of the {have:,} on {device.part} "
                        f"({pct:.0f}%, {used - have:,} over)")
    return (f"no point fits its device (cost.fit_only: true). The closest, "
            f"{closest['label']}, needs {'; '.join(over)}. To fit: a larger part "
            "(target.devices), narrower widths (quantize.bits), an allocate: section with a "
            "budget (it also folds layers with reuse), or cost.fit_only: false to choose "
            "among designs that do not fit")
