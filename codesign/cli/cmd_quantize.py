"""`codesign quantize MODEL`: a QuantizedNet (design.yaml + integer weights) in --out.

The widths come from --uniform or --design; --method picks how values are chosen (and
trained), and reports every type it changed from the design's. --keep-types keeps the
design's types exactly as written and warns about every tensor they cannot hold.
Whatever the method, the written design is checked bit for bit against the method's own
quantized torch forward on the test set before the command succeeds.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from codesign.cli.common import (
    add_dataset_arg,
    add_json_arg,
    add_model_args,
    check_design_for_model,
    dataset_from_args,
    eprint,
    model_from_args,
    report,
)
from codesign.design import DesignPoint
from codesign.devices import get_device
from codesign.errors import CodesignError
from codesign.outputs import output_dir
from codesign.param_limits import check_param_types
from codesign.qnet import check_save_dir
from codesign.quant.adaround import DEFAULT_ITERS
from codesign.quant.binary import save_packed
from codesign.quant.calibrate import CALIBRATIONS, Widths
from codesign.quant.export import verify_export
from codesign.quant.keep_types import keep_types, type_changes
from codesign.quant.methods import (
    METHODS,
    TRAINED,
    MethodResult,
    MethodSettings,
    QuantJob,
    qnet_forward,
    run_method,
)
from codesign.quant.qat import TrainSettings

NAME = "quantize"
HELP = "quantize a model to fixed point: writes OUT/design.yaml and its integer weights"
BINARY_FILE = "binary_packed.npz"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    widths = p.add_mutually_exclusive_group(required=True)
    widths.add_argument("--uniform", type=int, metavar="BITS",
                        help="the same width for every weight and activation")
    widths.add_argument("--design", type=Path, metavar="DESIGN.yaml",
                        help="take the per-layer widths (and reuse, device) from a DesignPoint")
    p.add_argument("--keep-types", action="store_true",
                   help="with --design: keep its types exactly as written (weights rounded "
                        "onto them, nothing recalibrated) and warn about every weight, bias "
                        "and calibration value they cannot hold")
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
                   help="noise method: std of the Gaussian noise added to each weight while "
                        "training, in units of that layer's weight lsb (default 0.5)")
    p.add_argument("--adaround-iters", type=int, default=DEFAULT_ITERS, metavar="N",
                   help=f"adaround: optimisation iterations per layer (default {DEFAULT_ITERS})")
    p.add_argument("--finetune-rounds", type=int, default=2, metavar="N",
                   help="binary: rounds of layer-by-layer alternating fine-tuning after the "
                        "binary model is trained (default 2; 0 = plain binary QAT)")
    p.add_argument("--finetune-epochs", type=int, default=1, metavar="N",
                   help="binary: epochs per phase (signs, then scale) per layer (default 1)")
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
    if args.adaround_iters < 1:
        raise CodesignError(f"--adaround-iters must be positive, not {args.adaround_iters}")
    if args.finetune_rounds < 0 or args.finetune_epochs < 1:
        raise CodesignError(f"--finetune-rounds must be 0 or more and --finetune-epochs "
                            f"positive, not {args.finetune_rounds} and {args.finetune_epochs}")
    train = TrainSettings(epochs=args.epochs, snap_epochs=args.snap_epochs, lr=args.lr,
                          seed=args.seed)
    return MethodSettings(calibration=args.calibration, calib_samples=args.calib_samples,
                          synthetic=args.data_free, train=train, noise_sigma=args.noise_sigma,
                          adaround_iters=args.adaround_iters,
                          finetune_rounds=args.finetune_rounds,
                          finetune_epochs=args.finetune_epochs)


def run(args: argparse.Namespace) -> int:
    if args.uniform is not None and not 1 <= args.uniform <= 32:
        raise CodesignError(f"--uniform must be a width from 1 to 32 bits, not {args.uniform}")
    if args.data_free and args.method in TRAINED:
        raise CodesignError(f"--data-free applies to calibrate and adaround; {args.method} "
                            "trains on the training data")
    if args.keep_types and args.design is None:
        raise CodesignError("--keep-types keeps the types of a design: give --design "
                            "DESIGN.yaml")
    if args.keep_types and (args.method != "calibrate" or args.data_free):
        raise CodesignError("--keep-types quantizes onto the design's own types; it does not "
                            f"combine with --method {args.method} or --data-free, which "
                            "choose types")
    check_save_dir(args.out, args.force)  # before minutes of training, not after
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
    saturations = []
    if args.keep_types:
        assert base is not None
        res, saturations = _keep_types(job, base, args.calib_samples)
        for found in saturations:
            eprint(f"warning: {found}")
    else:
        res = run_method(args.method, job, settings, progress=not args.json)
    verified = verify_export(res.qnet, res.forward, data.x_test)
    qnet = res.qnet
    changes = type_changes(base, qnet.design) if base is not None else []
    packed = None
    with output_dir(args.out) as out:  # a failure leaves nothing half-written
        path = qnet.save(out, force=args.force)
        if res.method == "binary":  # S5's storage: 1 bit per weight + a scale per channel
            packed = save_packed(qnet, res.notes["binary_layers"], path.parent / BINARY_FILE)
    accuracy = float((qnet.predict(data.x_test) == data.y_test).mean())
    design = qnet.design
    result = {"design": str(path), "weights": str(path.parent / design.weights)
              if design.weights else str(path.parent / "quantized.npz"),
              "bit_accurate_accuracy": accuracy, "dataset": data.name,
              "method": res.method, "seconds": round(res.seconds, 2),
              "verified_samples": verified, "notes": replace(design).notes}
    if base is not None:
        result["type_changes"] = [c.to_dict() for c in changes]
    if args.keep_types:
        result["saturations"] = [s.to_dict() for s in saturations]
    if packed is not None:
        result["binary_packed"] = str(packed)
    report(args, result, lambda r: _text(r, args.design))
    return 0


def _keep_types(job: QuantJob, base: DesignPoint, calib_samples: int
                ) -> tuple[MethodResult, list]:
    """The design's types as written (its device and clock as the job says)."""
    start = time.perf_counter()
    design = replace(base, device=job.device, clock_mhz=job.clock_mhz, model=job.model,
                     weights=None, notes={"method": "keep-types"})
    kept = keep_types(job.graph, design, job.data.x_train[:calib_samples])
    check_param_types(job.graph, kept.qnet.design)
    result = MethodResult("keep-types", kept.qnet, qnet_forward(kept.qnet),
                          time.perf_counter() - start)
    return result, kept.saturations


def _text(r: dict, design: Path | None) -> str:
    lines = [f"wrote {r['design']}",
             f"method {r['method']} ({r['seconds']} s); bit-accurate model equals its torch "
             f"forward on {r['verified_samples']} test samples"]
    changes = r.get("type_changes")
    if changes == [] and r["method"] != "keep-types":
        lines.append(f"every type as in {design}")
    elif changes:
        lines.append(f"{len(changes)} types changed from {design} (--keep-types keeps "
                     "them as written):")
        lines += [f"  {c['layer']} {c['field']}: {c['from']} -> {c['to']}" for c in changes]
    if "saturations" in r:
        n = len(r["saturations"])
        lines.append(f"types kept as written; {n} tensor(s) exceed their type's range "
                     "(warnings above)" if n else "types kept as written; every weight and "
                     "calibration value fits its type")
    if "binary_packed" in r:
        lines.append(f"binary weights packed at 1 bit each: {r['binary_packed']}")
    lines.append(f"bit-accurate test accuracy on {r['dataset']}: "
                 f"{100 * r['bit_accurate_accuracy']:.2f}%")
    return "\n".join(lines)
