"""hls4ml C simulation == bit-accurate model, every output of every sample (integers).

Each network is compiled once (conftest's pool); these tests read the results.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.xdist_group("hls4ml")


def _result(hls_results: dict, case: str) -> dict:
    r = hls_results[case].result()
    assert "crash" not in r, f"{case} crashed (exit {r.get('crash')}):\n{r.get('stderr')}"
    return r


def test_csim_bit_identical(hls_case: str, hls_results: dict) -> None:
    r = _result(hls_results, hls_case)
    assert r["mismatch"] is None, f"{hls_case}: {r['mismatch']} (layers {r['layers']})"
    assert r["identical_outputs"] == r["outputs"] > 0
    assert r["identical_samples"] == r["samples"]
    assert r["samples"] >= 1000


def test_hls4ml_flatten_pitfall_is_caught_and_named(hls_results: dict) -> None:
    """Without our workaround hls4ml (io_parallel) permutes the dense weights after a
    flatten, so a saturating accumulator adds in another order: the verifier must catch
    it and name the dense layer (this is why emit_hls keeps the transpose there)."""
    r = _result(hls_results, "pitfall:order:parallel")
    assert not r["ok"]
    assert r["first_mismatch"]["layer"] == "dense", r["mismatch"]
    assert 0 < r["identical_outputs"] < r["outputs"]


def test_cli_emit_csim_json(hls_results: dict) -> None:
    r = _result(hls_results, "cli:digits_cnn:stream")
    assert r["rc"] == 0, r["stderr"]
    out = json.loads(r["stdout"])  # exactly one JSON object on stdout
    assert out["csim"] == {"samples": 1000, "outputs": 10000, "identical_outputs": 10000,
                           "identical_samples": 1000, "ok": True}
    assert out["io"] == "stream" and out["backend"] == "Vitis"
    assert out["part"] == "xc7a35tcpg236-1"
    assert r["rewrite_rc"] == 0, r["rewrite_stderr"]  # our own directory may be rewritten
    assert {"build_prj.tcl", "firmware", "myproject_test.cpp", "hls4ml_config.yml"} <= set(
        r["files"])


def test_stress_networks_are_sensitive() -> None:
    """The stress networks really exercise the rules they are for (model only, fast):
    another addition order changes the saturating sums, the lossy average pool rounds and
    saturates, and its division by 9 truncates."""
    from randnet import stress_qnet

    from codesign import bitaccurate as ba
    from codesign.design import lossless_avg_accum

    qnet, x = stress_qnet("order")
    values = qnet.forward_int(x, return_all=True)
    layer, d = qnet.graph["dense"], qnet.design
    c, h, w = qnet.graph["conv"].out_shape
    perm = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).ravel()
    wm = ba.weight_matrix(layer, qnet.weights["dense"])
    args = (qnet.biases["dense"], d.type_of("flatten"), d["dense"], layer.terms)
    torch_order = ba.mac(values["flatten"], wm, *args)
    hwc_order = ba.mac(values["flatten"][:, perm], wm[perm], *args)
    assert (torch_order != hwc_order).sum() > 10

    qnet, x = stress_qnet("avgpool")
    values = qnet.forward_int(x, return_all=True)
    pool = qnet.graph["pool_lossy"]
    x_t = qnet.design.type_of("pool_exact")
    exact = qnet.design.with_layer("pool_lossy", accum=lossless_avg_accum(x_t, pool.window))
    lossless = ba.run_avgpool(pool, (values["pool_exact"], x_t), exact["pool_lossy"])
    assert (lossless != values["pool_lossy"]).mean() > 0.05
    assert (values["pool_exact"] < 0).any()  # truncation toward zero is exercised
