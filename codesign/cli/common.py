"""What every command shares: model/dataset arguments and the output contract.

Figures go to stdout, as text or (with --json) as exactly one JSON object; progress and
messages go to stderr. User errors exit 1 with a one-line message, usage errors exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codesign.data import DATASETS, Dataset, check_labels, dataset_for_shape, load_dataset
from codesign.design import DesignPoint
from codesign.errors import DesignError
from codesign.ir.graph import Graph
from codesign.models import LoadedModel, load_model


def add_model_args(p: argparse.ArgumentParser, *, positional: bool = True) -> None:
    if positional:
        p.add_argument("model", metavar="MODEL",
                       help="zoo name (see `codesign zoo`) or path/to/file.py:factory")
    p.add_argument("--weights", metavar="FILE.pt", help="state_dict to load into the model")
    p.add_argument("--input-shape", metavar="C,H,W",
                   help="input shape per sample (required for file.py:factory models)")
    add_cache_arg(p)


def add_cache_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", type=Path, metavar="DIR",
                   help="cache for trained zoo weights (default: $CODESIGN_CACHE or "
                        "$XDG_CACHE_HOME/codesign)")


def add_dataset_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", metavar="NAME|PATH",
                   help=f"{', '.join(DATASETS)}, or a directory/.npz "
                        "(default: the zoo model's dataset, or the one that fits the input "
                        "shape)")


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def add_solver_arg(p: argparse.ArgumentParser) -> None:
    from codesign.rtl.solver_settings import FULL_ENTRIES, SOLVERS

    p.add_argument("--solver", choices=SOLVERS, default="auto",
                   help="da4ml search for RF 1 adder graphs: full (smallest graph, minutes "
                        "on big kernels), fast (bounded, blocks), auto (full up to "
                        f"{FULL_ENTRIES} weights, else fast; the default). rtl, cost and "
                        "synth build and cost the same graph with the same setting")


def add_device_file_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device-file", type=Path, action="append", default=[], metavar="FILE.yaml",
                   help="add the parts of a device file (the shape of hw/devices/devices.yaml; "
                        "repeatable)")


def load_device_files(args: argparse.Namespace) -> None:
    """Register the parts of every --device-file before anything looks a part up."""
    from codesign.devices import register_device_file

    for path in getattr(args, "device_file", None) or []:
        register_device_file(path)


def model_from_args(args: argparse.Namespace, *, trained: bool = True) -> LoadedModel:
    """trained=False: a zoo model's architecture only (nothing trained or read)."""
    return load_model(args.model, weights=args.weights, input_shape=args.input_shape,
                      cache=args.cache_dir, progress=not getattr(args, "json", False),
                      trained=trained)


def dataset_from_args(args: argparse.Namespace, model: LoadedModel,
                      recorded: str | None = None) -> Dataset:
    """The model's data (--dataset, else the one a design `recorded`, else its zoo dataset
    or the one its input fits), with every label one of the model's outputs."""
    spec = getattr(args, "dataset", None) or recorded
    if spec is None and model.dataset is not None:
        data = load_dataset(model.dataset)
    else:
        data = dataset_for_shape(spec, model.input_shape)
    check_labels(data, math.prod(model.graph().output.out_shape))
    return data


def _spec_key(spec: str) -> str:
    """A model spec as compared across directories: a zoo name, or file name:factory."""
    path, sep, func = spec.rpartition(":")
    return f"{Path(path).name}:{func}" if sep and path.endswith(".py") else spec


def check_design_for_model(design: DesignPoint, design_path: Path, model: LoadedModel,
                           graph: Graph | None = None) -> None:
    """Refuse a design made for another model: by the model it records, and (given the
    design's own graph, as its quantized.npz holds it) by every layer's name, kind and
    shape. Bit-accurate figures of one network beside another's float ones mean nothing.
    """
    made_for = design.model
    if made_for is not None and _spec_key(made_for) != _spec_key(model.spec):
        raise DesignError(f"{design_path} was made for model {made_for}, not {model.spec}; "
                          f"make a design for {model.spec} with `codesign quantize "
                          f"{model.spec} ...` or pass {made_for} as the model")
    if graph is None:
        return
    ours = [(layer.name, layer.kind, tuple(layer.out_shape)) for layer in graph]
    theirs = [(layer.name, layer.kind, tuple(layer.out_shape)) for layer in model.graph()]
    if ours != theirs:
        diff = next((f"{a} vs {b}" for a, b in zip(ours, theirs, strict=False) if a != b),
                    f"{len(ours)} layers vs {len(theirs)}")
        raise DesignError(f"{design_path} was made for another network than {model.spec} "
                          f"(design's layer vs the model's: {diff}); quantize "
                          f"{model.spec} for a design of its own")


def report(args: argparse.Namespace, result: dict[str, Any],
           text: Callable[[dict[str, Any]], str]) -> None:
    """Print the result: one JSON object with --json, else the human rendering."""
    if getattr(args, "json", False):
        print(json.dumps(result, default=_jsonable))
    else:
        print(text(result))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain aligned text table."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr)


def design_dataset(design: DesignPoint, spec: str | None, input_shape: tuple[int, ...]
                   ) -> Dataset:
    """The data a command runs a design on: --dataset, else the dataset the design records,
    else its zoo model's, else the built-in one its input shape fits."""
    if spec is None:
        spec = design.dataset
    if spec is None and design.model is not None:
        from codesign.zoo import ZOO

        if design.model in ZOO:
            spec = ZOO[design.model].dataset
    return dataset_for_shape(spec, input_shape)
