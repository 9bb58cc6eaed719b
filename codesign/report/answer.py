"""The report's top section: the answers a hardware engineer reads first.

What fits, at what accuracy (validation and test) and cost (the estimate with its error
band, and Yosys); how the design compares with uniform precision at equal or lower LUTs,
as a measured difference in accuracy points; whether the clock is met; and what to change
to go further (the binding limit and the next frontier point). Every figure comes from
run.json (`facts`), so a test can hold the page to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codesign.report.blocks import Section, Table

UNIFORM = "uniform"


def _val(r: dict[str, Any]) -> float:
    return float(r["eval"]["bit_accurate_val_accuracy"])


def _test(r: dict[str, Any]) -> float:
    return float(r["eval"]["bit_accurate_test_accuracy"])


def _lut(r: dict[str, Any]) -> float:
    return float(r["cost"]["lut"])


def _ok(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in s["points"] if r["error"] is None and r.get("eval") and r.get("cost")]


def uniform_comparison(s: dict[str, Any], chosen: dict[str, Any]) -> dict[str, Any]:
    """The chosen design against the most accurate uniform-precision point (validation)
    whose estimated LUTs are no more than the chosen design's, on the same device and
    quantizer. `delta_val`/`delta_test` are in accuracy points (percent); None when no
    uniform point is as small (then `smallest` is the cheapest uniform point)."""
    p = chosen["point"]
    uniform = [r for r in _ok(s) if r["point"].get("alloc_method") == UNIFORM
               and r["point"]["device"] == p["device"] and r["point"]["method"] == p["method"]]
    if p.get("alloc") is None:
        return {"kind": "uniform_sweep", "uniform": None}
    if p.get("alloc_method") == UNIFORM:
        return {"kind": "chosen_is_uniform", "uniform": None}
    if not uniform:
        return {"kind": "no_uniform", "uniform": None}
    cheaper = [r for r in uniform if _lut(r) <= _lut(chosen)]
    if not cheaper:
        return {"kind": "none_as_small", "uniform": None,
                "smallest": min(uniform, key=lambda r: (_lut(r), -_val(r)))}
    best = max(cheaper, key=lambda r: (_val(r), -_lut(r)))
    return {"kind": "compared", "uniform": best,
            "delta_val": round(100 * (_val(chosen) - _val(best)), 2),
            "delta_test": round(100 * (_test(chosen) - _test(best)), 2)}


def next_point(s: dict[str, Any], chosen: dict[str, Any]) -> dict[str, Any] | None:
    """The cheapest evaluated point of any method (same device and quantizer) that fits
    its device and is more accurate on validation than the chosen design, for more LUTs:
    the next step along the run's frontier."""
    p = chosen["point"]
    same = [r for r in _ok(s) if r["point"]["device"] == p["device"]
            and r["point"]["method"] == p["method"] and r["cost"].get("fits", True)
            and _lut(r) > _lut(chosen) and _val(r) > _val(chosen)]
    return min(same, key=lambda r: (_lut(r), -_val(r)), default=None)


def _clock(chosen: dict[str, Any], syn: dict[str, Any] | None, run_dir: Path) -> dict[str, Any]:
    """The clock the design was built for, and whether a tool measured that it is met."""
    from codesign.devices import get_device

    design = run_dir / "points" / chosen["label"] / "quantize" / "design.yaml"
    target = None
    if design.is_file():
        target = (yaml.safe_load(design.read_text()) or {}).get("clock_mhz")
    if target is None:
        target = get_device(chosen["point"]["device"]).default_clock_mhz
    out: dict[str, Any] = {"target_mhz": float(target), "met": None, "fmax_mhz": None,
                           "logic_depth": (syn or {}).get("logic_depth")}
    if syn and syn.get("fmax_mhz") is not None:
        out.update(met=bool(syn["fmax_mhz"] >= target), fmax_mhz=syn["fmax_mhz"])
    return out


def _binding(s: dict[str, Any], chosen: dict[str, Any]) -> str | None:
    if not s.get("allocate") or chosen["point"].get("alloc") is None:
        return None
    from codesign.alloc.frontier import frontier_row

    p = chosen["point"]
    row = frontier_row(s["allocate"], p["device"], p["alloc_method"], p["alloc"])
    return row.get("binding") or None


def facts(s: dict[str, Any], run_dir: Path) -> dict[str, Any] | None:
    """The top section's figures, from the summary alone (None without a chosen design)."""
    from codesign.devices import get_device

    chosen = next((r for r in s["points"] if r["label"] == s.get("chosen")), None)
    if chosen is None or not chosen.get("cost"):
        return None
    device = get_device(chosen["point"]["device"])
    est = chosen["cost"]
    syn = s.get("synth") if isinstance(s.get("synth"), dict) else None
    yosys_lut = syn.get("lut") if syn and "error" not in syn else None
    limits = ((s.get("allocate") or {}).get("devices", {})
              .get(chosen["point"]["device"], {}).get("limits") or {})
    budget = limits.get("lut")
    band = (est.get("band") or {}).get("lut") or {}
    return {
        "label": chosen["label"], "device": device.part, "device_lut": device.lut,
        "method": chosen["point"].get("alloc_method") or f"{chosen['point']['bits']}-bit",
        "quantizer": chosen["point"]["method"],
        "val": _val(chosen), "test": _test(chosen),
        "lut": int(est["lut"]), "band_low": band.get("low"), "band_high": band.get("high"),
        "confidence": (est.get("band") or {}).get("confidence"),
        "yosys_lut": yosys_lut, "yosys_timed_out": bool(syn and syn.get("timed_out")),
        "yosys_failed": bool(syn and "error" in syn),
        "budget_lut": budget,
        "fits_estimate": bool(est["fits"]),
        "fits_yosys": None if yosys_lut is None else yosys_lut <= device.lut,
        "within_budget_yosys": (None if yosys_lut is None or budget is None
                                else yosys_lut <= budget),
        "float_val": (s.get("model") or {}).get("float_val_accuracy"),
        "yosys_tries": ((s.get("select") or {}).get("yosys") or {}).get("tries") or [],
        "uniform": uniform_comparison(s, chosen), "next": next_point(s, chosen),
        "binding": _binding(s, chosen), "clock": _clock(chosen, syn, run_dir),
    }


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


LOST_POINTS = 5.0  # validation points below the float model that the answer flags


def accuracy_text(f: dict[str, Any]) -> str:
    """The chosen design's accuracy, beside the float model's; a large loss is flagged,
    so a design that fits but no longer classifies is never read as a success."""
    text = f"validation {_pct(f['val'])}, test {_pct(f['test'])}"
    if f.get("float_val") is None:
        return text
    lost = 100 * (float(f["float_val"]) - f["val"])
    text += f" (float model: {_pct(float(f['float_val']))} validation)"
    if lost > LOST_POINTS:
        text += (f"; WARNING: {lost:.1f} points below the float model: widen the candidate "
                 "bits or fine-tune longer or more gently (quantize.epochs, quantize.lr)")
    return text


def answer_section(s: dict[str, Any], run_dir: Path) -> Section | None:
    f = facts(s, run_dir)
    if f is None:
        return None
    sec = Section("answer", "What fits, how well, and what next")
    sec.blocks.append(Table(["question", "answer"], [
        ["what fits", _fits_text(f)],
        ["accuracy (bit-accurate)", accuracy_text(f)],
        ["cost", _cost_text(f)],
        ["against uniform precision", uniform_text(f["uniform"], f)],
        ["clock", _clock_text(f["clock"])],
        ["to go further", _further_text(f)],
    ]))
    return sec


def _fits_text(f: dict[str, Any]) -> str:
    text = (f"{f['label']} ({f['method']} allocation, {f['quantizer']}) on {f['device']}: "
            f"{'fits' if f['fits_estimate'] else 'does NOT fit'} the part by the estimate")
    if f["fits_yosys"] is not None:
        text += (f", {'fits' if f['fits_yosys'] else 'does NOT fit'} the part by Yosys "
                 f"({f['yosys_lut']:,} of {f['device_lut']:,} LUTs)")
    if f["within_budget_yosys"] is not None:
        over = f["yosys_lut"] - f["budget_lut"]
        text += (f"; {'within' if f['within_budget_yosys'] else 'but OVER'} the LUT budget "
                 f"of {f['budget_lut']:,.0f} by Yosys"
                 + ("" if f["within_budget_yosys"] else f", by {over:,.0f} LUTs"))
    own = [t for t in f.get("yosys_tries", []) if t["label"] == f["label"] and t.get("over")]
    if own:  # no candidate fit by Yosys: the chosen design's own misses, every resource
        text += ("; OVER its allocation limits by Yosys: "
                 + ", ".join(f"{k} +{v:,.0f}" for k, v in own[0]["over"].items()))
    missed = [t for t in f.get("yosys_tries", []) if t.get("over") and t["label"] != f["label"]]
    if missed:
        text += ("; synthesized before it and over their limits by Yosys: "
                 + "; ".join(f"{t['label']} (" + ", ".join(f"{k} +{v:,.0f}"
                                                          for k, v in t["over"].items()) + ")"
                             for t in missed))
    return text


def _cost_text(f: dict[str, Any]) -> str:
    text = f"{f['lut']:,} LUTs estimated"
    if f["band_low"] is not None:
        text += (f" (Yosys lands in {f['band_low']:,}..{f['band_high']:,} at "
                 f"{100 * f['confidence']:.0f}% confidence)")
    if f["yosys_lut"] is not None:
        text += f"; {f['yosys_lut']:,} LUTs by Yosys"
    elif f["yosys_failed"]:
        text += "; Yosys synthesis FAILED (see Resources)"
    elif f["yosys_timed_out"]:
        text += "; Yosys timed out before counting (see Resources)"
    else:
        text += "; not synthesized (add a `synth:` section)"
    return text


def uniform_text(u: dict[str, Any], f: dict[str, Any]) -> str:
    """The comparison with uniform precision, in words (plainly when there is none)."""
    kind = u["kind"]
    if kind == "chosen_is_uniform":
        return ("the chosen design IS uniform precision: the allocator's designs do not "
                "beat it here")
    if kind == "uniform_sweep":
        return ("the chosen design is uniform precision: this flow sweeps uniform widths "
                "(an `allocate:` section with methods [exact, uniform] compares the "
                "allocator with it)")
    if kind == "no_uniform":
        return ("not measured: the flow has no uniform-precision points (add `uniform` to "
                "allocate.methods)")
    if kind == "none_as_small":
        r = u["smallest"]
        return (f"no uniform design is as small: the smallest, {r['label']}, needs "
                f"{_lut(r):,.0f} LUTs (est.) for {_pct(_val(r))} validation")
    r = u["uniform"]
    dv, dt = u["delta_val"], u["delta_test"]
    verdict = ("better" if dv > 0 else "no better" if dv == 0 else "WORSE")
    return (f"{verdict} than uniform: {dv:+.2f} points validation ({dt:+.2f} test) against "
            f"{r['label']}, the most accurate uniform design at equal or fewer LUTs "
            f"({_lut(r):,.0f} est. vs {f['lut']:,}; estimates, as only the chosen design "
            "is synthesized)")


def _clock_text(c: dict[str, Any]) -> str:
    if c["met"] is not None:
        return (f"{'met' if c['met'] else 'NOT met'}: Fmax {c['fmax_mhz']} MHz (nextpnr) "
                f"against {c['target_mhz']:g} MHz")
    text = (f"not measured: the RTL is pipelined for {c['target_mhz']:g} MHz, but Yosys "
            "does no timing for this part (place and route runs for ECP5 parts only)")
    if c["logic_depth"] is not None:
        text += (f"; its longest path is {c['logic_depth']} cells (LUT/carry, Yosys ltp), "
                 "a depth, not a delay")
    return text


def _further_text(f: dict[str, Any]) -> str:
    parts = []
    if f["binding"]:
        parts.append(f"binding limit: {f['binding']}")
    n = f["next"]
    if n is not None:
        parts.append(f"next frontier point: {n['label']}, {_pct(_val(n))} validation for "
                     f"{_lut(n):,.0f} LUTs (est.), "
                     f"{100 * (_val(n) - f['val']):+.2f} points for "
                     f"{_lut(n) - f['lut']:+,.0f} LUTs")
    else:
        parts.append("no more accurate point in the run: raise the LUT budget "
                     "(allocate.budget.lut) or allocate.points for the next one")
    return "; ".join(parts)
