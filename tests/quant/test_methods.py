"""Every method ends in a QuantizedNet on fixed-point types whose bit-accurate output
equals the method's own quantized torch forward, bit for bit, on the whole test set."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from codesign.errors import CodesignError, DesignError
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths
from codesign.quant.export import verify_export
from codesign.quant.methods import METHODS, MethodSettings, run_method


@pytest.fixture(scope="module")
def results(job3, quick):
    return {name: run_method(name, job3, quick) for name in METHODS}


@pytest.mark.parametrize("method", list(METHODS))
def test_export_is_bit_exact_on_the_test_set(method, results, quant_digits) -> None:
    res = results[method]
    assert verify_export(res.qnet, res.forward, quant_digits.x_test) == len(quant_digits.x_test)
    assert res.qnet.design.notes["method"] == method


@pytest.mark.parametrize("method", list(METHODS))
def test_saved_design_reloads_to_the_same_integers(method, results, quant_digits,
                                                   tmp_path) -> None:
    res = results[method]
    loaded = QuantizedNet.load(res.qnet.save(tmp_path / method))
    verify_export(loaded, res.forward, quant_digits.x_test[:64])
    widths = {n: i.weight.width for n, i in loaded.design.layers.items() if i.weight}
    assert set(widths.values()) == {3}  # the design's widths are kept
    assert all(i.result.width == 3 for n, i in loaded.design.layers.items())


@pytest.mark.parametrize("method", list(METHODS))
def test_methods_beat_chance(method, results, quant_digits) -> None:
    acc = float((results[method].qnet.predict(quant_digits.x_test) == quant_digits.y_test).mean())
    assert acc > 0.3, f"{method}: {acc:.3f}"


def test_adaround_changes_some_roundings(results) -> None:
    assert 0 < results["adaround"].notes["rounded_away_from_nearest"] < 0.5


def test_lsqplus_offsets_turn_pre_relu_results_unsigned(results) -> None:
    design = results["lsqplus"].qnet.design
    unsigned = results["lsqplus"].notes["offset_unsigned_layers"]
    assert unsigned, "the ReLU-fed results should keep the unsigned window"
    for name in unsigned:
        assert not design[name].result.signed
    assert design["dense_9"].result.signed  # its consumer is no ReLU: offset snaps to 0


def test_hwgq_types_are_unsigned_before_relus(results) -> None:
    design = results["hwgq"].qnet.design
    for name in ("conv2d_0", "conv2d_4"):
        assert not design[name].result.signed
        assert design["relu_" + str(int(name.split("_")[1]) + 2)].result.frac == \
            design[name].result.frac


def test_binary_weights_are_plus_minus_a_channel_scale(results) -> None:
    qnet = results["binary"].qnet
    assert results["binary"].notes["binary_layers"] == ["conv2d_4"]
    w = qnet.weights["conv2d_4"].reshape(16, -1)
    mags = np.abs(w)
    assert np.all(mags > 0) and np.all(mags == mags[:, :1])


def test_datafree_uses_synthetic_inputs(results) -> None:
    assert results["datafree"].notes["calibration_data"] == "synthetic"


def test_unknown_method_lists_the_valid_ones(job3) -> None:
    with pytest.raises(CodesignError, match="choose one of calibrate, datafree, adaround"):
        run_method("xnor", job3)


def test_binary_needs_two_bits(job3, quick) -> None:
    job = dataclasses.replace(job3, widths=Widths(1, 3))
    with pytest.raises(DesignError, match="at least 2 bits"):
        run_method("binary", job, dataclasses.replace(quick, binary_first_last=True))


def test_mixed_widths_are_kept(job3, quick, quant_digits) -> None:
    widths = Widths(3, 3, per_layer_weight={"conv2d_0": 4, "conv2d_4": 2, "dense_9": 3},
                    per_layer_act={"conv2d_0": 4, "relu_2": 2, "conv2d_4": 3, "relu_6": 3})
    res = run_method("lsq", dataclasses.replace(job3, widths=widths), quick)
    design = res.qnet.design
    assert [design[n].weight.width for n in ("conv2d_0", "conv2d_4", "dense_9")] == [4, 2, 3]
    assert design["relu_2"].result.width == 2
    verify_export(res.qnet, res.forward, quant_digits.x_test)


def test_datafree_needs_batchnorm(job3, quick) -> None:
    import torch

    job = dataclasses.replace(job3, module=torch.nn.Sequential(torch.nn.Flatten()))
    with pytest.raises(CodesignError, match="no BatchNorm"):
        run_method("datafree", job, quick)


def test_calibration_choices_apply(job3, quick) -> None:
    types = {c: run_method("calibrate", job3, dataclasses.replace(quick, calibration=c))
             .qnet.design for c in ("max", "mse")}
    # MSE never gives more integer bits than max-abs (it searches downwards from it)
    for name, impl in types["max"].layers.items():
        assert types["mse"][name].result.integer <= impl.result.integer


def test_settings_are_checked() -> None:
    from codesign.quant.qat import TrainSettings

    with pytest.raises(CodesignError, match="snap_epochs"):
        TrainSettings(epochs=2, snap_epochs=3)
    assert MethodSettings().calibration is None
