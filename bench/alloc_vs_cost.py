"""Does the allocator's cost of a design equal `codesign cost`'s? Issue 19, item 2.

For each model and LUT budget on the part, the exact method's design (and, with
--frontier N, an N-point LUT frontier) is allocated; each returned design is quantized
by post-training calibration (QuantizedNet.from_float, what `codesign quantize` does
before any training) and costed by the structural estimate `codesign cost` prints. The
table gives the allocator's LUT/FF/DSP/BRAM, `codesign cost`'s, and the LUT/FF error.
Omega comes from a synthetic table (4x per bit, scaled by each layer's weights): the
costs, not the accuracy, are what is measured here. Also prints the cold-cache time
of the candidate costs and of `codesign cost`.

    python bench/alloc_vs_cost.py [--models digits_cnn,...] [--budgets "lut=min*2;lut=0.5"]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import numpy as np

from codesign.alloc.budget import Budget, on_device, parse_budget
from codesign.alloc.candidates import tensor_groups
from codesign.alloc.design import to_design
from codesign.alloc.pipeline import AllocateJob, allocations, candidates_for
from codesign.alloc.solver import InfeasibleBudget, Solver
from codesign.cost.estimate import estimate_structural
from codesign.data import load_dataset
from codesign.devices import get_device
from codesign.ir import layers as L
from codesign.models import load_model
from codesign.qnet import QuantizedNet
from codesign.sensitivity.table import LayerSensitivity, SensitivityTable


def synthetic_table(graph, model: str, bits: tuple[int, ...]) -> SensitivityTable:
    """Omega falling 4x per bit, scaled by the layer's size (what the allocator reads)."""
    tensor_groups(graph)
    layers = {}
    for layer in graph:
        if not isinstance(layer, (L.Input, L.WeightedLayer, L.ReLU, L.Add)):
            continue
        weight = ({b: layer.params / 100 * 4.0 ** -b for b in bits}
                  if isinstance(layer, L.WeightedLayer) else None)
        act = {b: 4.0 ** -b for b in bits}
        layers[layer.name] = LayerSensitivity(layer.kind, layer.params, 1.0, weight, act)
    return SensitivityTable("hessian", model, "digits", bits, layers)


def lut_budget(text: str, device, cands) -> Budget:
    """`--budget` text, with lut=min*K resolved against the candidates (the smallest LUT
    under the budget's other limits and the part's, which the allocator always holds)."""
    items = text.split(",")
    lut = [i for i in items if i.startswith("lut=min*")]
    rest = parse_budget(",".join(i for i in items if i not in lut), device)
    if not lut:
        return rest
    held = on_device(rest, device)[0].without("lut")
    lo = Solver(cands, (*held.limits, "lut")).minimum("lut", held)
    if lo is None:
        return rest
    return rest.with_limit("lut", math.floor(lo * float(lut[0].split("*")[1])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="digits_cnn,digits_wide,digits_resnet")
    ap.add_argument("--budgets", default="lut=min*1.2;lut=min*2;lut=min*1.5,dsp=0",
                    help="budgets (`--budget` syntax), separated by ';'; lut=min*K is K "
                         "times the smallest LUT any design of the model needs (under the "
                         "budget's other limits)")
    ap.add_argument("--device", default="xc7z020")
    ap.add_argument("--bits", default="2,3,4,6,8")
    ap.add_argument("--frontier", type=int, default=0)
    args = ap.parse_args()

    device = get_device(args.device)
    data = load_dataset("digits")
    bits = tuple(int(b) for b in args.bits.split(","))
    print(f"{'model':14} {'budget':>20} {'pt':>2} | {'alloc LUT':>9} {'cost LUT':>8} {'err':>6} | "
          f"{'alloc FF':>8} {'cost FF':>7} {'err':>6} | DSP a/c | BRAM a/c | cost s")
    errors: list[tuple[float, float]] = []
    for model in args.models.split(","):
        graph = load_model(model, progress=False).graph()
        table = synthetic_table(graph, model, bits)
        with tempfile.TemporaryDirectory() as cache:
            os.environ["CODESIGN_CACHE"] = cache  # cold cache: the time a first run takes
            job0 = AllocateJob(model, graph, data, [table], device, parse_budget(None, device))
            t0 = time.perf_counter()
            cands0 = candidates_for(job0, table)
            cold = time.perf_counter() - t0
            print(f"# {model}: candidate costs {cold:.1f} s (cold cache)")
            for frac in args.budgets.split(";"):
                budget = lut_budget(frac, device, cands0)
                job = AllocateJob(model, graph, data, [table], device, budget,
                                  points=args.frontier)
                cands = candidates_for(job, table)
                try:
                    found, _ = allocations(job, cands, {table.method: table})
                except InfeasibleBudget as exc:
                    print(f"{model:14} {budget.text():>20}: {exc}")
                    continue
                for i, alloc in enumerate(found["exact"]):
                    design = to_design(graph, cands, alloc, data.x_train[:512],
                                       device=device.part, clock_mhz=device.default_clock_mhz,
                                       model=model)
                    t1 = time.perf_counter()
                    cost = estimate_structural(QuantizedNet.from_float(graph, design), device)
                    dt = time.perf_counter() - t1
                    a = alloc.cost
                    e_lut = a["lut"] / cost["lut"] - 1
                    e_ff = a["ff"] / cost["ff"] - 1
                    errors.append((e_lut, e_ff))
                    name = budget.text()
                    print(f"{model:14} {name:>20} {i:>2} | {a['lut']:9.0f} {cost['lut']:8d} "
                          f"{e_lut:+6.1%} | {a['ff']:8.0f} {cost['ff']:7d} {e_ff:+6.1%} | "
                          f"{a['dsp']:3.0f}/{cost['dsp']:<3d} | {a['bram']:4.1f}/"
                          f"{cost['bram']:<4.1f}| {dt:.1f}")
    if errors:
        arr = np.abs(np.array(errors))
        print(f"# max |error|: LUT {arr[:, 0].max():.1%}, FF {arr[:, 1].max():.1%}; "
              f"mean LUT {arr[:, 0].mean():.1%}, FF {arr[:, 1].mean():.1%} over {len(arr)} designs")


if __name__ == "__main__":
    main()
