"""`codesign train MODEL`: train a zoo model (cached) or your own model on a dataset."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from codesign.cli.common import (
    add_dataset_arg,
    add_json_arg,
    add_model_args,
    dataset_from_args,
    report,
)
from codesign.errors import CodesignError
from codesign.models import load_model
from codesign.outputs import check_file_target, output_file
from codesign.train import evaluate, get_trained, train_model, weights_path
from codesign.zoo import ZOO, get_entry

NAME = "train"
HELP = "train a model: zoo models are cached, your own are saved with --out"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    add_dataset_arg(p)
    p.add_argument("--retrain", action="store_true", help="ignore cached zoo weights")
    p.add_argument("--epochs", type=int, help="epochs (default: the zoo recipe, or 10)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (user models)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (user models)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, metavar="FILE.pt",
                   help="where to save the trained state_dict (required for user models)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    add_json_arg(p)


def run(args: argparse.Namespace) -> int:
    progress = not args.json
    start = time.perf_counter()
    if args.out is not None and check_file_target(args.out).exists() and not args.force:
        raise CodesignError(f"{args.out} exists; pass --force to overwrite it")
    if args.model in ZOO and args.weights is None and args.dataset is None and args.epochs is None:
        module = get_trained(args.model, cache=args.cache_dir, retrain=args.retrain,
                             progress=progress)
        model = load_model(args.model, cache=args.cache_dir, progress=progress)
        saved = weights_path(args.model, args.cache_dir)
        if args.out is not None:  # the cached zoo weights, also where the user asked
            with output_file(args.out) as tmp:
                torch.save(module.state_dict(), tmp)
            saved = args.out
    else:
        if args.out is None:
            raise CodesignError("say where to save the trained weights with --out FILE.pt")
        model = load_model(args.model, weights=args.weights, input_shape=args.input_shape,
                           cache=args.cache_dir, progress=progress)
        module = model.module
        epochs = args.epochs or (get_entry(args.model).train.epochs if args.model in ZOO else 10)
        data = dataset_from_args(args, model)
        train_model(module, data, epochs=epochs, lr=args.lr, batch_size=args.batch_size,
                    seed=args.seed, progress=progress)
        with output_file(args.out) as tmp:  # an interrupted save leaves no truncated .pt
            torch.save(module.state_dict(), tmp)
        saved = args.out
    data = dataset_from_args(args, model)
    result = {
        "model": args.model,
        "dataset": data.name,
        "test_accuracy": evaluate(module, data.x_test, data.y_test),
        "seconds": round(time.perf_counter() - start, 2),
        "weights": str(saved),
    }
    report(args, result, lambda r: (
        f"{r['model']} on {r['dataset']}: test accuracy {100 * r['test_accuracy']:.2f}% "
        f"({r['seconds']:.1f} s)\nweights: {r['weights']}"))
    return 0
