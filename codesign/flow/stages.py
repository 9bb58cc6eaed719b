"""The stages of a flow: plain functions of a StageContext that write files into
ctx.out and return their figures (plain JSON data).

Each stage is declared with the upstream stages it reads and a `config` function giving
the plain inputs that define its result; the runner hashes those inputs (with the
content digests of the upstream results and of any user file) into the cache key. A new
stage (allocate, cost, synth...) is one more function and one more `Stage(...)` line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codesign.flow.cache import Entry, digest_file, digest_json
from codesign.flow.schema import Flow


@dataclass(frozen=True)
class Point:
    """One point of the sweep: the values of its axes."""

    device: str
    method: str
    bits: int | None  # uniform width; None for an allocated design
    alloc: int | None = None  # the frontier point of allocator method alloc_method
    alloc_method: str | None = None

    @property
    def label(self) -> str:
        if self.alloc is not None:
            return f"{self.device}-{self.method}-{self.alloc_method}-{self.alloc:02d}"
        return f"{self.device}-{self.method}-{self.bits}b"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.alloc is None:  # uniform points keep their old cache keys
            del out["alloc"], out["alloc_method"]
        return out


@dataclass
class StageContext:
    flow: Flow
    point: Point | None
    inputs: dict[str, Entry]  # upstream stage name -> its finished entry
    out: Path  # the (temporary) folder this stage writes into
    progress: bool = False
    _cache: dict[str, Any] = field(default_factory=dict)

    def model(self):
        """The trained model the train stage saved."""
        if "model" not in self._cache:
            from codesign.models import load_model

            train = self.inputs["train"]
            m = self.flow.model
            self._cache["model"] = load_model(
                m.zoo or self.flow.resolve(m.file) or "", weights=train.path("weights"),
                input_shape=train.outputs["input_shape"], progress=False)
        return self._cache["model"]

    def data(self):
        if "data" not in self._cache:
            self._cache["data"] = load_flow_dataset(self.flow, self.model().input_shape,
                                                    self.model().dataset)
        return self._cache["data"]

    def qnet(self):
        from codesign.qnet import QuantizedNet

        return QuantizedNet.load(self.inputs["quantize"].path("design"))


def dataset_spec(flow: Flow) -> str | None:
    """The flow's dataset: a name, or a path when one exists next to the flow file."""
    spec = flow.dataset
    if spec is None:
        return None
    resolved = flow.resolve(spec)
    return resolved if resolved is not None and Path(resolved).exists() else spec


def load_flow_dataset(flow: Flow, input_shape: tuple[int, ...], zoo_dataset: str | None):
    from codesign.data import dataset_for_shape, load_dataset

    spec = dataset_spec(flow)
    if spec is None and zoo_dataset is not None:
        return load_dataset(zoo_dataset)
    return dataset_for_shape(spec, tuple(input_shape))


def _file_digest(path: str | None) -> str | None:
    return digest_file(Path(path)) if path is not None and Path(path).is_file() else None


# -- train --------------------------------------------------------------------------------
def train_config(flow: Flow, point: Point | None) -> dict[str, Any]:
    m = flow.model
    model_file = flow.resolve(m.file.rpartition(":")[0]) if m.file else None
    data = dataset_spec(flow)
    return {"model": asdict(m), "model_file": _file_digest(model_file),
            "weights": _file_digest(flow.resolve(m.weights)), "dataset": data,
            "dataset_file": _file_digest(data)}


def train(ctx: StageContext) -> dict[str, Any]:
    """The float model: zoo weights (trained once, cached), the user's weights, or the
    user's model trained here."""
    import torch

    from codesign.models import load_model
    from codesign.train import evaluate, get_trained, train_model

    m = ctx.flow.model
    trained_here = False
    if m.zoo is not None and m.weights is None:
        module = get_trained(m.zoo, progress=ctx.progress)
        model = load_model(m.zoo, progress=False)
    else:
        model = load_model(m.zoo or ctx.flow.resolve(m.file) or "",
                           weights=ctx.flow.resolve(m.weights),
                           input_shape=m.input_shape, progress=ctx.progress)
        module = model.module
    data = load_flow_dataset(ctx.flow, model.input_shape, model.dataset)
    if m.zoo is None and m.weights is None:
        t = m.train
        train_model(module, data, epochs=t.epochs, lr=t.lr, batch_size=t.batch_size,
                    seed=t.seed, progress=ctx.progress)
        trained_here = True
    torch.save(module.state_dict(), ctx.out / "weights.pt")
    rows = model.graph().summary()
    return {"weights": "weights.pt", "input_shape": list(model.input_shape),
            "dataset": data.name, "trained_here": trained_here,
            "float_val_accuracy": evaluate(module, data.x_val, data.y_val),
            "float_test_accuracy": evaluate(module, data.x_test, data.y_test),
            "params": sum(r["params"] for r in rows), "macs": sum(r["macs"] for r in rows),
            "layers": len(rows)}


# -- sensitivity --------------------------------------------------------------------------
def sensitivity_config(flow: Flow, point: Point | None) -> dict[str, Any]:
    assert flow.sensitivity is not None
    return asdict(flow.sensitivity)


def sensitivity(ctx: StageContext) -> dict[str, Any]:
    """The per-layer Omega table (train split for Hessians; probes scored on val)."""
    from codesign.sensitivity.hutchinson import HutchinsonSettings
    from codesign.sensitivity.plot import plot_table

    s = ctx.flow.sensitivity
    assert s is not None
    model, data = ctx.model(), ctx.data()
    if s.method == "probe":
        from codesign.sensitivity.probes import probe_table

        table = probe_table(model.graph(), data.x_train, data.y_train, data.x_val, data.y_val,
                            s.bits, data.num_classes, model_name=model.spec,
                            dataset=data.name, activations=s.activations)
    else:
        from codesign.sensitivity.perturbation import hessian_table

        settings = HutchinsonSettings(min_iters=s.min_iters, max_iters=s.max_iters, tol=s.tol,
                                      batches=s.batches, batch_size=s.batch_size, seed=s.seed)
        table = hessian_table(model.module, model.input_shape, data.x_train, data.y_train,
                              s.bits, method=s.method, settings=settings,
                              activations=s.activations, model_name=model.spec,
                              dataset=data.name, progress=ctx.progress, cache=False)
    table.save(ctx.out / "sensitivity.yaml")
    plot_table(table, ctx.out / "sensitivity.png")
    return {"table": "sensitivity.yaml", "plot": "sensitivity.png", "method": s.method,
            "bits": list(table.bits)}


# -- allocate ----------------------------------------------------------------------------
def allocate_config(flow: Flow, point: Point | None) -> dict[str, Any]:
    from codesign.devices import get_device

    assert flow.allocate is not None
    config = asdict(flow.allocate)
    if not config["synth_check"]:  # flows without it keep their cache keys
        del config["synth_check"]
    return {**config, "devices": [get_device(d).to_dict() for d in flow.target.devices]}


def allocate(ctx: StageContext) -> dict[str, Any]:
    """The allocator's designs on every device (codesign allocate's pipeline): a frontier
    of DesignPoints under the budget, each quantized by the per-point stages."""
    from codesign.alloc.folding import interval_for_fps
    from codesign.alloc.pipeline import AllocateJob, run_allocate, write_outputs
    from codesign.devices import get_device
    from codesign.errors import CodesignError
    from codesign.sensitivity.table import SensitivityTable

    a = ctx.flow.allocate
    assert a is not None
    model, data = ctx.model(), ctx.data()
    table = SensitivityTable.load(ctx.inputs["sensitivity"].path("table"))
    devices: dict[str, Any] = {}
    for name in ctx.flow.target.devices:
        device = get_device(name)
        budget = a.budget_for(device.part)
        if a.fps is not None:
            clock = ctx.flow.target.clock_mhz or device.default_clock_mhz
            budget = budget.with_limit("interval", interval_for_fps(a.fps, clock))
        job = AllocateJob(model_name=model.spec, graph=model.graph(), data=data,
                          tables=[table], device=device, budget=budget,
                          module=model.module, methods=tuple(a.methods), points=a.points,
                          axis=a.axis, bits=a.bits,
                          reuse=a.reuse if isinstance(a.reuse, str) else tuple(a.reuse),
                          calib_samples=a.calib_samples, progress=ctx.progress,
                          synth_check=a.synth_check,
                          workers=max(1, ctx.flow.sweep.workers or 1))
        folder = ctx.out / name.lower()
        result = run_allocate(job, folder)
        if not result["points"]:
            why = "; ".join(f"{m}: {msg}" for m, msg in result["infeasible"].items())
            raise CodesignError(f"allocate: no method ({', '.join(a.methods)}) found a design "
                                f"under the budget {result['budget']} on {name} ({why}); "
                                "loosen the budget")
        for row in result["points"]:  # paths relative to the stage folder, which moves
            row["design"] = str(Path(row["design"]).relative_to(folder))
        write_outputs({**result, "out": "."}, folder)
        rows = [{k: v for k, v in row.items() if k != "allocation"}
                | {"design": f"{name.lower()}/{row['design']}"} for row in result["points"]]
        devices[name.lower()] = {"budget": result["budget"], "limits": result["limits"],
                                 "limit_source": result["limit_source"],
                                 "budget_notes": result["budget_notes"],
                                 **{k: result[k] for k in ("whole_check", "synth_check")
                                    if k in result},
                                 "objective": result["objective"], "axis": result["axis"],
                                 "points": rows, "infeasible": result["infeasible"],
                                 "csv": f"{name.lower()}/frontier.csv",
                                 "plot": f"{name.lower()}/frontier.png"}
    return {"methods": list(a.methods), "devices": devices}


# -- quantize and eval (per sweep point) --------------------------------------------------
def quantize_config(flow: Flow, point: Point | None) -> dict[str, Any]:
    assert point is not None
    q = asdict(flow.quantize)
    del q["methods"], q["bits"]
    return {**q, **point.to_dict(), "clock_mhz": flow.target.clock_mhz}


def quantize(ctx: StageContext) -> dict[str, Any]:
    from codesign.devices import get_device
    from codesign.quant.calibrate import Widths
    from codesign.quant.export import verify_export
    from codesign.quant.methods import MethodSettings, QuantJob, run_method
    from codesign.quant.qat import TrainSettings

    p, q = ctx.point, ctx.flow.quantize
    assert p is not None
    model, data = ctx.model(), ctx.data()
    device = get_device(p.device)
    train = TrainSettings(epochs=q.epochs, snap_epochs=q.snap, lr=q.lr, seed=q.seed)
    settings = MethodSettings(calibration=q.calibration, calib_samples=q.calib_samples,
                              train=train)
    base, widths = None, Widths(p.bits or 0, p.bits or 0)
    if p.alloc is not None:  # the allocator's design, as `codesign quantize --design`
        from codesign.alloc.frontier import frontier_row
        from codesign.design import DesignPoint

        alloc = ctx.inputs["allocate"]
        row = frontier_row(alloc.outputs, p.device, p.alloc_method, p.alloc)
        base = DesignPoint.load(alloc.folder / row["design"])
        widths = Widths.from_design(base)
    job = QuantJob(model.graph(), data, widths, module=model.module, base=base,
                   device=device.part,
                   clock_mhz=ctx.flow.target.clock_mhz or device.default_clock_mhz,
                   model=model.spec)
    res = run_method(p.method, job, settings, progress=ctx.progress)
    verified = verify_export(res.qnet, res.forward, data.x_test)
    res.qnet.save(ctx.out)
    return {"design": "design.yaml", "method": res.method, "method_seconds":
            round(res.seconds, 2), "verified_samples": verified}


def eval_config(flow: Flow, point: Point | None) -> dict[str, Any]:
    return {}


def evaluate_point(ctx: StageContext) -> dict[str, Any]:
    """Bit-accurate accuracy (validation selects, test reports) and the design's layers."""
    from codesign.ir import layers as L

    qnet, data = ctx.qnet(), ctx.data()
    graph, design = qnet.graph, qnet.design
    layers = []
    weight_bits = 0
    for layer in graph.layers[1:]:
        impl = design[layer.name]
        row: dict[str, Any] = {"name": layer.name, "kind": layer.kind,
                               "result": str(impl.result), "result_bits": impl.result.width}
        if isinstance(layer, L.WeightedLayer):
            assert impl.weight is not None and impl.accum is not None
            row.update(weight=str(impl.weight), weight_bits=impl.weight.width,
                       accum_bits=impl.accum.width, reuse=impl.reuse,
                       multiplier=impl.multiplier, params=int(layer.weight.size))
            weight_bits += int(layer.weight.size) * impl.weight.width
        layers.append(row)
    return {"bit_accurate_val_accuracy": float(np.mean(qnet.predict(data.x_val) == data.y_val)),
            "bit_accurate_test_accuracy":
                float(np.mean(qnet.predict(data.x_test) == data.y_test)),
            "weight_bits": weight_bits, "layers": layers}


def cost_config(flow: Flow, point: Point | None) -> dict[str, Any]:
    from codesign.cost import fast, structural
    from codesign.devices import get_device

    assert point is not None and flow.cost is not None
    model = flow.cost.model
    # the fitted constants are an input: a refit must not reuse an estimate made with the old
    fit = (structural if model == "structural" else fast).fit_file()
    return {"device": get_device(point.device).to_dict(), "model": model,
            "fit": digest_json(fit)}


def cost(ctx: StageContext) -> dict[str, Any]:
    """The cost model's estimate of the design's RTL on the point's device: the
    structural estimate of its RTL plan (as `codesign cost`), or the fast model."""
    import json

    from codesign.cost.estimate import estimate_design, estimate_structural
    from codesign.devices import get_device

    assert ctx.point is not None and ctx.flow.cost is not None
    estimate_fn = estimate_structural if ctx.flow.cost.model == "structural" else estimate_design
    estimate = estimate_fn(ctx.qnet(), get_device(ctx.point.device))
    (ctx.out / "cost.json").write_text(json.dumps(estimate, indent=1))
    return {"file": "cost.json", **estimate,
            "fits": all(v is not None and v <= 100.0 for v in estimate["utilization"].values())}


# -- the chosen design: hls4ml + C simulation, RTL + Verilator, Yosys ---------------------
def _samples(ctx: StageContext, n: int) -> np.ndarray:
    data = ctx.data()
    return np.concatenate([data.x_test, data.x_train])[:n]


def hls_config(flow: Flow, point: Point | None) -> dict[str, Any]:
    assert flow.hls is not None
    return asdict(flow.hls)


def hls(ctx: StageContext) -> dict[str, Any]:
    from codesign.hls.project import emit_hls

    h = ctx.flow.hls
    assert h is not None
    qnet = ctx.qnet()
    project = emit_hls(qnet, ctx.out / "hls", io=h.io, backend=h.backend.capitalize())
    out: dict[str, Any] = {"project": "hls", "io": h.io, "backend": project.backend,
                           "part": project.hls_model.config.get_config_value("Part")}
    if h.csim:
        start = time.perf_counter()
        project.compile()
        out["compile_seconds"] = round(time.perf_counter() - start, 2)
        out["csim"] = project.verify(_samples(ctx, h.csim_samples)).to_dict()
    return out


def rtl_config(flow: Flow, point: Point | None) -> dict[str, Any]:
    assert flow.rtl is not None
    return asdict(flow.rtl)


def rtl(ctx: StageContext) -> dict[str, Any]:
    from codesign.rtl.latency import engine_table, network_timing
    from codesign.rtl.network import generate_rtl, plan_network

    r = ctx.flow.rtl
    assert r is not None
    qnet = ctx.qnet()
    generate_rtl(qnet, ctx.out / "rtl")
    plan = plan_network(qnet)
    one = network_timing(plan, 2).summary()
    out: dict[str, Any] = {"rtl": "rtl", "engines": engine_table(plan),
                           "predicted_latency": one["latency"],
                           "predicted_interval": one["interval"]}
    if r.sim:
        from codesign.verify.rtlsim import build, verify_rtl

        start = time.perf_counter()
        build_dir, cached = build(ctx.out / "rtl")
        out.update(build_seconds=round(time.perf_counter() - start, 2), build_cached=cached)
        x = _samples(ctx, r.sim_samples)
        runs = [verify_rtl(qnet, ctx.out / "rtl", build_dir, x, mode=mode,
                           work_dir=ctx.out / "sim" / mode).to_dict()
                for mode in (("timing", "stress") if r.stress else ("timing",))]
        out["runs"] = runs
        out["ok"] = all(run["bit_exact"] == run["samples"] and run["cycles_equal"] is not False
                        for run in runs)
    return out


def synth_config(flow: Flow, point: Point | None) -> dict[str, Any]:
    from codesign.devices import get_device

    assert flow.synth is not None and point is not None
    config = asdict(flow.synth)
    del config["timeout_s"]  # a finished synthesis does not depend on the limit
    return {**config, "device": get_device(point.device).to_dict()}


def synth(ctx: StageContext) -> dict[str, Any]:
    """Yosys synthesis of the chosen design's RTL (codesign synth's function), in a child
    process killed at synth.timeout_s (then limit.StageTimeout says what it reached)."""
    from codesign.devices import get_device
    from codesign.flow.limit import synthesize_limited

    s = ctx.flow.synth
    assert s is not None and ctx.point is not None
    result = synthesize_limited(ctx.inputs["quantize"].path("design"), ctx.out / "synth",
                                get_device(ctx.point.device).part,
                                place_and_route=s.place_and_route, timeout_s=s.timeout_s)
    return {"folder": "synth", **result}


# -- the registry -------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    name: str
    fn: Callable[[StageContext], dict[str, Any]]
    config: Callable[[Flow, Point | None], dict[str, Any]]
    deps: tuple[str, ...]
    scope: str  # "shared" (once per run), "point" (every sweep point), "chosen"
    label: str  # what the progress line and the report call it
    optional: tuple[str, ...] = ()  # upstream stages read when the flow runs them

    def upstream(self, available: dict[str, Any]) -> tuple[str, ...]:
        """The deps, and the optional deps this run has (both part of the cache key)."""
        return self.deps + tuple(d for d in self.optional if d in available)


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("train", train, train_config, (), "shared", "train / load the float model"),
    Stage("sensitivity", sensitivity, sensitivity_config, ("train",), "shared",
          "layer sensitivity"),
    Stage("allocate", allocate, allocate_config, ("train", "sensitivity"), "shared",
          "hardware-aware allocation"),
    Stage("quantize", quantize, quantize_config, ("train",), "point", "quantize",
          optional=("allocate",)),
    Stage("eval", evaluate_point, eval_config, ("train", "quantize"), "point",
          "bit-accurate evaluation"),
    Stage("cost", cost, cost_config, ("train", "quantize"), "point",
          "resource and cycle estimate"),
    Stage("hls", hls, hls_config, ("train", "quantize"), "chosen",
          "hls4ml project + C simulation"),
    Stage("rtl", rtl, rtl_config, ("train", "quantize"), "chosen",
          "RTL + Verilator simulation"),
    Stage("synth", synth, synth_config, ("train", "quantize"), "chosen",
          "Yosys synthesis"),
)}


def enabled(flow: Flow) -> list[Stage]:
    """The stages this flow runs, in order."""
    skip = {name for name, section in (("sensitivity", flow.sensitivity),
                                       ("allocate", flow.allocate), ("cost", flow.cost),
                                       ("hls", flow.hls), ("rtl", flow.rtl),
                                       ("synth", flow.synth)) if section is None}
    return [s for s in STAGES.values() if s.name not in skip]
