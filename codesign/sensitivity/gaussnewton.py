"""Hutchinson draws without double backprop: the Gauss-Newton form of the same traces.

Every layer the IR knows (conv, dense, BatchNorm, ReLU, pools, add, flatten) is linear or
piecewise linear, so the logits z are piecewise linear in any one layer's weights W_l
(the others fixed) and in any one activation a_l: d^2 z / d W_l^2 = 0 almost everywhere.
The chain rule then leaves only the Gauss-Newton term in the diagonal block,

    H_ll = 1/N sum_i J_i^T A_i J_i,   J_i = dz_i / dW_l,   A_i = d^2 loss_i / dz_i^2,

exactly (double backprop through ReLU and max pool computes the same: their second
derivative is zero). With A_i = B_i B_i^T (C x C, C classes) and a Rademacher vector u_i
per sample, E ||J_i^T B_i u_i||^2 = Tr(J_i^T A_i J_i). So one draw is: a forward for z,
w_i = B_i u_i, and one backward of sum_i w_i . z_i giving every sample's gradient
g_i = J_i^T w_i; the sample for layer l is 1/N sum_i ||g_{i,l}||^2. It is the trace of
the isolated block (no cross-layer terms) for every layer from one backward, and the
vectors live in the C-dimensional output space of each sample (N independent vectors per
draw), so its variance is far below that of a Rademacher vector over the weights.

Weight and activation samples both come from the IR's float forward with a zero
perturbation at each layer of interest: the ordinary batched backward gives every
sample's gradient with respect to it (samples do not mix), which is the activation
gradient; a weighted layer's per-sample weight gradient is its output gradient times its
unfolded input (every weighted kind is a window over the as_image view of its input,
layers.Window), one batched matmul.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import jacrev, vmap

from codesign.errors import CodesignError
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.sensitivity.hutchinson import rademacher

#: IR layers whose output is (piecewise) linear in their input and weights. A graph with
#: any other kind needs the double-backprop estimator (its Hessian has more than the
#: Gauss-Newton term).
PIECEWISE_LINEAR = (L.Input, L.WeightedLayer, L.BatchNorm, L.ReLU, L.Pool2d, L.Flatten, L.Add)


def is_piecewise_linear(graph: Graph) -> bool:
    """Whether the Gauss-Newton block equals the Hessian block for this graph."""
    return all(isinstance(layer, PIECEWISE_LINEAR) for layer in graph)


def output_directions(z: torch.Tensor, y: torch.Tensor, loss_fn: Callable,
                      gen: torch.Generator) -> torch.Tensor:
    """w_i = B_i u_i per sample (rows of z), u_i Rademacher: E[w_i w_i^T] = B_i B_i^T =
    A_i, the Hessian of the sample's loss w.r.t. its output z_i.

    B_i = Q_i sqrt(Lambda_i) from the eigendecomposition of A_i (C x C, cheap): then
    ||w_i||^2 = Tr(A_i) whatever u_i, which on the last layer makes every draw exact and
    elsewhere gave a 4x smaller spread than the factor (I - p 1^T) diag(sqrt p).
    Cross-entropy's A_i = diag(p) - p p^T is formed directly; any other loss (a mean of
    per-sample terms, convex in the output) by autograd."""
    dtype = z.dtype
    z = z.detach().double()  # eigh of a near-singular A wants float64
    if loss_fn is F.cross_entropy:
        p = torch.softmax(z, dim=1)
        a = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    else:
        def one(zi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
            return loss_fn(zi[None], yi[None])

        a = vmap(jacrev(jacrev(one)))(z, y)  # (torch.func.hessian warns: jit.script)
    lam, q = torch.linalg.eigh((a + a.transpose(1, 2)) / 2)
    if bool((lam < -1e-6 * lam.abs().amax().clamp_min(1e-30)).any()):
        raise CodesignError("the loss is not convex in the network's output, so its "
                            "Gauss-Newton form is not its Hessian; use the double-backprop "
                            "estimator (estimator='hvp', --estimator hvp)")
    u = rademacher(tuple(z.shape), gen, z.dtype)
    return torch.einsum("nij,nj->ni", q, lam.clamp_min(0).sqrt() * u).to(dtype)


def image_view(t: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """A batch of per-sample tensors as (N, C, H, W) in the layer's as_image view."""
    c, h, w = L.as_image(tuple(t.shape[1:]), channels_last)
    if channels_last:
        t = t.movedim(-1, 1)
    return t.reshape(len(t), c, h, w)


def weight_grad_sq(layer: L.WeightedLayer, x_in: torch.Tensor, d_out: torch.Tensor
                   ) -> torch.Tensor:
    """sum_i ||dS/dW||^2 over the samples i, where d_out = dS/d(layer output) per sample:
    the per-sample weight gradient d_i U_i^T (U_i the unfolded input windows)."""
    win = layer.geometry
    u = F.unfold(image_view(x_in, layer.channels_last), win.kernel, padding=win.padding,
                 stride=win.stride)
    g = torch.bmm(image_view(d_out, layer.channels_last).flatten(2), u.transpose(1, 2))
    return (g * g).sum()


class GaussNewtonDraws:
    """Per-sample squared gradient norms on the IR's float forward: a draw gives, for
    each named weighted layer (`weights`) and each named layer output (`outputs`),
    sum_b share_b / n_b sum_i ||g_i||^2 with g_i the gradient of w_i . z_i."""

    def __init__(self, graph: Graph, batches: Sequence[tuple[torch.Tensor, torch.Tensor, float]],
                 loss_fn: Callable, dtype: torch.dtype, *, weights: Sequence[str] = (),
                 outputs: Sequence[str] = ()) -> None:
        self.graph = graph
        self.batches = batches
        self.loss_fn = loss_fn
        self.dtype = dtype
        self.weights = [graph[name] for name in weights]
        self.outputs = list(outputs)
        self.points = list(dict.fromkeys([*weights, *outputs]))  # where a delta is added

    def draw(self, gen: torch.Generator) -> np.ndarray:
        """One draw: the weight groups first, then the output groups."""
        total = torch.zeros(len(self.weights) + len(self.outputs), dtype=torch.float64)
        for xb, yb, share in self.batches:
            deltas = {name: torch.zeros((len(xb), *self.graph[name].out_shape),
                                        dtype=self.dtype, requires_grad=True)
                      for name in self.points}
            values = forward_perturbed(self.graph, xb, deltas)
            z = values[self.graph.output.name]
            w = output_directions(z, yb, self.loss_fn, gen)
            grads = dict(zip(deltas, torch.autograd.grad((z * w).sum(), list(deltas.values()),
                                                         allow_unused=True), strict=True))
            with torch.no_grad():
                row = [weight_grad_sq(layer, values[layer.inputs[0]], grads[layer.name])
                       for layer in self.weights]
                row += [torch.zeros(()) if grads[n] is None else (grads[n] ** 2).sum()
                        for n in self.outputs]
            total += torch.stack([r.double() for r in row]) * (share / len(xb))
        return total.numpy()


def forward_perturbed(graph: Graph, x: torch.Tensor, deltas: dict[str, torch.Tensor]
                      ) -> dict[str, torch.Tensor]:
    """Float forward of the IR with deltas added to the named layers' outputs (differentiable)."""
    values: dict[str, torch.Tensor] = {}
    for layer in graph:
        out = x if isinstance(layer, L.Input) else layer.forward_float(
            *(values[i] for i in layer.inputs))
        if layer.name in deltas:
            out = out + deltas[layer.name]
        values[layer.name] = out
    return values
