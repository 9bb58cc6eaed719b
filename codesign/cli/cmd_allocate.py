"""`codesign allocate MODEL --sensitivity T.yaml --device PART --budget lut=0.5,dsp=0`.

Chooses every layer's weight and activation widths, reuse factor and multiplier style
to minimize total Omega (the sensitivity table's predicted loss increase) under the
budget, with costs from the fast cost model. Writes a DesignPoint per design, the
frontier as CSV and JSON, and a plot; --evaluate quantizes each design (short LSQ by
default) and measures its bit-accurate accuracy on the validation split.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from codesign.alloc.budget import parse_budget
from codesign.alloc.folding import interval_for_fps, parse_reuse
from codesign.alloc.frontier import AXES
from codesign.alloc.methods import METHODS, available
from codesign.alloc.pipeline import AllocateJob, run_allocate
from codesign.cli.cmd_sensitivity import parse_bits
from codesign.cli.common import (
    add_dataset_arg,
    add_json_arg,
    add_model_args,
    dataset_from_args,
    model_from_args,
    report,
    table,
)
from codesign.cost.bands import check_confidence
from codesign.devices import get_device
from codesign.errors import CodesignError
from codesign.outputs import check_dir_target, output_dir
from codesign.quant.methods import METHODS as QUANTIZERS
from codesign.sensitivity.table import METHODS as OBJECTIVES
from codesign.sensitivity.table import SensitivityTable

NAME = "allocate"
HELP = ("hardware-aware per-layer bit widths, reuse and multipliers under a budget: "
        "DesignPoints, frontier CSV/JSON and plot")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    add_dataset_arg(p)
    p.add_argument("--sensitivity", type=Path, action="append", required=True,
                   metavar="TABLE.yaml", help="sensitivity table(s) from `codesign "
                   "sensitivity`; repeat to give several methods (probe needs a probe table)")
    p.add_argument("--device", default="xc7a35t", help="target part (default xc7a35t)")
    p.add_argument("--budget", default="", metavar="KEY=V,...",
                   help="limits: lut, ff, dsp, bram (a fraction like 0.5 or 50%% of the "
                        "device, or a count), latency, interval (cycles), wbits (average "
                        "weight bits), size (weight bits, or 12kb / 4KiB)")
    p.add_argument("--latency", type=float, metavar="CYCLES", help="latency limit")
    p.add_argument("--interval", type=float, metavar="CYCLES", help="interval limit")
    p.add_argument("--objective", choices=OBJECTIVES,
                   help="which table's Omega to minimize (default: the first table's)")
    p.add_argument("--method", action="append", metavar="NAME",
                   help=f"allocator(s): {', '.join(METHODS)}, or all that the tables support "
                        "(default exact)")
    p.add_argument("--confidence", type=float, default=0.95, metavar="C",
                   help="plan LUT/FF against the estimate's upper error band at this "
                        "confidence (default 0.95: the budget is divided by 1 + the "
                        "0.95-quantile of the measured estimate errors; 0: plan on the "
                        "estimate alone)")
    p.add_argument("--frontier", type=int, default=0, metavar="N",
                   help="sweep N caps along --axis (default: one design at the budget)")
    p.add_argument("--axis", default="lut", choices=AXES, help="frontier axis (default lut)")
    p.add_argument("--bits", default=None, metavar="B,B,...",
                   help="candidate widths (default: the table's)")
    p.add_argument("--reuse", default="auto", metavar="auto|R,R,...",
                   help="candidate reuse factors: 'auto' (default) gives each layer the "
                        "smallest RF of every halving of its multipliers up to its terms "
                        "per output or, under --fps/--interval, the slowest RF that meets "
                        "the target and three faster ones; or a list for every layer")
    p.add_argument("--fps", type=float, metavar="IMAGES_PER_S",
                   help="throughput target at the part's default clock: an interval limit "
                        "of clock / fps cycles (with --interval, the tighter one)")
    p.add_argument("--multipliers", default="lut,dsp", metavar="STYLE,...",
                   help="multiplier styles to consider: lut, dsp (default both)")
    p.add_argument("--weight-roms", default="lut,bram", metavar="STYLE,...",
                   help="where a folded layer's (reuse > 1) weight ROM may live: lut, bram "
                        "(default both: block RAM where it frees the scarcer LUTs)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--force", action="store_true", help="overwrite an earlier run in --out")
    p.add_argument("--calib-samples", type=int, default=512, metavar="N",
                   help="training samples that calibrate each design's ranges (512)")
    g = p.add_argument_group("evaluation")
    g.add_argument("--evaluate", action="store_true",
                   help="quantize every design and measure bit-accurate validation accuracy")
    g.add_argument("--quantizer", default="lsq", choices=list(QUANTIZERS), metavar="NAME",
                   help=f"quantization method for --evaluate: {', '.join(QUANTIZERS)} "
                        "(default lsq)")
    g.add_argument("--epochs", type=int, default=2, metavar="N",
                   help="training epochs of a trained quantizer (default 2: short)")
    g.add_argument("--seed", type=int, default=0)
    g = p.add_argument_group("synthesis in the loop")
    g.add_argument("--synth-check", type=int, default=0, metavar="K",
                   help="synthesize the K designs nearest the budget with Yosys; when one "
                        "misses, correct the costs by what Yosys measured and re-solve (up "
                        "to 4 times) until they fit by Yosys")
    g.add_argument("--workers", type=int, default=1, metavar="N",
                   help="local processes for --synth-check's syntheses (default 1)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="run --synth-check's syntheses on this Dask scheduler instead")
    add_json_arg(p)


def _methods(given: list[str] | None, tables: list[SensitivityTable]) -> list[str]:
    names = given or ["exact"]
    if "all" in names:
        return available({t.method: t for t in tables})
    bad = [m for m in names if m not in METHODS]
    if bad:
        raise CodesignError(f"unknown --method {bad[0]!r}; choose from {', '.join(METHODS)} "
                            "or all")
    return list(dict.fromkeys(names))


def run(args: argparse.Namespace) -> int:
    device = get_device(args.device)
    budget = parse_budget(args.budget, device)
    for key, value in (("latency", args.latency), ("interval", args.interval)):
        if value is not None:
            budget = budget.with_limit(key, value)
    if args.fps is not None:
        target = interval_for_fps(args.fps, device.default_clock_mhz)
        budget = budget.with_limit("interval", min(target, budget.limits.get("interval",
                                                                             target)))
    if args.frontier < 0:
        raise CodesignError(f"--frontier must be a number of points >= 1, not {args.frontier}")
    if args.epochs < 1 or args.calib_samples < 1:
        raise CodesignError("--epochs and --calib-samples must be positive")
    if args.synth_check < 0 or args.workers < 1:
        raise CodesignError(f"--synth-check must be 0 or more and --workers positive, not "
                            f"{args.synth_check} and {args.workers}")
    multipliers = tuple(m.strip() for m in args.multipliers.split(",") if m.strip())
    roms = tuple(m.strip() for m in args.weight_roms.split(",") if m.strip())
    if not roms:
        raise CodesignError("--weight-roms needs at least one of lut, bram")
    out = check_dir_target(args.out)  # before minutes of solving, not after
    if (out / "frontier.json").exists() and not args.force:
        raise CodesignError(f"{out} holds an earlier allocation; pass --force to overwrite")
    tables = [SensitivityTable.load(t) for t in args.sensitivity]
    model = model_from_args(args)
    data = dataset_from_args(args, model)
    job = AllocateJob(
        model_name=args.model, graph=model.graph(), module=model.module, data=data,
        tables=tables, objective=args.objective, device=device, budget=budget,
        methods=_methods(args.method, tables), points=args.frontier, axis=args.axis,
        bits=parse_bits(args.bits) if args.bits else None,
        reuse=parse_reuse(args.reuse), multipliers=multipliers, roms=roms,
        calib_samples=args.calib_samples, evaluate=args.evaluate,
        quantizer=args.quantizer, epochs=args.epochs, seed=args.seed,
        progress=not args.json, confidence=check_confidence(args.confidence, planning=True),
        synth_check=args.synth_check, workers=args.workers,
        client=_client(args.scheduler) if args.synth_check else None)
    with output_dir(out) as written:  # a failure leaves no half-written frontier
        result = run_allocate(job, written)
    report(args, result, _text)
    return 0


def _plan_line(r: dict) -> str:
    margins = r.get("margins") or {}
    if r.get("confidence") == 0:
        return "planned on the estimate alone (--confidence 0): no error margin"
    if not margins:
        return ("planned on the estimate alone: no measured error band for this device "
                "family")
    parts = ", ".join(f"{k.upper()} +{100 * m:.1f}%" for k, m in margins.items())
    return (f"planned so that the upper error band at {100 * r['confidence']:g}% fits "
            f"({parts}: each limit divided by 1 + that)")


def _client(scheduler: str | None):
    from codesign.workers import connect

    return None if scheduler is None else connect(scheduler)


def _text(r: dict) -> str:
    cols = ["method", "point", "omega", "lut", "ff", "dsp", "bram", "latency", "interval",
            "wbits", "binding"]
    if any(p.get("val_accuracy") is not None for p in r["points"]):
        cols.append("val_accuracy")
    rows = [{c: _fmt(p.get(c)) for c in cols} for p in r["points"]]
    lines = [f"{r['model']} on {r['device']}, budget {r['budget']}, objective "
             f"{r['objective']}:", *r.get("budget_notes", []), _plan_line(r),
             table(rows, cols)]
    for m, why in r.get("infeasible", {}).items():
        lines.append(f"{m}: {why}")
    if "whole_check" in r:
        lines += whole_lines(r["whole_check"])
    if "synth_check" in r:
        lines += synth_lines(r["synth_check"])
    lines.append(f"wrote {r['csv']}, {r['json']}, {r['plot']} and "
                 f"{len(r['points'])} design(s) under {r['out']}")
    return "\n".join(lines)


def whole_lines(check: dict) -> list[str]:
    """The whole-estimate check: one line when every design fit at once (the figures above
    are already the whole estimate), each iteration when a correction was needed."""
    if len(check["iterations"]) == 1 and check["fits"]:
        return ["figures: each design's whole structural estimate (as `codesign cost`); "
                "the allocator's per-layer sums fit at once (allocator_* in the JSON/CSV)"]
    return synth_lines(check, "whole check", "allocator/whole")


def synth_lines(check: dict, title: str = "synth check",
                pair: str = "estimate/Yosys") -> list[str]:
    """Each iteration of a correction loop (allocator estimate vs measure per checked
    design, the correction it led to) and the final claim."""
    key = check.get("measure", "yosys")
    lines = []
    for it in check["iterations"]:
        fix = it.get("next_correction")
        lines.append(f"{title} {it['iteration']}"
                     + (f" (costs scaled by {_factors(it['correction'])})"
                        if it["correction"] else "") + ":")
        for d in it["designs"]:
            shown = ["lut", "ff", "dsp", "bram"] + [k for k in d["over"]
                                                      if k in ("latency", "interval")]
            pairs = ", ".join(f"{k} {_fmt(d['estimate'][k])}/{_fmt(d[key][k])}"
                              for k in shown)
            verdict = "misses " + ", ".join(d["over"]) if d["over"] else "fits"
            lines.append(f"  {d['method']} point {d['point']}: {pair} {pairs}: "
                         f"{verdict}")
        if fix:
            lines.append(f"  -> correct the costs by {_factors(fix)} and re-solve")
    lines.append(check["claim"])
    return lines


def _factors(f: dict) -> str:
    return ", ".join(f"{k} x{v:.3f}" for k, v in f.items())


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.4g}"
    return "" if v is None else str(v)
