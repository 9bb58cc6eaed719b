"""`codesign eval MODEL --design DESIGN.yaml`: float vs bit-accurate accuracy."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from codesign.cli.common import (
    add_dataset_arg,
    add_json_arg,
    add_model_args,
    check_design_for_model,
    dataset_from_args,
    model_from_args,
    report,
)
from codesign.errors import CodesignError
from codesign.qnet import QuantizedNet
from codesign.train import evaluate

NAME = "eval"
HELP = "compare the float model with the bit-accurate model of a quantized design"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    p.add_argument("--design", type=Path, required=True, metavar="DESIGN.yaml")
    add_dataset_arg(p)
    p.add_argument("--samples", type=int, default=None, metavar="N",
                   help="evaluate on the first N test samples (default: all)")
    add_json_arg(p)


def run(args: argparse.Namespace) -> int:
    if args.samples is not None and args.samples < 1:
        raise CodesignError(f"--samples must be positive, not {args.samples}")
    qnet = QuantizedNet.load(args.design)
    model = model_from_args(args)
    check_design_for_model(qnet.design, args.design, model, qnet.graph)
    if tuple(model.input_shape) != qnet.graph.input_shape:
        raise CodesignError(f"{args.design} was made for input shape "
                            f"{list(qnet.graph.input_shape)}, {args.model} takes "
                            f"{list(model.input_shape)}")
    data = dataset_from_args(args, model, recorded=qnet.design.dataset)
    x, y = data.x_test[: args.samples], data.y_test[: args.samples]
    float_acc = evaluate(model.module, x, y)
    start = time.perf_counter()
    pred = qnet.predict(x)
    seconds = time.perf_counter() - start
    result = {
        "model": args.model,
        "design": str(args.design),
        "dataset": data.name,
        "samples": int(len(y)),
        "float_accuracy": float_acc,
        "bit_accurate_accuracy": float(np.mean(pred == y)),
        "bit_accurate_seconds": round(seconds, 4),
    }
    report(args, result, lambda r: (
        f"{r['model']} on {r['dataset']} ({r['samples']} test samples)\n"
        f"  float accuracy:        {100 * r['float_accuracy']:.2f}%\n"
        f"  bit-accurate accuracy: {100 * r['bit_accurate_accuracy']:.2f}%"))
    return 0
