"""Weight ROMs in LUTs vs block RAM on a CIFAR-size CNN folded to a throughput target
(issue 21 item 2): `codesign cost`'s estimate and, with --synth, Yosys's, for the same
design with every folded layer's `weight_rom` set to lut, then to bram.

The network is the issue's reference shape without the residual block (so the figures
are the ROMs', not a fork's FIFOs), built here with random weights and inputs (no
dataset needed; the zoo's cifar_like adds the residual block and a global pool):
32x32x3 -> conv 16 / 32 / 64 (3x3, BatchNorm folded, ReLU) with 2x2 max pools -> dense
10; every conv/dense at the slowest reuse that keeps its engine within --interval cycles
per image (codesign.alloc.folding; the pools and line-buffer refills may set a longer
network interval, printed), weights and activations at --bits, LUT multipliers (the
issue's LUT-bound case).

    nice -n 10 python bench/weight_roms.py [--interval 20000] [--bits 6] [--device xc7z020]
        [--synth] [--json] [--save bench/results/weight_roms.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from codesign.alloc.folding import slowest_fitting_rf
from codesign.cost.estimate import estimate_structural
from codesign.devices import get_device
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, calibrate_design


def plain_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.MaxPool2d(2)]

    net = nn.Sequential(*block(3, 16), *block(16, 32), *block(32, 64), nn.Flatten(),
                        nn.Linear(64 * 4 * 4, 10))
    for m in net.modules():  # BatchNorm statistics that are not the identity
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def designs(interval: float, bits: int, device: str):
    graph = Graph.from_torch(plain_cnn(), (3, 32, 32))
    x = np.random.default_rng(0).uniform(0, 1, (64, 3, 32, 32)).astype(np.float32)
    dev = get_device(device)
    base = calibrate_design(graph, x, Widths(bits, bits), device=dev.part,
                            clock_mhz=dev.default_clock_mhz)
    reuse = {}
    for layer in graph:
        if isinstance(layer, L.WeightedLayer):
            rf = slowest_fitting_rf(graph, layer, interval) or 1
            reuse[layer.name] = rf
            base = base.with_layer(layer.name, reuse=rf, multiplier="lut")
    out = {}
    for rom in ("lut", "bram"):
        d = base
        for name, rf in reuse.items():
            if rf > 1:
                d = d.with_layer(name, weight_rom=rom)
        out[rom] = QuantizedNet.from_float(graph, d)
    return out, reuse


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--interval", type=float, default=20000)
    p.add_argument("--bits", type=int, default=6)
    p.add_argument("--device", default="xc7z020")
    p.add_argument("--synth", action="store_true", help="also synthesize both with Yosys")
    p.add_argument("--json", action="store_true")
    p.add_argument("--save", type=Path, metavar="FILE.json",
                   help="also record the rows (bench/results/weight_roms.json)")
    args = p.parse_args(argv)
    qnets, reuse = designs(args.interval, args.bits, args.device)
    dev = get_device(args.device)
    rows = []
    for rom, q in qnets.items():
        t = time.time()
        est = estimate_structural(q, dev)
        row = {"weight_rom": rom, "est_lut": est["lut"], "est_ff": est["ff"],
               "est_bram": est["bram"], "est_dsp": est["dsp"], "interval": est["interval"],
               "cost_s": round(time.time() - t, 1)}
        if args.synth:
            from codesign.synth.run import synthesize

            t = time.time()
            with tempfile.TemporaryDirectory() as tmp:
                syn = synthesize(q, Path(tmp), dev, place_and_route=False)
            row.update(yosys_lut=syn["lut"], yosys_ff=syn["ff"], yosys_bram=syn["bram"],
                       yosys_dsp=syn["dsp"], synth_s=round(time.time() - t, 1))
        rows.append(row)
    record = {"date": datetime.date.today().isoformat(),
              "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "reuse": reuse, "rows": rows}
    if args.save:
        args.save.write_text(json.dumps(record, indent=1) + "\n")
    if args.json:
        print(json.dumps(record, indent=1))
        return 0
    print(f"{args.device}, {args.bits}-bit, interval <= {args.interval:g}: reuse {reuse}")
    keys = list(rows[0])
    print("  ".join(f"{k:>10}" for k in keys))
    for r in rows:
        print("  ".join(f"{r[k]!s:>10}" for k in keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
