"""`codesign run FLOW --from STAGE`: that stage and the later ones are recomputed, the
earlier ones still come from the cache; a bad stage name is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codesign.cli.main import main
from tests.flow.conftest import write_flow
from tests.flow.test_run import LINEAR_FLOW, log_events, snapshot


def run_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(["run", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_from_a_stage_recomputes_it_and_the_later_ones(tmp_path, linear_model, capsys):
    flow = write_flow(tmp_path, LINEAR_FLOW.replace("calibrate, hwgq", "calibrate"))
    runs = str(tmp_path / "runs")
    code, first = run_json(capsys, str(flow), "--runs-dir", runs)
    assert code == 0
    before = snapshot(Path(first["run_dir"]))
    quantize_entry = next(Path(s) for s in (tmp_path / "runs" / ".cache").glob("quantize-*"))
    old_inode = (quantize_entry / "result.json").stat().st_ino

    code, again = run_json(capsys, str(flow), "--runs-dir", runs, "--from", "quantize")
    assert code == 0 and again["run_dir"] != first["run_dir"]
    assert [(s["stage"], s["cached"]) for s in again["stages"]] == [
        ("train", True), ("quantize", False), ("eval", False), ("cost", False)]
    events = log_events(Path(again["run_dir"]))
    assert [(e["stage"], e["event"], e.get("forced", False)) for e in events] == [
        ("train", "cached", False), ("quantize", "start", True), ("quantize", "done", False),
        ("eval", "start", True), ("eval", "done", False), ("cost", "start", True),
        ("cost", "done", False)]
    # the recomputed results took the place of the cached ones (same keys, new entries)
    assert [p.name for p in (tmp_path / "runs" / ".cache").glob("quantize-*")] == \
        [quantize_entry.name]
    assert (quantize_entry / "result.json").stat().st_ino != old_inode
    assert not list((tmp_path / "runs" / ".cache").glob(".tmp-*"))
    assert again["points"][0]["bit_accurate_val_accuracy"] == \
        first["points"][0]["bit_accurate_val_accuracy"]  # calibration is deterministic
    assert snapshot(Path(first["run_dir"])) == before  # the earlier run is untouched
    run = json.loads((Path(again["run_dir"]) / "run.json").read_text())
    assert run["rerun"] == ["quantize", "eval", "cost"]

    code, third = run_json(capsys, str(flow), "--runs-dir", runs, "--from", "cost")
    assert [(s["stage"], s["cached"]) for s in third["stages"]] == [
        ("train", True), ("quantize", True), ("eval", True), ("cost", False)]
    code, plain = run_json(capsys, str(flow), "--runs-dir", runs)
    assert all(s["cached"] for s in plain["stages"])


@pytest.mark.parametrize(("stage", "why"), [
    ("quantise", "no stage has that name"),
    ("hls", "the flow lin does not run it"),
])
def test_from_a_stage_the_flow_does_not_have_lists_its_stages(tmp_path, linear_model, capsys,
                                                                stage, why):
    flow = write_flow(tmp_path, LINEAR_FLOW)
    code = main(["run", str(flow), "--runs-dir", str(tmp_path / "runs"), "--from", stage])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert (f"--from {stage}: {why}; this flow's stages are, in order: train, quantize, "
            "eval, cost") in err
    assert not (tmp_path / "runs").exists()  # refused before any work
