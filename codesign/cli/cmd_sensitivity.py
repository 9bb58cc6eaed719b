"""`codesign sensitivity MODEL --method hessian|joint|probe --out table.yaml`.

Writes the SensitivityTable the allocator reads (Omega per layer per candidate width) and
optionally a bar plot of it.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from contextlib import ExitStack
from pathlib import Path

from codesign.cli.common import (
    add_dataset_arg,
    add_json_arg,
    add_model_args,
    dataset_from_args,
    model_from_args,
    report,
    table,
)
from codesign.errors import CodesignError
from codesign.outputs import check_file_target, output_file
from codesign.sensitivity.hutchinson import ESTIMATORS, HutchinsonSettings, UnconvergedWarning
from codesign.sensitivity.measure import sensitivity_table
from codesign.sensitivity.table import METHODS, SensitivityTable

NAME = "sensitivity"
HELP = "per-layer sensitivity to weight/activation width: writes a table for the allocator"
DEFAULT_BITS = "2,3,4,6,8"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_args(p)
    add_dataset_arg(p)
    d = HutchinsonSettings()
    p.add_argument("--method", choices=METHODS, default="hessian",
                   help="hessian: Tr/n x ||Q_b(W)-W||^2 (S1); joint: trace x size (S4); "
                        "probe: imprinted task predictors (S2), scored on the validation split "
                        "(default hessian)")
    p.add_argument("--bits", default=DEFAULT_BITS, metavar="B,B,...",
                   help=f"candidate widths (default {DEFAULT_BITS})")
    p.add_argument("--out", type=Path, metavar="TABLE.yaml", help="write the table here")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="bar plot of weight Omega")
    p.add_argument("--force", action="store_true", help="overwrite --out / --plot files")
    p.add_argument("--no-activations", action="store_true",
                   help="weights only (skips the activation Hessian / probes)")
    g = p.add_argument_group("Hutchinson estimator (hessian, joint)")
    g.add_argument("--min-iters", type=int, default=d.min_iters)
    g.add_argument("--max-iters", type=int, default=d.max_iters)
    g.add_argument("--tol", type=float, default=d.tol,
                   help=f"each layer stops when its standard error <= TOL x its trace "
                        f"(default {d.tol})")
    g.add_argument("--batches", type=int, default=d.batches)
    g.add_argument("--batch-size", type=int, default=d.batch_size)
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--threads", type=int, default=d.threads,
                   help=f"torch threads for the draws (default {d.threads}: a spinning second "
                        "thread slows a busy machine down)")
    g.add_argument("--estimator", choices=ESTIMATORS, default=d.estimator,
                   help="gauss-newton: every layer's trace sample from one backward per batch "
                        "(exact for piecewise-linear layers, all the IR has); hvp: "
                        "Hessian-vector products by double backprop (the reference); auto: "
                        f"gauss-newton where it is exact (default {d.estimator})")
    g.add_argument("--joint-draws", action="store_true",
                   help="hvp only: one Hessian-vector product per draw for all layers "
                        "(cheaper draws, but cross-layer terms add noise; default: each layer "
                        "isolated)")
    g.add_argument("--no-cache", action="store_true", help="recompute the traces")
    add_json_arg(p)


def parse_bits(text: str) -> tuple[int, ...]:
    try:
        bits = tuple(sorted({int(b) for b in text.split(",") if b.strip()}))
    except ValueError:
        bits = ()
    if not bits or any(b < 1 or b > 32 for b in bits):
        raise CodesignError(f"--bits {text!r} is not a list of widths 1..32, e.g. 2,3,4,6,8")
    return bits


def run(args: argparse.Namespace) -> int:
    bits = parse_bits(args.bits)
    for path, what in ((args.out, "--out"), (args.plot, "--plot")):
        if path is not None and check_file_target(path, what).exists() and not args.force:
            raise CodesignError(f"{path} exists; pass --force to overwrite it")
    settings = HutchinsonSettings(min_iters=args.min_iters, max_iters=args.max_iters,
                                  tol=args.tol, batches=args.batches,
                                  batch_size=args.batch_size, seed=args.seed,
                                  isolate=not args.joint_draws, estimator=args.estimator,
                                  threads=args.threads)
    model = model_from_args(args)
    data = dataset_from_args(args, model)
    progress = not args.json
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnconvergedWarning)
        result = sensitivity_table(model.module, model.input_shape, data, args.method, bits,
                                   settings=settings, activations=not args.no_activations,
                                   model_name=args.model, progress=progress,
                                   cache=False if args.no_cache else (args.cache_dir or True))
    notes = []
    for w in caught:
        if issubclass(w.category, UnconvergedWarning):
            notes.append(str(w.message))
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    with ExitStack() as outputs:  # the table and the plot appear together or not at all
        if args.out is not None:
            result.save(outputs.enter_context(output_file(args.out)))
        if args.plot is not None:
            from codesign.sensitivity.plot import plot_table

            plot_table(result, outputs.enter_context(output_file(args.plot, what="--plot")))
    out = result.to_dict()
    out["out"] = str(args.out) if args.out else None
    out["plot"] = str(args.plot) if args.plot else None
    out["warnings"] = notes
    report(args, out, lambda r: _text(result, args))
    return 0


def _convergence_lines(result: SensitivityTable) -> list[str]:
    """Per trace (weights, activations): draws, estimator, time and the worst layer's
    relative standard error, from the table's settings (the Hessian methods record them)."""
    lines = []
    for what, label in (("weight", "weight traces"), ("act", "activation traces")):
        s = result.settings
        if f"{what}_iterations" not in s:
            continue
        worst = s.get(f"{what}_worst_relative_stderr")
        lines.append(f"{label}: {s[f'{what}_iterations']} draws by {s.get(f'{what}_draws_by')} "
                     f"in {s.get(f'{what}_seconds')} s, worst relative standard error "
                     f"{'?' if worst is None else f'{worst:.1%}'} "
                     f"({'converged' if s.get(f'{what}_converged') else 'not converged'})")
    return lines


def _text(result: SensitivityTable, args: argparse.Namespace) -> str:
    rows = []
    for name, s in result.layers.items():
        row = {"layer": name, "kind": s.kind, "params": s.params or "",
               "score": "" if s.score is None else f"{s.score:.4g}"}
        for b in result.bits:
            row[f"w{b}"] = "" if s.weight is None else f"{s.weight[b]:.3g}"
        for b in result.bits:
            row[f"a{b}"] = "" if s.act is None else f"{s.act[b]:.3g}"
        rows.append(row)
    cols = ["layer", "kind", "params", "score", *(f"w{b}" for b in result.bits)]
    if any(s.act is not None for s in result.layers.values()):
        cols += [f"a{b}" for b in result.bits]
    lines = [f"{result.model} on {result.dataset}: {result.method} sensitivity "
             "(Omega: wB = weights at B bits, aB = result at B bits)", table(rows, cols),
             *_convergence_lines(result)]
    if args.out is not None:
        lines.append(f"wrote {args.out}")
    if args.plot is not None:
        lines.append(f"wrote {args.plot}")
    return "\n".join(lines)
