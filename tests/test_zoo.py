"""The model zoo, deterministic training and the trained-weights cache."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from torch import nn

import codesign.train as train_mod
from codesign.data import load_dataset
from codesign.errors import CodesignError
from codesign.train import cache_dir, evaluate, get_trained, train_model, weights_path
from codesign.zoo import ZOO, BasicBlock, build_model, get_entry

# Layers the hardware flow understands (BasicBlock = convs/BNs/ReLUs + an identity add).
HW_LAYERS = (
    nn.Conv2d,
    nn.BatchNorm2d,
    nn.ReLU,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,  # traced to GlobalAvgPool2d at output size 1
    nn.Flatten,
    nn.Linear,
    nn.Sequential,
    BasicBlock,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.mark.parametrize("name", sorted(ZOO))
def test_entry_builds_and_runs(name: str) -> None:
    entry = get_entry(name)
    assert entry.name == name and entry.description
    model = build_model(name).eval()
    for path, m in model.named_modules():
        assert isinstance(m, HW_LAYERS), f"{name}.{path} is a {type(m).__name__}"
    with torch.no_grad():
        out = model(torch.rand(2, *entry.input_shape))
    assert out.shape == (2, 10)


def test_digits_models_are_small() -> None:
    counts = {n: sum(p.numel() for p in build_model(n).parameters()) for n in ZOO}
    assert counts["digits_cnn"] < 5_000
    assert counts["digits_wide"] < 50_000 and counts["digits_resnet"] < 20_000


def test_unknown_model_lists_names() -> None:
    with pytest.raises(CodesignError) as err:
        get_entry("resnet50")
    for name in ZOO:
        assert name in str(err.value)


def test_build_model_is_seeded_and_leaves_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a, b = build_model("digits_cnn"), build_model("digits_cnn")
    assert torch.equal(torch.rand(3), expected)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)
    c = build_model("digits_cnn", seed=1)
    assert not torch.equal(a[0].weight, c[0].weight)


def _train_once(data, seed: int) -> dict[str, torch.Tensor]:
    model = build_model("digits_cnn", seed=0)
    train_model(model, data, epochs=1, lr=1e-2, batch_size=32, seed=seed, progress=False)
    return model.state_dict()


def test_training_is_deterministic(digits) -> None:
    threads = torch.get_num_threads()
    first, second = _train_once(digits, 0), _train_once(digits, 0)
    for key in first:
        assert torch.equal(first[key], second[key]), key
    other = _train_once(digits, 1)
    assert not torch.equal(first["0.weight"], other["0.weight"])
    assert torch.get_num_threads() == threads  # global torch state restored


def test_train_settings_validated(digits) -> None:
    model = build_model("digits_cnn")
    with pytest.raises(CodesignError, match="epochs must be a positive integer, not 0"):
        train_model(model, digits, epochs=0, lr=1e-3, batch_size=8, seed=0)
    with pytest.raises(CodesignError, match="lr must be a positive finite number, not -1"):
        train_model(model, digits, epochs=1, lr=-1, batch_size=8, seed=0)
    with pytest.raises(CodesignError, match="lr 1e.38 is too large"):  # torch overflowed
        train_model(model, digits, epochs=1, lr=1e38, batch_size=8, seed=0)
    with pytest.raises(CodesignError, match="batch_size must be a positive integer"):
        train_model(model, digits, epochs=1, lr=1e-3, batch_size=0, seed=0)


def test_train_refuses_wrong_class_count(digits) -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 7))
    with pytest.raises(CodesignError, match=r"output shape \(32, 7\).*10 classes"):
        train_model(model, digits, epochs=1, lr=1e-3, batch_size=32, seed=0, progress=False)


def test_evaluate_restores_mode(digits) -> None:
    model = build_model("digits_cnn").train()
    acc = evaluate(model, digits.x_test, digits.y_test, batch_size=100)
    assert 0.0 <= acc <= 1.0 and model.training


def test_cache_dir_precedence(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CODESIGN_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "codesign"
    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("CODESIGN_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "codesign"


def test_get_trained_reaches_target_and_caches(tmp_path: Path, digits, monkeypatch) -> None:
    model = get_trained("digits_cnn", cache=tmp_path, progress=False)
    assert evaluate(model, digits.x_test, digits.y_test) >= 0.97
    path = weights_path("digits_cnn", tmp_path)
    assert path.is_file() and path.parent == tmp_path / "zoo"
    assert path.with_suffix(".json").is_file()

    def no_training(*args, **kwargs):
        raise AssertionError("get_trained retrained despite a cached file")

    monkeypatch.setattr(train_mod, "train_model", no_training)
    start = time.perf_counter()
    again = get_trained("digits_cnn", cache=tmp_path, progress=False)
    assert time.perf_counter() - start < 5.0
    assert not again.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_corrupt_cache_file_is_retrained(tmp_path: Path, monkeypatch) -> None:
    path = weights_path("digits_cnn", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    calls = []
    monkeypatch.setattr(train_mod, "train_model", lambda m, *a, **k: calls.append(1) or m)
    with pytest.warns(UserWarning, match="unreadable"):
        get_trained("digits_cnn", cache=tmp_path, progress=False)
    assert calls == [1]
    torch.load(path, weights_only=True)  # replaced by a valid file


def test_fixture_model_reaches_target(digits_cnn_trained, digits) -> None:
    acc = evaluate(digits_cnn_trained, digits.x_test, digits.y_test)
    assert acc >= get_entry("digits_cnn").target_accuracy


@pytest.mark.slow
@pytest.mark.parametrize("name", ["digits_wide", "digits_resnet"])
def test_larger_digits_models_reach_target(name: str, digits) -> None:
    model = get_trained(name, progress=False)  # real cache: trained once per machine
    acc = evaluate(model, digits.x_test, digits.y_test)
    assert acc >= get_entry(name).target_accuracy, f"{name}: {acc:.4f}"


def test_cifar_like_is_the_real_size_example() -> None:
    """About 3M MACs with a residual add and a global pool: the size issue 21 names."""
    from codesign.ir import layers as L
    from codesign.ir.graph import Graph

    graph = Graph.from_torch(build_model("cifar_like"), get_entry("cifar_like").input_shape)
    macs = sum(layer.macs(graph.in_shapes(layer)) for layer in graph)
    assert 2_500_000 < macs < 3_500_000
    kinds = {type(layer) for layer in graph}
    assert L.Add in kinds and L.GlobalAvgPool2d in kinds
    assert get_entry("cifar_like").dataset == "shapes32"
