"""Does "fits" mean fits? Issue 19's bench: every design `codesign allocate` returns,
synthesized with Yosys.

For each network (zoo models with their trained weights; random networks from
tests/rtl/randnet.py with their random init, seeds from RANDOM_SEED on, which the
structural fit's corpus never drew) and each LUT budget on the part, `allocate` runs in
two modes through its own pipeline (run_allocate):

  band         the estimate's upper error band at --confidence (default 0.95), methods
               exact, uniform and ascend-descend
  synth-check  the same band, exact only, with --synth-check 1 (Yosys in the loop)

Every returned design is synthesized with Yosys (codesign.synth, cached by content; the
synth-check loop's own runs are cache hits here). The table gives the allocator's
estimate, `codesign cost`'s structural estimate and its upper band, Yosys, whether
Yosys' figures are within the budget and within the device, and each method's Omega.
Omega is from a synthetic table (4x per bit, scaled by each layer's weights, as
bench/alloc_vs_cost.py), not a measured accuracy: the fit, not the score, is measured.

    python bench/fit.py [--models digits_cnn,...] [--random N] [--budgets "lut=min*2;..."]
                        [--workers N] [--out bench/results/fit.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from alloc_vs_cost import lut_budget, synthetic_table  # noqa: E402

RANDOM_SEED = 90_000  # random networks from here on (the fit's corpus draws 10_000+)
METHODS = ("exact", "uniform", "ascend-descend")
RESOURCES = ("lut", "ff", "dsp", "bram")


@dataclass(frozen=True)
class Network:
    name: str
    graph: Any
    data: Any


def networks(models: list[str], n_random: int) -> list[Network]:
    """The zoo models on the digits data, then `n_random` random networks (plain and
    residual) with their own random inputs as calibration data."""
    from codesign.data import load_dataset
    from codesign.models import load_model

    out = []
    if models:
        digits = load_dataset("digits")
        out += [Network(m, load_model(m, progress=False).graph(), digits) for m in models]
    seed = RANDOM_SEED
    while sum(n.name.startswith("randnet") for n in out) < n_random:
        seed += 1
        net = random_network(seed)
        if net is not None:
            out.append(net)
    return out


def random_network(seed: int) -> Network | None:
    """tests/rtl/randnet.py's network at `seed` (None where it cannot draw one)."""
    from rtl.randnet import random_qnet

    from codesign.data import Dataset

    try:
        qnet, x = random_qnet(seed, residual=seed % 2 == 1)
    except Exception:  # randnet cannot draw every seed
        return None
    y = np.zeros(len(x), dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    data = Dataset("random", x, y, x[:0], y[:0], 2, x[:0], y[:0], empty)
    return Network(f"randnet{seed}", qnet.graph, data)


def allocate(net: Network, table: Any, device: Any, budget: Any, mode: str, workers: int,
             out: Path) -> dict[str, Any]:
    """`codesign allocate`'s result for one mode (its error in "error" when none fits)."""
    from codesign.alloc.pipeline import AllocateJob, run_allocate
    from codesign.errors import CodesignError

    check = mode == "synth-check"
    job = AllocateJob(net.name, net.graph, net.data, [table], device, budget,
                      methods=("exact",) if check else METHODS,
                      synth_check=1 if check else 0, workers=workers)
    try:
        return run_allocate(job, out)
    except CodesignError as exc:
        return {"error": str(exc), "points": []}


def measure(net: Network, result: dict[str, Any], device: Any, workers: int,
            folder: Path) -> list[dict[str, Any]]:
    """Per returned design: `codesign cost`'s structural estimate (and band) and Yosys."""
    from codesign.alloc.synthcheck import synth_figures
    from codesign.cost.estimate import estimate_structural
    from codesign.design import DesignPoint
    from codesign.qnet import QuantizedNet
    from codesign.workers import spread

    qnets, costs = [], []
    for p in result["points"]:
        qnet = QuantizedNet.from_float(net.graph, DesignPoint.load(p["design"]))
        qnets.append(qnet)
        costs.append(estimate_structural(qnet, device))
    calls = [(q, str(folder / f"{p['method']}_{p['point']}"), device)
             for q, p in zip(qnets, result["points"], strict=True)]

    def failed(i: int, exc: BaseException) -> dict[str, Any]:
        return {"error": str(exc)}

    figures = spread(synth_figures, calls, workers=max(1, min(workers, len(calls))),
                     failed=failed) if calls else []
    return [{"cost": c, "yosys": f} for c, f in zip(costs, figures, strict=True)]


def rows_for(net: str, budget: Any, device_limits: dict[str, float], mode: str,
             result: dict[str, Any], measured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table's rows of one allocate run."""
    if result.get("error"):
        return [{"net": net, "budget": budget.text(), "mode": mode, "method": "exact",
                 "error": result["error"]}]
    check = result.get("synth_check")
    rows = []
    for p, m in zip(result["points"], measured, strict=True):
        cost, yosys = m["cost"], m["yosys"]
        row: dict[str, Any] = {
            "net": net, "budget": budget.text(), "mode": mode, "method": p["method"],
            "point": p["point"], "omega": p["omega"],
            "alloc": {k: float(p[k]) for k in RESOURCES},
            "cost": {k: float(cost[k]) for k in RESOURCES},
            "cost_high": {k: cost["band"][k]["high"] for k in ("lut", "ff")
                          if k in cost["band"]},
            "yosys": {k: yosys[k] for k in RESOURCES} if "error" not in yosys else None,
            "error": yosys.get("error")}
        if row["yosys"] is not None:
            y = row["yosys"]
            row["in_budget"] = all(y[k] <= v * (1 + 1e-9) for k, v in budget.limits.items())
            row["in_device"] = all(y[k] <= v for k, v in device_limits.items())
        if check is not None:
            row["iterations"] = len(check["iterations"])
            row["claim"] = check["claim"]
        rows.append(row)
    return rows


def _err(a: float, b: float) -> float:
    return a / b - 1 if b else (0.0 if a == b else float("inf"))


def table(rows: list[dict[str, Any]]) -> str:
    """The printed table: one line per design."""
    head = (f"{'net':14} {'budget':10} {'mode':11} {'method':14} {'pt':>2} | "
            f"{'LUT all':>7} {'cost':>6} {'high':>6} {'yosys':>6} | "
            f"{'FF all':>6} {'cost':>6} {'yosys':>6} | DSP a/c/y  | BRAM a/c/y     | "
            f"bud dev | {'omega':>9} | it")
    lines = [head]
    for r in rows:
        lead = f"{r['net']:14} {r['budget']:10} {r['mode']:11} {r['method']:14}"
        if "alloc" not in r or r.get("yosys") is None:
            lines.append(f"{lead}    | {r.get('error') or 'no figures'}")
            continue
        a, c, y, h = r["alloc"], r["cost"], r["yosys"], r["cost_high"]
        yes = {True: "yes", False: "NO"}
        lines.append(
            f"{lead} {r['point']:>2} | {a['lut']:7.0f} {c['lut']:6.0f} "
            f"{h.get('lut', float('nan')):6.0f} {y['lut']:6.0f} | {a['ff']:6.0f} "
            f"{c['ff']:6.0f} {y['ff']:6.0f} | {a['dsp']:3.0f}/{c['dsp']:3.0f}/{y['dsp']:3.0f}"
            f" | {a['bram']:4.1f}/{c['bram']:4.1f}/{y['bram']:4.1f} | "
            f"{yes[r['in_budget']]:>3} {yes[r['in_device']]:>3} | {r['omega']:9.3g} | "
            f"{r.get('iterations', '')}")
    return "\n".join(lines)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets on the rows: share of the returned designs within budget and
    device by Yosys per mode (one not synthesized counts as a miss; a budget where
    allocate returned no design, refusing, is listed apart), allocator vs `codesign cost`
    (LUT/FF relative error, DSP/BRAM exact), the band's coverage of Yosys' LUT/FF, and
    each method's Omega relative to exact at the same network and budget."""
    out: dict[str, Any] = {}
    for mode in ("band", "synth-check"):
        got = [r for r in rows if r["mode"] == mode and "alloc" in r]
        ok = [r for r in got if r.get("in_budget") and r.get("in_device")]
        out[f"fits_{mode}"] = {"fit": len(ok), "of": len(got),
                               "share": len(ok) / len(got) if got else None,
                               "refused": sorted({f"{r['net']} {r['budget']}" for r in rows
                                                  if r["mode"] == mode and "alloc" not in r})}
    measured = [r for r in rows if "alloc" in r]
    errs = {k: [_err(r["alloc"][k], r["cost"][k]) for r in measured] for k in ("lut", "ff")}
    out["alloc_vs_cost"] = {
        **{f"{k}_max_abs": max(map(abs, v), default=None) for k, v in errs.items()},
        **{f"{k}_mean_abs": float(np.mean(np.abs(v))) if v else None
           for k, v in errs.items()},
        **{f"{k}_within_5pct": sum(abs(e) <= 0.05 for e in v) for k, v in errs.items()},
        **{f"{k}_exact": sum(abs(r["alloc"][k] - r["cost"][k]) < 1e-6 for r in measured)
           for k in ("dsp", "bram")},
        "of": len(measured)}
    synth = [r for r in measured if r.get("yosys") is not None]
    out["band_coverage"] = {
        k: {"covered": sum(r["yosys"][k] <= r["cost_high"][k] for r in synth
                           if k in r["cost_high"]),
            "of": sum(k in r["cost_high"] for r in synth)} for k in ("lut", "ff")}
    out["cost_vs_yosys"] = {k: {"mape": float(np.mean([abs(_err(r["cost"][k], r["yosys"][k]))
                                                       for r in synth if r["yosys"][k]]))}
                            if synth else None for k in ("lut", "ff")}
    exact = {(r["net"], r["budget"]): r["omega"] for r in measured
             if r["mode"] == "band" and r["method"] == "exact" and r["point"] == 0}
    out["omega_vs_exact"] = {
        m: float(np.mean([r["omega"] / exact[(r["net"], r["budget"])] for r in measured
                          if r["mode"] == "band" and r["method"] == m
                          and exact.get((r["net"], r["budget"]))]))
        for m in METHODS if any(r["method"] == m and (r["net"], r["budget"]) in exact
                                for r in measured if r["mode"] == "band")}
    return out


def summary_text(s: dict[str, Any]) -> str:
    """The summary in the issue's words, targets alongside."""
    def share(x: dict[str, Any]) -> str:
        refused = (f"; no design returned (refused) at {len(x['refused'])}: "
                   f"{', '.join(x['refused'])}" if x["refused"] else "")
        return f"{x['fit']}/{x['of']}" + (f" ({x['share']:.0%})" if x["of"] else "") + refused

    a = s["alloc_vs_cost"]
    lines = ["# returned designs within budget and device by Yosys, band alone (target >= 95%): "
             + share(s["fits_band"]),
             "# returned designs within budget and device by Yosys, --synth-check 1 (target "
             "100%): " + share(s["fits_synth-check"])]
    if a["of"]:
        lines.append(f"# allocator vs codesign cost over {a['of']} designs: LUT max "
                     f"{a['lut_max_abs']:.1%} mean {a['lut_mean_abs']:.1%} "
                     f"({a['lut_within_5pct']} within 5%), FF max {a['ff_max_abs']:.1%} "
                     f"mean {a['ff_mean_abs']:.1%} ({a['ff_within_5pct']} within 5%) "
                     f"(target 5%); DSP exact {a['dsp_exact']}/{a['of']}, BRAM exact "
                     f"{a['bram_exact']}/{a['of']}")
    cov = s["band_coverage"]
    lines.append("# codesign cost's upper band covers Yosys: " + ", ".join(
        f"{k.upper()} {v['covered']}/{v['of']}" for k, v in cov.items()))
    if s["cost_vs_yosys"]["lut"]:
        lines.append("# codesign cost vs Yosys MAPE: " + ", ".join(
            f"{k.upper()} {v['mape']:.1%}" for k, v in s["cost_vs_yosys"].items()))
    lines.append("# Omega relative to exact (band mode, same net and budget; lower is "
                 "better): " + ", ".join(f"{m} {v:.3g}" for m, v in
                                         s["omega_vs_exact"].items()))
    return "\n".join(lines)


def main() -> None:
    from codesign.alloc.budget import on_device, parse_budget
    from codesign.alloc.pipeline import AllocateJob, candidates_for
    from codesign.devices import get_device

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="digits_cnn,digits_wide,digits_resnet",
                    help="zoo models, comma-separated ('' for none)")
    ap.add_argument("--random", type=int, default=5, help="random networks")
    ap.add_argument("--budgets", default="lut=min*1.6;lut=min*2.5;lut=min*4",
                    help="budgets (`--budget` syntax), separated by ';'; lut=min*K is K times "
                         "the smallest LUT estimate any design of the network has (the band "
                         "plans at budget / (1 + upper band), so K must clear it)")
    ap.add_argument("--device", default="xc7z020")
    ap.add_argument("--bits", default="2,3,4,6,8")
    ap.add_argument("--workers", type=int, default=2, help="parallel Yosys runs")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "fit.json"))
    args = ap.parse_args()

    device = get_device(args.device)
    device_limits = on_device(parse_budget(None, device), device)[0].limits
    bits = tuple(int(b) for b in args.bits.split(","))
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for net in networks([m for m in args.models.split(",") if m], args.random):
            sens = synthetic_table(net.graph, net.name, bits)
            job0 = AllocateJob(net.name, net.graph, net.data, [sens], device,
                               parse_budget(None, device))
            cands0 = candidates_for(job0, sens)
            for text in args.budgets.split(";"):
                budget = lut_budget(text, device, cands0)
                for mode in ("band", "synth-check"):
                    out = Path(tmp) / net.name / budget.text() / mode
                    result = allocate(net, sens, device, budget, mode, args.workers, out)
                    measured = measure(net, result, device, args.workers, out / "yosys")
                    new = rows_for(net.name, budget, device_limits, mode, result, measured)
                    print(table(new).split("\n", 1)[1], flush=True)
                    rows += new
    s = summary(rows)
    text = f"{table(rows)}\n{summary_text(s)}"
    print(f"\n{text}\n# {time.perf_counter() - t0:.0f} s", flush=True)
    from record import record

    print(f"# written {record(args.out, vars(args), rows=rows, summary=s, text=text)}")


if __name__ == "__main__":
    main()
