"""The traced Graph equals the torch model; everything unsupported is refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from codesign.errors import CodesignError, UnsupportedLayerError
from codesign.ir import BatchNorm, Graph
from codesign.ir import layers as L
from codesign.ir.trace import trace
from codesign.zoo import ZOO, build_model


def _randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial statistics, so folding is really exercised."""
    g = torch.Generator().manual_seed(seed)
    for mod in model.modules():
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            n = mod.num_features
            mod.running_mean.copy_(torch.rand(n, generator=g) * 2 - 1)
            mod.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            mod.bias.data.copy_(torch.rand(n, generator=g) - 0.5)
    return model.eval()


def _assert_same(model: nn.Module, shape: tuple[int, ...], n: int = 7) -> Graph:
    graph = Graph.from_torch(model, shape)
    x = torch.randn(n, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model.eval()(x)
    got = graph.forward(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert not any(isinstance(layer, BatchNorm) for layer in graph)
    return graph


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(6)
        self.c1 = nn.Conv2d(6, 6, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(6)
        self.c2 = nn.Conv2d(6, 6, (3, 1), padding=(1, 0))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(6, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn0(self.stem(x)))
        y = self.c2(torch.relu(self.b1(self.c1(x))))
        x = (x + y).relu()
        x = self.pool(x)
        x = x.view(x.size(0), -1)
        return self.fc(self.drop(x))


class MeanHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 5, 2, stride=2)
        self.pool = nn.MaxPool2d(2, stride=1)
        self.avg = nn.AvgPool2d((2, 1))
        self.fc = nn.Linear(5, 3)
        self.bn = nn.BatchNorm1d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avg(self.pool(torch.relu(self.conv(x))))
        x = torch.add(x, x)
        return self.bn(self.fc(x.mean((2, 3))))


class Seq1d(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv1d(2, 4, 3, stride=2, padding=1)
        self.fc = nn.Linear(4 * 8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(F.relu(self.c(x)), 1))


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_models_trace_to_an_equal_graph(name: str) -> None:
    _assert_same(_randomize_bn(build_model(name)), ZOO[name].input_shape, n=3)


def test_residual_functional_ops_and_global_pool() -> None:
    graph = _assert_same(_randomize_bn(Residual()), (3, 9, 7))
    kinds = [layer.kind for layer in graph]
    assert kinds.count("add") == 1 and "globalavgpool2d" in kinds and "flatten" in kinds
    assert "avgpool2d" not in kinds  # AdaptiveAvgPool2d(1) is the global kind, not a window
    pool = next(layer for layer in graph if layer.kind == "globalavgpool2d")
    assert isinstance(pool, L.GlobalAvgPool2d)
    assert pool.kernel == pool.stride == (9, 7) and pool.out_shape == (6, 1, 1)
    add = graph[next(n for n in graph.names if graph[n].kind == "add")]
    assert len(add.inputs) == 2


def test_mean_pooling_batchnorm1d_and_strides() -> None:
    graph = _assert_same(_randomize_bn(MeanHead()), (2, 10, 10))
    shapes = {layer.kind: layer.out_shape for layer in graph}
    assert shapes["conv2d"] == (5, 5, 5) and shapes["maxpool2d"] == (5, 4, 4)
    assert graph.output.kind == "dense"


def test_conv1d() -> None:
    graph = _assert_same(Seq1d(), (2, 16))
    assert graph["c"].out_shape == (4, 8)


def test_summary_counts_params_and_macs() -> None:
    graph = Graph.from_torch(build_model("digits_cnn"), (1, 8, 8))
    rows = {r["name"]: r for r in graph.summary()}
    conv = graph.weighted[0]
    assert rows[conv.name]["params"] == conv.weight.size + conv.bias.size
    c, h, w = conv.out_shape
    assert rows[conv.name]["macs"] == c * h * w * conv.terms


def test_graph_serialization_round_trip() -> None:
    graph = Graph.from_torch(_randomize_bn(Residual()), (3, 9, 7))
    again = Graph.from_arrays(graph.to_arrays())
    x = torch.randn(2, 3, 9, 7)
    assert again.names == graph.names
    torch.testing.assert_close(again.forward(x), graph.forward(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("module", "words"),
    [
        (nn.Sequential(nn.Conv2d(4, 4, 3, groups=2)), ["groups=2", "'0'"]),
        (nn.Sequential(nn.Conv2d(4, 4, 3, dilation=2)), ["dilation=(2, 2)"]),
        (nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)), ["ceil_mode=True"]),
        (nn.Sequential(nn.MaxPool2d(2, padding=1)), ["padding=(1, 1)"]),
        (nn.Sequential(nn.Conv2d(4, 4, 3), nn.Sigmoid()), ["Sigmoid", "'1'"]),
        (nn.Sequential(nn.AdaptiveAvgPool2d(2)), ["AdaptiveAvgPool2d(output_size=2)"]),
        (nn.Sequential(nn.Conv2d(4, 4, 3, padding="same")), ["padding='same'"]),
        (nn.Sequential(nn.Conv2d(4, 4, 3, padding_mode="reflect")), ["padding_mode"]),
    ],
)
def test_unsupported_attributes_are_refused_by_name(module: nn.Module, words: list[str]) -> None:
    with pytest.raises(UnsupportedLayerError) as err:
        Graph.from_torch(module, (4, 8, 8))
    for word in words:
        assert word in str(err.value)
    assert "Supported:" in str(err.value)


class FunctionalConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(2, 1, 3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.w)


class BnAfterRelu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(torch.relu(self.conv(x)))


class ChannelMean(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(1)


class Sigmoidal(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x)


class Branchy(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x
        return -x


@pytest.mark.parametrize(
    ("module", "words"),
    [
        (FunctionalConv(), ["parameter access w"]),
        (BnAfterRelu(), ["BatchNorm at 'bn'", "cannot be folded"]),
        (ChannelMean(), ["mean(dim=(1,))"]),
        (Sigmoidal(), ["sigmoid"]),
    ],
)
def test_unsupported_ops_are_refused_by_name(module: nn.Module, words: list[str]) -> None:
    with pytest.raises(UnsupportedLayerError) as err:
        Graph.from_torch(module, (1, 6, 6))
    for word in words:
        assert word in str(err.value)


def test_untraceable_model_and_bad_shapes_give_clear_errors() -> None:
    with pytest.raises(CodesignError, match="torch.fx cannot trace Branchy"):
        trace(Branchy(), (1, 4, 4))
    with pytest.raises(CodesignError, match="Check --input-shape"):
        Graph.from_torch(build_model("digits_cnn"), (3, 8, 8))
    with pytest.raises(CodesignError, match="positive sizes"):
        Graph.from_torch(build_model("digits_cnn"), (1, 0, 8))


def test_trace_leaves_training_mode_untouched() -> None:
    model = build_model("digits_cnn").train()
    Graph.from_torch(model, (1, 8, 8))
    assert model.training
    batchnorms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(np.all(m.running_mean.numpy() == 0) for m in batchnorms)


def test_every_windowed_layer_geometry_gives_its_output_shape() -> None:
    """One geometry: over the image view of its input (a sequence one row, a dense layer's
    input vectors pixels), each conv, dense and pool layer's Window yields the shape torch
    computed."""
    images = nn.Sequential(nn.Conv2d(1, 3, (3, 2), stride=(2, 1), padding=(1, 0)),
                           nn.MaxPool2d(2, stride=1), nn.AvgPool2d((1, 2)), nn.Flatten(),
                           nn.Linear(24, 5))
    sequences = nn.Sequential(nn.Conv1d(3, 4, 3, stride=2, padding=1), nn.Linear(3, 2),
                              nn.Flatten(), nn.Linear(8, 5))
    seen = set()
    for g in (Graph.from_torch(images.eval(), (1, 9, 7)),
              Graph.from_torch(sequences.eval(), (3, 6))):
        for layer in g:
            geo = getattr(layer, "geometry", None)
            if geo is None:
                continue
            seen.add(layer.kind)
            last = getattr(layer, "channels_last", False)  # a Dense: per vector
            c, h, w = L.as_image(g[layer.inputs[0]].out_shape, last)
            out_c = layer.out_channels if layer.has_weights else c
            assert (out_c, *geo.out_size(h, w)) == L.as_image(layer.out_shape, last), \
                layer.name
            if layer.has_weights:
                assert np.prod(layer.conv2d_weight_shape) == layer.weight.size
    assert seen == {"conv2d", "maxpool2d", "avgpool2d", "conv1d", "dense"}
