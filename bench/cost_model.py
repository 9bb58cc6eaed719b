"""Cost models vs Yosys: fit on one half of the synthesized designs, report on the other.

Builds single-layer designs (conv and dense, 2-16-bit weights, 2-12-bit inputs, several
reuse factors, both multiplier styles, lossless and narrow accumulators) and small whole
networks (tests/rtl/randnet.py: residual adds, pools, mixed widths, random RF), on xc7
(synth_xilinx) and ECP5 (synth_ecp5), synthesizes each with codesign.synth (cached by
content hash: a re-run costs nothing, a cut-short run still reports what it has) and
compares both estimates with what Yosys reports:

- structural (codesign.cost.structural: the RTL plan, engine by engine);
- fast (codesign.cost.fast: the allocator's vectorized model, no RTL built).

The structural model's LUT and FF coefficients are fitted (non-negative, least absolute
relative error pulled toward its hand-set constants) on the even-numbered half of each
family's samples and reported on the odd half. The fast model is reported with its
shipped coefficients (hw/devices/cost_fit.yaml, fitted to the structural estimate of
hundreds of unsynthesized designs by bench/fast_fit.py), and beside them ("refit") with
coefficients refitted (non-negative least squares on relative error) to the synthesized
half. Printed: per-resource MAPE and worst case, fast vs structural, DSP and BRAM exact
counts, interval and latency against the handshake simulation, estimates per second,
and a scatter plot (estimated vs synthesized). With --write-fit the structural
coefficients go to hw/devices/structural_fit.yaml with the Yosys version and the date
(the fast model's file is bench/fast_fit.py's). Also printed: each model's error band at
--confidence per family and resource (quantiles of 2-fold cross-validated relative
residuals) and its coverage; --write-bands (or --write-fit) stores those residuals with
their provenance in the same file, where codesign.cost.bands reads them.

    nice -n 10 .venv/bin/python bench/cost_model.py [--layers 60] [--networks 12]
        [--jobs 2] [--out out/cost_model] [--cached-only] [--write-fit] [--write-bands]
        [--confidence 0.95] [--cycles-only] [--save bench/results/cost_model.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LUT_FEATURES = ("shiftadd", "table", "graphadd", "accadd", "dspacc", "lossy", "lutmul", "rom",
                "xmux", "cast", "gap", "cmp", "pooladd", "div", "fifo", "taps", "const")
FF_FEATURES = ("taps", "out", "acc", "gap", "fifo", "pipe", "const")
MIN_FIT_SAMPLES = 6  # a family with fewer fitted samples keeps the hand-set coefficients

FAMILY_PART = {"xc7": "xc7a100t", "ecp5": "lfe5u-85f"}


# -- designs ----------------------------------------------------------------------------
def layer_design(seed: int):
    """One conv or dense layer with random widths, reuse, multiplier style, accumulator."""
    from codesign.design import DesignPoint, LayerImpl, lossless_accum
    from codesign.fixed import FixedType, Overflow, Rounding
    from codesign.ir import layers as L
    from codesign.ir.graph import Graph
    from codesign.ir.layers import pool_out
    from codesign.qnet import QuantizedNet
    from codesign.quant.calibrate import WEIGHT_MODES, bias_type, fit_type

    r = np.random.default_rng(seed)
    wb = int(r.choice([2, 3, 4, 5, 6, 8, 10, 12, 16]))
    xb = int(r.integers(2, 13))
    ob = int(r.integers(4, 13))
    conv = seed % 2 == 0
    if conv:
        cin, cout, k, pad = int(r.integers(1, 4)), int(r.integers(2, 5)), 3, int(r.integers(0, 2))
        side = 6
        out = (cout, pool_out(side, k, 1, pad), pool_out(side, k, 1, pad))
        weight = r.normal(0, 0.4, (cout, cin, k, k))
        shape = (cin, side, side)
        layer = L.Conv2d("layer", ("input",), out, weight=weight, bias=r.normal(0, .2, cout),
                         padding=(pad, pad))
    else:
        n, cout = int(r.integers(8, 33)), int(r.integers(2, 9))
        weight = r.normal(0, 0.3, (cout, n))
        shape = (n,)
        layer = L.Dense("layer", ("input",), (cout,), weight=weight, bias=r.normal(0, .2, cout))
    if r.random() < 0.3:
        weight[r.random(weight.shape) < 0.3] = 0.0  # pruned weights: free in shift-add
    graph = Graph((L.Input("input", (), shape), layer))
    x = FixedType(xb, 1, False, Rounding.TRN, Overflow.WRAP)  # images: unsigned
    w = fit_type(weight, wb, signed=True, modes=WEIGHT_MODES)
    b = bias_type(layer.bias, w.frac + x.frac)
    acc = lossless_accum(w, x, b, layer.terms)
    narrow = r.random() < 0.2
    if narrow:
        acc = FixedType(max(4, acc.width - int(r.integers(2, 6))), acc.integer - 1, True,
                        Rounding.RND, Overflow.SAT)
    rf = int(r.choice([1, 1, 1, 2, 3, 4, 8]))
    rf = min(rf, layer.terms)
    impl = LayerImpl(result=FixedType(ob, 4, True, Rounding.RND, Overflow.SAT), weight=w,
                     bias=b, accum=acc, reuse=rf, multiplier=str(r.choice(["lut", "dsp"])))
    design = DesignPoint(input=x, layers={"layer": impl})
    label = (f"{'conv' if conv else 'dense'} w{wb} x{xb} rf{rf} {impl.multiplier}"
             f"{' narrow' if narrow else ''}")
    return QuantizedNet.from_float(graph, design), label


def network_design(seed: int):
    sys.path.insert(0, str(ROOT / "tests"))
    from rtl.randnet import random_qnet

    qnet, _ = random_qnet(seed, residual=seed % 2 == 1)
    return qnet, f"randnet {seed}{' residual' if seed % 2 else ''}"


def jobs(n_layers: int, n_networks: int) -> list[dict]:
    """Layer configs (4 in 5 on xc7, the rest ECP5) and networks (2 in 3 on xc7),
    interleaved so that a run cut short still has some of each."""
    layers = [{"id": f"layer{i}", "kind": "layer", "seed": 1000 + i,
               "family": "ecp5" if i % 5 == 4 else "xc7"} for i in range(n_layers)]
    nets: list[dict] = []
    seed = 1
    while len(nets) < n_networks:
        seed += 1
        try:
            network_design(seed)
        except Exception:  # randnet cannot draw every seed (e.g. a 1-term layer with RF)
            continue
        nets.append({"id": f"net{seed}", "kind": "network", "seed": seed,
                     "family": "ecp5" if len(nets) % 3 == 2 else "xc7"})
    out: list[dict] = []
    every = max(1, n_layers // max(n_networks, 1))
    for i, job in enumerate(layers):
        out.append(job)
        if (i + 1) % every == 0 and nets:
            out.append(nets.pop(0))
    return out + nets


def smallest_first(todo: list[dict]) -> list[dict]:
    """Synthesis order: smallest structural estimate first (Yosys time grows with the
    logic), so a run cut short has synthesized as many designs as it could."""
    from codesign.cost.structural import design_structure, resources
    from codesign.devices import get_device

    size = {}
    for j in todo:
        qnet, _ = (layer_design if j["kind"] == "layer" else network_design)(j["seed"])
        dev = get_device(FAMILY_PART[j["family"]])
        r = resources(design_structure(qnet, dev)[1], dev)
        size[j["id"]] = r["lut"] + r["ff"]
    return sorted(todo, key=lambda j: size[j["id"]])


# -- one sample -------------------------------------------------------------------------
def pipeline_stages(plan) -> dict[str, int]:
    """Layer -> register stages of its adder graph in an RTL plan (what network_cycles
    cannot know without solving the graphs)."""
    from codesign.rtl.engine_kinds import pipe_stages

    return {name: pipe_stages(e.timing) for e in plan.engines for name in e.layers
            if pipe_stages(e.timing)}


def measure(job: dict, out: Path, cache_only: bool = False) -> dict:
    from codesign.cost.estimate import accum_args, layer_args
    from codesign.cost.fast import FEATURES, FastCostModel
    from codesign.cost.structural import design_structure, resources
    from codesign.devices import get_device
    from codesign.rtl.latency import simulate
    from codesign.rtl.network import plan_network
    from codesign.synth import synthesize

    qnet, label = (layer_design if job["kind"] == "layer" else network_design)(job["seed"])
    device = get_device(FAMILY_PART[job["family"]])
    plan = plan_network(qnet)
    model = FastCostModel(qnet.graph, device, pipeline_stages(plan))  # stages deepen forks
    feats = dict.fromkeys(FEATURES, 0.0)
    dsp = latency = 0.0
    interval = 0.0
    for layer in qnet.graph.layers:
        f, d, lat, ivl = model.features(layer.name, *layer_args(qnet, layer),
                                        **accum_args(qnet, layer))
        for k, v in f.items():
            feats[k] += float(v)
        dsp += float(d)
        latency += float(lat)
        interval = max(interval, float(ivl))
    reuse = {w.name: qnet.design[w.name].reuse for w in qnet.graph.weighted}
    cycles = model.network_cycles(reuse, pipeline_stages(plan))
    unstaged = model.network_cycles(reuse)
    start = time.perf_counter()
    synth = synthesize(qnet, out / job["id"], device, place_and_route=False,
                       cache_only=cache_only)
    seconds = round(time.perf_counter() - start, 1)
    timing = simulate(plan, 2).summary()
    _, struct = design_structure(qnet, device)
    exact = resources(struct, device)
    return {**job, "label": label, "features": feats, "est_dsp": dsp, "est_bram": 0.0,
            "est_latency": cycles["latency"], "est_latency_unstaged": unstaged["latency"],
            "est_latency_additive": latency,
            "est_interval": interval, "est_network_interval": cycles["interval"],
            "sim_latency": timing["latency"], "sim_interval": timing["interval"],
            "struct": {"lut": struct.lut, "ff": struct.ff, "dsp": exact["dsp"],
                       "bram": exact["bram"], "carry": exact["carry"], "srl": exact["srl"],
                       "lutram": exact["lutram"]},
            "synth": {k: synth[k] for k in ("lut", "ff", "dsp", "bram", "carry", "srl",
                                            "lutram")},
            "yosys": synth["yosys"], "cached": synth["cached"], "seconds": seconds}


# -- fit and report ---------------------------------------------------------------------
def nnls_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative coefficients minimizing the squared relative error."""
    from scipy.optimize import nnls

    scale = np.maximum(y, 1.0)
    coef, _ = nnls(x / scale[:, None], y / scale)
    return coef


def fit(rows: list[dict], names: tuple[str, ...], resource: str) -> dict[str, float]:
    """Fast model: coefficients per feature."""
    x = np.array([[r["features"][n] for n in names] for r in rows])
    y = np.array([r["synth"][resource] for r in rows], dtype=float)
    coef = nnls_fit(x, y)
    return {n: round(float(c), 5) for n, c in zip(names, coef, strict=True) if c > 0}


def struct_target(row: dict, resource: str) -> float:
    """What the fitted part of the structural LUT/FF must explain: LUTs less the SRLs and
    LUTRAM the rules count exactly."""
    y = float(row["synth"][resource])
    if resource == "lut":
        y -= row["struct"]["srl"] + row["struct"]["lutram"]
    return y


PRIOR_WEIGHT = 0.3  # how hard the structural fit is pulled toward the hand-set constants


def struct_fit(rows: list[dict], resource: str, family: str) -> dict[str, float]:
    """Structural model: one nonnegative coefficient per feature minimizing the mean
    absolute relative error on the fit half (the figure reported: least squares chased
    the few outliers and did worse held out), plus PRIOR_WEIGHT x the mean absolute
    distance from the hand-set constants (tens of samples cannot pin seventeen features
    on their own). A linear program (HiGHS)."""
    from scipy.optimize import linprog

    from codesign.cost.structural import FF_FEATURES as SF
    from codesign.cost.structural import LUT_FEATURES as SL
    from codesign.cost.structural import coefficients

    names = SL if resource == "lut" else SF
    prior = np.array([coefficients(family)[resource].get(n, 0.0) for n in names])
    x = np.array([[r["struct"][resource].get(n, 0.0) for n in names] for r in rows])
    y = np.array([struct_target(r, resource) for r in rows])
    scale = np.maximum(y, 1.0)
    n, k = x.shape
    # variables: coefficients c, sample errors e+ e-, distances from the prior d+ d-
    cost = np.concatenate([np.zeros(k), np.full(2 * n, 1.0 / n),
                           np.full(2 * k, PRIOR_WEIGHT / k)])
    eq = np.block([[x / scale[:, None], -np.eye(n), np.eye(n), np.zeros((n, 2 * k))],
                   [np.eye(k), np.zeros((k, 2 * n)), -np.eye(k), np.eye(k)]])
    res = linprog(cost, A_eq=eq, b_eq=np.concatenate([y / scale, prior]),
                  bounds=(0, None), method="highs")
    coef = res.x[:k] if res.success else prior
    return {n: round(float(c), 5) for n, c in zip(names, coef, strict=True) if c > 0}


def predict(row: dict, coef: dict[str, float]) -> float:
    return float(np.rint(sum(c * row["features"].get(n, 0.0) for n, c in coef.items())))


def struct_predict(row: dict, coef: dict[str, float], resource: str) -> float:
    s = row["struct"]
    v = sum(c * s[resource].get(n, 0.0) for n, c in coef.items())
    if resource == "lut":
        v += s["srl"] + s["lutram"]
    return float(np.rint(v))


def struct_coef(train: list[dict], resource: str, family: str) -> dict[str, float]:
    """The structural fit as report() makes it: the hand-set constants kept when the fit
    does worse on its own half."""
    from codesign.cost.structural import coefficients as struct_coefficients

    sc = struct_fit(train, resource, family)
    default = struct_coefficients(family)[resource]
    if (mape([(struct_predict(r, default, resource), r["synth"][resource]) for r in train])[0]
            < mape([(struct_predict(r, sc, resource), r["synth"][resource]) for r in train])[0]):
        sc = dict(default)
    return sc


def rel_residual(est: float, true: float) -> float:
    """(Yosys - estimate) / estimate: estimate * (1 + residual) is Yosys' figure."""
    return (true - est) / max(est, 1.0)


def cv_residuals(rows: list[dict], family: str) -> dict[str, dict[str, list[list[float]]]]:
    """model -> resource -> per fold, the relative residuals of the designs that fold
    holds out (2 folds: the fit and held-out halves, each predicted by coefficients
    fitted on the other). The fast model's shipped coefficients never saw Yosys (they
    are fitted to the structural estimate), so each fold is just its designs."""
    from codesign.cost.fast import coefficients as fast_coefficients

    fam = [r for r in rows if r["family"] == family]
    folds = [[r for r in fam if r["half"] == h] for h in ("fit", "held-out")]
    out: dict[str, dict[str, list[list[float]]]] = {"structural": {}, "fast": {}}
    for res in ("lut", "ff"):
        out["structural"][res] = []
        out["fast"][res] = []
        for i, test in enumerate(folds):
            train = folds[1 - i]
            sc = struct_coef(train, res, family) if len(train) >= 3 else None
            out["structural"][res].append(
                [rel_residual(struct_predict(r, sc, res), r["synth"][res]) for r in test]
                if sc is not None else [])
            fc = fast_coefficients(family)[res]
            out["fast"][res].append([rel_residual(predict(r, fc), r["synth"][res])
                                     for r in test])
    return out


def band_report(rows: list[dict], confidence: float, summary: dict | None = None) -> dict:
    """Print each model's error band at `confidence` per family and resource, and its
    coverage: the share of designs whose Yosys figure lies under the upper band, both
    with the band of all residuals and cross-fold (the band from one fold's residuals
    judged on the other fold's designs). Returns the residuals to store; each band goes
    into `summary["bands"]` too."""
    stored: dict = {}
    print(f"\nerror bands at {100 * confidence:g}% (relative residual (Yosys - estimate) / "
          "estimate, 2-fold cross-validated), and coverage of the upper band")
    for fam in ("xc7", "ecp5"):
        if not any(r["family"] == fam for r in rows):
            continue
        for model, per_res in cv_residuals(rows, fam).items():
            for res, folds in per_res.items():
                allres = [x for f in folds for x in f]
                if len(allres) < 2:
                    continue
                lo = float(np.quantile(allres, 1 - confidence, method="lower"))
                hi = float(np.quantile(allres, confidence, method="higher"))
                covered = np.mean([x <= hi for x in allres])
                cross = [np.mean([x <= float(np.quantile(folds[1 - i], confidence,
                                                            method="higher"))
                                  for x in f]) for i, f in enumerate(folds)
                         if f and folds[1 - i]]
                across = 100 * float(np.mean(cross)) if cross else float("nan")
                print(f"  {model:10} {fam:5} {res:3} n={len(allres):3}  band "
                      f"{100 * lo:+6.1f}% .. {100 * hi:+6.1f}%  coverage {100 * covered:5.1f}%"
                      f"  cross-fold {across:5.1f}%")
                if summary is not None:
                    summary.setdefault("bands", {}).setdefault(model, {}).setdefault(
                        fam, {})[res] = {"n": len(allres), "low": lo, "high": hi,
                                         "coverage": float(covered), "cross_fold": across / 100}
                stored.setdefault(model, {}).setdefault(fam, {})[res] = sorted(
                    round(x, 4) for x in allres)
    return stored


def pct(est: float, true: float) -> float:
    return abs(est - true) / max(true, 1) * 100


def mape(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    errs = [pct(e, t) for e, t in pairs]
    return (float(np.mean(errs)), float(np.max(errs))) if errs else (float("nan"),) * 2


def speed() -> float:
    """Fast-estimate candidates per second on digits_cnn's layers (200,000 each)."""
    from codesign.cost import FastCostModel
    from codesign.ir import Graph
    from codesign.train import get_trained

    g = Graph.from_torch(get_trained("digits_cnn", progress=False), (1, 8, 8))
    m = FastCostModel(g, "xc7z020")
    n = 200_000
    rng = np.random.default_rng(0)
    args = (rng.integers(2, 17, n), rng.integers(2, 17, n), rng.integers(2, 17, n),
            rng.integers(1, 30, n), rng.random(n) < 0.5)
    total = 0.0
    for layer in g.layers:
        m.layer_costs(layer.name, *args)
        start = time.perf_counter()
        m.layer_costs(layer.name, *args)
        total += time.perf_counter() - start
    return n * len(g.layers) / total


def struct_speed(jobs_: list[dict]) -> float:
    """Structural estimates (whole designs: plan, value sampling, rules) per second."""
    from codesign.cost.structural import design_structure, resources
    from codesign.devices import get_device

    designs = [(layer_design if j["kind"] == "layer" else network_design)(j["seed"])[0]
               for j in jobs_[:10]]
    dev = get_device("xc7a100t")
    start = time.perf_counter()
    for q in designs:
        resources(design_structure(q, dev)[1], dev)
    return len(designs) / (time.perf_counter() - start)


def scatter(rows: list[dict], coefs: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 9))
    for col, res in enumerate(("lut", "ff")):
        for row_i, model in enumerate(("structural", "fast")):
            ax = axes[row_i][col]
            for fam, marker in (("xc7", "o"), ("ecp5", "^")):
                if fam not in coefs:
                    continue
                for half, color in (("fit", "tab:blue"), ("held-out", "tab:orange")):
                    pts = [(r["synth"][res],
                            struct_predict(r, coefs[fam]["struct"][res], res)
                            if model == "structural" else predict(r, coefs[fam]["fast"][res]))
                           for r in rows if r["family"] == fam and r["half"] == half]
                    if pts:
                        a = np.maximum(np.array(pts), 1)
                        ax.scatter(a[:, 0], a[:, 1], marker=marker, c=color, s=18, alpha=0.8,
                                   label=f"{fam} {half}")
            hi = max(max(r["synth"][res] for r in rows), 1)
            ax.plot([1, hi], [1, hi], "k--", lw=0.8)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(f"{res.upper()} synthesized (Yosys)")
            ax.set_ylabel(f"{res.upper()} estimated ({model})")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _fit_header(path: Path) -> str:
    return path.read_text().split("\nyosys:")[0]


def write_band_file(stored: dict, version: str, rows: list[dict]) -> Path:
    """Store the residuals (codesign.cost.bands reads them) with their provenance in
    hw/devices/structural_fit.yaml, leaving its coefficients as they are."""
    import yaml

    path = ROOT / "hw" / "devices" / "structural_fit.yaml"
    data = yaml.safe_load(path.read_text())
    data["bands"] = {"provenance": {
        "bench": "bench/cost_model.py", "yosys": version,
        "date": datetime.date.today().isoformat(), "folds": 2, "designs": len(rows),
        "per_family": {f: sum(r["family"] == f for r in rows) for f in ("xc7", "ecp5")},
        "residual": "(yosys - estimate) / estimate, each design predicted by "
                    "coefficients fitted without it"}, **stored}
    _dump_fit(path, data)
    return path


def _dump_fit(path: Path, data: dict) -> None:
    import yaml

    keys = [k for k in ("yosys", "date", "samples", "families", "bands") if k in data]
    body = yaml.safe_dump({k: data[k] for k in keys}, sort_keys=False,
                          default_flow_style=None, width=100)
    path.write_text(_fit_header(path) + "\n" + body)


def write_fit(coefs: dict, version: str, n: dict) -> list[Path]:
    """Store the structural model's fitted coefficients (families with enough samples);
    the fast model's are fitted to the structural estimate by bench/fast_fit.py."""
    import yaml

    written = []
    for model, name in (("struct", "structural_fit.yaml"),):
        path = ROOT / "hw" / "devices" / name
        data = yaml.safe_load(path.read_text())
        data["yosys"] = version
        data["date"] = datetime.date.today().isoformat()
        data["samples"] = {fam: n[fam] for fam in coefs if n[fam] >= MIN_FIT_SAMPLES}
        for fam, c in coefs.items():
            if n[fam] >= MIN_FIT_SAMPLES:
                data["families"][fam] = {"lut": dict(c[model]["lut"]),
                                         "ff": dict(c[model]["ff"])}
        # UltraScale+ is not synthesized here: it shares xc7's LUT6 fabric
        if "xc7" in data["families"]:
            data["families"]["xcup"] = {k: dict(v) for k, v in data["families"]["xc7"].items()}
        _dump_fit(path, data)
        written.append(path)
    return written


def report(rows: list[dict], out: Path, todo: list[dict], write: bool,
           write_bands: bool = False, confidence: float = 0.95) -> dict:
    """Print the comparison; return its figures (what --save records)."""
    from codesign.cost.fast import coefficients as fast_coefficients
    from codesign.cost.structural import coefficients as struct_coefficients

    version = rows[0]["yosys"] if rows else "?"
    coefs: dict[str, dict] = {}
    summary: dict = {"designs": len(rows),
                     "per_family": {f: sum(r["family"] == f for r in rows) for f in FAMILY_PART}}
    print(f"\n{'family':6} {'res':4} {'n fit':>5} {'n test':>6} | {'struct MAPE':>11} "
          f"{'worst':>6} {'unfitted':>8} | {'fast MAPE':>9} {'worst':>6} {'refit':>6} | "
          f"{'fast vs struct':>14}   (held-out half)")
    print("  fast: the shipped coefficients (hw/devices/cost_fit.yaml, fitted to the structural "
          "estimate by bench/fast_fit.py); refit: refitted to this fit half's syntheses")
    for fam in ("xc7", "ecp5"):
        train = [r for r in rows if r["family"] == fam and r["half"] == "fit"]
        test = [r for r in rows if r["family"] == fam and r["half"] == "held-out"]
        if len(train) < 3 or not test:
            continue
        coefs[fam] = {"struct": {}, "fast": {}, "fast_refit": {}}
        for res, names in (("lut", LUT_FEATURES), ("ff", FF_FEATURES)):
            sc = coefs[fam]["struct"][res] = struct_coef(train, res, fam)
            fc = coefs[fam]["fast"][res] = dict(fast_coefficients(fam)[res])
            refit = coefs[fam]["fast_refit"][res] = fit(train, names, res)
            s_m, s_w = mape([(struct_predict(r, sc, res), r["synth"][res]) for r in test])
            s0, _ = mape([(struct_predict(r, struct_coefficients(fam)[res], res),
                           r["synth"][res]) for r in test])
            f_m, f_w = mape([(predict(r, fc), r["synth"][res]) for r in test])
            f_r, _ = mape([(predict(r, refit), r["synth"][res]) for r in test])
            fs, _ = mape([(predict(r, fc), struct_predict(r, sc, res)) for r in test])
            summary.setdefault("held_out", {}).setdefault(fam, {})[res] = {
                "n_fit": len(train), "n_test": len(test), "structural_mape": s_m,
                "structural_worst": s_w, "structural_unfitted_mape": s0, "fast_mape": f_m,
                "fast_worst": f_w, "fast_refit_mape": f_r, "fast_vs_structural_mape": fs}
            print(f"{fam:6} {res:4} {len(train):5} {len(test):6} | {s_m:10.1f}% {s_w:5.1f}% "
                  f"{s0:7.1f}% | {f_m:8.1f}% {f_w:5.1f}% {f_r:5.1f}% | {fs:13.1f}%")
        for kind in ("layer", "network"):
            sub = [r for r in test if r["kind"] == kind]
            if sub:
                parts = []
                for res in ("lut", "ff"):
                    sm = mape([(struct_predict(r, coefs[fam]["struct"][res], res),
                                r["synth"][res]) for r in sub])
                    fm = mape([(predict(r, coefs[fam]["fast"][res]), r["synth"][res])
                               for r in sub])
                    fr = mape([(predict(r, coefs[fam]["fast_refit"][res]), r["synth"][res])
                               for r in sub])
                    summary["held_out"][fam].setdefault(f"{kind}s", {"n": len(sub)})[res] = {
                        "structural_mape": sm[0], "structural_worst": sm[1],
                        "fast_mape": fm[0], "fast_refit_mape": fr[0]}
                    parts.append(f"{res.upper()} struct {sm[0]:.1f}% (worst {sm[1]:.1f}%) "
                                 f"fast {fm[0]:.1f}% (refit {fr[0]:.1f}%)")
                print(f"{'':6} held-out {kind}s (n={len(sub)}): " + "; ".join(parts))
        worst = max(test, key=lambda r: pct(struct_predict(r, coefs[fam]["struct"]["lut"],
                                                           "lut"), r["synth"]["lut"]))
        worst_est = struct_predict(worst, coefs[fam]["struct"]["lut"], "lut")
        summary["held_out"][fam]["worst_lut"] = {
            "id": worst["id"], "label": worst["label"], "estimate": round(worst_est),
            "yosys": worst["synth"]["lut"],
            "residual": rel_residual(worst_est, worst["synth"]["lut"])}
        print(f"{'':6} worst structural LUT: {worst['id']} ({worst['label']}): "
              f"{struct_predict(worst, coefs[fam]['struct']['lut'], 'lut'):.0f} vs "
              f"{worst['synth']['lut']}")
    for res in ("dsp", "bram"):
        s_same = sum(r["struct"][res] == r["synth"][res] for r in rows)
        f_same = sum(r[f"est_{res}"] == r["synth"][res] for r in rows)
        summary.setdefault("exact", {})[res] = {"structural": s_same, "fast": f_same,
                                                "of": len(rows)}
        print(f"{res.upper()} exact: structural {s_same}/{len(rows)}, fast {f_same}/{len(rows)}")
    for r in rows:
        if r["struct"]["dsp"] != r["synth"]["dsp"]:
            print(f"  structural DSP differs: {r['id']} ({r['label']}): "
                  f"{r['struct']['dsp']} vs {r['synth']['dsp']}")
    for res in ("srl", "carry"):
        same = sum(r["struct"][res] == r["synth"][res] for r in rows)
        m, w = mape([(r["struct"][res], r["synth"][res]) for r in rows])
        print(f"{res.upper()} (rule, not fitted): exact on {same}/{len(rows)}, MAPE {m:.1f}%, "
              f"worst {w:.1f}%")
    ivl = sum(r["est_interval"] == r["sim_interval"] for r in rows)
    closed = sum(r["est_network_interval"] == r["sim_interval"] for r in rows)
    summary["exact"]["interval"] = {"fast": ivl, "closed_form": closed, "of": len(rows)}
    print(f"interval equal to the handshake simulation on {ivl}/{len(rows)} designs "
          f"(per-layer estimate), {closed}/{len(rows)} (closed form with the plan's stages)")
    for key, what in (("est_latency", "closed form, network_cycles with the plan's stages"),
                      ("est_latency_unstaged", "closed form without pipeline stages"),
                      ("est_latency_additive", "additive per-layer estimate, layer_costs")):
        lat = [pct(r[key], r["sim_latency"]) for r in rows if key in r]
        summary["exact"][key.replace("est_", "")] = {"exact": sum(x == 0 for x in lat),
                                                     "of": len(lat)}
        print(f"latency ({what}): exact on {sum(x == 0 for x in lat)}/{len(lat)} designs, "
              f"MAPE {np.mean(lat):.1f}%, worst {np.max(lat):.1f}%")
    print(f"fast estimate: {speed():,.0f} layer candidates per second; structural: "
          f"{struct_speed(todo):.1f} whole designs per second")
    summary["confidence"] = confidence
    stored = band_report(rows, confidence, summary)
    if (write or write_bands) and stored:
        print(f"error bands written to {write_band_file(stored, version, rows)}")
    if coefs:
        scatter(rows, coefs, out / "cost_model_scatter.png")
        print(f"scatter plot: {out / 'cost_model_scatter.png'}")
        (out / "fit.json").write_text(json.dumps(coefs, indent=1))
        if write:
            n = {fam: sum(r["family"] == fam and r["half"] == "fit" for r in rows)
                 for fam in coefs}
            paths = write_fit(coefs, version, n)
            print(f"coefficients written to {', '.join(map(str, paths))} (families with "
                  f">= {MIN_FIT_SAMPLES} fitted samples: "
                  f"{[f for f in n if n[f] >= MIN_FIT_SAMPLES]})")
    return summary


def cycles_report(todo: list[dict]) -> None:
    """Latency and interval of every planned design: FastCostModel.network_cycles (closed
    form) and the additive layer_costs sum against the per-edge handshake simulation."""
    from codesign.cost.estimate import accum_args, layer_args
    from codesign.cost.fast import FastCostModel
    from codesign.devices import get_device
    from codesign.rtl.latency import simulate
    from codesign.rtl.network import plan_network

    exact = additive = unstaged = staged = 0
    fast_s = sim_s = 0.0
    for job in todo:
        qnet, _ = (layer_design if job["kind"] == "layer" else network_design)(job["seed"])
        model = FastCostModel(qnet.graph, get_device(FAMILY_PART[job["family"]]))
        plan = plan_network(qnet)
        reuse = {w.name: qnet.design[w.name].reuse for w in qnet.graph.weighted}
        start = time.perf_counter()
        got = model.network_cycles(reuse, pipeline_stages(plan))
        fast_s += time.perf_counter() - start
        start = time.perf_counter()
        want = simulate(plan, 2).summary()
        sim_s += time.perf_counter() - start
        exact += (got["latency"], got["interval"]) == (want["latency"], want["interval"])
        bare = model.network_cycles(reuse)
        unstaged += (bare["latency"], bare["interval"]) == (want["latency"], want["interval"])
        staged += bool(pipeline_stages(plan))
        additive += sum(float(model.features(layer.name, *layer_args(qnet, layer),
                                             **accum_args(qnet, layer))[2])
                        for layer in qnet.graph.layers) == want["latency"]
    n = len(todo)
    print(f"cycles of {n} designs against the handshake simulation: closed form "
          f"(network_cycles) latency and interval exact on {exact}/{n} ({fast_s:.2f} s in "
          f"all; the simulation {sim_s:.2f} s), given the pipeline stages of the {staged} "
          f"designs whose adder graphs are registered for their clock; without those stages "
          f"(the allocator's case: no graph solved) exact on {unstaged}/{n}; additive latency "
          f"exact on {additive}/{n}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=60)
    ap.add_argument("--networks", type=int, default=12)
    ap.add_argument("--jobs", type=int, default=2, help="syntheses at once")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "cost_model")
    ap.add_argument("--cached-only", action="store_true",
                    help="report on the designs already synthesized (run nothing new)")
    ap.add_argument("--write-fit", action="store_true",
                    help="store the structural fit in hw/devices/structural_fit.yaml")
    ap.add_argument("--write-bands", action="store_true",
                    help="store only the error bands (the cross-validated residuals) in "
                         "hw/devices/structural_fit.yaml, keeping its coefficients")
    ap.add_argument("--confidence", type=float, default=0.95,
                    help="the band printed and its coverage (default 0.95)")
    ap.add_argument("--cycles-only", action="store_true",
                    help="only the cycles of every planned design (no synthesis): the "
                         "closed form and the additive estimate against the simulation")
    ap.add_argument("--save", metavar="JSON", help="also record the figures in this file "
                    "(bench/results/cost_model.json is the one docs/cost.md quotes)")
    args = ap.parse_args()
    if args.cycles_only:
        cycles_report(jobs(args.layers, args.networks))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    from tqdm import tqdm

    todo = jobs(args.layers, args.networks)
    rows, failed, skipped = [], [], 0
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(measure, j, args.out / "designs", args.cached_only): j
                   for j in (todo if args.cached_only else smallest_first(todo))}
        for fut in tqdm(as_completed(futures), total=len(futures), disable=None):
            try:
                rows.append(fut.result())
            except Exception as exc:  # report and go on: one bad design is a figure too
                if args.cached_only and "no cached synthesis" in str(exc):
                    skipped += 1
                    continue
                failed.append((futures[fut]["id"], str(exc).splitlines()[0][:200]))
    rows.sort(key=lambda r: [j["id"] for j in todo].index(r["id"]))
    for fam in ("xc7", "ecp5"):
        for i, r in enumerate([r for r in rows if r["family"] == fam]):
            r["half"] = "fit" if i % 2 == 0 else "held-out"
    (args.out / "samples.json").write_text(json.dumps(rows, indent=1))
    version = rows[0]["yosys"] if rows else "?"
    print(f"cost models vs Yosys {version}: {len(rows)} designs synthesized "
          f"({sum(r['kind'] == 'layer' for r in rows)} layer configs, "
          f"{sum(r['kind'] == 'network' for r in rows)} networks; "
          f"{sum(r['family'] == 'xc7' for r in rows)} xc7, "
          f"{sum(r['family'] == 'ecp5' for r in rows)} ECP5), {len(failed)} failed"
          + (f", {skipped} not synthesized yet (--cached-only)" if skipped else ""))
    for fid, msg in failed:
        print(f"  failed {fid}: {msg}")
    summary = report(rows, args.out, todo, args.write_fit, args.write_bands, args.confidence)
    if args.save:
        from record import record

        summary["failed"], summary["not_synthesized"] = len(failed), skipped
        print(f"recorded in {record(args.save, vars(args), summary=summary)}")


if __name__ == "__main__":
    main()
