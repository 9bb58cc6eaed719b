"""Digits test accuracy of every quantization method at uniform and mixed widths.

Run: .venv/bin/python bench/quant_methods.py [--epochs 20] [--configs 2/2,3/3,4/4,8/8,mixed]
     [--methods calibrate,...] [--noise-trials 10]

Every number is the bit-accurate model's accuracy (QuantizedNet.predict) on the 359-image
digits test set, after the export was checked bit for bit against the method's own torch
forward on that same set (a mismatch aborts the bench). Reference: the float model.

Weight noise: every integer weight mantissa m becomes m + sigma * N(0, 1), i.e. noise of
standard deviation sigma weight lsbs (steps of that layer's weight grid), independently per
weight and per trial; activations stay digital. Mean over --noise-trials draws.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import numpy as np
import torch

from codesign.cli.common import table
from codesign.data import load_dataset
from codesign.ir.graph import Graph
from codesign.quant.calibrate import Widths
from codesign.quant.export import verify_export
from codesign.quant.methods import METHODS, MethodSettings, QuantJob, run_method
from codesign.quant.noise import noisy_accuracy
from codesign.quant.qat import TrainSettings
from codesign.train import evaluate, get_trained
from codesign.zoo import get_entry

# Hand-picked mixed configuration averaging 3 bits (plain mean over the weighted layers'
# weights, and over every activation type a design sets): more bits at the input and the
# first and last layers, fewest on the large middle conv. Choosing them from sensitivity
# is the allocator's job (S1 / S4), not this bench's.
MIXED_W = {"conv2d_0": 4, "conv2d_4": 2, "dense_9": 3}
MIXED_A = {"input": 3, "conv2d_0": 4, "relu_2": 3, "conv2d_4": 3, "relu_6": 2, "dense_9": 3}
CONFIGS = {
    "2/2": Widths(2, 2), "3/3": Widths(3, 3), "4/4": Widths(4, 4), "8/8": Widths(8, 8),
    "mixed": Widths(3, 3, per_layer_weight=MIXED_W, per_layer_act=MIXED_A),
}
# rows: (label, method, settings changes)
ROWS = [
    ("calibrate max", "calibrate", {"calibration": "max"}),
    ("calibrate percentile", "calibrate", {"calibration": "percentile"}),
    ("calibrate mse", "calibrate", {"calibration": "mse"}),
    ("datafree (max)", "datafree", {"calibration": "max"}),
    ("adaround (mse)", "adaround", {}),
    ("adaround data-free", "adaround", {"synthetic": True}),
    ("lsq", "lsq", {}),
    ("lsqplus", "lsqplus", {}),
    ("dorefa", "dorefa", {}),
    ("hwgq", "hwgq", {}),
    ("binary", "binary", {}),
    ("noise", "noise", {}),
    ("transition", "transition", {}),
]
SIGMAS = (0.25, 0.5, 1.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--methods", default=",".join(METHODS),
                   help="comma-separated method names (rows of those methods are run)")
    p.add_argument("--noise-trials", type=int, default=10)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    module = get_trained("digits_cnn", progress=False)
    graph = Graph.from_torch(module, get_entry("digits_cnn").input_shape)
    data = load_dataset("digits")
    x, y = data.x_test, data.y_test
    float_acc = evaluate(module, x, y)
    settings = MethodSettings(train=TrainSettings(epochs=args.epochs,
                                                  snap_epochs=max(1, args.epochs // 4)))
    configs = [c for c in args.configs.split(",") if c]
    wanted = set(args.methods.split(","))
    results: dict[tuple[str, str], tuple[float, float]] = {}
    noise_rows = []
    for cfg in configs:
        job = QuantJob(graph, data, CONFIGS[cfg], module=module, model="digits_cnn")
        for label, method, changes in ROWS:
            if method not in wanted:
                continue
            res = run_method(method, job, replace(settings, **changes))
            verify_export(res.qnet, res.forward, x)  # raises on the first differing bit
            acc = float((res.qnet.predict(x) == y).mean())
            results[(label, cfg)] = (acc, res.seconds)
            print(f"  {cfg:6s} {label:22s} {100 * acc:6.2f}%  {res.seconds:6.1f} s  "
                  "export bit-exact", file=sys.stderr, flush=True)
            if method in ("lsq", "noise"):
                row = {"config": cfg, "method": method, "clean": f"{100 * acc:.1f}"}
                for sigma in SIGMAS:
                    mean, std = noisy_accuracy(res.qnet, x, y, sigma, trials=args.noise_trials)
                    row[f"sigma={sigma}"] = f"{100 * mean:.1f} +- {100 * std:.1f}"
                noise_rows.append(row)
    rows = []
    for label, method, _ in ROWS:
        if method not in wanted:
            continue
        row = {"method": label}
        for cfg in configs:
            acc, sec = results[(label, cfg)]
            row[cfg] = f"{100 * acc:.1f} ({sec:.0f}s)"
        rows.append(row)
    print(f"digits_cnn, digits test set ({len(y)} images); float accuracy "
          f"{100 * float_acc:.1f}%; QAT {args.epochs} epochs (last {settings.train.snap_epochs}"
          " with power-of-two steps); W/A bits; cells: bit-accurate accuracy % (method time)")
    print(f"mixed: weights {MIXED_W}, activations {MIXED_A} (means 3.0 and "
          f"{np.mean(list(MIXED_A.values())):.1f} bits)")
    print(table(rows, ["method", *configs]))
    if noise_rows:
        print(f"\naccuracy % under Gaussian weight noise (std sigma weight lsbs, "
              f"{args.noise_trials} draws): lsq vs noise-injection training "
              f"(trained with sigma={settings.noise_sigma})")
        print(table(noise_rows, ["config", "method", "clean", *[f"sigma={s}" for s in SIGMAS]]))
    print(f"\nbench wall time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
