"""`synth.timeout_s`: synthesis past its limit is stopped (its whole process group), and
the run records "timed out after N s" with how far the tools got, without failing."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from codesign.cli.main import main
from codesign.flow.limit import Overrun, run_limited, yosys_reached
from codesign.flow.located import FlowError
from codesign.flow.schema import load_flow
from tests.flow.conftest import tiny_flow, write_flow
from tests.flow.test_report import Page


def _gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" in status.read_text()
    except FileNotFoundError:
        return True


def test_past_its_limit_a_command_and_its_children_are_killed(tmp_path):
    pid_file = tmp_path / "pid"
    child = ("import subprocess, pathlib; p = subprocess.Popen(['sleep', '120']); "
             f"pathlib.Path({str(pid_file)!r}).write_text(str(p.pid)); p.wait()")
    start = time.perf_counter()
    with pytest.raises(Overrun) as over:
        run_limited([sys.executable, "-c", child], 5.0)
    assert 5.0 <= over.value.seconds < 60 and time.perf_counter() - start < 60
    grandchild = int(pid_file.read_text())
    deadline = time.time() + 10
    while not _gone(grandchild) and time.time() < deadline:
        time.sleep(0.1)
    assert _gone(grandchild)  # the `sleep` the child started went with it
    assert run_limited([sys.executable, "-c", "import sys; sys.exit(3)"], 60) == (3, "")


def test_how_far_yosys_got_is_read_from_its_log(tmp_path):
    log = tmp_path / "yosys.log"
    assert yosys_reached(log) is None
    log.write_text("\n".join([
        "1. Executing Verilog-2005 frontend: cs_add.sv",
        "17. Executing HIERARCHY pass (managing design hierarchy).",
        "18. Executing SYNTH_XILINX pass.",
        "18.1. Executing Verilog-2005 frontend: cells_sim.v",
        "18.41. Executing TECHMAP pass (map to technology primitives).",
        "18.41.3. Executing OPT_EXPR pass (perform const folding).",
        "Removed 12 unused cells.",
    ]))
    assert yosys_reached(log) == "SYNTH_XILINX, step 18.41 (TECHMAP)"
    log.write_text("18. Executing SYNTH_ECP5 pass.\n")
    assert yosys_reached(log) == "SYNTH_ECP5"


@pytest.mark.parametrize("value", ["0", "-5", "soon"])
def test_a_bad_timeout_is_located(tmp_path, value):
    path = write_flow(tmp_path, f"model: {{zoo: digits_cnn}}\nsynth:\n  timeout_s: {value}\n")
    with pytest.raises(FlowError) as err:
        load_flow(path)
    assert str(err.value).startswith(f"{path}:3: synth.timeout_s: ")


def test_a_synthesis_past_its_limit_is_recorded_not_failed(tmp_path, capsys):
    flow = tiny_flow(tmp_path, """
        quantize: {methods: [calibrate], bits: [3]}
        hls: null
        rtl: null
        synth: {timeout_s: 0.5}  # far less than Python and Yosys need to start
    """)
    code = main(["run", str(flow), "--runs-dir", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "synth [xc7a35t-calibrate-3b]: timed out after" in out
    assert "synthesis stopped at its limit (synth.timeout_s 0.5 s); it reached: " in out
    assert "PASS in" in out
    run_dir = Path(out.split("report: ")[1].strip()).parent
    run = json.loads((run_dir / "run.json").read_text())
    syn = run["synth"]
    assert run["ok"] and syn["timed_out"] and syn["timeout_s"] == 0.5
    assert 0.5 <= syn["seconds"] < 60 and syn["reached"] and "lut" not in syn
    assert run["stages"][-1]["stage"] == "synth" and run["stages"][-1]["timed_out"]
    cache = tmp_path / "runs" / ".cache"
    assert not list(cache.glob("synth-*")) and not list(cache.glob(".tmp-synth-*"))
    events = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events if e["stage"] == "synth"] == ["start", "timed_out"]
    text = (run_dir / "report.html").read_text()
    page = Page()
    page.feed(text)
    assert page.sections == ["answer", "figures", "overview", "accuracy", "chosen",
                             "resources", "times"]
    assert "Yosys timed out before counting" in text  # the top section says so too
    assert "Yosys synthesis timed out after 0.5 s (synth.timeout_s); it reached: " in text
    assert "<td>timed out (limit 0.5 s)</td>" in text
    assert "<th>estimate error</th>" not in text  # no figures: only the estimate
