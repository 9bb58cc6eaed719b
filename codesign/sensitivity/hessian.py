"""Hessian trace of the loss with respect to each hardware layer's *folded* weights.

Why folded: the hardware quantizes W_f = s * W (BatchNorm scale s folded per output
channel), so the loss increase from rounding W_f is governed by the Hessian with respect
to W_f, which is D^-1 H_W D^-1 (D = diag(s)), not H_W. A layer whose BatchNorm scales its
channels up has proportionally less room for weight error, and the unfolded Hessian would
miss that. Gauss-Newton draws run on the folded IR graph, whose weights are W_f; the
hvp draws reparametrize the torch model (eval mode: BatchNorm uses its running
statistics, as the hardware does) as a function of W_f and differentiate twice.

The loss is the mean cross-entropy over `settings.batches` batches of the given data. A
draw is either the Gauss-Newton form (gaussnewton.py: per-sample gradients of one
backward, exact for the IR's piecewise-linear layers, the default) or a Hessian-vector
product, the double backward of that loss (summed batch by batch; the reference).
Biases are not included: the hardware keeps them wide (calibrate's bias_type).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from codesign.errors import CodesignError
from codesign.finite import describe_nonfinite
from codesign.ir.graph import Graph
from codesign.sensitivity.gaussnewton import GaussNewtonDraws, is_piecewise_linear
from codesign.sensitivity.hutchinson import (
    HutchinsonSettings,
    TraceEstimate,
    estimate,
    rademacher,
    warn_if_unconverged,
)
from codesign.sensitivity.mapping import HardwareWeight, hardware_weights

CACHE_VERSION = 5
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def batches_of(x: np.ndarray, y: np.ndarray, settings: HutchinsonSettings,
               dtype: torch.dtype) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """The first batches*batch_size samples, cut into batches with their weight n_b / N
    (so the per-batch losses sum to the mean loss over all of them)."""
    n = min(len(x), settings.samples)
    if n == 0 or len(x) != len(y):
        raise CodesignError(f"sensitivity needs labelled data, got {len(x)} images and "
                            f"{len(y)} labels")
    for what, values in (("images", x[:n]), ("labels", y[:n])):
        bad = describe_nonfinite(values)
        if bad is not None:  # a NaN makes every trace NaN, or fails deep in a linalg routine
            raise CodesignError(f"the sensitivity data's {what} (its first {n} training "
                                f"samples) hold {bad}; clean the dataset")
    xt = torch.as_tensor(np.ascontiguousarray(x[:n]), dtype=dtype)
    yt = torch.as_tensor(np.ascontiguousarray(y[:n]))
    return [(xt[i:i + settings.batch_size], yt[i:i + settings.batch_size],
             min(settings.batch_size, n - i) / n) for i in range(0, n, settings.batch_size)]


class WeightHessian:
    """Hessian-vector products of the loss w.r.t. every weighted layer's folded weight."""

    def __init__(self, model: nn.Module, input_shape: tuple[int, ...], x: np.ndarray,
                 y: np.ndarray, settings: HutchinsonSettings, *, loss_fn: LossFn = F.cross_entropy,
                 dtype: torch.dtype = torch.float32) -> None:
        self.graph, self.weights = hardware_weights(model, input_shape)
        for w in self.weights:
            if w.scale is not None and np.any(np.abs(w.scale) < 1e-12):
                ch = int(np.argmin(np.abs(w.scale)))
                raise CodesignError(f"the BatchNorm after {w.module_path!r} scales channel {ch} "
                                    "by zero; its folded weight has no torch parameter")
        self.model = copy.deepcopy(model).to(dtype).eval().requires_grad_(False)
        self.loss_fn = loss_fn
        self.dtype = dtype
        self.theta = [torch.tensor(w.folded, dtype=dtype, requires_grad=True)
                      for w in self.weights]
        self.batches = batches_of(x, y, settings, dtype)
        self.isolate = settings.isolate
        self.estimator = resolve_estimator(settings, self.graph)
        self._gn = GaussNewtonDraws(self.graph, self.batches, loss_fn, dtype, weights=self.names)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(w.name for w in self.weights)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(w.size for w in self.weights)

    def loss(self, theta: list[torch.Tensor], xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """The model's loss with each folded weight replaced by theta (unfolded: theta / s)."""
        params = {w.param_name: _unfold(w, t) for w, t in zip(self.weights, theta, strict=True)}
        return self.loss_fn(functional_call(self.model, params, (xb,)), yb)

    def hvp(self, vectors: list[torch.Tensor], batch: int | None = None) -> list[torch.Tensor]:
        """H v for the mean loss over all batches (or only `batch`'s share of it); H over all
        layers' folded weights."""
        out = [torch.zeros_like(t) for t in self.theta]
        chosen = self.batches if batch is None else [self.batches[batch]]
        for xb, yb, share in chosen:
            loss = self.loss(self.theta, xb, yb) * share
            grads = torch.autograd.grad(loss, self.theta, create_graph=True)
            dot = sum((g * v).sum() for g, v in zip(grads, vectors, strict=True))
            for acc, hv in zip(out, torch.autograd.grad(dot, self.theta), strict=True):
                acc += hv
        return out

    def draw(self, gen: torch.Generator, active: np.ndarray | None = None) -> np.ndarray:
        """One sample per layer (NaN for a layer not `active` where skipping it saves
        work), by this Hessian's estimator."""
        if self.estimator == "gauss-newton":
            return self.gauss_newton_draw(gen)
        return self.hvp_draw(gen, active)

    def gauss_newton_draw(self, gen: torch.Generator) -> np.ndarray:
        """sum over batches of share_b / n_b * sum_i ||J_i^T w_i||^2 per layer, w_i = B_i u_i
        (gaussnewton.py): E = Tr(H_ll) for every layer from one backward. On the folded
        graph's forward, whose weights are the folded W_f this Hessian is taken in."""
        return self._gn.draw(gen)

    def hvp_draw(self, gen: torch.Generator, active: np.ndarray | None = None) -> np.ndarray:
        """One sample per layer: sum over batches b of v_b^T (H_b v_b) with a fresh v_b per
        batch. Tr(H) = sum_b Tr(H_b), so this stays unbiased, and since the batch Hessians
        are alike, independent vectors cut the variance about B-fold at no extra cost.
        With `isolate`, each layer's sample is v_l^T H_ll v_l (block_quadratics), free of
        the cross-layer terms v_l^T H_lm v_m that dominate a small layer's variance (see
        hutchinson's docstring), and layers not `active` are skipped (NaN)."""
        total = np.zeros(len(self.theta))
        if active is None:
            active = np.ones(len(self.theta), dtype=bool)
        for b in range(len(self.batches)):
            vs = [rademacher(tuple(t.shape), gen, self.dtype) for t in self.theta]
            if self.isolate:
                total += self.block_quadratics(vs, b, active)
            else:
                hvs = self.hvp(vs, batch=b)
                total += [float((v * hv).sum()) for v, hv in zip(vs, hvs, strict=True)]
        return total

    def block_quadratics(self, vectors: list[torch.Tensor], batch: int,
                         active: np.ndarray | None = None) -> list[float]:
        """v_l^T H_ll v_l for every (active) layer l on one batch's share of the loss. The
        forward and the first backward are shared; each layer then costs one backward of
        g_l . v_l w.r.t. its own weights only (H_ll v_l, exact, no cross-layer terms).
        A layer not `active` costs nothing and gives NaN."""
        xb, yb, share = self.batches[batch]
        grads = torch.autograd.grad(self.loss(self.theta, xb, yb) * share, self.theta,
                                    create_graph=True)
        todo = [i for i in range(len(grads)) if active is None or active[i]]
        out = [float("nan")] * len(grads)
        for i in todo:
            (hv,) = torch.autograd.grad((grads[i] * vectors[i]).sum(), self.theta[i],
                                        retain_graph=i != todo[-1])
            out[i] = float((vectors[i] * hv).sum())
        return out


def resolve_estimator(settings: HutchinsonSettings, graph: Graph) -> str:
    """The estimator a draw uses: `auto` is gauss-newton wherever it is exact (every layer
    piecewise linear), hvp otherwise; an explicit gauss-newton where it is not is refused."""
    exact = is_piecewise_linear(graph)
    if settings.estimator == "auto":
        return "gauss-newton" if exact else "hvp"
    if settings.estimator == "gauss-newton" and not exact:
        kinds = sorted({layer.kind for layer in graph} - {"input"})
        raise CodesignError(f"the gauss-newton estimator is exact only for piecewise-linear "
                            f"layers; this network has kinds {kinds}. Use estimator 'hvp'")
    return settings.estimator


def _unfold(w: HardwareWeight, theta: torch.Tensor) -> torch.Tensor:
    scale = w.scale_view(theta)
    return theta if scale is None else theta / scale


def weight_traces(model: nn.Module, input_shape: tuple[int, ...], x: np.ndarray, y: np.ndarray,
                  settings: HutchinsonSettings | None = None, *, progress: bool = False,
                  cache: Path | None | bool = True,
                  dtype: torch.dtype = torch.float32) -> TraceEstimate:
    """Per-layer Hutchinson estimate of Tr(H_ll), w.r.t. folded weights, cached on disk.

    `cache`: True uses codesign's cache directory, a Path uses that directory, False
    disables it. The key covers the method (quantity, estimator, loss, dtype), every
    setting, the weights and the data actually used. Warns when unconverged.
    """
    settings = settings or HutchinsonSettings()
    hess = WeightHessian(model, input_shape, x, y, settings, dtype=dtype)
    n = settings.samples
    key = cache_key(estimator_id("weight", hess.loss_fn, dtype, hess.estimator),
                    model.state_dict(), x[:n], y[:n], settings)
    est = cached(key, cache, lambda: estimate(hess.draw, hess.names, hess.sizes, settings,
                                              progress=progress, desc="weight Hessian trace",
                                              estimator=hess.estimator))
    warn_if_unconverged(est, settings, "weight Hessian trace")
    return est


def estimator_id(quantity: str, loss_fn: Callable, dtype: torch.dtype,
                 draws: str = "hvp") -> dict[str, str]:
    """What a cached trace is a trace of, and how it was estimated: part of its key."""
    return {"quantity": quantity, "estimator": f"hutchinson-rademacher-{draws}",
            "loss": getattr(loss_fn, "__qualname__", repr(loss_fn)), "dtype": str(dtype)}


def cache_key(method: dict[str, str], state: dict[str, torch.Tensor] | dict[str, np.ndarray],
              x: np.ndarray, y: np.ndarray, settings: HutchinsonSettings) -> str:
    """Digest of the method (estimator_id), every estimator setting, the weights and the
    data actually used: a trace is reused only when all of them match."""
    h = hashlib.sha256()
    h.update(json.dumps({"method": method, "version": CACHE_VERSION, "torch": torch.__version__,
                         "settings": settings.to_dict()}, sort_keys=True).encode())
    for name in sorted(state):
        value = state[name]
        arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        h.update(name.encode())
        h.update(str(arr.dtype).encode() + str(arr.shape).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    for arr in (x, y):
        h.update(str(arr.dtype).encode() + str(arr.shape).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:24]


def cached(key: str, cache: Path | None | bool, compute: Callable[[], TraceEstimate]
           ) -> TraceEstimate:
    """Load the estimate stored under `key`, or compute and store it (atomically)."""
    if cache is False:
        return compute()
    from codesign.cachedir import cache_dir

    root = cache_dir(None if cache is True or cache is None else Path(cache)) / "sensitivity"
    path = root / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path) as f:
                meta = json.loads(str(f["meta"]))
                return TraceEstimate(tuple(meta["names"]), tuple(meta["sizes"]),
                                     np.asarray(f["samples"]), float(meta["seconds"]),
                                     bool(meta["converged"]), str(meta["estimator"]))
        except (OSError, KeyError, ValueError):
            pass  # unreadable: recompute and overwrite
    est = compute()
    root.mkdir(parents=True, exist_ok=True)
    meta = {"names": list(est.names), "sizes": list(est.sizes), "seconds": est.seconds,
            "converged": est.converged, "estimator": est.estimator}
    tmp = root / f".{key}.{id(est)}.tmp.npz"
    np.savez(tmp, samples=est.samples, meta=np.array(json.dumps(meta)))
    tmp.replace(path)
    return est
