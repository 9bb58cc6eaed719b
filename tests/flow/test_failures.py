"""How a flow reports what went wrong (issue 23, item 8): a failure in a shared stage is a
`failed` event in log.jsonl and a run.json that names the stage and the error; a run that
chooses nothing says which limits no point met, by how much, and what to change."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from codesign.cli.main import main
from codesign.data import load_dataset
from codesign.errors import CodesignError
from codesign.flow import run_flow
from codesign.flow.stages import STAGES
from tests.flow.conftest import linear_flow, write_flow

FLOW_BODY = """
sensitivity: SENSITIVITY
quantize: {methods: [calibrate], bits: [8]}
cost: {model: fast}
hls: null
rtl: null
"""

WIDE_NET = """
from torch import nn


def make():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
"""


def flow_file(folder: Path, dataset: str = "digits", device: str = "xc7a100t",
              sensitivity: str = "null") -> Path:
    body = FLOW_BODY.replace("SENSITIVITY", sensitivity)
    return write_flow(folder, linear_flow("lin", body, dataset=dataset, device=device))


def the_run(runs: Path) -> tuple[list[dict], dict]:
    (run_dir,) = [p for p in runs.iterdir() if p.name.startswith("lin-")]
    events = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return events, json.loads((run_dir / "run.json").read_text())


def test_a_failed_train_stage_is_logged_and_recorded(tmp_path, linear_model, capsys):
    """Here the training split holds a NaN (so no flow can choose a design made from it)."""
    d = load_dataset("digits")
    x_train = d.x_train.copy()
    x_train[5, 0, 1, 2] = np.nan
    np.savez(tmp_path / "nan.npz", x_train=x_train, y_train=d.y_train, x_test=d.x_test,
             y_test=d.y_test, x_val=d.x_val, y_val=d.y_val)
    runs = tmp_path / "runs"
    code = main(["run", str(flow_file(tmp_path, "nan.npz")), "--runs-dir", str(runs),
                 "--json"])
    captured = capsys.readouterr()
    assert code == 1 and json.loads(captured.out)["exit_code"] == 1
    assert "the train stage failed" in captured.err and "x_train holds 1 non-finite" \
        in captured.err and "run.json" in captured.err
    events, run = the_run(runs)
    assert [(e["stage"], e["event"]) for e in events] == [("train", "start"),
                                                          ("train", "failed")]
    assert "index (5, 0, 1, 2)" in events[-1]["error"]
    assert run["ok"] is False and run["failed"]["stage"] == "train"
    assert "x_train holds 1 non-finite value" in run["failed"]["error"]


@pytest.mark.parametrize("error", [CodesignError("no curvature here"),
                                   ZeroDivisionError("a bug")])
def test_a_failed_sensitivity_stage_is_logged_and_recorded(tmp_path, linear_model,
                                                            monkeypatch, error):
    def boom(ctx):
        raise error

    monkeypatch.setitem(STAGES, "sensitivity", replace(STAGES["sensitivity"], fn=boom))
    runs = tmp_path / "runs"
    flow = flow_file(tmp_path, sensitivity="{bits: [4, 8], activations: false}")
    with pytest.raises(type(error)) as raised:
        run_flow(flow, runs, quiet=True)
    if isinstance(error, CodesignError):
        assert "the sensitivity stage failed: no curvature here" in str(raised.value)
    else:
        assert raised.value is error  # a bug keeps its own exception and traceback
    events, run = the_run(runs)
    assert (events[-1]["stage"], events[-1]["event"]) == ("sensitivity", "failed")
    assert run["failed"]["stage"] == "sensitivity" and str(error) in run["failed"]["error"]
    assert ("traceback" in run["failed"]) is not isinstance(error, CodesignError)


def test_no_point_that_fits_says_which_limit_by_how_much(tmp_path, capsys):
    """A 64-64-10 perceptron unrolled at 8 bits needs more LUTs than an xc7a35t's 20,800."""
    (tmp_path / "linear.py").write_text(WIDE_NET)
    runs = tmp_path / "runs"
    code = main(["run", str(flow_file(tmp_path, device="xc7a35t")), "--runs-dir", str(runs)])
    out = capsys.readouterr().out
    assert code == 1
    _, run = the_run(runs)
    (point,) = run["points"]
    lut = point["cost"]["lut"]
    assert lut > 20_800 and run["chosen"] is None
    assert (f"no design chosen: no point fits its device (cost.fit_only: true). The closest, "
            f"xc7a35t-calibrate-8b, needs LUT {lut:,} of the 20,800 on xc7a35t "
            f"({100 * lut / 20_800:.0f}%, {lut - 20_800:,} over)") in out
    assert "target.devices" in out and "quantize.bits" in out
    assert "chosen design: None" not in out and run["no_choice"] in out
