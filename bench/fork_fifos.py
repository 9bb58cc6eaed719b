"""Fork FIFOs on residual networks: their depths, storage and what `codesign cost`'s
structural estimate charges for them, with the network's interval and latency.

    python bench/fork_fifos.py [--device xc7z020] [--only NAME]

Networks: digits_resnet at 8 and 4 bits (RF 1, the zoo's trained weights) and a
CIFAR-size residual CNN (32x32x3, conv 16/32/64 with BatchNorm + ReLU, two max pools,
one basic block at 32 channels, a global average pool and a dense head: about 4M MACs;
random weights calibrated on random images; every layer folded by its reuse factor to an
interval near 20,000 cycles, 5,000 images/s at 100 MHz). Uses only the public planner
and estimate, so it runs on any checkout (set PYTHONPATH to one to compare).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from codesign.devices import get_device
from codesign.ir import Graph
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, calibrate_design


def digits_resnet(bits: int) -> QuantizedNet:
    from codesign.data import load_dataset
    from codesign.train import get_trained

    graph = Graph.from_torch(get_trained("digits_resnet", progress=False), (1, 8, 8))
    design = calibrate_design(graph, load_dataset("digits").x_train[:512], Widths(bits, bits),
                              model="digits_resnet")
    return QuantizedNet.from_float(graph, design)


CIFAR_REUSE = (16, 61, 192, 192, 144, 64)  # conv1 @34x34, conv2 @18x18, block, conv3, fc


def cifar_res(bits: int = 8) -> QuantizedNet:
    from codesign.zoo import BasicBlock

    torch.manual_seed(0)

    def cbr(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    model = nn.Sequential(*cbr(3, 16), nn.MaxPool2d(2), *cbr(16, 32), nn.MaxPool2d(2),
                          BasicBlock(32), *cbr(32, 64), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(64, 10))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    model.eval()
    x = np.random.default_rng(0).uniform(0, 1, (128, 3, 32, 32)).astype(np.float32)
    graph = Graph.from_torch(model, (3, 32, 32))
    design = calibrate_design(graph, x, Widths(bits, bits))
    for layer, rf in zip(graph.weighted, CIFAR_REUSE, strict=True):
        design = design.with_layer(layer.name, reuse=min(rf, layer.terms))
    return QuantizedNet.from_float(graph, design)


NETS = {"digits_resnet-8": lambda: digits_resnet(8), "digits_resnet-4": lambda: digits_resnet(4),
        "cifar_res-8": cifar_res}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="xc7z020")
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    from codesign.cost.estimate import estimate_structural
    from codesign.rtl.network import plan_network

    dev = get_device(args.device)
    print(f"device {dev.part}")
    for name, make in NETS.items():
        if args.only and args.only != name:
            continue
        qnet = make()
        t = time.perf_counter()
        plan = plan_network(qnet)
        t_plan = time.perf_counter() - t
        fifos = [(e.name, e.params["DEPTH"], e.params.get("BRAM", 0), e.params["W"])
                 for e in plan.engines if e.kind == "fifo"]
        t = time.perf_counter()
        est = estimate_structural(qnet, dev)
        t_cost = time.perf_counter() - t
        fifo_rows = [r for r in est["layers"] if r["module"] == "cs_fifo"]
        print(f"\n{name}: plan {t_plan:.1f} s, cost {t_cost:.1f} s; interval {est['interval']}, "
              f"latency {est['latency']}")
        for (fname, depth, bram, w), r in zip(fifos, fifo_rows, strict=True):
            print(f"  {fname}: {depth} x {w} bits{' BRAM' if bram else ''}: lut {r['lut']} "
                  f"(lutram {r.get('lutram', 0)}) ff {r['ff']} bram {r['bram']}")
        print(f"  fifos:  lut {sum(r['lut'] for r in fifo_rows)} ff "
              f"{sum(r['ff'] for r in fifo_rows)} bram {sum(r['bram'] for r in fifo_rows)}")
        print(f"  design: lut {est['lut']} ff {est['ff']} dsp {est['dsp']} bram {est['bram']} "
              f"lutram {est.get('lutram', 0)}")


if __name__ == "__main__":
    main()
