"""Where AdaRound's objective levels off: per zoo digits model and width, the asymmetric
reconstruction error (summed over layers, float64, all calibration inputs) after N
iterations per layer, relative to round-to-nearest. Picks codesign.quant.adaround's default.

Run: nice -n 10 .venv/bin/python bench/adaround_iters.py [--iters 125,250,500,1000,2000]
"""

from __future__ import annotations

import argparse
import sys

import torch

from codesign.cli.common import table
from codesign.data import load_dataset
from codesign.ir.graph import Graph
from codesign.quant.adaround import adaround
from codesign.quant.calibrate import Widths, calibrate_design, mse_range
from codesign.train import get_trained
from codesign.zoo import get_entry


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="digits_cnn,digits_wide")
    p.add_argument("--bits", default="2,3")
    p.add_argument("--iters", default="125,250,500,1000,2000")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    data = load_dataset("digits")
    calib_x = data.x_train[:512]
    rows = []
    for model in args.models.split(","):
        module = get_trained(model, progress=False)
        graph = Graph.from_torch(module, get_entry(model).input_shape)
        for bits in (int(b) for b in args.bits.split(",")):
            design = calibrate_design(graph, calib_x, Widths(bits, bits), range_fn=mse_range,
                                      weight_range_fn=mse_range)
            row = {"model": model, "W/A": f"{bits}/{bits}"}
            for iters in (int(i) for i in args.iters.split(",")):
                rec: dict = {}
                adaround(graph, design, calib_x, iters=iters, records=rec)
                ada = sum(r["adaround"] for r in rec.values())
                near = sum(r["nearest"] for r in rec.values())
                row[f"{iters}"] = f"{ada / near:.3f}"
                print(f"  {model} {bits}b {iters} iters: {ada / near:.4f} of nearest",
                      file=sys.stderr, flush=True)
            rows.append(row)
    print("AdaRound objective (sum over layers) / round-to-nearest's, by iterations per layer")
    print(table(rows, ["model", "W/A", *args.iters.split(",")]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
