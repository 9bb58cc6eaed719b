"""The command line: the --json contract, exit codes, and messages for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from codesign.cli.main import main
from codesign.data import load_dataset

USER_MODEL = '''
import torch.nn as nn

def tiny():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10))

def broken():
    raise ValueError("no such layer size")

def not_a_module():
    return 42
'''


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out  # exactly one JSON object on stdout
    return json.loads(lines[0])


@pytest.fixture
def user_model(tmp_path: Path) -> Path:
    path = tmp_path / "mymodel.py"
    path.write_text(USER_MODEL)
    return path


@pytest.fixture(scope="module")
def design8(tmp_path_factory, digits_cnn_trained) -> Path:
    out = tmp_path_factory.mktemp("d8")
    assert main(["quantize", "digits_cnn", "--uniform", "8", "--out", str(out), "--force"]) == 0
    return out / "design.yaml"


def test_console_script_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "codesign", "--help"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0
    for cmd in ("train", "graph", "quantize", "eval"):
        assert cmd in proc.stdout


@pytest.mark.parametrize("cmd", ["train", "graph", "quantize", "eval", "zoo", "report"])
def test_every_command_has_help(capsys, cmd: str) -> None:
    code, out, _ = run(capsys, cmd, "--help")
    assert code == 0 and "usage: codesign " + cmd in out


def test_graph_json(capsys) -> None:
    result = run_json(capsys, "graph", "digits_cnn")
    kinds = [row["kind"] for row in result["layers"]]
    assert kinds[0] == "input" and kinds[-1] == "dense" and "batchnorm" not in kinds
    assert result["params"] == sum(row["params"] for row in result["layers"]) > 1000
    assert result["input_shape"] == [1, 8, 8]


def test_graph_text_table(capsys) -> None:
    code, out, _ = run(capsys, "graph", "digits_cnn")
    assert code == 0 and "MACs per inference" in out and "conv2d" in out


def test_quantize_then_eval(capsys, design8: Path) -> None:
    assert design8.is_file() and (design8.parent / "quantized.npz").is_file()
    result = run_json(capsys, "eval", "digits_cnn", "--design", str(design8))
    assert {"float_accuracy", "bit_accurate_accuracy"} <= set(result)
    assert result["float_accuracy"] >= 0.97
    assert abs(result["float_accuracy"] - result["bit_accurate_accuracy"]) <= 0.005
    assert result["samples"] == len(load_dataset("digits").y_test) == 359


def test_quantize_with_design_keeps_widths(capsys, design8: Path, tmp_path: Path) -> None:
    result = run_json(capsys, "quantize", "digits_cnn", "--design", str(design8), "--out",
                      str(tmp_path / "again"))
    again = (tmp_path / "again" / "design.yaml").read_text()
    assert again == design8.read_text()
    assert result["bit_accurate_accuracy"] >= 0.97


def test_quantize_refuses_to_overwrite(capsys, design8: Path) -> None:
    before = design8.read_text()
    code, _, err = run(capsys, "quantize", "digits_cnn", "--uniform", "4", "--out",
                       str(design8.parent))
    assert code == 1 and "already exists" in err and "--force" in err
    assert "Traceback" not in err
    assert design8.read_text() == before


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["graph", "resnet9000"], 1, "unknown model 'resnet9000'"),
        (["graph", "nofile.py:make", "--input-shape", "1,8,8"], 1, "nofile.py does not exist"),
        (["graph", "digits_cnn", "--input-shape", "3,8,8"], 1, "takes input shape 1,8,8"),
        (["graph", "digits_cnn", "--input-shape", "a,b"], 1, "is not C,H,W"),
        (["quantize", "digits_cnn", "--out", "x"], 2, "one of the arguments"),
        (["quantize", "digits_cnn", "--uniform", "0", "--out", "x"], 1, "--uniform must be"),
        (["quantize", "digits_cnn", "--uniform", "8", "--out", "x", "--device", "xc1"], 1,
         "unknown device 'xc1'"),
        (["eval", "digits_cnn", "--design", "missing.yaml"], 1, "missing.yaml does not exist"),
        (["eval", "digits_cnn"], 2, "--design"),
        (["frobnicate"], 2, "invalid choice"),
        (["train", "digits_cnn", "--dataset", "imagenet", "--out", "w.pt"], 1,
         "unknown dataset"),
    ],
)
def test_bad_input_exit_codes_and_messages(capsys, argv, code, message) -> None:
    got, _, err = run(capsys, *argv)
    assert got == code
    assert message in err
    assert "Traceback" not in err


def test_user_model_file_factory(capsys, user_model: Path, tmp_path: Path) -> None:
    spec = f"{user_model}:tiny"
    result = run_json(capsys, "graph", spec, "--input-shape", "1,8,8")
    assert [r["kind"] for r in result["layers"]][1] == "conv2d"
    code, _, err = run(capsys, "graph", spec)
    assert code == 1 and "needs --input-shape" in err
    weights = tmp_path / "tiny.pt"
    trained = run_json(capsys, "train", spec, "--input-shape", "1,8,8", "--epochs", "4",
                       "--out", str(weights))
    assert weights.is_file() and trained["dataset"] == "digits"
    assert trained["test_accuracy"] > 0.5
    code, _, err = run(capsys, "train", spec, "--input-shape", "1,8,8", "--out", str(weights))
    assert code == 1 and "pass --force" in err
    out = tmp_path / "q"
    q = run_json(capsys, "quantize", spec, "--input-shape", "1,8,8", "--weights", str(weights),
                 "--uniform", "8", "--out", str(out))
    assert abs(q["bit_accurate_accuracy"] - trained["test_accuracy"]) < 0.02


CONV1D_MODEL = '''
import torch.nn as nn

def net():
    return nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 14, 3))
'''


def test_conv1d_model_takes_ncl_data(capsys, tmp_path: Path) -> None:
    """A Conv1d model ([C, L] input) gets (N, C, L) data from an .npz (issue 23, item 6);
    data shaped for neither kind of model, or for the other one, is refused by shape."""
    import numpy as np

    (tmp_path / "c1.py").write_text(CONV1D_MODEL)
    spec, rng = f"{tmp_path / 'c1.py'}:net", np.random.default_rng(0)

    def save(name: str, shape: tuple[int, ...]) -> str:
        np.savez(tmp_path / name, x_train=rng.normal(size=(30, *shape)).astype(np.float32),
                 y_train=np.arange(30) % 3, x_test=rng.normal(size=(9, *shape)),
                 y_test=np.arange(9) % 3)
        return str(tmp_path / name)

    ncl = save("ncl.npz", (2, 16))
    common = ["--input-shape", "2,16", "--dataset", ncl]
    q = run_json(capsys, "quantize", spec, *common, "--uniform", "8", "--out",
                 str(tmp_path / "q"))
    assert q["verified_samples"] == 9
    e = run_json(capsys, "eval", spec, *common, "--design", q["design"])
    assert e["bit_accurate_accuracy"] == q["bit_accurate_accuracy"]
    code, _, err = run(capsys, "eval", spec, "--input-shape", "2,16", "--dataset",
                       save("nchw.npz", (2, 1, 16)), "--design", q["design"])
    assert code == 1 and "has input shape 2,1,16 but the model expects 2,16" in err
    assert "(N,2,16)" in err


def test_labels_beyond_the_models_outputs_are_refused(capsys, tmp_path: Path) -> None:
    """A label the model has no output for would only count as an error (issue 23, item
    9): eval and quantize name the split, the label and the number of classes."""
    import numpy as np

    (tmp_path / "c1.py").write_text(CONV1D_MODEL)  # 3 outputs
    x = np.random.default_rng(0).normal(size=(20, 2, 16)).astype(np.float32)
    model = [f"{tmp_path / 'c1.py'}:net", "--input-shape", "2,16"]
    for name, y_test in (("good", [0, 1, 2, 2, 1, 0]), ("bad", [0, 1, 2, 5, 1, 0])):
        np.savez(tmp_path / f"{name}.npz", x_train=x, y_train=np.arange(20) % 3,
                 x_test=x[:6], y_test=np.array(y_test))
    design = run_json(capsys, "quantize", *model, "--dataset", str(tmp_path / "good.npz"),
                      "--uniform", "8", "--out", str(tmp_path / "q"))["design"]
    bad = ["--dataset", str(tmp_path / "bad.npz")]
    code, _, err = run(capsys, "quantize", *model, *bad, "--uniform", "8", "--out",
                       str(tmp_path / "q2"))
    assert code == 1 and not (tmp_path / "q2").exists()
    assert "the test split has label 5, but the model has 3 outputs (classes 0..2)" in err
    code, _, err = run(capsys, "eval", *model, *bad, "--design", design)
    assert code == 1 and "the test split has label 5" in err


def test_unknown_device_hint_matches_the_command(capsys, tmp_path: Path, digits_qnet8) -> None:
    """--device-file is suggested only where the command has it (issue 23, item 9)."""
    design = str(digits_qnet8.save(tmp_path / "d"))
    code, _, err = run(capsys, "cost", design, "--device", "xc9z999")
    assert code == 1 and err.rstrip().endswith("pass it with --device-file FILE.yaml")
    code, _, err = run(capsys, "quantize", "digits_cnn", "--uniform", "8", "--device",
                       "xc9z999", "--out", str(tmp_path / "q"))
    assert code == 1 and "unknown device 'xc9z999'" in err
    assert "`codesign quantize` knows only the parts listed" in err
    assert "pass it with --device-file" not in err


@pytest.mark.parametrize(("factory", "message"),
                         [("broken", "tiny|broken\\(\\) raised ValueError"),
                          ("not_a_module", "returned int, not a torch.nn.Module"),
                          ("absent", "has no function 'absent'")])
def test_user_model_errors(capsys, user_model: Path, factory: str, message: str) -> None:
    code, _, err = run(capsys, "graph", f"{user_model}:{factory}", "--input-shape", "1,8,8")
    assert code == 1
    import re

    assert re.search(message, err), err


def test_bad_weights_file(capsys, user_model: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pt"
    torch.save({"fc.weight": torch.zeros(3)}, wrong)
    code, _, err = run(capsys, "graph", f"{user_model}:tiny", "--input-shape", "1,8,8",
                       "--weights", str(wrong))
    assert code == 1 and "do not fit the model" in err
    code, _, err = run(capsys, "graph", "digits_cnn", "--weights", str(tmp_path / "no.pt"))
    assert code == 1 and "no.pt does not exist" in err


def test_zoo_lists_models_and_devices(capsys) -> None:
    result = run_json(capsys, "zoo")
    assert "digits_cnn" in [m["name"] for m in result["models"]]
    assert "xc7a35t" in [d["part"] for d in result["devices"]]


@pytest.fixture
def no_data_no_cache(tmp_path: Path, monkeypatch) -> Path:
    """Empty dataset and weight directories: nothing trained, no CIFAR-10 files."""
    monkeypatch.setenv("CODESIGN_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_graph_needs_no_data_and_no_training(capsys, no_data_no_cache: Path) -> None:
    from codesign.zoo import build_model

    result = run_json(capsys, "graph", "cifar10_cnn")
    assert result["input_shape"] == [3, 32, 32]
    # a folded conv/linear has its weight and one bias per output channel
    expected = sum(m.weight.numel() + m.weight.shape[0]
                   for m in build_model("cifar10_cnn").modules()
                   if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    assert result["params"] == expected
    assert not (no_data_no_cache / "cache").exists()  # nothing was trained or cached


def test_commands_that_need_weights_or_data_say_which(capsys, no_data_no_cache: Path) -> None:
    out = str(no_data_no_cache / "q")
    code, _, err = run(capsys, "quantize", "cifar10_cnn", "--uniform", "8", "--out", out)
    assert code == 1 and "Traceback" not in err
    assert "'cifar10_cnn' needs trained weights" in err and "data_batch_1" in err
    assert "--weights" in err
    from codesign.zoo import build_model

    weights = no_data_no_cache / "w.pt"
    torch.save(build_model("cifar10_cnn").state_dict(), weights)
    code, _, err = run(capsys, "quantize", "cifar10_cnn", "--weights", str(weights),
                       "--uniform", "8", "--out", out)
    assert code == 1 and "dataset 'cifar10'" in err and "trained weights" not in err


def test_train_zoo_model_saves_to_out(capsys, digits_cnn_trained, tmp_path: Path) -> None:
    """`train ZOO --out FILE` gives the user the (cached) zoo weights there; --out was
    silently ignored before."""
    out = tmp_path / "cnn.pt"
    result = run_json(capsys, "train", "digits_cnn", "--out", str(out))
    assert result["weights"] == str(out)
    saved = torch.load(out, weights_only=True)
    for name, value in digits_cnn_trained.state_dict().items():
        assert torch.equal(saved[name], value), name
    code, _, err = run(capsys, "train", "digits_cnn", "--out", str(out))
    assert code == 1 and "pass --force" in err


def test_text_table_without_rows_is_its_header() -> None:
    """`codesign allocate` printing a frontier with no design (every method refused) raised
    TypeError from inside the table helper."""
    from codesign.cli.common import table

    assert table([], ["method", "lut"]).splitlines() == ["method  lut", "------  ---"]


def test_a_design_records_its_dataset(capsys, tmp_path: Path, monkeypatch) -> None:
    """quantize records the data a design was made from; eval, and the samples of emit and
    rtl, read it again without --dataset (issue 21). Without a record, a dataset picked
    from the input shape that cannot be loaded says to pass --dataset."""
    import numpy as np

    from codesign.cli.common import design_dataset
    from codesign.design import DesignPoint
    from codesign.errors import DatasetError
    from codesign.qnet import QuantizedNet

    (tmp_path / "c1.py").write_text(CONV1D_MODEL)
    spec, rng = f"{tmp_path / 'c1.py'}:net", np.random.default_rng(0)
    np.savez(tmp_path / "mine.npz", x_train=rng.normal(size=(30, 2, 16)).astype(np.float32),
             y_train=np.arange(30) % 3, x_test=rng.normal(size=(7, 2, 16)),
             y_test=np.arange(7) % 3)
    monkeypatch.chdir(tmp_path)  # a relative --dataset is recorded as an absolute path
    q = run_json(capsys, "quantize", spec, "--input-shape", "2,16", "--dataset", "mine.npz",
                 "--uniform", "8", "--out", str(tmp_path / "q"))
    design = QuantizedNet.load(q["design"]).design
    assert design.dataset == str(tmp_path / "mine.npz")
    monkeypatch.chdir(Path(__file__).parent)
    e = run_json(capsys, "eval", spec, "--input-shape", "2,16", "--design", q["design"])
    assert e["samples"] == 7 and e["bit_accurate_accuracy"] == q["bit_accurate_accuracy"]
    assert len(design_dataset(design, None, (2, 16)).x_test) == 7

    monkeypatch.setenv("CODESIGN_DATA", str(tmp_path / "empty"))
    unrecorded = DesignPoint(design.input, design.layers, input_shape=(3, 32, 32))
    with pytest.raises(DatasetError, match=r"no --dataset given .* picked 'cifar10'.*"
                                           r"pass --dataset NAME\|PATH"):
        design_dataset(unrecorded, None, (3, 32, 32))


def test_solver_setting_reaches_the_graphs_and_ends_with_the_command(
        capsys, tmp_path: Path, digits_qnet8, monkeypatch) -> None:
    """`cost --solver fast` solves (and caches) the bounded search's graphs, apart from
    the default's (auto: the full search on digits_cnn's small kernels); the setting
    ends with the command; an unknown one is a usage error naming the choices."""
    from codesign.rtl.solver_settings import current_solver

    monkeypatch.setenv("CODESIGN_CACHE", str(tmp_path / "cache"))
    design = str(digits_qnet8.save(tmp_path / "d"))
    graphs = tmp_path / "cache" / "adder-graphs"
    fast = run_json(capsys, "cost", design, "--solver", "fast", "--json")
    n = len(list(graphs.glob("*.json")))
    assert n > 0 and current_solver() == "auto"
    auto = run_json(capsys, "cost", design, "--json")
    assert len(list(graphs.glob("*.json"))) == 2 * n  # other searches, other entries
    assert fast["lut"] >= auto["lut"] * 0.95  # the bounded search: no smaller by much
    code, _, err = run(capsys, "cost", design, "--solver", "quick")
    assert code == 2 and "choose from 'auto', 'fast', 'full'" in err
