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

from codesign.alloc.budget import RESOURCES, Budget, on_device, planned
from codesign.alloc.candidates import (
    MULTIPLIER_STYLES,
    WEIGHT_ROMS,
    AllocationError,
    Candidates,
    build_candidates,
    check_table,
    prune,
)
from codesign.alloc.design import accum_widths, to_design
from codesign.alloc.folding import reuse_options
from codesign.alloc.frontier import axis_range
from codesign.alloc.methods import method_frontier, run
from codesign.alloc.solver import Allocation, InfeasibleBudget, Solver
from codesign.alloc.synthcheck import WHOLE, Measure, synth_figures, synth_loop
from codesign.alloc.whole import WholeEstimate, whole_fields
from codesign.cost.bands import DEFAULT_CONFIDENCE, planning_margins, provenance
from codesign.data import Dataset
from codesign.design import DesignPoint
from codesign.devices import Device
from codesign.ir.graph import Graph
from codesign.quant.calibrate import Widths
from codesign.quant.methods import MethodSettings, QuantJob, run_method
from codesign.quant.qat import TrainSettings
from codesign.sensitivity.table import SensitivityTable

ROW_COSTS = ("lut", "ff", "dsp", "bram", "latency", "interval", "size", "wbits")
COST_MODEL = "structural"  # the model candidates_for's costs come from: its error band plans


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
    reuse: Sequence[int] | str = "auto"  # or R,R,...: codesign.alloc.folding
    multipliers: Sequence[str] = MULTIPLIER_STYLES
    roms: Sequence[str] = WEIGHT_ROMS  # where a folded layer's weight ROM may live
    calib_samples: int = 512
    evaluate: bool = False
    quantizer: str = "lsq"
    epochs: int = 2
    seed: int = 0
    progress: bool = False
    confidence: float = DEFAULT_CONFIDENCE  # plan against the upper error band at this
    synth_check: int = 0  # K: synthesize the K designs nearest the budget, correct, re-solve
    workers: int = 1  # local processes for the syntheses
    client: Any = None  # or a Dask client (codesign.workers.connect)


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
    from codesign.alloc.layercost import StructuralLayerCosts
    from codesign.cachedir import cache_dir

    # the structural rules `codesign cost` applies, on the design each choice writes
    costs = StructuralLayerCosts(job.graph, job.device, job.data.x_train[: job.calib_samples],
                                 cache=cache_dir())
    accum = accum_widths(job.graph, job.data.x_train[: job.calib_samples])
    reuse = reuse_options(job.graph, job.reuse, job.budget.limits.get("interval"))
    cands = build_candidates(job.graph, table, costs.layer_costs, bits=job.bits,
                             reuse=reuse, multipliers=job.multipliers, roms=job.roms,
                             model=job.model_name, accum=accum)
    return prune(cands, (*job.budget.limits, job.axis))


def allocations(job: AllocateJob, cands: Candidates, tables: dict[str, SensitivityTable]
                ) -> tuple[dict[str, list[Allocation]], dict[str, str]]:
    """Each method's designs under the job's budget (see `designs`)."""
    return designs(cands, job.budget, job.methods, tables, points=job.points, axis=job.axis)


def designs(cands: Candidates, budget: Budget, methods: Sequence[str],
            tables: dict[str, SensitivityTable], *, points: int = 0, axis: str = "lut"
            ) -> tuple[dict[str, list[Allocation]], dict[str, str]]:
    """Each method's designs (one under `budget`, or a `points`-cap frontier on `axis`);
    methods with no design under the budget are reported, but an infeasible budget for the
    exact method (the best possible) is an error."""
    solver = Solver(cands, (*budget.limits, axis))
    found: dict[str, list[Allocation]] = {}
    refused: dict[str, str] = {}
    span = axis_range(solver, budget, axis) if points else None
    for method in methods:
        try:
            if points:
                found[method] = method_frontier(method, cands, budget, axis, points, tables,
                                                solver=solver, span=span)
            else:
                found[method] = [run(method, cands, budget, tables, solver=solver)]
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
    asked = job.budget
    limits, clamped = on_device(job.budget, job.device)
    # the part is always a limit, the budget tightens it; the solver plans against the
    # estimate's upper error band at the job's confidence
    margins = planning_margins(COST_MODEL, job.device.family, job.confidence)
    job = replace(job, budget=planned(limits, margins))
    tables, table = tables_by_method(job)
    cands = candidates_for(job, table)
    calib_x = job.data.x_train[: job.calib_samples]
    whole = WholeEstimate(job.graph, cands, calib_x, job.device, job.model_name)
    found, refused, cands, whole_check, check = _solve(job, cands, tables, asked, limits,
                                                       margins, whole, out)
    whole_factors = whole_check["iterations"][-1]["correction"]
    measured = {(r["method"], r["point"]): r
                for r in (check["iterations"][-1]["designs"] if check else [])}
    rows: list[dict[str, Any]] = []
    work = [(m, i, a) for m, allocs in found.items() for i, a in enumerate(allocs)]
    for method, i, alloc in tqdm(work, desc="designs", disable=None if job.progress else True):
        design = to_design(job.graph, cands, alloc, calib_x, device=job.device.part,
                           clock_mhz=job.device.default_clock_mhz, model=job.model_name,
                           dataset=job.data.source or None)
        path = design.save(out / method / f"point_{i:02d}.yaml")
        # the figures a user reads are the whole design's structural estimate and its
        # network's exact cycles (what `codesign cost` says), the allocator's per-layer
        # sums beside them (the budget rows add per-layer latencies, linear for the solver)
        cost = {**alloc.cost, **whole.figures(alloc)}
        row: dict[str, Any] = {"method": method, "point": i, "omega": alloc.omega,
                               **{k: cost[k] for k in ROW_COSTS},
                               **whole_fields(alloc, cost, whole_factors),
                               "knob": alloc.notes.get("knob", ""), "design": str(path),
                               "val_accuracy": None,
                               **binding_fields(limits, cost, job.budget),
                               **{f"{k}_high": round(cost[k] * (1 + m))
                                  for k, m in margins.items()}}
        row["latency_additive"] = alloc.cost["latency"]
        if job.evaluate:
            qnet, accuracy = quantize_and_score(job, design)
            qnet = replace(qnet, design=replace(qnet.design, notes={
                **qnet.design.notes, "val_accuracy": accuracy}))
            row["quantized"] = str(qnet.save(out / method / f"point_{i:02d}", force=True))
            row["val_accuracy"] = accuracy
        if check is not None:
            got = measured.get((method, i))
            row.update({f"yosys_{k}": got["yosys"][k] if got else None for k in RESOURCES})
            row["fits_by_yosys"] = None if got is None else not got["over"]
        row["allocation"] = alloc.to_dict(cands)
        rows.append(row)
    result = {"model": job.model_name, "device": job.device.part,
              "budget": asked.text(), "limits": limits.limits,
              "limit_source": {k: limits.origin(k) for k in limits.limits},
              "budget_notes": clamped + held_note(cands),
              "confidence": job.confidence, "margins": margins,
              "band_source": provenance(),
              "whole_check": whole_check,
              **({"synth_check": check} if check is not None else {}),
              "objective": table.method, "axis": job.axis, "methods": list(found),
              "candidates": cands.size, "points": rows, "infeasible": refused,
              "out": str(out)}
    result.update(write_outputs(result, out))
    return result


def held_note(cands: Candidates) -> list[str]:
    """Say when activations were not allocated: a weights-only sensitivity table (or one
    without some tensors) leaves them at one width, which the user must not miss."""
    held = cands.notes.get("held_activations")
    if not held:
        return []
    names = held["tensors"]
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return [f"note: {len(names)} activation tensor(s) held at {held['bits']} bits ({shown}): "
            "the sensitivity table has no activation traces for them; run `codesign "
            "sensitivity` without --no-activations to allocate their widths"]


def _solve(job: AllocateJob, cands: Candidates, tables: dict[str, SensitivityTable],
           asked: Budget, limits: Budget, margins: dict[str, float], whole: WholeEstimate,
           out: Path) -> tuple[dict[str, list[Allocation]], dict[str, str], Candidates,
                               dict[str, Any], dict[str, Any] | None]:
    """The designs under the job's planned budget, made to fit it by their whole
    structural estimate (re-solved only where one breaks a limit; its record); with
    synth_check, then the loop that makes them fit `limits` by Yosys (and its record)."""
    def solve(c: Candidates) -> tuple[dict[str, list[Allocation]], dict[str, str]]:
        return allocations(job, c, tables)

    try:
        # the planned budget: the whole estimate's upper band must fit, as planned
        found, refused, cands, whole_check = synth_loop(cands, job.budget, None, job.axis,
                                                        solve, whole.measure, by=WHOLE)
        if job.synth_check:
            found, refused, cands, check = synth_loop(
                cands, limits, job.synth_check, job.axis, solve,
                _measure(job, cands, whole.calib_x, out))
            return found, refused, cands, whole_check, check
        return found, refused, cands, whole_check, None
    except InfeasibleBudget as exc:
        if not margins:
            raise
        bands = ", ".join(f"{k} +{100 * m:.1f}%" for k, m in margins.items())
        raise InfeasibleBudget(
            f"no design fits the budget {asked.text()} once planned against the estimate's "
            f"upper error band at confidence {job.confidence:g} (each LUT/FF limit divided "
            f"by 1 + {bands}; a lower --confidence, or 0 for the estimate alone, plans "
            f"closer to the limit). As planned: {exc}", exc.smallest) from None


def _measure(job: AllocateJob, cands: Candidates, calib_x: Any, out: Path) -> Measure:
    """The synth loop's measure: each checked allocation as the DesignPoint this run writes,
    its weights rounded to it, synthesized with Yosys (cached by content) in parallel."""
    from codesign.qnet import QuantizedNet

    def measure(checked: list[tuple[str, int, Allocation]], n: int) -> list[dict[str, float]]:
        calls = []
        for method, i, alloc in checked:
            design = to_design(job.graph, cands, alloc, calib_x, device=job.device.part,
                               clock_mhz=job.device.default_clock_mhz, model=job.model_name)
            folder = out / "synth" / f"iter{n}_{method}_{i:02d}"
            calls.append((QuantizedNet.from_float(job.graph, design), str(folder), job.device))
        workers = max(1, min(job.workers, len(calls)))
        if job.client is None and workers == 1:
            return [synth_figures(*call) for call in calls]
        from codesign.workers import spread

        return spread(synth_figures, calls, workers=workers, client=job.client,
                      failed=_synth_failed)

    return measure


def _synth_failed(i: int, exc: BaseException) -> dict[str, float]:
    raise AllocationError(f"--synth-check: the synthesis of checked design {i} failed: {exc}")


def binding_fields(limits: Budget, cost: dict[str, float], held: Budget) -> dict[str, Any]:
    """A frontier row's binding limit (the one with the least slack among those the
    solver held) and that slack."""
    bind = limits.binding(cost, held)
    return {"binding": bind["text"] if bind else "", "slack": bind["slack"] if bind else None}


def write_outputs(result: dict[str, Any], out: Path) -> dict[str, str]:
    from codesign.alloc.plot import plot_frontier

    out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path, png = out / "frontier.csv", out / "frontier.json", out / "frontier.png"
    cols = ["method", "point", "omega", *ROW_COSTS, "lut_high", "ff_high", "latency_additive",
            "binding", "slack", *(f"allocator_{k}" for k in RESOURCES),
            *(f"yosys_{k}" for k in RESOURCES), "fits_by_yosys", "val_accuracy", "knob",
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
