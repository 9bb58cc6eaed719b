"""`codesign cost`: per-layer rows that add up to the totals, % of the device, warnings."""

from __future__ import annotations

import dataclasses
import json

import pytest

from codesign.cli.main import main
from codesign.cost import FastCostModel
from codesign.rtl.latency import simulate
from codesign.rtl.network import plan_network


@pytest.fixture(scope="module")
def digits_design(digits_qnet8, tmp_path_factory):
    return digits_qnet8.save(tmp_path_factory.mktemp("cost") / "d")


@pytest.fixture(scope="module")
def digits_unpipelined(digits_qnet8, tmp_path_factory):
    """The 8-bit digits design at a clock its adder graphs meet without pipeline stages:
    the fast model's cycles (which do not solve the graphs, so count no stages) are exact
    on it."""
    slow = dataclasses.replace(digits_qnet8,
                               design=dataclasses.replace(digits_qnet8.design, clock_mhz=20.0))
    assert not any("PIPE" in e.timing for e in plan_network(slow).engines)
    return slow, slow.save(tmp_path_factory.mktemp("cost") / "slow")


def test_cost_json_rows_add_up_and_match_the_model(digits_unpipelined, capsys):
    digits_qnet8, digits_design = digits_unpipelined
    assert main(["cost", str(digits_design), "--device", "xc7z020", "--json", "--fast"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["device"] == "xc7z020" and r["source"] == "estimate" and r["model"] == "fast"
    names = [layer.name for layer in digits_qnet8.graph.layers]
    assert [row["layer"] for row in r["layers"]] == names
    for key in ("lut", "ff", "dsp", "bram", "latency"):
        assert r[key] == sum(row[key] for row in r["layers"])
    assert r["interval"] == max(row["interval"] for row in r["layers"])
    exact = simulate(plan_network(digits_qnet8), 2).summary()  # the closed form's figures
    assert (r["latency"], r["interval"]) == (exact["latency"], exact["interval"])
    conv = digits_qnet8.graph.weighted[0]
    impl = digits_qnet8.design[conv.name]
    direct = FastCostModel(digits_qnet8.graph, "xc7z020").layer_costs(
        conv.name, impl.weight.width, digits_qnet8.design.input.width, impl.result.width,
        impl.reuse, False, accum_bits=impl.accum.width, lossy=False)
    row = next(row for row in r["layers"] if row["layer"] == conv.name)
    assert row["lut"] == int(direct["lut"]) and row["w_bits"] == 8
    assert r["utilization"]["lut"] == pytest.approx(100 * r["lut"] / 53200, abs=0.01)
    assert r["carry"] is None  # not estimated: said so, never a zero


def test_cost_warns_over_100_percent(digits_design, tmp_path, capsys):
    small = tmp_path / "small.yaml"
    small.write_text("parts: {tiny-1: {family: xc7, lut: 500, ff: 100000, dsp: 10, bram: 1}}")
    assert main(["cost", str(digits_design), "--device", "tiny-1", "--device-file",
                 str(small), "--fast"]) == 0
    captured = capsys.readouterr()
    assert "LUT at" in captured.err and "does not fit" in captured.err
    assert "% of tiny-1" in captured.out and "total" in captured.out
    assert "FF at" not in captured.err


def test_cost_bad_input(digits_design, tmp_path, capsys):
    assert main(["cost", str(tmp_path / "none.yaml"), "--device", "xc7z020"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["cost", str(digits_design), "--device", "xc7z999"]) == 1
    assert "known devices" in capsys.readouterr().err


def _strict_json(text: str) -> dict:
    def refuse(constant: str):
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_part_without_dsps_gives_valid_json(digits_qnet8, tmp_path, capsys):
    """A design using DSPs on a part with none: null and a warning, never Infinity (not
    JSON); a part with no LUTs is refused when its file is read (issue 23, item 9)."""
    first = digits_qnet8.graph.weighted[0].name
    dsp = dataclasses.replace(digits_qnet8, design=digits_qnet8.design.with_layer(
        first, reuse=3, multiplier="dsp")).save(tmp_path / "d")
    parts = tmp_path / "parts.yaml"
    parts.write_text("parts: {nodsp-1: {family: xc7, lut: 20000, ff: 40000, dsp: 0, bram: 0},"
                     " nolut-1: {family: xc7, lut: 0, ff: 40000, dsp: 10, bram: 10}}")
    assert main(["cost", str(dsp), "--device", "nodsp-1", "--device-file", str(parts),
                 "--json", "--fast"]) == 1
    err = _strict_json(capsys.readouterr().out)["error"]
    assert "nolut-1: lut is 0" in err
    parts.write_text("parts: {nodsp-1: {family: xc7, lut: 20000, ff: 40000, dsp: 0, bram: 0}}")
    assert main(["cost", str(dsp), "--device", "nodsp-1", "--device-file", str(parts),
                 "--json", "--fast"]) == 0
    r = _strict_json(capsys.readouterr().out)
    assert r["dsp"] > 0 and r["utilization"]["dsp"] is None
    assert any(w.startswith("DSP: ") and "has none" in w for w in r["warnings"])
