"""Omega_l(b): expected loss increase when layer l gets b bits (S1 hessian, S4 joint).

    hessian: Omega_l(b) = Tr_l / n_l * ||Q_b(W_l) - W_l||^2
    joint:   Omega_l(b) = Tr_l * lsb_l(b)^2 / 12   (= avg trace x parameter count x the
             per-weight noise power of a b-bit grid, S4's trace x size weighting)

Q_b is the quantizer the toolkit itself applies (calibrate_design: fit_type over the
folded weights with WEIGHT_MODES; activations: fit_type over the calibration data with
ACT_MODES and the layer kind's signedness), so Omega predicts the rounding the hardware
does, saturation included. Under an isotropic Hessian, Omega/2 is the second-order
Taylor term of the loss increase; the factor is kept out to match S1's definition.
The activation term is the same with h = Tr_act / n_act per sample (see activations.py)
and E_i ||Q_b(a_i) - a_i||^2 over the calibration samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from codesign.fixed import FixedType
from codesign.ir.graph import Graph
from codesign.quant.calibrate import ACT_MODES, WEIGHT_MODES, fit_type
from codesign.sensitivity.activations import act_signed, activation_traces
from codesign.sensitivity.hessian import weight_traces
from codesign.sensitivity.hutchinson import HutchinsonSettings, TraceEstimate
from codesign.sensitivity.table import LayerSensitivity, SensitivityTable


def weight_type(w: np.ndarray, bits: int) -> FixedType:
    return fit_type(w, bits, signed=True, modes=WEIGHT_MODES)


def quantize_weight(w: np.ndarray, bits: int) -> np.ndarray:
    """Q_b(W): the folded weight on the b-bit grid calibrate_design would choose."""
    return weight_type(w, bits).quantize(w)


def weight_error(w: np.ndarray, bits: int) -> float:
    return float(np.sum((quantize_weight(w, bits) - w) ** 2))


def act_type(values: np.ndarray, bits: int, signed: bool | None) -> FixedType:
    return fit_type(values, bits, signed=signed, modes=ACT_MODES)


def act_error(values: np.ndarray, bits: int, signed: bool | None) -> float:
    """E_i ||Q_b(a_i) - a_i||^2 over the samples (batch first)."""
    diff = act_type(values, bits, signed).quantize(values) - values
    return float(np.sum(diff ** 2) / len(values))


def calibration_outputs(graph: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    out = graph.forward(x, return_all=True, dtype=torch.float64)
    return {k: v.numpy() for k, v in out.items()}


def hessian_table(model: nn.Module, input_shape: tuple[int, ...], x: np.ndarray, y: np.ndarray,
                  bits: Sequence[int], *, method: str = "hessian",
                  settings: HutchinsonSettings | None = None, activations: bool = True,
                  model_name: str | None = None, dataset: str | None = None,
                  progress: bool = False, cache: Path | None | bool = True) -> SensitivityTable:
    """The hessian or joint SensitivityTable of `model` on (x, y) (training data)."""
    settings = settings or HutchinsonSettings()
    bits = tuple(int(b) for b in bits)
    w_est = weight_traces(model, input_shape, x, y, settings, progress=progress, cache=cache)
    graph = Graph.from_torch(model, input_shape)
    a_est = (activation_traces(graph, x, y, settings, progress=progress, cache=cache)
             if activations else None)
    acts = calibration_outputs(graph, x[:settings.samples]) if activations else {}
    w_idx = {n: i for i, n in enumerate(w_est.names)}
    a_idx = {n: i for i, n in enumerate(a_est.names)} if a_est is not None else {}
    layers: dict[str, LayerSensitivity] = {}
    for layer in graph:
        weight = act = None
        score = None
        extra: dict = {}
        params = 0
        if layer.name in w_idx:
            i = w_idx[layer.name]
            w = layer.weight
            params = int(w.size)
            avg = float(w_est.per_element[i])
            score = avg if method == "hessian" else float(w_est.trace[i])
            weight = {b: _omega(method, avg, w.size, weight_error(w, b), weight_type(w, b))
                      for b in bits}
            extra.update(weight_trace=float(w_est.trace[i]),
                         weight_trace_stderr=float(w_est.stderr[i]),
                         **_convergence("weight", w_est, i))
        if layer.name in a_idx and a_est is not None:
            i = a_idx[layer.name]
            values = acts[layer.name]
            signed = act_signed(layer, graph, values)
            avg = float(a_est.per_element[i])
            act = {b: _omega(method, avg, a_est.sizes[i], act_error(values, b, signed),
                             act_type(values, b, signed)) for b in bits}
            extra.update(act_trace=float(a_est.trace[i]),
                         act_trace_stderr=float(a_est.stderr[i]),
                         **_convergence("act", a_est, i))
        if weight is None and act is None:
            continue
        layers[layer.name] = LayerSensitivity(layer.kind, params, score, weight, act, extra)
    return SensitivityTable(method, model_name, dataset, bits, layers,
                            _settings(settings, w_est, a_est, min(len(x), settings.samples)))


def _omega(method: str, avg_trace: float, size: int, sq_error: float, t: FixedType) -> float:
    if method == "hessian":
        return avg_trace * sq_error
    return avg_trace * size * t.lsb ** 2 / 12.0


def _convergence(what: str, est: TraceEstimate, i: int) -> dict[str, float | int]:
    """How far layer i's trace can be trusted: its draws and relative standard error."""
    return {f"{what}_trace_draws": int(est.draws[i]),
            f"{what}_trace_relative_stderr": float(est.relative_stderr()[i])}


def _settings(settings: HutchinsonSettings, w_est: TraceEstimate,
              a_est: TraceEstimate | None, samples: int) -> dict:
    out = {**settings.to_dict(), "trace_estimator": "hutchinson-rademacher",
           "hessian_of": "folded weights (BN folded), mean cross-entropy, eval mode",
           "loss": "cross_entropy", "samples": samples,
           "quantizer": "calibrate.fit_type (max-abs range) with WEIGHT_MODES / ACT_MODES"}
    for what, est in (("weight", w_est), ("act", a_est)):
        if est is not None:
            out.update({f"{what}_draws_by": est.estimator,
                        f"{what}_iterations": est.iterations,
                        f"{what}_converged": est.converged,
                        f"{what}_seconds": round(est.seconds, 3),
                        f"{what}_worst_relative_stderr": float(np.max(est.relative_stderr()))})
    return out
