"""`codesign cost DESIGN.yaml --device PART`: estimated LUT, FF, DSP, BRAM and cycles of
the design's RTL, per engine and in total, as a share of the device (a warning for
anything over 100%). Prints the same fields as `codesign synth`, so an estimate and a
synthesis compare field by field. The structural estimate reads the RTL plan (engines,
adder graphs, line buffers); --fast uses the allocator's per-layer model instead."""

from __future__ import annotations

import argparse
from pathlib import Path

from codesign.cli.common import (
    add_device_file_arg,
    add_json_arg,
    add_solver_arg,
    eprint,
    load_device_files,
    report,
    table,
)
from codesign.cost.bands import band_summary
from codesign.cost.estimate import estimate_design, estimate_structural
from codesign.devices import get_device
from codesign.qnet import QuantizedNet

NAME = "cost"
HELP = "estimate a design's LUT, FF, DSP, BRAM and cycles, per layer, against a device"
COLUMNS = ["layer", "kind", "w_bits", "x_bits", "out_bits", "reuse", "multiplier", "lut",
           "ff", "dsp", "bram", "latency", "interval"]
STRUCT_COLUMNS = ["layer", "module", "reuse", "lut", "ff", "dsp", "bram", "carry", "srl",
                  "latency", "interval"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("design", type=Path, metavar="DESIGN.yaml")
    p.add_argument("--device", metavar="PART", help="target part (default: the design's)")
    p.add_argument("--fast", action="store_true",
                   help="the allocator's fast per-layer model instead of the structural "
                        "estimate of the RTL plan")
    add_device_file_arg(p)
    add_solver_arg(p)
    add_json_arg(p)


def run(args: argparse.Namespace) -> int:
    load_device_files(args)
    qnet = QuantizedNet.load(args.design)
    device = get_device(args.device or qnet.design.device)
    estimate = estimate_design if args.fast else estimate_structural
    result = {"design": str(args.design), **estimate(qnet, device)}
    for w in result["warnings"]:
        eprint(f"warning: {w}")
    report(args, result, _text)
    return 0


def _text(r: dict) -> str:
    u = r["utilization"]
    rows = list(r["layers"])
    rows.append({"layer": "total", "lut": r["lut"], "ff": r["ff"], "dsp": r["dsp"],
                 "bram": r["bram"], "carry": r["carry"], "srl": r["srl"],
                 "latency": r["latency"], "interval": r["interval"]})
    rows.append({"layer": f"% of {r['device']}", "lut": u["lut"], "ff": u["ff"],
                 "dsp": u["dsp"], "bram": u["bram"]})
    rows = [{k: ("" if v is None else v) for k, v in row.items()} for row in rows]
    fit = r["fit"]
    lines = [f"estimated cost of {r['design']} on {r['device']} ({r['model']} model, "
             f"constants fitted with Yosys {fit['yosys']} on {fit['date']} for family "
             f"{fit['family']})",
             table(rows, COLUMNS if r["model"] == "fast" else STRUCT_COLUMNS)]
    lines.append(band_summary(r.get("band") or {}))
    lines += [f"warning: {w}" for w in r["warnings"]]
    return "\n".join(lines)

