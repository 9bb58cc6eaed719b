"""Allocator bench.

  speed     (a) a 50-point exact LUT frontier on 30 layers x 32 choices per layer
            (4 weight widths x 4 result widths x 2 reuse factors; the input width is the
            previous layer's result), plus the time of single HiGHS solves on it
  s1        (c) mixed precision at an average of 3 weight bits vs uniform 3-bit LSQ+/DoReFa
  accuracy  (b) digits_cnn / digits_wide / digits_resnet at 4 LUT budgets (DSP = 0): each
            method's design, quantized with the same short LSQ fine-tuning; validation
            and (final table only) test accuracy, at equal or lower LUT than the budget

    python bench/allocator.py speed [--save bench/results/allocator_speed.json]
    python bench/allocator.py accuracy --tables DIR [--epochs 3] [--models digits_cnn]
    python bench/allocator.py s1 --tables DIR --models digits_cnn --epochs 6

`--tables DIR` holds `<model>_h.yaml` from `codesign sensitivity MODEL --method hessian`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from codesign.alloc import Budget, Solver, frontier, synthetic_chain
from codesign.alloc.design import to_design
from codesign.alloc.methods import run
from codesign.alloc.pipeline import AllocateJob, candidates_for, quantize_and_score
from codesign.cli.common import table
from codesign.data import load_dataset
from codesign.devices import get_device
from codesign.models import load_model
from codesign.sensitivity.table import SensitivityTable

METHODS = ("exact", "uniform", "ascend-descend", "pareto", "size-ilp")


def speed(points: int = 50, solves: int = 3) -> dict:
    """Print and return the frontier's and the single solves' times."""
    cands = synthetic_chain(30, bits=(2, 4, 6, 8), reuse=(1, 2), seed=1, dsp=False)
    budget = Budget({"dsp": 0})
    for _ in range(2):  # the second run is the figure (imports and caches warm)
        wall, cpu = time.perf_counter(), time.process_time()
        front = frontier(cands, budget, "lut", points)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"(a) 30 layers x 32 choices ({cands.size} table rows with the input width), "
          f"{points}-cap exact LUT frontier: {len(front)} distinct Pareto designs in "
          f"{wall:.3f} s wall, {cpu:.3f} s CPU (dynamic program; target < 1 s)")
    front_wall, front_cpu = wall, cpu
    solver = Solver(cands, ("lut", "dsp"))
    times = []
    for i in np.linspace(0, len(front) - 1, solves + 2).astype(int)[1:-1]:
        cpu = time.process_time()
        alloc = solver.solve(budget.with_limit("lut", front[i].cost["lut"]))
        times.append(time.process_time() - cpu)
        assert abs(alloc.omega - front[i].omega) <= 1e-9 * front[i].omega, "DP != HiGHS"
    print(f"    one HiGHS MILP solve of the same problem: {np.mean(times):.2f} s CPU on "
          f"average over {solves} caps (same optimum as the frontier at each)")
    return {"layers": 30, "choices": 32, "points": points, "designs": len(front),
            "frontier_wall_s": front_wall, "frontier_cpu_s": front_cpu,
            "highs_solve_cpu_s": float(np.mean(times))}


def accuracy(tables: Path, models: list[str], epochs: int, device_name: str) -> None:
    device = get_device(device_name)
    rows = []
    for model_name in models:
        model = load_model(model_name, progress=False)
        graph = model.graph()
        data = load_dataset(model.dataset)
        table_ = SensitivityTable.load(tables / f"{model_name}_h.yaml")
        job = AllocateJob(model_name, graph, data, [table_], device, Budget({"dsp": 0}),
                          module=model.module, methods=METHODS, epochs=epochs,
                          reuse=(1, 2, 4, 8))
        cands = candidates_for(job, table_)
        solver = Solver(cands, ("lut", "dsp"))
        lo = solver.minimum("lut", job.budget)
        hi = solver.solve(job.budget).cost["lut"]
        caps = np.geomspace(lo * 1.05, hi, 4)
        scored: dict = {}
        for cap in caps:
            budget = job.budget.with_limit("lut", float(cap))
            for method in METHODS:
                try:
                    alloc = run(method, cands, budget, {"hessian": table_}, solver=solver)
                except Exception as exc:  # noqa: BLE001 - a method may have nothing that fits
                    rows.append({"model": model_name, "lut_budget": int(cap),
                                 "method": method, "note": str(exc)[:40]})
                    continue
                if alloc.key() not in scored:
                    design = to_design(graph, cands, alloc, data.x_train[:512],
                                       device=device.part, clock_mhz=100.0, model=model_name)
                    qnet, val = quantize_and_score(job, design)
                    test = float((qnet.predict(data.x_test) == data.y_test).mean())
                    scored[alloc.key()] = (val, test)
                val, test = scored[alloc.key()]
                rows.append({"model": model_name, "lut_budget": int(cap), "method": method,
                             "lut": int(alloc.cost["lut"]), "wbits": f"{alloc.cost['wbits']:.2f}",
                             "omega": f"{alloc.omega:.3g}", "val_acc": f"{100 * val:.1f}",
                             "test_acc": f"{100 * test:.1f}"})
                print(rows[-1], flush=True)
    print(f"(b) {device.part}, DSP = 0, LSQ {epochs} epochs after each allocation; "
          "validation selects nothing here, test is the reported figure")
    print(table(rows, ["model", "lut_budget", "method", "lut", "wbits", "omega", "val_acc",
                       "test_acc", "note"]))


def s1(tables: Path, model_name: str, epochs: int) -> None:
    """(c) S1's comparison: mixed weight widths at an average of 3 bits (ascend-descend on
    the Hessian traces, and the exact allocator under wbits <= 3), activations at 3 bits,
    against uniform 3-bit LSQ+ and DoReFa; the same epochs for every run."""
    from dataclasses import replace as dc_replace

    from codesign.alloc.methods import ascend_descend
    from codesign.quant.calibrate import Widths
    from codesign.quant.methods import MethodSettings, QuantJob, run_method
    from codesign.quant.qat import TrainSettings

    model = load_model(model_name, progress=False)
    graph = model.graph()
    data = load_dataset(model.dataset)
    table_ = SensitivityTable.load(tables / f"{model_name}_h.yaml")
    job = AllocateJob(model_name, graph, data, [table_], get_device("xc7a35t"), Budget({}),
                      module=model.module)
    cands = candidates_for(job, table_)
    trace = {n: float(s.score or 0.0) for n, s in table_.layers.items()}
    acts3 = {n: 3 for t in cands.tensors for n in t.members}
    mixed_s1 = ascend_descend(cands, trace, 3.0)
    mask = [x.out_bits == 3 for x in cands.layers]
    mask = [m & ((x.x_bits == 3) | (x.in_tensor is None)) for m, x in
            zip(mask, cands.layers, strict=True)]
    exact = Solver(cands, ("wbits",)).solve(Budget({"wbits": 3.0}), mask=mask)
    assert exact is not None
    runs = [("ascend-descend avg 3 + LSQ+", "lsqplus", Widths(3, 3, mixed_s1, acts3)),
            ("exact wbits<=3 + LSQ+", "lsqplus", Widths(3, 3, exact.weight_bits(cands), acts3)),
            ("uniform 3 + LSQ+", "lsqplus", Widths(3, 3)),
            ("uniform 3 + DoReFa", "dorefa", Widths(3, 3))]
    settings = MethodSettings(train=TrainSettings(epochs=epochs, snap_epochs=max(1, epochs // 4)))
    rows = []
    for label, method, widths in runs:
        res = run_method(method, QuantJob(graph, data, widths, module=model.module,
                                          model=model_name), dc_replace(settings))
        q = res.qnet
        avg = sum(x.params * widths.w(x.name) for x in graph.weighted) / sum(
            x.params for x in graph.weighted)
        rows.append({"run": label, "avg_wbits": f"{avg:.2f}",
                     "val_acc": f"{100 * (q.predict(data.x_val) == data.y_val).mean():.1f}",
                     "test_acc": f"{100 * (q.predict(data.x_test) == data.y_test).mean():.1f}"})
        print(rows[-1], flush=True)
    print(f"(c) {model_name}: S1 comparison at an average of 3 weight bits, activations "
          f"3 bits, {epochs} epochs each")
    print(table(rows, ["run", "avg_wbits", "val_acc", "test_acc"]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("speed", "accuracy", "s1"))
    p.add_argument("--tables", type=Path, default=Path("."))
    p.add_argument("--models", default="digits_cnn,digits_wide,digits_resnet")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--device", default="xc7a35t")
    p.add_argument("--save", metavar="JSON", help="speed: also record the times in this file "
                   "(bench/results/allocator_speed.json is the one docs/allocate.md quotes)")
    args = p.parse_args()
    if args.what == "speed":
        times = speed()
        if args.save:
            from record import record

            print(f"recorded in {record(args.save, vars(args), speed=times)}")
    elif args.what == "s1":
        s1(args.tables, args.models.split(",")[0], args.epochs)
    else:
        accuracy(args.tables, args.models.split(","), args.epochs, args.device)


if __name__ == "__main__":
    main()
