"""The digits design through Verilator: bit-exact and cycle-exact, RF 1 and shared RF."""

from __future__ import annotations

import numpy as np

from codesign.rtl.latency import simulate
from codesign.rtl.network import plan_network
from codesign.verify.rtlsim import verify_rtl


def _check(result, samples: int) -> None:
    assert result.mismatch is None and result.layer_mismatch is None, result.to_dict()
    assert result.equal == samples


def test_digits_rf1_bit_and_cycle_exact(digits_qnet, digits_build, digits_data, tmp_path):
    rtl, build_dir = digits_build
    x = digits_data.x_test[:300]
    r = verify_rtl(digits_qnet, rtl, build_dir, x, mode="timing", work_dir=tmp_path)
    _check(r, 300)
    assert r.cycles_equal, (r.predicted, r.measured)
    # digits: 8x8 padded to 10x10 in the first conv, one position per cycle
    assert r.measured == r.predicted
    assert r.predicted["interval"] == 100


def test_digits_rf1_stress(digits_qnet, digits_build, digits_data, tmp_path):
    rtl, build_dir = digits_build
    x = digits_data.x_test[300:360]
    r = verify_rtl(digits_qnet, rtl, build_dir, x, mode="stress", seed=7, work_dir=tmp_path)
    _check(r, len(x))
    assert r.cycles_equal is None  # stress mode judges values only


def test_digits_shared_rf_bit_and_cycle_exact(digits_qnet_rf, digits_rf_build, digits_data,
                                              tmp_path):
    rtl, build_dir = digits_rf_build
    x = digits_data.x_test[:100]
    r = verify_rtl(digits_qnet_rf, rtl, build_dir, x, mode="timing", work_dir=tmp_path)
    _check(r, 100)
    assert r.cycles_equal, (r.predicted, r.measured)
    # sharing multipliers costs cycles: the interval grows past the RF 1 design's
    assert r.predicted["interval"] > 100
    r = verify_rtl(digits_qnet_rf, rtl, build_dir, x[:40], mode="stress", seed=3,
                   work_dir=tmp_path / "stress")
    _check(r, 40)


def test_mismatch_names_first_layer(digits_qnet, digits_build, digits_data, tmp_path):
    """Change one bias in the model, not the hardware: the report names that layer."""
    from codesign.qnet import QuantizedNet

    rtl, build_dir = digits_build
    first = digits_qnet.graph.weighted[0].name
    biases = dict(digits_qnet.biases)
    b = biases[first].copy()
    b[2] = b[2] + 64 if b[2] < 0 else b[2] - 64
    biases[first] = b
    wrong = QuantizedNet(digits_qnet.graph, digits_qnet.design, digits_qnet.weights, biases)
    r = verify_rtl(wrong, rtl, build_dir, digits_data.x_test[:5], mode="timing",
                   work_dir=tmp_path)
    assert r.equal < 5 and r.mismatch is not None
    lm = r.layer_mismatch
    assert lm is not None and lm["channel"] == 2 and lm["sample"] == 0
    assert lm["layer"] in [layer.name for layer in digits_qnet.graph.layers[1:3]]


def test_latency_model_closed_form_per_engine(digits_qnet):
    """Alone, each window engine follows its closed form; the network's interval is
    the slowest engine's when nothing else interferes (digits RF 1)."""
    from codesign.rtl.engines import isolated_window_cycles
    from codesign.rtl.network import Plan

    plan = plan_network(digits_qnet)
    for e in plan.engines:
        s_in = plan.streams[e.inputs[0]]
        s_out = plan.streams[e.output]
        alone = Plan([s_in, s_out], [e], s_in.id, s_out.id)
        t = simulate(alone, 3)
        form = isolated_window_cycles(e.timing)
        assert t.in_edges[0] == form["first_input"]
        assert t.out_edges[s_out.beats - 1] == form["last_output"]
        assert t.intervals()[-1] == form["interval"] == e.cycles_per_image()
    t = simulate(plan, 4)
    assert t.intervals()[-1] == max(e.cycles_per_image() for e in plan.engines)
    assert np.all(np.diff(t.out_edges) > 0)
