"""`codesign allocate` end to end on digits_cnn (real structural costs), its bad inputs,
and the designs it writes: valid, at the chosen widths, within budget by the estimate."""

from __future__ import annotations

import json

import pytest

from codesign.alloc.budget import parse_budget
from codesign.cli.main import main
from codesign.cost.estimate import estimate_structural
from codesign.design import DesignPoint
from codesign.devices import get_device
from codesign.qnet import QuantizedNet


@pytest.fixture(scope="module")
def cnn_table(tmp_path_factory, cnn_graph, make_table):
    path = tmp_path_factory.mktemp("tables") / "cnn.yaml"
    make_table(cnn_graph, "digits_cnn").save(path)
    return path


def _run(capsys, *argv):
    code = main(["allocate", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_frontier_files_and_designs_fit(tmp_path, capsys, cnn_table, cnn_graph):
    out = tmp_path / "alloc"
    code, stdout, _ = _run(capsys, "digits_cnn", "--sensitivity", cnn_table, "--device",
                           "xc7a35t", "--budget", "lut=0.4,dsp=0", "--frontier", "4",
                           "--method", "exact", "--method", "uniform", "--out", out, "--json")
    assert code == 0
    result = json.loads(stdout)  # one JSON object, nothing else on stdout
    for name in ("frontier.csv", "frontier.json", "frontier.png"):
        assert (out / name).stat().st_size > 0
    points = result["points"]
    assert {p["method"] for p in points} == {"exact", "uniform"}
    assert len((out / "frontier.csv").read_text().splitlines()) == len(points) + 1
    limit = parse_budget("lut=0.4", "xc7a35t").limits["lut"]
    exact = sorted((p for p in points if p["method"] == "exact"), key=lambda p: p["lut"])
    assert all(a["omega"] > b["omega"] for a, b in zip(exact, exact[1:], strict=False))
    for p in points:
        design = DesignPoint.load(p["design"])
        design.validate(cnn_graph)
        alloc = p["allocation"]
        for name, spec in alloc["layers"].items():
            if "w_bits" in spec:
                assert design[name].weight.width == spec["w_bits"]
                assert design[name].reuse == spec["reuse"]
                assert design[name].multiplier == spec["multiplier"]
        for name, bits in alloc["act_bits"].items():
            assert design.type_of(name).width == bits
        # the allocator's figures are `codesign cost`'s structural estimate of the design
        est = estimate_structural(QuantizedNet.from_float(cnn_graph, design),
                                  get_device("xc7a35t"))
        assert p["lut"] <= limit and est["dsp"] == p["dsp"] == 0
        assert est["lut"] == pytest.approx(p["lut"], rel=0.05)
        assert est["ff"] == pytest.approx(p["ff"], rel=0.05)
        assert est["latency"] == p["latency"]
    # a second run into the same directory is refused without --force
    code, _, err = _run(capsys, "digits_cnn", "--sensitivity", cnn_table, "--out", out)
    assert code == 1 and "--force" in err


def test_evaluate_measures_validation_accuracy(tmp_path, capsys, cnn_table):
    code, stdout, _ = _run(capsys, "digits_cnn", "--sensitivity", cnn_table, "--budget",
                           "lut=0.6,dsp=0", "--evaluate", "--epochs", "1", "--out",
                           tmp_path / "e", "--json")
    assert code == 0
    (point,) = json.loads(stdout)["points"]
    assert 0.5 < point["val_accuracy"] <= 1.0  # a trained digits CNN, not chance (0.1)
    saved = DesignPoint.load(point["quantized"])
    assert saved.notes["val_accuracy"] == point["val_accuracy"]


@pytest.mark.parametrize(("args", "message"), [
    (["--budget", "luts=0.5"], "unknown budget key 'luts'"),
    (["--device", "xc9nope"], "unknown device 'xc9nope'"),
    (["--budget", "lut=10,dsp=0"], "smallest feasible value of each limit"),
    (["--method", "probe"], "needs a probe sensitivity table"),
    (["--objective", "joint"], "needs a joint sensitivity table"),
    (["--confidence", "1.5"], "between 0 and 1"),
    (["--synth-check", "-1"], "--synth-check must be 0 or more"),
    (["--synth-check", "1", "--workers", "0"], "--workers positive"),
    (["--reuse", "0,2"], "reuse must be 'auto' or positive integers"),
    (["--reuse", "fold"], "reuse must be 'auto' or positive integers"),
    (["--fps", "0"], "--fps must be positive"),
])
def test_bad_inputs_are_clear_errors(tmp_path, capsys, cnn_table, args, message):
    code, _, err = _run(capsys, "digits_cnn", "--sensitivity", cnn_table, "--out",
                        tmp_path / "x", *args)
    assert code == 1
    assert message.lower() in err.lower()


def test_a_table_for_another_model_is_refused(tmp_path, capsys, cnn_table, make_table):
    code, _, err = _run(capsys, "digits_wide", "--sensitivity", cnn_table, "--out",
                        tmp_path / "x")
    assert code == 1 and "measured on 'digits_cnn', not 'digits_wide'" in err
    from codesign.models import load_model

    wide = make_table(load_model("digits_wide", progress=False).graph(), None)
    wide.save(tmp_path / "wide.yaml")
    code, _, err = _run(capsys, "digits_cnn", "--sensitivity", tmp_path / "wide.yaml",
                        "--out", tmp_path / "y")
    assert code == 1 and "for another model" in err


def test_fps_target_folds_every_layer_to_meet_it(tmp_path, capsys, cnn_table):
    """--fps is an interval limit at the part's clock; with reuse auto every returned
    design meets it and its layers fold past the old fixed 1..8 (issue 21)."""
    code, stdout, err = _run(capsys, "digits_cnn", "--sensitivity", cnn_table, "--device",
                             "xc7a35t", "--budget", "dsp=0", "--fps", "250000",
                             "--method", "exact", "--out", tmp_path / "a", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    target = 100e6 / 250000  # xc7a35t's default clock is 100 MHz: 400 cycles an image
    assert result["limits"]["interval"] == target
    (point,) = result["points"]
    assert point["interval"] <= target
    reuse = {n: s["reuse"] for n, s in point["allocation"]["layers"].items() if "w_bits" in s}
    assert max(reuse.values()) > 8  # folded as far as 400 cycles allow, not capped at 8
    design = DesignPoint.load(point["design"])
    assert all(design[n].reuse == r for n, r in reuse.items())
