"""The regression tests as pytest sees them (written by `codesign rtl --testbench`).

Each test runs one cocotb test of tb_regression.py in its own simulator process on the
session's one build. cocotb writes JUnit XML per test to results/NAME.xml (add
`--junitxml FILE` for pytest's own). A failing test keeps its waveform,
work/NAME/dump.fst, and its report, work/NAME/report.json; a passing one deletes the
waveform.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

SUITE_DIR = Path(__file__).resolve().parent
TESTS = ("timing", "backpressure", "reset_mid_image")


@pytest.mark.parametrize("name", TESTS)
def test_regression(name: str, target) -> None:
    from cocotb_tools.runner import get_runner

    work = SUITE_DIR / "work" / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    report = work / "report.json"
    results = SUITE_DIR / "results"
    results.mkdir(exist_ok=True)
    env = {"CS_SUITE": str(SUITE_DIR), "CS_REPORT": str(report)}
    if target.seed is not None:
        env["CS_SEED"] = str(target.seed)
    try:
        get_runner("verilator").test(
            test_module="tb_regression", hdl_toplevel=target.top, hdl_toplevel_lang="verilog",
            build_dir=target.build_dir, test_dir=work, testcase=name, extra_env=env,
            waves=target.waves, results_xml=str(results / f"{name}.xml"),
            log_file=work / "sim.log")
    except SystemExit:
        pass  # cocotb exits on a failed test; the report says why
    if not report.is_file():
        log = (work / "sim.log").read_text()[-3000:] if (work / "sim.log").is_file() else ""
        pytest.fail(f"{name}: the simulation wrote no report; the end of its log:\n{log}",
                    pytrace=False)
    result = json.loads(report.read_text())
    waves = work / "dump.fst"
    if result["ok"]:
        waves.unlink(missing_ok=True)
        return
    where = f"; waveform: {waves}" if waves.is_file() else ""
    pytest.fail(f"{name}: {result['problem']['message']} (report: {report}{where})",
                pytrace=False)
