"""NaN and Inf are refused by name wherever numbers come in: dataset files, weight files,
training, and the inputs of eval / emit --samples / rtl --sim, before anything is
written (issue 23, item 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from codesign.cli.main import main
from codesign.data import load_dataset
from codesign.errors import CodesignError, DatasetError
from codesign.finite import describe_nonfinite

BAD_AT = (3, 0, 2, 5)

EXPLODING_MODEL = '''
import torch
from torch import nn


def exploding():
    """Logits of about 1e38 * 64 overflow float32: the first loss is NaN."""
    layer = nn.Linear(64, 10)
    with torch.no_grad():
        layer.weight.fill_(1e38)
    return nn.Sequential(nn.Flatten(), layer)


def small():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
'''


def run(capsys, *argv: object) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def digits_npz(path: Path, split: str = "x_test", value: float = np.nan) -> Path:
    """The digits splits in an .npz, one value of `split` replaced by `value`."""
    d = load_dataset("digits")
    arrays = {"x_train": d.x_train, "y_train": d.y_train, "x_test": d.x_test,
              "y_test": d.y_test, "x_val": d.x_val, "y_val": d.y_val}
    arrays[split] = arrays[split].copy()
    arrays[split][BAD_AT] = value
    np.savez(path, **arrays)
    return path


def test_describe_nonfinite_counts_and_locates() -> None:
    x = np.zeros((4, 3))
    assert describe_nonfinite(x) is None
    assert describe_nonfinite(np.arange(5)) is None  # integers are always finite
    x[2, 1], x[3, 0], x[3, 2] = np.nan, np.inf, -np.inf
    assert describe_nonfinite(x) == ("3 non-finite values (1 NaN, 2 Inf), the first at "
                                     "index (2, 1)")
    assert describe_nonfinite(torch.tensor([0.0, float("nan")])) == (
        "1 non-finite value (1 NaN, 0 Inf), the first at index 1")


@pytest.mark.parametrize("split", ["x_train", "x_val", "x_test"])
@pytest.mark.parametrize("value", [np.nan, -np.inf])
def test_dataset_loader_names_file_split_count_and_index(tmp_path, split, value) -> None:
    path = digits_npz(tmp_path / "bad.npz", split, value)
    with pytest.raises(DatasetError) as err:
        load_dataset(str(path))
    msg = str(err.value)
    nan = int(np.isnan(value))
    assert str(path) in msg and f"{split} holds 1 non-finite value ({nan} NaN, {1 - nan} Inf)" \
        in msg and f"index {BAD_AT}" in msg


def test_training_stops_when_the_loss_goes_nonfinite(capsys, tmp_path) -> None:
    """`train` saves nothing rather than NaN weights."""
    model = tmp_path / "net.py"
    model.write_text(EXPLODING_MODEL)
    out = tmp_path / "w.pt"
    code, err = run(capsys, "train", f"{model}:exploding", "--input-shape", "1,8,8",
                    "--epochs", "1", "--out", out)
    assert code == 1 and "diverged: the loss became nan at epoch 1, step 1" in err, err
    assert "Traceback" not in err and not out.exists()


def test_quantize_refuses_nan_weights_by_parameter(capsys, tmp_path) -> None:
    model = tmp_path / "net.py"
    model.write_text(EXPLODING_MODEL)
    state = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).state_dict()
    state["1.bias"][7] = float("nan")
    weights = tmp_path / "nan.pt"
    torch.save(state, weights)
    out = tmp_path / "q"
    code, err = run(capsys, "quantize", f"{model}:small", "--input-shape", "1,8,8",
                    "--weights", weights, "--uniform", "8", "--out", out)
    assert code == 1, err
    assert f"weights {weights}: parameter '1.bias' holds 1 non-finite value (1 NaN, 0 Inf), " \
           "the first at index 7" in err
    assert not out.exists()


@pytest.fixture(scope="module")
def design(tmp_path_factory, digits_qnet8) -> Path:
    folder = tmp_path_factory.mktemp("nonfinite_design")
    digits_qnet8.save(folder)
    return folder / "design.yaml"


def test_bit_accurate_model_refuses_nonfinite_inputs(digits_qnet8) -> None:
    x = np.zeros((3, 1, 8, 8))
    x[2, 0, 4, 1] = np.inf
    with pytest.raises(CodesignError, match=r"1 non-finite value \(0 NaN, 1 Inf\), the first "
                                            r"at index \(2, 0, 4, 1\)"):
        digits_qnet8.predict(x)


def test_eval_refuses_a_dataset_with_nan(capsys, tmp_path, design) -> None:
    data = digits_npz(tmp_path / "nan.npz")
    code, err = run(capsys, "eval", "digits_cnn", "--design", design, "--dataset", data)
    assert code == 1 and "x_test holds 1 non-finite value" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["emit", "{design}", "--out", "{out}", "--samples", "4"],
    ["rtl", "{design}", "--out", "{out}", "--sim", "--samples", "4"],
    ["rtl", "{design}", "--out", "{out}", "--testbench", "{out}-tb", "--samples", "4"],
], ids=["emit", "rtl-sim", "rtl-testbench"])
def test_emit_and_rtl_check_their_samples_before_writing(capsys, tmp_path, design, argv):
    data = digits_npz(tmp_path / "nan.npz", "x_test")
    out = tmp_path / "out"
    code, err = run(capsys, *[a.format(design=design, out=out) for a in argv],
                    "--dataset", data)
    assert code == 1 and "x_test holds 1 non-finite value" in err, err
    assert not out.exists() and not Path(f"{out}-tb").exists()  # nothing half-written
