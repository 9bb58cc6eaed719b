"""`codesign sensitivity`: writes a table the allocator can load; user errors exit 1."""

from __future__ import annotations

import json

import pytest

from codesign.cli.main import main
from codesign.sensitivity.table import SensitivityTable

FAST = ["--min-iters", "2", "--max-iters", "2", "--batches", "1", "--batch-size", "32",
        "--no-cache"]


@pytest.mark.usefixtures("digits_cnn_trained")
@pytest.mark.parametrize("method", ["hessian", "joint", "probe"])
def test_writes_a_loadable_table(tmp_path, capsys, method):
    out, plot = tmp_path / "t.yaml", tmp_path / "t.png"
    rc = main(["sensitivity", "digits_cnn", "--method", method, "--bits", "8,2,4",
               "--out", str(out), "--plot", str(plot), "--json", *FAST])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    table = SensitivityTable.load(out)
    assert table.method == method and table.bits == (2, 4, 8) and table.model == "digits_cnn"
    assert table.weighted() == ["conv2d_0", "conv2d_4", "dense_9"]
    assert printed["layers"]["conv2d_0"]["weight"]["2"] == table.omega("conv2d_0", 2)
    assert "relu_2" in table.layers and table.layers["relu_2"].act is not None
    assert plot.stat().st_size > 1000


@pytest.mark.usefixtures("digits_cnn_trained")
def test_user_errors_exit_1(tmp_path, capsys):
    assert main(["sensitivity", "digits_cnn", "--bits", "2,x", *FAST]) == 1
    assert "--bits '2,x' is not a list of widths" in capsys.readouterr().err
    out = tmp_path / "t.yaml"
    out.write_text("mine")
    assert main(["sensitivity", "digits_cnn", "--out", str(out), *FAST]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_text() == "mine"
    assert main(["sensitivity", "digits_cnn", "--min-iters", "0", *FAST[2:]]) == 1
    assert "min_iters must be a positive integer, not 0" in capsys.readouterr().err
    assert main(["sensitivity", "digits_cnn", "--threads", "0", *FAST]) == 1
    assert "threads must be a positive integer, not 0" in capsys.readouterr().err


def test_unknown_estimator_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sensitivity", "digits_cnn", "--estimator", "exact"])
    assert exc.value.code == 2
    assert "invalid choice: 'exact'" in capsys.readouterr().err


def test_unknown_method_is_a_usage_error():
    with pytest.raises(SystemExit) as exc:
        main(["sensitivity", "digits_cnn", "--method", "magic"])
    assert exc.value.code == 2


@pytest.mark.usefixtures("digits_cnn_trained")
def test_unconverged_trace_is_reported(capsys):
    args = ["sensitivity", "digits_cnn", "--bits", "2,8", "--json", "--no-activations"]
    assert main([*args, *FAST]) == 0  # 2 draws cannot reach the default tolerance
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert len(printed["warnings"]) == 1
    assert printed["warnings"][0].startswith("weight Hessian trace: stopped at max_iters = 2 "
                                             "draws unconverged")
    assert "warning: weight Hessian trace: stopped at max_iters = 2" in captured.err
    assert main([*args, *FAST, "--tol", "0"]) == 0  # a fixed draw count: nothing to say
    assert json.loads(capsys.readouterr().out)["warnings"] == []
