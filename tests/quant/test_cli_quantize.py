"""`codesign quantize --method`: every method reachable, one JSON object, checked export."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from codesign.cli.main import main
from codesign.data import load_dataset
from codesign.qnet import QuantizedNet
from codesign.quant.calibrate import Widths, calibrate_design
from codesign.quant.methods import METHODS

QUICK = ["--epochs", "1", "--snap-epochs", "1", "--calib-samples", "128"]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("method", ["lsq", "adaround", "datafree"])
def test_method_writes_a_verified_design(capsys, tmp_path: Path, method) -> None:
    out_dir = tmp_path / method
    code, out, _ = _run(capsys, "quantize", "digits_cnn", "--uniform", "3", "--method", method,
                        "--out", str(out_dir), "--json", *QUICK)
    assert code == 0
    result = json.loads(out)
    assert result["method"] == method and result["verified_samples"] == 359
    qnet = QuantizedNet.load(result["design"])
    assert qnet.design.notes["method"] == method
    data = load_dataset("digits")
    acc = float((qnet.predict(data.x_test) == data.y_test).mean())
    assert acc == result["bit_accurate_accuracy"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_training_progress_bar_only_on_a_terminal(capsys, monkeypatch, tmp_path: Path) -> None:
    """In a pipe or a log: no bar (no carriage returns); on a terminal, tqdm's bar with its
    percentage."""
    argv = ["quantize", "digits_cnn", "--uniform", "4", "--method", "dorefa", *QUICK]
    code, out, err = _run(capsys, *argv, "--out", str(tmp_path / "d"))
    assert code == 0 and "\r" not in err and "%|" not in err
    assert "bit-accurate test accuracy" in out
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main([*argv, "--out", str(tmp_path / "t")]) == 0
    assert "%|" in terminal.getvalue()


def test_uniform_without_method_is_unchanged(capsys, tmp_path: Path, quant_graph) -> None:
    code, _, _ = _run(capsys, "quantize", "digits_cnn", "--uniform", "8", "--out",
                      str(tmp_path / "u"), "--json")
    assert code == 0
    qnet = QuantizedNet.load(tmp_path / "u" / "design.yaml")
    data = load_dataset("digits")
    design = calibrate_design(quant_graph, data.x_train[:512], Widths(8, 8))
    ref = QuantizedNet.from_float(quant_graph, design)
    assert qnet.design.layers == design.layers and qnet.design.input == design.input
    for name in ref.weights:
        assert np.array_equal(qnet.weights[name], ref.weights[name])


def test_calibration_flag(capsys, tmp_path: Path) -> None:
    code, out, _ = _run(capsys, "quantize", "digits_cnn", "--uniform", "4", "--calibration",
                        "percentile", "--out", str(tmp_path / "p"), "--json")
    assert code == 0 and json.loads(out)["notes"]["calibration"] == "percentile"


@pytest.mark.parametrize("argv,code,message", [
    (["--method", "nope"], 2, "invalid choice"),
    (["--calibration", "kl"], 2, "invalid choice"),
    (["--method", "lsq", "--data-free"], 1, "--data-free applies to calibrate and adaround"),
    (["--method", "lsq", "--epochs", "2", "--snap-epochs", "3"], 1, "--snap-epochs"),
    (["--method", "noise", "--noise-sigma", "-1"], 1, "--noise-sigma"),
    (["--method", "adaround", "--adaround-iters", "0"], 1, "--adaround-iters"),
    (["--method", "binary", "--finetune-rounds", "-1"], 1, "--finetune-rounds"),
])
def test_bad_arguments(capsys, tmp_path: Path, argv, code, message) -> None:
    got, _, err = _run(capsys, "quantize", "digits_cnn", "--uniform", "3", "--out",
                       str(tmp_path / "x"), *argv)
    assert got == code and message in err and "Traceback" not in err


def test_help_lists_every_method(capsys) -> None:
    code, out, _ = _run(capsys, "quantize", "--help")
    assert code == 0
    for name in METHODS:
        assert name in out


def test_binary_writes_one_bit_weights(capsys, tmp_path: Path) -> None:
    from codesign.quant.binary import unpack

    code, out, _ = _run(capsys, "quantize", "digits_cnn", "--uniform", "3", "--method",
                        "binary", "--finetune-rounds", "1", "--out", str(tmp_path / "b"),
                        "--json", *QUICK)
    assert code == 0
    result = json.loads(out)
    qnet = QuantizedNet.load(result["design"])
    packed = np.load(result["binary_packed"])
    for name in result["notes"]["binary_layers"]:
        shape = tuple(packed[f"{name}.shape"])
        got = unpack(packed[f"{name}.signs"], packed[f"{name}.scales"], shape)
        assert np.array_equal(got, qnet.weights[name])
    assert result["notes"]["compression_vs_float32"] > 1
