"""`codesign cost DESIGN.yaml --device PART`: estimated LUT, FF, DSP, BRAM and cycles of
the design's RTL, per layer and in total, as a share of the device (a warning for
anything over 100%). Prints the same fields as `codesign synth`, so an estimate and a
synthesis compare field by field."""

from __future__ import annotations

import argparse
from pathlib import Path

from codesign.cli.common import (
    add_device_file_arg,
    add_json_arg,
    eprint,
    load_device_files,
    report,
    table,
)
from codesign.cost.estimate import estimate_design
from codesign.devices import get_device
from codesign.qnet import QuantizedNet

NAME = "cost"
HELP = "estimate a design's LUT, FF, DSP, BRAM and cycles, per layer, against a device"
COLUMNS = ["layer", "kind", "w_bits", "x_bits", "out_bits", "reuse", "multiplier", "lut",
           "ff", "dsp", "bram", "latency", "interval"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("design", type=Path, metavar="DESIGN.yaml")
    p.add_argument("--device", metavar="PART", help="target part (default: the design's)")
    add_device_file_arg(p)
    add_json_arg(p)


def run(args: argparse.Namespace) -> int:
    load_device_files(args)
    qnet = QuantizedNet.load(args.design)
    device = get_device(args.device or qnet.design.device)
    result = {"design": str(args.design), **estimate_design(qnet, device)}
    for w in result["warnings"]:
        eprint(f"warning: {w}")
    report(args, result, _text)
    return 0


def _text(r: dict) -> str:
    rows = [{k: ("" if v is None else v) for k, v in row.items()} for row in r["layers"]]
    u = r["utilization"]
    rows.append({"layer": "total", "lut": r["lut"], "ff": r["ff"], "dsp": r["dsp"],
                 "bram": r["bram"], "latency": r["latency"], "interval": r["interval"]})
    rows.append({"layer": f"% of {r['device']}", "lut": u["lut"], "ff": u["ff"],
                 "dsp": u["dsp"], "bram": u["bram"]})
    fit = r["fit"]
    lines = [f"estimated cost of {r['design']} on {r['device']} (fast model, constants fitted "
             f"with Yosys {fit['yosys']} on {fit['date']} for family {fit['family']})",
             table(rows, COLUMNS)]
    lines += [f"warning: {w}" for w in r["warnings"]]
    return "\n".join(lines)
