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
    """Every method, run on data whose test split cannot be read as images: any method that
    selected, calibrated or stopped on the test set would fail here (they use train / val)."""
    data = job3.data
    blind = dataclasses.replace(job3, data=dataclasses.replace(
        data, x_test=np.empty((0, 3, 5, 5), np.float32), y_test=np.empty(0, np.int64)))
    return {name: run_method(name, blind, quick) for name in METHODS}


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


def test_binary_is_the_s5_pipeline(results, quick) -> None:
    """HWGQ (unsigned, power-of-two step) on the input and every ReLU-fed result; the
    layer-wise alternating rounds ran; 1-bit storage beats float32 by the stated ratio."""
    from codesign.quant.binary import compression_vs_float32

    res = results["binary"]
    design = res.qnet.design
    assert not design.input.signed and design.input.width == 3
    for name in ("conv2d_0", "conv2d_4"):
        assert not design[name].result.signed
    notes = res.notes
    assert notes["finetune_rounds"] == quick.finetune_rounds >= 1
    assert notes["finetune_seconds"] > 0 and notes["initial_training_seconds"] > 0
    bits = {n: m.size for n, m in res.qnet.weights.items()}
    stored = bits["conv2d_0"] * 3 + bits["dense_9"] * 3 + bits["conv2d_4"] + 16 * 2
    assert notes["compression_vs_float32"] == round(32 * sum(bits.values()) / stored, 2)
    assert compression_vs_float32(res.qnet, ["conv2d_4"]) == pytest.approx(
        notes["compression_vs_float32"], abs=0.01)


def test_layerwise_cache_gives_the_full_forward(job3, quick, quant_digits) -> None:
    import torch

    from codesign.quant.methods import _hwgq_acts
    from codesign.quant.qat import QatNet, _cached_prefix
    from codesign.quant.quantizers import BinaryWeight

    graph = job3.graph
    base = run_method("calibrate", job3, quick).qnet.design
    x = quant_digits.x_train[:32]
    net = QatNet(graph, base, {"conv2d_4": BinaryWeight(3, graph["conv2d_4"].weight)},
                 _hwgq_acts(graph, base, x, on_input=True))
    xt = torch.tensor(x, dtype=torch.float64)
    start = _cached_prefix(net, xt, "conv2d_4")
    assert set(start) == {"input", "conv2d_0", "relu_2", "maxpool2d_3"}
    with torch.no_grad():
        assert torch.equal(net(xt, start=start), net(xt))


def test_dorefa_quantizes_activations(results) -> None:
    design = results["dorefa"].qnet.design
    for relu in ("relu_2", "relu_6"):
        t = design[relu].result
        assert not t.signed and t.width == 3


def test_lsqplus_learns_its_offset(job3, quick) -> None:
    from codesign.quant.methods import _lsq_acts, _lsq_weights, _qat

    start = {}

    def build(base, cx):
        acts = _lsq_acts(job3.graph, base, offset=True, calib_x=cx)
        start.update({n: float(q.offset.detach()) for n, q in acts.items() if q.offset is not None})
        return _lsq_weights(job3.graph, base), acts

    net, _ = _qat(job3, quick, False, "lsqplus", build)
    assert set(start) == {"conv2d_0", "conv2d_4", "dense_9"}
    moved = {n: float(net.aq[n].offset.detach()) - v for n, v in start.items()}
    assert all(abs(d) > 0 for d in moved.values()), moved


def test_adaround_notes_its_objective(results, quick) -> None:
    notes = results["adaround"].notes
    assert notes["adaround_iters"] == quick.adaround_iters
    assert all(0 < v <= 1 for v in notes["objective_vs_nearest"].values())
    assert min(notes["objective_vs_nearest"].values()) < 1


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
    with pytest.raises(CodesignError, match="adaround_iters"):
        MethodSettings(adaround_iters=0)
    with pytest.raises(CodesignError, match="noise_sigma"):
        MethodSettings(noise_sigma=-0.5)
