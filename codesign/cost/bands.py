"""Error bands of the LUT and FF estimates: how far Yosys lands from them, measured.

bench/cost_model.py --write-fit stores, in hw/devices/structural_fit.yaml under `bands`,
the relative residuals (Yosys - estimate) / estimate of every synthesized design of its
corpus, each predicted by coefficients fitted without it (2-fold cross-validation), per
cost model, family and resource, with their provenance (Yosys version, date, designs).
The band at confidence c is the (1 - c)- and c-quantiles of those residuals: the upper
edge estimate * (1 + upper) is what at least a fraction c of held-out designs stayed
under, which is what `codesign allocate --confidence` plans against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from codesign.cost.report import load_fit
from codesign.errors import CodesignError

BANDED = ("lut", "ff")
DEFAULT_CONFIDENCE = 0.95


def check_confidence(confidence: float, planning: bool = False) -> float:
    """A confidence in (0, 1); for planning also 0, which plans on the estimate alone."""
    if not (0 < confidence < 1 or (planning and confidence == 0)):
        raise CodesignError(f"confidence must be a fraction between 0 and 1 (e.g. 0.95"
                            f"{'; 0 plans on the estimate alone' if planning else ''}), "
                            f"not {confidence:g}")
    return float(confidence)


def residuals(model: str, family: str, resource: str, fit: dict | None = None
              ) -> list[float] | None:
    """The stored held-out relative residuals, None when the corpus has none for them."""
    fit = load_fit("structural_fit.yaml") if fit is None else fit
    got = (fit.get("bands") or {}).get(model, {}).get(family, {}).get(resource)
    return list(got) if got else None


def band(model: str, family: str, resource: str, confidence: float = DEFAULT_CONFIDENCE,
         fit: dict | None = None) -> dict[str, Any] | None:
    """{lower, upper} relative to the estimate at `confidence` (upper: the c-quantile of
    the held-out residuals, lower: the (1 - c)-quantile), with n; None without data."""
    res = residuals(model, family, resource, fit)
    if res is None:
        return None
    c = check_confidence(confidence)
    arr = np.asarray(res, dtype=float)
    return {"lower": float(np.quantile(arr, 1 - c, method="lower")),
            "upper": float(np.quantile(arr, c, method="higher")), "n": len(res)}


def bands(model: str, family: str, totals: dict[str, Any],
          confidence: float = DEFAULT_CONFIDENCE) -> dict[str, Any]:
    """The band of every LUT/FF total in `totals`, in counts (low, high) and relative,
    with the provenance of the residuals; what `codesign cost` and the report print."""
    fit = load_fit("structural_fit.yaml")
    out: dict[str, Any] = {"confidence": confidence, "model": model, "family": family,
                           "source": provenance(fit)}
    for key in BANDED:
        b = band(model, family, key, confidence, fit)
        if b is not None and totals.get(key) is not None:
            value = float(totals[key])
            out[key] = {**b, "low": round(value * (1 + b["lower"])),
                        "high": round(value * (1 + b["upper"]))}
    return out


def provenance(fit: dict | None = None) -> str:
    """Where the residuals come from, in one line."""
    fit = load_fit("structural_fit.yaml") if fit is None else fit
    meta = (fit.get("bands") or {}).get("provenance")
    if not meta:
        return "no measured band (the fit file has none)"
    return (f"{meta['folds']}-fold cross-validated residuals of {meta['designs']} designs "
            f"synthesized with Yosys {meta['yosys']} ({meta['date']}, {meta['bench']})")


def band_text(b: dict[str, Any], key: str) -> str:
    """'3,509..4,272 (-8.0%/+12.0% at 95%)', or '' without a band."""
    if key not in b:
        return ""
    x = b[key]
    return (f"{x['low']:,}..{x['high']:,} ({100 * x['lower']:+.1f}%/{100 * x['upper']:+.1f}% "
            f"at {100 * b['confidence']:g}%)")


def band_summary(b: dict[str, Any]) -> str:
    """How sure the LUT/FF totals are, in one line: the measured band, or that there is
    none (what `codesign cost` and the flow report print)."""
    got = [f"{k.upper()} {band_text(b, k)}" for k in BANDED if k in b]
    if not got:
        return (f"error band: none measured for family {b.get('family', '?')} (the "
                f"{b.get('source', 'corpus')} hold none of it)")
    return f"error band (where Yosys lands): {'; '.join(got)}; from the {b['source']}"


def planning_margins(model: str, family: str, confidence: float) -> dict[str, float]:
    """resource -> the upper band at `confidence` (never below 0: a plan never claims more
    room than the limit), for the LUT/FF the corpus measured on this family."""
    out: dict[str, float] = {}
    if check_confidence(confidence, planning=True) == 0:
        return out
    for key in BANDED:
        b = band(model, family, key, confidence)
        if b is not None:
            out[key] = max(0.0, b["upper"])
    return out
