"""`codesign quantize MODEL`: a QuantizedNet (design.yaml + integer weights) in --out.

The widths come from --uniform or --design; --method picks how values are chosen (and
trained). Whatever the method, the written design is checked bit for bit against the
method's own quantized torch forward on the test set before the command succeeds.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from codesign.cli.common import (
    add_dataset_arg,
    add_json_arg,
    add_model_args,
    check_design_for_model,
    dataset_from_args,
    model_from_args,
    report,
)
from codesign.design import DesignPoint
from codesign.devices import get_device
from codesign.errors import CodesignError
from codesign.quant.calibrate import CALIBRATIONS, Widths
from codesign.quant.export import verify_export
from codesign.quant.methods import METHODS, TRAINED, MethodSettings, QuantJob, run_method
from codesign.quant.qat import TrainSettings

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
    p.add_argument("--method", default="calibrate", choices=list(METHODS), metavar="NAME",
                   help=f"how values are chosen: {', '.join(METHODS)} (default calibrate)")
    p.add_argument("--calibration", choices=CALIBRATIONS, default=None,
                   help="range choice per tensor: max-abs, 99.99th percentile or MSE-optimal "
                        "(default: max for calibrate/datafree, mse for the others)")
    p.add_argument("--data-free", action="store_true",
                   help="calibrate (and adaround) on inputs synthesized from the model's "
                        "BatchNorm statistics instead of training data")
    p.add_argument("--calib-samples", type=int, default=512, metavar="N",
                   help="training samples used to calibrate ranges (default 512)")
    p.add_argument("--epochs", type=int, default=20, metavar="N",
                   help="training epochs of the trained methods (default 20)")
    p.add_argument("--snap-epochs", type=int, default=None, metavar="N",
                   help="final epochs with steps snapped to powers of two "
                        "(default: a quarter of --epochs, at least 1)")
    p.add_argument("--lr", type=float, default=1e-2, help="training learning rate (1e-2)")
    p.add_argument("--noise-sigma", type=float, default=0.5, metavar="S",
                   help="noise method: weight noise std in weight lsbs (default 0.5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="target part (default xc7a35t)")
    p.add_argument("--clock-mhz", type=float, default=None)
    add_json_arg(p)


def _settings(args: argparse.Namespace) -> MethodSettings:
    if args.calib_samples < 1:
        raise CodesignError(f"--calib-samples must be positive, not {args.calib_samples}")
    if args.snap_epochs is None:
        args.snap_epochs = max(1, args.epochs // 4)
    if args.epochs < 1 or not 0 <= args.snap_epochs <= args.epochs:
        raise CodesignError(f"--epochs must be positive and --snap-epochs between 0 and "
                            f"--epochs, not {args.epochs} and {args.snap_epochs}")
    if args.noise_sigma < 0:
        raise CodesignError(f"--noise-sigma must not be negative, not {args.noise_sigma}")
    train = TrainSettings(epochs=args.epochs, snap_epochs=args.snap_epochs, lr=args.lr,
                          seed=args.seed)
    return MethodSettings(calibration=args.calibration, calib_samples=args.calib_samples,
                          synthetic=args.data_free, train=train, noise_sigma=args.noise_sigma)


def run(args: argparse.Namespace) -> int:
    if args.uniform is not None and not 1 <= args.uniform <= 32:
        raise CodesignError(f"--uniform must be a width from 1 to 32 bits, not {args.uniform}")
    if args.data_free and args.method in TRAINED:
        raise CodesignError(f"--data-free applies to calibrate and adaround; {args.method} "
                            "trains on the training data")
    settings = _settings(args)
    base = DesignPoint.load(args.design) if args.design is not None else None
    device = args.device or (base.device if base else "xc7a35t")
    get_device(device)
    model = model_from_args(args)
    graph = model.graph()
    if base is not None:
        check_design_for_model(base, args.design, model)
        base.validate(graph)
    data = dataset_from_args(args, model)
    widths = Widths(args.uniform, args.uniform) if base is None else Widths.from_design(base)
    clock = args.clock_mhz or (base.clock_mhz if base else get_device(device).default_clock_mhz)
    job = QuantJob(graph, data, widths, module=model.module, base=base, device=device,
                   clock_mhz=clock, model=args.model)
    res = run_method(args.method, job, settings, progress=not args.json)
    verified = verify_export(res.qnet, res.forward, data.x_test)
    qnet = res.qnet
    path = qnet.save(args.out, force=args.force)
    accuracy = float((qnet.predict(data.x_test) == data.y_test).mean())
    design = qnet.design
    result = {"design": str(path), "weights": str(path.parent / design.weights)
              if design.weights else str(path.parent / "quantized.npz"),
              "bit_accurate_accuracy": accuracy, "dataset": data.name,
              "method": res.method, "seconds": round(res.seconds, 2),
              "verified_samples": verified, "notes": replace(design).notes}
    report(args, result, lambda r: (
        f"wrote {r['design']}\nmethod {r['method']} ({r['seconds']} s); bit-accurate model "
        f"equals its torch forward on {r['verified_samples']} test samples\n"
        f"bit-accurate test accuracy on {r['dataset']}: "
        f"{100 * r['bit_accurate_accuracy']:.2f}%"))
    return 0
