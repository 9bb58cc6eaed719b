"""Deterministic training and a weight cache for the zoo.

Sensitivity numbers, Pareto frontiers and bit-exact test vectors are only comparable
if the float model underneath is the same on every run, so training is made
reproducible: a fixed torch seed, deterministic algorithms, a fixed thread count (one by
default), and batches drawn by a seeded numpy Generator instead of a DataLoader. Trained zoo models
are cached under :func:`cache_dir` keyed by everything that changes the weights.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from codesign.cachedir import cache_dir
from codesign.data import Dataset, load_dataset
from codesign.errors import CodesignError, DatasetError
from codesign.finite import check_state
from codesign.zoo import build_model, get_entry

"""Environment variable overriding the cache directory (trained weights and the like)."""

TRAIN_VERSION = 3
"""Bump when train_model's algorithm changes, so cached weights are retrained."""

TRAIN_THREADS = 1
"""Default intra-op threads for training. The zoo models are tiny: on a busy 2-core
machine one thread trained them 7x faster than two (OpenMP spin-waits), and a fixed
count keeps the weights independent of the machine's core count."""


@contextmanager
def _deterministic(seed: int, threads: int) -> Iterator[None]:
    """Seeded, deterministic, fixed-thread torch for the block; global state restored after."""
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    old_threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        try:
            torch.manual_seed(seed)
            torch.use_deterministic_algorithms(True)
            torch.set_num_threads(threads)
            yield
        finally:
            torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
            torch.set_num_threads(old_threads)


ADAM_MAX_LR = float(np.finfo(np.float32).max) * (1 - 0.9)
"""The largest rate whose first Adam step (lr over the first moment's bias correction,
1 - beta1) is a float32; above it torch fails inside the optimizer."""


def _check_settings(epochs: int, lr: float, batch_size: int, threads: int) -> None:
    if not isinstance(epochs, int) or epochs < 1:
        raise CodesignError(f"epochs must be a positive integer, not {epochs!r}")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise CodesignError(f"lr must be a positive finite number, not {lr!r}")
    if lr > ADAM_MAX_LR:
        raise CodesignError(f"lr {lr:g} is too large: Adam's first step, lr / (1 - 0.9), must "
                            f"be a float32 (lr <= {ADAM_MAX_LR:.3g}); typical values are "
                            "1e-4 .. 1e-2")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise CodesignError(f"batch_size must be a positive integer, not {batch_size!r}")
    if not isinstance(threads, int) or threads < 1:
        raise CodesignError(f"threads must be a positive integer, not {threads!r}")


def _batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's shuffled index batches; a lone last sample joins the previous batch
    (BatchNorm cannot train on a batch of one)."""
    order = rng.permutation(n)
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2] = np.concatenate([batches[-2], batches.pop()])
    return batches


def train_model(
    model: nn.Module,
    data: Dataset,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    progress: bool = True,
    threads: int = TRAIN_THREADS,
) -> nn.Module:
    """Train ``model`` in place on ``data.x_train`` and return it in eval mode.

    Adam with a per-step cosine learning rate, cross-entropy loss. The same model
    initialisation, data and arguments (``threads`` included) give bit-identical weights
    on the same machine and torch build.
    """
    _check_settings(epochs, lr, batch_size, threads)
    x = torch.from_numpy(np.ascontiguousarray(data.x_train, dtype=np.float32))
    y = torch.from_numpy(np.ascontiguousarray(data.y_train, dtype=np.int64))
    rng = np.random.default_rng(seed)
    full, rest = divmod(len(x), batch_size)
    steps_per_epoch = full + (rest > 1 or full == 0)
    with _deterministic(seed, threads):
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
        loss_fn = nn.CrossEntropyLoss()
        model.train()
        bar = tqdm(range(epochs), desc=f"train {data.name}", leave=False,
                   disable=None if progress else True)  # bars only on a terminal
        for epoch in bar:
            total, count = 0.0, 0
            for step, idx in enumerate(_batches(len(x), batch_size, rng)):
                xb, yb = x[idx], y[idx]
                out = model(xb)
                if out.ndim != 2 or out.shape[1] != data.num_classes:
                    raise CodesignError(
                        f"model output shape {tuple(out.shape)} does not match dataset "
                        f"{data.name!r} with {data.num_classes} classes; the last layer "
                        f"must have {data.num_classes} outputs."
                    )
                loss = loss_fn(out, yb)
                if not torch.isfinite(loss):  # every later step would only spread the NaN
                    raise CodesignError(
                        f"training {data.name!r} diverged: the loss became {loss.item()} at "
                        f"epoch {epoch + 1}, step {step + 1}, so the weights would be "
                        f"useless; lower the learning rate (now {lr:g}) or check the model")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx)
                count += len(idx)
            bar.set_postfix(loss=f"{total / count:.4f}")
    check_state(dict(model.named_parameters()), f"training {data.name!r}",
                f"the weights diverged: lower the learning rate (now {lr:g})")
    return model.eval()


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    """Top-1 accuracy in [0, 1], in eval mode without gradients (mode restored after)."""
    if len(x) == 0 or len(x) != len(y):
        raise CodesignError(f"evaluate needs as many labels as images, got {len(x)} and {len(y)}")
    was_training = model.training
    model.eval()
    correct = 0
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size], np.float32))
                pred = model(xb).argmax(dim=1).numpy()
                correct += int((pred == np.asarray(y[i : i + batch_size])).sum())
    finally:
        model.train(was_training)
    return correct / len(x)


def weights_key(name: str, model: nn.Module) -> str:
    """Hash of everything that changes a zoo model's trained weights."""
    entry = get_entry(name)
    torch_mm = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    blob = json.dumps(
        {
            "name": name,
            "arch": repr(model),
            "train": asdict(entry.train),
            "dataset": entry.dataset,
            "torch": torch_mm,
            "train_version": TRAIN_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def weights_path(name: str, cache: Path | None = None) -> Path:
    """The cache file for zoo model ``name``'s trained weights (may not exist yet)."""
    key = weights_key(name, build_model(name))
    return cache_dir(cache) / "zoo" / f"{name}-{key}.pt"


def _save_atomic(state: dict[str, torch.Tensor], path: Path, meta: dict[str, object]) -> None:
    """Write via a temp file and rename, so parallel runs never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    meta_tmp = tmp.with_suffix(".json")
    meta_tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(meta_tmp, path.with_suffix(".json"))


def get_trained(
    name: str,
    *,
    cache: Path | None = None,
    retrain: bool = False,
    progress: bool = True,
    data_root: Path | None = None,
) -> nn.Module:
    """Zoo model ``name`` trained on its dataset, loaded from the cache when present.

    Weights live at ``cache_dir(cache)/zoo/<name>-<key>.pt`` with a JSON sidecar holding
    the test accuracy and training time. ``retrain`` ignores (and replaces) the cached
    file. ``data_root`` is passed to :func:`codesign.data.load_dataset`.
    """
    entry = get_entry(name)
    model = build_model(name)
    path = cache_dir(cache) / "zoo" / f"{name}-{weights_key(name, model)}.pt"
    if path.is_file() and not retrain:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
            return model.eval()
        except (OSError, RuntimeError, KeyError, EOFError, pickle.UnpicklingError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            warnings.warn(f"cached weights {path} unreadable ({reason}); retraining", stacklevel=2)
            model = build_model(name)
    try:
        data = load_dataset(entry.dataset, data_root)
    except DatasetError as exc:
        why = "retraining them" if retrain else f"none are cached ({path}) and training them"
        raise DatasetError(
            f"zoo model {name!r} needs trained weights: {why} needs its dataset. {exc} Or "
            "load trained weights of your own (--weights FILE.pt; load_model(..., "
            "weights=...)).") from None
    t = entry.train
    start = time.perf_counter()
    train_model(
        model,
        data,
        epochs=t.epochs,
        lr=t.lr,
        batch_size=t.batch_size,
        seed=t.seed,
        progress=progress,
    )
    seconds = time.perf_counter() - start
    meta = {
        "name": name,
        "dataset": entry.dataset,
        "train": asdict(t),
        "test_accuracy": evaluate(model, data.x_test, data.y_test),
        "train_seconds": round(seconds, 2),
        "torch": torch.__version__,
    }
    _save_atomic(model.state_dict(), path, meta)
    return model
