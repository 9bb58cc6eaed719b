"""`codesign quantize MODEL`: a QuantizedNet (design.yaml + integer weights) in --out."""

from __future__ import annotations

import argparse
from pathlib import Path

from codesign.cli.common import (
    add_dataset_arg,
    add_json_arg,
    add_model_args,
    dataset_from_args,
    model_from_args,
    report,
)
from codesign.design import DesignPoint
from codesign.devices import get_device
from codesign.errors import CodesignError
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, calibrate_design

NAME = "quantize"
HELP = "quantize a model to fixed point: writes OUT/design.yaml and its integer weights"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    widths = p.add_mutually_exclusive_group(required=True)
    widths.add_argument("--uniform", type=int, metavar="BITS",
                        help="the same width for every weight and activation")
    widths.add_argument("--design", type=Path, metavar="DESIGN.yaml",
                        help="take the per-layer widths (and reuse, device) from a DesignPoint")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--force", action="store_true", help="overwrite a design already in --out")
    add_dataset_arg(p)
    p.add_argument("--calib-samples", type=int, default=512, metavar="N",
                   help="training samples used to calibrate ranges (default 512)")
    p.add_argument("--device", default=None, help="target part (default xc7a35t)")
    p.add_argument("--clock-mhz", type=float, default=None)
    add_json_arg(p)


def run(args: argparse.Namespace) -> int:
    if args.uniform is not None and not 1 <= args.uniform <= 32:
        raise CodesignError(f"--uniform must be a width from 1 to 32 bits, not {args.uniform}")
    if args.calib_samples < 1:
        raise CodesignError(f"--calib-samples must be positive, not {args.calib_samples}")
    base = DesignPoint.load(args.design) if args.design is not None else None
    device = args.device or (base.device if base else "xc7a35t")
    get_device(device)
    model = model_from_args(args)
    graph = model.graph()
    if base is not None:
        base.validate(graph)
    data = dataset_from_args(args, model)
    widths = Widths(args.uniform, args.uniform) if base is None else Widths.from_design(base)
    clock = args.clock_mhz or (base.clock_mhz if base else get_device(device).default_clock_mhz)
    design = calibrate_design(graph, data.x_train[: args.calib_samples], widths, device=device,
                              clock_mhz=clock, model=args.model, base=base)
    qnet = QuantizedNet.from_float(graph, design)
    path = qnet.save(args.out, force=args.force)
    accuracy = float((qnet.predict(data.x_test) == data.y_test).mean())
    result = {"design": str(path), "weights": str(path.parent / design.weights)
              if design.weights else str(path.parent / "quantized.npz"),
              "bit_accurate_accuracy": accuracy, "dataset": data.name}
    report(args, result, lambda r: f"wrote {r['design']}\nbit-accurate test accuracy on "
                                   f"{r['dataset']}: {100 * r['bit_accurate_accuracy']:.2f}%")
    return 0
