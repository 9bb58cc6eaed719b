"""Accuracy of every quantization method on digits_cnn and digits_wide, selection on val.

Run: nice -n 10 .venv/bin/python bench/quant_methods.py [--models digits_cnn,digits_wide]
     [--configs 2/2,3/3,mixed] [--epochs 12] [--methods calibrate,...] [--noise-trials 10]
     [--save results.json]

Splits: every choice the bench makes (which calibration `calibrate` uses) is made on the
validation split carved from the training data; training reads only the training split;
the test set is read once per result, for the figure reported. Every figure is the
bit-accurate model's accuracy (QuantizedNet.predict), after the export was checked bit for
bit against the method's own torch forward on the test set (a mismatch aborts the bench).

Sections:
1. the methods at uniform widths (W/A bits), test % (val %) and seconds;
2. S5: binary weights (per-channel scale, 1 bit stored) with 2-bit HWGQ activations at
   W4/A2 (4-bit weight mantissas hold +-alpha_c): full binary QAT for --epochs against the
   S5 pipeline (a short initial binary training, then layer-by-layer alternating
   fine-tuning) and against that initial training alone, accuracy and training time;
3. weight noise (S1): sigma in weight lsbs (each integer weight mantissa m becomes
   m + sigma * N(0, 1), per weight and per draw; activations stay digital), LSQ against
   noise-injection training at the same sigma, mean over --noise-trials draws.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import torch

from codesign.cli.common import table
from codesign.data import load_dataset
from codesign.ir.graph import Graph
from codesign.quant.calibrate import Widths
from codesign.quant.export import verify_export
from codesign.quant.methods import METHODS, MethodSettings, QuantJob, run_method
from codesign.quant.noise import noisy_accuracy
from codesign.quant.qat import TrainSettings
from codesign.train import evaluate, get_trained
from codesign.zoo import get_entry

ROWS = ["calibrate", "adaround", "lsq", "lsqplus", "dorefa", "hwgq", "binary", "noise",
        "transition"]
CALIBRATIONS = ("max", "percentile", "mse")
SIGMA = 0.5


# Hand-picked mixed configurations averaging 3 bits (the code base has no allocator yet
# to supply frontier points): more bits at the input and the first and last layers.
MIXED = {
    "digits_cnn": Widths(3, 3, per_layer_weight={"conv2d_0": 4, "conv2d_4": 2, "dense_9": 3},
                         per_layer_act={"input": 3, "conv2d_0": 4, "relu_2": 3, "conv2d_4": 3,
                                        "relu_6": 2, "dense_9": 3}),
    "digits_wide": Widths(3, 3, per_layer_weight={"conv2d_0": 4, "conv2d_3": 3, "conv2d_7": 2,
                                                  "conv2d_10": 2, "dense_15": 3, "dense_17": 4},
                          per_layer_act={"conv2d_0": 4, "relu_9": 2, "relu_12": 2,
                                         "dense_17": 4}),
}


def _widths(cfg: str, model: str) -> Widths:
    if cfg == "mixed":
        return MIXED[model]
    w, a = (int(v) for v in cfg.split("/"))
    return Widths(w, a)


def _settings(base: MethodSettings, **changes) -> MethodSettings:
    """base with the changes this code base's MethodSettings knows (older ones lack some)."""
    known = {f.name for f in dataclasses.fields(MethodSettings)}
    return dataclasses.replace(base, **{k: v for k, v in changes.items() if k in known})


def _accuracy(res, data) -> tuple[float, float]:
    val = float((res.qnet.predict(data.x_val) == data.y_val).mean())
    test = float((res.qnet.predict(data.x_test) == data.y_test).mean())
    return val, test


def _run(name, job, settings, data):
    res = run_method(name, job, settings)
    verify_export(res.qnet, res.forward, data.x_test)  # raises on the first differing bit
    val, test = _accuracy(res, data)
    return res, {"val": val, "test": test, "seconds": res.seconds}


def _log(model, cfg, label, r) -> None:
    print(f"  {model:12s} {cfg:5s} {label:28s} test {100 * r['test']:6.2f}%  val "
          f"{100 * r['val']:6.2f}%  {r['seconds']:6.1f} s  export bit-exact",
          file=sys.stderr, flush=True)


def bench_model(model: str, configs: list[str], methods: list[str], settings: MethodSettings,
                args, data) -> dict:
    module = get_trained(model, progress=False)
    graph = Graph.from_torch(module, get_entry(model).input_shape)
    out: dict = {"float_test": evaluate(module, data.x_test, data.y_test),
                 "float_val": evaluate(module, data.x_val, data.y_val), "table": {},
                 "s5": {}, "noise": {}}
    for cfg in configs:
        job = QuantJob(graph, data, _widths(cfg, model), module=module, model=model)
        for name in methods:
            if name == "calibrate":  # the range choice is selected on val
                runs = {c: _run(name, job, _settings(settings, calibration=c), data)[1]
                        for c in CALIBRATIONS}
                best = max(CALIBRATIONS, key=lambda c: runs[c]["val"])
                r = {**runs[best], "selected": best,
                     "seconds": sum(v["seconds"] for v in runs.values())}
            else:
                res, r = _run(name, job, settings, data)
                if name in ("lsq", "noise") and cfg == args.noise_config:
                    mean, std = noisy_accuracy(res.qnet, data.x_test, data.y_test, SIGMA,
                                               trials=args.noise_trials)
                    out["noise"][name] = {"clean": r["test"], "noisy": mean, "std": std}
            out["table"][f"{name}@{cfg}"] = r
            _log(model, cfg, name + (f" ({r['selected']})" if "selected" in r else ""), r)
    if "binary" in methods and args.s5:
        job = QuantJob(graph, data, Widths(4, 2), module=module, model=model)
        full = _settings(settings, finetune_rounds=0)
        init = max(1, settings.train.epochs // 4)
        s5 = _settings(settings, train=dataclasses.replace(
            settings.train, epochs=init, snap_epochs=max(1, init // 2)),
            finetune_rounds=args.rounds, finetune_epochs=1)
        initial_only = _settings(s5, finetune_rounds=0)
        for label, s in (("full binary QAT", full), ("S5 initial training only", initial_only),
                         ("S5 pipeline", s5)):
            res, r = _run("binary", job, s, data)
            r["compression"] = res.notes.get("compression_vs_float32")
            out["s5"][label] = r
            _log(model, "4/2", label, r)
    return out


def print_tables(results: dict, args) -> None:
    for model, res in results.items():
        print(f"\n{model}: float test {100 * res['float_test']:.1f}% (val "
              f"{100 * res['float_val']:.1f}%); QAT {args.epochs} epochs; W/A bits; cells: "
              "test % (val %) seconds")
        configs = sorted({k.split("@")[1] for k in res["table"]})
        rows = []
        for name in ROWS:
            row = {"method": name}
            for cfg in configs:
                r = res["table"].get(f"{name}@{cfg}")
                if r is None:
                    continue
                sel = f" [{r['selected']}]" if "selected" in r else ""
                row[cfg] = (f"{100 * r['test']:.1f} ({100 * r['val']:.1f}) "
                            f"{r['seconds']:.0f}s{sel}")
            if len(row) > 1:
                rows.append(row)
        print(table(rows, ["method", *configs]))
        if res["s5"]:
            print(f"S5 at W4/A2 (binary weights, 2-bit HWGQ on the input and every "
                  f"activation): full QAT {args.epochs} epochs vs initial "
                  f"{max(1, args.epochs // 4)} epochs + {args.rounds} rounds of layer-wise "
                  "alternating fine-tuning")
            print(table([{"run": k, "test %": f"{100 * v['test']:.1f}",
                          "val %": f"{100 * v['val']:.1f}", "seconds": f"{v['seconds']:.1f}",
                          "compression vs float32": v.get("compression") or "-"}
                         for k, v in res["s5"].items()],
                        ["run", "test %", "val %", "seconds", "compression vs float32"]))
        if res["noise"]:
            print(f"weight noise sigma = {SIGMA} weight lsb at {args.noise_config} "
                  f"({args.noise_trials} draws)")
            print(table([{"training": k, "clean %": f"{100 * v['clean']:.1f}",
                          f"sigma={SIGMA} %": f"{100 * v['noisy']:.1f} +- {100 * v['std']:.1f}"}
                         for k, v in res["noise"].items()],
                        ["training", "clean %", f"sigma={SIGMA} %"]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="digits_cnn,digits_wide")
    p.add_argument("--configs", default="2/2,3/3")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--methods", default=",".join(ROWS))
    p.add_argument("--noise-trials", type=int, default=10)
    p.add_argument("--noise-config", default="3/3")
    p.add_argument("--rounds", type=int, default=2, help="S5 fine-tuning rounds")
    p.add_argument("--no-s5", dest="s5", action="store_false")
    p.add_argument("--save", default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        p.error(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    torch.set_num_threads(1)
    start = time.perf_counter()
    data = load_dataset("digits")
    settings = _settings(MethodSettings(train=TrainSettings(
        epochs=args.epochs, snap_epochs=max(1, args.epochs // 4))), noise_sigma=SIGMA)
    results = {m: bench_model(m, [c for c in args.configs.split(",") if c], methods,
                              settings, args, data) for m in args.models.split(",") if m}
    print(f"digits: {len(data.y_train)} train, {len(data.y_val)} val (all selection), "
          f"{len(data.y_test)} test (reported only)")
    print_tables(results, args)
    print(f"\nbench wall time {time.perf_counter() - start:.0f} s")
    if args.save:
        with open(args.save, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
