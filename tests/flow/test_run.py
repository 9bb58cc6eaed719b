"""`codesign run` end to end on small flows: new run directories, the cache, failed
points, a Dask sweep, and resuming after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codesign.cli.main import main
from codesign.flow import run_flow
from tests.flow.conftest import write_flow

LINEAR_FLOW = """
    name: lin
    model:
      file: linear.py:make
      input_shape: [1, 8, 8]
      train: {epochs: 1}
    dataset: digits
    target: {devices: [xc7a100t]}  # unrolled at RF 1, the 8-bit layer needs ~32k LUTs
    sensitivity: null
    quantize:
      methods: [calibrate, hwgq]
      bits: [8]
    hls: null
    rtl: null
"""


def test_cost_model_choice_is_part_of_the_cost_stage_key(tmp_path, linear_model):
    """cost.model picks the estimate; switching it recomputes only the cost stage."""
    flow = write_flow(tmp_path, LINEAR_FLOW.replace("calibrate, hwgq", "calibrate")
                      + "    cost: {model: fast}\n")
    runs = tmp_path / "runs"
    fast = run_flow(flow, runs, quiet=True)
    flow.write_text(flow.read_text().replace("model: fast", "model: structural"))
    structural = run_flow(flow, runs, quiet=True)
    assert fast.ok and structural.ok
    assert [s["cached"] for s in structural.summary["stages"]] == [True, True, True, False]
    est_fast = fast.summary["points"][0]["cost"]
    est_struct = structural.summary["points"][0]["cost"]
    assert (est_fast["model"], est_struct["model"]) == ("fast", "structural")
    assert est_fast["carry"] is None and est_struct["carry"] > 0  # only the plan has carries
    assert est_struct["layers"][0]["module"].startswith("cs_")


def snapshot(folder: Path) -> dict[str, tuple[int, float]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime)
            for p in folder.rglob("*") if p.is_file()}


def log_events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_reruns_write_new_directories_and_reuse_the_cache(tmp_path, linear_model):
    flow = write_flow(tmp_path, LINEAR_FLOW.replace("calibrate, hwgq", "calibrate"))
    runs = tmp_path / "runs"
    first = run_flow(flow, runs, quiet=True)
    assert first.ok and first.report_html.is_file() and first.report_md.is_file()
    assert [s["stage"] for s in first.summary["stages"]] == ["train", "quantize", "eval", "cost"]
    assert [s["cached"] for s in first.summary["stages"]] == [False] * 4
    before = snapshot(first.run_dir)
    second = run_flow(flow, runs, quiet=True)
    assert second.run_dir != first.run_dir and second.run_dir.parent == runs
    assert [s["cached"] for s in second.summary["stages"]] == [True] * 4
    assert snapshot(first.run_dir) == before  # the earlier run is left as it was
    a, b = first.summary["points"][0]["eval"], second.summary["points"][0]["eval"]
    assert a == b
    # a changed input (another width) recomputes quantize and eval, not train
    write_flow(tmp_path, LINEAR_FLOW.replace("calibrate, hwgq", "calibrate")
               .replace("bits: [8]", "bits: [7]"))
    third = run_flow(flow, runs, quiet=True)
    assert [s["cached"] for s in third.summary["stages"]] == [True, False, False, False]
    assert third.summary["points"][0]["label"] == "xc7a100t-calibrate-7b"


def test_a_failed_point_is_recorded_and_the_sweep_goes_on(tmp_path, linear_model, capsys):
    flow = write_flow(tmp_path, LINEAR_FLOW)
    code = main(["run", str(flow), "--runs-dir", str(tmp_path / "runs"), "--json",
                 "--workers", "2"])
    out = json.loads(capsys.readouterr().out)  # exactly one JSON object
    assert code == 0 and out["ok"]
    by_label = {p["label"]: p for p in out["points"]}
    assert by_label["xc7a100t-calibrate-8b"]["error"] is None
    assert "HWGQ" in by_label["xc7a100t-hwgq-8b"]["error"]
    assert out["chosen"] == "xc7a100t-calibrate-8b"
    calibrate = by_label["xc7a100t-calibrate-8b"]
    assert calibrate["lut"] > 0 and calibrate["dsp"] == 0 and calibrate["fits"] is True
    html = Path(out["report"]).read_text()
    assert 'id="failures"' in html and "xc7a100t-hwgq-8b" in html
    run = json.loads((Path(out["run_dir"]) / "run.json").read_text())
    assert [p["error"] is None for p in run["points"]] == [True, False]
    failed = [e for e in log_events(Path(out["run_dir"])) if e["event"] == "failed"]
    assert [(e["stage"], e["point"]) for e in failed] == [("quantize", "xc7a100t-hwgq-8b")]
    assert "HWGQ" in failed[0]["error"]


def test_sweep_on_a_dask_cluster(tmp_path, linear_model):
    from distributed import LocalCluster

    flow = write_flow(tmp_path, LINEAR_FLOW)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, processes=True) as cluster:
        result = run_flow(flow, tmp_path / "runs", scheduler=cluster.scheduler_address,
                          quiet=True)
    points = result.summary["points"]
    assert [p["label"] for p in points] == ["xc7a100t-calibrate-8b", "xc7a100t-hwgq-8b"]
    assert points[0]["error"] is None and "HWGQ" in points[1]["error"]
    workers = {e.get("pid") for e in log_events(result.run_dir) if e["stage"] == "quantize"}
    assert os.getpid() not in workers  # the points ran in the cluster's processes
    assert result.summary["chosen"] == "xc7a100t-calibrate-8b"


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, linear_model, capsys,
                                                   monkeypatch):
    monkeypatch.setattr("codesign.workers.CONNECT_TIMEOUT", "2s")
    flow = write_flow(tmp_path, LINEAR_FLOW)
    code = main(["run", str(flow), "--runs-dir", str(tmp_path / "runs"),
                 "--scheduler", "tcp://127.0.0.1:9", "--json"])
    assert code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # refused before any work


@pytest.mark.slow
def test_sigkill_mid_stage_then_rerun_redoes_only_the_unfinished(tmp_path):
    flow = write_flow(tmp_path, """
        name: kill
        model: {zoo: digits_cnn}
        target: {devices: [xc7a100t]}
        sensitivity: null
        quantize: {methods: [lsq], bits: [4], epochs: 20}
        hls: null
        rtl: null
    """)
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "codesign", "run", str(flow), "--runs-dir", str(runs),
           "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    started = False
    while time.time() < deadline and proc.poll() is None:
        logs = list(runs.glob("kill-*/log.jsonl"))
        if logs and any(e["stage"] == "quantize" and e["event"] == "start"
                        for e in map(json.loads, logs[0].read_text().splitlines())) \
                and list((runs / ".cache").glob(".tmp-quantize-*")):
            started = True
            break
        time.sleep(0.02)
    assert started, "the run never reached the quantize stage"
    # 20 LSQ epochs take seconds: the kill lands while quantize works in its private folder
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_dir = logs[0].parent
    cache = runs / ".cache"
    assert len(list(cache.glob("train-*"))) == 1 and not list(cache.glob("quantize-*"))
    assert list(cache.glob(".tmp-quantize-*"))  # the unfinished work, never sealed
    assert not (killed_dir / "report.html").exists()

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    out = json.loads(rerun.stdout)
    assert Path(out["run_dir"]) != killed_dir and killed_dir.is_dir()
    assert [(s["stage"], s["cached"]) for s in out["stages"]] == [
        ("train", True), ("quantize", False), ("eval", False), ("cost", False)]
    assert not list(cache.glob(".tmp-*"))  # the dead run's folder was swept
    events = log_events(Path(out["run_dir"]))
    assert [(e["stage"], e["event"]) for e in events] == [
        ("train", "cached"), ("quantize", "start"), ("quantize", "done"), ("eval", "start"),
        ("eval", "done"), ("cost", "start"), ("cost", "done")]
