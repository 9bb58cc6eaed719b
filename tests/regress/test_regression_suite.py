"""`codesign rtl --testbench`: the suite passes on the RTL it was made for, runs where
codesign cannot be imported, and fails on a changed weight, cast mode or register,
naming the first mismatch that an independent model of the mutation predicts."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from small import small_qnet

from codesign.cli.main import main
from codesign.fixed import Rounding
from codesign.qnet import QuantizedNet
from codesign.rtl.network import generate_rtl
from codesign.verify.testbench import write_testbench

FIRST = re.compile(r"first mismatch: sample (\d+), output index (\d+) \(beat \d+, channel \d+\): "
                   r"expected (-?\d+), actual (-?\d+)")


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    qnet, x = small_qnet()
    root = tmp_path_factory.mktemp("small")
    generate_rtl(qnet, root / "rtl")
    write_testbench(qnet, root / "rtl", root / "suite", x)
    return qnet, x, root


def _first_difference(golden: np.ndarray, other: np.ndarray) -> tuple[int, int, int, int]:
    """(sample, output index, expected, actual) of the first output that differs."""
    g, o = golden.reshape(len(golden), -1), other.reshape(len(other), -1)
    s, i = (int(v) for v in np.argwhere(g != o)[0])
    return s, i, int(g[s, i]), int(o[s, i])


def test_suite_passes_on_its_rtl(small, run_suite):
    _, _, root = small
    r = run_suite(root / "suite")
    assert r.code == 0 and "3 passed" in r.output, r.output
    for name in ("timing", "backpressure", "reset_mid_image"):
        xml = (root / "suite" / "results" / f"{name}.xml").read_text()
        assert "<testcase" in xml and "<failure" not in xml
        assert not (root / "suite" / "work" / name / "dump.fst").exists()


def _mutate_weight(rtl: Path, qnet: QuantizedNet) -> QuantizedNet:
    """Zero the first nonzero weight of output 0 of the first conv (a DSP product: a
    constant in its generated MAC module cs_mac0.sv)."""
    mac = (rtl / "cs_mac0.sv").read_text()
    m = re.search(r"assign p0_(\d+) = (\d+)'\(\$signed\((xe\d+)\) \* "
                  r"\$signed\((\d+)'h[0-9a-f]+\)\);", mac)
    assert m, "no constant product in cs_mac0.sv"
    term, width, xe, cw = m.groups()
    (rtl / "cs_mac0.sv").write_text(mac.replace(
        m.group(0), f"assign p0_{term} = {width}'($signed({xe}) * $signed({cw}'h0));", 1))
    layer = qnet.graph.weighted[0]
    w = qnet.weights[layer.name].copy()
    w.reshape(-1)[int(term)] = 0  # one input channel: output 0's term m is element m
    return QuantizedNet(qnet.graph, qnet.design, {**qnet.weights, layer.name: w}, qnet.biases)


def _mutate_cast(rtl: Path, qnet: QuantizedNet) -> QuantizedNet:
    """The dense result's rounding from RND (code 1) to TRN (code 0): its last RRND."""
    top = (rtl / "cs_top.sv").read_text()
    at = top.rindex(".RRND(1)")
    (rtl / "cs_top.sv").write_text(top[:at] + ".RRND(0)" + top[at + len(".RRND(1)"):])
    dense = qnet.graph.weighted[-1].name
    impl = qnet.design[dense]
    assert impl.result.rounding is Rounding.RND
    trn = type(impl.result)(impl.result.width, impl.result.integer, impl.result.signed,
                            Rounding.TRN, impl.result.overflow)
    return QuantizedNet(qnet.graph, qnet.design.with_layer(dense, result=trn), qnet.weights,
                        qnet.biases)


def _mutate_register(rtl: Path, qnet: QuantizedNet) -> None:
    """The max pool's output register becomes a wire (its data no longer held; its valid
    bit still is)."""
    pool = (rtl / "cs_pool.sv").read_text()
    line = ".out_valid(out_valid), .out_ready(out_ready), .out_data(out_data));"
    assert pool.count(line) == 1, "cs_pool.sv's output register (cs_out_reg) not found"
    (rtl / "cs_pool.sv").write_text(pool.replace(
        line, ".out_valid(out_valid), .out_ready(out_ready), .out_data());\n"
              "  assign out_data = res;"))
    return None


@pytest.mark.parametrize("mutation", ["weight", "cast", "register"])
def test_suite_fails_on_mutation(mutation, small, run_suite, tmp_path):
    qnet, x, root = small
    rtl = tmp_path / "rtl"
    shutil.copytree(root / "rtl", rtl)
    mutate = {"weight": _mutate_weight, "cast": _mutate_cast, "register": _mutate_register}
    model = mutate[mutation](rtl, qnet)
    waves = [] if mutation == "weight" else ["--no-waves"]  # one FST check is enough
    r = run_suite(root / "suite", "--rtl", str(rtl / "files.f"), "--top", "cs_top",
                  "-k", "timing", *waves)
    assert r.code == 1 and "1 failed" in r.output, r.output
    m = FIRST.search(r.output)
    assert m, r.output
    sample, index, expected, actual = (int(v) for v in m.groups())
    golden = qnet.forward_int(x)
    assert expected == golden.reshape(len(x), -1)[sample, index] != actual
    if model is not None:  # the model of the mutation predicts the first mismatch exactly
        assert (sample, index, expected, actual) == _first_difference(golden,
                                                                       model.forward_int(x))
    work = root / "suite" / "work" / "timing"
    report = json.loads((work / "report.json").read_text())["problem"]
    assert (report["sample"], report["output_index"]) == (sample, index)
    assert "<failure" in (root / "suite" / "results" / "timing.xml").read_text()
    if mutation == "weight":  # the kept waveform shows the wrong value at the reported time
        import pywellen

        wave = pywellen.Waveform(str(work / "dump.fst"))
        signals = {v.full_name: v.signal for v in wave.all_vars()}
        beat = signals["cs_top.out_data"].value_at(int(report["sim_time_ns"] * 1000))  # ps
        width = qnet.design.type_of(qnet.graph.output.name).width
        field = (beat >> (report["channel"] * width)) & ((1 << width) - 1)
        assert field - (field >> (width - 1) << width) == actual


def test_digits_suite_from_the_cli_runs_anywhere(digits_qnet8, run_suite, tmp_path, capsys):
    """The README's flow: generate with the CLI, move the suite, run it without codesign."""
    design = digits_qnet8.save(tmp_path / "d")
    assert main(["rtl", str(design), "--testbench", str(tmp_path / "tb"), "--samples", "30",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    tb = out["testbench"]
    assert tb["samples"] == 30 and tb["sources"] == "rtl/files.f"
    assert tb["expected_latency"] == out["predicted_latency"]
    moved = tmp_path / "elsewhere" / "regression"
    shutil.copytree(tmp_path / "tb", moved)
    r = run_suite(moved)
    assert r.code == 0 and "3 passed" in r.output, r.output


def test_suite_fails_when_a_cycle_count_moves(small, run_suite, tmp_path):
    """A retimed top (one more register stage before the output port): every value is
    still right, so backpressure passes, but the timing test names the moved latency."""
    _, _, root = small
    rtl = tmp_path / "rtl"
    shutil.copytree(root / "rtl", rtl)
    top = (rtl / "cs_top.sv").read_text()
    m = re.search(r"  assign out_valid = s(\d+)_valid;\n  assign s\1_ready = out_ready;\n"
                  r"  assign out_data = s\1_data;\n", top)
    assert m, "the output assigns of cs_top.sv not found"
    sid = m.group(1)
    width = int(re.search(rf"logic \[(\d+):0\] s{sid}_data;", top).group(1)) + 1
    stage = (f"  cs_fifo #(.W({width}), .DEPTH(2)) u_retimed (.clk(clk), .rst(rst), "
             f".in_valid(s{sid}_valid), .in_ready(s{sid}_ready), .in_data(s{sid}_data), "
             ".out_valid(out_valid), .out_ready(out_ready), .out_data(out_data));\n")
    (rtl / "cs_top.sv").write_text(top.replace(m.group(0), stage))
    latency = json.loads((root / "suite" / "suite.json").read_text())["timing"]["latency"]
    r = run_suite(root / "suite", "--rtl", str(rtl / "files.f"), "-k",
                  "timing or backpressure", "--no-waves")
    assert r.code == 1 and "1 failed, 1 passed" in r.output, r.output
    assert (f"timing: latency moved: image 0 expected {latency} cycles, measured "
            f"{latency + 1}") in r.output
