"""`codesign synth DESIGN.yaml --device PART --out DIR`: the ground truth for the cost model.

Generates the design's RTL (codesign rtl's generator) and synthesizes it with Yosys from
PyPI (synth_xilinx for Xilinx parts, synth_ecp5 for ECP5, plus nextpnr-ecp5 place and
route for Fmax); --asic runs generic synthesis for cells and transistors, or with
--liberty FILE maps to that standard-cell library for area. Results are cached by
content hash. Prints the same fields as `codesign cost`.
"""

from __future__ import annotations

import argparse
import time
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
from codesign.cost.report import over_budget, utilization
from codesign.devices import get_device
from codesign.errors import CodesignError
from codesign.outputs import check_dir_target, output_dir
from codesign.qnet import QuantizedNet, retarget
from codesign.rtl.latency import network_timing
from codesign.rtl.network import plan_network
from codesign.synth.clock import TIMING_EXIT, clock_banner, clock_check
from codesign.synth.run import RESULT, synthesize

NAME = "synth"
HELP = "synthesize a design's RTL with Yosys (and nextpnr-ecp5) and report its resources"
FIELDS = ["lut", "ff", "dsp", "bram", "carry", "srl", "lutram"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("design", type=Path, metavar="DESIGN.yaml")
    p.add_argument("--device", metavar="PART", help="target part (default: the design's)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="directory for the RTL, the Yosys log and synth.json")
    p.add_argument("--asic", action="store_true",
                   help="generic synthesis (synth + abc): cells and CMOS transistors")
    p.add_argument("--liberty", type=Path, metavar="FILE",
                   help="with --asic: map to this standard-cell library and report area")
    p.add_argument("--clock-mhz", type=float, metavar="MHZ",
                   help="target clock (default: the design's clock_mhz): the RTL's adder "
                        "graphs are pipelined to it and place and route aims at it")
    p.add_argument("--no-cache", action="store_true", help="synthesize even if cached")
    p.add_argument("--force", action="store_true", help="overwrite results already in DIR")
    add_device_file_arg(p)
    add_solver_arg(p)
    add_json_arg(p)


def run(args: argparse.Namespace) -> int:
    load_device_files(args)
    if args.liberty is not None and not args.asic:
        raise CodesignError("--liberty maps to standard cells: add --asic")
    qnet = QuantizedNet.load(args.design)
    if (check_dir_target(args.out) / RESULT).exists() and not args.force:
        raise CodesignError(f"{args.out} already holds a synthesis result; choose another "
                            "--out or pass --force to overwrite it")
    device = get_device(args.device or qnet.design.device)
    if args.clock_mhz is not None and not args.clock_mhz > 0:
        raise CodesignError(f"--clock-mhz must be positive, not {args.clock_mhz}")
    # the RTL synthesized (and timed below) is pipelined to this part and clock
    qnet = retarget(qnet, None if args.asic else device, args.clock_mhz)
    clock = qnet.design.clock_mhz
    eprint(f"synthesizing {args.design} for {'ASIC' if args.asic else device.part} "
           f"with Yosys (minutes on large designs)...")
    start = time.perf_counter()
    with output_dir(args.out) as out:  # a failure (a tool, a missing file) leaves nothing
        result = synthesize(qnet, out, None if args.asic else device, asic=args.asic,
                            liberty=args.liberty, clock_mhz=clock,
                            use_cache=not args.no_cache)
    timing = network_timing(plan_network(qnet), 2).summary()
    out = {"design": str(args.design), "source": "synthesis", "device": result["target"],
           "out": str(args.out), "seconds": round(time.perf_counter() - start, 1),
           **{k: v for k, v in result.items() if k != "target"},
           "latency": timing["latency"], "interval": timing["interval"]}
    if not args.asic:
        out["utilization"] = utilization(out, device)
        out["warnings"] = over_budget(out["utilization"])
        for w in out["warnings"]:
            eprint(f"warning: {w}")
        out["clock"] = clock_check(out, device, clock)
    banner = clock_banner(out["clock"]) if out.get("clock") else None
    report(args, out, _text)
    if banner:
        eprint(banner)
    return TIMING_EXIT if out.get("clock") and out["clock"]["met"] is False else 0


def _text(r: dict) -> str:
    cached = " (cached)" if r["cached"] else ""
    lines = [f"{r['design']} synthesized for {r['device']} with Yosys {r['yosys']}{cached}"]
    if r["device"] == "asic":
        lines.append(f"  cells {r['cells']}")
        if "transistors" in r:
            bound = "+" if r["transistors_lower_bound"] else ""
            lines.append(f"  transistors (stat -tech cmos) {r['transistors']}{bound}")
        if "area_um2" in r:
            lines.append(f"  area {r['area_um2']:.1f} um^2")
    else:
        rows = [{"resource": k.upper(), "used": r[k],
                 "% of device": "" if r["utilization"].get(k) is None
                 else r["utilization"][k]} for k in FIELDS]
        lines.append(table(rows, ["resource", "used", "% of device"]))
        if r.get("fmax_mhz") is not None:
            lines.append(f"  Fmax (nextpnr-ecp5) {r['fmax_mhz']} MHz (target "
                         f"{r['clock_mhz']} MHz)")
        if r.get("logic_depth") is not None:
            budget = (r.get("clock") or {}).get("depth_budget")
            within = (f"; the delay model fits about {budget} LUT levels in one period"
                      if budget else "")
            lines.append(f"  logic depth {r['logic_depth']} cells (LUT/carry, Yosys ltp)"
                         f"{within}")
        lines += [f"  warning: {w}" for w in r["warnings"]]
    lines.append(f"  latency {r['latency']} cycles, interval {r['interval']} cycles "
                 "(cycle model)")
    return "\n".join(lines)
