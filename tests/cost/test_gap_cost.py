"""What a global average pool costs: `codesign cost` of a 16-channel 8x8 mean built as an
accumulator per channel (GlobalAvgPool2d, hw/cs_gap.sv) against the same mean as a
full-image window (AvgPool2d, cs_pool: a 7-row line buffer and 64 adders per channel),
and the accumulator's structural estimate against Yosys."""

from __future__ import annotations

import json

import numpy as np
import pytest

from codesign.cli.main import main
from codesign.devices import get_device
from codesign.ir import layers as L
from codesign.ir.graph import Graph
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, calibrate_design

DEVICE = "xc7a100t"


def _mean_net(kind: type[L.AvgPool2d], head: bool = True) -> QuantizedNet:
    """16x8x8 -> the mean of each channel (-> a 16 -> 4 dense layer), calibrated at 8 bits."""
    r = np.random.default_rng(0)
    layers: list[L.Layer] = [
        L.Input("input", (), (16, 8, 8)),
        kind("pool", ("input",), (16, 1, 1), kernel=(8, 8), stride=(8, 8))]
    if head:
        layers += [L.Flatten("flat", ("pool",), (16,)),
                   L.Dense("fc", ("flat",), (4,), weight=r.normal(0, .3, (4, 16)),
                           bias=np.zeros(4))]
    graph = Graph(tuple(layers))
    x = r.uniform(-1, 1, (32, 16, 8, 8)).astype(np.float32)
    return QuantizedNet.from_float(graph, calibrate_design(graph, x, Widths(8, 8)))


def _cost(qnet: QuantizedNet, folder, capsys, *extra: str) -> dict:
    design = qnet.save(folder)
    assert main(["cost", str(design), "--device", DEVICE, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("model", ["structural", "fast"])
def test_a_global_pool_costs_a_tenth_of_a_full_image_window(model, tmp_path, capsys):
    extra = ("--fast",) if model == "fast" else ()
    new = _cost(_mean_net(L.GlobalAvgPool2d), tmp_path / "gap", capsys, *extra)
    old = _cost(_mean_net(L.AvgPool2d), tmp_path / "window", capsys, *extra)
    pool_new, pool_old = (next(row for row in r["layers"] if row["layer"] == "pool")
                          for r in (new, old))
    print(f"{model}: 16x8x8 mean as cs_gap {pool_new['lut']} LUT {pool_new['ff']} FF, "
          f"as cs_pool {pool_old['lut']} LUT {pool_old['ff']} FF")
    assert pool_new["lut"] < pool_old["lut"] / 10, (pool_new, pool_old)
    assert pool_new["ff"] < pool_old["ff"] / 10, (pool_new, pool_old)
    assert new["lut"] < old["lut"] / 3  # the whole design, the dense head included
    # the same cycles: one beat per cycle in, the mean one edge after the last beat
    assert new["interval"] == old["interval"] == 64
    assert new["latency"] < old["latency"]


def test_structural_estimate_of_cs_gap_is_within_its_band_of_yosys(tmp_path):
    """Yosys 0.70 (cached by content) on the accumulator alone: LUT and FF inside the
    estimate's 95% band (docs/cost.md), FF within 2%."""
    from codesign.cost.estimate import estimate_structural
    from codesign.synth.run import synthesize

    qnet = _mean_net(L.GlobalAvgPool2d, head=False)
    device = get_device(DEVICE)
    measured = synthesize(qnet, tmp_path / "synth", device, place_and_route=False)
    est = estimate_structural(qnet, device)
    print(f"cs_gap 16x8x8: Yosys {measured['lut']} LUT {measured['ff']} FF, estimate "
          f"{est['lut']} LUT {est['ff']} FF")
    for k in ("lut", "ff"):
        assert est["band"][k]["low"] <= measured[k] <= est["band"][k]["high"], (k, est["band"])
    assert abs(est["ff"] - measured["ff"]) <= 0.02 * measured["ff"]
