"""Rank quality of every sensitivity method against the measured truth (issues 5, 13).

For each network: quantize one weighted layer at a time to 2 and to 3 bits (the
toolkit's quantizer, every other layer float), measure the loss and accuracy change,
and print the Spearman rank correlation of each method's Omega with the loss increase
(per width over layers, and pooled over layers x widths, which is what an allocator
compares; target >= 0.7 pooled). The methods see only what `codesign sensitivity` gives
them: the Hessian the curvature of the *training* loss (its first batches x batch_size
samples), the probes imprinted on train and scored on the validation split. The truth is
measured on the training set (same distribution, the low-noise reference) and on the
test set (359 images, the reported figure; most layers move its loss by < 0.025, so its
ranking is noisier). The 95% interval is a bootstrap over images of the truth (metrics
held fixed). Nothing is tuned on the test set.

Networks: the zoo's digits_cnn, digits_wide, digits_resnet, and networks outside the zoo
that no test tunes on (`user5`: 5 weighted layers, conv x3 + dense x2, as a new user
would bring; `user_mlp`: dense only), trained here on the training split with a fixed
seed. With --seeds > 1, the Hutchinson trace's relative std across seeds at default
settings, and its run time against the number of draws, isolated vs joint hvp draws
(bench/sensitivity_speed.py times the default Gauss-Newton draws against them).

    nice -n 10 .venv/bin/python bench/sensitivity.py
        [--nets digits_cnn,digits_wide,digits_resnet,user5,user_mlp] [--seeds 0]
        [--draws 10,25,50,100] [--all-train] [--save bench/results/sensitivity.json]

--save records the pooled rho of every method and network (train and test truth), the
table docs/methods.md quotes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from torch import nn

from codesign.data import load_dataset
from codesign.ir.graph import Graph
from codesign.sensitivity.hessian import weight_traces
from codesign.sensitivity.hutchinson import HutchinsonSettings
from codesign.sensitivity.perturbation import hessian_table, quantize_weight
from codesign.sensitivity.probes import forward, probe_table, with_weight
from codesign.train import get_trained, train_model

WIDTHS = (2, 3)
TARGET = 0.7


def user_network(name: str, data) -> nn.Module:
    """Networks outside the zoo, trained here (train split only, fixed seed)."""
    torch.manual_seed(1)
    if name == "user5":
        model = nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
            nn.Conv2d(6, 12, 3, padding=1), nn.BatchNorm2d(12), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(12, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64, 24), nn.ReLU(), nn.Linear(24, 10))
    elif name == "user_mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 32),
                              nn.ReLU(), nn.Linear(32, 10))
    else:
        raise SystemExit(f"unknown network {name!r}")
    return train_model(model, data, epochs=15, lr=0.01, batch_size=64, seed=1, progress=False)


def sample_losses(graph: Graph, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image cross-entropy and correctness (so the truth can be bootstrapped)."""
    out = forward(graph, x)[graph.output.name]
    yt = torch.as_tensor(y)
    loss = F.cross_entropy(out, yt, reduction="none").numpy()
    return loss, (out.argmax(1) == yt).numpy().astype(np.float64)


def truth(graph: Graph, x: np.ndarray, y: np.ndarray) -> dict[tuple[str, int], tuple]:
    """(layer, width) -> (per-image loss increase, per-image accuracy drop)."""
    base_loss, base_acc = sample_losses(graph, x, y)
    out = {}
    for layer in graph.weighted:
        for b in WIDTHS:
            q = with_weight(graph, layer.name, quantize_weight(layer.weight, b))
            loss, acc = sample_losses(q, x, y)
            out[(layer.name, b)] = (loss - base_loss, base_acc - acc)
    return out


def spearman(metric: dict[tuple[str, int], float], true: dict, keys: list,
             idx: np.ndarray | None = None) -> float:
    def mean(d: np.ndarray) -> float:
        return float(d.mean() if idx is None else d[idx].mean())
    return float(spearmanr([metric[k] for k in keys], [mean(true[k][0]) for k in keys]
                           ).statistic)


def spearman_ci(metric: dict, true: dict, keys: list, reps: int = 1000,
                seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap over the evaluation images."""
    n = len(next(iter(true.values()))[0])
    rng = np.random.default_rng(seed)
    rhos = [spearman(metric, true, keys, rng.integers(0, n, n)) for _ in range(reps)]
    lo, hi = np.nanpercentile(rhos, [2.5, 97.5])
    return float(lo), float(hi)


def bench_net(name: str, seeds: int, draws: list[int], all_train: bool = False
              ) -> dict[str, dict[str, float]]:
    """Prints the net's figures; returns each method's pooled rho, per truth (train, test)."""
    torch.set_num_threads(1)  # spinning OpenMP threads waste a busy 2-core box
    data = load_dataset("digits")
    model = (user_network(name, data) if name.startswith("user")
             else get_trained(name, progress=False))
    graph = Graph.from_torch(model, (1, 8, 8))
    true = truth(graph, data.x_test, data.y_test)
    true_train = truth(graph, data.x_train, data.y_train)
    print(f"\n== {name}: {len(graph.weighted)} weighted layers, "
          f"{sum(w.weight.size for w in graph.weighted)} weights")
    print(f"true loss increase / accuracy drop per layer when quantized alone "
          f"(test {len(data.x_test)} | train {len(data.x_train)} images):")
    for (layer, b), (dl, da) in sorted(true.items()):
        tl, ta = true_train[(layer, b)]
        print(f"  {layer:12s} {b} bits: test dloss {dl.mean():+.4f} dacc {100 * da.mean():+.2f} "
              f"pts | train dloss {tl.mean():+.4f} dacc {100 * ta.mean():+.2f} pts")
    tables = {}
    for method in ("hessian", "joint"):
        t0 = time.perf_counter()
        tables[method] = hessian_table(model, (1, 8, 8), data.x_train, data.y_train, WIDTHS,
                                       method=method, activations=False, cache=True)
        print(f"{method} table: {time.perf_counter() - t0:.1f} s")
    if all_train:  # the same metric with the Hessian on the whole training set
        every = HutchinsonSettings(
            batches=-(-len(data.x_train) // HutchinsonSettings().batch_size))
        t0 = time.perf_counter()
        tables["hessian (all train)"] = hessian_table(model, (1, 8, 8), data.x_train,
                                                      data.y_train, WIDTHS, settings=every,
                                                      activations=False, cache=True)
        print(f"hessian table on all {len(data.x_train)} training images: "
              f"{time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    tables["probe"] = probe_table(graph, data.x_train, data.y_train, data.x_val, data.y_val,
                                  WIDTHS, data.num_classes, activations=False)
    print(f"probe table (imprinted on train, scored on {len(data.x_val)} val images): "
          f"{time.perf_counter() - t0:.1f} s")
    metrics = {m: {(n, b): t.layers[n].weight[b] for n in t.weighted() for b in WIDTHS}
               for m, t in tables.items()}
    metrics["probe own-layer only"] = {(n, b): tables["probe"].layers[n].extra[
        "weight_own_loss_increase"][b] for n in tables["probe"].weighted() for b in WIDTHS}
    metrics["avg-trace (width-free)"] = {(n, b): tables["hessian"].layers[n].score
                                         for n in tables["hessian"].weighted() for b in WIDTHS}
    pooled: dict[str, dict[str, float]] = {"train": {}, "test": {}}
    for label, ref in ((f"full train set ({len(data.x_train)} images)", true_train),
                       (f"test set ({len(data.x_test)} images)", true)):
        print(f"Spearman rho of Omega vs true {label} loss increase "
              "[95% bootstrap CI of the pooled rho over images]:")
        print(f"  {'metric':24s} " + " ".join(f"{b} bits" for b in WIDTHS) + "  pooled(2+3)")
        for m, vals in metrics.items():
            per = [spearman(vals, ref, [k for k in ref if k[1] == b]) for b in WIDTHS]
            rho = spearman(vals, ref, list(ref))
            pooled["test" if ref is true else "train"][m] = rho
            lo, hi = spearman_ci(vals, ref, list(ref))
            print(f"  {m:24s} " + " ".join(f"{r:+6.2f}" for r in per) +
                  f"  {rho:+6.2f} [{lo:+.2f}, {hi:+.2f}]")
    if seeds < 2:
        return pooled
    # estimator spread across seeds at default settings
    est = [weight_traces(model, (1, 8, 8), data.x_train, data.y_train,
                         HutchinsonSettings(seed=s), cache=True) for s in range(seeds)]
    traces = np.stack([e.trace for e in est])
    rel = traces.std(axis=0, ddof=1) / np.abs(traces.mean(axis=0))
    d = HutchinsonSettings()
    print(f"trace relative std across {seeds} seeds (defaults: tol {d.tol}, "
          f"{d.batches}x{d.batch_size} samples, {d.min_iters}..{d.max_iters} draws):")
    for i, n in enumerate(est[0].names):
        print(f"  {n:12s} Tr/n {traces[:, i].mean() / est[0].sizes[i]:.4e}  "
              f"rel std {100 * rel[i]:.2f}%")
    print(f"  max {100 * rel.max():.2f}%, draws {[e.iterations for e in est]}, "
          f"seconds {[round(e.seconds, 1) for e in est]}")
    print(f"run time vs draws ({d.batches}x{d.batch_size} samples), worst layer's relative "
          "standard error, hvp draws isolated | joint:" if draws else "")
    for n in draws:
        row = []
        for isolate in (True, False):
            e = weight_traces(model, (1, 8, 8), data.x_train, data.y_train, HutchinsonSettings(
                min_iters=n, max_iters=n, tol=0.0, isolate=isolate, estimator="hvp"),
                cache=False)  # isolate is an option of the hvp draws
            worst = float(np.max(e.relative_stderr()))
            row.append(f"{e.seconds:6.2f} s ({1e3 * e.seconds / n:3.0f} ms/draw) "
                       f"{100 * worst:5.1f}%")
        print(f"  {n:4d} draws: " + " | ".join(row))
    return pooled


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", default="digits_cnn,digits_wide,digits_resnet,user5,user_mlp")
    p.add_argument("--seeds", type=int, default=0)
    p.add_argument("--all-train", action="store_true",
                   help="also the Hessian on the whole training set (slow)")
    p.add_argument("--draws", default="10,25,50,100", help="draw counts to time")
    p.add_argument("--save", metavar="JSON", help="also record the pooled rhos in this file "
                   "(bench/results/sensitivity.json is the one docs/methods.md quotes)")
    args = p.parse_args()
    draws = [int(n) for n in args.draws.split(",") if n]
    results = {name: bench_net(name, args.seeds, draws, args.all_train)
               for name in args.nets.split(",")}
    methods = list(next(iter(results.values()))["test"])
    print(f"\n== pooled (2+3 bits) Spearman rho vs the measured loss increase, "
          f"train-set truth | test-set truth (target >= {TARGET}; * = below):")
    print(f"  {'network':14s} " + " ".join(f"{m[:22]:>22s}" for m in methods))
    for name, rhos in results.items():
        cells = []
        for m in methods:
            tr, te = rhos["train"][m], rhos["test"][m]
            cells.append(f"{tr:+.2f}{'*' if not tr >= TARGET else ' '} | "
                         f"{te:+.2f}{'*' if not te >= TARGET else ' '}")
        print(f"  {name:14s} " + " ".join(f"{c:>22s}" for c in cells))
    if args.save:
        from record import record

        print(f"recorded in {record(args.save, vars(args), pooled_rho=results)}")

if __name__ == "__main__":
    main()
