"""Quantization-aware training over the fixed-point forward.

QatNet holds the graph's (BatchNorm-folded) float weights as trainable parameters plus one
quantizer per weighted layer and per result it learns; its forward is fxtorch.fixed_forward,
the hardware's own casts with straight-through gradients. Training runs in two phases:
learned steps move freely for the first epochs, then `snap()` fixes every step to the
nearest power of two and the last `snap_epochs` fine-tune the weights under the exact
fixed-point forward, so what was trained is what is exported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from codesign.data import Dataset
from codesign.design import DesignPoint
from codesign.errors import CodesignError
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet
from codesign.quant.export import derive_design, export_qnet
from codesign.quant.fxtorch import check_exact, fixed_forward
from codesign.quant.quantizers import Quantizer, StaticCast, TransitionLsq


@dataclass(frozen=True)
class TrainSettings:
    """How long and how fast QAT runs (defaults suit the digits models on a CPU)."""

    epochs: int = 20
    snap_epochs: int = 5  # final epochs with power-of-two steps and the exact forward
    lr: float = 1e-2  # Adam; 1e-3 leaves binary and 2-3 bit nets far behind in few epochs
    batch_size: int = 64
    seed: int = 0
    max_train: int | None = None  # use only the first N training samples (tests)

    def __post_init__(self) -> None:
        if self.epochs < 1 or not 0 <= self.snap_epochs <= self.epochs:
            raise CodesignError(f"need epochs >= 1 and 0 <= snap_epochs <= epochs, got "
                                f"{self.epochs} and {self.snap_epochs}")
        if not self.lr > 0 or self.batch_size < 1:
            raise CodesignError(f"lr must be positive and batch_size >= 1, got {self.lr} and "
                                f"{self.batch_size}")


class QatNet(nn.Module):
    """A graph under a base design with trainable weights and per-layer quantizers.

    weight_q: layer -> quantizer of its weights (missing: the base weight type's cast);
    act_q: layer (or "input") -> quantizer replacing that layer's result cast.
    """

    def __init__(self, graph: Graph, base: DesignPoint, weight_q: Mapping[str, Quantizer],
                 act_q: Mapping[str, Quantizer]):
        super().__init__()
        self.graph, self.base = graph, base
        self.w = nn.ParameterDict({
            layer.name: nn.Parameter(torch.tensor(layer.weight, dtype=torch.float64))
            for layer in graph.weighted})
        self.b = nn.ParameterDict({
            layer.name: nn.Parameter(torch.tensor(layer.bias, dtype=torch.float64))
            for layer in graph.weighted})
        wq = {}
        for layer in graph.weighted:
            impl = base[layer.name]
            assert impl.weight is not None
            wq[layer.name] = weight_q.get(layer.name) or StaticCast(impl.weight)
        self.wq = nn.ModuleDict(wq)
        self.aq = nn.ModuleDict(dict(act_q))

    # -- state ------------------------------------------------------------------------
    def quantizers(self) -> Iterable[Quantizer]:
        yield from self.wq.values()  # type: ignore[misc]
        yield from self.aq.values()  # type: ignore[misc]

    @property
    def exact(self) -> bool:
        return all(q.snapped for q in self.quantizers())

    def snap(self) -> None:
        for q in self.quantizers():
            q.snap()

    def step_parameters(self) -> list[nn.Parameter]:
        ids = {id(p) for p in list(self.w.values()) + list(self.b.values())}
        return [p for p in self.parameters() if id(p) not in ids]

    def design(self) -> DesignPoint:
        """The DesignPoint the (snapped) quantizers define."""
        biases = {n: b.detach().numpy() for n, b in self.b.items()}
        return derive_design(
            self.graph, self.base, biases=biases,
            weight_types={n: q.fixed_type() for n, q in self.wq.items()},
            result_types={n: q.fixed_type() for n, q in self.aq.items() if n != "input"},
            input_type=self.aq["input"].fixed_type() if "input" in self.aq else None)

    # -- forward ----------------------------------------------------------------------
    def quantized_weights(self) -> dict[str, torch.Tensor]:
        return {n: self.wq[n](w) for n, w in self.w.items()}

    def forward(self, x: torch.Tensor | np.ndarray, return_all: bool = False,
                start: Mapping[str, torch.Tensor] | None = None):
        exact = self.exact
        design = self.design() if exact else self.base
        skip = set(start or ())
        weights = {n: self.wq[n](w) for n, w in self.w.items() if n not in skip}
        return fixed_forward(self.graph, design, weights, dict(self.b), x,
                             overrides=dict(self.aq), exact=exact, return_all=return_all,
                             start=start)

    def own_forward(self, x: np.ndarray) -> dict[str, torch.Tensor]:
        """Eval-mode forward of every layer: the method's output the export must equal."""
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                out = self(x, return_all=True)
        finally:
            self.train(was)
        assert isinstance(out, dict)
        return out

    def export(self) -> QuantizedNet:
        """The QuantizedNet of the snapped network (its eval-mode weights)."""
        if not self.exact:
            raise CodesignError("export needs every step snapped to a power of two; call snap()")
        design = self.design()
        check_exact(self.graph, design)
        self.eval()
        with torch.no_grad():
            weights = self.quantized_weights()
        return export_qnet(self.graph, design, weights, {n: b.detach() for n, b in self.b.items()})


def relu_consumers_only(graph: Graph, name: str) -> bool:
    """True when every consumer of `name` is a ReLU (negative values are dropped anyway)."""
    users = graph.consumers(name)
    return bool(users) and all(isinstance(u, L.ReLU) for u in users)


def accuracy(net: QatNet, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    was = net.training
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out = net(x[i:i + batch_size])
            correct += int((out.argmax(dim=1).numpy() == y[i:i + batch_size]).sum())
    net.train(was)
    return correct / max(len(x), 1)


@dataclass
class TransitionRateScheduler:
    """Transition-rate scheduling (TRS; Lee, Jeon, Kim and Ham, "Scheduling Weight
    Transitions for Quantization-Aware Training", ICCV 2025, arXiv 2404.19248), applied per
    layer to the latent weights *and the step* of a transition-aware weight quantizer.

    Instead of a hand-made learning-rate schedule, a target transition rate R_t (the
    fraction of the layer's weights that change level per iteration) decays on a cosine
    from r0 to 0, and the layer's transition-adaptive learning rate follows
    eta_t = max(0, eta_{t-1} + k (R_t - T_t)), with T_t an exponential average of the
    measured rate. Steering the step by the same rate is what makes its fine-tuning aware
    of transitions: a step change that would move many weights across levels at once is
    slowed down as surely as a weight update that would.
    """

    total_iters: int
    eta0: float
    r0: float = 0.02
    k: float = 0.05
    momentum: float = 0.9
    measured: float | None = None
    eta: float | None = None
    it: int = 0

    def target(self) -> float:
        return self.r0 * 0.5 * (1 + math.cos(math.pi * min(self.it, self.total_iters)
                                             / max(1, self.total_iters)))

    def update(self, rate: float | None) -> float:
        """The learning rate for the next iteration, given the rate just measured."""
        eta = self.eta0 if self.eta is None else self.eta
        if rate is not None:
            m = self.momentum
            self.measured = rate if self.measured is None else m * self.measured + (1 - m) * rate
            eta = max(0.0, eta + self.k * self.eta0 / self.r0 * (self.target() - self.measured))
        self.eta = eta
        self.it += 1
        return eta


def _transition_layers(net: QatNet) -> list[str]:
    return [n for n, q in net.wq.items() if isinstance(q, TransitionLsq)]


def train_qat(net: QatNet, data: Dataset, settings: TrainSettings, *, progress: bool = True,
              desc: str = "qat", params: Sequence[nn.Parameter] | None = None,
              first_layer: str | None = None) -> QatNet:
    """Train `net` (cross-entropy, Adam, cosine schedule), snapping steps to powers of two
    for the last settings.snap_epochs epochs.

    params: train just these (layer-by-layer fine-tuning); steps are then left as they are.
    first_layer: with params, the earliest layer they belong to: every layer before it in
    graph order is computed once for the whole training set and reused (it cannot change),
    so a step only runs the rest of the network.
    Layers with a transition-aware weight quantizer get their own transition-rate-scheduled
    learning rate (TransitionRateScheduler) for their weights and step.
    """
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    n = len(data.x_train) if settings.max_train is None else settings.max_train
    x = torch.from_numpy(np.ascontiguousarray(data.x_train[:n], dtype=np.float64))
    y = torch.from_numpy(np.ascontiguousarray(data.y_train[:n], dtype=np.int64))
    steps_per_epoch = max(1, -(-n // settings.batch_size))
    total = settings.epochs * steps_per_epoch
    trs: dict[str, tuple[TransitionRateScheduler, torch.optim.Optimizer]] = {}
    if params is None:
        special = _transition_layers(net)
        for name in special:
            group = [net.w[name], net.wq[name].log_step]  # type: ignore[union-attr]
            trs[name] = (TransitionRateScheduler(total, settings.lr),
                         torch.optim.Adam(group, lr=settings.lr))
        taken = {id(p) for name in special for p in (net.w[name], net.wq[name].log_step)}
        groups = [{"params": [p for p in list(net.w.values()) + list(net.b.values())
                              if id(p) not in taken]},
                  {"params": [p for p in net.step_parameters()
                              if p.requires_grad and id(p) not in taken]}]
    else:
        groups = [{"params": list(params)}]
    opt = torch.optim.Adam([g for g in groups if g["params"]], lr=settings.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    start = _cached_prefix(net, x, first_layer) if params is not None and first_layer else None
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    bar = tqdm(range(settings.epochs), desc=desc, disable=None if progress else True, leave=False)
    for epoch in bar:
        if params is None and epoch == settings.epochs - settings.snap_epochs:
            net.snap()
        running = 0.0
        for idx in np.array_split(rng.permutation(n), steps_per_epoch):
            batch_start = {k: v[idx] for k, v in start.items()} if start else None
            out = net(x[idx], start=batch_start)
            loss = loss_fn(out, y[idx])
            opt.zero_grad(set_to_none=True)
            for _, o in trs.values():
                o.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            for name, (sch, o) in trs.items():
                o.step()
                eta = sch.update(net.wq[name].transition_rate)  # type: ignore[union-attr]
                for g in o.param_groups:
                    g["lr"] = eta
            running += float(loss.detach()) * len(idx)
        bar.set_postfix(loss=f"{running / n:.4f}", snapped=net.exact)
    if params is None:
        net.snap()
    return net.eval()


def _cached_prefix(net: QatNet, x: torch.Tensor, first_layer: str) -> dict[str, torch.Tensor]:
    """Every layer's values before `first_layer` in graph order, for all of x (no grad)."""
    names = net.graph.names
    if first_layer not in names:
        raise CodesignError(f"no layer {first_layer!r} in the network")
    before = names[:names.index(first_layer)]
    with torch.no_grad():
        values = net(x, return_all=True)
    return {k: values[k].detach() for k in before}
