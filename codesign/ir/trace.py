"""torch.fx tracing into the IR.

We accept exactly the ops the back ends build and refuse any other op, or any
non-default attribute we do not implement (dilation, groups, ceil_mode...), by name,
with its module path. Silently dropping an attribute is how hls4ml users got wrong
hardware; we do not.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp

from codesign.errors import CodesignError, UnsupportedLayerError
from codesign.ir import layers as L
from codesign.ir.graph import Graph

SUPPORTED = (
    "Conv2d, Conv1d, Linear, BatchNorm1d/2d (after a conv or linear), ReLU (module, "
    "torch.relu, F.relu, .relu()), MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1), "
    "mean over H,W, Flatten/flatten/view/reshape to (N, -1), Dropout, Identity, "
    "residual add (+, torch.add)"
)

_PASS_THROUGH_MODULES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity)
_PASS_THROUGH_METHODS = ("contiguous", "clone")
_RELU_FUNCS = (torch.relu, F.relu, torch.relu_)
_ADD_FUNCS = (operator.add, operator.iadd, torch.add)
_FLATTEN_METHODS = ("view", "reshape", "flatten")


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _refuse(what: str, where: str, why: str = "") -> UnsupportedLayerError:
    detail = f" ({why})" if why else ""
    return UnsupportedLayerError(
        f"unsupported op {what} at '{where}'{detail}. Supported: {SUPPORTED}."
    )


class _Tracer:
    """Walks an fx graph once, emitting IR layers; `alias` maps fx nodes to IR names."""

    def __init__(self, gm: torch.fx.GraphModule):
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.layers: list[L.Layer] = []
        self.alias: dict[torch.fx.Node, str] = {}
        self.used_names: set[str] = set()

    # -- helpers ------------------------------------------------------------------
    def shape(self, node: torch.fx.Node) -> tuple[int, ...]:
        meta = node.meta.get("tensor_meta")
        if meta is None or not hasattr(meta, "shape"):
            raise _refuse(f"{node.op} {node.target}", node.name, "output is not a single tensor")
        return tuple(int(s) for s in meta.shape[1:])

    def name_for(self, node: torch.fx.Node, kind: str) -> str:
        """fx's node name (a valid identifier), prefixed by the kind where fx made it
        from a bare Sequential index ('_0' -> 'conv2d_0')."""
        name = node.name
        if name.startswith("_") or name[0].isdigit():
            name = f"{kind}{name if name.startswith('_') else '_' + name}"
        while name in self.used_names:
            name += "_"
        self.used_names.add(name)
        return name

    def src(self, node: torch.fx.Node) -> str:
        arg = node.args[0]
        if not isinstance(arg, torch.fx.Node) or arg not in self.alias:
            raise _refuse(f"{node.op} {node.target}", str(node.target),
                          "its input is not a tensor computed by a supported op")
        return self.alias[arg]

    def emit(self, node: torch.fx.Node, cls: type[L.Layer], inputs: tuple[str, ...],
             where: str, **fields) -> None:
        name = self.name_for(node, cls.kind)
        self.layers.append(cls(name, inputs, self.shape(node), source=where, **fields))
        self.alias[node] = name

    def emit_flatten(self, node: torch.fx.Node, where: str) -> None:
        out = self.shape(node)
        src = self.src(node)
        if len(out) != 1:
            raise _refuse(f"{node.target}", where, f"only reshapes to (N, -1) are supported, "
                          f"this one gives {out}")
        in_shape = self.shape(node.args[0])  # type: ignore[arg-type]
        if len(in_shape) == 1:  # already flat
            self.alias[node] = src
        else:
            self.emit(node, L.Flatten, (src,), where)

    def emit_global_avgpool(self, node: torch.fx.Node, where: str, flatten: bool) -> None:
        src_node = node.args[0]
        in_shape = self.shape(src_node)  # type: ignore[arg-type]
        if len(in_shape) != 3:
            raise _refuse("global average pool", where, f"input shape {in_shape} is not C,H,W")
        kernel = (in_shape[1], in_shape[2])
        name = self.name_for(node, L.GlobalAvgPool2d.kind)
        pool = L.GlobalAvgPool2d(name, (self.src(node),), (in_shape[0], 1, 1), source=where,
                           kernel=kernel, stride=kernel)
        self.layers.append(pool)
        self.alias[node] = name
        if flatten:
            fname = self.name_for(node, L.Flatten.kind)
            self.layers.append(L.Flatten(fname, (name,), (in_shape[0],), source=where))
            self.alias[node] = fname

    # -- node kinds -----------------------------------------------------------------
    def call_module(self, node: torch.fx.Node) -> None:
        where = str(node.target)
        mod = self.modules[where]
        kind = type(mod).__name__
        if isinstance(mod, _PASS_THROUGH_MODULES):
            self.alias[node] = self.src(node)
        elif isinstance(mod, nn.Conv2d):
            self.conv2d(node, mod, where)
        elif isinstance(mod, nn.Conv1d):
            self.conv1d(node, mod, where)
        elif isinstance(mod, nn.Linear):
            self.emit(node, L.Dense, (self.src(node),), where, **_weights(mod))
        elif isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            self.batchnorm(node, mod, where)
        elif isinstance(mod, nn.ReLU):
            self.emit(node, L.ReLU, (self.src(node),), where)
        elif isinstance(mod, nn.MaxPool2d):
            _check(where, kind, dilation=(_pair(mod.dilation), (1, 1)),
                   padding=(_pair(mod.padding), (0, 0)), ceil_mode=(mod.ceil_mode, False),
                   return_indices=(mod.return_indices, False))
            stride = mod.stride if mod.stride is not None else mod.kernel_size
            self.emit(node, L.MaxPool2d, (self.src(node),), where,
                      kernel=_pair(mod.kernel_size), stride=_pair(stride))
        elif isinstance(mod, nn.AvgPool2d):
            _check(where, kind, padding=(_pair(mod.padding), (0, 0)),
                   ceil_mode=(mod.ceil_mode, False),
                   divisor_override=(mod.divisor_override, None))
            stride = mod.stride if mod.stride is not None else mod.kernel_size
            self.emit(node, L.AvgPool2d, (self.src(node),), where,
                      kernel=_pair(mod.kernel_size), stride=_pair(stride))
        elif isinstance(mod, nn.AdaptiveAvgPool2d):
            out = mod.output_size
            if _pair(out if out is not None else 1) != (1, 1):
                raise _refuse(f"AdaptiveAvgPool2d(output_size={out})", where,
                              "only output_size=1 (global average pool) can be rewritten")
            self.emit_global_avgpool(node, where, flatten=False)
        elif isinstance(mod, nn.Flatten):
            _check(where, kind, start_dim=(mod.start_dim, 1), end_dim=(mod.end_dim, -1))
            self.emit_flatten(node, where)
        else:
            raise _refuse(kind, where)

    def conv2d(self, node: torch.fx.Node, mod: nn.Conv2d, where: str) -> None:
        if isinstance(mod.padding, str):
            raise _refuse(f"Conv2d(padding={mod.padding!r})", where,
                          "give the padding as numbers")
        _check(where, "Conv2d", groups=(mod.groups, 1), dilation=(_pair(mod.dilation), (1, 1)),
               padding_mode=(mod.padding_mode, "zeros"))
        self.emit(node, L.Conv2d, (self.src(node),), where, **_weights(mod),
                  stride=_pair(mod.stride), padding=_pair(mod.padding))

    def conv1d(self, node: torch.fx.Node, mod: nn.Conv1d, where: str) -> None:
        if isinstance(mod.padding, str):
            raise _refuse(f"Conv1d(padding={mod.padding!r})", where,
                          "give the padding as a number")
        _check(where, "Conv1d", groups=(mod.groups, 1), dilation=(int(mod.dilation[0]), 1),
               padding_mode=(mod.padding_mode, "zeros"))
        self.emit(node, L.Conv1d, (self.src(node),), where, **_weights(mod),
                  stride=int(mod.stride[0]), padding=int(mod.padding[0]))

    def batchnorm(self, node: torch.fx.Node, mod: nn.modules.batchnorm._BatchNorm,
                  where: str) -> None:
        if mod.running_mean is None or mod.running_var is None:
            raise _refuse(type(mod).__name__, where,
                          "track_running_stats=False: no statistics to fold")
        var = mod.running_var.detach().double().numpy()
        mean = mod.running_mean.detach().double().numpy()
        gamma = (mod.weight.detach().double().numpy() if mod.weight is not None
                 else np.ones_like(var))
        beta = (mod.bias.detach().double().numpy() if mod.bias is not None
                else np.zeros_like(var))
        scale = gamma / np.sqrt(var + mod.eps)
        self.emit(node, L.BatchNorm, (self.src(node),), where,
                  scale=scale, shift=beta - mean * scale)

    def call_function(self, node: torch.fx.Node) -> None:
        fn = node.target
        where = f"{getattr(fn, '__name__', fn)} ({node.name})"
        if fn in _RELU_FUNCS:  # inplace=True is irrelevant in a dataflow graph
            self.emit(node, L.ReLU, (self.src(node),), where)
        elif fn in _ADD_FUNCS:
            self.add(node, where)
        elif fn is torch.flatten:
            start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
            if start != 1:
                raise _refuse(f"torch.flatten(start_dim={start})", where, "use start_dim=1")
            self.emit_flatten(node, where)
        elif fn is F.adaptive_avg_pool2d:
            out = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
            if _pair(out) != (1, 1):
                raise _refuse(f"adaptive_avg_pool2d(output_size={out})", where,
                              "only output_size=1 (global average pool) can be rewritten")
            self.emit_global_avgpool(node, where, flatten=False)
        elif fn is torch.mean:
            self.mean(node, where)
        elif fn is getattr and node.args[1] == "shape":
            return  # x.shape feeds view(x.shape[0], -1); not a tensor
        elif fn is operator.getitem and not _is_tensor(node):
            return
        else:
            raise _refuse(f"function {getattr(fn, '__module__', '')}.{where}", node.name)

    def call_method(self, node: torch.fx.Node) -> None:
        method = str(node.target)
        where = f".{method}() ({node.name})"
        if method in ("size", "dim"):
            return  # shape queries, not tensors
        if method in _PASS_THROUGH_METHODS:
            self.alias[node] = self.src(node)
        elif method == "relu":
            self.emit(node, L.ReLU, (self.src(node),), where)
        elif method in _FLATTEN_METHODS:
            if method == "flatten":
                start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
                if start != 1:
                    raise _refuse(f".flatten({start})", where, "use start_dim=1")
            self.emit_flatten(node, where)
        elif method == "add":
            self.add(node, where)
        elif method == "mean":
            self.mean(node, where)
        else:
            raise _refuse(f"method .{method}()", node.name)

    def add(self, node: torch.fx.Node, where: str) -> None:
        a, b = node.args[0], node.args[1]
        if not (isinstance(a, torch.fx.Node) and isinstance(b, torch.fx.Node)):
            raise _refuse("add with a constant", where, "only tensor + tensor is supported")
        if "alpha" in node.kwargs:
            raise _refuse("torch.add(alpha=...)", where)
        if self.shape(a) != self.shape(b):
            raise _refuse("add", where, f"shapes differ: {self.shape(a)} vs {self.shape(b)}")
        self.emit(node, L.Add, (self.alias[a], self.alias[b]), where)

    def mean(self, node: torch.fx.Node, where: str) -> None:
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        keep = node.args[2] if len(node.args) > 2 else node.kwargs.get("keepdim", False)
        dims = tuple(dims) if isinstance(dims, (list, tuple)) else (dims,)
        if sorted(d % 4 for d in dims if isinstance(d, int)) != [2, 3] or len(dims) != 2:
            raise _refuse(f"mean(dim={dims})", where,
                          "only a global average over H and W can be rewritten")
        self.emit_global_avgpool(node, where, flatten=not keep)


def _is_tensor(node: torch.fx.Node) -> bool:
    meta = node.meta.get("tensor_meta")
    return meta is not None and hasattr(meta, "shape")


def _weights(mod: nn.Module) -> dict[str, np.ndarray]:
    weight = mod.weight.detach().double().numpy().copy()
    bias = (mod.bias.detach().double().numpy().copy() if mod.bias is not None
            else np.zeros(weight.shape[0]))
    return {"weight": weight, "bias": bias}


def _check(where: str, kind: str, **attrs: tuple[object, object]) -> None:
    """Refuse any attribute whose value differs from the one we implement."""
    for attr, (value, supported) in attrs.items():
        if value != supported:
            raise _refuse(f"{kind}({attr}={value!r})", where,
                          f"only {attr}={supported!r} is implemented")


def trace(model: nn.Module, input_shape: tuple[int, ...]) -> Graph:
    """Trace `model` (eval mode) on a batch of one `input_shape` into an unfolded Graph."""
    if any(not isinstance(s, int) or s < 1 for s in input_shape) or not 1 <= len(input_shape) <= 3:
        raise CodesignError(
            f"input shape {input_shape} is not C,H,W / C,L / F with positive sizes"
        )
    was_training = model.training
    model.eval()
    try:
        try:
            gm = torch.fx.symbolic_trace(model)
        except Exception as exc:  # fx raises many types for dynamic control flow
            raise CodesignError(
                f"torch.fx cannot trace {type(model).__name__}: {exc}. Data-dependent "
                "control flow is not supported; write forward() as a fixed sequence of ops."
            ) from exc
        try:
            with torch.no_grad():
                ShapeProp(gm).propagate(torch.zeros((1, *input_shape)))
        except Exception as exc:
            raise CodesignError(
                f"running {type(model).__name__} on an input of shape {input_shape} "
                f"failed: {exc}. Check --input-shape."
            ) from exc
        tracer = _Tracer(gm)
        handlers: dict[str, Callable[[torch.fx.Node], None]] = {
            "call_module": tracer.call_module,
            "call_function": tracer.call_function,
            "call_method": tracer.call_method,
        }
        output_node = None
        for node in gm.graph.nodes:
            if node.op == "placeholder":
                if tracer.layers:
                    raise _refuse("a second input", node.name, "one input tensor is supported")
                tracer.layers.append(L.Input("input", (), tuple(input_shape), source=node.name))
                tracer.alias[node] = "input"
            elif node.op == "get_attr":
                raise _refuse(f"parameter access {node.target}", node.name,
                              "tensors used in functional ops are not supported")
            elif node.op == "output":
                output_node = node.args[0]
            else:
                handlers[node.op](node)
        if not isinstance(output_node, torch.fx.Node) or output_node not in tracer.alias:
            raise _refuse("output", "forward()", "the model must return a single tensor")
        out_name = tracer.alias[output_node]
        if out_name != tracer.layers[-1].name:
            raise _refuse("output", "forward()", "the returned tensor must be the last op")
        return Graph(tuple(tracer.layers))
    finally:
        model.train(was_training)
