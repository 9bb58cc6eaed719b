"""The whole `codesign allocate` run as plain steps: tables and costs -> candidates ->
each method's designs (one under the budget, or a frontier) -> DesignPoints, optional
quantization and validation accuracy -> CSV, JSON and plot."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn
from tqdm import tqdm

from codesign.alloc.budget import Budget
from codesign.alloc.candidates import (
    MULTIPLIER_STYLES,
    AllocationError,
    Candidates,
    build_candidates,
    check_table,
    prune,
)
from codesign.alloc.design import accum_widths, to_design
from codesign.alloc.frontier import axis_range
from codesign.alloc.methods import method_frontier, run
from codesign.alloc.solver import Allocation, InfeasibleBudget, Solver
from codesign.data import Dataset
from codesign.design import DesignPoint
from codesign.devices import Device
from codesign.ir.graph import Graph
from codesign.quant.calibrate import Widths
from codesign.quant.methods import MethodSettings, QuantJob, run_method
from codesign.quant.qat import TrainSettings
from codesign.sensitivity.table import SensitivityTable

ROW_COSTS = ("lut", "ff", "dsp", "bram", "latency", "interval", "size", "wbits")


@dataclass(frozen=True, eq=False)
class AllocateJob:
    model_name: str
    graph: Graph
    data: Dataset
    tables: Sequence[SensitivityTable]
    device: Device
    budget: Budget
    module: nn.Module | None = None
    objective: str | None = None
    methods: Sequence[str] = ("exact",)
    points: int = 0  # 0: one design at the budget; N: an N-cap frontier along `axis`
    axis: str = "lut"
    bits: Sequence[int] | None = None
    reuse: Sequence[int] = (1, 2, 4, 8)
    multipliers: Sequence[str] = MULTIPLIER_STYLES
    calib_samples: int = 512
    evaluate: bool = False
    quantizer: str = "lsq"
    epochs: int = 2
    seed: int = 0
    progress: bool = False


def tables_by_method(job: AllocateJob) -> tuple[dict[str, SensitivityTable], SensitivityTable]:
    by_method: dict[str, SensitivityTable] = {}
    for t in job.tables:
        if t.method in by_method:
            raise AllocationError(f"two {t.method} sensitivity tables given; give one per method")
        check_table(job.graph, t, job.model_name)
        by_method[t.method] = t
    objective = job.objective or job.tables[0].method
    if objective not in by_method:
        raise AllocationError(f"--objective {objective} needs a {objective} sensitivity table; "
                              f"given: {', '.join(by_method)}")
    return by_method, by_method[objective]


def candidates_for(job: AllocateJob, table: SensitivityTable) -> Candidates:
    from codesign.cost.layercost import StructuralLayerCosts
    from codesign.train import cache_dir

    # the structural rules `codesign cost` applies, on the design each choice writes
    costs = StructuralLayerCosts(job.graph, job.device, job.data.x_train[: job.calib_samples],
                                 cache=cache_dir())
    accum = accum_widths(job.graph, job.data.x_train[: job.calib_samples])
    cands = build_candidates(job.graph, table, costs.layer_costs, bits=job.bits,
                             reuse=job.reuse, multipliers=job.multipliers,
                             model=job.model_name, accum=accum)
    return prune(cands, (*job.budget.limits, job.axis))


def allocations(job: AllocateJob, cands: Candidates, tables: dict[str, SensitivityTable]
                ) -> tuple[dict[str, list[Allocation]], dict[str, str]]:
    """Each method's designs; methods with no design under the budget are reported, but an
    infeasible budget for the exact method (the best possible) is an error."""
    solver = Solver(cands, (*job.budget.limits, job.axis))
    found: dict[str, list[Allocation]] = {}
    refused: dict[str, str] = {}
    span = axis_range(solver, job.budget, job.axis) if job.points else None
    for method in job.methods:
        try:
            if job.points:
                found[method] = method_frontier(method, cands, job.budget, job.axis,
                                                job.points, tables, solver=solver, span=span)
            else:
                found[method] = [run(method, cands, job.budget, tables, solver=solver)]
        except InfeasibleBudget as exc:
            if method == "exact":
                raise
            refused[method] = f"no design of this method fits ({exc})"
    return found, refused


def quantize_and_score(job: AllocateJob, design: DesignPoint) -> tuple[Any, float]:
    """Quantize a design with the job's quantizer; accuracy on the validation split."""
    snap = max(1, job.epochs // 4) if job.epochs > 1 else 0
    settings = MethodSettings(calib_samples=job.calib_samples, train=TrainSettings(
        epochs=job.epochs, snap_epochs=snap, seed=job.seed))
    q = QuantJob(job.graph, job.data, Widths.from_design(design), module=job.module,
                 base=design, device=design.device, clock_mhz=design.clock_mhz,
                 model=job.model_name)
    res = run_method(job.quantizer, q, settings)
    accuracy = float((res.qnet.predict(job.data.x_val) == job.data.y_val).mean())
    return res.qnet, accuracy


def run_allocate(job: AllocateJob, out: Path) -> dict[str, Any]:
    from codesign.cost.fast import FastCostModel

    tables, table = tables_by_method(job)
    cands = candidates_for(job, table)
    found, refused = allocations(job, cands, tables)
    calib_x = job.data.x_train[: job.calib_samples]
    cycles_model = FastCostModel(job.graph, job.device)
    rows: list[dict[str, Any]] = []
    work = [(m, i, a) for m, allocs in found.items() for i, a in enumerate(allocs)]
    for method, i, alloc in tqdm(work, desc="designs", disable=None if job.progress else True):
        design = to_design(job.graph, cands, alloc, calib_x, device=job.device.part,
                           clock_mhz=job.device.default_clock_mhz, model=job.model_name)
        path = design.save(out / method / f"point_{i:02d}.yaml")
        row: dict[str, Any] = {"method": method, "point": i, "omega": alloc.omega,
                               **{k: alloc.cost[k] for k in ROW_COSTS},
                               "knob": alloc.notes.get("knob", ""), "design": str(path),
                               "val_accuracy": None}
        # the budget rows add per-layer latencies (an estimate, linear for the solver);
        # the point reports the network's exact cycles (closed form, as `codesign cost`)
        cycles = cycles_model.network_cycles({name: impl.reuse
                                              for name, impl in design.layers.items()})
        row.update(latency_additive=row["latency"], latency=cycles["latency"],
                   interval=cycles["interval"])
        if job.evaluate:
            qnet, accuracy = quantize_and_score(job, design)
            qnet = replace(qnet, design=replace(qnet.design, notes={
                **qnet.design.notes, "val_accuracy": accuracy}))
            row["quantized"] = str(qnet.save(out / method / f"point_{i:02d}", force=True))
            row["val_accuracy"] = accuracy
        row["allocation"] = alloc.to_dict(cands)
        rows.append(row)
    result = {"model": job.model_name, "device": job.device.part,
              "budget": job.budget.text(), "limits": job.budget.limits,
              "objective": table.method, "axis": job.axis, "methods": list(found),
              "candidates": cands.size, "points": rows, "infeasible": refused,
              "out": str(out)}
    result.update(write_outputs(result, out))
    return result


def write_outputs(result: dict[str, Any], out: Path) -> dict[str, str]:
    from codesign.alloc.plot import plot_frontier

    out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path, png = out / "frontier.csv", out / "frontier.json", out / "frontier.png"
    cols = ["method", "point", "omega", *ROW_COSTS, "latency_additive", "val_accuracy", "knob",
            "design"]
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(result["points"])
    paths = {"csv": str(csv_path), "json": str(json_path), "plot": str(png)}
    json_path.write_text(json.dumps({**result, **paths}, indent=1))
    plot_frontier(result["points"], result["axis"], png,
                  title=f"{result['model']} on {result['device']} ({result['objective']})")
    return paths
