"""The torch fixed-point forward equals the bit-accurate model, cast by cast and end to end."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch

from codesign.errors import MismatchError
from codesign.fixed import FixedType, Overflow, Rounding
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, calibrate_design
from codesign.quant.export import verify_export
from codesign.quant.fxtorch import cast, cast_value, ste
from codesign.quant.methods import qnet_forward
from codesign.zoo import build_model


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("overflow", list(Overflow))
@pytest.mark.parametrize("signed", [True, False])
def test_cast_equals_fixed_type(rounding, overflow, signed) -> None:
    rng = np.random.default_rng(7)
    t = FixedType(5, 2, signed, rounding, overflow)
    # values on a finer grid, including exact ties, far out of range, and zero
    x = np.concatenate([rng.integers(-400, 400, 2000) / 16.0, [0.0, -0.125, 0.125, 3.9, -4.0]])
    got = cast_value(torch.tensor(x), t).numpy()
    assert np.array_equal(got * 2.0**t.frac, t.to_int(x))


def test_cast_gradient_is_straight_through_and_zero_when_saturated() -> None:
    t = FixedType(4, 2, True, Rounding.RND, Overflow.SAT)
    x = torch.tensor([0.3, 1.0, 5.0, -7.0], dtype=torch.float64, requires_grad=True)
    cast(x, t).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 0.0, 0.0]


def test_ste_value_is_exactly_the_exact_value() -> None:
    exact = torch.tensor([0.1 + 0.2, 1e-17, 3.0], dtype=torch.float64)
    surrogate = torch.tensor([123.456, -7.1, 1e20], dtype=torch.float64, requires_grad=True)
    assert torch.equal(ste(exact, surrogate), exact)


@functools.cache
def _random_graph(name: str) -> Graph:
    torch.manual_seed(3)
    model = build_model(name).eval()
    for m in model.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return Graph.from_torch(model, (1, 8, 8))


@pytest.mark.parametrize("model", ["digits_cnn", "digits_resnet"])
@pytest.mark.parametrize("bits", [3, 8])
def test_fixed_forward_equals_bit_accurate(model, bits, quant_digits) -> None:
    graph = _random_graph(model)
    x = quant_digits.x_test[:64]
    design = calibrate_design(graph, quant_digits.x_train[:128], Widths(bits, bits))
    qnet = QuantizedNet.from_float(graph, design)
    assert verify_export(qnet, qnet_forward(qnet), x) == 64


@pytest.mark.parametrize("overflow", [Overflow.WRAP, Overflow.SAT])
def test_lossy_accumulators_follow_hls_order(overflow, quant_digits) -> None:
    graph = _random_graph("digits_cnn")
    design = calibrate_design(graph, quant_digits.x_train[:128], Widths(6, 6))
    for layer in graph.weighted:  # an accumulator far too narrow: products round and overflow
        impl = design[layer.name]
        design = design.with_layer(layer.name, accum=FixedType(
            9, impl.accum.integer - 6, True, Rounding.RND, overflow))
    qnet = QuantizedNet.from_float(graph, design)
    assert verify_export(qnet, qnet_forward(qnet), quant_digits.x_test[:8]) == 8


def test_a_mismatch_names_layer_sample_and_element(quant_graph, quant_digits) -> None:
    design = calibrate_design(quant_graph, quant_digits.x_train[:128], Widths(4, 4))
    qnet = QuantizedNet.from_float(quant_graph, design)
    forward = qnet_forward(qnet)

    def off_by_one(x):
        out = dict(forward(x))
        name = "relu_6"
        bad = out[name].clone()
        bad[2, 1, 0, 3] += design.type_of(name).lsb
        out[name] = bad
        return out

    with pytest.raises(MismatchError, match=r"layer 'relu_6', sample 2, element \(1, 0, 3\)"):
        verify_export(qnet, off_by_one, quant_digits.x_test[:8])
    wrong = dataclasses.replace(qnet)  # unchanged copy still verifies
    assert verify_export(wrong, forward, quant_digits.x_test[:8]) == 8


@pytest.mark.parametrize("lossy", [False, True])
def test_conv1d_fixed_forward_equals_bit_accurate(lossy) -> None:
    """Conv1d (stride 2, padding) reads its Window like conv2d: one row of an image, and a
    Linear over the sequence's last axis reads each position as one vector; with a narrow
    accumulator the products are summed in (k, c) order, as the RTL does."""
    torch.manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3, stride=2, padding=1),
                                torch.nn.ReLU(), torch.nn.Linear(6, 5), torch.nn.Flatten(),
                                torch.nn.Linear(15, 4))
    x = np.random.default_rng(4).uniform(-1, 1, (24, 2, 12))
    graph = Graph.from_torch(model.eval(), (2, 12))
    design = calibrate_design(graph, x, Widths(6, 6))
    if lossy:
        for layer in graph.weighted:
            impl = design[layer.name]
            design = design.with_layer(layer.name, accum=FixedType(
                8, impl.accum.integer - 5, True, Rounding.RND, Overflow.SAT))
    qnet = QuantizedNet.from_float(graph, design)
    assert verify_export(qnet, qnet_forward(qnet), x) == 24
