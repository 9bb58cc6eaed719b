"""Pipelining to a clock, measured: one layer synthesized for an ECP5 part at several
target clocks (clock_mhz), with the register stages the delay model put into its adder
graph, the flip-flops they cost and the Fmax nextpnr-ecp5 reaches; and, with --xilinx,
the logic depth Yosys reports for a Xilinx part at the same clocks.

The layer is issue 9's 16x8 dense layer (5-bit weights, ap_fixed<8,3> input, lossless
accumulator, RF 1). Usage:
    nice -n 10 python bench/pipeline_fmax.py [--clocks 50 150 250 350] [--xilinx]
        [--save bench/results/pipeline_fmax.json]

--save records the rows (the figures docs/hardware.md quotes).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from rtl_area import issue_row  # noqa: E402

from codesign.devices import get_device  # noqa: E402
from codesign.qnet import QuantizedNet  # noqa: E402
from codesign.rtl.network import plan_network  # noqa: E402
from codesign.synth.run import synthesize  # noqa: E402


def measure(qnet: QuantizedNet, part: str, clock: float) -> dict:
    design = dataclasses.replace(qnet.design, device=part, clock_mhz=clock)
    q = QuantizedNet(qnet.graph, design, qnet.weights, qnet.biases)
    e = next(e for e in plan_network(q).engines if e.graph is not None)
    assert e.stages is not None
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cs_fmax.") as tmp:
        r = synthesize(q, Path(tmp), get_device(part), clock_mhz=clock)
    return {"part": part, "clock_mhz": clock, "stages": e.stages.stages,
            "model_ns": e.stages.worst_ns, "lut": r["lut"], "ff": r["ff"],
            "fmax_mhz": r.get("fmax_mhz"), "logic_depth": r.get("logic_depth"),
            "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clocks", type=float, nargs="+", default=[50, 150, 250, 350])
    ap.add_argument("--part", default="lfe5u-25f")
    ap.add_argument("--xilinx", action="store_true", help="also xc7a35t: logic depth")
    ap.add_argument("--save", metavar="JSON", help="also record the rows in this file "
                    "(bench/results/pipeline_fmax.json is the one docs/hardware.md quotes)")
    args = ap.parse_args()
    _, qnet = issue_row()
    parts = [args.part] + (["xc7a35t"] if args.xilinx else [])
    print("| part | clock_mhz | stages | model path ns | LUT | FF | Fmax MHz | logic depth |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for part in parts:
        for clock in args.clocks:
            m = measure(qnet, part, clock)
            rows.append(m)
            print(f"| {m['part']} | {m['clock_mhz']:g} | {m['stages']} | {m['model_ns']} | "
                  f"{m['lut']:g} | {m['ff']:g} | {m['fmax_mhz']} | {m['logic_depth']} |",
                  flush=True)
    if args.save:
        from record import record

        print(f"recorded in {record(args.save, vars(args), rows=rows)}")


if __name__ == "__main__":
    main()
