"""Quantization-aware training over the fixed-point forward.

QatNet holds the graph's (BatchNorm-folded) float weights as trainable parameters plus one
quantizer per weighted layer and per result it learns; its forward is fxtorch.fixed_forward,
the hardware's own casts with straight-through gradients. Training runs in two phases:
learned steps move freely for the first epochs, then `snap()` fixes every step to the
nearest power of two and the last `snap_epochs` fine-tune the weights under the exact
fixed-point forward, so what was trained is what is exported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
from codesign.quant.quantizers import Quantizer, StaticCast


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

    def forward(self, x: torch.Tensor | np.ndarray, return_all: bool = False):
        exact = self.exact
        design = self.design() if exact else self.base
        return fixed_forward(self.graph, design, self.quantized_weights(), dict(self.b), x,
                             overrides=dict(self.aq), exact=exact, return_all=return_all)

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


def train_qat(net: QatNet, data: Dataset, settings: TrainSettings, *, progress: bool = True,
              desc: str = "qat", only: Iterable[str] | None = None) -> QatNet:
    """Train `net` (cross-entropy, Adam, cosine schedule), snapping steps to powers of two
    for the last settings.snap_epochs epochs. only: train just these layers' weights and
    biases (layer-by-layer fine-tuning); steps are then left as they are."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    n = len(data.x_train) if settings.max_train is None else settings.max_train
    x = torch.from_numpy(np.ascontiguousarray(data.x_train[:n], dtype=np.float64))
    y = torch.from_numpy(np.ascontiguousarray(data.y_train[:n], dtype=np.int64))
    if only is None:
        groups = [{"params": list(net.w.values()) + list(net.b.values())},
                  {"params": [p for p in net.step_parameters() if p.requires_grad]}]
    else:
        names = list(only)
        groups = [{"params": [net.w[k] for k in names] + [net.b[k] for k in names]}]
    opt = torch.optim.Adam([g for g in groups if g["params"]], lr=settings.lr)
    steps_per_epoch = max(1, -(-n // settings.batch_size))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=settings.epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    bar = tqdm(range(settings.epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        if only is None and epoch == settings.epochs - settings.snap_epochs:
            net.snap()
        total = 0.0
        for idx in np.array_split(rng.permutation(n), steps_per_epoch):
            out = net(x[idx])
            loss = loss_fn(out, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        bar.set_postfix(loss=f"{total / n:.4f}", snapped=net.exact)
    if only is None:
        net.snap()
    return net.eval()
