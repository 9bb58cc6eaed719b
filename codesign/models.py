"""Bring your own model: a zoo name or `path/to/file.py:factory`, optional weights.

Everything that takes a model (CLI and API) goes through `load_model`, so the rules for
specs, weights and input shapes are the same everywhere.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from codesign import zoo
from codesign.errors import CodesignError
from codesign.finite import check_state
from codesign.ir.graph import Graph


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A torch model with what the flow needs to know about it."""

    spec: str  # as the user wrote it
    module: nn.Module  # in eval mode
    input_shape: tuple[int, ...]
    dataset: str | None  # the zoo entry's dataset; None for user models

    def graph(self) -> Graph:
        return Graph.from_torch(self.module, self.input_shape)


def parse_shape(text: str | tuple[int, ...] | list[int] | None) -> tuple[int, ...] | None:
    """'1,8,8' -> (1, 8, 8); refuses anything that is not 1-3 positive integers."""
    if text is None:
        return None
    if isinstance(text, (tuple, list)):
        parts = [str(p) for p in text]
    else:
        parts = [p.strip() for p in str(text).replace("x", ",").split(",") if p.strip()]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if not 1 <= len(shape) <= 3 or any(s < 1 for s in shape):
        raise CodesignError(f"input shape {text!r} is not C,H,W (or C,L or F) with positive "
                            "integers, e.g. --input-shape 1,8,8")
    return shape


def _load_factory(spec: str) -> nn.Module:
    path_text, _, func = spec.rpartition(":")
    path = Path(path_text)
    if not path.is_file():
        raise CodesignError(f"model file {path} does not exist (from model spec {spec!r}; "
                            "expected path/to/file.py:factory)")
    if not func.isidentifier():
        raise CodesignError(f"{func!r} in model spec {spec!r} is not a function name")
    mod_name = f"codesign_user_model_{abs(hash(str(path.resolve())))}"
    loader = importlib.util.spec_from_file_location(mod_name, path)
    if loader is None or loader.loader is None:
        raise CodesignError(f"cannot import {path} as Python")
    module = importlib.util.module_from_spec(loader)
    sys.modules[mod_name] = module
    try:
        loader.loader.exec_module(module)
    except Exception as exc:
        raise CodesignError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    factory = getattr(module, func, None)
    if not callable(factory):
        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        raise CodesignError(f"{path} has no function {func!r}; callables there: {names}")
    try:
        model = factory()
    except Exception as exc:
        raise CodesignError(f"{spec}() raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise CodesignError(f"{spec}() returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _load_weights(model: nn.Module, weights: str | Path) -> None:
    path = Path(weights)
    if not path.is_file():
        raise CodesignError(f"weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CodesignError(f"cannot read weights {path}: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CodesignError(f"{path} holds no state_dict; save one with "
                            "torch.save(model.state_dict(), path)")
    check_state(state, f"weights {path}", "a model with NaN or Inf weights computes "
                "nothing a design could match: retrain it (or fix the file) and save again")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CodesignError(f"weights {path} do not fit the model: {exc}") from exc


def load_model(spec: str, weights: str | Path | None = None,
               input_shape: str | tuple[int, ...] | None = None, *,
               cache: Path | None = None, progress: bool = True,
               trained: bool = True) -> LoadedModel:
    """A zoo name (trained on first use, then cached) or `file.py:factory`.

    `weights` replaces the model's weights with a saved state_dict; `input_shape` is
    required for user models and must match a zoo model's own. `trained=False` gives a
    zoo model with its initial weights (no cache, no dataset, no training): enough for
    anything that looks only at the architecture, such as its graph.
    """
    shape = parse_shape(input_shape)
    if spec in zoo.ZOO:
        entry = zoo.get_entry(spec)
        if shape is not None and shape != entry.input_shape:
            raise CodesignError(f"zoo model {spec} takes input shape "
                                f"{','.join(map(str, entry.input_shape))}, not "
                                f"{','.join(map(str, shape))}")
        if weights is None and trained:
            from codesign.train import get_trained

            module = get_trained(spec, cache=cache, progress=progress)
        else:
            module = zoo.build_model(spec)
        dataset: str | None = entry.dataset
        shape = entry.input_shape
    elif ":" in spec and spec.rpartition(":")[0].endswith(".py"):
        module = _load_factory(spec)
        if shape is None:
            raise CodesignError(f"model {spec} needs --input-shape C,H,W (e.g. 1,8,8)")
        dataset = None
    else:
        raise CodesignError(f"unknown model {spec!r}: give a zoo name ({', '.join(zoo.ZOO)}) "
                            "or path/to/file.py:factory")
    if weights is not None:
        _load_weights(module, weights)
    return LoadedModel(spec, module.eval(), shape, dataset)
