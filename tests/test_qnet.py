"""QuantizedNet: files, validation, and the uniform 8-bit promise on digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from codesign.data import load_dataset
from codesign.errors import CodesignError, DesignError
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import integer_bits
from codesign.train import evaluate


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def qnet8(digits_qnet8) -> QuantizedNet:
    return digits_qnet8


def test_uniform_8bit_is_within_half_a_point_of_float(qnet8, digits, digits_cnn_trained):
    float_acc = evaluate(digits_cnn_trained, digits.x_test, digits.y_test)
    q_acc = float(np.mean(qnet8.predict(digits.x_test) == digits.y_test))
    assert float_acc >= 0.97
    assert abs(q_acc - float_acc) <= 0.005, (float_acc, q_acc)


def test_bit_accurate_output_tracks_float_output(qnet8, digits, digits_cnn_trained):
    """8-bit outputs stay close to float: the types cover the ranges (no saturation)."""
    x = digits.x_test[:64]
    with torch.no_grad():
        ref = digits_cnn_trained(torch.as_tensor(x)).numpy()
    out = qnet8.forward(x)
    scale = np.abs(ref).max()
    assert np.max(np.abs(out - ref)) < 0.1 * scale


def test_save_load_round_trip(qnet8, tmp_path: Path, digits) -> None:
    path = qnet8.save(tmp_path / "d8")
    assert path.name == "design.yaml" and (tmp_path / "d8" / "quantized.npz").is_file()
    again = QuantizedNet.load(path)
    assert again.design.weights == "quantized.npz"
    assert again.graph.names == qnet8.graph.names
    for name in qnet8.weights:
        np.testing.assert_array_equal(again.weights[name], qnet8.weights[name])
        np.testing.assert_array_equal(again.biases[name], qnet8.biases[name])
    x = digits.x_test[:50]
    np.testing.assert_array_equal(again.forward_int(x), qnet8.forward_int(x))


def test_save_never_overwrites_without_force(qnet8, tmp_path: Path) -> None:
    qnet8.save(tmp_path)
    before = (tmp_path / "design.yaml").read_text()
    with pytest.raises(CodesignError, match="already exists.*--force"):
        qnet8.save(tmp_path)
    assert (tmp_path / "design.yaml").read_text() == before
    qnet8.save(tmp_path, force=True)


def test_load_errors_name_the_file(qnet8, tmp_path: Path) -> None:
    path = qnet8.save(tmp_path)
    (tmp_path / "quantized.npz").unlink()
    with pytest.raises(CodesignError, match="quantized.npz does not exist"):
        QuantizedNet.load(path)
    design_only = qnet8.design.save(tmp_path / "plain.yaml")
    with pytest.raises(CodesignError, match="names no quantized weights"):
        QuantizedNet.load(design_only)


def test_out_of_range_mantissas_are_refused(qnet8) -> None:
    name = qnet8.graph.weighted[0].name
    bad = dict(qnet8.weights)
    bad[name] = bad[name].copy()
    bad[name].flat[0] = qnet8.design[name].weight.max_int + 1
    with pytest.raises(DesignError, match=f"layer '{name}': weight mantissas leave the range"):
        QuantizedNet(qnet8.graph, qnet8.design, bad, qnet8.biases)


def test_missing_integer_biases_are_named(qnet8) -> None:
    name = qnet8.graph.weighted[0].name
    biases = {k: v for k, v in qnet8.biases.items() if k != name}
    with pytest.raises(DesignError, match=f"layer '{name}': no integer biases$"):
        QuantizedNet(qnet8.graph, qnet8.design, qnet8.weights, biases)


@pytest.mark.parametrize(("magnitude", "signed", "bits"),
                         [(1.0, True, 2), (0.99, True, 1), (1.0, False, 1), (0.49, False, -1),
                          (3.5, True, 3), (0.0, True, 1), (0.0, False, 0)])
def test_integer_bits_cover_the_magnitude(magnitude, signed, bits) -> None:
    assert integer_bits(magnitude, signed) == bits
