"""Fit the fast cost model (codesign.cost.fast) to the structural estimate.

The allocator's fast model (vectorized, no RTL built) has one LUT and one FF coefficient
per structural feature. Fitted on the 36 synthesized designs of one half of
bench/cost_model.py, seventeen coefficients are not pinned (one feature ends up carrying
another's logic: the average pool's adders took the fork FIFOs' LUTs), and held out the
estimate was off by 105% (xc7 LUTs). The structural estimate (codesign.cost.structural)
reads the RTL plan and is within 14% of Yosys held out, at about a hundred designs per
second, so it can label far more designs than we can synthesize: this script draws
single-layer designs (bench/cost_model.py's generator: conv and dense, 2-16-bit weights,
2-12-bit inputs, RF 1-8, LUT or DSP multipliers, lossless and narrow accumulators,
pruned weights) and random networks (tests/rtl/randnet.py: residual forks, pools,
strides, adder-graph networks), on one part per family, and fits the fast model's
coefficients (non-negative, least absolute relative error) to the structural
LUT and FF of each. None of the seeds is one bench/cost_model.py synthesizes (its layers
are 1000-1059, its networks 2-20), so its held-out half stays held out.

    nice -n 10 .venv/bin/python bench/fast_fit.py [--layers 600] [--networks 150]
        [--write]

prints the fit's error against the structural estimate on the designs it did not fit
(every other one) and, with --write, stores the coefficients in
hw/devices/cost_fit.yaml (xc7, ecp5; xcup gets xc7's) with the Yosys version and date
of the structural fit they were trained on. bench/cost_model.py --cached-only then
reports them against Yosys.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from cost_model import (  # noqa: E402
    FAMILY_PART,
    FF_FEATURES,
    LUT_FEATURES,
    layer_design,
    pipeline_stages,
)

LAYER_SEED = 50_000
NET_SEED = 10_000


def designs(n_layers: int, n_networks: int):
    """(label, qnet) of the training designs: layers, then networks (plain, residual,
    all adder graphs)."""
    from rtl.randnet import random_qnet

    for i in range(n_layers):
        qnet, label = layer_design(LAYER_SEED + i)
        yield label, qnet
    made, seed = 0, NET_SEED
    while made < n_networks:
        seed += 1
        try:
            qnet, _ = random_qnet(seed, residual=seed % 2 == 1, graphs=seed % 3 == 0)
        except Exception:  # randnet cannot draw every seed
            continue
        made += 1
        yield f"randnet {seed}", qnet


def sample(qnet, device) -> tuple[dict[str, float], dict[str, float]]:
    """The fast model's features summed over the layers, and the structural LUT and FF."""
    from codesign.cost.estimate import accum_args, layer_args
    from codesign.cost.fast import FEATURES, FastCostModel
    from codesign.cost.structural import design_structure, resources

    plan, structure = design_structure(qnet, device)
    # the plan's adder-graph stages deepen its fork FIFOs: the fast model's too
    model = FastCostModel(qnet.graph, device, pipeline_stages(plan))
    feats = dict.fromkeys(FEATURES, 0.0)
    for layer in qnet.graph.layers:
        f = model.features(layer.name, *layer_args(qnet, layer), **accum_args(qnet, layer))[0]
        for k, v in f.items():
            feats[k] += float(v)
    r = resources(structure, device)
    return feats, {"lut": float(r["lut"]), "ff": float(r["ff"])}


def l1_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative coefficients minimizing the mean absolute relative error (a linear
    program, HiGHS): squared relative error let the few designs the structural model
    folds to almost nothing (a constant output) drag every coefficient."""
    from scipy.optimize import linprog

    scale = np.maximum(y, 1.0)
    n, k = x.shape
    cost = np.concatenate([np.zeros(k), np.full(2 * n, 1.0 / n)])
    eq = np.hstack([x / scale[:, None], -np.eye(n), np.eye(n)])
    res = linprog(cost, A_eq=eq, b_eq=y / scale, bounds=(0, None), method="highs")
    if not res.success:
        raise RuntimeError(f"the fit failed: {res.message}")
    return res.x[:k]


FOLDED = 0.25  # structural LUT or FF below this share of the hand-set reading: folded


def unfolded(rows: list[tuple[str, dict, dict]]) -> list[tuple[str, dict, dict]]:
    """The designs the structural model does not fold to a fraction of their logic. A
    stream constant by its types (a result grid coarser than its input, an output with
    no nonzero weight at that width) is folded by Yosys and the structural model, not by
    the fast model, which never sees the types downstream of a layer; those designs
    are the allocator's dead ends, not its candidates, and in a relative-error fit a
    few of them (a 20-LUT design the features read as 2,000) outweigh hundreds of others
    and pull every coefficient to zero."""
    from codesign.cost.fast import coefficients

    hand = coefficients("default")
    keep = []
    for row in rows:
        _, f, t = row
        if all(t[res] >= FOLDED * sum(c * f.get(n, 0.0) for n, c in hand[res].items())
               for res in ("lut", "ff")):
            keep.append(row)
    return keep


def fit_family(family: str, rows: list[tuple[str, dict, dict]]) -> dict[str, dict]:
    kept = unfolded(rows)
    print(f"{family}: {len(rows) - len(kept)} of {len(rows)} designs folded by the structural "
          f"model (below {FOLDED:.0%} of the hand-set reading) left out")
    train, test = kept[0::2], kept[1::2]
    out: dict[str, dict] = {}
    for res, names in (("lut", LUT_FEATURES), ("ff", FF_FEATURES)):
        x = np.array([[f[n] for n in names] for _, f, _ in train])
        y = np.array([t[res] for _, _, t in train])
        coef = l1_fit(x, y)
        out[res] = {n: round(float(c), 5) for n, c in zip(names, coef, strict=True) if c > 0}
        xt = np.array([[f[n] for n in names] for _, f, _ in test])
        yt = np.array([t[res] for _, _, t in test])
        err = np.abs(np.rint(xt @ coef) - yt) / np.maximum(yt, 1) * 100
        nets = np.array([lab.startswith("randnet") for lab, _, _ in test])
        print(f"{family:5} {res:3}: fit on {len(train)}, vs structural on {len(test)} others: "
              f"MAPE {err.mean():.1f}% (layers {err[~nets].mean():.1f}%, networks "
              f"{err[nets].mean():.1f}%), median {np.median(err):.1f}%, worst {err.max():.1f}%")
    return out


def write(coefs: dict[str, dict], counts: dict[str, int]) -> Path:
    import yaml

    from codesign.cost.structural import fit_file as struct_fit_file

    path = ROOT / "hw" / "devices" / "cost_fit.yaml"
    data = yaml.safe_load(path.read_text())
    sf = struct_fit_file()
    data["yosys"] = sf["yosys"]
    data["date"] = datetime.date.today().isoformat()
    data["samples"] = {f"{fam} (structural)": n for fam, n in counts.items()}
    for fam, c in coefs.items():
        data["families"][fam] = c
    data["families"]["xcup"] = {k: dict(v) for k, v in coefs["xc7"].items()}
    header = (
        "# Coefficients of codesign.cost.fast: resource = sum of coefficient x feature.\n"
        "# Features: codesign/cost/fast.py; families without a fit use `default`.\n"
        "# Fitted by bench/fast_fit.py --write: non-negative, least mean absolute relative error\n"
        "# against the structural estimate (codesign.cost.structural with\n"
        f"# hw/devices/structural_fit.yaml, itself fitted on Yosys {sf['yosys']} syntheses of\n"
        f"# {sf['date']}) of single-layer designs and random networks (`samples`: the fitted\n"
        "# half), not against synthesis directly; xcup shares xc7's LUT6 fabric.\n"
        "# `default` holds the hand-set structural reading (an adder bit is one LUT, a\n"
        "# register bit one FF).\n")
    body = yaml.safe_dump({k: data[k] for k in ("yosys", "date", "samples", "families")},
                          sort_keys=False, default_flow_style=None, width=100)
    path.write_text(header + body)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=600)
    ap.add_argument("--networks", type=int, default=150)
    ap.add_argument("--write", action="store_true",
                    help="store the coefficients in hw/devices/cost_fit.yaml")
    args = ap.parse_args()
    from codesign.devices import get_device

    start = time.perf_counter()
    qnets = list(designs(args.layers, args.networks))
    coefs, counts = {}, {}
    for fam in ("xc7", "ecp5"):
        dev = get_device(FAMILY_PART[fam])
        rows = []
        for label, q in qnets:
            try:
                f, t = sample(q, dev)
            except Exception as exc:  # a design the plan refuses is not a sample
                print(f"  skipped {label}: {str(exc).splitlines()[0][:120]}")
                continue
            rows.append((label, f, t))
        coefs[fam] = fit_family(fam, rows)
        counts[fam] = len(unfolded(rows)[0::2])
    print(f"{len(qnets)} designs x 2 families in {time.perf_counter() - start:.0f} s")
    for fam, c in coefs.items():
        print(f"{fam}: {c}")
    if args.write:
        print(f"written to {write(coefs, counts)}")


if __name__ == "__main__":
    main()
